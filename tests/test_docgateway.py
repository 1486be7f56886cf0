"""The gateway written from the V4 documentation (paycode.testing.docgateway), over real HTTP on loopback."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from paycode import PaymentStatus, Settings, Terminal
from paycode.errors import UsageError
from paycode.host import PluginHost
from paycode.plugins.signers import SHA256
from paycode.sandbox import Credentials
from paycode.sandbox.caller import V4Answer, V4Caller
from paycode.signing import verify_message
from paycode.terminal import outcome
from paycode.testing.docgateway import PAY, QUERY, REFUND, REFUND_QUERY, VOID, VOID_QUERY, DocGateway

SCAN = "134567890123456789"  # a WeChat-shaped code: its digits mean nothing to this gateway


class Receiver:
    """A notification endpoint on loopback that records every POST and answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"SUCCESS")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02})

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(e["bizContent"]) for p, e in self.received if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()
    r.thread.join(5)


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway(Credentials.generate(), notify_schedule=(0.05,)) as gateway:
        yield gateway


@pytest.fixture
def caller(gw: DocGateway) -> Iterator[V4Caller]:
    creds = gw.credentials
    with V4Caller(gw.url, Credentials(creds.acc_id, creds.client_id, creds.salt)) as c:
        yield c


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def pay_biz(order: str = "order-1", request: str = "req-1", **extra: Any) -> dict[str, Any]:
    return {
        "captureDelayHours": 0,
        "amount": Decimal("12.50"),
        "currency": "CNY",
        "requestId": request,
        "merchantTransactionId": order,
        "paymentMethod": {"type": "Wechat-Offline", "scanCodeId": SCAN},
        **extra,
    }


def answered(answer: V4Answer, code: str, status: str | None = None) -> V4Answer:
    assert answer.verified, answer.envelope
    assert answer.code == code, (answer.code, answer.description)
    if status is not None:
        assert answer.biz["status"] == status
    return answer


# ---------------------------------------------------------------------------- documented behaviour


def test_pay_query_refund_as_documented(gw: DocGateway, caller: V4Caller) -> None:
    paid = answered(caller.call(PAY, pay_biz()), "000000", "SUCCESS")
    assert paid.biz["amount"] == "12.500000" and paid.biz["currency"] == "CNY" and paid.biz["requestId"] == "req-1"
    assert answered(caller.call(PAY, pay_biz()), "000000").biz == paid.biz  # same requestId: the stored answer
    answered(caller.call(PAY, pay_biz(amount=Decimal("1.00"))), "107000")  # same requestId, another payment
    answered(caller.call(PAY, pay_biz(request="req-2")), "107000")  # already paid
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "SUCCESS")
    answered(caller.call(QUERY, {"transactionId": paid.biz["transactionId"]}), "001000", "SUCCESS")
    answered(caller.call(QUERY, {"merchantTransactionId": "nope"}), "107001")
    refund = {"merchantTransactionId": "order-1", "merchantRefundId": "rf-1", "amount": Decimal("5"), "currency": "CNY"}
    answered(caller.call(REFUND, refund), "000000", "SUCCESS")
    answered(caller.call(REFUND, refund), "000000", "SUCCESS")  # idempotent by merchantRefundId
    answered(caller.call(REFUND, {**refund, "merchantRefundId": "rf-2", "currency": "USD"}), "102000")
    answered(caller.call(REFUND, {**refund, "merchantRefundId": "rf-3", "amount": Decimal("7.51")}), "102000")
    answered(caller.call(REFUND, {**refund, "merchantRefundId": "rf-4", "remark": "x" * 33}), "102000")
    found = answered(
        caller.call(REFUND_QUERY, {"merchantTransactionId": "order-1", "merchantRefundId": "rf-1"}), "001000"
    )
    assert found.biz["amount"] == "5.000000"
    order = gw.order("order-1")
    assert order is not None and (order.status, order.charged, order.refunded) == ("SUCCESS", 1, Decimal(5))


def test_envelope_merchant_and_signature_checks(gw: DocGateway, caller: V4Caller) -> None:
    envelope = caller.envelope(pay_biz())
    answered(caller.parse(caller.post(PAY, {**envelope, "sign": "0" * 64})), "104000")
    unknown = caller.parse(caller.post(PAY, {**envelope, "accId": "1"}))
    assert unknown.code == "103000" and not unknown.verified
    assert caller.parse(caller.post(PAY, b"not json")).code == "102000"
    answered(caller.call(PAY, {**pay_biz(), "currency": "USD"}), "102000")  # WeChat: CNY or HKD only
    answered(caller.call(PAY, {**pay_biz(), "captureDelayHours": 1}), "102000")
    assert gw.order("order-1") is None


def test_bizcontent_as_an_object(gw: DocGateway, caller: V4Caller) -> None:
    text = (
        '{"captureDelayHours":0,"amount":12.50,"currency":"CNY","requestId":"req-1","merchantTransactionId":"order-1",'
        f'"paymentMethod":{{"type":"Wechat-Offline","scanCodeId":"{SCAN}"}}}}'
    )
    envelope = caller.envelope(text)
    rest = json.dumps({k: v for k, v in envelope.items() if k != "bizContent"})
    body = (rest[:-1] + ', "bizContent": ' + text.replace(",", ", ") + "}").encode()
    answered(caller.parse(caller.post(PAY, body)), "000000", "SUCCESS")


def test_unpaid_order_closes_at_time_expire_and_notifies_the_close(
    gw: DocGateway, caller: V4Caller, receiver: Receiver
) -> None:
    gw.script(outcome="PROCESSING", times=2)
    expire = int(time.time()) + 1
    urls = {"notificationUrl": receiver.url + "/notify", "closeNotificationUrl": receiver.url + "/closed"}
    answered(caller.call(PAY, pay_biz(timeExpire=expire, **urls)), "002000", "PROCESSING")
    answered(caller.call(PAY, pay_biz("order-2", "req-2", timeExpire=expire)), "002000", "PROCESSING")
    refused = answered(caller.call(VOID, void_biz(receiver.url)), "105000")  # void: AUTH_SUCCESS only
    assert "AUTH_SUCCESS" in refused.description
    assert wait_until(lambda: bool(receiver.bodies("/closed")))
    assert time.time() >= expire
    (closed,) = receiver.bodies("/closed")
    assert (closed["notifyType"], closed["status"], closed["merchantTransactionId"]) == (
        "RECHARGE",
        "CLOSED",
        "order-1",
    )
    assert verify_message(receiver.received[0][1], gw.credentials.salt, SHA256)
    for order in ("order-1", "order-2"):
        answered(caller.call(QUERY, {"merchantTransactionId": order}), "001000", "CLOSED")
    answered(caller.call(PAY, pay_biz(request="req-3")), "105000")  # a closed order is never paid
    time.sleep(0.2)
    assert receiver.bodies("/notify") == []  # CLOSED goes to closeNotificationUrl only


def test_a_success_before_time_expire_wins(gw: DocGateway, caller: V4Caller, receiver: Receiver) -> None:
    expire = int(time.time()) + 3
    gw.script(paid_after=0.3, times=1)
    answered(caller.call(PAY, pay_biz(timeExpire=expire, notificationUrl=receiver.url + "/n")), "002000")
    gw.script(paid_after=30, times=1)
    answered(caller.call(PAY, pay_biz("order-2", "req-2", timeExpire=int(time.time()))), "002000")
    assert wait_until(lambda: bool(receiver.bodies("/n")))
    assert receiver.bodies("/n")[0]["status"] == "SUCCESS"
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "SUCCESS")
    answered(caller.call(QUERY, {"merchantTransactionId": "order-2"}), "001000", "CLOSED")
    assert [o.charged for o in gw.orders()] == [1, 0]


def void_biz(url: str, order: str = "order-1") -> dict[str, Any]:
    return {
        "merchantTransactionId": order,
        "merchantVoidId": f"v-{order}",
        "amount": Decimal("12.50"),
        "currency": "CNY",
        "notificationUrl": url + "/voids",
    }


def test_void_only_of_an_auth_success_order(gw: DocGateway, caller: V4Caller, receiver: Receiver) -> None:
    answered(caller.call(PAY, pay_biz()), "000000")
    answered(caller.call(VOID, void_biz(receiver.url)), "105000")
    gw.script(outcome="AUTH_SUCCESS", times=1)
    answered(caller.call(PAY, pay_biz("order-2", "req-2")), "000000", "AUTH_SUCCESS")
    no_url = {k: v for k, v in void_biz(receiver.url, "order-2").items() if k != "notificationUrl"}
    answered(caller.call(VOID, no_url), "102000")
    answered(caller.call(VOID, void_biz(receiver.url, "order-2")), "000000", "SUCCESS")
    answered(caller.call(QUERY, {"merchantTransactionId": "order-2"}), "001000", "CANCEL")
    answered(caller.call(VOID_QUERY, {"merchantTransactionId": "order-2", "merchantVoidId": "v-order-2"}), "001000")
    assert wait_until(lambda: bool(receiver.bodies("/voids")))


# ---------------------------------------------------------------------------- switches for the money tests


@pytest.mark.parametrize(
    "switch, field, value",
    [
        ({"amount": "1.000000"}, "amount", "1.000000"),
        ({"currency": "HKD"}, "currency", "HKD"),
        ({"amount": None}, "amount", None),
        ({"request_id": "req-other"}, "requestId", "req-other"),
        ({"merchant_transaction_id": "order-other"}, "merchantTransactionId", "order-other"),
    ],
)
def test_a_signed_success_that_differs(
    gw: DocGateway, caller: V4Caller, switch: dict[str, Any], field: str, value: Any
) -> None:
    gw.script(path=PAY, times=1, **switch)
    lie = answered(caller.call(PAY, pay_biz()), "000000", "SUCCESS")
    assert lie.biz.get(field) == value
    truth = answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "SUCCESS")
    assert (truth.biz["amount"], truth.biz["currency"], truth.biz["requestId"]) == ("12.500000", "CNY", "req-1")
    order = gw.order("order-1")
    assert order is not None and order.amount == Decimal("12.50")  # what was recorded is what was asked


def test_a_decline_code_beside_status_success(gw: DocGateway, caller: V4Caller) -> None:
    gw.script(path=QUERY, code="301002")
    answered(caller.call(PAY, pay_biz()), "000000", "SUCCESS")
    mixed = answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "301002", "SUCCESS")
    assert mixed.biz["resultCode"] == "301002"


@pytest.mark.parametrize(
    "switch, code, status, exists",
    [
        ({"outcome": "REJECTED", "code": "101001"}, "101001", None, False),
        ({"outcome": "REJECTED", "code": "106000"}, "106000", None, False),
        ({"outcome": "FAILED", "code": "201001"}, "201001", "FAILED", True),
        ({"outcome": "FAILED", "code": "301099"}, "301099", "FAILED", True),
        ({"outcome": "SUCCESS", "code": "500000", "status": None}, "500000", None, True),
        ({"outcome": "PROCESSING", "code": "600002", "status": None}, "600002", None, True),
    ],
)
def test_any_result_code(
    gw: DocGateway, caller: V4Caller, switch: dict[str, Any], code: str, status: str | None, exists: bool
) -> None:
    gw.script(times=1, **switch)
    answer = answered(caller.call(PAY, pay_biz()), code)
    assert answer.biz.get("status") == status
    assert (gw.order("order-1") is not None) == exists


def test_stalls(gw: DocGateway, caller: V4Caller) -> None:
    gw.script(stall=0.4, times=1)
    started = time.monotonic()
    answered(caller.call(PAY, pay_biz()), "000000")
    assert time.monotonic() - started >= 0.4
    gw.script(stall=math.inf)
    with V4Caller(gw.url, caller.credentials, timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.call(QUERY, {"merchantTransactionId": "order-1"})
    assert [p for p, _ in gw.requests()] == [PAY, QUERY]  # read, never answered
    gw.clear()
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "SUCCESS")


def test_stop_ends_a_call_stalled_forever() -> None:
    with DocGateway() as gw:
        gw.script(stall=math.inf)
        failures: list[BaseException] = []

        def call() -> None:
            try:
                httpx.post(gw.url + QUERY, content=b"{}", headers={"Content-Type": "application/json"}, timeout=10)
            except httpx.HTTPError as exc:
                failures.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        assert wait_until(lambda: bool(gw.requests()))  # the call was read, and is held
    thread.join(5)
    assert not thread.is_alive() and failures  # the connection ended without an answer


def test_bad_switches_are_refused(gw: DocGateway) -> None:
    for kwargs, message in [
        ({"path": "/v4/payment/capture"}, "not a V4 path"),
        ({"outcome": "PAID"}, "accepted: SUCCESS"),
        ({"times": 0}, "give 1 or more"),
        ({"code": "12"}, "six-digit"),
        ({"stall": -1}, "seconds"),
    ]:
        with pytest.raises(UsageError, match=message):
            gw.script(**kwargs)


# ---------------------------------------------------------------------------- paycode against it


def test_a_terminal_pays_through_the_documented_gateway(gw: DocGateway, tmp_path: Path) -> None:
    settings = Settings(
        gateway=gw.url,
        acc_id=gw.credentials.acc_id,
        client_id=gw.credentials.client_id,
        salt=gw.credentials.salt,
        journal=str(tmp_path / "journal.sqlite3"),
        poll_interval=0.05,
        deadline=2.0,
        read_timeout=2.0,
        connect_timeout=1.0,
    )
    with Terminal(settings, host=PluginHost(settings)) as terminal:
        paid = terminal.pay("12.50", "CNY", code=SCAN)
        assert outcome(paid) == "paid" and paid.status is PaymentStatus.SUCCESS
        gw.script(outcome="FAILED", times=1)
        declined = terminal.pay("3.00", "CNY", code=SCAN)
        assert outcome(declined) == "not_paid"
    ((path, biz),) = gw.requests(PAY)[:1]
    assert path == PAY and biz["amount"] == Decimal("12.50") and biz["paymentMethod"]["type"] == "Wechat-Offline"
    order = gw.order(paid.merchant_transaction_id)
    assert order is not None and order.charged == 1 and order.amount == Decimal("12.50")
    assert not gw.requests(VOID)


def test_any_signed_notification(gw: DocGateway, receiver: Receiver) -> None:
    gw.notify(
        receiver.url + "/n", '{"notifyType":"RECHARGE","merchantTransactionId":"o-1","status":"PAID","amount":1e1}'
    )
    gw.notify(receiver.url + "/n", {"notifyType": "RECHARGE", "merchantTransactionId": "o-2", "amount": Decimal("5.0")})
    assert wait_until(lambda: len(receiver.bodies("/n")) == 2)
    with receiver.lock:
        envelopes = sorted((e for _, e in receiver.received), key=lambda e: str(e["bizContent"]))
    assert all(verify_message(e, gw.credentials.salt, SHA256) for e in envelopes)
    assert '"amount":1e1' in envelopes[0]["bizContent"] and '"amount":5.0' in envelopes[1]["bizContent"]
    assert wait_until(lambda: all(n.outcomes == ("200",) for n in gw.notifications()))
    assert gw.notifications()[0].biz["status"] == "PAID"
    with pytest.raises(UsageError, match="signType"):
        gw.notify(receiver.url, {}, sign_type="RSA")
