"""The signer conformance suite: what every registered :class:`~paycode.plugin_types.SignerType` must do.

A signer plugin's tests subclass :class:`SignerConformance`::

    from paycode.testing import KnownAnswer, SignerConformance

    class TestSM3Conformance(SignerConformance):
        plugin = paycode_sm3
        sign_type = "SM3"
        known_answers = [KnownAnswer({"accId": "1", "bizContent": "{}"}, salt="s", sign="…")]

The checks: the signType is registered; the digest is uppercase hex of one length and
deterministic; a signed message verifies (round trip) whatever its fields, and in any field
order; changing any value, dropping or adding a field, or another salt makes it fail
(tamper detection); the signature is compared case-insensitively; and the known answers
(example signatures from the gateway's documentation) are reproduced. Signing follows the
PingPong V4 rule of :mod:`paycode.signing`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..host import PluginHost
from ..plugin_types import SignerType
from ..signing import sign_message, signed, verify_message
from ._suite import PluginSuite

__all__ = [
    "KnownAnswer",
    "SignerConformance",
    "check_digest",
    "check_known_answers",
    "check_round_trip",
    "check_tampering",
    "messages",
]

_HEX = frozenset("0123456789ABCDEF")
#: the suite's methods run for every subclass: one test, several executors
_SHARED = [HealthCheck.differing_executors]


@attrs.frozen
class KnownAnswer:
    """A message, the salt, and the signature the gateway's documentation gives for them."""

    message: Mapping[str, Any]
    salt: str = attrs.field(repr=False)
    sign: str


# ---------------------------------------------------------------------------- strategies

_KEYS = st.text(string.ascii_letters, min_size=1, max_size=12).filter(lambda k: k != "sign")
#: non-empty text values (empty values are left out of the signature by the V4 rule); no surrogates
_VALUES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
_BIZ = st.dictionaries(
    st.text(string.ascii_letters, min_size=1, max_size=8),
    st.one_of(st.integers(0, 10**9).map(str), st.text(string.digits + string.ascii_letters, max_size=12)),
    max_size=4,
).map(lambda d: "{" + ",".join(f'"{k}":"{v}"' for k, v in d.items()) + "}")


def messages() -> st.SearchStrategy[dict[str, str]]:
    """Hypothesis strategy: V4 envelopes (``accId``, ``clientId``, ``version``, ``bizContent``) plus random fields."""
    base = st.fixed_dictionaries(
        {
            "accId": st.text(string.digits, min_size=1, max_size=22),
            "clientId": st.text(string.digits, min_size=1, max_size=19),
            "version": st.just("1.0"),
            "bizContent": _BIZ,
        }
    )
    return st.tuples(base, st.dictionaries(_KEYS, _VALUES, max_size=4)).map(lambda pair: {**pair[1], **pair[0]})


# ---------------------------------------------------------------------------- checks


def check_digest(signer: SignerType, data: bytes) -> None:
    """``digest`` returns uppercase hex, of the same length as for empty input, the same each time."""
    digest = signer.digest(data)
    assert isinstance(digest, str), f"signer {signer.sign_type}: digest() returned {type(digest).__name__}, not str"
    assert digest and set(digest) <= _HEX, (
        f"signer {signer.sign_type}: digest() must be uppercase hex, got {digest[:16]!r}…"
    )
    assert len(digest) == len(signer.digest(b"")), f"signer {signer.sign_type}: digests differ in length"
    assert signer.digest(data) == digest, f"signer {signer.sign_type}: digest() is not deterministic"
    assert signer.digest(data + b"\x00") != digest, f"signer {signer.sign_type}: one more byte gives the same digest"


def check_round_trip(signer: SignerType, message: Mapping[str, Any], salt: str) -> None:
    """A signed message verifies, also with its fields in reverse order, and with the signature in lower case."""
    out = signed(message, salt, signer)
    assert out["signType"] == signer.sign_type
    assert verify_message(out, salt, signer), f"signer {signer.sign_type}: a message it signed does not verify"
    reordered = dict(reversed(list(out.items())))
    assert verify_message(reordered, salt, signer), (
        f"signer {signer.sign_type}: the signature depends on the order of the fields"
    )
    lower = {**out, "sign": out["sign"].lower()}
    assert verify_message(lower, salt, signer), (
        f"signer {signer.sign_type}: a lower-case signature does not verify; compare case-insensitively"
    )


def check_tampering(signer: SignerType, message: Mapping[str, Any], salt: str, key: str, value: str) -> None:
    """Changing ``key`` to ``value``, dropping ``key``, adding a field, another salt: the signature fails."""
    out = signed(message, salt, signer)
    name = signer.sign_type
    if key in out and key != "sign" and out[key] != value:
        changed = {**out, key: value}
        assert not verify_message(changed, salt, signer), f"signer {name}: changing field {key!r} goes unnoticed"
    if key in out and key != "sign":
        dropped = {k: v for k, v in out.items() if k != key}
        assert not verify_message(dropped, salt, signer), f"signer {name}: dropping field {key!r} goes unnoticed"
    if key not in out:
        added = {**out, key: value}
        assert not verify_message(added, salt, signer), f"signer {name}: adding field {key!r} goes unnoticed"
    assert not verify_message(out, salt + "x", signer), f"signer {name}: another salt verifies the message too"
    flipped = out["sign"][:-1] + ("0" if out["sign"][-1] != "0" else "1")
    assert not verify_message({**out, "sign": flipped}, salt, signer), (
        f"signer {name}: a signature with its last character changed still verifies"
    )


def check_known_answers(signer: SignerType, answers: Sequence[KnownAnswer]) -> None:
    """Each documented example signature is reproduced, and verifies."""
    assert answers, (
        f"signer {signer.sign_type}: give known_answers: at least one KnownAnswer(message, salt, sign) "
        "taken from the gateway's documentation or computed independently of the plugin"
    )
    for number, answer in enumerate(answers, 1):
        got = sign_message(answer.message, answer.salt, signer)
        assert got == answer.sign.upper(), (
            f"signer {signer.sign_type}: known answer {number} gives {got[:12]}…, expected {answer.sign[:12].upper()}…"
        )
        assert verify_message({**answer.message, "sign": answer.sign}, answer.salt, signer)


# ---------------------------------------------------------------------------- the suite


class SignerConformance(PluginSuite):
    """Subclass it in a signer plugin's tests; set ``plugin`` (or ``entry_point``), ``sign_type``, ``known_answers``."""

    #: the signType the plugin registers
    sign_type: ClassVar[str | None] = None
    #: example signatures from the gateway's documentation (at least one)
    known_answers: ClassVar[Sequence[KnownAnswer]] = ()

    def signer(self, host: PluginHost | None = None) -> SignerType:
        host = host or self.host()
        assert self.sign_type, f'{type(self).__name__}: set sign_type = "<the signType the plugin registers>"'
        found = host.signers.get(self.sign_type)
        assert found is not None, (
            f"signType {self.sign_type!r} is not registered (registered: {', '.join(host.signers)}; "
            f"problems: {self.describe_problems(host)})"
        )
        return found

    def test_registers_the_sign_type(self) -> None:
        signer = self.signer()
        assert isinstance(signer, SignerType)
        assert signer.description, f"signer {signer.sign_type}: give a description (paycode plugins shows it)"

    @settings(max_examples=50, deadline=None, suppress_health_check=_SHARED)
    @given(data=st.binary(max_size=200))
    def test_digest_is_uppercase_hex(self, data: bytes) -> None:
        check_digest(self.signer(), data)

    @settings(max_examples=50, deadline=None, suppress_health_check=_SHARED)
    @given(message=messages(), salt=_VALUES)
    def test_round_trip(self, message: dict[str, str], salt: str) -> None:
        check_round_trip(self.signer(), message, salt)

    @settings(max_examples=50, deadline=None, suppress_health_check=_SHARED)
    @given(message=messages(), salt=_VALUES, data=st.data())
    def test_tampering_is_detected(self, message: dict[str, str], salt: str, data: st.DataObject) -> None:
        key = data.draw(st.one_of(st.sampled_from(sorted(message)), _KEYS), label="key")
        value = data.draw(_VALUES, label="value")
        check_tampering(self.signer(), message, salt, key, value)

    def test_known_answers(self) -> None:
        check_known_answers(self.signer(), self.known_answers)
