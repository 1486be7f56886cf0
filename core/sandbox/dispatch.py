"""From request bytes to a signed V4 answer: envelope, merchant, signature, ``bizContent``, business rules.

The checks run in the gateway's order and stop at the first failure: a JSON envelope
with ``version`` 1.0, a known ``signType`` and ``bizContent`` as JSON text or as an object
(read and verified as its canonical text, :func:`canonical_text`) (``102000``), a known ``accId``/``clientId``
(``103000``), the signature (``104000``), then the path's ``bizContent`` fields
(``102000``) and the ledger's rules. Answers to requests whose merchant is unknown cannot
be signed and carry an empty ``sign``; every other answer is signed with the merchant's
salt and the request's ``signType``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ..errors import GatewayRejected
from ..models import WalletType
from ..plugin_types import SignerType
from ..signing import sign_message, verify_message
from .ledger import Answer, Credentials, Ledger
from .validation import (
    bad_parameter,
    check_text,
    parse_pay,
    parse_query,
    parse_refund,
    parse_refund_query,
    parse_void,
    parse_void_query,
)

__all__ = ["V4_PATHS", "Dispatcher", "Reply", "canonical_text"]

#: the V4 paths the sandbox serves
V4_PATHS: tuple[str, ...] = (
    "/v4/payment/unifiedPay",
    "/v4/payment/query",
    "/v4/payment/refund",
    "/v4/refund/query",
    "/v4/payment/void",
    "/v4/void/query",
)
_ENVELOPE = ("accId", "clientId", "signType", "sign", "version", "bizContent")


@attrs.frozen
class Reply:
    """An answer ready to send: HTTP status, the response envelope, and how long to hold it first."""

    http_status: int
    envelope: Mapping[str, Any]
    hold: float = 0.0

    def body(self) -> bytes:
        return json.dumps(self.envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def with_bad_signature(self) -> Reply:
        """The same answer with a signature that cannot verify (a well-formed but wrong hex digest)."""
        wrong = hashlib.sha256(b"spoiled:" + str(self.envelope.get("sign", "")).encode()).hexdigest().upper()
        return attrs.evolve(self, envelope={**self.envelope, "sign": wrong})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _parse_biz(text: str) -> dict[str, Any]:
    """``bizContent`` parsed exactly: numbers with a fraction become Decimal, NaN/Infinity are refused."""
    try:
        biz = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise bad_parameter(f"bizContent is not valid JSON text ({type(exc).__name__})") from None
    if not isinstance(biz, dict):
        raise bad_parameter("bizContent must hold a JSON object")
    return biz


def _biz_text(biz: Mapping[str, Any]) -> str:
    return json.dumps(biz, ensure_ascii=False, separators=(",", ":"))


@attrs.frozen
class _Number:
    """A JSON number as written in the request (so a ``bizContent`` object is re-written with its numbers as sent)."""

    text: str


def _read_envelope(body: bytes) -> Any:
    """The request body parsed with every number kept as written (:class:`_Number`)."""
    return json.loads(body.decode("utf-8"), parse_float=_Number, parse_int=_Number, parse_constant=_Number)


def canonical_text(value: Any) -> str:
    """A ``bizContent`` sent as an object, as the JSON text its signature covers.

    Compact (no whitespace), keys in the order they were received, strings as JSON strings with
    non-ASCII characters as they are (``JSON.stringify``'s form), numbers exactly as written
    in the request.
    """
    if isinstance(value, _Number):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json_text(k)}:{canonical_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical_text(v) for v in value) + "]"
    return _json_text(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class Dispatcher:
    """Answers one V4 request; the HTTP layer stays out of it."""

    def __init__(self, ledger: Ledger, wallets: Mapping[str, WalletType], signers: Mapping[str, SignerType]) -> None:
        self.ledger = ledger
        self.wallets = wallets
        self.signers = signers
        self._routes: dict[str, Callable[[str, str, Mapping[str, Any]], Answer]] = {
            "/v4/payment/unifiedPay": lambda acc, st, biz: ledger.pay(acc, parse_pay(biz, self.wallets), st),
            "/v4/payment/query": lambda acc, st, biz: ledger.query(acc, parse_query(biz)),
            "/v4/payment/refund": lambda acc, st, biz: ledger.refund(acc, parse_refund(biz)),
            "/v4/refund/query": lambda acc, st, biz: ledger.refund_query(acc, parse_refund_query(biz)),
            "/v4/payment/void": lambda acc, st, biz: ledger.void(acc, parse_void(biz)),
            "/v4/void/query": lambda acc, st, biz: ledger.void_query(acc, parse_void_query(biz)),
        }

    def handle(self, path: str, body: bytes) -> Reply:
        """The reply to a POST of ``body`` to ``path`` (one of :data:`V4_PATHS`)."""
        try:
            message = _read_envelope(body)
        except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return self._unsigned("102000", "bad parameter: the request body is not UTF-8 JSON")
        if not isinstance(message, dict):
            return self._unsigned("102000", "bad parameter: the request body must be a JSON object (the V4 envelope)")
        if isinstance(message.get("bizContent"), dict):  # the object form: signed and read as its canonical text
            try:
                message = {**message, "bizContent": canonical_text(message["bizContent"])}
            except RecursionError:
                return self._unsigned("102000", "bad parameter: bizContent is nested too deeply")
        problem = self._envelope_problem(message)
        if problem:
            return self._unsigned("102000", f"bad parameter: {problem}", message)
        merchant = self.ledger.credentials(message["accId"])
        if merchant is None or merchant.client_id != message["clientId"]:
            return self._unsigned("103000", "authentication failed: unknown accId or clientId", message)
        sign_type = message["signType"]
        if not verify_message(message, merchant.salt, self.signers[sign_type]):
            return self._signed(merchant, sign_type, Answer("104000", "invalid signature"))
        biz: dict[str, Any] = {}
        try:
            biz = _parse_biz(message["bizContent"])
            answer = self._routes[path](merchant.acc_id, sign_type, biz)
        except GatewayRejected as exc:
            answer = Answer(exc.context.get("code", "102000"), f"bad parameter: {exc}", _echo_ids(biz))
        return self._signed(merchant, sign_type, answer)

    def _envelope_problem(self, message: Mapping[str, Any]) -> str | None:
        for key in _ENVELOPE:
            value = message.get(key)
            if not isinstance(value, str) or not value:
                return (
                    f"{key} is missing or not text; the envelope needs {', '.join(_ENVELOPE)} as text "
                    "(bizContent as JSON text or as a JSON object)"
                )
        if message["version"] != "1.0":
            return f'version {message["version"]!r} is not supported; send "1.0"'
        if message["signType"] not in self.signers:
            return f"signType {message['signType']!r} is not supported; accepted: {', '.join(sorted(self.signers))}"
        if "\n" in message["bizContent"] or "\r" in message["bizContent"]:
            return "bizContent contains a newline; send compact JSON text on one line"
        try:  # inside bizContent the fields are checked one by one, after parsing, so the answer names the field
            for key in _ENVELOPE:
                if key != "bizContent":
                    check_text(key, message[key])
        except GatewayRejected as exc:
            return str(exc)
        return None

    def _signed(self, merchant: Credentials, sign_type: str, answer: Answer) -> Reply:
        envelope: dict[str, Any] = {
            "accId": merchant.acc_id,
            "clientId": merchant.client_id,
            "code": answer.code,
            "description": answer.description,
            "signType": sign_type,
            "bizContent": _biz_text(answer.biz),
        }
        envelope["sign"] = sign_message(envelope, merchant.salt, self.signers[sign_type])
        return Reply(answer.http_status, envelope, answer.hold)

    def _unsigned(self, code: str, description: str, message: Mapping[str, Any] | None = None) -> Reply:
        message = message or {}
        envelope = {
            "accId": _short_text(message.get("accId")),
            "clientId": _short_text(message.get("clientId")),
            "code": code,
            "description": description,
            "signType": _short_text(message.get("signType")),
            "sign": "",
            "bizContent": "{}",
        }
        return Reply(200, envelope)


def _short_text(value: Any) -> str:
    return value if isinstance(value, str) and len(value) <= 64 and value.isprintable() else ""


def _echo_ids(biz: Mapping[str, Any]) -> dict[str, str]:
    """The ids of a rejected request that are safe to echo, so the client can match the answer."""
    ids = {}
    for key in ("requestId", "merchantTransactionId"):
        value = _short_text(biz.get(key))
        if value and "<" not in value and ">" not in value:
            ids[key] = value
    return ids
