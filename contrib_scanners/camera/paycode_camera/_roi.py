"""The region of interest: ``roi=x,y,w,h`` in pixels, or in fractions of the frame."""

from __future__ import annotations

import attrs
from paycode.errors import ScannerConfigError

__all__ = ["Roi"]

_ACCEPTED = (
    "four numbers x,y,w,h: whole pixels (roi=320,0,640,720) or, when any has a decimal point, "
    "fractions of the frame between 0 and 1 (roi=0.25,0,0.5,1)"
)


@attrs.frozen
class Roi:
    """A rectangle of the frame to decode; the rest of the frame is ignored.

    ``fractional`` rectangles scale with the frame; pixel rectangles are clipped to it.
    """

    x: float
    y: float
    w: float
    h: float
    fractional: bool

    @classmethod
    def parse(cls, text: str, *, scheme: str = "camera") -> Roi:
        def bad(reason: str) -> ScannerConfigError:
            return ScannerConfigError(
                f"scanner {scheme}://: parameter roi={text!r} is not valid ({reason}); accepted: {_ACCEPTED}"
            )

        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise bad(f"{len(parts)} values")
        fractional = any("." in p for p in parts)
        values: list[float] = []
        for part in parts:
            if not part or not all(c in "0123456789." for c in part) or part.count(".") > 1 or part == ".":
                raise bad(f"{part!r} is not a non-negative number")
            values.append(float(part) if fractional else int(part))
        x, y, w, h = values
        if w <= 0 or h <= 0:
            raise bad("width and height must be greater than zero")
        if fractional and (x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9):
            raise bad("x+w and y+h must not exceed 1")
        return cls(x, y, w, h, fractional)

    def rect(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of this region in a ``width`` x ``height`` frame, clipped to it.

        Raises ScannerConfigError when nothing of the region lies inside the frame.
        """
        if self.fractional:
            x0, y0 = round(self.x * width), round(self.y * height)
            x1, y1 = round((self.x + self.w) * width), round((self.y + self.h) * height)
            x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        else:
            x0, y0 = int(self.x), int(self.y)
            x1, y1 = x0 + int(self.w), y0 + int(self.h)
        x0, y0 = min(x0, width), min(y0, height)
        x1, y1 = min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            raise ScannerConfigError(
                f"camera roi={self} lies outside the {width}x{height} frame; give a region inside it"
            )
        return x0, y0, x1, y1

    def __str__(self) -> str:
        if self.fractional:
            return ",".join(f"{v:g}" for v in (self.x, self.y, self.w, self.h))
        return ",".join(str(int(v)) for v in (self.x, self.y, self.w, self.h))
