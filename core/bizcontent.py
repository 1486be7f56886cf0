"""``bizContent``: built as a dict, checked, and serialised exactly once.

The gateway signs and receives ``bizContent`` as a string of JSON text, and the
signature covers that very text. So the text is produced here once, with amounts as
exact JSON numbers written from :class:`~decimal.Decimal` (never through a float), and
the same string is signed and sent. Identifiers are checked before anything leaves:
at most 64 characters, no ``<``/``>`` (the gateway's XSS filter rejects them) and no
control characters such as newlines.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _json_string  # json.dumps(str), without its overhead
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, MessageError, OrderError
from .models import Money, PaymentRequest

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_REFUND_REMARK",
    "MAX_REMARK",
    "check_id",
    "check_notification_url",
    "check_pay_fields",
    "check_text",
    "check_time_expire",
    "new_order_id",
    "new_request_id",
    "parse",
    "pay_biz",
    "query_biz",
    "refund_biz",
    "refund_query_biz",
    "serialise",
    "void_biz",
    "void_query_biz",
]

MAX_ID_LENGTH = 64
#: the documented limit of a refund's ``remark``
MAX_REFUND_REMARK = 32
#: a payment's ``remark`` (the documentation gives no limit for it: this project's, to stay well inside any field)
MAX_REMARK = 256
#: longest URL (``payResultUrl``) and longest text value inside ``goods`` / ``customer`` (project limits)
MAX_URL = 512
MAX_FIELD_TEXT = 256
#: at most this many ``goods`` items, and fields per item or in ``customer``
MAX_GOODS = 100
MAX_FIELDS = 30


# ---------------------------------------------------------------------------- identifiers


def check_id(value: object, what: str = "order id") -> str:
    """Return ``value`` when the gateway would accept it as an identifier, else raise :class:`OrderError`."""
    if not isinstance(value, str) or not value:
        raise OrderError(f"{what} {value!r} is empty or not text; give 1-{MAX_ID_LENGTH} printable characters")
    if len(value) > MAX_ID_LENGTH:
        raise OrderError(
            f"{what} is {len(value)} characters long; the gateway accepts at most {MAX_ID_LENGTH}", order=value[:16]
        )
    if value.isprintable() and "<" not in value and ">" not in value and value == value.strip():
        return value  # the usual case, on every request: no need to look for what is wrong
    bad = sorted({c for c in value if c in "<>" or not c.isprintable()})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise OrderError(
            f"{what} {value!r} contains {shown}; the gateway rejects '<', '>', newlines and other control characters"
        )
    if value != value.strip():
        raise OrderError(f"{what} {value!r} starts or ends with whitespace; remove it")
    return value


def new_order_id() -> str:
    """A fresh ``merchantTransactionId``: time of day plus 40 random bits (26 characters)."""
    return f"pc{time.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(5)}"


def new_request_id(kind: str = "rq") -> str:
    """A fresh attempt id (``requestId``, ``merchantRefundId``, …): ``kind`` plus 128 random bits."""
    return f"{kind}-{secrets.token_hex(16)}"


def check_notification_url(url: str) -> str:
    """A ``notificationUrl`` must be an http(s) URL without query parameters (PingPong's rule)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # such as an IPv6 host without its closing bracket
        raise ConfigError(f"notification_url {url!r} is not a URL ({exc}); give http(s)://host[:port]/path") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"notification_url {url!r} is not an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ConfigError(f"notification_url {url!r} must not carry query parameters or a fragment")
    if any(c in "<>" or not c.isprintable() for c in url):
        raise ConfigError(f"notification_url {url!r} contains characters the gateway rejects")
    return url


def check_text(value: object, what: str, limit: int) -> str:
    """``value`` when it is non-empty text of at most ``limit`` characters without ``<``, ``>`` or control
    characters (newlines included); else :class:`OrderError` saying what is wrong and what is accepted."""
    if not isinstance(value, str) or not value.strip():
        raise OrderError(f"{what} {value!r} is empty or not text; give 1-{limit} characters")
    if len(value) > limit:
        raise OrderError(f"{what} is {len(value)} characters long; at most {limit} are accepted")
    bad = sorted({c for c in value if c in "<>" or not c.isprintable()})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise OrderError(
            f"{what} contains {shown}; the gateway rejects '<', '>', newlines and other control characters"
        )
    return value


def _check_url(url: object, what: str) -> str:
    text = check_text(url, what, MAX_URL)
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # such as an IPv6 host without its closing bracket
        raise OrderError(f"{what} {text!r} is not a URL ({exc}); give http(s)://host[:port]/path") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise OrderError(f"{what} {text!r} is not an http:// or https:// URL")
    return text


def _check_record(record: object, what: str) -> dict[str, Any]:
    """An object of named scalar values (text, whole numbers, Decimal amounts, booleans), each checked."""
    if not isinstance(record, Mapping) or not record:
        raise OrderError(f"{what} must be a non-empty object of named values, not {type(record).__name__}")
    if len(record) > MAX_FIELDS:
        raise OrderError(f"{what} has {len(record)} fields; at most {MAX_FIELDS} are accepted")
    out: dict[str, Any] = {}
    for key, value in record.items():
        if not isinstance(key, str) or not key.isascii() or not key.isidentifier():
            raise OrderError(f"{what} field name {key!r} must be an ASCII name such as 'name' or 'unitPrice'")
        if isinstance(value, str):
            out[key] = check_text(value, f"{what}.{key}", MAX_FIELD_TEXT)
        elif isinstance(value, bool) or (isinstance(value, int) and abs(value) < 10**15):
            out[key] = value
        elif isinstance(value, Decimal) and value.is_finite():
            out[key] = value
        else:
            raise OrderError(
                f"{what}.{key} is {type(value).__name__} {value!r}; give text, a whole number, a Decimal amount "
                "or true/false (floats are never accepted)"
            )
    return out


def check_pay_fields(
    *,
    pay_result_url: str | None = None,
    remark: str | None = None,
    goods: Sequence[Mapping[str, Any]] | None = None,
    customer: Mapping[str, Any] | None = None,
    shopper_ip: str | None = None,
    trade_country: str | None = None,
) -> dict[str, Any]:
    """The optional unifiedPay fields, checked, as ``bizContent`` entries (absent ones left out).

    ``payResultUrl`` an http(s) URL; ``remark`` at most :data:`MAX_REMARK` characters; ``goods`` a list
    of 1-:data:`MAX_GOODS` objects and ``customer`` one object, of named text/number/boolean values;
    ``shopperIP`` an IPv4 or IPv6 address; ``tradeCountry`` an ISO 3166-1 alpha-2 code (``CN``, ``HK``).
    No text may hold ``<``, ``>`` or control characters. OrderError names what is wrong.
    """
    fields: dict[str, Any] = {}
    if pay_result_url is not None:
        fields["payResultUrl"] = _check_url(pay_result_url, "payResultUrl")
    if remark is not None:
        fields["remark"] = check_text(remark, "payment remark", MAX_REMARK)
    if goods is not None:
        if isinstance(goods, (str, bytes, Mapping)) or not isinstance(goods, Sequence) or not goods:
            raise OrderError(f"goods must be a non-empty list of objects (one per item), not {type(goods).__name__}")
        if len(goods) > MAX_GOODS:
            raise OrderError(f"goods has {len(goods)} items; at most {MAX_GOODS} are accepted")
        fields["goods"] = [_check_record(item, f"goods[{i}]") for i, item in enumerate(goods)]
    if customer is not None:
        fields["customer"] = _check_record(customer, "customer")
    if shopper_ip is not None:
        try:
            fields["shopperIP"] = str(ipaddress.ip_address(shopper_ip))
        except ValueError:
            raise OrderError(f"shopperIP {shopper_ip!r} is not an IPv4 or IPv6 address") from None
    if trade_country is not None:
        if not (isinstance(trade_country, str) and len(trade_country) == 2 and trade_country.isascii()):
            raise OrderError(f"tradeCountry {trade_country!r} is not a two-letter ISO 3166-1 code such as CN or HK")
        if not (trade_country.isalpha() and trade_country.isupper()):
            raise OrderError(f"tradeCountry {trade_country!r} must be two capital letters such as CN or HK")
        fields["tradeCountry"] = trade_country
    return fields


# ---------------------------------------------------------------------------- serialising


class _Unencodable(Exception):
    """A value with no exact JSON form; ``path`` is filled in on the way out, so the happy path builds none."""

    def __init__(self, template: str) -> None:
        super().__init__(template)
        self.template = template  # holds "{path}"
        self.path: list[str | int] = []

    def message(self) -> str:
        path = ""
        for part in self.path:
            path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
        return "bizContent field " + self.template.format(path=path)


def _encode(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_json_string(value))
    elif kind is dict or (kind is not str and isinstance(value, Mapping)):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unencodable(f"{{path}} has a non-text key {key!r}")
            if not first:
                out.append(",")
            first = False
            out.append(_json_string(key))
            out.append(":")
            try:
                _encode(item, out)
            except _Unencodable as exc:
                exc.path.insert(0, key)
                raise
        out.append("}")
    elif value is None or kind is bool:
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise _Unencodable(f"{{path}} is {value}; amounts must be finite numbers")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        raise _Unencodable(f"{{path}} is a float ({value!r}); money is written from Decimal only")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(_json_string(value))
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            try:
                _encode(item, out)
            except _Unencodable as exc:
                exc.path.insert(0, i)
                raise
        out.append("]")
    else:
        raise _Unencodable(f"{{path}} has type {type(value).__name__}, which has no JSON form")


def serialise(biz: Mapping[str, Any]) -> str:
    """The compact JSON text of ``biz``: keys in insertion order, Decimals as exact numbers, floats refused.

    ``json.loads(serialise(biz), parse_float=Decimal)`` gives the same values back.
    """
    out: list[str] = []
    try:
        _encode(biz, out)
    except _Unencodable as exc:
        raise OrderError(exc.message()) from None
    return "".join(out)


def _amount_like(key: str) -> bool:
    return key == "amount" or key.endswith("Amount")


#: an amount as answers write it: digits, optionally a '.' and more digits (``"100.000000"``); no sign or exponent
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,40}(?:\.[0-9]{1,40})?")


def _decimal_amounts(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _to_decimal(v) if _amount_like(k) and isinstance(v, (str, int)) else _decimal_amounts(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_decimal_amounts(v) for v in value]
    return value


def _to_decimal(value: str | int) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if _PLAIN_AMOUNT.fullmatch(value):
        return Decimal(value)
    return value  # not a plain decimal ("1e1", "-5", " 12"): kept as text, and an answer check refuses it


def _json_float(text: str) -> Decimal | str:
    """A JSON number with a fraction or exponent: a Decimal, except exponent forms (``1e1``), kept as their text."""
    if "e" in text or "E" in text:
        return text
    return Decimal(text)


def parse(text: str) -> dict[str, Any]:
    """Parse an answer's ``bizContent`` text: numbers as Decimal, and plain amount strings (``"100.000000"``) too.

    A number in exponent form (``1e1``) and an amount string that is not a plain decimal stay
    text, so that no check mistakes them for an amount.
    """
    try:
        data = json.loads(text, parse_float=_json_float)
    except (ValueError, RecursionError) as exc:
        raise MessageError(f"bizContent is not JSON text: {exc}") from None
    if not isinstance(data, dict):
        raise MessageError(f"bizContent is a JSON {type(data).__name__}, not an object")
    result: dict[str, Any] = _decimal_amounts(data)
    return result


# ---------------------------------------------------------------------------- builders


def pay_biz(request: PaymentRequest, *, capture_delay_hours: int = 0) -> dict[str, Any]:
    """The ``bizContent`` of ``/v4/payment/unifiedPay`` for a payment-code request.

    ``timeExpire`` (epoch seconds) when the request has one: the gateway closes the order itself
    then; ``notificationUrl`` and ``closeNotificationUrl`` (the same receiver, so the close is
    notified too) when a notification URL is set; the optional fields of :func:`check_pay_fields`.
    """
    check_id(request.merchant_transaction_id, "order id (merchantTransactionId)")
    check_id(request.request_id, "requestId")
    biz: dict[str, Any] = {
        "captureDelayHours": capture_delay_hours,
        "amount": request.money.wire(),
        "currency": request.money.currency,
        "requestId": request.request_id,
        "merchantTransactionId": request.merchant_transaction_id,
        "paymentMethod": request.wallet.payment_method(request.code),
        "device": {"orderTerminal": request.order_terminal},
    }
    if request.notification_url:
        biz["notificationUrl"] = check_notification_url(request.notification_url)
        biz["closeNotificationUrl"] = biz["notificationUrl"]
    if request.time_expire is not None:
        biz["timeExpire"] = check_time_expire(request.time_expire)
    biz.update(
        check_pay_fields(
            pay_result_url=request.pay_result_url,
            remark=request.remark,
            goods=request.goods,
            customer=request.customer,
            shopper_ip=request.shopper_ip,
            trade_country=request.trade_country,
        )
    )
    return biz


def check_time_expire(value: object) -> int:
    """``timeExpire``: whole epoch seconds, a positive int; else OrderError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrderError(f"timeExpire {value!r} must be whole epoch seconds (an int), not {type(value).__name__}")
    if value <= 0:
        raise OrderError(f"timeExpire {value} must be positive epoch seconds, e.g. {int(time.time()) + 60}")
    return value


def query_biz(
    *, merchant_transaction_id: str | None = None, transaction_id: str | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """The ``bizContent`` of ``/v4/payment/query``: by our order id or the gateway's transaction id."""
    if not merchant_transaction_id and not transaction_id:
        raise OrderError("a payment query needs an order id (merchantTransactionId) or a transactionId")
    biz: dict[str, Any] = {}
    if transaction_id:
        biz["transactionId"] = check_id(transaction_id, "transactionId")
    if merchant_transaction_id:
        biz["merchantTransactionId"] = check_id(merchant_transaction_id, "order id (merchantTransactionId)")
    if request_id:
        biz["requestId"] = check_id(request_id, "requestId")
    return biz


def refund_biz(
    *,
    merchant_transaction_id: str,
    merchant_refund_id: str,
    amount: Money,
    notification_url: str | None = None,
    remark: str | None = None,
) -> dict[str, Any]:
    """The ``bizContent`` of ``/v4/payment/refund``."""
    biz: dict[str, Any] = {
        "merchantTransactionId": check_id(merchant_transaction_id, "order id (merchantTransactionId)"),
        "merchantRefundId": check_id(merchant_refund_id, "merchantRefundId"),
        "amount": amount.wire(),
        "currency": amount.currency,
    }
    if notification_url:
        biz["notificationUrl"] = check_notification_url(notification_url)
    if remark:
        biz["remark"] = check_text(remark, "refund remark", MAX_REFUND_REMARK)
    return biz


def refund_query_biz(*, merchant_transaction_id: str, merchant_refund_id: str) -> dict[str, Any]:
    """The ``bizContent`` of ``/v4/refund/query``."""
    return {
        "merchantTransactionId": check_id(merchant_transaction_id, "order id (merchantTransactionId)"),
        "merchantRefundId": check_id(merchant_refund_id, "merchantRefundId"),
    }


def void_biz(
    *, merchant_transaction_id: str, merchant_void_id: str, amount: Money, notification_url: str
) -> dict[str, Any]:
    """The ``bizContent`` of ``/v4/payment/void``: documented for AUTH_SUCCESS (pre-authorised) orders only,
    with a mandatory ``notificationUrl``; never a way to close a barcode order (that is ``timeExpire``)."""
    return {
        "merchantTransactionId": check_id(merchant_transaction_id, "order id (merchantTransactionId)"),
        "merchantVoidId": check_id(merchant_void_id, "merchantVoidId"),
        "amount": amount.wire(),
        "currency": amount.currency,
        "notificationUrl": check_notification_url(notification_url),
    }


def void_query_biz(*, merchant_transaction_id: str, merchant_void_id: str) -> dict[str, Any]:
    """The ``bizContent`` of ``/v4/void/query``."""
    return {
        "merchantVoidId": check_id(merchant_void_id, "merchantVoidId"),
        "merchantTransactionId": check_id(merchant_transaction_id, "order id (merchantTransactionId)"),
    }
