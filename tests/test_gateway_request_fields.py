"""Issue 11 items 1 and 6, request side: timeExpire, closeNotificationUrl and the optional unifiedPay fields."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import Money, OrderError, PaymentRequest
from paycode.bizcontent import MAX_REFUND_REMARK, check_pay_fields, pay_biz, refund_biz, serialise
from paycode.models import CodePattern, PollingPolicy, WalletType

WALLET = WalletType(
    name="Wechat-Offline",
    patterns=(CodePattern(lengths=(18,), prefixes=("13",)),),
    currencies=frozenset({"CNY"}),
    polling=PollingPolicy(interval=5, deadline=30),
)


def request(**extra: Any) -> PaymentRequest:
    return PaymentRequest(
        money=Money("12.50", "CNY"),
        wallet=WALLET,
        code="132800000000001501",
        merchant_transaction_id="order-1",
        request_id="rq-1",
        **extra,
    )


def test_time_expire_is_sent_as_whole_epoch_seconds() -> None:
    biz = pay_biz(request(time_expire=1_767_225_600))
    assert biz["timeExpire"] == 1_767_225_600
    assert '"timeExpire":1767225600' in serialise(biz)


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "1767225600"])
def test_time_expire_must_be_positive_int(bad: Any) -> None:
    with pytest.raises(OrderError, match="timeExpire"):
        pay_biz(request(time_expire=bad))


def test_close_notification_url_only_with_a_notification_url() -> None:
    assert "closeNotificationUrl" not in pay_biz(request())
    biz = pay_biz(request(notification_url="https://shop.example/notify"))
    assert biz["closeNotificationUrl"] == biz["notificationUrl"] == "https://shop.example/notify"


def test_optional_fields_are_left_out_when_not_given() -> None:
    assert set(pay_biz(request())) == {
        "captureDelayHours",
        "amount",
        "currency",
        "requestId",
        "merchantTransactionId",
        "paymentMethod",
        "device",
    }


def test_every_optional_field_is_carried() -> None:
    goods = [{"name": "Green tea", "sku": "T-1", "unitPrice": Decimal("6.25"), "number": 2}]
    customer = {"firstName": "Mei", "email": "mei@example.com"}
    biz = pay_biz(
        request(
            pay_result_url="https://shop.example/done?lane=3",
            remark="lane 3, receipt 42",
            goods=goods,
            customer=customer,
            shopper_ip="2001:db8::1",
            trade_country="HK",
        )
    )
    assert biz["payResultUrl"] == "https://shop.example/done?lane=3"
    assert biz["remark"] == "lane 3, receipt 42"
    assert biz["goods"] == goods and biz["customer"] == customer
    assert biz["shopperIP"] == "2001:db8::1" and biz["tradeCountry"] == "HK"
    text = serialise(biz)
    assert '"unitPrice":6.25' in text
    assert json.loads(text, parse_float=Decimal)["goods"] == goods


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"pay_result_url": "ftp://shop.example/done"}, "not an http:// or https:// URL"),
        ({"pay_result_url": "https://shop.example/<script>"}, "'<', '>'"),
        ({"remark": "two\nlines"}, "newlines"),
        ({"remark": "<b>bold</b>"}, "'<'"),
        ({"remark": "x" * 257}, "at most 256"),
        ({"remark": "   "}, "empty"),
        ({"goods": []}, "non-empty list"),
        ({"goods": {"name": "tea"}}, "non-empty list"),
        ({"goods": [{"name": "tea", "price": 1.5}]}, "floats are never accepted"),
        ({"goods": [{"name": "tea\r"}]}, "goods[0].name contains"),
        ({"goods": [{"bad key": "x"}]}, "field name 'bad key'"),
        ({"goods": [{"n": 1}] * 101}, "at most 100"),
        ({"customer": {"email": "a>b@example.com"}}, "customer.email contains"),
        ({"customer": {}}, "non-empty object"),
        ({"customer": {"name": "x" * 257}}, "at most 256"),
        ({"shopper_ip": "10.0.0.300"}, "not an IPv4 or IPv6 address"),
        ({"shopper_ip": "localhost"}, "not an IPv4 or IPv6 address"),
        ({"trade_country": "CHN"}, "two-letter"),
        ({"trade_country": "hk"}, "capital letters"),
        ({"trade_country": "1A"}, "capital letters"),
    ],
)
def test_bad_optional_fields_are_refused_when_the_request_is_built(extra: dict[str, Any], why: str) -> None:
    with pytest.raises(OrderError) as info:
        request(**extra)
    assert why in str(info.value)


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_remark_is_accepted_exactly_when_it_follows_the_rules(remark: str) -> None:
    ok = bool(remark.strip()) and len(remark) <= 256 and all(c not in "<>" and c.isprintable() for c in remark)
    try:
        fields = check_pay_fields(remark=remark)
    except OrderError:
        assert not ok
    else:
        assert ok and fields == {"remark": remark}


@given(st.ip_addresses())
@settings(max_examples=50, deadline=None)
def test_any_ip_address_is_accepted_as_shopper_ip(address: Any) -> None:
    assert check_pay_fields(shopper_ip=str(address)) == {"shopperIP": str(address)}


def test_refund_remark_is_at_most_32_characters() -> None:
    money = Money("1.00", "CNY")
    ok = refund_biz(merchant_transaction_id="o", merchant_refund_id="r", amount=money, remark="x" * MAX_REFUND_REMARK)
    assert ok["remark"] == "x" * 32
    with pytest.raises(OrderError, match="refund remark is 33 characters long; at most 32"):
        refund_biz(merchant_transaction_id="o", merchant_refund_id="r", amount=money, remark="x" * 33)
    with pytest.raises(OrderError, match="newlines"):
        refund_biz(merchant_transaction_id="o", merchant_refund_id="r", amount=money, remark="a\nb")
    assert "remark" not in refund_biz(merchant_transaction_id="o", merchant_refund_id="r", amount=money)
