"""Camera scanner URLs: what they name, their options, and one clear error for each mistake."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode.errors import ScannerConfigError
from paycode.scanning import ScannerURL
from paycode_camera import CameraOptions, Roi
from paycode_camera._formats import FORMATS, parse_formats, symbology_of
from paycode_camera._options import redact_url


def options(url: str) -> CameraOptions:
    return CameraOptions.from_url(ScannerURL.parse(url))


@pytest.mark.parametrize(
    ("url", "kind", "target"),
    [
        ("camera://0", "device", 0),
        ("camera://", "device", 0),
        ("camera://3?fps=15", "device", 3),
        ("camera:///dev/v4l/by-id/usb-cam-video-index0", "device", "/dev/v4l/by-id/usb-cam-video-index0"),
        ("camera+file:///tmp/clip.avi", "file", "/tmp/clip.avi"),
        ("camera+file://clips/lane%201.avi", "file", "clips/lane 1.avi"),
        ("camera://?url=rtsp://10.0.0.5:554/stream1", "stream", "rtsp://10.0.0.5:554/stream1"),
        (
            "camera://?url=http://127.0.0.1:8080/v.mjpg%3Fres%3D720%26q%3D9",
            "stream",
            "http://127.0.0.1:8080/v.mjpg?res=720&q=9",
        ),
    ],
)
def test_sources(url: str, kind: str, target: object) -> None:
    opts = options(url)
    assert (opts.kind, opts.target) == (kind, target)


def test_labels_name_the_source_in_words() -> None:
    assert options("camera://2").label == "camera 2"
    assert options("camera+file:///tmp/a.avi").label == "video file /tmp/a.avi"


def test_defaults() -> None:
    opts = options("camera://0")
    assert opts.formats == ("qr", "code128")
    assert (opts.agree, opts.agree_window, opts.repeat_window, opts.fps) == (2, 1.0, 1.5, 0.0)
    assert (opts.rotate, opts.downscale, opts.invert, opts.loop) == (True, True, False, False)
    assert (opts.roi, opts.width, opts.height) == (None, None, None)


def test_every_option() -> None:
    opts = options(
        "camera://1?formats=QR,ean-13,code128&agree=3&agree_window=0.5&repeat_window=4&fps=12.5"
        "&roi=0.1,0.2,0.5,0.5&rotate=0&downscale=no&invert=yes&width=1280&height=720"
    )
    assert opts.formats == ("qr", "ean-13", "code128")
    assert (opts.agree, opts.agree_window, opts.repeat_window, opts.fps) == (3, 0.5, 4.0, 12.5)
    assert opts.roi == Roi(0.1, 0.2, 0.5, 0.5, fractional=True)
    assert (opts.rotate, opts.downscale, opts.invert) == (False, False, True)
    assert (opts.width, opts.height) == (1280, 720)
    assert options("camera+file:///a.avi?loop=1").loop


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("camera://0?formats=qr,code129", "unknown format 'code129'; accepted: qr, micro-qr, code128"),
        ("camera://0?formats=", "unknown format ''"),
        ("camera://0?agree=0", "agree='0' is not valid; accepted: an integer >= 1 <= 10"),
        ("camera://0?agree=two", "agree='two' is not valid"),
        ("camera://0?fps=-1", "fps='-1' is not valid"),
        ("camera://0?fps=2&agree=4", "agree=4 frames cannot fall within agree_window=1 s at fps=2"),
        ("camera://0?roi=1,2,3", "roi='1,2,3' is not valid (3 values)"),
        ("camera://0?roi=0.5,0,0.6,1", "x+w and y+h must not exceed 1"),
        ("camera://0?roi=0,0,0,10", "width and height must be greater than zero"),
        ("camera://0?roi=-5,0,10,10", "'-5' is not a non-negative number"),
        ("camera://0?width=8", "width='8' is not valid; accepted: an integer >= 16"),
        ("camera://0?loop=1", "unknown parameter 'loop'; accepted: formats, agree"),
        ("camera+file:///a.avi?width=640", "unknown parameter 'width'"),
        ("camera://?url=rtsp://h/s&width=640", "a stream has its own size"),
        ("camera://0?url=rtsp://h/s", "names both a device ('0') and a stream url"),
        ("camera://?url=not-a-url", "url='not-a-url' is not a stream URL"),
        ("camera://?url=file:///tmp/a.avi", "read files with camera+file:///path/clip.avi"),
        ("camera+file://", "names no file"),
        ("camera://front", "'front' is not a camera; accepted: a device index"),
        ("camera://0?invert=maybe", "invert='maybe' is not valid; accepted: 1/0, true/false"),
        ("webcam://0", "reads camera:// and camera+file:// URLs, not webcam://"),
        ("camera+file:///a.avi?end=later", "end='later' is not valid; accepted: wait, stop"),
        ("camera+file:///a.avi?loop=1&end=stop", "give loop=1 or end=stop, not both"),
    ],
)
def test_bad_urls_get_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(ScannerConfigError) as caught:
        options(url)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_core_parameters_are_accepted() -> None:
    opts = options("camera://0?prefix=X&suffix=none&repeat_window=0")
    assert opts.repeat_window == 0.0


@pytest.mark.parametrize(
    "url",
    [
        "camera://?url=rtsp://admin:s3cret@10.0.0.5:554/stream1&fps=10",
        "camera://?url=rtsp%3A%2F%2Fadmin%3As3cret%4010.0.0.5%3A554%2Fstream1&fps=10",  # fully percent-encoded
    ],
)
def test_passwords_never_show(url: str) -> None:
    opts = options(url)
    assert opts.target == "rtsp://admin:s3cret@10.0.0.5:554/stream1"  # OpenCV needs it
    assert "s3cret" not in opts.source and "admin:***@10.0.0.5" in opts.source
    assert opts.label == "stream rtsp://admin:***@10.0.0.5:554/stream1"
    with pytest.raises(ScannerConfigError) as caught:
        options("camera://0?url=rtsp://admin:s3cret@10.0.0.5/s")
    assert "s3cret" not in str(caught.value)
    assert redact_url("http://cam.local/a?b=c") == "http://cam.local/a?b=c"


def test_symbology_names_round_trip_through_zxing_cpp() -> None:
    import zxingcpp

    for name, member in FORMATS.items():
        assert symbology_of(getattr(zxingcpp.BarcodeFormat, member).name) == name
    assert symbology_of("QRCodeModel2") == "qr"
    assert symbology_of("SomeNewFormat") == "other"  # one vocabulary: an unknown format is Symbology.OTHER
    assert parse_formats(None) == ("qr", "code128")
    assert parse_formats("code128, QR ,code128") == ("code128", "qr")
    assert parse_formats("EAN13,ean_8,databar,QRCode") == ("ean-13", "ean-8", "gs1-databar", "qr")


# -- the region of interest ----------------------------------------------------------------------

fraction = st.integers(min_value=0, max_value=1000).map(lambda n: n / 1000)


@given(
    x=fraction,
    y=fraction,
    w=fraction,
    h=fraction,
    width=st.integers(min_value=1, max_value=4000),
    height=st.integers(min_value=1, max_value=4000),
)
@settings(max_examples=200, deadline=None)
def test_fractional_roi_is_inside_the_frame_and_never_empty(
    x: float, y: float, w: float, h: float, width: int, height: int
) -> None:
    text = f"{x:.3f},{y:.3f},{w:.3f},{h:.3f}"
    try:
        roi = Roi.parse(text)
    except ScannerConfigError:
        assert w == 0 or h == 0 or x + w > 1 or y + h > 1
        return
    try:
        x0, y0, x1, y1 = roi.rect(width, height)
    except ScannerConfigError as exc:
        assert "lies outside" in str(exc)
        assert round(x * width) >= width or round(y * height) >= height
        return
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


@given(
    st.tuples(*[st.integers(min_value=0, max_value=5000)] * 4),
    st.integers(min_value=1, max_value=2000),
    st.integers(min_value=1, max_value=2000),
)
@settings(max_examples=200, deadline=None)
def test_pixel_roi_round_trips_and_clips(values: tuple[int, int, int, int], width: int, height: int) -> None:
    x, y, w, h = values
    text = f"{x},{y},{w},{h}"
    if w == 0 or h == 0:
        with pytest.raises(ScannerConfigError):
            Roi.parse(text)
        return
    roi = Roi.parse(text)
    assert str(roi) == text and Roi.parse(str(roi)) == roi
    if x >= width or y >= height:
        with pytest.raises(ScannerConfigError, match="lies outside"):
            roi.rect(width, height)
        return
    assert roi.rect(width, height) == (x, y, min(x + w, width), min(y + h, height))


@given(st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_any_roi_text_parses_or_gets_a_clear_error(text: str) -> None:
    try:
        roi = Roi.parse(text)
    except ScannerConfigError as exc:
        assert "roi=" in str(exc) and "accepted:" in str(exc)
    else:
        assert roi.w > 0 and roi.h > 0


param_names = st.sampled_from(
    [
        "formats",
        "agree",
        "agree_window",
        "fps",
        "roi",
        "rotate",
        "downscale",
        "invert",
        "width",
        "height",
        "url",
        "loop",
        "repeat_window",
        "bogus",
    ]
)


@given(st.dictionaries(param_names, st.text(alphabet="0123456789.,-qrcodeantu:/", max_size=12), max_size=4))
@settings(max_examples=200, deadline=None)
def test_any_parameters_parse_or_get_a_clear_error(params: dict[str, str]) -> None:
    url = ScannerURL(raw="camera://0", scheme="camera", target="0", params=params)
    try:
        CameraOptions.from_url(url)
    except ScannerConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
