"""The boot keyboard decoder: presses, releases, rollover, control characters, Alt codes, end keys, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from paycode.errors import ScannerConfigError
from paycode_hid import DecodedScan, DiscardedScan, KeyboardDecoder, keyboard_reports

RELEASE = bytes(8)
ROLLOVER = bytes([0, 0, 1, 1, 1, 1, 1, 1])


def report(modifier: int, *usages: int) -> bytes:
    return bytes([modifier, 0, *usages]).ljust(8, b"\0")


def keys(*pairs: tuple[int, int], end: int = 0x28) -> list[bytes]:
    """Press and release each (modifier, usage), then the end key."""
    out: list[bytes] = []
    for modifier, usage in pairs:
        out += [report(modifier, usage), RELEASE]
    return [*out, report(0, end), RELEASE]


def run(reports: Iterable[bytes], decoder: KeyboardDecoder | None = None) -> list[DecodedScan | DiscardedScan]:
    decoder = decoder or KeyboardDecoder("us")
    return [result for r in reports for result in decoder.feed(r)]


def test_recorded_us_code_with_a_rollover_report(recording: Callable[[str], tuple[list[bytes], list[str]]]) -> None:
    reports, expected = recording("keyboard_us_code.hex")
    assert ROLLOVER in reports
    assert [r.text for r in run(reports)] == expected  # type: ignore[union-attr]


def test_recorded_belgian_digits(recording: Callable[[str], tuple[list[bytes], list[str]]]) -> None:
    reports, expected = recording("keyboard_be_digits.hex")
    assert [r.text for r in run(reports, KeyboardDecoder("be"))] == expected  # type: ignore[union-attr]


def test_repeated_digits_need_a_release_between_them(
    recording: Callable[[str], tuple[list[bytes], list[str]]],
) -> None:
    assert [r.text for r in run(keyboard_reports("1100220", "us"))] == ["1100220"]  # type: ignore[union-attr]
    # without release reports the second 1 and the second 0 never went up: they are lost
    reports, expected = recording("keyboard_us_no_release.hex")
    assert [r.text for r in run(reports)] == expected == ["10"]  # type: ignore[union-attr]


def test_rollover_reports_change_nothing() -> None:
    # a held key stays held across an ErrorRollOver report: it is not pressed a second time
    reports = [report(0, 0x1E), ROLLOVER, report(0, 0x1E), RELEASE, ROLLOVER, report(0, 0x1F), RELEASE]
    assert run([*reports, report(0, 0x28)]) == [DecodedScan(text="12", raw=b"12\r", ending="enter")]


def test_two_keys_new_in_one_report_are_typed_in_slot_order() -> None:
    assert [r.text for r in run([report(0, 0x1E, 0x1F), RELEASE, report(0, 0x28)])] == ["12"]  # type: ignore[union-attr]


def test_a_key_held_while_the_next_is_pressed_counts_once() -> None:
    reports = [report(0, 0x1E), report(0, 0x1E, 0x1F), report(0, 0x1F), RELEASE, report(0, 0x28)]
    assert [r.text for r in run(reports)] == ["12"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (((0x01, 0x30),), "\x1d"),  # Ctrl+] = GS
        (((0x10, 0x30),), "\x1d"),  # right Ctrl too
        (((0x01, 0x04),), "\x01"),  # Ctrl+a
        (((0x03, 0x04),), "\x01"),  # Ctrl+Shift+A
        (((0x03, 0x23),), "\x1e"),  # Ctrl+^ (Shift+6) = RS
        (((0x03, 0x2D),), "\x1f"),  # Ctrl+_ = US
    ],
)
def test_ctrl_keys_type_control_characters(pairs: tuple[tuple[int, int], ...], expected: str) -> None:
    assert [r.text for r in run(keys(*pairs))] == [expected]  # type: ignore[union-attr]


def test_ctrl_with_a_digit_discards_the_scan() -> None:
    assert run(keys((0, 0x1E), (0x01, 0x1F))) == [DiscardedScan("Ctrl with key 0x1F is not a control character")]


def alt_code(digits: str, alt: int = 0x04) -> list[bytes]:
    usage = {str(i + 1): 0x59 + i for i in range(9)} | {"0": 0x62}
    out = [report(alt)]
    for d in digits:
        out += [report(alt, usage[d]), report(alt)]
    return [*out, RELEASE]


@pytest.mark.parametrize(
    ("digits", "expected"),
    [("0029", "\x1d"), ("29", "\x1d"), ("0128", "€"), ("0252", "ü"), ("129", "ü"), ("065", "A")],
)
def test_alt_codes(digits: str, expected: str) -> None:
    assert [r.text for r in run([*alt_code(digits), report(0, 0x28)])] == [expected]  # type: ignore[union-attr]


def test_right_alt_is_alt_on_a_layout_without_altgr_and_altgr_on_one_with_it() -> None:
    assert [r.text for r in run([*alt_code("0064", alt=0x40), report(0, 0x28)])] == ["@"]  # type: ignore[union-attr]
    de = KeyboardDecoder("de")
    assert run([report(0x40, 0x14), RELEASE, report(0, 0x28)], de)[0].text == "@"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("reports", "reason"),
    [
        (alt_code("0129"), "Alt code 0129 is not a character of code page 1252"),
        (alt_code("300"), "Alt code 300 is not a character of code page 437"),
        ([report(0x04, 0x04), RELEASE], "Alt with key 0x04 is not an Alt code"),
        ([report(0x08, 0x04), RELEASE], "GUI (Windows) key"),
        ([report(0, 0x3A), RELEASE], "key 0x3A (F1) types nothing on layout us"),
        ([report(0, 0x2A), RELEASE], "key 0x2A (Backspace) types nothing"),
        ([report(0x40, 0x04), RELEASE], "key 0x04 is not an Alt code"),
        ([report(0x04), report(0x04, 0x59), report(0x04, 0x59, 0x28)], "the scan ended inside an Alt code"),
    ],
)
def test_keys_that_type_nothing_discard_the_whole_scan(reports: list[bytes], reason: str) -> None:
    decoder = KeyboardDecoder("us")
    before = run(keys((0, 0x1D), (0, 0x14), end=0x2C)[:-2], decoder)  # "zq", no end yet
    assert before == [] and decoder.pending
    results = run([*reports, report(0, 0x28), RELEASE], decoder)
    assert len(results) == 1 and isinstance(results[0], DiscardedScan)
    assert reason in results[0].reason
    assert "zq" not in results[0].reason
    # the next scan is fine
    assert run(keys((0, 0x20)), decoder) == [DecodedScan(text="3", raw=b"3\r", ending="enter")]


def test_altgr_level_left_empty_discards() -> None:
    results = run([report(0x40, 0x04), RELEASE, report(0, 0x28)], KeyboardDecoder("de"))
    assert results == [DiscardedScan("key AltGr+0x04 types nothing on layout de")]


def test_end_keys() -> None:
    assert run(keys((0, 0x1E), end=0x2B)) == [DecodedScan(text="1", raw=b"1\t", ending="tab")]
    assert run(keys((0, 0x1E), end=0x58)) == [DecodedScan(text="1", raw=b"1\r", ending="enter")]
    only_enter = KeyboardDecoder("us", end=("enter",))
    assert run(keys((0, 0x1E), end=0x2B), only_enter) == []
    assert run([report(0, 0x28)], only_enter) == [DiscardedScan("key 0x2B (Tab) types nothing on layout us")]


def test_an_end_key_alone_is_no_scan() -> None:
    assert run([report(0, 0x28), RELEASE, report(0, 0x2B), RELEASE]) == []


def test_overlong_scans_are_discarded_and_the_next_one_read() -> None:
    decoder = KeyboardDecoder("us", max_length=5)
    assert run(keyboard_reports("123456", "us"), decoder) == [DiscardedScan("scan longer than 5 characters")]
    assert [r.text for r in run(keyboard_reports("12345", "us"), decoder)] == ["12345"]  # type: ignore[union-attr]


def test_numbered_reports() -> None:
    decoder = KeyboardDecoder("us", report_id=1)
    numbered = [b"\x01" + r for r in keyboard_reports("42", "us")]
    other = b"\x03" + report(0, 0x1E)
    assert [r.text for r in run([other, *numbered], decoder)] == ["42"]  # type: ignore[union-attr]


def test_short_report_discards_the_scan() -> None:
    results = run([report(0, 0x1E), b"\x00\x00\x1f", RELEASE, report(0, 0x28)])
    assert results == [DiscardedScan("keyboard report of 3 bytes; expected 8")]


def test_flush_ends_or_discards_a_scan_without_end_key() -> None:
    gap_ends = KeyboardDecoder("us", end=("enter", "gap"))
    run(keyboard_reports("77", "us", end=None), gap_ends)
    assert gap_ends.pending
    assert gap_ends.flush() == DecodedScan(text="77", raw=b"77", ending="gap")
    assert not gap_ends.pending and gap_ends.flush() is None
    enter_only = KeyboardDecoder("us")
    run(keyboard_reports("77", "us", end=None), enter_only)
    assert enter_only.flush() == DiscardedScan("the keys stopped before the end key (enter/tab) of the scan")


def test_reset_forgets_keys_held_and_the_scan_under_way() -> None:
    decoder = KeyboardDecoder("us")
    run([report(0, 0x1E)], decoder)
    decoder.reset()
    assert not decoder.pending
    # 0x1E is pressed again from the decoder's point of view
    assert [r.text for r in run([report(0, 0x1E), report(0, 0x28)], decoder)] == ["1"]  # type: ignore[union-attr]


def test_bad_end_option() -> None:
    with pytest.raises(ScannerConfigError, match="accepted: a comma-separated choice of enter, tab, gap"):
        KeyboardDecoder("us", end=("space",))


def test_decoded_scan_repr_masks_the_code() -> None:
    scan = run(keyboard_reports("130000000000000001", "us"))[0]
    assert "130000000000000001" not in repr(scan)
    assert "1300**********0001" in repr(scan)


def test_discards_name_their_kind() -> None:
    from paycode_hid import KeyboardDecoder, keyboard_reports

    decoder = KeyboardDecoder("us", max_length=5)
    overlong = [r for report in keyboard_reports("1234567") for r in decoder.feed(report)]
    assert [r.kind for r in overlong] == ["overlong"]  # type: ignore[union-attr]
    [r for report in keyboard_reports("12", end=None) for r in decoder.feed(report)]
    incomplete = decoder.flush()
    assert incomplete is not None and incomplete.kind == "incomplete"  # type: ignore[union-attr]
