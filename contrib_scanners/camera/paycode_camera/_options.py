"""Camera scanner URLs: what a URL names (device, video file or stream) and its options.

``camera://0``                 the camera with index 0 (``camera://`` alone is the same)
``camera:///dev/v4l/by-id/…``  a camera by device path (Linux; resolved to its /dev/videoN index)
``camera://?url=rtsp://…``     a network stream OpenCV's FFmpeg backend can open
``camera+file:///path/clip``   a video file, read as fast as it decodes, timed by its own frame rate

Parsing imports nothing heavy: a bad URL is refused before OpenCV or zxing-cpp load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs
from paycode.errors import ScannerConfigError
from paycode.masking import redact_url
from paycode.scanning import CORE_PARAMS, ScannerURL

from ._formats import DEFAULT_FORMATS, parse_formats
from ._roi import Roi

__all__ = ["DEVICE_PARAMS", "FILE_PARAMS", "CameraOptions", "redact_url"]

_DECODE_PARAMS: Mapping[str, str] = {
    "formats": f"barcode formats to decode, comma-separated (default {','.join(DEFAULT_FORMATS)})",
    "agree": "frames that must show the same code before it is accepted (default 2, 1-10)",
    "agree_window": "seconds within which those frames must fall (default 1.0)",
    "fps": "decode at most this many frames per second; 0 decodes every frame (default 0)",
    "roi": "region to decode, x,y,w,h in pixels or fractions of the frame (default the whole frame)",
    "rotate": "also look for codes turned 90 degrees (default 1)",
    "downscale": "also look in downscaled copies of the frame, for large codes close to the lens (default 1)",
    "invert": "also look for light-on-dark QR codes in every pass (default 0; costs about a third more time)",
    "passes": "more passes on a frame the fast pass missed (region of the last detection enlarged, inverted, "
    "equalised, halved, another binarizer; paycode_camera.robust): 1 or 0 (default 1)",
    "budget": "milliseconds of decoding per frame the further passes may fill (default 24; 1-1000)",
}

#: Parameters of ``camera://`` (besides the core's prefix, suffix and repeat_window).
DEVICE_PARAMS: Mapping[str, str] = {
    **_DECODE_PARAMS,
    "url": "a stream URL (rtsp://, http://, ...) instead of a device; percent-encode its own ? and &",
    "width": "capture width in pixels to ask the device for",
    "height": "capture height in pixels to ask the device for",
}

#: Parameters of ``camera+file://``.
FILE_PARAMS: Mapping[str, str] = {
    **_DECODE_PARAMS,
    "loop": "start the file again at its end instead of running out of scans (default 0)",
    "end": "at the end of the file: wait (read() times out, as a camera that sees nothing; default) "
    "or stop (the scanner reports its input exhausted)",
}

_PARAMS_BY_SCHEME: Mapping[str, Mapping[str, str]] = {"camera": DEVICE_PARAMS, "camera+file": FILE_PARAMS}


@attrs.frozen
class CameraOptions:
    """Everything a camera scanner URL says, checked.

    ``target`` is the device index (``kind == "device"``), the file path (``"file"``) or
    the stream URL (``"stream"``). ``source`` is the URL to show in scans and messages,
    with any password redacted.
    """

    kind: Literal["device", "file", "stream"]
    target: int | str
    source: str
    formats: tuple[str, ...] = DEFAULT_FORMATS
    agree: int = 2
    agree_window: float = 1.0
    repeat_window: float = 1.5
    fps: float = 0.0
    roi: Roi | None = None
    rotate: bool = True
    downscale: bool = True
    invert: bool = False
    passes: bool = True
    budget: float = 0.024
    width: int | None = None
    height: int | None = None
    loop: bool = False
    stop_at_end: bool = False

    @property
    def label(self) -> str:
        """What the URL names, in words, for messages: ``camera 0``, ``stream rtsp://…``, ``video file clip.avi``."""
        if self.kind == "stream":
            return f"stream {redact_url(str(self.target))}"
        if self.kind == "file":
            return f"video file {self.target}"
        return f"camera {self.target}"

    @classmethod
    def from_url(cls, url: ScannerURL) -> CameraOptions:
        scheme = url.scheme
        accepted = _PARAMS_BY_SCHEME.get(scheme)
        if accepted is None:
            raise ScannerConfigError(
                f"scanner {url.display!r}: the camera plugin reads camera:// and camera+file:// URLs, not {scheme}://",
                scanner=url.display,
            )
        for name in url.params:
            if name not in accepted and name not in CORE_PARAMS:
                raise ScannerConfigError(
                    f"scanner {scheme}://: unknown parameter {name!r}; accepted: "
                    f"{', '.join([*accepted, *CORE_PARAMS])}",
                    scanner=url.display,
                )
        kind, target = _source(url)
        agree = url.get_int("agree", 2, minimum=1, maximum=10)
        agree_window = url.get_float("agree_window", 1.0, minimum=0.001, maximum=60.0)
        fps = url.get_float("fps", 0.0, minimum=0.0, maximum=1000.0)
        if fps and (agree - 1) / fps > agree_window:
            raise ScannerConfigError(
                f"scanner {scheme}://: agree={agree} frames cannot fall within agree_window={agree_window:g} s "
                f"at fps={fps:g}; raise agree_window or fps, or lower agree"
            )
        roi_text = url.get_str("roi")
        loop = url.get_bool("loop", False)
        stop_at_end = url.get_choice("end", ("wait", "stop"), "wait") == "stop"
        if loop and stop_at_end:
            raise ScannerConfigError(
                f"scanner {scheme}://: loop=1 never reaches the end of the file; give loop=1 or end=stop, not both"
            )
        return cls(
            kind=kind,
            target=target,
            source=url.display,
            formats=parse_formats(url.get_str("formats"), scheme=scheme),
            agree=agree,
            agree_window=agree_window,
            repeat_window=url.get_float("repeat_window", 1.5, minimum=0.0, maximum=3600.0),
            fps=fps,
            roi=None if roi_text is None else Roi.parse(roi_text, scheme=scheme),
            rotate=url.get_bool("rotate", True),
            downscale=url.get_bool("downscale", True),
            invert=url.get_bool("invert", False),
            passes=url.get_bool("passes", True),
            budget=url.get_int("budget", 24, minimum=1, maximum=1000) / 1000,
            width=_size(url, "width", kind),
            height=_size(url, "height", kind),
            loop=loop,
            stop_at_end=stop_at_end,
        )


def _source(url: ScannerURL) -> tuple[Literal["device", "file", "stream"], int | str]:
    target = url.target
    if url.scheme == "camera+file":
        if not target:
            raise ScannerConfigError(
                f"scanner {url.raw!r} names no file; write camera+file:///absolute/path/clip.avi "
                "or camera+file://relative/clip.avi",
                scanner=url.raw,
            )
        return "file", target
    stream = url.get_str("url")
    if stream is not None:
        if target:
            raise ScannerConfigError(
                f"scanner {url.display!r} names both a device ({target!r}) and a stream url; "
                "give one: camera://0 or camera://?url=rtsp://host/path",
                scanner=url.display,
            )
        scheme, sep, rest = stream.partition("://")
        if not sep or not rest or not scheme.replace("+", "").isalnum():
            raise ScannerConfigError(
                f"scanner camera://: parameter url={redact_url(stream)!r} is not a stream URL; accepted: "
                "scheme://host/path such as rtsp://192.168.1.20:554/stream1 or http://127.0.0.1:8080/video.mjpg",
                scanner=url.display,
            )
        if scheme.lower() == "file":
            raise ScannerConfigError(
                f"scanner camera://: url={stream!r} is a file; read files with camera+file:///path/clip.avi",
                scanner=url.raw,
            )
        return "stream", stream
    if not target:
        return "device", 0
    if target.isascii() and target.isdigit():
        return "device", int(target)
    if target.startswith("/"):
        return "device", target
    raise ScannerConfigError(
        f"scanner camera://{target}: {target!r} is not a camera; accepted: a device index (camera://0), "
        "a device path (camera:///dev/video0), or a stream (camera://?url=rtsp://host/path)",
        scanner=url.raw,
    )


def _size(url: ScannerURL, name: str, kind: str) -> int | None:
    if name not in url.params:
        return None
    if kind != "device":
        raise ScannerConfigError(
            f"scanner {url.scheme}://: parameter {name} sets a camera's capture size; a {kind} has its own size "
            "(crop with roi= instead)",
            scanner=url.display,
        )
    return url.get_int(name, 0, minimum=16, maximum=16384)
