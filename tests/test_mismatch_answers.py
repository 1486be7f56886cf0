"""A correctly signed answer that does not match its request is never believed (issue 16 item 1, flow side).

The documented gateway (paycode.testing.docgateway) records the true payment but answers, correctly signed,
with another amount, currency, attempt, no amount, or a decline code beside SUCCESS. pay, query and recovery
must leave the outcome unknown, journal what differed, and say so; never PAID.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from paycode import OutcomeUnknown, PaymentStatus, Settings, Terminal
from paycode.host import PluginHost
from paycode.recovery import recover
from paycode.terminal import outcome
from paycode.testing import EventRecorder
from paycode.testing.docgateway import PAY, QUERY, DocGateway

from .conftest import settings_for as shared_settings_for

CODE = "130000000000000001"

MISMATCHES: dict[str, dict[str, Any]] = {
    "another amount": {"amount": "1.000000"},
    "another currency": {"currency": "HKD"},
    "no amount": {"amount": None},
    "another requestId": {"request_id": "rq-not-ours"},
    "a decline code beside SUCCESS": {"code": "301002", "status": "SUCCESS"},
}


Recorder = EventRecorder  # the shared recorder of paycode.testing


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway() as gateway:
        yield gateway


def settings_for(gw: DocGateway, tmp_path: Path) -> Settings:
    """The shared settings_for (tests/conftest.py) with this module's timings."""
    return shared_settings_for(gw, tmp_path, poll_interval=0.1, read_timeout=1.0, close_grace=1.0)


@pytest.mark.parametrize("name", list(MISMATCHES))
def test_a_mismatched_success_is_never_paid(gw: DocGateway, tmp_path: Path, name: str) -> None:
    tamper = MISMATCHES[name]
    gw.script(path=PAY, **tamper)
    if "request_id" not in tamper:  # a query answer names the pay attempt: another requestId is a pay-only lie
        gw.script(path=QUERY, **tamper)
    recorder = Recorder()
    s = settings_for(gw, tmp_path)
    with Terminal(s, host=PluginHost(s, plugins=[recorder]), recover=False) as t:
        p = t.pay("25.00", "CNY", code=CODE, order_id="mm-1")
        record = t.journal.order("mm-1")
        attempts = t.journal.attempts("mm-1")
    view = gw.order("mm-1")
    assert view is not None and view.status == "SUCCESS"  # the gateway did charge
    if "request_id" in tamper:
        # the pay's answer is not believed; the truthful query finds the payment
        assert outcome(p) == "paid" and p.status is PaymentStatus.SUCCESS
        assert record is not None and record.status is PaymentStatus.SUCCESS
        return
    assert outcome(p) == "unresolved" and p.status is PaymentStatus.UNKNOWN  # paycode pay exits 3
    assert record is not None and record.status is PaymentStatus.UNKNOWN and record.abandoned and record.unresolved
    untrusted = [
        a for a in attempts if "untrustworthy" in a.detail or "does not match" in a.detail or a.outcome == "unknown"
    ]
    assert untrusted and all(a.outcome in ("unknown", "error") for a in attempts)
    assert any(e.kind in ("payment.mismatch", "payment.unknown") for e in recorder.events)
    assert not any(e.kind == "payment.state" and e.data.get("status") == "SUCCESS" for e in recorder.events)


@pytest.mark.parametrize("name", [n for n in MISMATCHES if n != "another requestId"])
def test_query_and_recovery_never_believe_a_mismatch(gw: DocGateway, tmp_path: Path, name: str) -> None:
    s = settings_for(gw, tmp_path)
    tamper = dict(MISMATCHES[name])
    tamper.setdefault("status", "SUCCESS")  # the lie that matters: "paid", beside something that does not match
    gw.script(path=QUERY, **tamper)
    gw.script(path=PAY, outcome="PROCESSING")  # the shopper confirms late: the order stays with recovery
    with Terminal(s, recover=False) as t:
        p = t.pay("25.00", "CNY", code=CODE, order_id="mm-2")
        assert outcome(p) != "paid"
        before = t.journal.order("mm-2")
        with pytest.raises(OutcomeUnknown, match="does not match"):
            t.query("mm-2")
        after = t.journal.order("mm-2")
        assert before is not None and after is not None and after.status is before.status
        assert t.journal.attempts("mm-2")[-1].outcome == "unknown"
        (result,) = recover(t.journal, t.gateway, t.host, now=after.deadline_at + 3600)
        final = [a for a in t.journal.attempts("mm-2") if a.kind == "query"]
    assert result.action == "untrusted" and not result.resolved
    assert "does not match" in result.reason
    assert final[-1].outcome == "unknown" and ("untrustworthy" in final[-1].detail or "not match" in final[-1].detail)


def test_a_mismatched_refund_answer_leaves_the_refund_pending(gw: DocGateway, tmp_path: Path) -> None:
    s = settings_for(gw, tmp_path)
    with Terminal(s, recover=False) as t:
        assert outcome(t.pay("25.00", "CNY", code=CODE, order_id="mm-3")) == "paid"
        gw.script(amount="99.000000")  # every answer from now on: another amount
        result = t.refund("mm-3", "5.00", deadline=0.5, poll_interval=0.1)
        record = t.journal.order("mm-3")
    assert result.status is PaymentStatus.UNKNOWN and result.refunded == 0
    assert record is not None and record.refunds_pending == Decimal("5.00") and record.unresolved
