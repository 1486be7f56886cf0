"""paycode-camera: payment codes read by a camera, a video file or a network stream.

Registers two scanner URL schemes with paycode (entry-point group ``paycode``)::

    camera://0?formats=qr,code128&fps=15&roi=0.25,0.25,0.5,0.5
    camera+file:///path/clip.avi?loop=1

Frames come from OpenCV and are decoded by zxing-cpp (Code 128 and QR by default); a code
is accepted when two frames agree and is not repeated while it stays in view. OpenCV,
numpy and zxing-cpp are imported only when a camera scanner opens. See
docs/scanners/camera.md.
"""

from __future__ import annotations

from collections.abc import Callable

from paycode.hookspecs import hookimpl
from paycode.scanning import ScannerType, ScannerURL

from ._agreement import Agreement
from ._devices import list_devices
from ._formats import DEFAULT_FORMATS, FORMATS
from ._options import DEVICE_PARAMS, FILE_PARAMS, CameraOptions
from ._roi import Roi
from ._scanner import CameraScanner

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "Agreement",
    "CameraOptions",
    "CameraScanner",
    "Roi",
    "list_devices",
    "paycode_register_scanners",
]


def _factory(url: ScannerURL) -> CameraScanner:
    return CameraScanner(CameraOptions.from_url(url))


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    """Register ``camera://`` (devices and streams) and ``camera+file://`` (video files)."""
    register(
        ScannerType(
            scheme="camera",
            factory=_factory,
            params=DEVICE_PARAMS,
            description="camera by index or device path, or a stream URL (url=); zxing-cpp decoding",
            list_devices=list_devices,
        )
    )
    register(
        ScannerType(
            scheme="camera+file",
            factory=_factory,
            params=FILE_PARAMS,
            description="video file read as a camera (end of file: no more scans unless loop=1)",
        )
    )
