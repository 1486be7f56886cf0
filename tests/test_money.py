"""Money: Decimal amounts in ISO 4217 currencies, never floats, never more decimals than the currency has."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import Money, MoneyError
from paycode.currencies import MINOR_UNITS
from paycode.models import MAX_AMOUNT

currencies = st.sampled_from(sorted(MINOR_UNITS))


@st.composite
def valid_money(draw: st.DrawFn) -> tuple[Decimal, str]:
    currency = draw(currencies)
    exponent = MINOR_UNITS[currency]
    minor = draw(st.integers(min_value=1, max_value=int(MAX_AMOUNT * 10**exponent) - 1))
    return Decimal(minor).scaleb(-exponent), currency


@given(valid_money())
@settings(max_examples=200, deadline=None)
def test_valid_amounts_round_trip_through_text(money: tuple[Decimal, str]) -> None:
    amount, currency = money
    parsed = Money.parse(f"{amount:f}", currency.lower())
    assert parsed.currency == currency
    assert parsed.amount == amount
    assert parsed.wire() == amount
    assert parsed.minor == int(amount.scaleb(parsed.exponent))
    assert Decimal(str(parsed).split()[0]) == amount


@given(st.floats(allow_nan=True, allow_infinity=True), currencies)
@settings(max_examples=50, deadline=None)
def test_floats_are_always_rejected(value: float, currency: str) -> None:
    with pytest.raises(MoneyError, match="floats are never accepted"):
        Money(value, currency)  # type: ignore[arg-type]


@given(st.decimals(max_value=0, allow_nan=False, allow_infinity=False), currencies)
@settings(max_examples=50, deadline=None)
def test_zero_and_negative_are_rejected(amount: Decimal, currency: str) -> None:
    with pytest.raises(MoneyError, match="greater than zero"):
        Money(amount, currency)


@given(valid_money(), st.integers(min_value=1, max_value=9))
@settings(max_examples=100, deadline=None)
def test_more_decimals_than_the_currency_has_are_rejected(money: tuple[Decimal, str], digit: int) -> None:
    amount, currency = money
    extra = amount + Decimal(digit).scaleb(-(MINOR_UNITS[currency] + 1))
    with pytest.raises(MoneyError, match=f"more decimals than {currency} allows"):
        Money(extra, currency)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=0, max_size=4))
@settings(max_examples=100, deadline=None)
def test_unknown_currencies_are_rejected(currency: str) -> None:
    if currency in MINOR_UNITS:
        assert Money("1", currency).currency == currency
    else:
        with pytest.raises(MoneyError, match="not an ISO 4217 code"):
            Money("1", currency)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-1.00", "no sign"),
        ("+1", "no sign"),
        ("1e3", "exponent"),
        ("1,50", "comma"),
        ("¥1", "currency symbol"),
        ("\uff11\uff12", "plain decimal"),
        ("", "plain decimal"),
        (".", "plain decimal"),
        ("1.2.3", "plain decimal"),
    ],
)
def test_malformed_amount_text_gets_one_clear_line(text: str, fragment: str) -> None:
    with pytest.raises(MoneyError) as caught:
        Money(text, "CNY")
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    assert "12.50" in message  # says what is accepted


def test_trailing_zeros_are_a_value_matter_for_decimals_but_a_grammar_matter_for_text() -> None:
    # a Decimal is a value: 12.500 is 12.50; text follows the amount grammar: at most the currency's decimals
    assert Money(Decimal("12.500"), "CNY").wire() == Decimal("12.50")
    assert Money("7", "JPY").minor == 7
    assert Money(Decimal("1.005"), "BHD").minor == 1005
    with pytest.raises(MoneyError, match=r"more decimals than CNY allows \(2\); e\.g\. 12\.50"):
        Money("12.500", "CNY")
    with pytest.raises(MoneyError, match=r"more decimals than JPY allows \(0\); e\.g\. 12"):
        Money("12.0", "JPY")


def test_rejects_bool_nan_and_too_large() -> None:
    with pytest.raises(MoneyError, match="bool"):
        Money(True, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="finite"):
        Money(Decimal("NaN"), "CNY")
    with pytest.raises(MoneyError, match="too large"):
        Money(MAX_AMOUNT, "CNY")
    with pytest.raises(MoneyError, match="too large"):
        Money(Decimal("1E+40"), "CNY")


def test_hint_for_too_many_decimals_names_a_valid_amount() -> None:
    with pytest.raises(MoneyError, match=r"e\.g\. 12\.34"):
        Money("12.345", "CNY")
    with pytest.raises(MoneyError) as caught:
        Money("0.001", "CNY")
    assert "e.g." not in str(caught.value)  # 0.00 would not be a valid example


def test_money_is_a_frozen_value() -> None:
    money = Money("1.50", "CNY")
    assert money == Money(Decimal("1.5"), "CNY")
    with pytest.raises(AttributeError):
        money.amount = Decimal(2)  # type: ignore[misc]
