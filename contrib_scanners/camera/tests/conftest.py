"""Test videos made once per session with zxing-cpp's writer, and a helper that reads a scanner dry.

``sequence.avi`` (1280x720, 10 frames/s; times are the video's own clock)::

    frames  0-2   nothing
            3-7   A  Code 128, drifting and tilting
            8-10  nothing
           11-15  B  QR code
           16-17  nothing
           18     C  Code 128, one stray frame only
           19-21  nothing
           22-26  D  as a Code 128 barcode and a QR code together (a payment-code screen)
           27-28  nothing (0.2 s)
           29-31  D  again: still within the repeat window
           32-51  nothing (2.0 s, longer than the 1.5 s repeat window)
           52-55  A  again
           56-58  nothing

``layout.avi`` (640x480, 6 frames): a Code 128 top left, a QR code top right and an
EAN-13 bottom left on every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from paycode.models import Scan
from paycode_camera import CameraScanner

A = "130000000000000001"
B = "280000000000000002"
C = "134444444444444444"
D = "130000000000000003"

LEFT_128 = "130000000000000011"
RIGHT_QR = "130000000000000012"
EAN = "5901234123457"


@attrs.frozen
class Videos:
    """The generated files, and the codes they show (tests cannot import this module by name)."""

    sequence: Path
    layout: Path
    sequence_frames: int

    A: ClassVar[str] = A
    B: ClassVar[str] = B
    C: ClassVar[str] = C
    D: ClassVar[str] = D
    LEFT_128: ClassVar[str] = LEFT_128
    RIGHT_QR: ClassVar[str] = RIGHT_QR
    EAN: ClassVar[str] = EAN


def _sequence_frames() -> list[object]:
    from paycode_camera.synthetic import Placement, render_frame, symbol_image

    a = symbol_image(A, "code128", scale=3)
    b = symbol_image(B, "qr", scale=6)
    c = symbol_image(C, "code128", scale=3)
    d_bar = symbol_image(D, "code128", scale=3)
    d_qr = symbol_image(D, "qr", scale=5)

    def show(*placements: Placement) -> list[Placement]:
        return list(placements)

    plan: list[list[Placement]] = []
    plan += [show()] * 3
    plan += [show(Placement(a, 260 + 12 * i, 240 + 4 * i, angle=2.5 - i)) for i in range(5)]
    plan += [show()] * 3
    plan += [show(Placement(b, 700 - 10 * i, 220, angle=-4 + 2 * i)) for i in range(5)]
    plan += [show()] * 2
    plan += [show(Placement(c, 400, 300, angle=1.0))]
    plan += [show()] * 3
    plan += [show(Placement(d_bar, 120, 300, angle=-1.5), Placement(d_qr, 760, 260, angle=2.0))] * 5
    plan += [show()] * 2
    plan += [show(Placement(d_bar, 130, 310, angle=1.0), Placement(d_qr, 770, 250))] * 3
    plan += [show()] * 20
    plan += [show(Placement(a, 500, 200, angle=-2.0 + i)) for i in range(4)]
    plan += [show()] * 3
    return [render_frame(1280, 720, placements, blur=1.2, noise=6.0, seed=n) for n, placements in enumerate(plan)]


def _layout_frames() -> list[object]:
    from paycode_camera.synthetic import Placement, render_frame, symbol_image

    left = symbol_image(LEFT_128, "code128", scale=2, quiet=0)  # zxing-cpp's own quiet zone is enough
    right = symbol_image(RIGHT_QR, "qr", scale=4, quiet=6)
    ean = symbol_image(EAN, "ean-13", scale=2, quiet=6)
    assert left.shape[1] <= 310 and right.shape[1] <= 200, "the layout needs each symbol inside its half"
    placements = [Placement(left, 4, 20, angle=1.0), Placement(right, 420, 30, angle=-2.0), Placement(ean, 20, 300)]
    return [render_frame(640, 480, placements, blur=0.8, noise=5.0, seed=100 + n) for n in range(6)]


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Videos:
    from paycode_camera.synthetic import write_video

    folder = tmp_path_factory.mktemp("camera-videos")
    sequence = _sequence_frames()
    write_video(folder / "sequence.avi", sequence, fps=10)
    write_video(folder / "layout.avi", _layout_frames(), fps=10)
    return Videos(sequence=folder / "sequence.avi", layout=folder / "layout.avi", sequence_frames=len(sequence))


def read_dry(scanner: CameraScanner, *, limit: int = 50, poll: float = 0.05) -> list[Scan]:
    """Every scan until the video file ends (or ``limit`` scans); opens and closes the scanner."""
    scanner.open()
    try:
        scans: list[Scan] = []
        for _ in range(10_000):  # bounded: one iteration per scan or per short poll
            scan = scanner.read(poll)
            if scan is not None:
                scans.append(scan)
                if len(scans) >= limit:
                    break
            elif scanner.ended:
                break
        return scans
    finally:
        scanner.close()


@pytest.fixture(name="read_dry")
def read_dry_fixture() -> Callable[..., list[Scan]]:
    return read_dry


@pytest.fixture(scope="session")
def read_url() -> Callable[..., list[Scan]]:
    """``read_url(url)``: every scan of a camera+file:// URL; the same URL is decoded once per session."""
    seen: dict[tuple[str, int], list[Scan]] = {}

    def read(url: str, *, limit: int = 50) -> list[Scan]:
        key = (url, limit)
        if key not in seen:
            seen[key] = read_dry(CameraScanner.from_url(url), limit=limit)
        return list(seen[key])

    return read
