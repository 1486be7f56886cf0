"""bizContent: serialised once, exact decimals, ids checked before anything is sent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import ConfigError, Money, OrderError, PaymentRequest
from paycode.bizcontent import (
    check_id,
    check_notification_url,
    new_order_id,
    new_request_id,
    parse,
    pay_biz,
    query_biz,
    serialise,
)
from paycode.models import CodePattern, PollingPolicy, WalletType

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12)
scalars = st.none() | st.booleans() | st.integers(-(10**18), 10**18) | st.text(max_size=20) | decimals
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100)
@given(st.dictionaries(st.text(max_size=10), values, max_size=6))
def test_round_trip_is_exact(biz: dict[str, Any]) -> None:
    text = serialise(biz)
    assert json.loads(text, parse_float=Decimal) == biz
    assert serialise(json.loads(text, parse_float=Decimal)) == text  # one canonical text per value


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=Decimal("0.01"), max_value=10**12))
def test_amounts_keep_their_digits(amount: Decimal) -> None:
    text = serialise({"amount": amount})
    assert text == '{"amount":' + format(amount, "f") + "}"
    assert "e" not in text.lower()
    back = json.loads(text, parse_float=Decimal)["amount"]
    assert back == amount and str(back) == format(amount, "f")


@pytest.mark.parametrize("bad", [1.5, Decimal("NaN"), Decimal("Infinity"), b"bytes", object()])
def test_non_json_money_is_refused(bad: object) -> None:
    with pytest.raises(OrderError, match="amount"):
        serialise({"x": {"amount": bad}})


def test_parse_turns_amount_text_into_decimal() -> None:
    biz = parse('{"amount":"100.000000","refundAmount":"1.5","fee":0.10,"status":"SUCCESS","n":3}')
    assert biz == {
        "amount": Decimal("100.000000"),
        "refundAmount": Decimal("1.5"),
        "fee": Decimal("0.10"),
        "status": "SUCCESS",
        "n": 3,
    }


@pytest.mark.parametrize("text", ["[1]", "{", "nope"])
def test_parse_refuses_non_objects(text: str) -> None:
    with pytest.raises(Exception, match="bizContent"):
        parse(text)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("x" * 65, "65 characters long; the gateway accepts at most 64"),
        ("order<1>", "'<', '>'"),
        ("order\n1", "'\\\\n'"),
        ("tab\there", "control characters"),
        ("", "empty"),
        (" padded", "whitespace"),
    ],
)
def test_bad_ids_are_refused(value: str, why: str) -> None:
    with pytest.raises(OrderError, match=why):
        check_id(value)


@given(
    st.text(st.characters(codec="ascii", categories=["L", "N", "P"], exclude_characters="<>"), min_size=1, max_size=64)
)
def test_printable_ids_up_to_64_pass(value: str) -> None:
    assert check_id(value) == value


def test_generated_ids_are_valid_and_distinct() -> None:
    orders = {new_order_id() for _ in range(200)}
    requests = {new_request_id() for _ in range(200)}
    assert len(orders) == len(requests) == 200
    for value in orders | requests:
        assert check_id(value) == value


def _wallet() -> WalletType:
    return WalletType(
        name="Wechat-Offline",
        patterns=(CodePattern(lengths=(18,), prefixes=("13",)),),
        currencies=frozenset({"CNY"}),
        polling=PollingPolicy(interval=5, deadline=30),
    )


def test_pay_biz_has_the_documented_fields() -> None:
    request = PaymentRequest(
        money=Money("12.5", "CNY"),
        wallet=_wallet(),
        code="132800000000001501",
        merchant_transaction_id="order-1",
        request_id="rq-1",
        notification_url="https://shop.example/notify",
    )
    text = serialise(pay_biz(request))
    assert text == (
        '{"captureDelayHours":0,"amount":12.50,"currency":"CNY","requestId":"rq-1","merchantTransactionId":"order-1",'
        '"paymentMethod":{"type":"Wechat-Offline","scanCodeId":"132800000000001501"},"device":{"orderTerminal":"02"},'
        '"notificationUrl":"https://shop.example/notify","closeNotificationUrl":"https://shop.example/notify"}'
    )


def test_pay_biz_refuses_a_long_order_id() -> None:
    request = PaymentRequest(
        money=Money("1", "CNY"), wallet=_wallet(), code="1" * 18, merchant_transaction_id="o" * 70, request_id="r"
    )
    with pytest.raises(OrderError, match="at most 64"):
        pay_biz(request)


def test_query_needs_an_id() -> None:
    with pytest.raises(OrderError, match="needs an order id"):
        query_biz()


@pytest.mark.parametrize(
    "url",
    ["https://h.example/n?x=1", "ftp://h.example/n", "https://h.example/<n>", "notaurl", "http://[::1", "http://["],
)
def test_notification_url_rules(url: str) -> None:
    with pytest.raises(ConfigError):
        check_notification_url(url)
