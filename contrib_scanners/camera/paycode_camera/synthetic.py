"""Synthetic camera footage: frames showing codes the way a camera sees a phone screen.

Used by this plugin's tests and by benchmarks, and handy for trying a lane's set-up with
no camera: draw codes with zxing-cpp's writer, place them on a textured background with
a slight tilt, blur and sensor noise, and write the frames to a video file that
``camera+file://`` reads back::

    from paycode_camera.synthetic import Placement, render_frame, symbol_image, write_video

    code = symbol_image("130000000000000001", "code128", scale=3)
    frames = [render_frame(1280, 720, [Placement(code, 400, 300, angle=2.0)], seed=i) for i in range(4)]
    write_video("/tmp/clip.avi", frames, fps=10)

Imports OpenCV, numpy and zxing-cpp: import it only where they are wanted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import cv2
import numpy as np
import zxingcpp

from ._formats import FORMATS, canonical_format

__all__ = ["Placement", "render_frame", "symbol_image", "write_video"]


def symbol_image(text: str, symbology: str = "code128", *, scale: int = 3, quiet: int = 12) -> Any:
    """A black-on-white grayscale image of ``text`` encoded as ``symbology`` (a ``formats=`` name),
    ``scale`` pixels per module, with ``quiet`` white pixels around it (on top of the symbol's own quiet zone).
    """
    name = canonical_format(symbology)
    if name is None:
        raise ValueError(f"unknown symbology {symbology!r}; known: {', '.join(FORMATS)}")
    fmt = getattr(zxingcpp.BarcodeFormat, FORMATS[name])
    image = _drawn(text, fmt, scale)
    return np.pad(image, quiet, constant_values=255)


def _drawn(text: str, fmt: Any, scale: int) -> Any:
    if hasattr(zxingcpp, "create_barcode"):
        barcode = zxingcpp.create_barcode(text, fmt)
        try:
            return np.asarray(barcode.to_image(scale=scale), dtype=np.uint8)  # zxing-cpp 3
        except TypeError:
            pass  # zxing-cpp 2.3 sizes images differently: draw modules as below
    # one pixel per module (one row for a linear code), scaled and given a 10-module quiet zone
    modules = np.asarray(zxingcpp.write_barcode(fmt, text, width=0, height=0, quiet_zone=0), dtype=np.uint8)
    if modules.shape[0] == 1:
        modules = np.repeat(modules, 50, axis=0)
    return np.pad(np.kron(modules, np.ones((scale, scale), np.uint8)), 10 * scale, constant_values=255)


@attrs.frozen
class Placement:
    """A symbol image placed with its top-left corner at ``(x, y)``, turned ``angle`` degrees about its centre."""

    image: Any = attrs.field(repr=False)
    x: int
    y: int
    angle: float = 0.0


def render_frame(
    width: int,
    height: int,
    placements: Sequence[Placement] = (),
    *,
    blur: float = 1.0,
    noise: float = 6.0,
    seed: int = 0,
) -> Any:
    """A BGR frame: a shaded background, the placed symbols, Gaussian ``blur`` (sigma, pixels) and
    Gaussian sensor ``noise`` (sigma, grey levels). The same arguments give the same frame.
    """
    rng = np.random.default_rng(seed)
    across = np.linspace(70, 170, width, dtype=np.float32)[None, :]
    down = np.linspace(0, 50, height, dtype=np.float32)[:, None]
    shade = across + down
    frame = cv2.merge([cv2.convertScaleAbs(shade, alpha=float(a)) for a in rng.uniform(0.8, 1.1, size=3)])
    for place in placements:
        _paste(frame, place)
    if blur > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), blur)
    if noise > 0:
        # luminance noise, the same on every channel
        grain = (rng.standard_normal((height, width), dtype=np.float32) * noise).astype(np.int16)
        frame = cv2.add(frame, cv2.merge([grain, grain, grain]), dtype=cv2.CV_8U)
    return frame


def _paste(frame: Any, place: Placement) -> None:
    patch = cv2.cvtColor(place.image, cv2.COLOR_GRAY2BGR)
    h, w = patch.shape[:2]
    centre = (place.x + w / 2.0, place.y + h / 2.0)
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), place.angle, 1.0)
    matrix[0, 2] += centre[0] - w / 2.0
    matrix[1, 2] += centre[1] - h / 2.0
    frame_h, frame_w = frame.shape[:2]
    cv2.warpAffine(
        patch, matrix, (frame_w, frame_h), dst=frame, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
    )


def write_video(path: str | os.PathLike[str], frames: Iterable[Any], *, fps: float = 10.0) -> str:
    """Write BGR frames (all one size) to an MJPG ``.avi`` file, the most portable container
    OpenCV writes and reads; returns the path.
    """
    path = os.fspath(path)
    writer: Any = None
    count = 0
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
                if not writer.isOpened():
                    raise OSError(f"OpenCV cannot write an MJPG video to {path!r}")
            writer.write(frame)
            count += 1
    finally:
        if writer is not None:
            writer.release()
    if count == 0:
        raise ValueError("no frames to write")
    return path
