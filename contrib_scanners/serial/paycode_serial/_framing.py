"""The standard serial framing and its sans-IO decoder.

Most serial scanners send ``[STX] data terminator``: the data is printable text, the
terminator one of CR, LF, CR LF, TAB, ETX or EOT (configured on the scanner), or
nothing at all, in which case a pause ends the frame. :class:`Framing` says which;
:class:`FrameDecoder` turns any stream of bytes, however it is chunked, into frames,
and into errors for input it discards. It never holds more than ``max_length`` bytes.
"""

from __future__ import annotations

import re

import attrs
from paycode.errors import ScannerConfigError
from paycode.scanning import ScannerURL

from ._frames import PRINTABLE, Frame, FrameError, describe_byte, first_unprintable

__all__ = ["FRAMING_PARAMS", "SUFFIXES", "FrameDecoder", "Framing"]

STX = 0x02

#: suffix name -> terminator bytes; "none" means an inter-character gap ends the frame
SUFFIXES: dict[str, bytes] = {
    "cr": b"\r",
    "lf": b"\n",
    "crlf": b"\r\n",
    "tab": b"\t",
    "etx": b"\x03",
    "eot": b"\x04",
    "none": b"",
}

#: URL parameters the framing understands (``suffix`` is also a core parameter)
FRAMING_PARAMS: dict[str, str] = {
    "suffix": "what ends a frame: cr, lf, crlf, tab, etx, eot, none (a pause), or literal text; "
    "default CR, LF or CR LF alike (ETX with stx=yes)",
    "stx": "yes: frames start with STX (0x02); bytes outside STX…terminator are dropped (default no)",
    "gap": "with suffix=none: milliseconds of silence that end a frame (default 50)",
    "max_length": "longest frame in bytes; longer input is discarded with an error (default 512)",
}

_DEFAULT_GAP = 0.05
_DEFAULT_MAX_LENGTH = 512
_MAX_LITERAL = 8
# bytes that may sit between STX frames without being reported: control characters and space
_IGNORABLE_OUTSIDE = bytes([*range(0x00, 0x21), 0x7F])


def _check_suffix(framing: Framing, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None or value in SUFFIXES:
        return
    if not (0 < len(value) <= _MAX_LITERAL and value.isascii() and first_unprintable(value.encode()) is None):
        raise ScannerConfigError(
            f"suffix {value!r} is not valid; accepted: {', '.join(SUFFIXES)}, "
            f"or literal printable text of 1-{_MAX_LITERAL} characters"
        )


@attrs.frozen
class Framing:
    """How frames are delimited.

    ``suffix`` None (the default) ends a frame at CR, LF or CR LF alike, or at ETX when
    ``stx`` is set; a name from :data:`SUFFIXES` or literal text ends it there; ``"none"``
    ends it after ``gap`` seconds of silence. ``stx`` makes frames start at STX.
    """

    suffix: str | None = attrs.field(default=None, validator=_check_suffix)
    stx: bool = False
    gap: float = attrs.field(default=_DEFAULT_GAP)
    max_length: int = attrs.field(default=_DEFAULT_MAX_LENGTH)

    @gap.validator
    def _check_gap(self, attribute: attrs.Attribute[float], value: float) -> None:
        if not 0.001 <= value <= 10.0:
            raise ScannerConfigError(f"gap {value!r} s is not valid; accepted: 0.001 to 10 seconds")

    @max_length.validator
    def _check_max_length(self, attribute: attrs.Attribute[int], value: int) -> None:
        if not 1 <= value <= 65536:
            raise ScannerConfigError(f"max_length {value!r} is not valid; accepted: 1 to 65536 bytes")

    @classmethod
    def from_url(cls, url: ScannerURL) -> Framing:
        """Read ``suffix``, ``stx``, ``gap`` (milliseconds) and ``max_length`` from a scanner URL."""
        suffix = url.get_str("suffix")
        if suffix is not None and suffix.lower() in SUFFIXES:
            suffix = suffix.lower()
        if "gap" in url.params and suffix != "none":
            raise ScannerConfigError(
                f"scanner {url.scheme}://: parameter gap= applies only with suffix=none "
                "(then a pause of gap milliseconds ends a frame)",
                scanner=url.raw,
            )
        gap_ms = url.get_float("gap", _DEFAULT_GAP * 1000, minimum=1, maximum=10000)
        max_length = url.get_int("max_length", _DEFAULT_MAX_LENGTH, minimum=1, maximum=65536)
        stx = url.get_bool("stx", False)
        try:
            return cls(suffix=suffix, stx=stx, gap=gap_ms / 1000, max_length=max_length)
        except ScannerConfigError as exc:
            raise ScannerConfigError(f"scanner {url.scheme}://: {exc}", scanner=url.raw) from None

    @property
    def terminators(self) -> tuple[bytes, ...]:
        """The byte sequences that end a frame; empty when a pause ends it."""
        if self.suffix is None:
            return (b"\x03",) if self.stx else (b"\r", b"\n")
        return (SUFFIXES.get(self.suffix, self.suffix.encode("ascii")),) if self.suffix != "none" else ()

    def describe(self) -> str:
        """``STX … CR/LF`` style summary, for messages."""
        ends = "/".join(_name(t) for t in self.terminators) or f"a {self.gap * 1000:g} ms pause"
        return f"STX … {ends}" if self.stx else ends


def _name(terminator: bytes) -> str:
    for name, value in SUFFIXES.items():
        if value == terminator:
            return name.upper()
    return repr(terminator.decode("ascii"))


class FrameDecoder:
    """Sans-IO decoder for a :class:`Framing`: ``feed(bytes, now)`` → frames and errors.

    A CR LF pair is one terminator in the default framing (the LF ends an empty frame,
    and empty frames are dropped), even when the pair is split across two reads.
    A frame holding a byte that is not printable text, or longer than ``max_length``,
    is reported once, as soon as it is seen, and the rest of it is skipped up to the
    next terminator (or STX, or pause): the decoder then picks up again.
    """

    def __init__(self, framing: Framing | None = None) -> None:
        self.framing = framing = framing or Framing()
        self._stx = framing.stx
        self._max = framing.max_length
        self._gap = framing.gap if not framing.terminators else None
        alternatives = sorted(framing.terminators, key=len, reverse=True)
        if self._stx:
            alternatives.append(b"\x02")
        self._boundary = re.compile(b"|".join(re.escape(a) for a in alternatives)) if alternatives else None
        # a terminator longer than one byte may arrive split across reads: hold its start back
        self._long = max(framing.terminators, key=len) if framing.terminators else b""
        self._start = b"\x02" if self._stx else b""
        self._buf = bytearray()
        self._carry = b""
        self._discarding = False
        self._outside = self._stx
        self._outside_reported = False
        self._last = 0.0

    # -- the Decoder protocol --------------------------------------------------------

    def feed(self, data: bytes, now: float) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        if self._gap is not None and self._pending() and now - self._last >= self._gap:
            self._finish(b"", out)
        if not data:
            return out
        self._last = now
        if self._carry:
            data, self._carry = self._carry + data, b""
        pos, end = 0, len(data)
        while pos < end:
            if self._outside:
                pos = self._skip_outside(data, pos, out)
                continue
            match = self._boundary.search(data, pos) if self._boundary else None
            if match is None:
                stop = end - self._held(data, pos)
                self._carry = data[stop:]
                self._take(data[pos:stop], out)
                break
            self._take(data[pos : match.start()], out)
            if self._stx and data[match.start()] == STX:
                if self._buf and not self._discarding:
                    out.append(FrameError("frame cut short by a new STX; partial frame discarded", "interrupted"))
                self._clear()
            else:
                self._finish(match.group(), out)
            pos = match.end()
        return out

    def deadline(self) -> float | None:
        if self._gap is None or not self._pending():
            return None
        return self._last + self._gap

    def expire(self, now: float) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            self._finish(b"", out)
        return out

    def reset(self) -> None:
        self._clear()
        self._carry = b""
        self._outside = self._stx
        self._outside_reported = False

    @property
    def buffered(self) -> int:
        """Bytes held for the frame in progress (never more than ``max_length`` plus a partial terminator)."""
        return len(self._buf) + len(self._carry)

    # -- internals ---------------------------------------------------------------------

    def _pending(self) -> bool:
        return not self._outside and bool(self._buf or self._discarding)

    def _clear(self) -> None:
        self._buf.clear()
        self._discarding = False

    def _skip_outside(self, data: bytes, pos: int, out: list[Frame | FrameError]) -> int:
        """Between STX frames: drop bytes up to the next STX, reporting printable ones once."""
        found = data.find(b"\x02", pos)
        stop = len(data) if found < 0 else found
        if not self._outside_reported and data[pos:stop].translate(None, _IGNORABLE_OUTSIDE):
            out.append(FrameError("text outside STX framing discarded (expected STX to start a frame)", "outside"))
            self._outside_reported = True
        if found < 0:
            return len(data)
        self._outside = False
        self._outside_reported = False
        return found + 1

    def _held(self, data: bytes, pos: int) -> int:
        """How many bytes at the end of data[pos:] could be the start of a multi-byte terminator."""
        for k in range(len(self._long) - 1, 0, -1):
            if data.endswith(self._long[:k]) and len(data) - pos >= k:
                return k
        return 0

    def _take(self, segment: bytes, out: list[Frame | FrameError]) -> None:
        if not segment or self._discarding:
            return
        bad = segment.translate(None, PRINTABLE)
        if bad:
            out.append(
                FrameError(
                    f"frame contains byte {describe_byte(bad[0])}, which is not printable text; frame discarded "
                    f"(frames end with {self.framing.describe()}: check the scanner's suffix= and stx= settings)",
                    "garbage",
                )
            )
            self._buf.clear()
            self._discarding = True
        elif len(self._buf) + len(segment) > self._max:
            out.append(
                FrameError(
                    f"frame longer than max_length={self._max} bytes without {self.framing.describe()}; discarded",
                    "overlong",
                )
            )
            self._buf.clear()
            self._discarding = True
        else:
            self._buf += segment

    def _finish(self, terminator: bytes, out: list[Frame | FrameError]) -> None:
        if self._buf and not self._discarding:
            data = bytes(self._buf)
            out.append(Frame(data=data, raw=self._start + data + terminator))
        self._clear()
        if self._stx:
            self._outside = True
