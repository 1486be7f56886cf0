"""The ``paycode`` pytest plugin itself: it is registered through pytest11, imports cheaply, and its fixtures work."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
from paycode import CodePattern, PaymentStatus, PollingPolicy, WalletType, hookimpl
from paycode.testing import EventRecorder

QUICKPASS = WalletType(
    "UnionPay-Offline",
    [CodePattern([19], ["62"])],
    {"CNY"},
    PollingPolicy(0.2, 10.0),
    examples=["6212345678901234567"],
)


class QuickPassPlugin:
    @hookimpl
    def paycode_register_wallets(self, register: Callable[[WalletType], None]) -> None:
        register(QUICKPASS)


def test_pytest_loads_it_through_the_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "paycode"]
    assert entry.value == "paycode.testing"
    assert pytestconfig.pluginmanager.get_plugin("paycode") is sys.modules["paycode.testing"]


def test_importing_it_loads_no_heavy_module() -> None:
    """pytest imports the plugin in every run of every project in the environment: it must stay cheap."""
    probe = (
        "import json, sys; import paycode.testing; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('hypothesis', 'httpx', 'sqlite3', 'paycode'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(done.stdout)
    heavy = [m for m in loaded if m.startswith(("hypothesis", "httpx", "sqlite3", "paycode.host", "paycode.terminal"))]
    assert heavy == [], heavy
    assert "paycode.testing.scanners" not in loaded and "paycode.testing.wallets" not in loaded


def test_the_suites_load_on_first_use() -> None:
    import paycode.testing

    assert paycode.testing.WalletConformance.__module__ == "paycode.testing.wallets"
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        paycode.testing.Nothing  # noqa: B018


def test_paycode_host_holds_the_given_plugins_only(paycode_host: Callable[..., Any]) -> None:
    host = paycode_host(QuickPassPlugin())
    assert list(host.wallets) == ["UnionPay-Offline"]
    assert host.settings.journal.endswith("paycode-journal.sqlite3")
    assert [p["name"] for p in host.plugin_info()][-1] == "QuickPassPlugin"


def test_paycode_events_records_what_a_host_emits(paycode_host: Callable[..., Any], paycode_events: Any) -> None:
    assert isinstance(paycode_events, EventRecorder)
    host = paycode_host(paycode_events)
    host.emit("payment.state", order_id="o-1", status="PROCESSING")
    host.emit("scan", text="1300**********0001")
    assert paycode_events.kinds() == ["payment.state", "scan"]
    assert paycode_events.of_kind("scan")[0].data == {"text": "1300**********0001"}
    paycode_events.clear()
    assert paycode_events.events == []


def test_paycode_sandbox_terminal_pays_in_the_embedded_sandbox(
    paycode_sandbox_terminal: Callable[..., Any], paycode_events: EventRecorder
) -> None:
    terminal = paycode_sandbox_terminal(QuickPassPlugin(), paycode_events)
    paid = terminal.pay(amount="10.00", currency="CNY", code="6200000000000000001")
    assert paid.status is PaymentStatus.SUCCESS
    waited = terminal.pay(amount="10.00", currency="CNY", code="6200000000000000003")  # password, then success
    assert waited.status is PaymentStatus.SUCCESS
    assert "payment.poll" in paycode_events.kinds()
    declined = terminal.pay(amount="10.00", currency="CNY", code="6200000000000000002")
    assert declined.status is PaymentStatus.FAILED
    assert terminal.journal.order(paid.merchant_transaction_id).status == "SUCCESS"


def test_the_event_recorder_takes_events_from_other_threads_and_waits_for_one(
    paycode_host: Callable[..., Any], paycode_events: EventRecorder
) -> None:
    import threading

    host = paycode_host(paycode_events)
    assert paycode_events.wait_for("lane.ready", 0.01) is None  # none came
    emitter = threading.Thread(target=lambda: [host.emit("scan", "o-1"), host.emit("lane.ready", "o-2")])
    emitter.start()
    ready = paycode_events.wait_for("lane.ready", 30)
    emitter.join(30)
    assert ready is not None and ready.order_id == "o-2"
    assert paycode_events.kinds() == ["scan", "lane.ready"]
    assert paycode_events.kinds("o-1") == ["scan"]
    assert paycode_events.of_kind("lane.ready") == [ready]
    paycode_events.clear()
    assert paycode_events.events == []
