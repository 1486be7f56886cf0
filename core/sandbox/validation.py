"""The sandbox's ``102000`` checks: turn a parsed ``bizContent`` into a typed request, or reject it.

Every rejection is a :class:`~paycode.errors.GatewayRejected` with ``code="102000"`` in
its context and a description naming the field, what was wrong and what is accepted:
exactly the answer the sandbox sends back.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import attrs

from ..errors import GatewayRejected, MoneyError
from ..models import Money, WalletType

__all__ = [
    "MAX_ID",
    "PayRequest",
    "QueryRequest",
    "RefundQueryRequest",
    "RefundRequest",
    "VoidQueryRequest",
    "VoidRequest",
    "bad_parameter",
    "check_text",
    "parse_pay",
    "parse_query",
    "parse_refund",
    "parse_refund_query",
    "parse_void",
    "parse_void_query",
]

#: longest id the gateway takes (requestId, merchantTransactionId, merchantRefundId, …)
MAX_ID = 64
_REJECTED_CHARS = {"<": "'<'", ">": "'>'", "\n": "a newline", "\r": "a carriage return"}
_ORDER_TERMINALS = ("01", "02", "03", "04")


def bad_parameter(description: str) -> GatewayRejected:
    """The ``102000`` rejection for ``description``."""
    return GatewayRejected(description, code="102000")


# ---------------------------------------------------------------------------- requests


@attrs.frozen
class PayRequest:
    request_id: str
    merchant_transaction_id: str
    money: Money
    wallet: WalletType
    code: str = attrs.field(repr=False)
    notification_url: str | None = None
    close_notification_url: str | None = None
    time_expire: int | None = None


@attrs.frozen
class QueryRequest:
    merchant_transaction_id: str | None
    transaction_id: str | None
    request_id: str | None


@attrs.frozen
class RefundRequest:
    merchant_transaction_id: str
    merchant_refund_id: str
    money: Money
    notification_url: str | None = None


@attrs.frozen
class RefundQueryRequest:
    merchant_transaction_id: str
    merchant_refund_id: str | None
    refund_id: str | None


@attrs.frozen
class VoidRequest:
    merchant_transaction_id: str
    merchant_void_id: str
    money: Money
    notification_url: str | None = None


@attrs.frozen
class VoidQueryRequest:
    merchant_transaction_id: str
    merchant_void_id: str


# ---------------------------------------------------------------------------- field checks


def check_text(where: str, value: Any) -> None:
    """Reject ``<``, ``>`` and newlines in any text inside ``value`` (the gateway's XSS filter)."""
    if isinstance(value, str):
        for char, name in _REJECTED_CHARS.items():
            if char in value:
                raise bad_parameter(f"{where} contains {name}; the gateway rejects '<', '>' and newlines in any value")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(f"{where}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(f"{where}[{index}]", item)


def _text(biz: Mapping[str, Any], key: str, *, max_len: int = MAX_ID) -> str | None:
    """An optional text field: None when absent or empty."""
    value = biz.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_parameter(f"bizContent.{key} must be text, not a JSON {_json_type(value)}")
    if len(value) > max_len:
        raise bad_parameter(f"bizContent.{key} is {len(value)} characters long; at most {max_len} are accepted")
    return value


def _id(biz: Mapping[str, Any], key: str) -> str:
    """A required id field."""
    value = _text(biz, key)
    if value is None:
        raise bad_parameter(f"bizContent.{key} is missing; it is required")
    return value


def _money(biz: Mapping[str, Any]) -> Money:
    amount, currency = biz.get("amount"), biz.get("currency")
    if amount is None or amount == "":
        raise bad_parameter("bizContent.amount is missing; give a positive decimal number such as 12.50")
    if currency is None or currency == "":
        raise bad_parameter("bizContent.currency is missing; give an ISO 4217 code such as CNY or HKD")
    if not isinstance(currency, str):
        raise bad_parameter(f"bizContent.currency must be text, not a JSON {_json_type(currency)}")
    if not isinstance(amount, (Decimal, int, str)) or isinstance(amount, bool):
        raise bad_parameter(f"bizContent.amount must be a JSON number, not a JSON {_json_type(amount)}")
    try:
        return Money(amount, currency)
    except MoneyError as exc:
        raise bad_parameter(f"bizContent.amount/currency: {exc}") from None


def _url(biz: Mapping[str, Any], key: str) -> str | None:
    value = _text(biz, key, max_len=512)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # an IPv6 bracket never closed, or one holding no address
        raise bad_parameter(f"bizContent.{key} {value!r} is not an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_parameter(f"bizContent.{key} {value!r} is not an http(s) URL")
    if "?" in value or "#" in value:
        raise bad_parameter(f"bizContent.{key} must not carry query parameters or a fragment ('?', '#')")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


def _wallet(biz: Mapping[str, Any], wallets: Mapping[str, WalletType]) -> tuple[WalletType, str]:
    method = biz.get("paymentMethod")
    if not isinstance(method, Mapping):
        raise bad_parameter("bizContent.paymentMethod is missing; give an object {type, scanCodeId}")
    kind = method.get("type")
    known = ", ".join(sorted(wallets)) or "none: no wallet types are registered with this sandbox"
    if not isinstance(kind, str) or not kind:
        raise bad_parameter(f"bizContent.paymentMethod.type is missing; accepted: {known}")
    wallet = wallets.get(kind)
    if wallet is None:
        raise bad_parameter(f"bizContent.paymentMethod.type {kind!r} is not known; accepted: {known}")
    code = method.get("scanCodeId")
    if not isinstance(code, str) or not code:
        raise bad_parameter("bizContent.paymentMethod.scanCodeId is missing; give the scanned code, digits only")
    if not (code.isascii() and code.isdigit()):
        raise bad_parameter("bizContent.paymentMethod.scanCodeId must be ASCII digits only")
    if len(code) > MAX_ID:
        raise bad_parameter(f"bizContent.paymentMethod.scanCodeId is {len(code)} digits; at most {MAX_ID}")
    return wallet, code


def _capture_delay(biz: Mapping[str, Any]) -> None:
    value = biz.get("captureDelayHours")
    if value is None:
        raise bad_parameter("bizContent.captureDelayHours is missing; it must be 0 for wallet payment codes")
    if isinstance(value, bool) or value not in (0, "0"):
        raise bad_parameter(
            f"bizContent.captureDelayHours is {value!r}; it must be 0 (delayed capture is not supported "
            "for local wallets)"
        )


def _device(biz: Mapping[str, Any]) -> None:
    device = biz.get("device")
    if device is None:
        return
    if not isinstance(device, Mapping):
        raise bad_parameter('bizContent.device must be an object such as {"orderTerminal": "02"}')
    terminal = device.get("orderTerminal")
    if terminal is not None and terminal not in _ORDER_TERMINALS:
        raise bad_parameter(
            f"bizContent.device.orderTerminal is {terminal!r}; accepted: 01 mobile, 02 PC, 03 iOS, 04 Android"
        )


def _time_expire(biz: Mapping[str, Any]) -> int | None:
    value = biz.get("timeExpire")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise bad_parameter(f"bizContent.timeExpire is {value!r}; give the expiry time in epoch seconds")


# ---------------------------------------------------------------------------- per path


def parse_pay(biz: Mapping[str, Any], wallets: Mapping[str, WalletType]) -> PayRequest:
    """``/v4/payment/unifiedPay`` for a customer-presented code."""
    check_text("bizContent", biz)
    request_id = _id(biz, "requestId")
    merchant_transaction_id = _id(biz, "merchantTransactionId")
    money = _money(biz)
    _capture_delay(biz)
    wallet, code = _wallet(biz, wallets)
    if money.currency not in wallet.currencies:
        raise bad_parameter(
            f"bizContent.currency {money.currency} is not accepted for {wallet.name}; "
            f"accepted: {', '.join(sorted(wallet.currencies))}"
        )
    _device(biz)
    return PayRequest(
        request_id=request_id,
        merchant_transaction_id=merchant_transaction_id,
        money=money,
        wallet=wallet,
        code=code,
        notification_url=_url(biz, "notificationUrl"),
        close_notification_url=_url(biz, "closeNotificationUrl"),
        time_expire=_time_expire(biz),
    )


def parse_query(biz: Mapping[str, Any]) -> QueryRequest:
    """``/v4/payment/query``: ``transactionId`` or ``merchantTransactionId``, ``requestId`` optional."""
    check_text("bizContent", biz)
    merchant_transaction_id = _text(biz, "merchantTransactionId")
    transaction_id = _text(biz, "transactionId")
    if merchant_transaction_id is None and transaction_id is None:
        raise bad_parameter("bizContent needs transactionId or merchantTransactionId to query a payment")
    return QueryRequest(merchant_transaction_id, transaction_id, _text(biz, "requestId"))


def parse_refund(biz: Mapping[str, Any]) -> RefundRequest:
    """``/v4/payment/refund``."""
    check_text("bizContent", biz)
    merchant_transaction_id = _id(biz, "merchantTransactionId")
    merchant_refund_id = _id(biz, "merchantRefundId")
    money = _money(biz)
    _text(biz, "remark", max_len=256)
    return RefundRequest(merchant_transaction_id, merchant_refund_id, money, _url(biz, "notificationUrl"))


def parse_refund_query(biz: Mapping[str, Any]) -> RefundQueryRequest:
    """``/v4/refund/query``: ``merchantTransactionId`` and ``refundId`` or ``merchantRefundId``."""
    check_text("bizContent", biz)
    merchant_transaction_id = _id(biz, "merchantTransactionId")
    merchant_refund_id = _text(biz, "merchantRefundId")
    refund_id = _text(biz, "refundId")
    if merchant_refund_id is None and refund_id is None:
        raise bad_parameter("bizContent needs refundId or merchantRefundId to query a refund")
    return RefundQueryRequest(merchant_transaction_id, merchant_refund_id, refund_id)


def parse_void(biz: Mapping[str, Any]) -> VoidRequest:
    """``/v4/payment/void`` (a pre-authorisation's cancel; its ``notificationUrl`` is mandatory, as documented)."""
    check_text("bizContent", biz)
    merchant_transaction_id = _id(biz, "merchantTransactionId")
    merchant_void_id = _id(biz, "merchantVoidId")
    money = _money(biz)
    notification_url = _url(biz, "notificationUrl")
    if notification_url is None:
        raise bad_parameter("bizContent.notificationUrl is missing; a void requires it (http(s)://host/path)")
    return VoidRequest(merchant_transaction_id, merchant_void_id, money, notification_url)


def parse_void_query(biz: Mapping[str, Any]) -> VoidQueryRequest:
    """``/v4/void/query``."""
    check_text("bizContent", biz)
    return VoidQueryRequest(_id(biz, "merchantTransactionId"), _id(biz, "merchantVoidId"))
