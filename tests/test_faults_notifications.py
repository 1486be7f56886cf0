"""Duplicate and out-of-order notifications, from the sandbox's notifier to a real notification receiver:
each is applied once, an old one never undoes a newer state, and the journal ends agreeing with the gateway."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from paycode import Settings, Terminal
from paycode.bizcontent import pay_biz
from paycode.gateway import PAY, Credentials
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.masking import mask_code
from paycode.models import Money, PaymentRequest, PaymentStatus
from paycode.notifications import NotificationReceiver, ReceiverResult
from paycode.recovery import recover
from paycode.sandbox import FaultSwitch, SandboxServer


@attrs.define
class Shop:
    srv: SandboxServer
    receiver: NotificationReceiver
    results: list[ReceiverResult]
    terminal: Terminal
    host: PluginHost

    @property
    def journal(self) -> Journal:
        return self.terminal.journal

    def code(self, ending: str) -> str:
        return self.host.wallets["Wechat-Offline"].patterns[0].make(ending)

    def wait(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < end, (self.srv.notifications(), self.results)
            time.sleep(0.01)

    def outcomes(self, order_id: str) -> list[tuple[str, str, str]]:
        return [
            (r.notification.notify_type, r.notification.status, r.outcome)
            for r in self.results
            if r.notification is not None and r.notification.order_id == order_id
        ]


@pytest.fixture
def shop(base_host: PluginHost, tmp_path: Path) -> Iterator[Shop]:
    results: list[ReceiverResult] = []
    with SandboxServer(
        wallets=base_host.wallets.values(), signers=base_host.signers, notify_schedule=[0.05, 0.05]
    ) as srv:
        c = srv.credentials
        journal = Journal(tmp_path / "journal.sqlite3")
        receiver = NotificationReceiver(
            journal,
            credentials=Credentials(c.acc_id, c.client_id, c.salt),
            signers=base_host.signers,
            on_result=results.append,
        )
        with receiver:
            settings = Settings(
                gateway=srv.base_url,
                acc_id=c.acc_id,
                client_id=c.client_id,
                salt=c.salt,
                journal=str(tmp_path / "journal.sqlite3"),
                notification_url=receiver.url + "/paycode/notify",
                poll_interval=0.05,
                deadline=2.0,
                read_timeout=1.0,
            )
            host = PluginHost(settings)
            with Terminal(settings, host=host, journal=journal) as terminal:
                yield Shop(srv, receiver, results, terminal, host)
        journal.close()


def agree(shop: Shop) -> None:
    for record in shop.journal.orders():
        view = shop.srv.order(record.order_id)
        assert view is not None and view.charged <= 1
        assert (record.status.value, record.refunded) == (view.status, view.refunded)
        assert not record.unresolved


def test_duplicate_notifications_are_applied_once(shop: Shop) -> None:
    shop.srv.faults.duplicate_notifications = True
    shop.terminal.pay("30.00", "CNY", code=shop.code("001"), order_id="paid")
    shop.terminal.pay("30.00", "CNY", code=shop.code("002"), order_id="declined")
    shop.terminal.refund("paid", "10.00")
    shop.wait(lambda: len(shop.results) == 6)  # three notifications, each delivered twice
    assert sorted(shop.outcomes("paid")) == [
        ("RECHARGE", "SUCCESS", "duplicate"),  # the lane already knew from the answer
        ("RECHARGE", "SUCCESS", "duplicate"),
        ("REFUND", "SUCCESS", "duplicate"),
        ("REFUND", "SUCCESS", "duplicate"),
    ]
    assert shop.outcomes("declined") == [("RECHARGE", "FAILED", "duplicate")] * 2
    assert all(r.http_status == 200 for r in shop.results)
    agree(shop)


def test_an_old_notification_overtaken_by_a_newer_one_changes_nothing(shop: Shop) -> None:
    """The payment's SUCCESS notification is held back until after the refund's: the refund stays, SUCCESS stays."""
    shop.srv.faults.out_of_order_notifications = FaultSwitch(times=1, seconds=1.0)
    shop.terminal.pay("30.00", "CNY", code=shop.code("003"), order_id="late")  # success on the third query
    shop.terminal.refund("late", "30.00")
    shop.wait(lambda: len(shop.results) == 2)
    assert shop.outcomes("late") == [("REFUND", "SUCCESS", "duplicate"), ("RECHARGE", "SUCCESS", "duplicate")]
    record = shop.journal.order("late")
    assert record is not None and record.status is PaymentStatus.SUCCESS and record.refunded == Decimal("30.00")
    agree(shop)


def test_a_notification_settles_an_order_whose_lane_died(shop: Shop) -> None:
    """The lane sent the payment and died; the notification arrives first, recovery then only confirms it."""
    code = shop.code("001")
    shop.journal.begin_order(
        "orphan",
        money=Money("30.00", "CNY"),
        wallet="Wechat-Offline",
        code_masked=mask_code(code),
        lane="lane-1",
        deadline_at=time.time() + 60,
    )
    shop.journal.begin_attempt("orphan", "orphan-rq", "pay")
    request = PaymentRequest(
        Money("30.00", "CNY"),
        shop.host.wallets["Wechat-Offline"],
        code,
        "orphan",
        "orphan-rq",
        notification_url=shop.receiver.url + "/paycode/notify",
    )
    shop.terminal.gateway.send(PAY, pay_biz(request))  # the answer is never read: the lane is gone
    shop.wait(lambda: len(shop.results) == 1)
    assert shop.outcomes("orphan") == [("RECHARGE", "SUCCESS", "applied")]
    record = shop.journal.order("orphan")
    assert record is not None and record.status is PaymentStatus.SUCCESS and not record.unresolved
    assert recover(shop.journal, shop.terminal.gateway, shop.host) == []
    agree(shop)


def test_a_late_success_notification_on_an_abandoned_order_is_refunded_by_recovery(shop: Shop) -> None:
    """The lane gave up and closed what it could; a SUCCESS notification still comes: recovery refunds it."""
    code = shop.code("001")
    shop.srv.faults.out_of_order_notifications = FaultSwitch(times=1, seconds=0.3)
    shop.journal.begin_order(
        "gave-up",
        money=Money("30.00", "CNY"),
        wallet="Wechat-Offline",
        code_masked=mask_code(code),
        lane="lane-1",
        deadline_at=time.time() - 1,
    )
    shop.journal.begin_attempt("gave-up", "gave-up-rq", "pay")
    request = PaymentRequest(
        Money("30.00", "CNY"),
        shop.host.wallets["Wechat-Offline"],
        code,
        "gave-up",
        "gave-up-rq",
        notification_url=shop.receiver.url + "/paycode/notify",
    )
    shop.terminal.gateway.send(PAY, pay_biz(request))
    shop.journal.end_attempt("gave-up", "gave-up-rq", outcome="unknown", detail="read timeout")
    shop.journal.set_state("gave-up", "UNKNOWN")
    shop.journal.mark_abandoned("gave-up", "no answer within the deadline")
    shop.wait(lambda: len(shop.results) == 1)
    assert shop.outcomes("gave-up") == [("RECHARGE", "SUCCESS", "applied")]
    [result] = recover(shop.journal, shop.terminal.gateway, shop.host)
    assert (result.action, result.refunded, result.resolved) == ("refunded", Decimal("30.00"), True)
    agree(shop)
    view = shop.srv.order("gave-up")
    assert view is not None and view.charged == 1 and view.refunded == Decimal("30.00")


@pytest.mark.parametrize("told", ["CLOSED", "FAILED"])
def test_a_late_success_notification_on_an_order_the_lane_said_was_not_paid_is_refunded(shop: Shop, told: str) -> None:
    """The lane reported CLOSED (its deadline passed) or FAILED, so the cashier asked for a new code; the shopper's
    first payment still succeeds and is notified: it comes out abandoned-and-paid, and recovery refunds it."""
    code = shop.code("001")
    shop.journal.begin_order(
        "told-not-paid",
        money=Money("30.00", "CNY"),
        wallet="Wechat-Offline",
        code_masked=mask_code(code),
        lane="lane-1",
        deadline_at=time.time() - 1,
    )
    shop.journal.begin_attempt("told-not-paid", "tnp-rq", "pay")
    request = PaymentRequest(
        Money("30.00", "CNY"),
        shop.host.wallets["Wechat-Offline"],
        code,
        "told-not-paid",
        "tnp-rq",
        notification_url=shop.receiver.url + "/paycode/notify",
    )
    shop.journal.end_attempt("told-not-paid", "tnp-rq", outcome="answered", status=told)
    shop.journal.set_state("told-not-paid", told, note="the lane told the cashier: not paid")
    shop.terminal.gateway.send(PAY, pay_biz(request))  # what the gateway did meanwhile: the payment went through
    shop.wait(lambda: len(shop.results) == 1)
    assert shop.outcomes("told-not-paid") == [("RECHARGE", "SUCCESS", "applied")]
    record = shop.journal.order("told-not-paid")
    assert record is not None and record.status is PaymentStatus.SUCCESS
    assert record.abandoned and record.unresolved
    [result] = recover(shop.journal, shop.terminal.gateway, shop.host)
    assert (result.action, result.refunded, result.resolved) == ("refunded", Decimal("30.00"), True)
    view = shop.srv.order("told-not-paid")
    assert view is not None and view.charged == 1 and view.refunded == Decimal("30.00")
