"""Issue 16 item 1, gateway side: a signed answer must match its request before anyone believes it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import Money, OutcomeUnknown, PaymentStatus
from paycode.bizcontent import parse
from paycode.currencies import MINOR_UNITS
from paycode.gateway import PAY, QUERY, REFUND, GatewayAnswer, PingPongClient, answer_mismatch

from tests import test_gateway
from tests.test_gateway import PAY_BIZ, Scripted, answer, echo

# the scripted signing server on loopback and a client of it, as in tests/test_gateway.py
server = test_gateway.server
client = test_gateway.client

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=64)
currencies = st.sampled_from(sorted(MINOR_UNITS))


@st.composite
def moneys(draw: st.DrawFn) -> Money:
    currency = draw(currencies)
    minor = draw(st.integers(min_value=1, max_value=10**12))
    return Money(Decimal(minor).scaleb(-MINOR_UNITS[currency]), currency)


def wire(money: Money, decimals: int) -> str:
    """The amount as the gateway writes it: with ``decimals`` digits after the point (at least the currency's)."""
    return f"{money.amount:.{max(decimals, money.exponent)}f}"


def reply(code: str, biz: dict[str, Any]) -> GatewayAnswer:
    """An answer as the client sees it: bizContent through the same parser."""
    return GatewayAnswer.from_parts(code, "described", parse(json.dumps(biz)), 200)


def paid(order: str, request: str, money: Money, decimals: int = 6, **extra: Any) -> dict[str, Any]:
    biz = {
        "merchantTransactionId": order,
        "requestId": request,
        "amount": wire(money, decimals),
        "currency": money.currency,
        "status": "SUCCESS",
    }
    biz.update(extra)
    return {k: v for k, v in biz.items() if v is not None}


@given(ids, ids, moneys(), st.integers(min_value=0, max_value=8), st.sampled_from(["000000", "001000"]))
@settings(max_examples=150, deadline=None)
def test_a_consistent_answer_passes_in_any_exponent(
    order: str, request: str, money: Money, decimals: int, code: str
) -> None:
    got = reply(code, paid(order, request, money, decimals))
    assert answer_mismatch(got, order_id=order, request_id=request, money=money) is None


@given(ids, ids, moneys(), moneys())
@settings(max_examples=150, deadline=None)
def test_another_amount_or_currency_is_a_mismatch(order: str, request: str, asked: Money, other: Money) -> None:
    got = reply("000000", paid(order, request, other))
    found = answer_mismatch(got, order_id=order, request_id=request, money=asked)
    if other.amount == asked.amount and other.currency == asked.currency:
        assert found is None
    else:
        assert found is not None
        assert ("amount" in found) == (other.amount != asked.amount)
        assert ("currency" in found) == (other.currency != asked.currency)


@given(ids, ids, ids, ids, moneys())
@settings(max_examples=100, deadline=None)
def test_another_order_or_request_id_is_a_mismatch(
    order: str, other_order: str, request: str, other_request: str, money: Money
) -> None:
    got = reply("000000", paid(other_order, other_request, money))
    found = answer_mismatch(got, order_id=order, request_id=request, money=money)
    if order != other_order:
        assert found is not None and "merchantTransactionId" in found
    if request != other_request:
        assert found is not None and "requestId" in found
    if order == other_order and request == other_request:
        assert found is None


@given(moneys(), st.sampled_from(["amount", "currency", "merchantTransactionId"]))
@settings(max_examples=60, deadline=None)
def test_a_success_missing_amount_currency_or_order_is_a_mismatch(money: Money, field: str) -> None:
    biz = paid("o-1", "rq-1", money)
    del biz[field]
    assert answer_mismatch(reply("000000", biz), order_id="o-1", money=money) is not None
    # the same fields may be absent from an answer that moved no money
    biz["status"] = "FAILED"
    assert answer_mismatch(reply("301002", biz), order_id="o-1", money=money) is None


@given(
    st.one_of(
        st.integers(min_value=100000, max_value=109999),
        st.integers(min_value=200000, max_value=699999),
    ).map(lambda n: f"{n:06d}"),
    moneys(),
)
@settings(max_examples=100, deadline=None)
def test_any_other_code_beside_success_is_a_mismatch(code: str, money: Money) -> None:
    found = answer_mismatch(reply(code, paid("o-1", "rq-1", money)), order_id="o-1", money=money)
    assert found is not None and f"code {code}" in found and "beside status SUCCESS" in found


@pytest.mark.parametrize("status", ["FAILED", "CLOSED", "PROCESSING", "INIT"])
def test_success_code_beside_another_status_is_a_mismatch(status: str) -> None:
    money = Money("1.00", "CNY")
    found = answer_mismatch(reply("000000", paid("o", "r", money, status=status)), order_id="o", money=money)
    assert found == f"code 000000 (transaction succeeded) beside status {status}"


@pytest.mark.parametrize("code", ["002000", "107000", "500000", "500123", "600002", "600001", "999999", "1"])
@pytest.mark.parametrize("status", ["FAILED", "CLOSED", "CANCEL"])
def test_not_paid_is_believed_only_beside_a_code_that_says_so(status: str, code: str) -> None:
    money = Money("1.00", "CNY")
    found = answer_mismatch(reply(code, {"merchantTransactionId": "o", "status": status}), order_id="o", money=money)
    assert found is not None and f"code {code} (" in found and f"beside status {status}" in found


@pytest.mark.parametrize(
    "code", ["001000", "101000", "102000", "105000", "106001", "107001", "200001", "301002", "400000"]
)
@pytest.mark.parametrize("status", ["FAILED", "CLOSED", "CANCEL"])
def test_not_paid_beside_a_refusal_or_decline_is_consistent(status: str, code: str) -> None:
    got = reply(code, {"merchantTransactionId": "o", "status": status})
    assert answer_mismatch(got, order_id="o", money=Money("1.00", "CNY")) is None


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("1e1", "not a plain decimal"),
        ("1E+1", "not a plain decimal"),
        ("-10.00", "not a plain decimal"),
        (" 10.00", "not a plain decimal"),
        ("10,00", "not a plain decimal"),
        ("NaN", "not a plain decimal"),
        ("", "not a plain decimal"),
    ],
)
def test_an_amount_that_is_not_a_plain_decimal_is_a_mismatch(amount: str, why: str) -> None:
    money = Money("10.00", "CNY")
    found = answer_mismatch(reply("000000", paid("o", "r", money, amount=amount)), order_id="o", money=money)
    assert found is not None and why in found


def test_a_json_number_in_exponent_form_is_not_an_amount() -> None:
    money = Money("10", "CNY")
    text = '{"merchantTransactionId":"o","amount":1e1,"currency":"CNY","status":"SUCCESS"}'
    got = GatewayAnswer.from_parts("000000", "", parse(text), 200)
    assert got.biz["amount"] == "1e1"
    assert "not a plain decimal" in (answer_mismatch(got, order_id="o", money=money) or "")
    plain = GatewayAnswer.from_parts("000000", "", parse(text.replace("1e1", "10.0")), 200)
    assert answer_mismatch(plain, order_id="o", money=money) is None


def test_an_undocumented_status_is_a_mismatch() -> None:
    found = answer_mismatch(reply("001000", {"merchantTransactionId": "o", "status": "PAID"}), order_id="o")
    assert found is not None and "status 'PAID' is not one the gateway documents" in found


def test_refund_answers_are_checked_by_merchant_refund_id() -> None:
    money = Money("3.00", "HKD")
    biz = {"merchantTransactionId": "o", "merchantRefundId": "rf-2", "amount": "3.000000", "currency": "HKD"}
    got = reply("000000", {**biz, "status": "SUCCESS"})
    assert answer_mismatch(got, order_id="o", money=money, refund_id="rf-2") is None
    assert "merchantRefundId 'rf-2' where 'rf-1' was asked" in (
        answer_mismatch(got, order_id="o", money=money, refund_id="rf-1") or ""
    )


def test_a_not_found_answer_with_no_content_is_consistent() -> None:
    assert answer_mismatch(reply("107001", {}), order_id="o", money=Money("1", "CNY")) is None


# ---------------------------------------------------------------------------- over HTTP, signed answers


@pytest.mark.parametrize(
    ("extra", "differs"),
    [
        ({"amount": "0.030000"}, "amount 0.030000 where 0.02 was asked"),
        ({"currency": "HKD"}, "currency 'HKD' where CNY was asked"),
        ({"amount": None}, "a success with no amount"),
        ({"requestId": "rq-2"}, "requestId 'rq-2' where 'rq-1' was asked"),
        ({"amount": "2e-2"}, "not a plain decimal"),
    ],
    ids=["amount", "currency", "no-amount", "request-id", "exponent"],
)
def test_signed_pay_answers_that_differ_from_the_request_are_unknown(
    server: Scripted, client: PingPongClient, extra: dict[str, Any], differs: str
) -> None:
    server.script = [echo(status="SUCCESS", **extra)]
    with pytest.raises(OutcomeUnknown) as info:
        client.send(PAY, PAY_BIZ)
    assert differs in info.value.context["mismatch"] and differs in str(info.value)
    assert info.value.exit_code == 3 and info.value.context["operation"] == "unified_pay"


def test_a_decline_code_beside_success_is_unknown(server: Scripted, client: PingPongClient) -> None:
    server.script = [echo("301002", status="SUCCESS")]
    with pytest.raises(OutcomeUnknown) as info:
        client.send(PAY, PAY_BIZ)
    assert "code 301002" in info.value.context["mismatch"]


def test_a_consistent_decline_is_believed(server: Scripted, client: PingPongClient) -> None:
    server.script = [echo("301002", status="FAILED")]
    assert client.send(PAY, PAY_BIZ).status is PaymentStatus.FAILED


def test_refund_answers_for_another_amount_are_unknown(server: Scripted, client: PingPongClient) -> None:
    server.script = [echo(status="SUCCESS", amount="4.000000")]
    biz = {"merchantTransactionId": "o", "merchantRefundId": "rf", "amount": Decimal("3.00"), "currency": "CNY"}
    with pytest.raises(OutcomeUnknown) as info:
        client.send(REFUND, biz)
    assert info.value.context["mismatch"] == "amount 4.000000 where 3.00 was asked"


def test_query_answers_naming_another_attempt_are_unknown(server: Scripted, client: PingPongClient) -> None:
    server.script = [
        (200, answer("001000", {"merchantTransactionId": "o", "requestId": "rq-9", "status": "FAILED"}), 0)
    ]
    with pytest.raises(OutcomeUnknown) as info:
        client.send(QUERY, {"merchantTransactionId": "o", "requestId": "rq-1"})
    assert "requestId 'rq-9'" in info.value.context["mismatch"]
    # without a requestId in the query, any attempt of the order may answer
    assert client.send(QUERY, {"merchantTransactionId": "o"}).status is PaymentStatus.FAILED
