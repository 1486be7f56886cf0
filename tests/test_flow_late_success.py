"""A success on an order the lane reported "not paid" is abandoned-and-paid and refunded, whichever path brings
it (issue 16 item 3): through ``query`` and through recovery. (The notification path is the receiver's.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from paycode import PaymentRequest, PaymentStatus, Settings, Terminal
from paycode.bizcontent import pay_biz
from paycode.gateway import PAY as PAY_OPERATION
from paycode.host import PluginHost
from paycode.masking import mask_code
from paycode.models import Money
from paycode.recovery import recover
from paycode.sandbox import SandboxServer
from paycode.terminal import outcome
from paycode.testing.docgateway import QUERY, REFUND, DocGateway

CODE = "130000000000000001"


def settings_for(url: str, credentials: Any, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "gateway": url,
        "acc_id": credentials.acc_id,
        "client_id": credentials.client_id,
        "salt": credentials.salt,
        "journal": str(tmp_path / "journal.sqlite3"),
        "poll_interval": 0.1,
        "deadline": 1.0,
        "read_timeout": 1.0,
        "connect_timeout": 0.5,
        "close_grace": 1.0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway() as gateway:
        yield gateway


@pytest.mark.parametrize("late_success", ["refund", "report"])
def test_a_success_after_the_lane_said_closed_is_refunded_through_query(
    gw: DocGateway, tmp_path: Path, late_success: str
) -> None:
    time.sleep(1.02 - time.time() % 1)  # timeExpire (whole seconds) then ends ~1 s after the deadline
    gw.script(outcome="PROCESSING", paid_after=1.5)  # the shopper confirms after the cashier was told "not paid"
    gw.script(path=QUERY, status="CLOSED", times=1)  # what the lane heard at its first query
    s = settings_for(gw.url, gw.credentials, tmp_path, late_success=late_success)
    with Terminal(s, recover=False) as t:
        p = t.pay("12.00", "CNY", code=CODE, order_id="late-1")
        assert outcome(p) == "not_paid" and p.status is PaymentStatus.CLOSED  # paycode pay exits 1
        while (view := gw.order("late-1")) is None or view.status != "SUCCESS":
            time.sleep(0.05)
        q = t.query("late-1")
        record = t.journal.order("late-1")
    assert q.status is PaymentStatus.SUCCESS
    assert record is not None and record.abandoned and record.unresolved
    with Terminal(s) as restarted:  # recovery on start settles it under the late_success setting
        (result,) = restarted.recovered
        after = restarted.journal.order("late-1")
    view = gw.order("late-1")
    assert view is not None and view.charged == 1
    if late_success == "refund":
        assert (result.action, result.refunded) == ("refunded", Decimal("12.00"))
        assert view.refunded == Decimal("12.00")
    else:
        assert result.action == "reported" and view.refunded == 0
    assert after is not None and not after.unresolved


def test_a_success_on_an_order_journaled_failed_is_refunded_by_recovery(tmp_path: Path) -> None:
    host = PluginHost(Settings(journal=str(tmp_path / "unused.sqlite3")))
    with SandboxServer(wallets=host.wallets.values(), signers=host.signers) as srv:
        s = settings_for(srv.base_url, srv.credentials, tmp_path)
        lane_host = PluginHost(s)
        wallet = lane_host.wallets["Wechat-Offline"]
        with Terminal(s, host=lane_host, recover=False) as t:
            # the lane told the cashier FAILED (e.g. a retry decided so), while its first attempt's answer was lost
            t.journal.begin_order(
                "late-2",
                money=Money("7.00", "CNY"),
                wallet=wallet.name,
                code_masked=mask_code(CODE),
                lane=s.lane,
                deadline_at=time.time() - 60,
            )
            t.journal.begin_attempt("late-2", "late-2-rq", "pay")
            request = PaymentRequest(Money("7.00", "CNY"), wallet, CODE, "late-2", "late-2-rq")
            t.gateway.send(PAY_OPERATION, pay_biz(request))  # the gateway charges it; the answer is "lost"
            t.journal.end_attempt("late-2", "late-2-rq", outcome="unknown", detail="answer lost")
            t.journal.set_state("late-2", PaymentStatus.FAILED, note="told the cashier: not paid")
            (result,) = recover(t.journal, t.gateway, t.host, grace=0)
            record = t.journal.order("late-2")
        view = srv.order("late-2")
    assert (result.before, result.after, result.action) == ("FAILED", "SUCCESS", "refunded")
    assert result.refunded == Decimal("7.00") and result.resolved
    assert record is not None and record.abandoned and record.refunded == Decimal("7.00")
    assert view is not None and view.charged == 1 and view.refunded == Decimal("7.00")


def test_a_late_success_refund_answered_with_a_system_error_is_never_refunded_twice(
    gw: DocGateway, tmp_path: Path
) -> None:
    time.sleep(1.02 - time.time() % 1)
    gw.script(outcome="PROCESSING", paid_after=1.5)
    gw.script(path=QUERY, status="CLOSED", times=1)
    s = settings_for(gw.url, gw.credentials, tmp_path)
    with Terminal(s, recover=False) as t:
        assert outcome(t.pay("12.00", "CNY", code=CODE, order_id="late-3")) == "not_paid"
        while (view := gw.order("late-3")) is None or view.status != "SUCCESS":
            time.sleep(0.05)
        t.query("late-3")  # abandoned-and-paid now
        gw.script(path=REFUND, code="500000", status=None)  # the refund is made, its answer says "system error"
        (first,) = recover(t.journal, t.gateway, t.host)
        pending = t.journal.order("late-3")
        gw.clear()
        (second,) = recover(t.journal, t.gateway, t.host)
        after = t.journal.order("late-3")
    assert first.action == "refunded" and first.refunded == 0 and "UNKNOWN" in first.reason
    assert pending is not None and pending.refunds_pending == Decimal("12.00") and pending.unresolved
    assert second.resolved and after is not None and after.refunded == Decimal("12.00")
    view = gw.order("late-3")
    assert view is not None and view.refunded == Decimal("12.00")  # once
