"""Round trips: random text -> what a scanner sends -> decoded text, for every mode and layout."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from paycode_hid import (
    LAYOUTS,
    DecodedScan,
    EvdevKeyDecoder,
    KeyboardDecoder,
    PosDecoder,
    key_events,
    keyboard_reports,
    pos_reports,
)

ROLLOVER = bytes([0, 0, 1, 1, 1, 1, 1, 1])
#: characters beyond the layouts' keys: composed with dead keys, control characters, Alt codes
EXTRA = set("êéÉüñçß€©°µ") | {chr(c) for c in range(0x00, 0x20)}
PAYMENT_CODES = st.from_regex(r"\A(1[0-5]|2[5-9]|30)[0-9]{14,22}\Z")


@st.composite
def layout_and_text(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(LAYOUTS)))
    layout = LAYOUTS[name]
    alphabet = "".join(sorted(layout.characters() | layout.accents() | EXTRA))
    return name, draw(st.text(alphabet=alphabet, min_size=1, max_size=40))


def decode_reports(decoder: KeyboardDecoder, reports: list[bytes]) -> list[str]:
    results = [r for rep in reports for r in decoder.feed(rep)]
    assert all(isinstance(r, DecodedScan) for r in results), results
    return [r.text for r in results]  # type: ignore[union-attr]


@settings(max_examples=150)
@given(layout_and_text(), st.lists(st.integers(min_value=0, max_value=400), max_size=4))
def test_keyboard_round_trip_with_rollover_noise(case: tuple[str, str], rollovers: list[int]) -> None:
    name, text = case
    reports = keyboard_reports(text, name)
    for position in sorted(rollovers, reverse=True):
        reports.insert(min(position, len(reports) - 1), ROLLOVER)
    assert decode_reports(KeyboardDecoder(name), reports) == [text]


@given(st.sampled_from(sorted(LAYOUTS)), PAYMENT_CODES, st.sampled_from(["enter", "tab"]))
def test_payment_codes_on_every_layout(name: str, code: str, end: str) -> None:
    decoder = KeyboardDecoder(name)
    assert decode_reports(decoder, keyboard_reports(code, name, end=end)) == [code]
    assert decode_reports(decoder, keyboard_reports(code, name, end=end)) == [code]  # and the next scan


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_without_release_reports_a_repeated_digit_is_lost(code: str) -> None:
    collapsed = "".join(digit for digit, _ in itertools.groupby(code))
    reports = keyboard_reports(code, "us", release=False)
    assert decode_reports(KeyboardDecoder("us"), reports) == [collapsed]


@settings(max_examples=150)
@given(layout_and_text())
def test_evdev_round_trip(case: tuple[str, str]) -> None:
    name, text = case
    decoder = EvdevKeyDecoder(name)
    results = [r for event in key_events(keyboard_reports(text, name)) for r in decoder.feed(*event)]
    assert results and all(isinstance(r, DecodedScan) for r in results)
    assert [r.text for r in results] == [text]  # type: ignore[union-attr]


@given(
    st.binary(min_size=1, max_size=400),
    st.sampled_from(["]C0", "]Q1", "]E0", "]d2", None]),
    st.integers(min_value=0, max_value=255),
)
def test_pos_round_trip(data: bytes, aim: str | None, code_id: int) -> None:
    decoder = PosDecoder()
    results = [r for rep in pos_reports(data, aim, code_id=code_id) for r in decoder.feed(rep)]
    assert len(results) == 1 and isinstance(results[0], DecodedScan)
    scan = results[0]
    assert scan.raw == (aim or "").encode() + data
    assert scan.aim == aim
    try:
        assert scan.text == data.decode("utf-8")
    except UnicodeDecodeError:
        assert scan.text == data.decode("latin-1")
    assert not decoder.pending
