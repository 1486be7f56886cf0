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

__all__ = ["Hardship", "Placement", "render_frame", "screen_frame", "symbol_image", "write_video"]


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


@attrs.frozen
class Hardship:
    """What makes a frame hard: a phone screen tilted away (``tilt``, fraction of perspective),
    ``moire`` (amplitude of the screen-door interference, grey levels), ``glare`` (peak of a
    bright spot, grey levels), ``dark`` (dark mode: light modules on a dark screen), ``contrast``
    (the screen's contrast, 0-1), ``jpeg`` (quality of the compression the camera applies, 0: none).
    """

    tilt: float = 0.0
    moire: float = 0.0
    glare: float = 0.0
    dark: bool = False
    contrast: float = 1.0
    jpeg: int = 0


def screen_frame(
    width: int,
    height: int,
    symbol: Any,
    *,
    x: int,
    y: int,
    hardship: Hardship = Hardship(),
    blur: float = 1.2,
    noise: float = 6.0,
    seed: int = 0,
) -> Any:
    """A BGR frame of a phone screen showing ``symbol`` (a :func:`symbol_image`) at ``(x, y)``, made hard by
    ``hardship``: seen at an angle, with moiré, glare, in dark mode, at low contrast, JPEG-compressed.
    The same arguments give the same frame.
    """
    rng = np.random.default_rng(seed)
    face = symbol.astype(np.float32)
    if hardship.dark:
        face = 255.0 - face  # light modules on a dark screen
    lo, hi = 128.0 - 127.0 * hardship.contrast, 128.0 + 127.0 * hardship.contrast
    face = lo + face * (hi - lo) / 255.0
    h, w = face.shape
    # perspective: the far edge of the screen is shorter (a phone tilted away from the camera)
    shrink = hardship.tilt * w / 2.0
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    seen = np.array([[x + shrink, y], [x + w - shrink, y], [x + w, y + h], [x, y + h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners, seen)
    background = render_frame(width, height, (), blur=0.0, noise=0.0, seed=seed)
    gray = cv2.cvtColor(background, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mask = cv2.warpPerspective(np.ones_like(face), matrix, (width, height), flags=cv2.INTER_LINEAR)
    warped = cv2.warpPerspective(face, matrix, (width, height), flags=cv2.INTER_LINEAR)
    image = gray * (1.0 - mask) + warped * mask
    if hardship.moire:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = rng.uniform(0.2, 0.6)
        period = rng.uniform(3.0, 5.0)
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * (2 * np.pi / period))
        image += hardship.moire * wave * mask
    if hardship.glare:
        cx = x + w * rng.uniform(0.3, 0.7)
        cy = y + h * rng.uniform(0.3, 0.7)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        radius = max(w, h) * rng.uniform(0.15, 0.3)
        image += hardship.glare * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
    image = np.clip(image, 0, 255).astype(np.uint8)
    if blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    if noise > 0:
        grain = (rng.standard_normal((height, width), dtype=np.float32) * noise).astype(np.int16)
        image = cv2.add(image, grain, dtype=cv2.CV_8U)
    frame = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if hardship.jpeg:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, hardship.jpeg])
        if ok:
            frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return frame
