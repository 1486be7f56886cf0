"""recover(): every kind of unresolved order, settled against a real sandbox gateway over HTTP on loopback.

Each test builds the state a lane leaves behind when it dies (the journal's intent, and
whatever reached the gateway), then runs recovery and checks the journal agrees with the
gateway and the shopper is charged at most once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from paycode import PaymentRequest
from paycode.bizcontent import pay_biz, refund_biz
from paycode.errors import ConfigError
from paycode.gateway import PAY, REFUND, Credentials, GatewayClient, PingPongClient, PingPongProtocol
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.masking import mask_code
from paycode.models import Money, PaymentStatus
from paycode.recovery import ACTIONS, RecoveryResult, recover
from paycode.sandbox.server import SandboxServer
from paycode.settings import Settings
from paycode.testing import EventRecorder

Recorder = EventRecorder  # the shared recorder of paycode.testing


@attrs.define
class Lane:
    """A sandbox gateway, a client for it, a journal, and a host: what a lane has after a restart."""

    srv: SandboxServer
    host: PluginHost
    client: GatewayClient
    journal: Journal
    recorder: Recorder

    def code(self, ending: str, wallet: str = "Wechat-Offline") -> str:
        return self.host.wallets[wallet].patterns[0].make(ending)

    def begin(self, order_id: str, ending: str = "001", *, deadline_in: float = -1.0, amount: str = "10.00") -> str:
        """Journal an order and its pay attempt (the intent), as the lane does before sending."""
        code = self.code(ending)
        self.journal.begin_order(
            order_id,
            money=Money(amount, "CNY"),
            wallet="Wechat-Offline",
            code_masked=mask_code(code),
            lane="lane-1",
            deadline_at=time.time() + deadline_in,
        )
        self.journal.begin_attempt(order_id, f"{order_id}-rq", "pay")
        return code

    def send(self, order_id: str, code: str, amount: str = "10.00", time_expire: int | None = None) -> Any:
        """Send the pay request that was journaled; the test then 'loses' the answer."""
        request = PaymentRequest(
            money=Money(amount, "CNY"),
            wallet=self.host.wallets["Wechat-Offline"],
            code=code,
            merchant_transaction_id=order_id,
            request_id=f"{order_id}-rq",
            time_expire=time_expire,
        )
        return self.client.send(PAY, pay_biz(request))

    def restart(self) -> None:
        """A new gateway client, as a restarted lane has (no connection kept from before)."""
        self.client.close()
        self.client = fast_client(self.srv, self.host)

    def recover(self, **kw: Any) -> list[RecoveryResult]:
        return recover(self.journal, self.client, self.host, **kw)

    def status(self, order_id: str) -> PaymentStatus:
        record = self.journal.order(order_id)
        assert record is not None
        return record.status


def fast_client(srv: SandboxServer, host: PluginHost) -> PingPongClient:
    """The pingpong client for the sandbox, retrying lost answers after 10 ms rather than 300 ms."""
    c = srv.credentials
    proto = PingPongProtocol(
        base_url=srv.base_url,
        credentials=Credentials(c.acc_id, c.client_id, c.salt),
        signer=host.signer(),
        signers=host.signers,
        backoff=0.01,
    )
    return PingPongClient(proto, connect_timeout=2.0, read_timeout=2.0)


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[Lane]:
    wallets = PluginHost(Settings(journal=str(tmp_path / "unused.sqlite3")))
    srv = SandboxServer(wallets=wallets.wallets.values(), signers=wallets.signers, processing_queries=0)
    srv.start()
    creds = srv.credentials
    settings = Settings(
        gateway=srv.base_url,
        acc_id=creds.acc_id,
        client_id=creds.client_id,
        salt=creds.salt,
        journal=str(tmp_path / "journal.sqlite3"),
        connect_timeout=2.0,
        read_timeout=2.0,
    )
    recorder = Recorder()
    host = PluginHost(settings, plugins=[recorder])
    client = fast_client(srv, host)
    journal = Journal(settings.journal)
    lane = Lane(srv, host, client, journal, recorder)
    try:
        yield lane
    finally:
        journal.close()
        lane.client.close()
        srv.stop()


def only(results: list[RecoveryResult]) -> RecoveryResult:
    assert len(results) == 1, results
    return results[0]


# ---------------------------------------------------------------------------- the payment's true state


def test_an_answer_lost_after_the_gateway_committed_is_recorded_as_paid(lane: Lane) -> None:
    code = lane.begin("o-1", "001")
    lane.send("o-1", code)  # committed at the gateway; the lane died before reading the answer
    result = only(lane.recover())
    assert (result.before, result.after, result.action, result.resolved) == ("INIT", "SUCCESS", "recorded", True)
    record = lane.journal.order("o-1")
    assert record is not None and record.transaction_id == lane.srv.order("o-1").transaction_id  # type: ignore[union-attr]
    assert [a.outcome for a in lane.journal.attempts("o-1")] == ["settled", "answered"]
    assert lane.srv.order("o-1").charged == 1  # type: ignore[union-attr]
    assert lane.recover() == []  # nothing left: a second run asks nothing


def test_a_decline_is_recorded_as_failed(lane: Lane) -> None:
    code = lane.begin("o-1", "002")
    lane.send("o-1", code)
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved) == ("FAILED", "recorded", True)
    assert lane.srv.order("o-1").charged == 0  # type: ignore[union-attr]


def test_a_request_that_never_left_is_not_found_after_the_deadline(lane: Lane) -> None:
    lane.begin("o-1", "001", deadline_in=-1)
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved) == ("INIT", "waiting", False)
    assert "a request sent may still arrive within" in result.reason  # grace: connect + read timeout
    result = only(lane.recover(grace=0))
    assert (result.after, result.action, result.resolved) == ("FAILED", "not_found", True)
    assert "never charged" in result.reason
    record = lane.journal.order("o-1")
    assert record is not None and record.abandoned  # should it still arrive and succeed, it is refunded
    assert lane.srv.order("o-1") is None


def test_a_request_that_never_left_waits_for_its_deadline(lane: Lane) -> None:
    lane.begin("o-1", "001", deadline_in=60)
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved) == ("INIT", "waiting", False)
    assert "s left before its deadline" in result.reason
    assert lane.status("o-1") is PaymentStatus.INIT


def test_processing_before_the_deadline_is_left_to_the_lane(lane: Lane) -> None:
    code = lane.begin("o-1", "004", deadline_in=60)
    lane.send("o-1", code)
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved) == ("PROCESSING", "waiting", False)
    assert lane.srv.order("o-1").status == "PROCESSING"  # type: ignore[union-attr]


def test_processing_past_the_deadline_is_never_voided_but_abandoned(lane: Lane) -> None:
    """Void is documented for AUTH_SUCCESS only: recovery leaves the close to the gateway (timeExpire)."""
    code = lane.begin("o-1", "004", deadline_in=-1)
    lane.send("o-1", code, time_expire=int(time.time()) + 3600)
    result = only(lane.recover())
    assert (result.before, result.after, result.action, result.resolved) == ("INIT", "PROCESSING", "closing", False)
    assert "closes it at timeExpire" in result.reason
    view = lane.srv.order("o-1")
    assert view is not None and (view.status, view.charged) == ("PROCESSING", 0)
    record = lane.journal.order("o-1")
    assert record is not None and record.abandoned
    assert [a.kind for a in lane.journal.attempts("o-1")] == ["pay", "query"]
    # long after the grace, still open: said loudly, never voided
    late = only(lane.recover(now=time.time() + 3600))
    assert late.action == "closing" and "has not closed it as documented" in late.reason
    assert "void" not in [a.kind for a in lane.journal.attempts("o-1")]


def test_processing_closed_by_the_gateway_at_time_expire_is_recorded(lane: Lane) -> None:
    code = lane.begin("o-1", "004", deadline_in=-1)
    lane.send("o-1", code, time_expire=int(time.time()))  # the gateway closes it at its timeExpire: now
    time.sleep(0.05)
    result = only(lane.recover())
    assert (result.before, result.after, result.action, result.resolved) == ("INIT", "CLOSED", "recorded", True)
    view = lane.srv.order("o-1")
    assert view is not None and (view.status, view.closed_by, view.charged) == ("CLOSED", "expired", 0)
    assert [a.kind for a in lane.journal.attempts("o-1")] == ["pay", "query"]


# ---------------------------------------------------------------------------- late successes


def _late_success(lane: Lane) -> None:
    code = lane.begin("o-1", "003", deadline_in=-1)
    answer = lane.send("o-1", code)
    assert answer.status is PaymentStatus.PROCESSING
    lane.journal.end_attempt("o-1", "o-1-rq", outcome="answered", code=answer.code, status="PROCESSING")
    lane.journal.set_state("o-1", "PROCESSING")
    lane.journal.mark_abandoned("o-1", "deadline passed; the cashier gave up")
    # the shopper confirms now: the next query answers SUCCESS (processing_queries=0)


def test_a_late_success_is_refunded(lane: Lane) -> None:
    _late_success(lane)
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved, result.refunded) == (
        "SUCCESS",
        "refunded",
        True,
        Decimal("10.00"),
    )
    view = lane.srv.order("o-1")
    assert view is not None and view.charged == 1 and view.refunded == Decimal("10.00")
    record = lane.journal.order("o-1")
    assert record is not None and record.refunded == Decimal("10.00") and not record.unresolved
    assert lane.recover() == []


def test_a_late_success_is_reported_when_the_setting_says_so(lane: Lane) -> None:
    _late_success(lane)
    result = only(lane.recover(late_success="report"))
    assert (result.after, result.action, result.resolved, result.refunded) == ("SUCCESS", "reported", True, 0)
    assert "kept" in result.reason
    view = lane.srv.order("o-1")
    assert view is not None and view.refunded == 0
    record = lane.journal.order("o-1")
    assert record is not None and not record.abandoned
    assert lane.journal.transitions("o-1")[-1].note.startswith("late success kept")


def test_late_success_defaults_to_the_hosts_setting(lane: Lane, tmp_path: Path) -> None:
    _late_success(lane)
    host = PluginHost(attrs.evolve(lane.host.settings, late_success="report"))
    result = only(recover(lane.journal, lane.client, host))
    assert result.action == "reported"


def test_a_bad_late_success_setting_is_refused(lane: Lane) -> None:
    with pytest.raises(ConfigError, match="late_success='keep'; accepted: refund, report"):
        lane.recover(late_success="keep")


# ---------------------------------------------------------------------------- refunds


def _paid(lane: Lane, order_id: str = "o-1") -> None:
    code = lane.begin(order_id, "001")
    answer = lane.send(order_id, code)
    lane.journal.end_attempt(order_id, f"{order_id}-rq", outcome="answered", code=answer.code, status="SUCCESS")
    lane.journal.set_state(order_id, "SUCCESS", transaction_id=answer.biz["transactionId"])


def test_a_refund_whose_answer_was_lost_is_found_done(lane: Lane) -> None:
    _paid(lane)
    lane.journal.begin_refund("o-1", "rf-1", Decimal("4"))
    lane.client.send(
        REFUND, refund_biz(merchant_transaction_id="o-1", merchant_refund_id="rf-1", amount=Money("4", "CNY"))
    )
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved) == ("SUCCESS", "recorded", True)
    record = lane.journal.order("o-1")
    assert record is not None and record.refunded == Decimal("4.00") and record.refunds_pending == 0


def test_a_refund_that_never_left_is_failed_and_can_be_made_again(lane: Lane) -> None:
    _paid(lane)
    lane.journal.begin_refund("o-1", "rf-1", Decimal("10"))
    result = only(lane.recover())
    assert not result.resolved and "refund of 10.00 CNY has no final outcome yet" in result.reason
    result = only(lane.recover(grace=0))
    assert result.resolved
    assert [r.status for r in lane.journal.refunds("o-1")] == ["FAILED"]
    record = lane.journal.order("o-1")
    assert record is not None and record.refundable == Decimal("10.00")


# ---------------------------------------------------------------------------- a gateway that cannot be trusted


@pytest.mark.parametrize(
    "fault",
    [
        "refuse",
        "http_error",
        "bad_signature",
        "truncated_body",
        "drop_before_commit",
    ],
)
def test_nothing_is_assumed_when_the_gateway_cannot_be_asked(lane: Lane, fault: str) -> None:
    code = lane.begin("o-1", "001")
    lane.send("o-1", code)
    setattr(lane.srv.faults, fault, True)
    lane.restart()
    result = only(lane.recover())
    assert (result.before, result.after, result.action, result.resolved) == ("INIT", "INIT", "unknown", False)
    assert "outcome unknown" in result.reason
    lane.srv.faults.clear()
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved) == ("SUCCESS", "recorded", True)
    assert lane.srv.order("o-1").charged == 1  # type: ignore[union-attr]


def test_a_failed_order_with_a_lost_retry_is_settled_after_the_deadline(lane: Lane) -> None:
    code = lane.begin("o-1", "002")
    lane.send("o-1", code)
    lane.journal.end_attempt("o-1", "o-1-rq", outcome="answered", code="301002", status="FAILED")
    lane.journal.set_state("o-1", "FAILED")
    lane.journal.begin_attempt("o-1", "o-1-rq2", "pay")  # a retry whose answer was lost
    lane.journal.end_attempt("o-1", "o-1-rq2", outcome="unknown")
    result = only(lane.recover())
    assert (result.after, result.action, result.resolved) == ("FAILED", "recorded", True)
    assert [a.outcome for a in lane.journal.attempts("o-1")][:2] == ["answered", "settled"]


# ---------------------------------------------------------------------------- runs, lanes, events


def test_every_order_gets_a_result_and_an_event(lane: Lane) -> None:
    lane.send("a", lane.begin("a", "001"))
    lane.begin("b", "001", deadline_in=-1)
    lane.begin("c", "001", deadline_in=60)
    lane.journal.begin_order(
        "d", money=Money("1", "CNY"), wallet="W", code_masked="13**01", lane="lane-2", deadline_at=0
    )
    results = lane.recover(lane="lane-1", grace=0)
    assert [(r.order_id, r.action) for r in results] == [("a", "recorded"), ("b", "not_found"), ("c", "waiting")]
    assert all(r.action in ACTIONS for r in results)
    events = [e for e in lane.recorder.events if e.kind == "recovery.order"]
    assert [(e.order_id, e.data["action"], e.data["resolved"]) for e in events] == [
        ("a", "recorded", True),
        ("b", "not_found", True),
        ("c", "waiting", False),
    ]
    assert [r.order_id for r in lane.journal.unresolved()] == ["c", "d"]


def test_a_result_reads_as_one_line_and_as_json(lane: Lane) -> None:
    _late_success(lane)
    result = only(lane.recover())
    assert result.line() == "o-1  lane-1  PROCESSING -> SUCCESS  refunded  refunded 10.00 CNY"
    assert result.as_json() == {
        "order_id": "o-1",
        "lane": "lane-1",
        "before": "PROCESSING",
        "after": "SUCCESS",
        "action": "refunded",
        "resolved": True,
        "reason": "",
        "amount": "10.00",
        "currency": "CNY",
        "refunded": "10.00",
    }
