"""The sandbox gateway over real HTTP on loopback: scenarios, checks, idempotency, refunds, voids, merchants."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from paycode.errors import ConfigError
from paycode.models import CodePattern, PollingPolicy, WalletType
from paycode.plugins.signers import MD5
from paycode.sandbox import ALL_SCENARIOS, RESULT_SCENARIOS, Credentials, SandboxServer, scenario_for
from paycode.sandbox.caller import V4Answer, V4Caller

WECHAT = WalletType(
    "Wechat-Offline", [CodePattern([18], ["10", "11", "12", "13", "14", "15"])], {"CNY", "HKD"}, PollingPolicy(5, 30)
)
ALIPAY_CN = WalletType(
    "AlipayCN-Offline",
    [CodePattern(range(16, 25), ["25", "26", "27", "28", "29", "30"])],
    {"CNY"},
    PollingPolicy(3, 60),
)
UNIONPAY = WalletType("UnionPay-Offline", [CodePattern([19], ["62"])], {"CNY", "HKD"}, PollingPolicy(3, 30))

PAY, QUERY = "/v4/payment/unifiedPay", "/v4/payment/query"
REFUND, REFUND_QUERY = "/v4/payment/refund", "/v4/refund/query"
VOID, VOID_QUERY = "/v4/payment/void", "/v4/void/query"


def code(ending: str, wallet: WalletType = WECHAT) -> str:
    return wallet.patterns[0].make(ending)


def pay_biz(
    scan: str,
    order: str = "order-1",
    request: str = "req-1",
    amount: str = "12.50",
    currency: str = "CNY",
    wallet: WalletType = WECHAT,
    **extra: Any,
) -> dict[str, Any]:
    biz: dict[str, Any] = {
        "captureDelayHours": 0,
        "amount": Decimal(amount),
        "currency": currency,
        "requestId": request,
        "merchantTransactionId": order,
        "paymentMethod": {"type": wallet.name, "scanCodeId": scan},
        "device": {"orderTerminal": "02"},
    }
    biz.update(extra)
    return biz


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(wallets=[WECHAT, ALIPAY_CN], slow_seconds=0.2, notify_schedule=()) as server:
        yield server


@pytest.fixture
def caller(srv: SandboxServer) -> Iterator[V4Caller]:
    with V4Caller(srv.base_url, srv.credentials) as c:
        yield c


def answered(answer: V4Answer, code_: str, status: str | None = None) -> V4Answer:
    assert answer.verified, answer.envelope
    assert answer.code == code_, (answer.code, answer.description)
    if status is not None:
        assert answer.biz["status"] == status
    return answer


# ---------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("wallet", [WECHAT, ALIPAY_CN], ids=lambda w: w.name)
def test_success_decline_and_gateway_error(srv: SandboxServer, caller: V4Caller, wallet: WalletType) -> None:
    ok = answered(caller.call(PAY, pay_biz(code("001", wallet), "o-ok", "r-ok", wallet=wallet)), "000000", "SUCCESS")
    assert ok.biz["amount"] == "12.500000" and ok.biz["requestId"] == "r-ok"
    assert ok.biz["paymentMethod"] == {"type": wallet.name}
    declined = caller.call(PAY, pay_biz(code("002", wallet), "o-no", "r-no", wallet=wallet))
    answered(declined, "301002", "FAILED")
    error = caller.call(PAY, pay_biz(code("005", wallet), "o-err", "r-err", wallet=wallet))
    assert error.http_status == 500 and error.code == "500000" and error.verified
    assert srv.order("o-err") is None  # nothing committed
    answered(caller.call(QUERY, {"merchantTransactionId": "o-err"}), "107001")
    assert [(o.merchant_transaction_id, o.status, o.charged) for o in srv.orders()] == [
        ("o-ok", "SUCCESS", 1),
        ("o-no", "FAILED", 0),
    ]


def test_password_then_success_answers_processing_to_two_queries(srv: SandboxServer, caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("003"))), "002000", "PROCESSING")
    statuses = [caller.call(QUERY, {"merchantTransactionId": "order-1"}).biz["status"] for _ in range(4)]
    assert statuses == ["PROCESSING", "PROCESSING", "SUCCESS", "SUCCESS"]
    view = srv.order("order-1")
    assert view is not None and view.charged == 1 and view.queries == 4


def test_password_timeout_stays_processing_until_its_time_expire(srv: SandboxServer, caller: V4Caller) -> None:
    expire = int(time.time()) + 2
    answered(caller.call(PAY, pay_biz(code("004"), timeExpire=expire)), "002000", "PROCESSING")
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "PROCESSING")
    refused = answered(caller.call(VOID, void_biz("void-1")), "105000")  # void is for AUTH_SUCCESS only
    assert "AUTH_SUCCESS" in refused.description and "timeExpire" in refused.description
    while (answer := caller.call(QUERY, {"merchantTransactionId": "order-1"})).biz["status"] == "PROCESSING":
        assert time.time() < expire + 2, "not closed at its timeExpire"
        time.sleep(0.05)
    answered(answer, "001000", "CLOSED")
    assert time.time() >= expire
    view = srv.order("order-1")
    assert view is not None and view.closed_by == "expired" and view.charged == 0


def test_slow_commit_commits_before_it_answers(srv: SandboxServer) -> None:
    with V4Caller(srv.base_url, srv.credentials, timeout=0.05) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.call(PAY, pay_biz(code("006")))
    view = srv.order("order-1")
    assert view is not None and view.status == "SUCCESS" and view.charged == 1
    with V4Caller(srv.base_url, srv.credentials) as patient:  # the retry with the same requestId is answered at once
        answered(patient.call(PAY, pay_biz(code("006"))), "000000", "SUCCESS")
    assert srv.charges_for(code("006")) == 1


def test_a_code_ending_outside_the_table_succeeds(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("999"))), "000000", "SUCCESS")
    assert scenario_for("0999").name == "success"


FAMILY_EFFECT = {"1": "refused", "2": "declined", "3": "declined", "4": "refused", "5": "unknown_paid"}
UNKNOWN_EFFECT = {"107000": "unknown_paid", "600002": "unknown_open"}  # docs/payment-flow.md: the lane queries


def test_every_result_code_family_of_the_docs_has_a_scenario() -> None:
    families = ["101", "102", "103000", "104000", "105000", "106", "107000", "107001", "108", "109"]
    families += ["2", "3", "4", "5", "600002"]
    for family in families:
        assert any(s.result_code and s.result_code.startswith(family) for s in RESULT_SCENARIOS), family
    for scenario in RESULT_SCENARIOS:
        assert scenario.result_code is not None and scenario.ending == "9" + scenario.result_code
        expected = UNKNOWN_EFFECT.get(scenario.result_code) or FAMILY_EFFECT[scenario.result_code[0]]
        assert scenario.effect == expected, scenario.name
        assert scenario_for("13000000000" + scenario.ending) is scenario
    assert scenario_for("134567890123456789").name == "success"  # a 9 seven digits from the end is not enough
    assert scenario_for("130000000008301002").name == "decline"  # 8 + a code: the three-digit table


@pytest.mark.parametrize("scenario", RESULT_SCENARIOS, ids=lambda s: s.name)
def test_each_result_code_scenario(srv: SandboxServer, caller: V4Caller, scenario: Any) -> None:
    scan = code(scenario.ending)
    answer = answered(caller.call(PAY, pay_biz(scan)), scenario.result_code)
    assert (answer.biz["requestId"], answer.biz["merchantTransactionId"]) == ("req-1", "order-1")
    assert answer.biz["resultCode"] == scenario.result_code and answer.biz["amount"] == "12.500000"
    assert scenario.description in answer.description
    query = caller.call(QUERY, {"merchantTransactionId": "order-1"})
    view = srv.order("order-1")
    if scenario.effect == "refused":  # refused before execution: FAILED at once, nothing committed
        assert answer.biz["status"] == "FAILED" and view is None
        answered(query, "107001")
    elif scenario.effect == "declined":
        assert answer.biz["status"] == "FAILED" and view is not None and view.status == "FAILED"
        assert answered(query, "001000", "FAILED").biz["resultCode"] == scenario.result_code
        answered(caller.call(PAY, pay_biz(code("001"), request="req-2")), "000000", "SUCCESS")  # not final
    elif scenario.effect == "unknown_paid":  # outcome unknown to the lane; the payment went through
        assert "status" not in answer.biz and view is not None and view.charged == 1
        answered(query, "001000", "SUCCESS")
    else:  # unknown_open: outcome unknown; the order waits for its timeExpire
        assert "status" not in answer.biz and view is not None and view.charged == 0
        answered(query, "001000", "PROCESSING")
    again = caller.call(PAY, pay_biz(scan))  # the same requestId: the same answer, never a second charge
    assert again.code == scenario.result_code and srv.charges_for(scan) == (scenario.effect == "unknown_paid")


def test_upstream_timeout_closes_at_time_expire(caller: V4Caller) -> None:
    past = int(time.time()) - 1
    answered(caller.call(PAY, pay_biz(code("9600002"), timeExpire=past)), "600002")
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "CLOSED")


def test_late_success_pays_when_the_shopper_confirms_before_time_expire(srv: SandboxServer, caller: V4Caller) -> None:
    srv.password_seconds = 0.3
    expire = int(time.time()) + 30
    answered(caller.call(PAY, pay_biz(code("007"), timeExpire=expire)), "002000", "PROCESSING")
    answered(caller.call(PAY, pay_biz(code("007"), "order-2", "req-2", timeExpire=int(time.time()))), "002000")
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "PROCESSING")
    deadline = time.monotonic() + 5
    while (view := srv.order("order-1")) and view.status == "PROCESSING" and time.monotonic() < deadline:
        time.sleep(0.05)  # paid by the housekeeping pass, without a query
    assert view is not None and view.status == "SUCCESS" and view.charged == 1
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "SUCCESS")
    time.sleep(0.35)  # order-2's confirmation time has come too, but after its timeExpire: it stays closed
    answered(caller.call(QUERY, {"merchantTransactionId": "order-2"}), "001000", "CLOSED")
    assert srv.charges_for(code("007")) == 1


def test_a_success_due_before_time_expire_wins_when_looked_at_later() -> None:
    """The ledger settles a late_success order by the times, not by when it is looked at."""
    from paycode.sandbox.ledger import Ledger
    from paycode.sandbox.validation import parse_pay

    now = [1000.0]
    ledger = Ledger(notify=lambda notice: None, password_seconds=2.0, clock=lambda: now[0])
    creds = Credentials.generate()
    ledger.add_merchant(creds)
    wallets = {WECHAT.name: WECHAT}
    ledger.pay(creds.acc_id, parse_pay(pay_biz(code("007"), timeExpire=1003), wallets), "SHA256")
    ledger.pay(creds.acc_id, parse_pay(pay_biz(code("007"), "order-2", "req-2", timeExpire=1001), wallets), "SHA256")
    now[0] = 1010.0  # first look long after both: order-1 was confirmed at 1002 (before 1003), order-2 at 1002 (late)
    assert ledger.sweep() == 2
    assert {o.merchant_transaction_id: o.status for o in ledger.orders()} == {"order-1": "SUCCESS", "order-2": "CLOSED"}


def test_scenarios_list_every_wallet_and_scenario(srv: SandboxServer) -> None:
    rows = srv.scenarios()
    assert len(rows) == 2 * len(ALL_SCENARIOS)
    for row in rows:
        wallet = srv.wallets[row["wallet"]]
        assert wallet.accepts(row["code"])
        assert scenario_for(row["code"]).name == row["scenario"]


def test_a_wallet_added_later_pays_and_gets_test_codes(srv: SandboxServer, caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("001", UNIONPAY), wallet=UNIONPAY)), "102000")
    srv.add_wallet(UNIONPAY)
    answered(caller.call(PAY, pay_biz(code("001", UNIONPAY), wallet=UNIONPAY)), "000000", "SUCCESS")
    assert {"scenario": "decline", "wallet": "UnionPay-Offline", "code": code("002", UNIONPAY)} in srv.scenarios()


# ---------------------------------------------------------------------------- envelope, merchant, signature


def test_wrong_salt_gets_104000_signed_with_the_merchants_salt(srv: SandboxServer) -> None:
    wrong = Credentials(srv.credentials.acc_id, srv.credentials.client_id, "not-the-salt")
    with V4Caller(srv.base_url, wrong) as c:
        answer = c.call(PAY, pay_biz(code("001")))
    assert answer.code == "104000" and not answer.verified
    with V4Caller(srv.base_url, srv.credentials) as right:
        assert right.parse(httpx.Response(200, json=answer.envelope)).verified
    assert srv.orders() == []


def test_tampered_bizcontent_gets_104000(srv: SandboxServer, caller: V4Caller) -> None:
    envelope = caller.envelope(pay_biz(code("001")))
    envelope["bizContent"] = envelope["bizContent"].replace("12.50", "0.01")
    answered(caller.parse(caller.post(PAY, envelope)), "104000")
    assert srv.orders() == []


def test_md5_requests_are_answered_in_md5(srv: SandboxServer) -> None:
    with V4Caller(srv.base_url, srv.credentials, MD5) as c:
        answer = answered(c.call(PAY, pay_biz(code("001"))), "000000", "SUCCESS")
    assert answer.envelope["signType"] == "MD5"


@pytest.mark.parametrize("acc_id, client_id", [("1" * 22, None), (None, "2" * 19)])
def test_unknown_account_gets_unsigned_103000(srv: SandboxServer, acc_id: str | None, client_id: str | None) -> None:
    creds = Credentials(acc_id or srv.credentials.acc_id, client_id or srv.credentials.client_id, srv.credentials.salt)
    with V4Caller(srv.base_url, creds) as c:
        answer = c.call(PAY, pay_biz(code("001")))
    assert answer.code == "103000" and answer.envelope["sign"] == ""


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda e: {k: v for k, v in e.items() if k != "version"}, "version is missing"),
        (lambda e: {**e, "version": "2.0"}, "version '2.0' is not supported"),
        (lambda e: {**e, "signType": "RSA"}, "signType 'RSA' is not supported; accepted: MD5, SHA256"),
        (lambda e: {**e, "bizContent": ["an array"]}, "bizContent is missing or not text"),
        (lambda e: {**e, "bizContent": e["bizContent"].replace(",", ",\n", 1)}, "bizContent contains a newline"),
        (lambda e: {**e, "accId": "<script>"}, "accId contains '<'"),
    ],
)
def test_bad_envelopes_get_102000(caller: V4Caller, mutate: Any, expected: str) -> None:
    answer = caller.parse(caller.post(PAY, mutate(caller.envelope(pay_biz(code("001"))))))
    assert answer.code == "102000" and expected in answer.description


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 50000])
def test_unreadable_bodies_get_102000(caller: V4Caller, body: bytes) -> None:
    answer = caller.parse(caller.post(PAY, body))
    assert answer.code == "102000" and answer.envelope["sign"] == ""


def test_bizcontent_that_is_not_a_json_object_gets_102000(caller: V4Caller) -> None:
    for text in ('["a"]', "{not json", '{"amount": NaN}'):
        answered(caller.call(PAY, text), "102000")


# ---------------------------------------------------------------------------- bizContent checks


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"amount": Decimal("0")}, "must be greater than zero"),
        ({"amount": Decimal("-1")}, "bizContent.amount"),
        ({"amount": Decimal("12.505")}, "more decimals than CNY allows"),
        ({"amount": "twelve"}, "not a plain decimal number"),
        ({"amount": None}, "bizContent.amount is missing"),
        ({"amount": True}, "must be a JSON number"),
        ({"currency": "XYZ"}, "not an ISO 4217 code"),
        ({"currency": "USD"}, "currency USD is not accepted for Wechat-Offline; accepted: CNY, HKD"),
        ({"requestId": ""}, "bizContent.requestId is missing"),
        ({"requestId": "r" * 65}, "bizContent.requestId is 65 characters long; at most 64"),
        ({"merchantTransactionId": None}, "bizContent.merchantTransactionId is missing"),
        ({"merchantTransactionId": 12}, "bizContent.merchantTransactionId must be text"),
        ({"merchantTransactionId": "a<b"}, "bizContent.merchantTransactionId contains '<'"),
        ({"merchantTransactionId": "a>b"}, "contains '>'"),
        ({"merchantTransactionId": "a\nb"}, "contains a newline"),
        ({"captureDelayHours": 1}, "captureDelayHours is 1; it must be 0"),
        ({"captureDelayHours": None}, "captureDelayHours is missing"),
        ({"paymentMethod": None}, "paymentMethod is missing"),
        (
            {"paymentMethod": {"type": "Bogus-Offline", "scanCodeId": "130000000000000001"}},
            "'Bogus-Offline' is not known",
        ),
        ({"paymentMethod": {"type": "Wechat-Offline", "scanCodeId": "13000000000000000A"}}, "ASCII digits only"),
        ({"paymentMethod": {"type": "Wechat-Offline"}}, "scanCodeId is missing"),
        ({"notificationUrl": "http://127.0.0.1:9/n?x=1"}, "must not carry query parameters"),
        ({"notificationUrl": "ftp://127.0.0.1/n"}, "is not an http(s) URL"),
        ({"device": {"orderTerminal": "09"}}, "orderTerminal is '09'"),
        ({"timeExpire": "soon"}, "timeExpire"),
    ],
)
def test_bad_fields_get_102000_and_commit_nothing(
    srv: SandboxServer, caller: V4Caller, changes: dict[str, Any], named: str
) -> None:
    biz = {k: v for k, v in {**pay_biz(code("001")), **changes}.items() if v is not None}
    answer = answered(caller.call(PAY, biz), "102000")
    assert named in answer.description
    assert srv.orders() == []


def test_jpy_amounts_take_no_decimals(srv: SandboxServer, caller: V4Caller) -> None:
    srv.add_wallet(WalletType("Yen-Offline", [CodePattern([18], ["13"])], {"JPY"}, PollingPolicy(5, 30)))
    yen = {"type": "Yen-Offline", "scanCodeId": code("001")}
    bad = caller.call(PAY, pay_biz(code("001"), amount="100.5", currency="JPY", paymentMethod=yen))
    assert "more decimals than JPY allows (0)" in answered(bad, "102000").description
    answered(caller.call(PAY, pay_biz(code("001"), amount="100", currency="JPY", paymentMethod=yen)), "000000")


def test_alipay_cn_refuses_hkd(caller: V4Caller) -> None:
    answer = caller.call(PAY, pay_biz(code("001", ALIPAY_CN), currency="HKD", wallet=ALIPAY_CN))
    assert "currency HKD is not accepted for AlipayCN-Offline; accepted: CNY" in answered(answer, "102000").description


def test_rejections_echo_the_ids(caller: V4Caller) -> None:
    answer = answered(caller.call(PAY, pay_biz(code("001"), amount="0")), "102000")
    assert answer.biz == {"requestId": "req-1", "merchantTransactionId": "order-1"}


# ---------------------------------------------------------------------------- duplicates and idempotency


def test_same_request_id_gets_the_stored_answer_and_one_charge(srv: SandboxServer, caller: V4Caller) -> None:
    first = answered(caller.call(PAY, pay_biz(code("001"))), "000000", "SUCCESS")
    again = answered(caller.call(PAY, pay_biz(code("001"))), "000000", "SUCCESS")
    assert again.envelope["bizContent"] == first.envelope["bizContent"]
    view = srv.order("order-1")
    assert view is not None and view.charged == 1 and view.request_ids == ("req-1",)


def test_same_request_id_for_processing_gets_the_stored_processing_answer(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("003"))), "002000", "PROCESSING")
    answered(caller.call(PAY, pay_biz(code("003"))), "002000", "PROCESSING")


def test_concurrent_retries_of_one_request_charge_once(srv: SandboxServer) -> None:
    answers: list[str] = []

    def send() -> None:
        with V4Caller(srv.base_url, srv.credentials) as c:
            answers.append(c.call(PAY, pay_biz(code("001"))).biz["status"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert answers == ["SUCCESS"] * 8
    assert srv.charges_for(code("001")) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"merchantTransactionId": "order-2"},
        {"amount": Decimal("1.00")},
        {"paymentMethod": {"type": "Wechat-Offline", "scanCodeId": code("011")}},
    ],
    ids=["other-order", "other-amount", "other-code"],
)
def test_request_id_reused_for_a_different_payment_gets_107000(
    srv: SandboxServer, caller: V4Caller, changes: dict[str, Any]
) -> None:
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")
    answer = answered(caller.call(PAY, {**pay_biz(code("001")), **changes}), "107000")
    assert "requestId req-1 was already used" in answer.description
    assert sum(o.charged for o in srv.orders()) == 1


def test_new_request_id_on_a_paid_order_gets_107000(srv: SandboxServer, caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")
    answer = answered(caller.call(PAY, pay_biz(code("011"), request="req-2")), "107000")
    assert "already paid" in answer.description
    assert srv.charges_for(code("011")) == 0


def test_new_request_id_while_one_is_in_flight_gets_107000(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("003"))), "002000")
    answer = answered(caller.call(PAY, pay_biz(code("001"), request="req-2")), "107000")
    assert "payment in flight (requestId req-1)" in answer.description


def test_a_declined_order_may_be_paid_again_with_a_new_request_id(srv: SandboxServer, caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("002"))), "301002", "FAILED")
    answered(caller.call(PAY, pay_biz(code("001"), request="req-2", amount="12.5")), "000000", "SUCCESS")
    old = answered(caller.call(QUERY, {"merchantTransactionId": "order-1", "requestId": "req-1"}), "001000", "FAILED")
    assert old.biz["requestId"] == "req-1"
    view = srv.order("order-1")
    assert view is not None and view.request_ids == ("req-1", "req-2") and view.charged == 1


def test_a_new_attempt_must_keep_amount_and_method(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("002"))), "301002")
    answer = answered(caller.call(PAY, pay_biz(code("001"), request="req-2", amount="13.00")), "107000")
    assert "was created for 12.50 CNY by Wechat-Offline" in answer.description


def test_a_closed_order_cannot_be_paid(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("004"), timeExpire=int(time.time()) - 1)), "002000")
    answered(caller.call(PAY, pay_biz(code("001"), request="req-2")), "105000")


# ---------------------------------------------------------------------------- queries


def test_query_by_transaction_id_and_mismatched_ids(caller: V4Caller) -> None:
    tx = answered(caller.call(PAY, pay_biz(code("001"))), "000000").biz["transactionId"]
    answered(caller.call(QUERY, {"transactionId": tx}), "001000", "SUCCESS")
    answered(caller.call(QUERY, {"transactionId": tx, "merchantTransactionId": "order-1"}), "001000", "SUCCESS")
    answered(caller.call(QUERY, {"transactionId": tx, "merchantTransactionId": "other"}), "107001")
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1", "requestId": "nope"}), "107001")
    assert "transactionId or merchantTransactionId" in answered(caller.call(QUERY, {}), "102000").description


def test_the_gateway_closes_a_stale_processing_order(caller: V4Caller) -> None:
    with SandboxServer(wallets=[WECHAT], auto_close_seconds=0.2, notify_schedule=()) as quick:
        with V4Caller(quick.base_url, quick.credentials) as c:
            answered(c.call(PAY, pay_biz(code("004"))), "002000")
            deadline = time.monotonic() + 5
            while (view := quick.order("order-1")) and view.status == "PROCESSING" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert view is not None and view.status == "CLOSED" and view.closed_by == "expired"
            answered(c.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "CLOSED")


def test_time_expire_in_the_past_closes_at_the_next_look(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("003"), timeExpire=int(time.time()) - 1)), "002000")
    answered(caller.call(QUERY, {"merchantTransactionId": "order-1"}), "001000", "CLOSED")


# ---------------------------------------------------------------------------- refunds


def refund_biz(refund_id: str, amount: str, order: str = "order-1", currency: str = "CNY") -> dict[str, Any]:
    return {
        "merchantTransactionId": order,
        "merchantRefundId": refund_id,
        "amount": Decimal(amount),
        "currency": currency,
    }


def test_partial_refunds_up_to_the_paid_amount(srv: SandboxServer, caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")
    first = answered(caller.call(REFUND, refund_biz("rf-1", "5.00")), "000000", "SUCCESS")
    assert first.biz["amount"] == "5.000000" and first.biz["merchantRefundId"] == "rf-1"
    over = answered(caller.call(REFUND, refund_biz("rf-2", "7.51")), "102000")
    assert "exceeds what can be refunded: 7.50 CNY (paid 12.50 CNY, refunded 5.00 CNY)" in over.description
    answered(caller.call(REFUND, refund_biz("rf-3", "7.50")), "000000", "SUCCESS")
    answered(caller.call(REFUND, refund_biz("rf-4", "0.01")), "102000")
    view = srv.order("order-1")
    assert view is not None and view.refunded == Decimal("12.50")
    assert [r.merchant_refund_id for r in view.refunds] == ["rf-1", "rf-3"]


def test_refund_is_idempotent_by_merchant_refund_id(srv: SandboxServer, caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")
    first = answered(caller.call(REFUND, refund_biz("rf-1", "10.00")), "000000")
    again = answered(caller.call(REFUND, refund_biz("rf-1", "10.00")), "000000")
    assert again.envelope["bizContent"] == first.envelope["bizContent"]
    answered(caller.call(REFUND, refund_biz("rf-1", "1.00")), "107000")
    view = srv.order("order-1")
    assert view is not None and view.refunded == Decimal("10.00")


def test_refund_refusals(caller: V4Caller) -> None:
    answered(caller.call(REFUND, refund_biz("rf-0", "1.00")), "107001")
    answered(caller.call(PAY, pay_biz(code("003"))), "002000")
    assert (
        "only a successful payment can be refunded"
        in answered(caller.call(REFUND, refund_biz("rf-1", "1.00")), "105000").description
    )
    answered(caller.call(PAY, pay_biz(code("001"), order="order-2", request="req-2")), "000000")
    assert (
        "differs from the payment's CNY"
        in answered(caller.call(REFUND, refund_biz("rf-2", "1.00", "order-2", "HKD")), "102000").description
    )
    answered(caller.call(REFUND, refund_biz("rf-3", "1.001", "order-2")), "102000")


def test_refund_query(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")
    refund_id = answered(caller.call(REFUND, refund_biz("rf-1", "2.00")), "000000").biz["refundId"]
    by_ours = answered(
        caller.call(REFUND_QUERY, {"merchantTransactionId": "order-1", "merchantRefundId": "rf-1"}), "001000", "SUCCESS"
    )
    by_theirs = answered(
        caller.call(REFUND_QUERY, {"merchantTransactionId": "order-1", "refundId": refund_id}), "001000", "SUCCESS"
    )
    assert by_ours.biz == by_theirs.biz and by_ours.biz["amount"] == "2.000000"
    answered(caller.call(REFUND_QUERY, {"merchantTransactionId": "order-1", "merchantRefundId": "nope"}), "107001")
    answered(caller.call(REFUND_QUERY, {"merchantTransactionId": "order-1"}), "102000")


# ---------------------------------------------------------------------------- voids
# Void is documented for pre-authorisations (AUTH_SUCCESS) only; a payment-code order never is one.
# These tests used to check the sandbox's undocumented void of an unpaid order, which is gone.


def void_biz(void_id: str, amount: str = "12.50") -> dict[str, Any]:
    return {
        "merchantTransactionId": "order-1",
        "merchantVoidId": void_id,
        "amount": Decimal(amount),
        "currency": "CNY",
        "notificationUrl": "https://store.example/voids",
    }


@pytest.mark.parametrize("ending", ["001", "002", "003", "004"])
def test_void_is_refused_for_any_payment_code_order(srv: SandboxServer, caller: V4Caller, ending: str) -> None:
    first = caller.call(PAY, pay_biz(code(ending)))
    refused = answered(caller.call(VOID, void_biz("v-1")), "105000")
    assert "only for a pre-authorisation in AUTH_SUCCESS" in refused.description
    assert refused.biz == {"merchantTransactionId": "order-1", "merchantVoidId": "v-1"}
    answered(caller.call(VOID_QUERY, {"merchantTransactionId": "order-1", "merchantVoidId": "v-1"}), "107001")
    status = caller.call(QUERY, {"merchantTransactionId": "order-1"}).biz["status"]
    assert status == first.biz["status"]  # nothing changed
    view = srv.order("order-1")
    assert view is not None and view.closed_by is None


def test_a_paid_order_cannot_be_voided(caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")
    assert "refund it instead" in answered(caller.call(VOID, void_biz("v-1")), "105000").description


def test_void_checks_before_the_state(caller: V4Caller) -> None:
    answered(caller.call(VOID, void_biz("v-0")), "107001")
    answered(caller.call(PAY, pay_biz(code("004"))), "002000")
    assert (
        "must equal the order's amount 12.50 CNY"
        in answered(caller.call(VOID, void_biz("v-1", "1.00")), "102000").description
    )
    no_url = {k: v for k, v in void_biz("v-1").items() if k != "notificationUrl"}
    assert "notificationUrl is missing" in answered(caller.call(VOID, no_url), "102000").description


# ---------------------------------------------------------------------------- merchants, HTTP, construction


def test_each_merchant_has_its_own_orders(srv: SandboxServer, caller: V4Caller) -> None:
    other = srv.add_merchant()
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")
    with V4Caller(srv.base_url, other) as c:
        answered(c.call(QUERY, {"merchantTransactionId": "order-1"}), "107001")
        answered(c.call(PAY, pay_biz(code("011"))), "000000")
    assert [o.acc_id for o in srv.orders()] == [srv.credentials.acc_id, other.acc_id]
    assert len(srv.orders(other.acc_id)) == 1


def test_http_layer_refusals(srv: SandboxServer) -> None:
    with httpx.Client(base_url=srv.base_url) as http:
        assert http.get(PAY).status_code == 405
        assert http.post("/v4/payment/capture", content=b"{}").status_code == 404
        assert http.post(PAY, content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
        too_big = b"{" + b" " * 70000 + b"}"
        assert http.post(PAY, content=too_big, headers={"Content-Type": "application/json"}).status_code == 413


def test_only_loopback_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="not a loopback address"):
        SandboxServer(host="0.0.0.0")
    SandboxServer(host="192.0.2.1", allow_remote=True)  # constructing does not bind
    with SandboxServer(host="::1") as v6:
        assert v6.base_url.startswith("http://[::1]:")


def test_stop_ends_open_connections_and_threads(srv: SandboxServer, caller: V4Caller) -> None:
    answered(caller.call(PAY, pay_biz(code("001"))), "000000")  # leaves a keep-alive connection open
    srv.stop()
    names = {t.name for t in threading.enumerate()}
    assert not any(name.startswith("paycode-sandbox") for name in names), names
    with pytest.raises(httpx.TransportError):
        caller.call(QUERY, {"merchantTransactionId": "order-1"})


# ---------------------------------------------------------------------------- bizContent as an object


def object_body(envelope: dict[str, Any], text: str) -> bytes:
    """The envelope with ``bizContent`` written as the JSON object ``text`` instead of a string holding it."""
    rest = json.dumps({k: v for k, v in envelope.items() if k != "bizContent"}, ensure_ascii=False)
    return (rest[:-1] + ', "bizContent": ' + text + "}").encode()


def test_bizcontent_as_an_object_is_signed_over_its_canonical_text(srv: SandboxServer, caller: V4Caller) -> None:
    scan = code("001")
    canonical = (
        '{"captureDelayHours":0,"amount":12.50,"currency":"CNY","requestId":"req-1","merchantTransactionId":"order-1",'
        f'"paymentMethod":{{"type":"Wechat-Offline","scanCodeId":"{scan}"}},"remark":"caf\u00e9 \u00e9"}}'
    )
    # the same object written with spaces, a non-ASCII character as itself and one escaped: same canonical text
    written = canonical.replace(",", ", ").replace(":", ": ").replace("caf\\u00e9", "caf\u00e9")
    assert json.loads(written) == json.loads(canonical)
    envelope = caller.envelope(canonical.replace("\\u00e9", "\u00e9"))
    answered(caller.parse(caller.post(PAY, object_body(envelope, written))), "000000", "SUCCESS")
    view = srv.order("order-1")
    assert view is not None and view.amount == Decimal("12.50")
    # signed over text that is not the canonical form (the spaced text): the signature does not verify
    spaced = caller.envelope(written.replace("order-1", "order-2").replace("req-1", "req-2"))
    answered(caller.parse(caller.post(PAY, object_body(spaced, written.replace("order-1", "order-2")))), "104000")
    assert srv.order("order-2") is None
    # an array is neither form
    not_object = caller.parse(caller.post(PAY, object_body(caller.envelope("{}"), "[1]")))
    assert not_object.code == "102000" and "JSON text or as a JSON object" in not_object.description
