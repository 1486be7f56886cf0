"""What the notification receiver refuses (issue 16 item 1, receiver side), the late success on a given-up order
(item 3, notification path), the waker it tells, and the ASGI app the bridge mounts; over real HTTP on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from paycode import Money, PaymentStatus, Settings
from paycode.errors import ConfigError
from paycode.gateway import Credentials
from paycode.journal import Journal
from paycode.notifications import NotificationReceiver, ReceiverResult, receiver_app
from paycode.plugins.signers import MD5, SHA256
from paycode.signing import signed
from paycode.wake import LocalWaker

CREDS = Credentials("acc-checks", "client-checks", "salt-checks-0123")
SIGNERS = {"SHA256": SHA256, "MD5": MD5}
ORDER = "order-c1"


def biz_of(status: str, **fields: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "notifyType": "RECHARGE",
        "merchantTransactionId": ORDER,
        "transactionId": "TX-1",
        "amount": "10.000000",
        "currency": "CNY",
        "status": status,
        "paymentMethod": {"type": "Wechat-Offline"},
    }
    for key, value in fields.items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    return content


def body_of(content: dict[str, Any] | str) -> bytes:
    text = content if isinstance(content, str) else json.dumps(content)
    message = {"accId": CREDS.acc_id, "clientId": CREDS.client_id, "version": "1.0", "bizContent": text}
    return json.dumps(signed(message, CREDS.salt, SHA256)).encode()


class Recorder:
    """A waker that records whom it was asked to wake (any object with notify() is accepted)."""

    def __init__(self) -> None:
        self.woken: list[str] = []

    def notify(self, order_id: str) -> None:
        self.woken.append(order_id)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as j:
        j.begin_order(
            ORDER,
            money=Money("10.00", "CNY"),
            wallet="Wechat-Offline",
            code_masked="1300**********0001",
            lane="lane-1",
            deadline_at=time.time() + 30,
        )
        j.set_state(ORDER, PaymentStatus.PROCESSING)
        yield j


@pytest.fixture
def served(journal: Journal) -> Iterator[tuple[str, list[ReceiverResult], Recorder]]:
    seen: list[ReceiverResult] = []
    waker = Recorder()
    with NotificationReceiver(journal, credentials=CREDS, signers=SIGNERS, on_result=seen.append, waker=waker) as r:
        yield r.url + "/notify", seen, waker


def post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=5)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (biz_of("SUCCESS", amount=None), "has no amount"),
        (biz_of("SUCCESS", amount=""), "has no amount"),
        (
            '{"notifyType":"RECHARGE","merchantTransactionId":"order-c1","amount":1e1,"currency":"CNY",'
            '"status":"SUCCESS"}',
            "amount '1e1', which is not a plain decimal amount",
        ),
        (biz_of("SUCCESS", amount="1E1"), "amount '1E1', which is not a plain decimal amount"),
        (biz_of("SUCCESS", amount="ten"), "amount 'ten', which is not a plain decimal amount"),
        (biz_of("SUCCESS", amount=True), "amount True, which is not a plain decimal amount"),
        (biz_of("SUCCESS", amount=-10), "amount -10, which is not an amount"),
        (biz_of("SUCCESS", amount="-10.00"), "amount '-10.00', which is not a plain decimal amount"),
        (biz_of("SUCCESS", currency=None), "has no currency"),
        (biz_of("PAID"), "status 'PAID', which paycode does not know for it; accepted: CANCEL, CLOSED, FAILED"),
        (biz_of("AUTH_SUCCESS"), "status 'AUTH_SUCCESS', which paycode does not know"),
        (biz_of("UNKNOWN"), "status 'UNKNOWN', which paycode does not know"),
        (biz_of("CLOSED", notifyType="VOID"), "notification VOID for order 'order-c1' has status 'CLOSED'"),
        (biz_of("SUCCESS", notifyType="CHARGEBACK"), "notifyType 'CHARGEBACK', unknown; accepted: CAPTURE, RECHARGE"),
    ],
    ids=[
        "no-amount",
        "empty-amount",
        "exponent-number",
        "exponent-text",
        "words",
        "boolean",
        "negative",
        "negative-text",
        "no-currency",
        "unknown-status",
        "auth-success",
        "internal-status",
        "void-closed",
        "unknown-kind",
    ],
)
def test_a_notification_paycode_cannot_trust_is_refused_with_its_reason(
    served: Any, journal: Journal, content: dict[str, Any] | str, why: str
) -> None:
    url, seen, waker = served
    answer = post(url, body_of(content))
    assert (answer.status_code, answer.text) == (400, "FAIL")
    [result] = seen
    assert result.outcome == "rejected" and why in result.error, result.error
    assert why in json.dumps(result.as_json())  # the receiver's JSON line carries the reason
    record = journal.order(ORDER)
    assert record is not None and record.status is PaymentStatus.PROCESSING and record.transaction_id is None
    assert waker.woken == []


def test_plain_amounts_in_any_written_form_are_accepted(served: Any, journal: Journal) -> None:
    url, seen, _ = served
    assert post(url, body_of(biz_of("PROCESSING", amount="10.000000"))).status_code == 200
    assert (
        post(
            url,
            body_of(
                '{"notifyType":"RECHARGE","merchantTransactionId":"order-c1","amount":10.00,'
                '"currency":"CNY","status":"FAILED"}'
            ),
        ).status_code
        == 200
    )
    assert post(url, body_of(biz_of("SUCCESS", amount=10))).status_code == 200
    assert [r.outcome for r in seen] == ["duplicate", "applied", "applied"]


def test_a_capture_is_acknowledged_and_ignored_whatever_it_says(served: Any, journal: Journal) -> None:
    url, seen, _ = served
    answer = post(url, body_of(biz_of("AUTH_SUCCESS", notifyType="CAPTURE", amount=None)))
    assert answer.status_code == 200 and [r.outcome for r in seen] == ["ignored"]


def test_a_refund_notification_must_match_the_refunds_amount(served: Any, journal: Journal) -> None:
    url, seen, waker = served
    journal.set_state(ORDER, PaymentStatus.SUCCESS)
    journal.begin_refund(ORDER, "rf-1", Decimal("4.00"))
    wrong = biz_of("SUCCESS", notifyType="REFUND", merchantRefundId="rf-1", amount="5.000000")
    assert post(url, body_of(wrong)).status_code == 404
    assert "says 5.000000, the refund is 4.00" in seen[-1].error
    right = biz_of("SUCCESS", notifyType="REFUND", merchantRefundId="rf-1", amount="4.000000")
    assert post(url, body_of(right)).status_code == 200
    record = journal.order(ORDER)
    assert record is not None and record.refunded == Decimal("4.00")
    assert waker.woken == []  # a refund is nobody's wait at the counter


@pytest.mark.parametrize("given_up", [PaymentStatus.CLOSED, PaymentStatus.FAILED, PaymentStatus.CANCEL])
def test_a_success_on_an_order_the_lane_gave_up_on_is_abandoned_and_paid(
    served: Any, journal: Journal, given_up: PaymentStatus
) -> None:
    url, seen, waker = served
    journal.set_state(ORDER, given_up, note="deadline passed")
    assert post(url, body_of(biz_of("SUCCESS"))).status_code == 200
    assert [r.outcome for r in seen] == ["applied"]
    record = journal.order(ORDER)
    assert record is not None
    assert (record.status, record.abandoned, record.unresolved) == (PaymentStatus.SUCCESS, True, True)
    assert record.abandon_reason == f"paid after the lane reported {given_up.value} (not paid)"
    assert [r.order_id for r in journal.unresolved()] == [ORDER]  # recovery will refund it
    assert waker.woken == [ORDER]


def test_the_waker_is_told_of_each_applied_payment_state_once(served: Any, journal: Journal) -> None:
    url, seen, waker = served
    for status in ("PROCESSING", "SUCCESS", "SUCCESS", "FAILED"):
        assert post(url, body_of(biz_of(status))).status_code == 200
    assert [r.outcome for r in seen] == ["duplicate", "applied", "duplicate", "duplicate"]
    assert waker.woken == [ORDER]


def test_a_lane_waiting_on_the_order_wakes_at_once(journal: Journal) -> None:
    waker = LocalWaker()
    woke: list[bool] = []
    import threading

    waiting = threading.Thread(target=lambda: woke.append(waker.wait(ORDER, 30.0)))
    waiting.start()
    time.sleep(0.05)
    with NotificationReceiver(journal, credentials=CREDS, signers=SIGNERS, waker=waker) as r:
        assert post(r.url + "/n", body_of(biz_of("SUCCESS"))).status_code == 200
        waiting.join(10)
    assert woke == [True]
    waker.close()


def test_receiver_app_is_an_asgi_app_the_bridge_can_mount(journal: Journal) -> None:
    settings = Settings(acc_id=CREDS.acc_id, client_id=CREDS.client_id, salt=CREDS.salt)
    seen: list[ReceiverResult] = []
    waker = Recorder()
    app = receiver_app(journal, settings, waker=waker, on_result=seen.append)
    from starlette.applications import Starlette
    from starlette.routing import Mount

    outer = Starlette(routes=[Mount("/notifications", app=app)])

    async def talk() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=outer)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return [
                await client.post("/notifications/", content=body_of(biz_of("SUCCESS"))),
                await client.get("/notifications/x"),
                await client.post("/notifications/x", content=b"{" + b" " * (64 * 1024 + 1)),
            ]

    answers = anyio.run(talk)
    assert [(a.status_code, a.text) for a in answers] == [(200, "SUCCESS"), (405, "FAIL"), (413, "FAIL")]
    assert [r.outcome for r in seen] == ["applied", "rejected"]
    assert waker.woken == [ORDER]
    with pytest.raises(ConfigError, match="merchant's credentials"):
        receiver_app(journal, Settings())
