"""What a frame decoder produces, and the protocol every decoder follows.

A decoder is sans-IO: bytes and the time they arrived go in, :class:`Frame` and
:class:`FrameError` values come out. :class:`~paycode_serial.SerialScanner` does the
reading and turns them into scans and scanner errors.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Decoder", "Frame", "FrameError", "describe_byte", "first_unprintable"]

#: Bytes a frame's data may hold: printable ASCII and GS (0x1D, the GS1 field separator).
PRINTABLE = bytes([0x1D, *range(0x20, 0x7F)])

_CONTROL_NAMES = {
    0x00: "NUL", 0x02: "STX", 0x03: "ETX", 0x04: "EOT", 0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0A: "LF",
    0x0D: "CR", 0x11: "XON", 0x13: "XOFF", 0x18: "CAN", 0x1B: "ESC", 0x7F: "DEL",
}  # fmt: skip


@attrs.frozen
class Frame:
    """One complete scan as the scanner framed it.

    ``data`` is the label (printable ASCII, framing removed); ``raw`` is the data with the
    framing bytes around it. ``symbology`` is set by decoders whose framing names it.
    """

    data: bytes = attrs.field(repr=False)
    raw: bytes = attrs.field(repr=False)
    symbology: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("ascii")


@attrs.frozen
class FrameError:
    """Input the decoder discarded, and why (one line, never the data itself).

    ``kind`` is a short tag: ``garbage``, ``overlong``, ``outside`` (bytes outside
    STX framing), ``interrupted`` (a frame cut short), the other kinds documented in
    :data:`paycode.symbology.DISCARD_KINDS`, or a decoder's own (``checksum``: a short
    lowercase tag). The scanner raises it as ``ScannerError(reason, kind=kind)`` and the
    supervisor's statistics count discarded input by it.
    """

    reason: str
    kind: str


@runtime_checkable
class Decoder(Protocol):
    """A sans-IO frame decoder that :class:`~paycode_serial.SerialScanner` drives.

    - ``feed(data, now)``: bytes that arrived at ``now`` (``time.monotonic()``); returns
      the frames and errors they completed, in order. It must never buffer more than a
      bounded number of bytes, whatever arrives.
    - ``deadline()``: the time at which ``expire`` would end or drop a pending frame
      (an inter-character gap, a frame timeout), or None when nothing is pending.
    - ``expire(now)``: called when no byte arrived until ``now``; returns what that ended.
    - ``reset()``: forget any partial frame (the port was reopened).
    """

    def feed(self, data: bytes, now: float) -> list[Frame | FrameError]: ...

    def deadline(self) -> float | None: ...

    def expire(self, now: float) -> list[Frame | FrameError]: ...

    def reset(self) -> None: ...


def first_unprintable(data: bytes) -> int | None:
    """The first byte of ``data`` that a frame may not contain, or None when all are allowed."""
    bad = data.translate(None, PRINTABLE)
    return bad[0] if bad else None


def describe_byte(value: int) -> str:
    """``0x0d (CR)`` style name of a byte, for error messages."""
    name = _CONTROL_NAMES.get(value)
    return f"0x{value:02x} ({name})" if name else f"0x{value:02x}"
