"""The PingPong client over real HTTP on loopback, against a scripted server that signs its answers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from paycode import ConfigError, Money, OrderError, OutcomeUnknown, PaymentStatus, Settings
from paycode.bizcontent import query_biz, refund_biz, refund_query_biz, void_biz, void_query_biz
from paycode.gateway import (
    OPERATIONS,
    PAY,
    QUERY,
    REFUND,
    REFUND_QUERY,
    VOID,
    VOID_QUERY,
    AsyncPingPongClient,
    Credentials,
    PingPongClient,
    PingPongProtocol,
    check_base_url,
)
from paycode.plugins.signers import MD5, SHA256
from paycode.signing import signed, verify_message

SALT = "test-salt-0123456789"
CREDS = Credentials("2023042011040310224447", "2023042011040310224", SALT)

Reply = tuple[int, bytes, float]  # HTTP status, body, delay before answering


def answer(code: str, biz: dict[str, Any] | None = None, *, salt: str = SALT, sign_type: str = "SHA256") -> bytes:
    message = {
        "accId": CREDS.acc_id,
        "clientId": CREDS.client_id,
        "code": code,
        "description": "ok" if code.startswith("00") else "declined",
        "bizContent": json.dumps(biz or {}),
    }
    signer = SHA256 if sign_type == "SHA256" else MD5
    return json.dumps(signed(message, salt, signer)).encode()


def echo(code: str = "000000", **extra: Any) -> Callable[[dict[str, Any]], Reply]:
    """A reply naming what the request asked (order, attempt ids, amount with six decimals, currency) plus ``extra``."""

    def reply(request: dict[str, Any]) -> Reply:
        asked = json.loads(request["bizContent"], parse_float=Decimal)
        keep = ("merchantTransactionId", "requestId", "merchantRefundId", "merchantVoidId", "currency")
        biz: dict[str, Any] = {k: asked[k] for k in keep if k in asked}
        if "amount" in asked:
            biz["amount"] = f"{asked['amount']:.6f}"
        biz.update(extra)
        return 200, answer(code, {k: v for k, v in biz.items() if v is not None}), 0

    return reply


class Scripted(ThreadingHTTPServer):
    """Answers each POST with the next reply of ``script`` (the last one repeats); records bodies."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[Reply | Callable[[dict[str, Any]], Reply]] = []
        self.bodies: list[bytes] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_reply(self, request: dict[str, Any]) -> Reply:
        item = self.script[min(len(self.bodies) - 1, len(self.script) - 1)]
        return item(request) if callable(item) else item


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(body)
        self.server.paths.append(self.path)
        status, content, delay = self.server.next_reply(json.loads(body))
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:
            pass  # the client gave up waiting

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Scripted]:
    srv = Scripted()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def protocol(url: str, **kw: Any) -> PingPongProtocol:
    return PingPongProtocol(
        base_url=url, credentials=CREDS, signer=SHA256, signers={"SHA256": SHA256, "MD5": MD5}, backoff=0.01, **kw
    )


@pytest.fixture
def client(server: Scripted) -> Iterator[PingPongClient]:
    with PingPongClient(protocol(server.url), connect_timeout=1.0, read_timeout=0.4) as c:
        yield c


PAY_BIZ: dict[str, Any] = {
    "captureDelayHours": 0,
    "amount": Decimal("0.02"),
    "currency": "CNY",
    "requestId": "rq-1",
    "merchantTransactionId": "order-1",
    "paymentMethod": {"type": "Wechat-Offline", "scanCodeId": "132800000000001501"},
    "device": {"orderTerminal": "02"},
}


def test_request_carries_the_signed_text_with_exact_amount(server: Scripted, client: PingPongClient) -> None:
    server.script = [echo(status="SUCCESS", transactionId="T1")]
    got = client.send(PAY, PAY_BIZ)
    assert got.status is PaymentStatus.SUCCESS and got.code == "000000"
    assert got.biz["amount"] == Decimal("0.02") and got.biz["transactionId"] == "T1"
    sent = json.loads(server.bodies[0])
    assert server.paths == ["/v4/payment/unifiedPay"]
    assert verify_message(sent, SALT, SHA256) and sent["signType"] == "SHA256" and sent["version"] == "1.0"
    assert isinstance(sent["bizContent"], str) and '"amount":0.02,' in sent["bizContent"]
    assert json.loads(sent["bizContent"], parse_float=Decimal)["amount"] == Decimal("0.02")


def test_answer_signed_with_md5_verifies(server: Scripted, client: PingPongClient) -> None:
    server.script = [(200, answer("001000", {"status": "PROCESSING"}, sign_type="MD5"), 0)]
    assert client.send(QUERY, query_biz(merchant_transaction_id="order-1")).status is PaymentStatus.PROCESSING
    assert json.loads(json.loads(server.bodies[0])["bizContent"]) == {"merchantTransactionId": "order-1"}


def _tampered(request: dict[str, Any]) -> Reply:
    message = json.loads(answer("000000", {"status": "FAILED"}))
    message["bizContent"] = json.dumps({"status": "SUCCESS"})  # changed after signing
    return 200, json.dumps(message).encode(), 0


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (_tampered, "signature does not verify"),
        ((200, answer("000000", {"status": "SUCCESS"}, salt="another-salt"), 0), "signature does not verify"),
        ((200, answer("104000", salt="another-salt"), 0), "check accId, clientId and the salt"),
        ((502, b"<html>bad gateway</html>", 0), "HTTP 502"),
        ((200, answer("000000", {"status": "SUCCESS"})[:-9], 0), "not JSON"),
        ((200, b"", 0), "not JSON"),
        ((200, answer("000000", {"status": "SUCCESS", "merchantTransactionId": "order-2"}), 0), "another order"),
    ],
    ids=["tampered", "wrong-salt", "auth-code-unverified", "5xx", "truncated", "empty", "other-order"],
)
def test_untrustworthy_answers_are_unknown_after_retrying_the_same_body(
    server: Scripted, client: PingPongClient, reply: Any, why: str
) -> None:
    server.script = [reply]
    with pytest.raises(OutcomeUnknown) as info:
        client.send(PAY, PAY_BIZ)
    assert why in str(info.value) and info.value.exit_code == 3
    assert info.value.context["delivered"] is True
    assert len(server.bodies) == 3 and len(set(server.bodies)) == 1  # 1 + 2 retries, byte-identical


def test_a_5xx_then_an_answer_is_the_answer(server: Scripted, client: PingPongClient) -> None:
    server.script = [(500, b"oops", 0), (200, answer("002000", {"status": "PROCESSING"}), 0)]
    assert client.send(PAY, PAY_BIZ).status is PaymentStatus.PROCESSING
    assert len(server.bodies) == 2 and server.bodies[0] == server.bodies[1]


def test_a_timeout_is_retried_with_the_same_request_id(server: Scripted, client: PingPongClient) -> None:
    slow = echo(status="SUCCESS")
    server.script = [lambda request: (*slow(request)[:2], 1.0), echo(status="SUCCESS")]
    assert client.send(PAY, PAY_BIZ).status is PaymentStatus.SUCCESS
    first, second = (json.loads(json.loads(b)["bizContent"]) for b in server.bodies[:2])
    assert first["requestId"] == second["requestId"] == "rq-1"


def test_connection_refused_means_never_delivered() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    with PingPongClient(protocol(f"http://127.0.0.1:{port}"), connect_timeout=0.5, read_timeout=0.5) as c:
        with pytest.raises(OutcomeUnknown) as info:
            c.send(QUERY, {"merchantTransactionId": "order-1"})
    assert info.value.context["delivered"] is False and "ConnectError" in str(info.value)


def test_every_operation_uses_its_path(server: Scripted, client: PingPongClient) -> None:
    server.script = [echo("001000", status="SUCCESS")]
    money = Money("1.50", "CNY")
    client.send(REFUND, refund_biz(merchant_transaction_id="o", merchant_refund_id="r", amount=money))
    client.send(REFUND_QUERY, refund_query_biz(merchant_transaction_id="o", merchant_refund_id="r"))
    client.send(
        VOID,
        void_biz(
            merchant_transaction_id="o", merchant_void_id="v", amount=money, notification_url="https://n.example/n"
        ),
    )
    client.send(VOID_QUERY, void_query_biz(merchant_transaction_id="o", merchant_void_id="v"))
    assert server.paths == ["/v4/payment/refund", "/v4/refund/query", "/v4/payment/void", "/v4/void/query"]
    refund = json.loads(server.bodies[0])["bizContent"]
    assert refund == '{"merchantTransactionId":"o","merchantRefundId":"r","amount":1.50,"currency":"CNY"}'


def test_async_client_shares_the_core(server: Scripted) -> None:
    server.script = [(500, b"", 0), echo(status="SUCCESS")]

    async def main() -> tuple[PaymentStatus | None, int]:
        async with AsyncPingPongClient(protocol(server.url), connect_timeout=1.0, read_timeout=0.5) as c:
            got = await c.send(PAY, PAY_BIZ)
            server.script = [_tampered]
            with pytest.raises(OutcomeUnknown):
                await c.send(QUERY, {"merchantTransactionId": "order-1"})
            return got.status, len(server.bodies)

    status, sent = asyncio.run(main())
    assert status is PaymentStatus.SUCCESS and sent == 5


@pytest.mark.parametrize(
    "url", ["https://acquirer-payment.pingpongx.com", "http://127.0.0.1:8080/", "http://[::1]:80", "http://localhost"]
)
def test_base_urls_accepted(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://192.0.2.10", "not loopback"),
        ("http://pingpongx.com", "not loopback"),
        ("ftp://127.0.0.1", "https://"),
        ("https://", "https://"),
        ("https://h.example?x=1", "query"),
        ("https://h.example:99999", "port"),
        ("http://[::1", r"is not a URL \(Invalid IPv6 URL\)"),
        ("https://[zz]", "is not a URL .*an IPv6 host as https://"),
    ],
)
def test_base_urls_refused(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        check_base_url(url)


def _host(**settings: Any) -> Any:
    from paycode.host import PluginHost

    return PluginHost(Settings(**settings), load_entrypoints=False)


def test_pingpong_plugin_names_missing_credentials() -> None:
    host = _host(gateway="sg", acc_id="A1")
    with pytest.raises(ConfigError) as info:
        host.gateway()
    message = str(info.value)
    assert "PAYCODE_CLIENT_ID" in message and "PAYCODE_SALT" in message and "PAYCODE_ACC_ID" not in message


@pytest.mark.parametrize(("gateway", "why"), [("mars", "not a site or URL"), ("http://192.0.2.1", "not loopback")])
def test_pingpong_plugin_refuses_bad_gateways(gateway: str, why: str) -> None:
    host = _host(gateway=gateway, acc_id="A", client_id="C", salt="S")
    with pytest.raises(ConfigError, match=why):
        host.gateway()


def test_pingpong_plugin_builds_sync_and_async_clients(server: Scripted) -> None:
    host = _host(gateway=server.url, acc_id=CREDS.acc_id, client_id=CREDS.client_id, salt=SALT, read_timeout=2.0)
    server.script = [(200, answer("001000", {"status": "CLOSED"}), 0)]
    with host.gateway() as c:
        assert c.base_url == server.url
        assert c.send(QUERY, {"merchantTransactionId": "o"}).status is PaymentStatus.CLOSED

    async def main() -> PaymentStatus | None:
        async with host.async_gateway() as ac:
            return (await ac.send(QUERY, {"transactionId": "T1"})).status

    assert asyncio.run(main()) is PaymentStatus.CLOSED


@pytest.mark.parametrize(
    ("operation", "biz", "missing"),
    [
        (PAY, {**PAY_BIZ, "requestId": ""}, "requestId"),
        (PAY, {k: v for k, v in PAY_BIZ.items() if k != "device"}, "device"),
        (QUERY, {"requestId": "rq-1"}, "merchantTransactionId or transactionId"),
        (REFUND, {"merchantTransactionId": "o", "merchantRefundId": "r"}, "amount, currency"),
        (REFUND_QUERY, {"merchantTransactionId": "o"}, "merchantRefundId or refundId"),
        (
            VOID,
            {"merchantTransactionId": "o", "amount": Decimal(1), "currency": "CNY"},
            "merchantVoidId, notificationUrl",
        ),
        (VOID_QUERY, {"merchantTransactionId": "o"}, "merchantVoidId"),
    ],
)
def test_an_operation_missing_a_field_is_refused_before_sending(
    server: Scripted, client: PingPongClient, operation: Any, biz: dict[str, Any], missing: str
) -> None:
    with pytest.raises(OrderError) as info:
        client.send(operation, biz)
    assert f"{operation.name} ({operation.path}) needs bizContent field(s) {missing}" == str(info.value)
    assert server.bodies == []  # nothing left this machine


def test_operations_are_data_with_the_documented_paths() -> None:
    assert {op.name: op.path for op in OPERATIONS.values()} == {
        "unified_pay": "/v4/payment/unifiedPay",
        "query": "/v4/payment/query",
        "refund": "/v4/payment/refund",
        "refund_query": "/v4/refund/query",
        "void": "/v4/payment/void",
        "void_query": "/v4/void/query",
    }
    assert [op.name for op in OPERATIONS.values() if op.money] == ["unified_pay", "refund", "void"]


def test_the_clients_have_one_operation() -> None:
    for cls in (PingPongClient, AsyncPingPongClient):
        public = {n for n in vars(cls) if not n.startswith("_")}
        assert public == {"send", "close", "base_url"}, cls
