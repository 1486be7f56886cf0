"""The sandbox's signed notifications, delivered over real HTTP to a receiver the test runs on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from paycode.models import CodePattern, PollingPolicy, WalletType
from paycode.plugins.signers import SHA256
from paycode.sandbox import NOTIFY_SCHEDULE, FaultSwitch, SandboxServer
from paycode.sandbox.caller import V4Caller
from paycode.signing import verify_message

WECHAT = WalletType("Wechat-Offline", [CodePattern([18], ["13"])], {"CNY"}, PollingPolicy(5, 30))
PAY, QUERY, REFUND = "/v4/payment/unifiedPay", "/v4/payment/query", "/v4/payment/refund"


def scan(ending: str) -> str:
    return WECHAT.patterns[0].make(ending)


class Receiver:
    """A store server's notification endpoint: answers from a script, then 200 OK; records every POST."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes]] = []
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((self.path, json.loads(body)))
                    status, text = receiver.script.pop(0) if receiver.script else (200, b"SUCCESS")
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02})

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(envelope["bizContent"]) for _, envelope in self.received]

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()
    r.thread.join(5)


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(wallets=[WECHAT], notify_schedule=(0.05, 0.05, 0.05), notify_timeout=2.0) as server:
        yield server


@pytest.fixture
def caller(srv: SandboxServer) -> Iterator[V4Caller]:
    with V4Caller(srv.base_url, srv.credentials) as c:
        yield c


def pay(caller: V4Caller, code: str, url: str, order: str = "order-1", **extra: Any) -> dict[str, Any]:
    biz = {
        "captureDelayHours": 0,
        "amount": Decimal("30.00"),
        "currency": "CNY",
        "requestId": f"req-{order}",
        "merchantTransactionId": order,
        "paymentMethod": {"type": "Wechat-Offline", "scanCodeId": code},
        "notificationUrl": url,
        **extra,
    }
    return dict(caller.call(PAY, biz).biz)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_success_is_notified_signed(srv: SandboxServer, caller: V4Caller, receiver: Receiver) -> None:
    pay(caller, scan("001"), receiver.url + "/notify")
    assert wait_until(lambda: receiver.count() == 1)
    path, envelope = receiver.received[0]
    assert path == "/notify"
    assert verify_message(envelope, srv.credentials.salt, SHA256)
    assert envelope["accId"] == srv.credentials.acc_id and envelope["version"] == "1.0"
    biz = json.loads(envelope["bizContent"])
    assert biz["notifyType"] == "RECHARGE" and biz["status"] == "SUCCESS"
    assert biz["merchantTransactionId"] == "order-1" and biz["requestId"] == "req-order-1"
    assert biz["amount"] == "30.000000" and biz["currency"] == "CNY"
    assert biz["paymentMethod"] == {"type": "Wechat-Offline"}
    assert wait_until(lambda: srv.notifications()[0].delivered)
    assert srv.notifications()[0].outcomes == ("200",)


def test_a_decline_is_notified(caller: V4Caller, receiver: Receiver) -> None:
    pay(caller, scan("002"), receiver.url + "/notify")
    assert wait_until(lambda: receiver.count() == 1)
    assert receiver.bodies()[0]["status"] == "FAILED"


def test_processing_is_not_notified_until_it_succeeds(caller: V4Caller, receiver: Receiver) -> None:
    pay(caller, scan("003"), receiver.url + "/notify")
    for _ in range(2):
        caller.call(QUERY, {"merchantTransactionId": "order-1"})
    assert receiver.count() == 0
    caller.call(QUERY, {"merchantTransactionId": "order-1"})
    assert wait_until(lambda: receiver.count() == 1)
    assert receiver.bodies()[0]["status"] == "SUCCESS"


def test_failures_are_retried_on_the_schedule(srv: SandboxServer, caller: V4Caller, receiver: Receiver) -> None:
    receiver.script = [(500, b"oops"), (200, b"FAIL"), (200, b"ok")]
    pay(caller, scan("001"), receiver.url + "/notify")
    assert wait_until(lambda: receiver.count() == 3)
    assert wait_until(lambda: srv.notifications()[0].delivered)
    delivery = srv.notifications()[0]
    assert delivery.outcomes == ("500", "FAIL", "200") and not delivery.gave_up
    assert len({json.dumps(envelope) for _, envelope in receiver.received}) == 1  # the same signed body each time


def test_delivery_gives_up_after_the_schedule(srv: SandboxServer, caller: V4Caller, receiver: Receiver) -> None:
    receiver.script = [(503, b"")] * 10
    pay(caller, scan("001"), receiver.url + "/notify")
    assert wait_until(lambda: srv.notifications()[0].gave_up)
    assert srv.notifications()[0].outcomes == ("503",) * 4  # the first try and three retries
    assert receiver.count() == 4


def test_an_unreachable_receiver_is_retried(srv: SandboxServer, caller: V4Caller, receiver: Receiver) -> None:
    receiver.httpd.shutdown()
    receiver.httpd.server_close()  # nothing listens there any more
    pay(caller, scan("001"), receiver.url + "/notify")
    assert wait_until(lambda: srv.notifications()[0].gave_up)
    assert srv.notifications()[0].outcomes == ("ConnectError",) * 4


def test_refunds_are_notified(caller: V4Caller, receiver: Receiver) -> None:
    pay(caller, scan("001"), receiver.url + "/notify")
    caller.call(
        REFUND,
        {
            "merchantTransactionId": "order-1",
            "merchantRefundId": "rf-1",
            "amount": Decimal("10"),
            "currency": "CNY",
            "notificationUrl": receiver.url + "/refunds",
        },
    )
    assert wait_until(lambda: receiver.count() == 2)
    refund = next(envelope for path, envelope in receiver.received if path == "/refunds")
    biz = json.loads(refund["bizContent"])
    assert biz["notifyType"] == "REFUND" and biz["merchantRefundId"] == "rf-1" and biz["refundId"]
    assert biz["amount"] == "10.000000" and biz["refundTime"]


def test_closed_is_notified_only_with_a_close_notification_url(caller: V4Caller, receiver: Receiver) -> None:
    past = int(time.time()) - 1  # closed at its timeExpire, at the next look (the housekeeping pass)
    pay(caller, scan("004"), receiver.url + "/notify", closeNotificationUrl=receiver.url + "/closed", timeExpire=past)
    pay(caller, scan("004"), receiver.url + "/notify", order="order-2", timeExpire=past)
    for order in ("order-1", "order-2"):
        closed_answer = caller.call(QUERY, {"merchantTransactionId": order})
        assert closed_answer.biz["status"] == "CLOSED"
    assert wait_until(lambda: receiver.count() == 1)
    time.sleep(0.3)  # a CLOSED notification for order-2 (no closeNotificationUrl) would have come by now
    assert [(path, json.loads(e["bizContent"])["notifyType"]) for path, e in receiver.received] == [
        ("/closed", "RECHARGE")
    ]
    closed = json.loads(receiver.received[0][1]["bizContent"])
    assert closed["status"] == "CLOSED" and closed["merchantTransactionId"] == "order-1"
    assert verify_message(receiver.received[0][1], caller.credentials.salt, SHA256)


def test_duplicate_notifications(srv: SandboxServer, caller: V4Caller, receiver: Receiver) -> None:
    srv.faults.duplicate_notifications = FaultSwitch(times=1)
    pay(caller, scan("001"), receiver.url + "/notify")
    assert wait_until(lambda: receiver.count() == 2)
    assert receiver.received[0] == receiver.received[1]
    pay(caller, scan("011"), receiver.url + "/notify", order="order-2")
    assert wait_until(lambda: receiver.count() == 3)
    # the receiver answers before the notifier records the outcome: wait for the record, not the delivery
    expected = [("200", "200"), ("200",)]
    assert wait_until(lambda: [d.outcomes for d in srv.notifications()] == expected)


def test_out_of_order_notifications(srv: SandboxServer, caller: V4Caller, receiver: Receiver) -> None:
    srv.faults.out_of_order_notifications = FaultSwitch(path="/notify", times=1, seconds=0.5)
    pay(caller, scan("001"), receiver.url + "/notify")
    caller.call(
        REFUND,
        {
            "merchantTransactionId": "order-1",
            "merchantRefundId": "rf-1",
            "amount": Decimal("1"),
            "currency": "CNY",
            "notificationUrl": receiver.url + "/refunds",
        },
    )
    assert wait_until(lambda: receiver.count() == 2)
    assert [b["notifyType"] for b in receiver.bodies()] == ["REFUND", "RECHARGE"]


def test_no_notification_url_no_notification(srv: SandboxServer, caller: V4Caller) -> None:
    caller.call(
        PAY,
        {
            "captureDelayHours": 0,
            "amount": Decimal("1.00"),
            "currency": "CNY",
            "requestId": "r",
            "merchantTransactionId": "o",
            "paymentMethod": {"type": "Wechat-Offline", "scanCodeId": scan("001")},
        },
    )
    assert srv.notifications() == []


def test_stop_drops_pending_notifications_and_ends_the_notifier(receiver: Receiver) -> None:
    receiver.script = [(500, b"")]
    with SandboxServer(wallets=[WECHAT], notify_schedule=(3600,)) as server:
        with V4Caller(server.base_url, server.credentials) as c:
            pay(c, scan("001"), receiver.url + "/notify")
        assert wait_until(lambda: server.notifications()[0].outcomes == ("500",))
    assert not any(t.name == "paycode-sandbox-notifier" for t in threading.enumerate())
    assert receiver.count() == 1


def test_the_default_schedule_is_pingpongs() -> None:
    minutes = [d / 60 for d in NOTIFY_SCHEDULE]
    assert minutes == [5 / 60, 5 / 60, 3, 10, 20, 30, 30, 30, 60, 180, 180, 180]
