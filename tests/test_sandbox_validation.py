"""Properties of the sandbox's field validator and request dispatcher (hypothesis)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode.bizcontent import serialise
from paycode.errors import GatewayRejected
from paycode.models import CodePattern, PollingPolicy, WalletType
from paycode.plugins.signers import SHA256
from paycode.sandbox import RESULT_SCENARIOS, Credentials, default_signers
from paycode.sandbox.dispatch import V4_PATHS, Dispatcher
from paycode.sandbox.ledger import Ledger
from paycode.sandbox.validation import (
    MAX_ID,
    parse_pay,
    parse_query,
    parse_refund,
    parse_refund_query,
    parse_void,
    parse_void_query,
)
from paycode.signing import signed

WECHAT = WalletType("Wechat-Offline", [CodePattern([18], ["13"])], {"CNY", "HKD"}, PollingPolicy(5, 30))
YEN = WalletType("Yen-Offline", [CodePattern([18], ["13"])], {"JPY"}, PollingPolicy(5, 30))
WALLETS = {w.name: w for w in (WECHAT, YEN)}
PARSERS = [parse_query, parse_refund, parse_refund_query, parse_void, parse_void_query]

ids = st.text(
    st.characters(codec="utf-8", exclude_characters="<>\n\r", exclude_categories=["Cs"]), min_size=1, max_size=MAX_ID
)
codes = st.text("0123456789", min_size=1, max_size=32)


@st.composite
def valid_pay(draw: st.DrawFn) -> dict[str, Any]:
    wallet = draw(st.sampled_from([WECHAT, YEN]))
    currency = draw(st.sampled_from(sorted(wallet.currencies)))
    places = 0 if currency == "JPY" else draw(st.integers(0, 2))
    minor = draw(st.integers(1, 10**9))
    biz: dict[str, Any] = {
        "captureDelayHours": draw(st.sampled_from([0, "0"])),
        "amount": Decimal(minor).scaleb(-places),
        "currency": currency,
        "requestId": draw(ids),
        "merchantTransactionId": draw(ids),
        "paymentMethod": {"type": wallet.name, "scanCodeId": draw(codes)},
    }
    if draw(st.booleans()):
        biz["device"] = {"orderTerminal": draw(st.sampled_from(["01", "02", "03", "04"]))}
    if draw(st.booleans()):
        biz["notificationUrl"] = "https://store.example/" + draw(st.text("abcxyz/_-", max_size=20))
    return biz


def parsed(biz: dict[str, Any]) -> dict[str, Any]:
    """``biz`` as the sandbox sees it: serialised once, then parsed with exact numbers."""
    result: dict[str, Any] = json.loads(serialise(biz), parse_float=Decimal)
    return result


@given(valid_pay())
@settings(max_examples=150)
def test_every_valid_payment_is_accepted_as_sent(biz: dict[str, Any]) -> None:
    request = parse_pay(parsed(biz), WALLETS)
    assert request.money.amount == biz["amount"] and request.money.currency == biz["currency"]
    assert request.request_id == biz["requestId"]
    assert request.merchant_transaction_id == biz["merchantTransactionId"]
    assert request.code == biz["paymentMethod"]["scanCodeId"]
    assert request.wallet.name == biz["paymentMethod"]["type"]


BAD_VALUES: dict[str, list[Any]] = {
    "amount": [Decimal(0), Decimal("-0.01"), Decimal("0.001"), "1e3", "", None, True, [1], {"v": 1}],
    "currency": ["usd", "XYZ", "", None, 156, "USD"],
    "requestId": ["", None, "x" * (MAX_ID + 1), 7, "a<b", "a>b", "a\nb", "a\rb"],
    "merchantTransactionId": ["", None, "x" * (MAX_ID + 1), ["o"], "<script>", "line\n"],
    "captureDelayHours": [1, 24, "1", None, True, False],
    "paymentMethod": [
        None,
        "Wechat-Offline",
        {"type": "Nope", "scanCodeId": "1"},
        {"type": "Wechat-Offline"},
        {"type": "Wechat-Offline", "scanCodeId": "12a"},
        {"type": "Wechat-Offline", "scanCodeId": "\uff11\uff12"},
        {"type": "Wechat-Offline", "scanCodeId": "1" * (MAX_ID + 1)},
    ],
    "device": ["02", {"orderTerminal": "05"}, {"orderTerminal": 2}],
    "notificationUrl": [
        "http://h/p?q=1",
        "https://h/p#f",
        "mailto:x@y",
        "ftp://h/p",
        "not a url",
        5,
        "http://[::1/n",
        "http://[zz]/n",
    ],
    "timeExpire": [-1, "tomorrow", True, Decimal("1.5")],
}


@given(valid_pay(), st.sampled_from(sorted(BAD_VALUES)), st.data())
@settings(max_examples=150)
def test_one_bad_field_is_rejected_naming_it(biz: dict[str, Any], field: str, data: st.DataObject) -> None:
    bad = data.draw(st.sampled_from(BAD_VALUES[field]))
    if bad is None:
        biz.pop(field, None)
    else:
        biz[field] = bad
    with pytest.raises(GatewayRejected) as caught:
        parse_pay(parsed(biz), WALLETS)
    assert caught.value.context["code"] == "102000"
    assert field in str(caught.value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
field_names = st.sampled_from(
    [
        "amount",
        "currency",
        "requestId",
        "merchantTransactionId",
        "transactionId",
        "merchantRefundId",
        "refundId",
        "merchantVoidId",
        "captureDelayHours",
        "paymentMethod",
        "notificationUrl",
        "timeExpire",
        "device",
        "remark",
    ]
)


@given(st.dictionaries(field_names | st.text(max_size=10), json_values, max_size=10))
@settings(max_examples=60)
def test_any_object_is_parsed_or_rejected_with_102000(biz: dict[str, Any]) -> None:
    for parse in [lambda b: parse_pay(b, WALLETS), *PARSERS]:
        try:
            parse(biz)
        except GatewayRejected as exc:
            assert exc.context["code"] == "102000" and str(exc)


def make_dispatcher() -> tuple[Dispatcher, Credentials]:
    ledger = Ledger(notify=lambda notice: None)
    creds = Credentials.generate()
    ledger.add_merchant(creds)
    return Dispatcher(ledger, WALLETS, default_signers()), creds


@given(
    st.sampled_from(V4_PATHS), st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v, default=str).encode())
)
@settings(max_examples=100)
def test_the_dispatcher_answers_any_body_with_a_v4_envelope(path: str, body: bytes) -> None:
    dispatcher, _ = make_dispatcher()
    reply = dispatcher.handle(path, body)
    assert reply.http_status == 200 and reply.envelope["code"] in {"102000", "103000"}
    assert set(reply.envelope) == {"accId", "clientId", "code", "description", "signType", "sign", "bizContent"}


@given(st.sampled_from(V4_PATHS), st.dictionaries(field_names, json_values, max_size=8))
@settings(max_examples=75)
def test_signed_requests_with_any_bizcontent_get_a_signed_answer(path: str, biz: dict[str, Any]) -> None:
    dispatcher, creds = make_dispatcher()
    message = signed(
        {"accId": creds.acc_id, "clientId": creds.client_id, "version": "1.0", "bizContent": serialise(biz)},
        creds.salt,
        SHA256,
    )
    reply = dispatcher.handle(path, json.dumps(message).encode())
    assert (
        reply.envelope["sign"]
        == signed({k: v for k, v in reply.envelope.items() if k != "sign"}, creds.salt, SHA256)["sign"]
    )
    assert reply.envelope["code"] in {
        "000000",
        "001000",
        "002000",
        "102000",
        "105000",
        "107000",
        "107001",
        "301002",
        "500000",
        *(s.result_code for s in RESULT_SCENARIOS),
    }


@pytest.mark.parametrize("depth", [10, 950, 5000])
def test_a_deeply_nested_bizcontent_object_gets_102000(depth: int) -> None:
    dispatcher, creds = make_dispatcher()
    nested = "[" * depth + "]" * depth
    body = f'{{"accId":"{creds.acc_id}","clientId":"{creds.client_id}","signType":"SHA256","sign":"00",'
    body += f'"version":"1.0","bizContent":{{"a":{nested}}}}}'
    reply = dispatcher.handle("/v4/payment/query", body.encode())
    # read (then a wrong signature) or refused as nested too deeply: an answer either way, never a crash
    assert reply.envelope["code"] in {"102000", "104000"}
    if reply.envelope["code"] == "102000":
        assert "nested too deeply" in reply.envelope["description"] or "not UTF-8 JSON" in reply.envelope["description"]
