"""Sans-IO decoder of HID POS reports (usage page 0x8C, "Bar Code Scanner") into scans.

A 64-byte input report (Honeywell-style, also documented by Access-IS):

===========  ==========================================================
byte(s)      content
===========  ==========================================================
0            report id 0x02 (other report ids are ignored)
1            number of data bytes in this report (0-56)
2-4          AIM symbology identifier, e.g. ``]C0`` (zeros when the scanner sends none)
5-60         data
61           vendor symbology code id (Honeywell)
62           reserved
63           bit 0 set: the data continues in the next report
===========  ==========================================================

Continued reports repeat the AIM identifier; their data is concatenated and the scan
is finished by the first report without the continuation bit.

A refused report (too short, or claiming more than 56 data bytes) discards the scan it
belongs to *as a whole*: the reports that follow it up to the one without the
continuation bit are parts of that scan and are skipped, never delivered as a scan of
their own (a truncated code must never reach the lane). A report too short to carry the
continuation bit counts as continued; the skipping then also ends when input pauses
(:meth:`PosDecoder.flush`, called by the scanner's gap timer).
"""

from __future__ import annotations

from collections.abc import Sequence

from paycode.symbology import Symbology, from_aim, from_code_id

from .results import DecodedScan, DiscardedScan

__all__ = [
    "CONTINUED",
    "DATA_CAPACITY",
    "REPORT_ID",
    "REPORT_SIZE",
    "PosDecoder",
    "symbology_of",
]

REPORT_ID = 0x02
REPORT_SIZE = 64
DATA_OFFSET = 5
DATA_CAPACITY = 56
CODE_ID_OFFSET = 61
CONTINUED = 0x01

Result = DecodedScan | DiscardedScan
_NOTHING: tuple[Result, ...] = ()


def symbology_of(aim: str | None, code_id: str | None = None) -> Symbology | None:
    """``]Q1`` -> ``qr``; without an AIM identifier, Honeywell's code id (``s`` -> ``qr``); else None."""
    return from_aim(aim) or from_code_id(code_id)


class PosDecoder:
    """Feed HID POS input reports, get finished scans. Scans over ``max_length`` bytes are discarded."""

    def __init__(self, *, max_length: int = 8192) -> None:
        self.max_length = max_length
        self.reset()

    @property
    def pending(self) -> bool:
        """True while continued reports are waiting for their last part (or the rest of a refused scan)."""
        return self._started or self._skipping

    def reset(self) -> None:
        """Forget a scan under way (after reopening the device)."""
        self._parts: list[bytes] = []
        self._size = 0
        self._aim: bytes = b""
        self._code_id = 0
        self._started = False
        self._error: str | None = None
        self._skipping = False

    def flush(self) -> Result | None:
        """Give up on a scan whose last part never came: it is discarded. None when nothing is waiting."""
        if self._skipping:  # the rest of a refused scan: it was reported when it was refused
            self.reset()
            return None
        if not self._started:
            return None
        self.reset()
        return DiscardedScan("the last part of a continued HID POS scan never came", "incomplete")

    def feed(self, report: bytes | Sequence[int]) -> Sequence[Result]:
        """Decode one report: the scan it finishes or discards, or nothing (more to come, or not a scan report)."""
        result = self._feed(report if isinstance(report, bytes) else bytes(report))
        return _NOTHING if result is None else (result,)

    def _feed(self, data: bytes) -> Result | None:
        if not data or data[0] != REPORT_ID:
            return None
        if len(data) < REPORT_SIZE:
            return self._refuse(f"HID POS report of {len(data)} bytes; expected {REPORT_SIZE}", continued=True)
        continued = bool(data[REPORT_SIZE - 1] & CONTINUED)
        if self._skipping:  # a later part of a refused scan
            if not continued:
                self.reset()
            return None
        length = data[1]
        if length > DATA_CAPACITY:
            return self._refuse(
                f"HID POS report claims {length} data bytes; at most {DATA_CAPACITY} fit", continued=continued
            )
        if not self._started:
            self._started = True
            self._aim = data[2:DATA_OFFSET]
            self._code_id = data[CODE_ID_OFFSET]
        if self._error is None:
            self._parts.append(data[DATA_OFFSET : DATA_OFFSET + length])
            self._size += length
            if self._size > self.max_length:
                self._error = f"scan longer than {self.max_length} bytes"
                self._parts.clear()
        if continued:
            return None
        return self._finish()

    def _refuse(self, reason: str, *, continued: bool) -> Result | None:
        """Discard the scan this report belongs to; skip its later parts when more are to come."""
        already = self._skipping
        self.reset()
        self._skipping = continued
        return None if already else DiscardedScan(reason, "malformed")

    def _finish(self) -> Result | None:
        error, body, aim_bytes, code_id = self._error, b"".join(self._parts), self._aim, self._code_id
        self.reset()
        if error is not None:
            return DiscardedScan(error, "overlong")
        if not body:
            return None
        aim = _aim_text(aim_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("latin-1")
        return DecodedScan(
            text=text,
            raw=(aim.encode("ascii") if aim else b"") + body,
            aim=aim,
            code_id=chr(code_id) if 0x20 < code_id < 0x7F else None,
        )


def _aim_text(raw: bytes) -> str | None:
    if len(raw) == 3 and raw[0] == ord("]") and all(0x20 < b < 0x7F for b in raw[1:]):
        return raw.decode("ascii")
    return None
