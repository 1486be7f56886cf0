"""The per-frame decode path: one frame in, the codes zxing-cpp finds in it out.

This module imports zxing-cpp (and numpy through it), so the plugin imports it only when
a camera scanner opens. It is public so that benchmarks can compare it with bare
zxing-cpp on the same frames::

    decoder = FrameDecoder(formats=("qr", "code128"))
    found = decoder.decode(frame)                       # list[Decoded]
    bare = zxingcpp.read_barcodes(frame, **decoder.read_options)   # the same work, unwrapped
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import zxingcpp
from paycode.errors import ScannerConfigError

from ._formats import DEFAULT_FORMATS, FORMATS, canonical_format, symbology_of
from ._roi import Roi

__all__ = ["Decoded", "FrameDecoder", "invert_supported"]


@functools.cache
def invert_supported() -> bool:
    """Whether the installed zxing-cpp can look for light-on-dark codes (``try_invert``, zxing-cpp 3.0 and later)."""
    try:
        zxingcpp.read_barcodes(np.full((8, 8), 255, np.uint8), try_invert=False)
    except TypeError:
        return False
    return True


@attrs.frozen(repr=False)
class Decoded:
    """One code found in a frame. ``format`` is zxing-cpp's name (``Code128``), ``symbology`` paycode's."""

    text: str
    raw: bytes
    symbology: str
    aim: str | None
    format: str

    def __repr__(self) -> str:
        from paycode.masking import mask_code

        return f"Decoded({mask_code(self.text)!r}, {self.symbology}, aim={self.aim!r})"


class FrameDecoder:
    """Decodes BGR or grayscale frames (numpy ``uint8`` arrays, as OpenCV delivers them).

    The region of interest is cut as a view (no copy); zxing-cpp reads it through its strides.
    """

    __slots__ = ("_rect", "_rect_for", "formats", "read_options", "roi")

    def __init__(
        self,
        formats: Sequence[str] = DEFAULT_FORMATS,
        *,
        roi: Roi | None = None,
        rotate: bool = True,
        downscale: bool = True,
        invert: bool = False,
    ) -> None:
        names = [canonical_format(f) for f in formats]
        if not formats or None in names:
            raise ValueError(f"unknown barcode formats in {list(formats)}; known: {', '.join(FORMATS)}")
        self.formats = tuple(n for n in names if n is not None)
        self.roi = roi
        #: keyword arguments of ``zxingcpp.read_barcodes`` this decoder uses
        self.read_options: dict[str, Any] = {
            "formats": zxingcpp.barcode_formats_from_str(",".join(FORMATS[f] for f in self.formats)),
            "try_rotate": rotate,
            "try_downscale": downscale,
            # the data as a hardware scanner sends it (GS as 0x1D), not the human-readable form
            "text_mode": zxingcpp.TextMode.Plain,
        }
        if invert_supported():
            self.read_options["try_invert"] = invert
        elif invert:
            raise ScannerConfigError(
                "camera invert=1 needs zxing-cpp 3.0 or later to look for light-on-dark codes; "
                "upgrade zxing-cpp or leave invert off"
            )
        self._rect_for: tuple[int, int] | None = None
        self._rect: tuple[int, int, int, int] = (0, 0, 0, 0)

    def decode(self, frame: Any) -> list[Decoded]:
        """The codes in ``frame`` (within the region of interest), in zxing-cpp's order."""
        if self.roi is not None:
            height, width = frame.shape[:2]
            if self._rect_for != (width, height):
                self._rect = self.roi.rect(width, height)
                self._rect_for = (width, height)
            x0, y0, x1, y1 = self._rect
            frame = frame[y0:y1, x0:x1]
        return [
            Decoded(
                text=found.text,
                raw=found.bytes,
                symbology=symbology_of(found.format.name),
                aim=found.symbology_identifier or None,
                format=found.format.name,
            )
            for found in zxingcpp.read_barcodes(frame, **self.read_options)
        ]
