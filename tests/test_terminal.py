"""Terminal end to end over real HTTP on loopback against the sandbox gateway: every scenario and fault."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import paycode
import pytest
from paycode import (
    AsyncTerminal,
    CodeFormatError,
    MoneyError,
    NoWalletError,
    OrderError,
    PaymentStatus,
    Settings,
    Terminal,
)
from paycode.gateway import Credentials, PingPongClient, PingPongProtocol
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.sandbox import FaultSwitch, SandboxServer
from paycode.terminal import outcome
from paycode.testing import EventRecorder

from .conftest import settings_for

PAY = "/v4/payment/unifiedPay"


Recorder = EventRecorder  # the shared recorder of paycode.testing

#: the sandbox fixture (tests/conftest.py) with these options
pytestmark = pytest.mark.sandbox(slow_seconds=0.8, notify_schedule=[0.05])


def client_for(srv: SandboxServer, s: Settings, host: PluginHost) -> PingPongClient:
    """The pingpong plugin's client, with a short retry backoff so that tests of lost answers stay quick."""
    proto = PingPongProtocol(
        base_url=srv.base_url,
        credentials=Credentials(srv.credentials.acc_id, srv.credentials.client_id, s.salt or ""),
        signer=host.signer(),
        signers=host.signers,
        backoff=0.02,
    )
    return PingPongClient(proto, connect_timeout=s.connect_timeout, read_timeout=s.read_timeout)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def terminal(sandbox: SandboxServer, tmp_path: Path, recorder: Recorder) -> Iterator[Terminal]:
    s = settings_for(sandbox, tmp_path)
    host = PluginHost(s, plugins=[recorder])
    with client_for(sandbox, s, host) as client, Terminal(s, host=host, gateway=client) as t:
        yield t


def code(host: PluginHost, ending: str, wallet: str = "Wechat-Offline") -> str:
    return host.wallets[wallet].patterns[0].make(ending)


def test_success(terminal: Terminal, sandbox: SandboxServer, recorder: Recorder) -> None:
    p = terminal.pay("12.50", "CNY", code=code(terminal.host, "001"))
    assert outcome(p) == "paid" and p.transaction_id
    (order,) = sandbox.orders()
    assert order.charged == 1 and order.amount == Decimal("12.50") and order.code_masked == p.code_masked
    record = terminal.journal.order(p.merchant_transaction_id)
    assert record is not None and record.status is PaymentStatus.SUCCESS and record.transaction_id == p.transaction_id
    kinds = recorder.kinds(p.merchant_transaction_id)
    assert kinds == ["scan", "classified", "payment.request", "payment.answer", "payment.state"]
    assert all("130000000000000001" not in str(e.as_json()) for e in recorder.events)


def test_decline_is_not_paid_and_never_retried(terminal: Terminal, sandbox: SandboxServer) -> None:
    p = terminal.pay("3.00", "CNY", code=code(terminal.host, "002"))
    assert outcome(p) == "not_paid" and p.status is PaymentStatus.FAILED
    (order,) = sandbox.orders()
    assert order.charged == 0 and len(order.request_ids) == 1
    assert [a.kind for a in terminal.journal.attempts(p.merchant_transaction_id)] == ["pay"]


def test_password_then_success_polls(terminal: Terminal, sandbox: SandboxServer, recorder: Recorder) -> None:
    p = terminal.pay("8.80", "CNY", code=code(terminal.host, "003"))
    assert outcome(p) == "paid"
    assert [t.status for t in p.history] == [PaymentStatus.INIT, PaymentStatus.PROCESSING, PaymentStatus.SUCCESS]
    assert recorder.kinds(p.merchant_transaction_id).count("payment.poll") == 3
    assert sandbox.orders()[0].charged == 1


def test_password_timeout_is_closed_at_the_deadline(
    terminal: Terminal, sandbox: SandboxServer, recorder: Recorder
) -> None:
    """The documented close: no void; the gateway closes the order at its timeExpire and the lane sees CLOSED."""
    started = time.time()
    p = terminal.pay("8.80", "CNY", code=code(terminal.host, "004"))
    assert outcome(p) == "not_paid" and p.status is PaymentStatus.CLOSED
    (order,) = sandbox.orders()
    assert order.closed_by == "expired" and order.charged == 0
    record = terminal.journal.order(p.merchant_transaction_id)
    assert record is not None and record.status is PaymentStatus.CLOSED and not record.unresolved
    assert {a.kind for a in terminal.journal.attempts(p.merchant_transaction_id)} == {"pay", "query"}
    (request,) = [e for e in recorder.events if e.kind == "payment.request"]
    assert 0 < request.data["time_expire"] - started <= 0.6 + 1  # the end of the lane's deadline, whole seconds
    closing = [e.data for e in recorder.events if e.kind == "payment.close"]
    assert closing == [{"step": "closing", "reason": "deadline", "time_expire": request.data["time_expire"]}]


def test_gateway_error_is_never_failed_without_asking(terminal: Terminal, sandbox: SandboxServer) -> None:
    p = terminal.pay("1.00", "CNY", code=code(terminal.host, "005"))
    # the gateway answered 5xx (unknown), then verifiably said it has no such order: not paid, and abandoned so that
    # a pay still arriving late would be refunded by recovery
    assert outcome(p) == "not_paid" and p.status is PaymentStatus.FAILED
    assert [t.status for t in p.history][:2] == [PaymentStatus.INIT, PaymentStatus.UNKNOWN]
    assert sandbox.orders() == []
    record = terminal.journal.order(p.merchant_transaction_id)
    assert record is not None and record.abandoned
    pays = [a for a in terminal.journal.attempts(p.merchant_transaction_id) if a.kind == "pay"]
    assert len(pays) == 1 and pays[0].outcome == "unknown"  # re-sends reuse the requestId: never a new attempt


def test_slow_commit_is_resolved_with_one_charge(terminal: Terminal, sandbox: SandboxServer) -> None:
    p = terminal.pay("20.00", "HKD", code=code(terminal.host, "006"))
    assert outcome(p) == "paid"
    (order,) = sandbox.orders()
    assert order.charged == 1 and len(order.request_ids) == 1


def test_lost_answers_on_the_first_call_are_resolved_by_query(terminal: Terminal, sandbox: SandboxServer) -> None:
    sandbox.faults.drop_after_commit = FaultSwitch(path=PAY, times=3)  # every try of unifiedPay loses its answer
    p = terminal.pay("5.00", "CNY", code=code(terminal.host, "001"))
    assert outcome(p) == "paid"
    assert [t.status for t in p.history] == [PaymentStatus.INIT, PaymentStatus.UNKNOWN, PaymentStatus.SUCCESS]
    (order,) = sandbox.orders()
    assert order.charged == 1 and len(order.request_ids) == 1
    kinds = [a.kind for a in terminal.journal.attempts(p.merchant_transaction_id)]
    assert kinds == ["pay", "query"]


def test_tampered_answer_signature_is_resolved_by_query(terminal: Terminal, sandbox: SandboxServer) -> None:
    sandbox.faults.bad_signature = FaultSwitch(path=PAY, times=3)
    p = terminal.pay("5.00", "CNY", code=code(terminal.host, "001"))
    assert outcome(p) == "paid" and sandbox.orders()[0].charged == 1


def test_wrong_salt_is_unresolved_and_charges_nothing(sandbox: SandboxServer, tmp_path: Path) -> None:
    s = settings_for(sandbox, tmp_path, salt="not-the-salt", deadline=0.2)
    host = PluginHost(s)
    with client_for(sandbox, s, host) as client, Terminal(s, host=host, gateway=client) as t:
        p = t.pay("5.00", "CNY", code=code(t.host, "001"))
        record = t.journal.order(p.merchant_transaction_id)
    assert outcome(p) == "unresolved" and p.status is PaymentStatus.UNKNOWN
    assert record is not None and record.abandoned and record.unresolved
    assert sandbox.orders() == []
    # with the right salt, the next terminal's recovery settles it: the gateway never saw the order
    # (recovery believes "no such order" only once the request could no longer arrive: connect + read timeout)
    time.sleep(0.5)
    with Terminal(settings_for(sandbox, tmp_path, connect_timeout=0.1, read_timeout=0.1)) as t:
        assert [r.order_id for r in t.recovered] == [p.merchant_transaction_id]
        after = t.journal.order(p.merchant_transaction_id)
    assert after is not None and after.status is PaymentStatus.FAILED and not after.unresolved


def test_refunds_partial_then_refused_above_what_is_left(terminal: Terminal, sandbox: SandboxServer) -> None:
    p = terminal.pay("10.00", "CNY", code=code(terminal.host, "001"))
    first = terminal.refund(p.merchant_transaction_id, "4.00")
    assert first.status is PaymentStatus.SUCCESS and first.refunded == Decimal("4.00")
    with pytest.raises(OrderError, match=r"left to refund: 6\.00 CNY"):
        terminal.refund(p.merchant_transaction_id, "6.01")
    second = terminal.refund(p.merchant_transaction_id, "6.00")
    assert second.refunded == Decimal("10.00") and second.refund_id != first.refund_id
    with pytest.raises(OrderError, match=r"left to refund: 0\.00"):
        terminal.refund(p.merchant_transaction_id, "0.01")
    (order,) = sandbox.orders()
    assert order.refunded == Decimal("10.00") and len(order.refunds) == 2


def test_refund_of_an_unpaid_order_is_refused(terminal: Terminal, sandbox: SandboxServer) -> None:
    p = terminal.pay("3.00", "CNY", code=code(terminal.host, "002"))
    with pytest.raises(OrderError, match="only a SUCCESS payment"):
        terminal.refund(p.merchant_transaction_id, "1.00")
    with pytest.raises(OrderError, match="not in the journal"):
        terminal.refund("no-such-order", "1.00")
    assert sandbox.orders()[0].refunds == ()


def test_query_follows_the_gateway(terminal: Terminal) -> None:
    p = terminal.pay("2.00", "CNY", code=code(terminal.host, "001"))
    q = terminal.query(p.merchant_transaction_id)
    assert q.status is PaymentStatus.SUCCESS and q.transaction_id == p.transaction_id and q.money == p.money
    with pytest.raises(paycode.GatewayRejected, match="does not exist"):
        terminal.query("never-paid-order")


@pytest.mark.parametrize(
    ("kwargs", "error", "why"),
    [
        ({"amount": "1.00", "currency": "CNY", "order_id": "x" * 65}, OrderError, "at most 64"),
        ({"amount": "1.00", "currency": "CNY", "order_id": "a<b>"}, OrderError, "'<', '>'"),
        ({"amount": "1.00", "currency": "CNY", "order_id": "a\nb"}, OrderError, "newlines"),
        ({"amount": "1.001", "currency": "CNY"}, MoneyError, "more decimals"),
        ({"amount": "-1", "currency": "CNY"}, MoneyError, "plain decimal"),
        ({"amount": "1.00", "currency": "EUR"}, MoneyError, "no installed wallet accepts EUR"),
        ({"amount": "1.00", "currency": "CNY", "raw": "13000000000000000A"}, CodeFormatError, "digits"),
        ({"amount": "1.00", "currency": "CNY", "raw": "12345"}, NoWalletError, "length"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    terminal: Terminal,
    sandbox: SandboxServer,
    recorder: Recorder,
    kwargs: dict[str, Any],
    error: type[Exception],
    why: str,
) -> None:
    kwargs["code"] = kwargs.pop("raw", None) or code(terminal.host, "001")
    with pytest.raises(error, match=why):
        terminal.pay(**kwargs)
    assert sandbox.orders() == [] and terminal.journal.orders() == []
    (reported,) = [e for e in recorder.events if e.kind == "payment.error"]
    assert reported.data["type"] == error.__name__
    assert reported.data["operation"] == "pay" and reported.data["error"]


def test_replay_scanner_feeds_the_flow(terminal: Terminal, tmp_path: Path, recorder: Recorder) -> None:
    scans = tmp_path / "scans.txt"
    scans.write_text(code(terminal.host, "001") + "\n")
    p = terminal.pay("1.00", "CNY", scanner=f"replay://{scans}", scan_timeout=5)
    assert outcome(p) == "paid"
    assert "scan" in [e.kind for e in recorder.events]


def test_async_terminal_pays_and_refunds(sandbox: SandboxServer, tmp_path: Path) -> None:
    s = settings_for(sandbox, tmp_path)
    recorder = Recorder()

    async def main() -> tuple[str, PaymentStatus]:
        async with AsyncTerminal(s, host=PluginHost(s, plugins=[recorder])) as t:
            first, second = await asyncio.gather(
                t.pay("7.00", "CNY", code=code(t.host, "003")), t.pay("1.00", "HKD", code=code(t.host, "004"))
            )
            refund = await t.refund(first.merchant_transaction_id, "2.00")
            return outcome(first) + "/" + outcome(second), refund.status

    outcomes, refund_status = asyncio.run(main())
    assert outcomes == "paid/not_paid" and refund_status is PaymentStatus.SUCCESS
    charged = {o.scenario: o.charged for o in sandbox.orders()}
    assert charged == {"password_then_success": 1, "password_timeout": 0}
    with Journal(s.journal) as j:
        assert {r.status for r in j.orders()} == {PaymentStatus.SUCCESS, PaymentStatus.CLOSED}


def test_a_starting_terminal_recovers_only_its_own_lane(sandbox: SandboxServer, tmp_path: Path) -> None:
    s = settings_for(sandbox, tmp_path, salt="not-the-salt", deadline=0.2, lane="lane-7")
    host = PluginHost(s)
    with client_for(sandbox, s, host) as client, Terminal(s, host=host, gateway=client) as t:
        p = t.pay("5.00", "CNY", code=code(t.host, "001"))
    assert outcome(p) == "unresolved"
    time.sleep(0.5)
    quick = {"connect_timeout": 0.1, "read_timeout": 0.1}
    with Terminal(settings_for(sandbox, tmp_path, lane="lane-8", **quick)) as other:
        assert other.recovered == []  # lane-7's order is not lane-8's to settle
        still = other.journal.order(p.merchant_transaction_id)
        assert still is not None and still.unresolved
    with Terminal(settings_for(sandbox, tmp_path, lane="lane-7", **quick)) as same:
        assert [r.order_id for r in same.recovered] == [p.merchant_transaction_id]
