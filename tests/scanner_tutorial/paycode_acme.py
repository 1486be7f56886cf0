"""paycode scanner plugin: Acme AX-200 serial scanners and their binary framing.

An AX-200 frame is ``STX, LEN, DATA (LEN bytes), SUM, ETX``: LEN is the number of data
bytes (1-250), SUM the XOR of LEN and every data byte. Scanner URLs: ``acme:///dev/ttyUSB0``,
``acme+socket://host:port``, ``acme+rfc2217://host:port``, with paycode-serial's line
settings (``baudrate``: 115200 unless the URL says otherwise, …), ``frame_timeout``:
milliseconds within which a started frame must be complete (default 200), and feedback
commands (``good=%16%07``: the bytes the AX-200 beeps a good read for).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paycode
from paycode import ScannerType, ScannerURL
from paycode_serial import Frame, FrameError, describe_byte, first_unprintable, list_devices, serial_scanner_types

STX, ETX = 0x02, 0x03
MAX_DATA = 250


def checksum(data: bytes) -> int:
    """XOR of the length byte and every data byte."""
    value = len(data)
    for byte in data:
        value ^= byte
    return value


def encode(data: bytes) -> bytes:
    """One AX-200 frame around ``data`` (what the scanner sends; for tests)."""
    return bytes([STX, len(data), *data, checksum(data), ETX])


class AcmeDecoder:
    """Sans-IO AX-200 decoder (a paycode_serial Decoder): bytes in, frames and errors out."""

    def __init__(self, frame_timeout: float = 0.2) -> None:
        self.frame_timeout = frame_timeout
        self.reset()

    def reset(self) -> None:
        self._frame: bytearray | None = None  # STX seen: LEN, DATA and SUM so far
        self._started = 0.0
        self._skipped = False

    def deadline(self) -> float | None:
        return None if self._frame is None else self._started + self.frame_timeout

    def expire(self, now: float) -> list[Frame | FrameError]:
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        self._frame = None
        return [FrameError("frame not complete within frame_timeout; discarded", "interrupted")]

    def feed(self, data: bytes, now: float) -> list[Frame | FrameError]:
        out = self.expire(now)
        for byte in data:
            frame = self._frame
            if frame is None:  # between frames: wait for STX
                if byte == STX:
                    self._frame, self._started, self._skipped = bytearray(), now, False
                elif not self._skipped:
                    self._skipped = True
                    out.append(FrameError(f"byte {describe_byte(byte)} outside a frame; skipped to STX", "outside"))
            elif not frame:  # the length byte
                if 1 <= byte <= MAX_DATA:
                    frame.append(byte)
                else:
                    self._frame = None
                    out.append(FrameError(f"length {byte} is not 1-{MAX_DATA}; frame discarded", "garbage"))
            elif len(frame) < frame[0] + 2:  # the data bytes, then the checksum
                frame.append(byte)
            else:  # the byte after the checksum
                out.append(self._finish(frame, byte))
        return out

    def _finish(self, frame: bytearray, end: int) -> Frame | FrameError:
        self._frame = None
        data, total = bytes(frame[1:-1]), frame[-1]
        if end != ETX:
            return FrameError(f"expected ETX after {len(data)} data bytes, got {describe_byte(end)}", "garbage")
        if checksum(data) != total:
            return FrameError("checksum mismatch; frame discarded", "checksum")
        bad = first_unprintable(data)
        if bad is not None:
            return FrameError(f"data holds byte {describe_byte(bad)}; frame discarded", "garbage")
        return Frame(data=data, raw=bytes([STX, *frame, end]))


def decoder_for(url: ScannerURL) -> AcmeDecoder:
    """The decoder for one scanner URL; a bad frame_timeout is a clear configuration error."""
    timeout_ms = url.get_float("frame_timeout", 200, minimum=10, maximum=10_000)
    return AcmeDecoder(frame_timeout=timeout_ms / 1000)


def acme_ports() -> list[dict[str, Any]]:
    """The AX-200s plugged in (USB id 0c2e:0b61), as acme:// URLs, for `paycode devices`."""
    return list_devices(scheme="acme", usb_ids={"0c2e:0b61"})


@paycode.hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    params = {"frame_timeout": "milliseconds within which a started frame must be complete (default 200)"}
    for scanner_type in serial_scanner_types(
        "acme",
        decoder_for,
        params=params,
        description="Acme AX-200 scanner",
        defaults={"baudrate": "115200"},  # the AX-200 ships at 115200 baud
        list_devices=acme_ports,
    ):
        register(scanner_type)
