"""The PingPong V4 signing rule, in both directions and for notifications.

``sign = UPPER(HEX(H(salt + k1=v1&k2=v2…)))`` over every top-level field except
``sign`` whose value is not null or empty, keys in ASCII order, raw values, with
``bizContent`` used verbatim: the exact text that is sent. ``H`` comes from the signer
registered for the message's ``signType``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .errors import MessageError, SignatureError
from .plugin_types import SignerType

__all__ = ["check_signature", "parse_message", "sign_message", "signed", "signing_content", "verify_message"]


_JSON_KINDS: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    Decimal: "number",
    type(None): "null",
}


def _value_text(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    kind = _JSON_KINDS.get(type(value), type(value).__name__)
    raise MessageError(
        f"field {key!r} is a JSON {kind}; every top-level value must be text "
        "(bizContent is sent and signed as a string holding JSON text)"
    )


def parse_message(data: bytes, source: str = "the message") -> dict[str, Any]:
    """Parse a message to sign or verify: UTF-8 JSON text holding one object.

    Numbers are read as :class:`~decimal.Decimal` so that their text is signed as written.
    Raises :class:`~paycode.errors.MessageError` naming ``source`` and what is accepted.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MessageError(f"{source} is not UTF-8 text; give one JSON object") from None
    if not text.strip():
        raise MessageError(f'{source} is empty; give one JSON object such as {{"accId": "…", "bizContent": "…"}}')
    try:
        value = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise MessageError(
            f"{source} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); give one JSON object"
        ) from None
    except RecursionError:
        raise MessageError(f"{source} is nested too deeply to be a message; give one JSON object") from None
    except ValueError:  # a whole number beyond the interpreter's digit limit (4300 digits)
        raise MessageError(f"{source} holds a number too long to read; give one JSON object") from None
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), type(value).__name__)
        raise MessageError(f"{source} is a JSON {kind}, not an object; give one JSON object with the message fields")
    return value


def signing_content(message: Mapping[str, Any]) -> str:
    """The joined ``key=value&…`` text (without the salt) that the signature covers."""
    parts = []
    for key in sorted(message):
        if key == "sign":
            continue
        value = message[key]
        if value is None or value == "":
            continue
        parts.append(f"{key}={_value_text(key, value)}")
    return "&".join(parts)


def sign_message(message: Mapping[str, Any], salt: str, signer: SignerType) -> str:
    """The uppercase hex signature of ``message`` under ``salt``."""
    if not salt:
        raise MessageError("the merchant secret (salt) is empty; set PAYCODE_SALT or a salt file")
    content = salt + signing_content(message)
    return signer.digest(content.encode("utf-8")).upper()


def signed(message: Mapping[str, Any], salt: str, signer: SignerType) -> dict[str, Any]:
    """A copy of ``message`` with ``signType`` set to the signer's and ``sign`` filled in."""
    out = {k: v for k, v in message.items() if k != "sign"}
    out["signType"] = signer.sign_type
    out["sign"] = sign_message(out, salt, signer)
    return out


def verify_message(message: Mapping[str, Any], salt: str, signer: SignerType) -> bool:
    """True when ``message['sign']`` matches; compared case-insensitively in constant time."""
    given = message.get("sign")
    if not isinstance(given, str) or not given:
        return False
    expected = sign_message(message, salt, signer)
    return hmac.compare_digest(given.upper().encode("ascii", "replace"), expected.encode("ascii"))


def check_signature(message: Mapping[str, Any], salt: str, signer: SignerType, what: str = "message") -> None:
    """Raise :class:`~paycode.errors.SignatureError` unless the message's signature verifies."""
    if not verify_message(message, salt, signer):
        raise SignatureError(f"{what} signature does not verify (signType {signer.sign_type})")
