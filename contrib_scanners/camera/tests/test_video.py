"""Generated videos read through camera+file://: the right codes come out, each once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from paycode.errors import ScannerConfigError, ScannerGone
from paycode.models import Scan
from paycode_camera import CameraScanner

Reader = Callable[..., list[Scan]]
Videos = Any  # conftest.Videos: a fixture value (test modules cannot import conftest under importlib mode)

A, B, C, D = "130000000000000001", "280000000000000002", "134444444444444444", "130000000000000003"
LEFT_128, RIGHT_QR, EAN = "130000000000000011", "130000000000000012", "5901234123457"


@pytest.fixture(autouse=True)
def _codes_match_the_videos(videos: Videos) -> None:
    assert (videos.A, videos.B, videos.C, videos.D) == (A, B, C, D)
    assert (videos.LEFT_128, videos.RIGHT_QR, videos.EAN) == (LEFT_128, RIGHT_QR, EAN)


def texts(scans: list[Scan]) -> list[str]:
    return [s.text for s in scans]


def test_sequence_gives_each_code_once_in_order(videos: Videos, read_url: Reader) -> None:
    scans = read_url(f"camera+file://{videos.sequence}")
    # C is a single stray frame; D's second showing falls within the repeat window; A's does not
    assert texts(scans) == [A, B, D, A]
    first = scans[0]
    assert (first.symbology, first.aim, first.raw) == ("code128", "]C0", A.encode())
    assert (scans[1].symbology, scans[1].aim) == ("qr", "]Q1")
    assert scans[0].source == f"camera+file://{videos.sequence}"
    # accepted on the second frame that shows the code: frames 4, 12, 23, 53 at 10 frames/s
    assert [s.meta["frame"] for s in scans] == [4, 12, 23, 53]
    assert [s.meta["video_time"] for s in scans] == [0.4, 1.2, 2.3, 5.3]


def test_barcode_and_qr_of_one_screen_make_one_scan(videos: Videos, read_url: Reader) -> None:
    scans = [s for s in read_url(f"camera+file://{videos.sequence}") if s.text == D]
    assert len(scans) == 1
    assert scans[0].symbology in {"qr", "code128"}


def test_stray_frame_is_accepted_only_without_agreement(videos: Videos, read_url: Reader) -> None:
    assert C not in texts(read_url(f"camera+file://{videos.sequence}?agree=2"))
    assert texts(read_url(f"camera+file://{videos.sequence}?agree=1")) == [A, B, C, D, A]


def test_more_agreement_than_a_code_is_shown_for_rejects_it(videos: Videos, read_url: Reader) -> None:
    # A's second showing lasts 4 frames, B 5, D 5 then 3: agree=5 keeps B, the first A and the first D
    assert texts(read_url(f"camera+file://{videos.sequence}?agree=5")) == [A, B, D]


def test_short_repeat_window_lets_a_returning_code_through(videos: Videos, read_url: Reader) -> None:
    # D is out of sight for 0.3 s between its showings; every code is seen every 0.1 s while shown
    assert texts(read_url(f"camera+file://{videos.sequence}?repeat_window=0.25")) == [A, B, D, D, A]


def test_frame_rate_cap_decodes_fewer_frames_and_keeps_the_codes(videos: Videos, read_dry: Reader) -> None:
    capped = CameraScanner.from_url(f"camera+file://{videos.sequence}?fps=5")
    assert texts(read_dry(capped)) == [A, B, D, A]
    assert capped.stats["frames"] == videos.sequence_frames
    assert capped.stats["decoded"] == (videos.sequence_frames + 1) // 2  # every other frame of a 10 frames/s file


def test_end_of_file_times_out_with_no_scan(videos: Videos) -> None:
    scanner = CameraScanner.from_url(f"camera+file://{videos.layout}")
    scanner.open()
    try:
        found = [scanner.read(60.0), scanner.read(60.0)]
        assert sorted(s.text for s in found if s is not None) == sorted([LEFT_128, RIGHT_QR])
        assert not scanner.ended
        for _ in range(1000):  # the last frames decode to nothing
            assert scanner.read(0.05) is None
            if scanner.ended:
                break
        assert scanner.ended
        assert scanner.read(0.0) is None
        assert scanner.stats == {"frames": 6, "decoded": 6, "scans": 2}
    finally:
        scanner.close()


def test_loop_starts_the_file_again(videos: Videos, read_url: Reader) -> None:
    scans = read_url(f"camera+file://{videos.sequence}?loop=1", limit=6)
    # the second pass starts with A 0.7 s after the first pass last showed it: suppressed as a repeat
    assert texts(scans) == [A, B, D, A, B, D]
    times = [s.meta["video_time"] for s in scans]
    assert times == sorted(times), "the video clock keeps running across loops"


def test_formats_restriction_excludes_ean13(videos: Videos, read_url: Reader) -> None:
    url = f"camera+file://{videos.layout}"
    assert sorted(texts(read_url(url))) == sorted([LEFT_128, RIGHT_QR])
    assert texts(read_url(url + "?formats=ean13")) == [EAN]
    assert sorted(texts(read_url(url + "?formats=qr,code128,ean13"))) == sorted([LEFT_128, RIGHT_QR, EAN])
    ean = read_url(url + "?formats=EAN-13")[0]
    assert (ean.symbology, ean.aim) == ("ean-13", "]E0")


@pytest.mark.parametrize(
    ("roi", "expected"),
    [
        ("0.5,0,0.5,1", [RIGHT_QR]),  # fractions: the right half
        ("0,0,320,240", [LEFT_128]),  # pixels: the top-left quarter
        ("0,0.5,1,0.5", []),  # the bottom half holds only the EAN-13, not a default format
    ],
)
def test_region_of_interest_excludes_codes_outside_it(
    videos: Videos, read_url: Reader, roi: str, expected: list[str]
) -> None:
    assert texts(read_url(f"camera+file://{videos.layout}?roi={roi}")) == expected


def test_roi_outside_the_frame_is_a_clear_error(videos: Videos) -> None:
    scanner = CameraScanner.from_url(f"camera+file://{videos.layout}?roi=700,0,100,100")
    scanner.open()
    try:
        with pytest.raises(ScannerConfigError, match="lies outside the 640x480 frame"):
            scanner.read(1.0)
    finally:
        scanner.close()


def test_close_is_idempotent_and_read_after_close_says_gone(videos: Videos) -> None:
    scanner = CameraScanner.from_url(f"camera+file://{videos.layout}")
    scanner.open()
    scanner.close()
    scanner.close()
    with pytest.raises(ScannerGone, match="not open"):
        scanner.read(0.1)


def test_reopen_starts_from_the_beginning(videos: Videos) -> None:
    scanner = CameraScanner.from_url(f"camera+file://{videos.sequence}")
    scanner.open()
    try:
        assert scanner.read(60.0) is not None
        scanner.open()
        again = scanner.read(60.0)
        assert again is not None and again.text == A and again.meta["frame"] == 4
    finally:
        scanner.close()
