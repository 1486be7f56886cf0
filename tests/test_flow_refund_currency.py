"""Refunds only in their order's currency (issue 11 item 3), refund errors as events (item 8), and the refund
command's checks in the right order (issue 16 item 6): against the sandbox gateway on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paycode import Money, MoneyError, OrderError, PaymentStatus, Settings, Terminal
from paycode.cli import main
from paycode.host import PluginHost
from paycode.sandbox import SandboxServer
from paycode.terminal import outcome
from paycode.testing import EventRecorder

CODE = "130000000000000001"  # WeChat, sandbox ending 001: paid at once


Recorder = EventRecorder  # the shared recorder of paycode.testing; the sandbox fixture is tests/conftest.py's


def settings_for(srv: SandboxServer, tmp_path: Path) -> Settings:
    c = srv.credentials
    return Settings(
        gateway=srv.base_url,
        acc_id=c.acc_id,
        client_id=c.client_id,
        salt=c.salt,
        journal=str(tmp_path / "journal.sqlite3"),
        read_timeout=1.0,
    )


@pytest.fixture
def lane(sandbox: SandboxServer, tmp_path: Path) -> Iterator[tuple[Terminal, Recorder]]:
    recorder = Recorder()
    s = settings_for(sandbox, tmp_path)
    with Terminal(s, host=PluginHost(s, plugins=[recorder])) as t:
        yield t, recorder


def paid(t: Terminal, order_id: str) -> None:
    p = t.pay("10.00", "CNY", code=CODE, order_id=order_id)
    assert outcome(p) == "paid"


@pytest.mark.parametrize(
    "how",
    [
        {"amount": Money("3.00", "USD")},
        {"amount": "3.00", "currency": "USD"},
        {"amount": "3.00", "currency": "usd"},
    ],
)
def test_a_refund_in_another_currency_is_refused_before_anything_is_sent(
    lane: tuple[Terminal, Recorder], sandbox: SandboxServer, how: dict[str, Any]
) -> None:
    t, recorder = lane
    paid(t, f"cur-{len(sandbox.orders())}")
    order_id = t.journal.orders()[0].order_id
    with pytest.raises(OrderError, match=r"refund in USD refused: .* paid in CNY"):
        t.refund(order_id, **how)
    view = sandbox.order(order_id)
    assert view is not None and view.refunds == () and view.refunded == 0
    assert t.journal.refunds(order_id) == []
    (error,) = [e for e in recorder.events if e.kind == "payment.error"]
    assert error.order_id == order_id and error.data["operation"] == "refund" and "USD" in error.data["error"]


def test_a_refund_in_the_orders_currency_goes_through(lane: tuple[Terminal, Recorder]) -> None:
    t, _ = lane
    paid(t, "cur-ok")
    first = t.refund("cur-ok", Money("3.00", "CNY"))
    second = t.refund("cur-ok", "2.00", currency="CNY")
    assert first.status is second.status is PaymentStatus.SUCCESS and second.refunded == Money("5.00", "CNY").amount


def test_money_and_a_disagreeing_currency_are_refused(lane: tuple[Terminal, Recorder], sandbox: SandboxServer) -> None:
    t, recorder = lane
    before = len(sandbox.orders())
    with pytest.raises(MoneyError, match=r"in CNY but currency HKD was given"):
        t.sale(Money("1.00", "CNY"), currency="HKD")
    with pytest.raises(MoneyError, match=r"in CNY but currency HKD was given"):
        t.pay(Money("1.00", "CNY"), currency="hkd", code=CODE)
    with pytest.raises(MoneyError, match=r"in CNY but currency USD was given"):
        t.refund("any-order", Money("1.00", "CNY"), currency="USD")
    assert len(sandbox.orders()) == before and t.journal.orders() == []
    operations = [e.data["operation"] for e in recorder.events if e.kind == "payment.error"]
    assert operations == ["pay", "refund"]


def test_every_refund_error_is_an_event(lane: tuple[Terminal, Recorder]) -> None:
    t, recorder = lane
    with pytest.raises(OrderError, match="not in the journal"):
        t.refund("no-such-order", "1.00")
    with pytest.raises(MoneyError):
        t.refund("no-such-order", "-1")
    errors = [e for e in recorder.events if e.kind == "payment.error"]
    assert [(e.order_id, e.data["operation"], e.data["type"]) for e in errors] == [
        ("no-such-order", "refund", "OrderError"),
        ("no-such-order", "refund", "MoneyError"),
    ]


# ---------------------------------------------------------------------------- the command


@pytest.fixture
def env(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [k for k in os.environ if k.startswith("PAYCODE_")]:
        monkeypatch.delenv(name)
    s = settings_for(sandbox, tmp_path)
    for name, value in {
        "PAYCODE_GATEWAY": s.gateway,
        "PAYCODE_ACC_ID": s.acc_id or "",
        "PAYCODE_CLIENT_ID": s.client_id or "",
        "PAYCODE_SALT": s.salt or "",
        "PAYCODE_JOURNAL": s.journal,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return s


@pytest.mark.parametrize("amount", ["-1", "NaN", "1e3", "", "0", "inf"])
def test_refund_command_checks_the_amount_before_the_journal(
    env: Settings, capsys: pytest.CaptureFixture[str], amount: str
) -> None:
    status = main(["refund", "--order", "not-in-the-journal", "--amount", amount])
    err = capsys.readouterr().err
    assert status == 2
    assert "amount" in err and "not in the journal" not in err


def test_refund_command_currency_is_checked(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with Terminal(env) as t:
        paid(t, "cli-cur")
    capsys.readouterr()
    status = main(["refund", "--order", "cli-cur", "--amount", "1.00", "--currency", "USD"])
    err = capsys.readouterr().err
    assert status == 2 and "USD" in err and "CNY" in err
    status = main(["refund", "--order", "cli-cur", "--amount", "1.001", "--currency", "CNY"])
    assert status == 2 and "more decimals" in capsys.readouterr().err
    status = main(["refund", "--order", "cli-cur", "--amount", "1.00", "--currency", "CNY"])
    assert status == 0 and "SUCCESS" in capsys.readouterr().out
