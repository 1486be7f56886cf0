"""The per-frame decode path on frames made with zxing-cpp's writer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zxingcpp
from paycode.errors import ScannerConfigError
from paycode_camera import Roi
from paycode_camera.decode import FrameDecoder, invert_supported
from paycode_camera.synthetic import Placement, render_frame, symbol_image

WECHAT = "130000000000000001"


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    bar = symbol_image(WECHAT, "code128", scale=3)
    qr = symbol_image("280000000000000002", "qr", scale=5)
    return render_frame(1280, 720, [Placement(bar, 100, 300, angle=3.0), Placement(qr, 900, 250, angle=-5.0)])


def test_codes_with_symbology_aim_and_raw_bytes(frame: np.ndarray) -> None:
    found = {d.text: d for d in FrameDecoder().decode(frame)}
    assert set(found) == {WECHAT, "280000000000000002"}
    bar = found[WECHAT]
    assert (bar.symbology, bar.aim, bar.raw, bar.format) == ("code128", "]C0", WECHAT.encode(), "Code128")
    assert found["280000000000000002"].symbology == "qr"
    assert WECHAT not in repr(bar), "a decoded code is masked in its repr"


def test_grayscale_and_colour_frames_agree(frame: np.ndarray) -> None:
    decoder = FrameDecoder()
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    assert sorted(d.text for d in decoder.decode(grey)) == sorted(d.text for d in decoder.decode(frame))


def test_same_result_as_bare_zxing_cpp_with_the_decoders_options(frame: np.ndarray) -> None:
    decoder = FrameDecoder(("qr", "code128"))
    bare = zxingcpp.read_barcodes(frame, **decoder.read_options)
    assert [d.text for d in decoder.decode(frame)] == [b.text for b in bare]


def test_roi_is_a_view_of_the_frame(frame: np.ndarray) -> None:
    left = FrameDecoder(roi=Roi.parse("0,0,0.5,1"))
    assert [d.text for d in left.decode(frame)] == [WECHAT]
    smaller = cv2.resize(frame, (640, 360))  # a fractional region follows the frame size
    assert [d.text for d in left.decode(smaller)] == [WECHAT]


def test_invert_finds_light_on_dark_qr_codes() -> None:
    qr = 255 - symbol_image(WECHAT, "qr", scale=4)
    dark = render_frame(640, 480, [Placement(qr, 200, 150)], noise=2.0)
    if invert_supported():
        assert FrameDecoder().decode(dark) == []
        assert [d.text for d in FrameDecoder(invert=True).decode(dark)] == [WECHAT]
    else:  # zxing-cpp before 3.0
        with pytest.raises(ScannerConfigError, match=r"invert=1 needs zxing-cpp 3\.0"):
            FrameDecoder(invert=True)


def test_rotate_finds_a_code_turned_on_its_side() -> None:
    bar = np.ascontiguousarray(np.rot90(symbol_image(WECHAT, "code128", scale=2)))
    upright = render_frame(640, 640, [Placement(bar, 250, 60)], noise=2.0)
    assert [d.text for d in FrameDecoder(rotate=True).decode(upright)] == [WECHAT]
    assert FrameDecoder(rotate=False).decode(upright) == []


def test_format_names_are_checked() -> None:
    assert FrameDecoder(("EAN13", "QRCode")).formats == ("ean-13", "qr")
    with pytest.raises(ValueError, match="unknown barcode formats"):
        FrameDecoder(("code129",))
    with pytest.raises(ValueError, match="unknown barcode formats"):
        FrameDecoder(())
