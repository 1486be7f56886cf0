"""Fault injection over the sandbox: whatever goes wrong on the wire, after recovery the shopper is charged
at most once and the journal agrees with the gateway.

Each case switches sandbox faults on, pays through a real :class:`~paycode.Terminal` over HTTP on loopback,
switches the faults off, restarts the lane (a new Terminal recovers on start) and checks every order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from paycode import PaymentStatus, Settings, Terminal
from paycode.gateway import Credentials, PingPongClient, PingPongProtocol
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.sandbox import FaultSwitch, SandboxServer
from paycode.terminal import outcome

from .conftest import settings_for

PAY = "/v4/payment/unifiedPay"
QUERY = "/v4/payment/query"


#: the sandbox fixture (tests/conftest.py) with these options
pytestmark = pytest.mark.sandbox(slow_seconds=0.5, notify_schedule=[0.05])


@attrs.define
class LaneFactory:
    """Builds the lane's Terminal (a fresh one is a restarted lane: it recovers on start)."""

    srv: SandboxServer
    settings: Settings
    host: PluginHost
    opened: list[Terminal | PingPongClient] = attrs.field(factory=list)

    def client(self) -> PingPongClient:
        """The pingpong client, with a short retry backoff so that lost answers are quick to test."""
        c = self.srv.credentials
        proto = PingPongProtocol(
            base_url=self.srv.base_url,
            credentials=Credentials(c.acc_id, c.client_id, c.salt),
            signer=self.host.signer(),
            signers=self.host.signers,
            backoff=0.02,
        )
        return PingPongClient(
            proto, connect_timeout=self.settings.connect_timeout, read_timeout=self.settings.read_timeout
        )

    def terminal(self, *, recover: bool = True) -> Terminal:
        client = self.client()
        self.opened.append(client)
        t = Terminal(self.settings, host=self.host, gateway=client, recover=recover)
        self.opened.append(t)
        return t

    def stop(self, t: Terminal) -> None:
        """The lane goes away: its terminal and its gateway client are closed."""
        t.close()
        t.gateway.close()

    def code(self, ending: str) -> str:
        return self.host.wallets["Wechat-Offline"].patterns[0].make(ending)


@pytest.fixture
def lanes(sandbox: SandboxServer, tmp_path: Path) -> Iterator[LaneFactory]:
    settings = settings_for(sandbox, tmp_path, deadline=0.4, read_timeout=0.3, connect_timeout=0.3)
    factory = LaneFactory(sandbox, settings, PluginHost(settings))
    yield factory
    for t in factory.opened:
        t.close()


def assert_money_safe(srv: SandboxServer, journal: Journal) -> None:
    """Every order: charged at most once, resolved, and the journal says what the gateway says."""
    for record in journal.orders():
        view = srv.order(record.order_id)
        assert not record.unresolved, record
        if view is None:  # never reached the gateway
            assert record.status is PaymentStatus.FAILED and record.transaction_id is None
            continue
        assert view.charged <= 1
        assert record.status.value == view.status, (record, view)
        assert record.transaction_id in (None, view.transaction_id)
        assert record.refunded == view.refunded
        if view.status == "SUCCESS" and record.abandoned:
            assert view.refunded == view.amount  # a success the lane gave up on was refunded


@attrs.frozen
class Case:
    faults: dict[str, FaultSwitch]
    ending: str = "001"
    paid: str = "paid"  # what the lane tells the cashier: paid, not_paid, unresolved
    gateway: str | None = "SUCCESS"  # the order's final status at the gateway (None: never got there)
    refunded: bool = False  # a success the lane had given up on, refunded by recovery


CASES: dict[str, Case] = {
    "connection refused": Case({"refuse": FaultSwitch()}, paid="not_paid", gateway=None),
    "timeout before commit": Case({"delay": FaultSwitch(path=PAY, times=1, seconds=0.6)}),
    "timeout after commit": Case({"delay": FaultSwitch(path=PAY, times=1, seconds=0.6, after_commit=True)}),
    "slow commit scenario": Case({}, ending="006"),
    "5xx before commit": Case({"http_error": FaultSwitch(path=PAY, times=1)}),
    "5xx after commit": Case({"http_error": FaultSwitch(path=PAY, times=1, after_commit=True)}),
    "5xx on every pay": Case({"http_error": FaultSwitch(path=PAY)}, paid="not_paid", gateway=None),
    "5xx on everything after commit": Case(
        {"http_error": FaultSwitch(after_commit=True)}, paid="unresolved", refunded=True
    ),
    "bad signature on pay": Case({"bad_signature": FaultSwitch(path=PAY)}),
    "bad signature on everything": Case({"bad_signature": FaultSwitch()}, paid="unresolved", refunded=True),
    "truncated JSON on pay": Case({"truncated_body": FaultSwitch(path=PAY)}),
    "truncated JSON on everything": Case({"truncated_body": FaultSwitch()}, paid="unresolved", refunded=True),
    "connection dropped after commit": Case({"drop_after_commit": FaultSwitch(path=PAY, times=1)}),
    "connection dropped before commit, always": Case(
        {"drop_before_commit": FaultSwitch(path=PAY)}, paid="not_paid", gateway=None
    ),
    "queries fail while the shopper confirms": Case(
        {"http_error": FaultSwitch(path=QUERY)}, ending="003", paid="unresolved", gateway="CLOSED"
    ),
    "decline behind a bad signature": Case(
        {"bad_signature": FaultSwitch(path=PAY)}, ending="002", paid="not_paid", gateway="FAILED"
    ),
}


#: cases that wait out whole deadlines and retries: seconds each (pytest -m "not slow" leaves them out)
SLOW_CASES = {"queries fail while the shopper confirms"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_CASES else n for n in CASES])
def test_after_a_fault_and_recovery_money_is_safe(name: str, lanes: LaneFactory, sandbox: SandboxServer) -> None:
    case = CASES[name]
    for fault, switch in case.faults.items():
        setattr(sandbox.faults, fault, switch)
    lane = lanes.terminal()
    payment = lane.pay("25.00", "CNY", code=lanes.code(case.ending), order_id="order-1")
    assert outcome(payment) == case.paid
    sandbox.faults.clear()
    lanes.stop(lane)
    if case.gateway is None:
        # "no such order" is believed once a request sent can no longer arrive (connect + read timeout)
        time.sleep(lanes.settings.connect_timeout + lanes.settings.read_timeout)

    # the lane restarts: recovery on start settles whatever the fault left open
    restarted = lanes.terminal()
    assert all(r.resolved for r in restarted.recovered), restarted.recovered
    if case.paid == "unresolved":
        assert [r.order_id for r in restarted.recovered] == ["order-1"]
    view = sandbox.order("order-1")
    assert (view.status if view else None) == case.gateway
    assert_money_safe(sandbox, restarted.journal)
    if case.refunded:
        assert view is not None and view.refunded == Decimal("25.00")
    if view is not None:  # `paycode history` agrees with `paycode query`
        record = restarted.journal.order("order-1")
        assert record is not None and restarted.query("order-1").status is record.status


def test_many_orders_through_intermittent_faults(lanes: LaneFactory, sandbox: SandboxServer) -> None:
    """Every third request of each kind misbehaves in a different way; nothing is lost or doubled."""
    lane = lanes.terminal()
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("drop_after_commit", {"times": 1}),
        ("http_error", {"times": 1, "after_commit": True}),
        ("bad_signature", {"times": 1}),
        ("truncated_body", {"times": 1}),
        ("delay", {"times": 1, "seconds": 0.6, "after_commit": True}),
    ]
    endings = ["001", "002", "003", "006"]
    for i in range(10):
        fault, options = kinds[i % len(kinds)]
        sandbox.faults.set(fault, **options)
        lane.pay("1.00", "CNY", code=lanes.code(endings[i % len(endings)]), order_id=f"order-{i}")
        sandbox.faults.clear()
    lanes.stop(lane)
    time.sleep(0.7)  # past every order's deadline, and the grace for requests still on their way
    restarted = lanes.terminal()
    assert all(r.resolved for r in restarted.recovered)
    assert len(restarted.journal.orders()) == 10
    assert_money_safe(sandbox, restarted.journal)
    assert sum(o.charged for o in sandbox.orders()) == sum(1 for o in sandbox.orders() if o.status == "SUCCESS")
