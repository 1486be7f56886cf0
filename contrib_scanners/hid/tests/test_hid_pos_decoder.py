"""The HID POS decoder: report layout, continuation across reports, malformed and overlong input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from paycode_hid import DecodedScan, DiscardedScan, PosDecoder, pos_reports, symbology_of

Recording = Callable[[str], tuple[list[bytes], list[str]]]


def run(reports: list[bytes], decoder: PosDecoder | None = None) -> list[DecodedScan | DiscardedScan]:
    decoder = decoder or PosDecoder()
    return [result for r in reports for result in decoder.feed(r)]


def hand_made(length: int, aim: bytes, data: bytes, *, continued: bool = False, code_id: int = 0) -> bytes:
    report = bytearray(64)
    report[0], report[1] = 0x02, length
    report[2:5] = aim
    report[5 : 5 + len(data)] = data
    report[61] = code_id
    report[63] = 1 if continued else 0
    return bytes(report)


def test_one_report_by_hand() -> None:
    report = hand_made(18, b"]C0", b"130000000000000001", code_id=0x6A)
    assert run([report]) == [
        DecodedScan(text="130000000000000001", raw=b"]C0130000000000000001", aim="]C0", code_id="j")
    ]


def test_continued_over_two_reports_by_hand() -> None:
    first = hand_made(56, b"]Q1", b"A" * 56, continued=True)
    second = hand_made(4, b"]Q1", b"BCDE")
    decoder = PosDecoder()
    assert run([first], decoder) == [] and decoder.pending
    assert run([second], decoder) == [DecodedScan(text="A" * 56 + "BCDE", raw=b"]Q1" + b"A" * 56 + b"BCDE", aim="]Q1")]
    assert not decoder.pending


def test_recorded_qr_over_three_reports(recording: Recording) -> None:
    reports, expected = recording("pos_qr_three_reports.hex")
    assert len(reports) == 3 and [r[63] & 1 for r in reports] == [1, 1, 0]
    results = run(reports)
    assert [r.text for r in results] == expected  # type: ignore[union-attr]
    assert results[0].aim == "]Q1" and results[0].code_id == "s"  # type: ignore[union-attr]


def test_recorded_two_scans_around_another_report_id(recording: Recording) -> None:
    reports, expected = recording("pos_two_scans.hex")
    results = run(reports)
    assert [r.text for r in results] == expected  # type: ignore[union-attr]
    assert [r.aim for r in results] == ["]E0", "]C0"]  # type: ignore[union-attr]


def test_exactly_56_bytes_fit_one_report() -> None:
    reports = pos_reports(b"9" * 56, "]C0")
    assert len(reports) == 1
    assert run(reports)[0].text == "9" * 56  # type: ignore[union-attr]
    assert len(pos_reports(b"9" * 57, "]C0")) == 2


def test_no_aim_identifier() -> None:
    assert run(pos_reports("4006381333931", None)) == [
        DecodedScan(text="4006381333931", raw=b"4006381333931", aim=None, code_id=None)
    ]


def test_bytes_that_are_not_utf8_are_read_as_latin1() -> None:
    assert run(pos_reports(b"caf\xe9", "]C0"))[0].text == "café"  # type: ignore[union-attr]
    assert run(pos_reports("café", "]Q1"))[0].text == "café"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        (bytes([0x02, 3]) + b"]C0123", "HID POS report of 8 bytes; expected 64"),
        (hand_made(57, b"]C0", b""), "HID POS report claims 57 data bytes; at most 56 fit"),
    ],
)
def test_malformed_reports_discard_the_scan_under_way(report: bytes, reason: str) -> None:
    decoder = PosDecoder()
    run([hand_made(56, b"]C0", b"1" * 56, continued=True)], decoder)
    assert run([report], decoder) == [DiscardedScan(reason)]
    decoder.flush()  # the pause after the refused scan (the scanner's gap timer)
    assert not decoder.pending
    assert run(pos_reports("42", "]C0"), decoder)[0].text == "42"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "refused",
    [
        bytes([0x02, 3]) + b"]C0123",  # too short to say whether it continues: counts as continued
        hand_made(57, b"]C0", b"", continued=True),
    ],
    ids=["short", "overlong-length"],
)
@pytest.mark.parametrize("parts_after", [1, 2, 4])
def test_the_rest_of_a_refused_first_report_is_never_a_scan(refused: bytes, parts_after: int) -> None:
    """Issue 15 defect: the parts after a refused first report were delivered as a (truncated) scan."""
    decoder = PosDecoder()
    rest = pos_reports(b"7" * (56 * parts_after - 3), "]C0")
    assert len(rest) == parts_after
    results = run([refused, *rest], decoder)
    assert results == [DiscardedScan(results[0].reason)]  # type: ignore[union-attr]
    assert not decoder.pending  # the last part (no continuation bit) ended the refused scan
    assert run(pos_reports("42", "]C0"), decoder)[0].text == "42"  # type: ignore[union-attr]


def test_a_refused_last_report_skips_nothing_after_it() -> None:
    decoder = PosDecoder()
    refused = DiscardedScan("HID POS report claims 57 data bytes; at most 56 fit")
    assert run([hand_made(57, b"]C0", b"")], decoder) == [refused]
    assert not decoder.pending
    assert run(pos_reports("42", "]C0"), decoder)[0].text == "42"  # type: ignore[union-attr]


def test_a_pause_ends_the_skipping_quietly() -> None:
    decoder = PosDecoder()
    run([bytes([0x02, 3]) + b"]C0123"], decoder)
    assert decoder.pending
    assert decoder.flush() is None  # already reported when refused
    assert not decoder.pending
    assert run(pos_reports("42", "]C0"), decoder)[0].text == "42"  # type: ignore[union-attr]


def test_other_report_ids_and_empty_reports_are_ignored() -> None:
    assert run([bytes([0x04] + [0] * 63), b"", hand_made(0, b"]C0", b"")]) == []


def test_overlong_scan_is_discarded_when_it_ends() -> None:
    decoder = PosDecoder(max_length=100)
    reports = pos_reports(b"7" * 150, "]Q1")
    assert run(reports, decoder) == [DiscardedScan("scan longer than 100 bytes")]
    assert run(pos_reports(b"7" * 100, "]Q1"), decoder)[0].text == "7" * 100  # type: ignore[union-attr]


def test_flush_discards_a_scan_whose_last_part_never_came() -> None:
    decoder = PosDecoder()
    assert decoder.flush() is None
    run(pos_reports(b"5" * 80, "]C0")[:1], decoder)
    assert decoder.flush() == DiscardedScan("the last part of a continued HID POS scan never came")
    assert not decoder.pending


@pytest.mark.parametrize(
    ("aim", "code_id", "expected"),
    [("]Q1", None, "qr"), ("]C0", "s", "code128"), (None, "s", "qr"), ("]Z9", None, None), (None, None, None)],
)
def test_symbology(aim: str | None, code_id: str | None, expected: str | None) -> None:
    assert symbology_of(aim, code_id) == expected


def test_discards_name_their_kind() -> None:
    """The kinds of paycode.symbology.DISCARD_KINDS, which the supervisor's statistics count by."""
    from paycode.symbology import DISCARD_KINDS

    decoder = PosDecoder(max_length=100)
    malformed = run([hand_made(57, b"]C0", b"")], decoder)[0]
    overlong = run(pos_reports(b"7" * 150, "]Q1"), decoder)[0]
    run(pos_reports(b"5" * 80, "]C0")[:1], decoder)
    incomplete = decoder.flush()
    kinds = [r.kind for r in (malformed, overlong, incomplete)]  # type: ignore[union-attr]
    assert kinds == ["malformed", "overlong", "incomplete"]
    assert set(kinds) <= set(DISCARD_KINDS)
