"""The test barcode: drawn with zxing-cpp's writer, shown in a terminal as Unicode blocks and saved as a PNG file.

zxing-cpp (``pip install zxing-cpp``, which paycode-camera installs) writes the symbols; the
PNG file is written here with :mod:`zlib` (8-bit grayscale), so no image library is needed.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from ..errors import UsageError

__all__ = ["SYMBOLOGIES", "Matrix", "blocks", "symbol", "write_png"]

Matrix = list[list[bool]]  # rows of modules, True = dark

#: symbologies the test barcode can be drawn in, with the quiet zone each needs (modules)
SYMBOLOGIES = {"qr": 4, "code128": 10}


def symbol(text: str, symbology: str = "qr") -> Matrix:
    """The modules of ``text`` in ``symbology`` (``qr`` or ``code128``), without a quiet zone.

    A Code 128 symbol is one row per module column; its height is left to the renderer.
    Raises UsageError when zxing-cpp is missing or the symbology is unknown.
    """
    if symbology not in SYMBOLOGIES:
        raise UsageError(f"symbology {symbology!r} is not one the test barcode is drawn in; accepted: qr, code128")
    try:
        import zxingcpp
    except ImportError:
        raise UsageError(
            "drawing the test barcode needs zxing-cpp (pip install zxing-cpp, or pip install paycode-camera)"
        ) from None
    kind = zxingcpp.BarcodeFormat.QRCode if symbology == "qr" else zxingcpp.BarcodeFormat.Code128
    image = zxingcpp.create_barcode(text, kind).to_image(scale=1)
    height, width = image.shape[0], image.shape[1]
    pixels = bytes(memoryview(cast(Any, image)))  # a buffer of height x width bytes
    rows = [[pixels[y * width + x] < 128 for x in range(width)] for y in range(height)]
    rows = [row for row in rows if any(row)] if symbology == "qr" else rows[:1]
    columns = [x for x in range(width) if any(row[x] for row in rows)]
    left, right = columns[0], columns[-1] + 1
    return [row[left:right] for row in rows]


def _framed(modules: Matrix, quiet: int, height: int | None) -> Matrix:
    rows = [list(modules[0]) for _ in range(height)] if height is not None else [list(r) for r in modules]
    width = len(rows[0]) + 2 * quiet
    blank = [False] * width
    framed = [[False] * quiet + row + [False] * quiet for row in rows]
    return [list(blank) for _ in range(quiet)] + framed + [list(blank) for _ in range(quiet)]


def blocks(modules: Matrix, symbology: str = "qr") -> str:
    """The symbol as Unicode half blocks (two module rows per text line), dark modules dark on a light terminal.

    Each module is one character wide; the quiet zone is included. Terminals draw text light
    on dark as often as dark on light, so the symbol is drawn as light bars on the terminal's
    background ("█" for a light module): a scanner reads the inverted symbol only if it
    reads inverse codes, so the PNG file is the reliable form.
    """
    quiet = SYMBOLOGIES[symbology]
    rows = _framed(modules, quiet, 8 if symbology == "code128" else None)
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    chars = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        # light modules are drawn: the terminal's background shows the dark ones
        lines.append("".join(chars[(not a, not b)] for a, b in zip(top, bottom, strict=True)))
    return "\n".join(lines)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path: str | Path, symbols: Sequence[tuple[Matrix, str]], *, scale: int = 6) -> Path:
    """Write ``symbols`` ((modules, symbology) each) one below the other as a grayscale PNG; the path written."""
    pictures = [_framed(m, SYMBOLOGIES[s], 40 if s == "code128" else None) for m, s in symbols]
    width = max(len(p[0]) for p in pictures) * scale
    raw = bytearray()
    for picture in pictures:
        for row in picture:
            line = bytearray()
            for dark in row:
                line += (b"\x00" if dark else b"\xff") * scale
            line += b"\xff" * (width - len(line))
            for _ in range(scale):
                raw += b"\x00" + line  # filter type 0, then the row
    height = sum(len(p) for p in pictures) * scale
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += _png_chunk(b"IEND", b"")
    target = Path(path)
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write the test barcode to {target}: {exc.strerror or exc}") from None
    return target
