"""Hard frames: more passes on a frame the fast pass missed, within the frame budget.

A phone screen seen at an angle, with moiré, glare, or in dark mode defeats a single zxing-cpp
pass on most frames. :class:`RobustDecoder` runs the fast pass first (the plain
:class:`~paycode_camera.decode.FrameDecoder`, and a cheap look at the region that follows the
last detection), and only when that finds nothing, further passes in order, each on the region
of a code zxing-cpp located but could not decode, or of the last detection, else on the whole
frame:

1. ``region``: the region cut out and enlarged 1.5x (a small or tilted code gets more pixels);
2. ``inverted``: light modules on a dark screen (dark mode);
3. ``equalised``: local contrast equalisation (CLAHE: glare, a dim screen);
4. ``halved``: the frame halved with area averaging (moiré and sensor noise average out);
5. ``histogram``: zxing-cpp's global-histogram binarizer.

A region smaller than a quarter of the frame is enlarged 1.5x in every pass but ``halved``.
With no region known, a quick edge-density search (:func:`_locate`, about 1.5 ms) picks where
a code may be; the pass that read a code is tried first on the next frame's region.

It stops at the first pass that finds a code, and when ``budget`` seconds of decoding have
been spent on the frame (the fast pass included), so a 1280x720 frame stays within the
30 frames/s budget. Where zxing-cpp located nothing and no code was seen lately, every other
frame gets one further pass on the searched region, taking the passes in turn (a dark-mode
screen is found within a third of a second at 30 frames/s; an idle camera costs half a pass more).
Each pass reads with the same formats, so what it finds is what the fast pass would
have found on a cleaner frame; the camera's frame agreement still decides what becomes a scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import zxingcpp

from ._formats import symbology_of
from .decode import Decoded, FrameDecoder

__all__ = ["PASSES", "RobustDecoder"]

#: the further passes, in the order they are tried
PASSES = ("region", "inverted", "equalised", "halved", "histogram")

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


class RobustDecoder:
    """Decodes a frame with the fast pass, then further passes while it finds nothing (see the module docstring).

    ``budget``: seconds of decoding per frame (None: no limit, every pass runs on a missed frame;
    for tests). ``track``: frames a detection's region is followed for. ``stats`` counts, per
    pass, the frames it rescued.
    """

    def __init__(
        self,
        fast: FrameDecoder | None = None,
        *,
        budget: float | None = 0.024,
        track: int = 15,
        margin: float = 0.6,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.fast = fast if fast is not None else FrameDecoder()
        self.budget = budget
        self.track = track
        self.margin = margin
        self._clock = clock
        self._options = dict(self.fast.read_options)  # invert=1 on the URL keeps try_invert in every pass
        self._errors = {**self._options, "return_errors": True}
        self._histogram = {**self._options, "binarizer": zxingcpp.Binarizer.GlobalHistogram}
        self._clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
        self._region: Box | None = None
        self._region_age = 0
        self._idle_turn = 0
        self._sticky = "plain"  # the pass that read the followed code last
        self._size = (0, 0)
        self.stats: dict[str, int] = {"frames": 0, "fast": 0, "tracked": 0, **dict.fromkeys(PASSES, 0)}

    def reset(self) -> None:
        """Forget the followed region (the source was reopened)."""
        self._region = None
        self._region_age = 0
        self._sticky = "plain"

    # ------------------------------------------------------------------ decoding

    def decode(self, frame: Any) -> list[Decoded]:
        """The codes in ``frame``; see the module docstring for the passes."""
        start = self._clock()
        self.stats["frames"] += 1
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape[:2]
        self._size = (width, height)
        roi = (0, 0, width, height)
        if self.fast.roi is not None:
            roi = self.fast.roi.rect(width, height)
        if self._region is not None:
            self._region_age += 1
            if self._region_age > self.track:
                self._region, self._sticky = None, "plain"
        if self._region is not None:  # the cheap look where the code was a moment ago, as it was read then
            found = self._pass(self._sticky, gray, self._region)
            if found:
                self.stats["tracked"] += 1
                return self._hit(found)
        results = self._raw(gray, roi, scale=1.0, options=self._errors)
        valid = [r for r in results if r.valid]
        if valid:
            self.stats["fast"] += 1
            self._sticky = "plain"
            return self._hit(list(zip([self._decoded(r) for r in valid], self._boxes(valid, roi, 1.0), strict=True)))
        located = self._boxes([r for r in results if not r.valid], roi, 1.0)
        trusted = True
        if located:  # zxing-cpp found a code it could not decode: work on its region
            target: Box | None = _union(located, width, height, self.margin)
        elif self._region is not None and self._region_age <= 3:  # just lost: it is still about there
            target = self._region
        else:  # nothing known: where the image looks like a code (strong gradients), if anywhere
            target, trusted = _locate(gray, roi), False
        passes: tuple[str, ...] = PASSES
        if not trusted and self.budget is not None:  # maybe nothing in view: one further pass every other frame
            self._idle_turn += 1
            if self._idle_turn % 2:
                return []
            passes = (PASSES[(self._idle_turn // 2) % len(PASSES)],)
        for name in passes:
            if self.budget is not None and self._clock() - start >= self.budget:
                break
            found = self._pass(name, gray, target or roi)
            if found:
                self.stats[name] += 1
                self._sticky = name
                return self._hit(found)
        return []

    def _pass(self, name: str, gray: Any, box: Box) -> list[tuple[Decoded, Box]]:
        width, height = self._size
        small = (box[2] - box[0]) * (box[3] - box[1]) <= width * height // 4
        enlarge = 1.5 if small else 1.0  # a region gets more pixels per module; a whole frame would cost too much
        if name == "plain":
            return self._read(gray, box, scale=1.0, options=self._options)
        if name == "region":
            return self._read(gray, box, scale=1.5 if small else 1.0, options=self._options)
        if name == "inverted":
            return self._read(gray, box, scale=enlarge, options=self._options, transform=cv2.bitwise_not)
        if name == "equalised":
            return self._read(gray, box, scale=enlarge, options=self._options, transform=self._clahe.apply)
        if name == "halved":
            return self._read(gray, box, scale=0.5, options=self._options)
        return self._read(gray, box, scale=enlarge, options=self._histogram)

    # ------------------------------------------------------------------ helpers

    def _raw(self, gray: Any, box: Box, *, scale: float, options: dict[str, Any], transform: Any = None) -> list[Any]:
        x0, y0, x1, y1 = box
        image = gray[y0:y1, x0:x1]
        if scale != 1.0:
            interpolation = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_AREA
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
        if transform is not None:
            image = transform(np.ascontiguousarray(image))
        return list(zxingcpp.read_barcodes(image, **options))

    def _read(
        self, gray: Any, box: Box, *, scale: float, options: dict[str, Any], transform: Any = None
    ) -> list[tuple[Decoded, Box]]:
        results = [r for r in self._raw(gray, box, scale=scale, options=options, transform=transform) if r.valid]
        return list(zip([self._decoded(r) for r in results], self._boxes(results, box, scale), strict=True))

    @staticmethod
    def _decoded(result: Any) -> Decoded:
        return Decoded(
            text=result.text,
            raw=result.bytes,
            symbology=symbology_of(result.format.name),
            aim=result.symbology_identifier or None,
            format=result.format.name,
        )

    @staticmethod
    def _boxes(results: Sequence[Any], box: Box, scale: float) -> list[Box]:
        """Each result's bounding box in frame coordinates."""
        boxes = []
        for result in results:
            p = result.position
            xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
            ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
            boxes.append(
                (
                    box[0] + int(min(xs) / scale),
                    box[1] + int(min(ys) / scale),
                    box[0] + int(max(xs) / scale) + 1,
                    box[1] + int(max(ys) / scale) + 1,
                )
            )
        return boxes

    def _hit(self, found: Sequence[tuple[Decoded, Box]]) -> list[Decoded]:
        if found:
            self._region = _union([box for _, box in found], *self._size, self.margin)
            self._region_age = 0
        return [decoded for decoded, _ in found]


def _union(boxes: Sequence[Box], width: int, height: int, margin: float) -> Box:
    """The boxes' bounding box, grown by ``margin`` of its size on every side, clipped to the frame."""
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    grow_x, grow_y = int((x1 - x0) * margin) + 8, int((y1 - y0) * margin) + 8
    return max(0, x0 - grow_x), max(0, y0 - grow_y), min(width, x1 + grow_x), min(height, y1 + grow_y)


def _locate(gray: Any, roi: Box) -> Box | None:
    """Where in ``roi`` the image has the dense strong edges of a code (or a screen showing one); None if nowhere.

    Gradient magnitude on a quarter-size copy, smoothed, Otsu threshold, closed, the largest
    blob's bounding box: about 1.5 ms for a 1280x720 frame.
    """
    x0, y0, x1, y1 = roi
    small = cv2.resize(gray[y0:y1, x0:x1], None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    if small.shape[0] < 8 or small.shape[1] < 8:
        return None
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.blur(cv2.convertScaleAbs(cv2.magnitude(gx, gy)), (5, 5))
    _, mask = cv2.threshold(edges, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    square = np.ones((3, 3), np.uint8)
    mask = cv2.dilate(cv2.erode(mask, square, iterations=2), square, iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    bx, by, bw, bh = cv2.boundingRect(max(contours, key=cv2.contourArea))
    pad = 8
    return (
        max(x0, x0 + bx * 4 - pad),
        max(y0, y0 + by * 4 - pad),
        min(x1, x0 + (bx + bw) * 4 + pad),
        min(y1, y0 + (by + bh) * 4 + pad),
    )
