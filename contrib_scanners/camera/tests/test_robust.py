"""Hard frames: the further passes read what the fast pass misses, and never read a wrong code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from paycode.models import Scan
from paycode_camera.decode import FrameDecoder
from paycode_camera.robust import PASSES, RobustDecoder
from paycode_camera.synthetic import Hardship, render_frame, screen_frame, symbol_image, write_video

CODE = "130000000000000001"
HARD = {
    "dark": Hardship(dark=True, contrast=0.7, jpeg=60),
    "dark-moire": Hardship(dark=True, moire=40, tilt=0.2, jpeg=50),
    "tilted-qr": Hardship(tilt=0.45, jpeg=50),
    "dim": Hardship(contrast=0.2, moire=25, jpeg=40),
}


def frames(hardship: Hardship, symbology: str, count: int = 8, scale: int | None = None) -> list[Any]:
    symbol = symbol_image(CODE, symbology, scale=scale or (4 if symbology == "qr" else 2))
    return [
        screen_frame(1280, 720, symbol, x=300 + 5 * i, y=150 + 3 * i, hardship=hardship, seed=i) for i in range(count)
    ]


def reads(decode: Callable[[Any], list[str]], clip: list[Any]) -> tuple[int, int]:
    """(frames read right, codes read wrong)."""
    right = wrong = 0
    for frame in clip:
        texts = decode(frame)
        right += CODE in texts
        wrong += sum(text != CODE for text in texts)
    return right, wrong


@pytest.mark.parametrize(
    ("name", "symbology"),
    [("dark", "code128"), ("dark", "qr"), ("dark-moire", "qr"), ("tilted-qr", "qr"), ("dim", "code128")],
)
def test_more_frames_are_read_than_by_bare_zxing_cpp_and_none_wrong(name: str, symbology: str) -> None:
    clip = frames(HARD[name], symbology)
    options = FrameDecoder().read_options
    bare = reads(lambda f: [r.text for r in zxingcpp.read_barcodes(f, **options)], clip)
    robust = RobustDecoder(budget=None)  # every pass: what a slow machine misses is not the point here
    ours = reads(lambda f: [d.text for d in robust.decode(f)], clip)
    assert ours[1] == 0 and bare[1] == 0
    assert ours[0] > bare[0], (name, symbology, ours, bare, robust.stats)


def test_dark_mode_is_read_by_the_inverted_pass() -> None:
    robust = RobustDecoder(budget=None)
    found = robust.decode(frames(HARD["dark"], "qr", count=1)[0])
    assert [d.text for d in found] == [CODE] and robust.stats["inverted"] == 1


def test_the_region_of_the_last_detection_is_followed() -> None:
    robust = RobustDecoder(budget=None)
    clip = frames(Hardship(), "qr", count=4)
    assert all(CODE in [d.text for d in robust.decode(f)] for f in clip)
    assert robust.stats["fast"] == 1 and robust.stats["tracked"] == 3
    robust.reset()
    robust.decode(clip[0])
    assert robust.stats["fast"] == 2


def test_with_nothing_in_view_one_further_pass_per_frame_in_turn() -> None:
    ticks = iter(range(10_000))
    robust = RobustDecoder(budget=1e9, clock=lambda: float(next(ticks)))  # a clock that never runs out
    empty = render_frame(640, 480, (), seed=3)
    for _ in range(8):
        assert robust.decode(empty) == []
    assert robust.stats["frames"] == 8 and sum(robust.stats[p] for p in PASSES) == 0


def test_a_spent_budget_stops_the_further_passes() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every look at the clock: a second has passed
        return now[0]

    robust = RobustDecoder(budget=0.5, clock=clock)
    assert robust.decode(frames(HARD["dark"], "qr", count=1)[0]) == []  # the inverted pass never ran
    assert robust.stats["inverted"] == 0


def test_a_video_of_a_dark_mode_screen_gives_a_scan_only_with_the_passes(
    tmp_path: Path, read_url: Callable[..., list[Scan]]
) -> None:
    clip = write_video(tmp_path / "dark.avi", frames(HARD["dark"], "qr", count=6), fps=10)
    assert [s.text for s in read_url(f"camera+file://{clip}")] == [CODE]
    assert read_url(f"camera+file://{clip}?passes=0") == []
