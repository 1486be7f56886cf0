"""The PingPong V4 signing rule: round trips, tamper detection, bizContent verbatim, both signTypes."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import MessageError, SignatureError
from paycode.plugins.signers import MD5, SHA256
from paycode.signing import check_signature, parse_message, sign_message, signed, signing_content, verify_message

SALT = "0123456789ABCDEF"
SIGNERS = [SHA256, MD5]

keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12).filter(
    lambda k: k != "sign"
)
values = st.text(min_size=1, max_size=40).filter(lambda v: "\x00" not in v)
messages = st.dictionaries(keys, values, min_size=1, max_size=8)
salts = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=32)


def reference_sign(message: dict[str, Any], salt: str, algorithm: str) -> str:
    """The rule as the reference page states it, written independently of paycode.signing."""
    pairs = sorted((k, v) for k, v in message.items() if k != "sign" and v not in (None, ""))
    content = salt + "&".join(f"{k}={v}" for k, v in pairs)
    return hashlib.new(algorithm, content.encode("utf-8")).hexdigest().upper()


def test_known_request_signature() -> None:
    biz = '{"amount":0.02,"currency":"CNY","paymentMethod":{"type":"Wechat-Offline","scanCodeId":"130000000000000001"}}'
    message = {
        "accId": "2023042011040310224447",
        "clientId": "2023042011040310224",
        "signType": "SHA256",
        "version": "1.0",
        "bizContent": biz,
    }
    expected_content = (
        f"accId=2023042011040310224447&bizContent={biz}&clientId=2023042011040310224&signType=SHA256&version=1.0"
    )
    assert signing_content(message) == expected_content
    digest = hashlib.sha256((SALT + expected_content).encode()).hexdigest().upper()
    assert sign_message(message, SALT, SHA256) == digest
    assert len(digest) == 64 and digest == digest.upper()


@pytest.mark.parametrize("signer", SIGNERS, ids=lambda s: s.sign_type)
@given(message=messages, salt=salts)
@settings(max_examples=60, deadline=None)
def test_sign_matches_the_reference_rule_and_verifies(signer: Any, message: dict[str, str], salt: str) -> None:
    signature = sign_message(message, salt, signer)
    assert signature == reference_sign(message, salt, signer.sign_type.lower())
    assert verify_message({**message, "sign": signature}, salt, signer)
    assert verify_message({**message, "sign": signature.lower()}, salt, signer)  # case-insensitive


@pytest.mark.parametrize("signer", SIGNERS, ids=lambda s: s.sign_type)
@given(message=messages, salt=salts, data=st.data())
@settings(max_examples=60, deadline=None)
def test_any_tampering_is_detected(signer: Any, message: dict[str, str], salt: str, data: st.DataObject) -> None:
    good = signed(message, salt, signer)
    key = data.draw(st.sampled_from(sorted(k for k in good if k != "sign")))
    tampered = dict(good)
    tampered[key] = good[key] + data.draw(st.text(min_size=1, max_size=3))
    assert not verify_message(tampered, salt, signer)
    assert not verify_message(good, salt + "x", signer)
    flipped = good["sign"][:-1] + ("0" if good["sign"][-1] != "0" else "1")
    assert not verify_message({**good, "sign": flipped}, salt, signer)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.text(max_size=8), max_size=5))
@settings(max_examples=60, deadline=None)
def test_biz_content_is_signed_verbatim(biz: dict[str, Any]) -> None:
    compact = json.dumps(biz, separators=(",", ":"))
    spaced = json.dumps(biz, indent=1)
    one = sign_message({"accId": "1", "bizContent": compact}, SALT, SHA256)
    assert one == reference_sign({"accId": "1", "bizContent": compact}, SALT, "sha256")
    if compact != spaced:
        assert one != sign_message({"accId": "1", "bizContent": spaced}, SALT, SHA256)


def test_empty_and_null_fields_are_left_out() -> None:
    base = {"accId": "1", "clientId": "2"}
    assert signing_content({**base, "description": "", "code": None, "sign": "X"}) == "accId=1&clientId=2"


def test_signed_sets_sign_type_and_check_signature_raises() -> None:
    message = signed({"accId": "1", "signType": "SHA256"}, SALT, MD5)
    assert message["signType"] == "MD5"
    check_signature(message, SALT, MD5)
    with pytest.raises(SignatureError, match="does not verify"):
        check_signature({**message, "accId": "2"}, SALT, MD5, what="response")


def test_missing_sign_and_empty_salt() -> None:
    assert not verify_message({"accId": "1"}, SALT, SHA256)
    assert not verify_message({"accId": "1", "sign": 5}, SALT, SHA256)
    with pytest.raises(MessageError, match="salt"):
        sign_message({"accId": "1"}, "", SHA256)


def test_nested_objects_at_top_level_are_refused() -> None:
    with pytest.raises(MessageError, match="JSON object; every top-level value must be text"):
        sign_message({"bizContent": {"amount": 1}}, SALT, SHA256)


def test_parse_message_keeps_number_text_and_refuses_non_objects() -> None:
    assert parse_message(b'{"amount": 0.10}') == {"amount": Decimal("0.10")}
    assert signing_content(parse_message(b'{"amount": 0.10}')) == "amount=0.10"
    assert parse_message("\ufeff{}".encode()) == {}
    for data, fragment in [
        (b"", "is empty"),
        (b"   ", "is empty"),
        (b"{nope", "is not JSON"),
        (b"[1, 2]", "JSON array, not an object"),
        (b'"text"', "JSON string, not an object"),
        (b"null", "JSON null, not an object"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply to be a message"),
        (b'{"a": ' + b"1" * 5000 + b"}", "holds a number too long to read"),
    ]:
        with pytest.raises(MessageError, match=fragment) as caught:
            parse_message(data, "the message")
        assert "\n" not in str(caught.value)
