"""Issue 16 item 6: the amount grammar, decided once (docs/payment-flow.md, "Amounts").

Accepted: ASCII digits without a leading zero (a single ``0`` before the point is fine), optionally a
``.`` and 1 to the currency's number of decimals, at most 32 characters. Everything else is refused
with one line that names the grammar.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from paycode import Money, MoneyError
from paycode.currencies import MINOR_UNITS
from paycode.models import MAX_AMOUNT, MAX_AMOUNT_TEXT

currencies = st.sampled_from(sorted(MINOR_UNITS))


def follows_the_grammar(text: str, exponent: int) -> bool:
    """The rule written out character by character, independently of the parser's regular expression."""
    whole, point, fraction = text.partition(".")
    if len(text) > MAX_AMOUNT_TEXT or not whole or not all(c in "0123456789" for c in whole + fraction):
        return False
    if len(whole) > 1 and whole[0] == "0":
        return False  # leading zero
    if point and not 1 <= len(fraction) <= exponent:
        return False  # trailing '.', or more decimals than the currency has
    return True


@st.composite
def amount_texts(draw: st.DrawFn) -> tuple[str, str]:
    """A text in the grammar for a drawn currency, with a value the currency can charge."""
    currency = draw(currencies)
    exponent = MINOR_UNITS[currency]
    whole = draw(st.integers(min_value=0, max_value=int(MAX_AMOUNT) - 1))
    decimals = draw(st.integers(min_value=0, max_value=exponent))
    fraction = draw(st.text("0123456789", min_size=decimals, max_size=decimals))
    text = f"{whole}.{fraction}" if fraction else str(whole)
    if Decimal(text) == 0:
        text = "1"
    return text, currency


@given(amount_texts())
@settings(max_examples=300, deadline=None)
def test_accepted_texts_round_trip(case: tuple[str, str]) -> None:
    text, currency = case
    money = Money(text, currency)
    assert money.amount == Decimal(text)
    assert format(money.amount, "f") == text  # the very digits written
    assert Money(format(money.wire(), "f"), currency) == money  # and the wire form is in the grammar too
    assert follows_the_grammar(text, MINOR_UNITS[currency])


@given(st.text(alphabet="0123456789.-+eE ,\t\n\uff11", max_size=40), currencies)
@settings(max_examples=600, deadline=None)
@example("5.", "CNY")
@example(".5", "CNY")
@example(" 12", "CNY")
@example("12 ", "CNY")
@example("00012", "CNY")
@example("0.5", "CNY")
@example("0.50", "CNY")
@example("0.500", "CNY")
@example("012.5", "CNY")
@example("1.5", "JPY")
@example("1.0001", "CLF")
def test_every_text_is_accepted_exactly_when_it_follows_the_grammar(text: str, currency: str) -> None:
    valid = follows_the_grammar(text, MINOR_UNITS[currency])
    try:
        money = Money(text, currency)
    except MoneyError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 400
        if not valid:
            assert "write it like '12.50'" in message or "more decimals than" in message
        else:  # in the grammar, but not a chargeable value
            assert "greater than zero" in message or "too large" in message
    else:
        assert valid and 0 < money.amount < MAX_AMOUNT


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("5.", "not a plain decimal number"),
        (".5", "not a plain decimal number"),
        (" 12", "not a plain decimal number"),
        ("12\n", "not a plain decimal number"),
        ("00012", "not a plain decimal number"),
        ("1e1", "not a plain decimal number"),
        ("-1", "not a plain decimal number"),
        ("NaN", "not a plain decimal number"),
        ("Infinity", "not a plain decimal number"),
        ("1_000", "not a plain decimal number"),
        ("1." + "0" * 10_000, "is longer than 32 characters"),
        ("9" * 33, "is longer than 32 characters"),
    ],
    ids=lambda v: v if len(v) < 20 else f"{v[:8]}...{len(v)}",
)
def test_the_issue_examples_are_refused_naming_the_grammar(text: str, why: str) -> None:
    with pytest.raises(MoneyError) as caught:
        Money.parse(text, "cny")
    message = str(caught.value)
    assert why in message
    assert "write it like '12.50': digits without a leading zero (except '0.50'), optionally a '.'" in message
    assert len(message) < 400  # a 10,000-digit amount is not echoed back


def test_the_grammar_bounds_the_work_not_just_the_value() -> None:
    # 15 integer digits and 4 decimals fit; the length bound refuses padding before any Decimal is built
    assert Money("999999999999999.9999", "CLF").minor == 9999999999999999999
    with pytest.raises(MoneyError, match="too large"):
        Money("1000000000000000", "CNY")
