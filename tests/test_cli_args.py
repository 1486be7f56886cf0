"""The argparse value types every command shares (paycode.cli._args): what they accept and how they refuse."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode.cli._args import MAX_SECONDS, positive_int, seconds


@given(st.integers(min_value=1, max_value=10**12))
def test_positive_int_accepts_every_whole_number_from_1(value: int) -> None:
    assert positive_int()(str(value)) == value
    assert positive_int("orders")(f" {value} ") == value


def _not_a_count(text: str) -> bool:
    try:
        return int(text, 10) < 1
    except ValueError:
        return True


@given(st.one_of(st.integers(max_value=0).map(str), st.text().filter(_not_a_count)))
def test_positive_int_refuses_the_rest_naming_the_text_and_what_is_wanted(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        positive_int()(text)
    assert str(refused.value) == f"{text!r} is not a whole number >= 1"
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        positive_int("orders")(text)
    assert str(refused.value) == f"{text!r} is not a whole number of orders, 1 or more"


@given(st.floats(min_value=0, exclude_min=True, max_value=MAX_SECONDS))
def test_seconds_accepts_positive_finite_numbers(value: float) -> None:
    assert seconds(repr(value)) == value


@given(st.floats(min_value=MAX_SECONDS, exclude_min=True, allow_infinity=False))
def test_seconds_refuses_more_than_a_week(value: float) -> None:
    """1e300 seconds overflowed the platform's timeouts mid-payment (exit 70 after the request was sent)."""
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        seconds(repr(value))
    assert str(refused.value) == f"{repr(value)!r} seconds is too long; at most 604800 (a week)"


@given(
    st.one_of(
        st.floats(max_value=0).map(repr),
        st.sampled_from(["inf", "-inf", "nan", "Infinity", "", "soon", "1s", "0x10"]),
        st.floats().filter(lambda v: not (v > 0 and math.isfinite(v))).map(str),
    )
)
def test_seconds_refuses_zero_negative_infinite_and_words(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        seconds(text)
    assert str(refused.value) == f"{text!r} is not a number of seconds > 0"


@given(
    config=st.one_of(st.none(), st.text(min_size=1)),
    command=st.sampled_from(["pay", "plugins", "ghost"]),
    rest=st.lists(st.text(), max_size=4),
)
def test_the_command_word_is_found_after_config_whatever_the_file_is_called(
    config: str | None, command: str, rest: list[str]
) -> None:
    from paycode.cli import _command_word

    before = [] if config is None else ["--config", config]
    assert _command_word([*before, command, *rest]) == command
    assert _command_word(before) is None
    assert _command_word(["--help"]) is None
