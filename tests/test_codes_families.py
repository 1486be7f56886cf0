"""Issue 11 item 5: every result-code family the V4 documentation lists has one decided meaning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode.gateway import RESULT_CODES, CodeMeaning, code_family, code_meaning

DOCS = Path(__file__).resolve().parent.parent / "docs" / "payment-flow.md"

S, P, R, D, U, N = (
    CodeMeaning.SUCCESS,
    CodeMeaning.PROCESSING,
    CodeMeaning.REFUSED,
    CodeMeaning.DECLINED,
    CodeMeaning.UNKNOWN,
    CodeMeaning.NOT_FOUND,
)


def test_000000_transaction_succeeded() -> None:
    assert code_meaning("000000") is S


def test_001000_request_succeeded_the_status_decides() -> None:
    assert code_meaning("001000") is U


def test_002000_processing() -> None:
    assert code_meaning("002000") is P


@pytest.mark.parametrize("code", ["101000", "101001", "101999"])
def test_101xxx_merchant_state_is_refused(code: str) -> None:
    assert code_meaning(code) is R


def test_102000_bad_parameter_is_refused() -> None:
    assert code_meaning("102000") is R and code_meaning("102001") is R


def test_103000_authentication_failed_is_refused() -> None:
    assert code_meaning("103000") is R


def test_104000_invalid_signature_is_refused() -> None:
    assert code_meaning("104000") is R


def test_105000_invalid_or_expired_is_refused() -> None:
    assert code_meaning("105000") is R


@pytest.mark.parametrize("code", ["106000", "106001", "106123"])
def test_106xxx_currency_or_amount_is_refused(code: str) -> None:
    assert code_meaning(code) is R


def test_107000_duplicate_is_unknown() -> None:
    assert code_meaning("107000") is U


def test_107001_does_not_exist_is_not_found() -> None:
    assert code_meaning("107001") is N


@pytest.mark.parametrize("code", ["108000", "108555", "109000", "109999"])
def test_108xxx_and_109xxx_are_refused(code: str) -> None:
    assert code_meaning(code) is R


@given(st.integers(min_value=200000, max_value=299999))
@settings(max_examples=50, deadline=None)
def test_2xxxxx_risk_control_is_declined(n: int) -> None:
    assert code_meaning(str(n)) is D


@given(st.integers(min_value=300000, max_value=399999))
@settings(max_examples=50, deadline=None)
def test_3xxxxx_wallet_decline_is_declined(n: int) -> None:
    assert code_meaning(str(n)) is D
    assert code_meaning("301002") is D and code_meaning("301099") is D


@given(st.integers(min_value=400000, max_value=499999))
@settings(max_examples=50, deadline=None)
def test_4xxxxx_is_refused(n: int) -> None:
    assert code_meaning(str(n)) is R


@given(st.integers(min_value=500000, max_value=599999))
@settings(max_examples=50, deadline=None)
def test_5xxxxx_system_error_is_unknown(n: int) -> None:
    assert code_meaning(str(n)) is U


def test_600002_upstream_timeout_is_unknown() -> None:
    assert code_meaning("600002") is U


FULL_WIDTH = "\uff13\uff10\uff11\uff10\uff10\uff12"  # 301002 in full-width digits
ARABIC_INDIC = "\u0663\u0660\u0661\u0660\u0660\u0662"  # 301002 in Arabic-Indic digits
SHAPES = ["", "0", "00000", "0000000", "abcdef", "10700l", " 00000", "000000 ", FULL_WIDTH, ARABIC_INDIC, "-10000"]
UNDOCUMENTED = ["600001", "700000", "999999", "100000", "110000", "107002", "003000", "010000"]


@pytest.mark.parametrize("code", [*SHAPES, *UNDOCUMENTED])
def test_unknown_shapes_and_undocumented_codes_are_unknown(code: str) -> None:
    assert code_meaning(code) is U and code_family(code) is None


@given(st.text(max_size=8))
@settings(max_examples=200, deadline=None)
def test_any_text_has_a_meaning_and_never_raises(code: str) -> None:
    meaning = code_meaning(code)
    if meaning is not U:
        assert len(code) == 6 and code.isascii() and code.isdigit()


def test_families_do_not_overlap() -> None:
    for n in range(0, 1_000_000, 997):  # a spread of codes, plus every documented literal
        code = f"{n:06d}"
        assert sum(f.matches(code) for f in RESULT_CODES) <= 1, code
    for family in RESULT_CODES:
        literal = family.pattern.replace("x", "0")
        assert [f for f in RESULT_CODES if f.matches(literal)] == [family]


def _docs_table() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Result codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([0-9x]{6})` \| ([a-z ]+) \|", section, flags=re.MULTILINE)
    return dict(rows)


def test_the_docs_table_gives_every_family_its_meaning() -> None:
    table = _docs_table()
    assert len(table) == len(RESULT_CODES)
    for family in RESULT_CODES:
        assert table[family.pattern] == family.meaning.value.replace("_", " "), family.pattern
