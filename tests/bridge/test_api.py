"""The bridge's API over real HTTP on loopback: every endpoint, errors, idempotency, cancel, refunds, lanes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from paycode.journal import Journal

from tests.bridge.helpers import TOKEN, Running, wechat

Serve = Callable[..., Running]


def error_of(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The error object of an answer that must have ``status`` and the documented error shape."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    assert "Traceback" not in answer.text
    error: dict[str, Any] = body["error"]
    return error


# ---------------------------------------------------------------------------- service endpoints


def test_health_openapi_and_metrics_need_no_token(serve: Serve) -> None:
    run = serve()
    plain = httpx.Client(base_url=run.url)
    assert plain.get("/healthz").json() == {"status": "ok", "lanes": 1, "draining": False}
    doc = plain.get("/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    for path in (
        "/v1/payments",
        "/v1/payments/{reference}",
        "/v1/payments/{reference}/cancel",
        "/v1/payments/{reference}/refunds",
        "/v1/lanes",
        "/v1/events",
        "/v1/tickets",
    ):
        assert path in doc["paths"], path
    assert doc["components"]["schemas"]["PaymentCreate"]["required"] == ["amount", "currency"]
    metrics = plain.get("/metrics")
    assert metrics.status_code == 200 and "paycode_bridge_lane_busy" in metrics.text
    assert plain.get("/v1/client.js").headers["content-type"].startswith("text/javascript")
    assert plain.get("/v1/messages").json()["zh-Hant"]["refund"] == "退款"
    assert plain.get("/").headers["content-type"].startswith("text/html")
    plain.close()


def test_unknown_path_and_method_answer_the_error_shape(serve: Serve) -> None:
    run = serve()
    assert error_of(run.http.get("/v1/nothing"), 404)["code"] == "not_found"
    assert error_of(run.http.delete("/v1/payments"), 405)["code"] == "method_not_allowed"


# ---------------------------------------------------------------------------- token, Host, Origin, size


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_every_v1_call_needs_the_token(serve: Serve, headers: dict[str, str]) -> None:
    run = serve()
    with httpx.Client(base_url=run.url, headers=headers) as plain:
        for method, path in (
            ("GET", "/v1/lanes"),
            ("GET", "/v1/payments"),
            ("POST", "/v1/payments"),
            ("GET", "/v1/payments/x1"),
            ("POST", "/v1/payments/x1/cancel"),
            ("POST", "/v1/payments/x1/refunds"),
            ("POST", "/v1/tickets"),
        ):
            answer = plain.request(method, path, json={"amount": "1.00", "currency": "CNY"})
            assert error_of(answer, 401)["code"] == "unauthorized", (method, path)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in answer.text


def test_a_foreign_host_is_refused_dns_rebinding(serve: Serve) -> None:
    run = serve(hosts=("pos.local",))
    for host in ("evil.example", "127.0.0.1.evil.example", "localhost.evil"):
        error = error_of(run.http.get("/v1/lanes", headers={"Host": host}), 403)
        assert error["code"] == "host_not_allowed"
    for host in ("localhost", f"127.0.0.1:{run.server.port}", "pos.local:8350", "[::1]:1"):
        assert run.http.get("/v1/lanes", headers={"Host": host}).status_code == 200, host


def test_origins_cors_and_private_network_access(serve: Serve) -> None:
    run = serve(origins=("http://pos.example:3000",))
    own = f"http://127.0.0.1:{run.server.port}"
    assert error_of(run.http.get("/v1/lanes", headers={"Origin": "http://evil.example"}), 403)["code"] == (
        "origin_not_allowed"
    )
    for origin in (own, "http://pos.example:3000"):
        answer = run.http.get("/v1/lanes", headers={"Origin": origin})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin
    preflight = {
        "Origin": "http://pos.example:3000",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        "Access-Control-Request-Private-Network": "true",
    }
    answer = httpx.options(f"{run.url}/v1/payments", headers=preflight)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "http://pos.example:3000"
    assert answer.headers["access-control-allow-private-network"] == "true"
    assert "Idempotency-Key" in answer.headers["access-control-allow-headers"]
    answer = httpx.options(f"{run.url}/v1/payments", headers={**preflight, "Origin": "http://evil.example"})
    assert error_of(answer, 403)["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in answer.headers


def test_bodies_are_size_limited(serve: Serve) -> None:
    run = serve()
    big = '{"amount": "1.00", "currency": "CNY", "reference": "' + "x" * 20000 + '"}'
    answer = run.http.post("/v1/payments", content=big, headers={"Content-Type": "application/json"})
    assert error_of(answer, 413)["code"] == "body_too_large"

    def chunks() -> Any:  # no Content-Length: the limit is counted while reading
        for _ in range(40):
            yield b" " * 1000

    answer = run.http.post("/v1/payments", content=chunks(), headers={"Content-Type": "application/json"})
    assert error_of(answer, 413)["code"] == "body_too_large"


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ({"currency": "CNY"}, 422, "amount", "required"),
        ({"amount": 12.5, "currency": "CNY"}, 422, "amount", "decimal text"),
        ({"amount": 12, "currency": "CNY"}, 422, "amount", "string"),
        ({"amount": "12.505", "currency": "CNY"}, 422, "amount", "decimals"),
        ({"amount": "0", "currency": "CNY"}, 422, "amount", "greater than zero"),
        ({"amount": "-1", "currency": "CNY"}, 422, "amount", "decimal text"),
        ({"amount": "1.00", "currency": "XXQ"}, 422, "currency", "ISO 4217"),
        ({"amount": "1", "currency": "JPY"}, 422, "currency", "no installed wallet accepts JPY"),
        ({"amount": "1.00", "currency": "CNY", "tip": "1"}, 422, "tip", "unknown field"),
        ({"amount": "1.00", "currency": "CNY", "reference": "a b"}, 422, "reference", "A-Z"),
        ({"amount": "1.00", "currency": "CNY", "lane": "nope"}, 422, "lane", "lane-1"),
        ({"amount": "1.00", "currency": "CNY", "code": "990000000000000001"}, 422, "code", "prefix"),
        ({"amount": "1.00", "currency": "CNY", "code": "13abc"}, 422, "code", "digits"),
        ({"amount": "1.00", "currency": "CNY"}, 422, "code", "no scanner"),
    ],
)
def test_bad_payment_requests_say_what_is_accepted(
    serve: Serve, body: dict[str, Any], status: int, field: str | None, words: str
) -> None:
    run = serve()
    error = error_of(run.http.post("/v1/payments", json=body), status)
    assert error["field"] == field
    assert words in error["message"], error
    assert "990000000000000001" not in error["message"]


def test_bodies_with_duplicate_keys_deep_nesting_or_huge_numbers_are_refused(serve: Serve) -> None:
    """Found by the attacker pass: '{"amount":"1.00","amount":"9999.00"}' charged 9999.00 (the last key won)."""
    run = serve()
    json_header = {"Content-Type": "application/json"}
    twice = b'{"amount": "1.00", "amount": "9999.00", "currency": "CNY", "code": "130000000000000001"}'
    error = error_of(run.http.post("/v1/payments", content=twice, headers=json_header), 400)
    assert error["code"] == "duplicate_field" and error["field"] == "amount" and "twice" in error["message"]
    assert run.http.get("/v1/payments").json()["payments"] == []  # nothing was charged
    deep = b'{"amount": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    error = error_of(run.http.post("/v1/payments", content=deep, headers=json_header), 400)
    assert error["code"] == "invalid_json" and "nested too deeply" in error["message"]
    huge = b'{"amount": ' + b"9" * 5000 + b', "currency": "CNY"}'
    error = error_of(run.http.post("/v1/payments", content=huge, headers=json_header), 400)
    assert "5000 digits" in error["message"] and "set_int_max_str_digits" not in error["message"]


def test_bodies_that_are_not_json_objects(serve: Serve) -> None:
    run = serve()
    post = run.http.post
    assert (
        error_of(post("/v1/payments", content=b"{", headers={"Content-Type": "application/json"}), 400)["code"]
        == "invalid_json"
    )
    assert (
        error_of(post("/v1/payments", content=b"[1]", headers={"Content-Type": "application/json"}), 400)["code"]
        == "invalid_json"
    )
    assert (
        error_of(post("/v1/payments", content=b"\xff", headers={"Content-Type": "application/json"}), 400)["code"]
        == "invalid_json"
    )
    assert (
        error_of(post("/v1/payments", content=b"amount=1", headers={"Content-Type": "text/plain"}), 415)["code"]
        == "unsupported_media_type"
    )
    error = error_of(run.http.get("/v1/payments", params={"since": "yesterday"}), 422)
    assert error["field"] == "since"
    assert error_of(run.http.get("/v1/payments", params={"status": "nice"}), 422)["field"] == "status"
    assert error_of(run.http.get("/v1/payments", params={"limit": "0"}), 422)["field"] == "limit"
    assert error_of(run.http.get("/v1/payments/a%20b"), 422)["field"] == "reference"
    assert error_of(run.http.get("/v1/payments/nope"), 404)["code"] == "not_found"


# ---------------------------------------------------------------------------- payments


def test_a_payment_with_a_code_is_paid_listed_and_refunded(serve: Serve) -> None:
    run = serve()
    answer = run.pay(code=wechat("001"), reference="order-1")
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == "/v1/payments/order-1"
    started = answer.json()
    assert started["reference"] == "order-1" and started["code"] == "1300**********0001"
    paid = run.wait_state("order-1")
    assert paid["state"] == "paid" and paid["status"] == "SUCCESS" and paid["transaction_id"]
    assert paid["wallet"] == "Wechat-Offline" and paid["amount"] == "12.50"

    listed = run.http.get("/v1/payments", params={"status": "paid", "lane": "lane-1"}).json()["payments"]
    assert [p["reference"] for p in listed] == ["order-1"]
    assert run.http.get("/v1/payments", params={"since": "2999-01-01T00:00:00Z"}).json() == {"payments": []}
    assert run.http.get("/v1/payments", params={"status": "declined"}).json() == {"payments": []}

    refund = run.http.post("/v1/payments/order-1/refunds", json={"amount": "2.50", "currency": "cny"})
    assert refund.status_code == 200, refund.text
    assert refund.json()["status"] == "SUCCESS" and refund.json()["refunded"] == "2.50"
    assert run.http.get("/v1/payments/order-1").json()["refunded"] == "2.50"
    too_much = run.http.post("/v1/payments/order-1/refunds", json={"amount": "10.01"})
    assert error_of(too_much, 409)["code"] == "not_refundable"
    other = run.http.post("/v1/payments/order-1/refunds", json={"amount": "1.00", "currency": "HKD"})
    assert error_of(other, 422)["field"] == "currency"
    assert error_of(run.http.post("/v1/payments/nope/refunds", json={"amount": "1.00"}), 404)["code"] == "not_found"
    again = run.pay(code=wechat("001"), reference="order-1")
    assert error_of(again, 409)["code"] == "reference_exists"
    assert error_of(run.http.post("/v1/payments/order-1/cancel"), 409)["code"] == "already_paid"
    assert error_of(run.http.post("/v1/payments/nope/cancel"), 404)["code"] == "not_found"

    lanes = run.http.get("/v1/lanes").json()["lanes"]
    assert lanes == [
        {
            "name": "lane-1",
            "scanner": None,
            "scanner_state": "none",
            "scanner_error": None,
            "last_scan_at": None,
            "busy": False,
            "payment": None,
            "counts": {"cancelled": 0, "closed": 0, "declined": 0, "failed": 0, "paid": 1, "unresolved": 0},
            "scanner_stats": None,
        }
    ]
    metrics = httpx.get(f"{run.url}/metrics").text
    assert 'paycode_bridge_payments_total{outcome="paid",wallet="Wechat-Offline"} 1.0' in metrics
    assert "paycode_bridge_request_to_final_seconds_count 1.0" in metrics


def test_a_declined_payment_and_a_busy_lane(serve: Serve) -> None:
    run = serve()
    assert run.pay(code=wechat("002"), reference="declined-1").status_code == 202
    assert run.wait_state("declined-1")["state"] == "declined"
    assert run.pay(code=wechat("003"), reference="slow-1").status_code == 202
    busy = run.pay(code=wechat("001"), reference="other-1")
    assert error_of(busy, 409)["code"] == "lane_busy"
    assert run.wait_state("slow-1")["state"] == "paid"
    with Journal(run.bridge.settings.journal) as journal:
        assert journal.order("other-1") is None


def test_concurrent_identical_requests_make_one_payment(serve: Serve) -> None:
    run = serve()
    body = {"amount": "8.00", "currency": "CNY", "code": wechat("003")}
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        with httpx.Client(base_url=run.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            barrier.wait()
            answers.append(client.post("/v1/payments", json=body, headers={"Idempotency-Key": "k-1"}))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    references = {a.json()["reference"] for a in answers}
    assert len(references) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 7
    reference = references.pop()
    assert run.wait_state(reference)["state"] == "paid"
    again = run.http.post("/v1/payments", json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 202 and again.json()["reference"] == reference and again.json()["state"] == "paid"
    other = run.http.post("/v1/payments", json={**body, "amount": "9.00"}, headers={"Idempotency-Key": "k-1"})
    assert error_of(other, 422)["code"] == "idempotency_key_reused"
    with Journal(run.bridge.settings.journal) as journal:
        orders = journal.orders()
    assert [o.order_id for o in orders] == [reference]
    assert orders[0].amount == Decimal("8.00")


def test_tickets_are_single_use(serve: Serve) -> None:
    run = serve()
    ticket = run.ticket()
    sse = {"Accept": "text/event-stream"}
    with httpx.Client(base_url=run.url) as plain:
        with plain.stream("GET", "/v1/events", params={"ticket": ticket}, headers=sse) as first:
            assert first.status_code == 200
        error = error_of(plain.get("/v1/events", params={"ticket": ticket}, headers=sse), 401)
        assert "ticket" in error["message"]
    assert error_of(run.http.get("/v1/events"), 406)["code"] == "not_acceptable"
    assert error_of(run.http.post("/v1/tickets", json={"x": 1}), 422)["code"] == "unknown_field"


def test_an_idempotency_key_outlives_a_restart_of_the_bridge(serve: Serve, tmp_path: Any) -> None:
    journal = str(tmp_path / "shared.sqlite3")
    body = {"amount": "7.00", "currency": "CNY", "code": wechat("001")}
    first = serve(journal=journal)
    answer = first.http.post("/v1/payments", json=body, headers={"Idempotency-Key": "till-7-sale-1"})
    assert answer.status_code == 202
    reference = answer.json()["reference"]
    assert first.wait_state(reference)["state"] == "paid"
    first.server.stop()
    first.bridge.close()

    second = serve(journal=journal)  # a new bridge on the same journal knows nothing of the key in memory
    again = second.http.post("/v1/payments", json=body, headers={"Idempotency-Key": "till-7-sale-1"})
    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["reference"] == reference and again.json()["state"] == "paid"
    key = {"Idempotency-Key": "till-7-sale-1"}
    other = second.http.post("/v1/payments", json={**body, "amount": "7.01"}, headers=key)
    assert error_of(other, 422)["code"] == "idempotency_key_reused"
    with Journal(journal) as j:
        assert [o.order_id for o in j.orders()] == [reference]


def test_no_answer_carries_a_whole_code_or_the_token(serve: Serve) -> None:
    run = serve()
    code = wechat("001")
    assert run.pay(code=code, reference="secret-1").status_code == 202
    run.wait_state("secret-1")
    run.http.post("/v1/payments/secret-1/refunds", json={"amount": "1.00"})
    bad = run.pay(code=code[:-1] + "x")
    answers = [
        run.http.get("/v1/payments/secret-1").text,
        run.http.get("/v1/payments").text,
        run.http.get("/v1/lanes").text,
        httpx.get(f"{run.url}/metrics").text,
        httpx.get(f"{run.url}/openapi.json").text,
        bad.text,
        "\n".join(e.text for e in run.bridge.hub.events()),
    ]
    for text in answers:
        assert code not in text and code[:-1] not in text and TOKEN not in text
    assert "1300**********0001" in answers[0]
