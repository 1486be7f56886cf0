"""The signer conformance suite: the built-in signers pass it, and each check catches a signer that breaks it.

The known answers were computed outside paycode, with hashlib over the content written out by
hand (``salt`` + ``accId=…&bizContent=…&clientId=…&signType=…&version=1.0``): they do not
depend on paycode's own joining of fields.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable

import pytest
from paycode import SignerType, hookimpl
from paycode.testing import KnownAnswer, SignerConformance
from paycode.testing.signers import check_digest, check_known_answers, check_round_trip, check_tampering

ACC, CLIENT = "2023042011040310224447", "2023042011040310224"
PAY_BIZ = '{"amount":0.02,"currency":"CNY","paymentMethod":{"type":"Wechat-Offline","scanCodeId":"130000000000000001"}}'
ANSWER_BIZ = '{"status":"SUCCESS"}'


def request(sign_type: str) -> dict[str, str]:
    return {"accId": ACC, "clientId": CLIENT, "signType": sign_type, "version": "1.0", "bizContent": PAY_BIZ}


def answer(sign_type: str) -> dict[str, str]:
    """A gateway answer; the empty field is left out of the signature."""
    return {
        "accId": ACC,
        "clientId": CLIENT,
        "code": "000000",
        "description": "Success",
        "signType": sign_type,
        "bizContent": ANSWER_BIZ,
        "notificationUrl": "",
    }


class TestSHA256Conformance(SignerConformance):
    builtin = "signers"
    sign_type = "SHA256"
    known_answers = (
        KnownAnswer(request("SHA256"), "test-salt", "8E9E141912E79C4C5E4C3D3E293B953A591C21E0ADB9A9F953CE3F2CC782B1E0"),
        KnownAnswer(answer("SHA256"), "test-salt", "3edb2eab7471402fb3aa45dcf962a36150bfae3e9b268bfd2992aa8dcdaed2f6"),
    )


class TestMD5Conformance(TestSHA256Conformance):
    sign_type = "MD5"
    known_answers = (
        KnownAnswer(request("MD5"), "test-salt", "50A1C150C3B27CEDD5D64B1A6472DF62"),
        KnownAnswer(answer("MD5"), "test-salt", "0B3A4E40C067166BC894A57F9563A645"),
    )


# ---------------------------------------------------------------------------- a third-party signer


def _sha512(content: bytes) -> str:
    return hashlib.sha512(content).hexdigest().upper()


def sha512_plugin() -> types.ModuleType:
    module = types.ModuleType("paycode_sha512")

    def paycode_register_signers(register: Callable[[SignerType], None]) -> None:
        register(SignerType("SHA512", _sha512, "uppercase hex SHA-512 (a third-party signType)"))

    module.paycode_register_signers = hookimpl(paycode_register_signers)  # type: ignore[attr-defined]
    return module


SHA512_CONTENT = ("s3cret" + f"accId={ACC}&bizContent={PAY_BIZ}&clientId={CLIENT}&signType=SHA512&version=1.0").encode()


class TestThirdPartySignerConformance(SignerConformance):
    plugin = sha512_plugin()
    sign_type = "SHA512"
    known_answers = (KnownAnswer(request("SHA512"), "s3cret", hashlib.sha512(SHA512_CONTENT).hexdigest()),)


# ---------------------------------------------------------------------------- broken signers are caught

GOOD = SignerType("GOOD", _sha512, "good")
MESSAGE = request("GOOD")


def test_lower_case_hex_is_caught() -> None:
    lower = SignerType("LOW", lambda b: hashlib.sha256(b).hexdigest(), "lower")
    with pytest.raises(AssertionError, match="uppercase hex"):
        check_digest(lower, b"abc")


def test_a_digest_of_varying_length_is_caught() -> None:
    varying = SignerType("VAR", lambda b: hashlib.sha256(b).hexdigest().upper()[: 10 + len(b) % 5], "varying")
    with pytest.raises(AssertionError, match="differ in length"):
        check_digest(varying, b"abc")


def test_a_digest_that_ignores_trailing_bytes_is_caught() -> None:
    truncating = SignerType("CUT", lambda b: hashlib.sha256(b[:8]).hexdigest().upper(), "cuts")
    with pytest.raises(AssertionError, match="one more byte gives the same digest"):
        check_digest(truncating, b"0123456789")


def test_a_signature_that_depends_on_the_salt_only_is_caught() -> None:
    """A digest of the first 16 bytes (the salt and the start of accId): every field change goes unnoticed."""
    salt_only = SignerType("SALT", lambda b: hashlib.sha256(b[:16]).hexdigest().upper(), "salt only")
    with pytest.raises(AssertionError, match="changing field 'version' goes unnoticed"):
        check_tampering(salt_only, MESSAGE, "0123456789", "version", "2.0")


def test_dropping_a_field_unnoticed_is_caught() -> None:
    """A digest that leaves ``&version=1.0`` out: dropping that field is not seen (changing it is)."""

    def without_version(content: bytes) -> str:
        return hashlib.sha256(content.replace(b"&version=1.0", b"")).hexdigest().upper()

    blind = SignerType("BLIND", without_version, "blind to the version")
    with pytest.raises(AssertionError, match="dropping field 'version' goes unnoticed"):
        check_tampering(blind, MESSAGE, "salt", "version", "1.0")


def test_a_wrong_known_answer_is_caught() -> None:
    with pytest.raises(AssertionError, match="known answer 1 gives"):
        check_known_answers(GOOD, [KnownAnswer(MESSAGE, "salt", "00" * 64)])


def test_no_known_answer_is_caught() -> None:
    with pytest.raises(AssertionError, match="give known_answers"):
        check_known_answers(GOOD, [])


def test_a_good_signer_passes_every_check() -> None:
    check_digest(GOOD, b"data")
    check_round_trip(GOOD, MESSAGE, "salt")
    for key in ("accId", "bizContent", "version", "newField"):
        check_tampering(GOOD, MESSAGE, "salt", key, "other")
