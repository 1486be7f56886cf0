"""``SerialScanner``: a paycode Scanner on any pyserial port, framed by any Decoder."""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any

import serial
from paycode.errors import ScannerConfigError, ScannerError, ScannerGone
from paycode.models import Scan
from paycode.scanning import Feedback, ScannerURL

from ._feedback import feedback_commands
from ._frames import Decoder, Frame, FrameError
from ._framing import FrameDecoder, Framing
from ._line import LineSettings, port_for_url

__all__ = ["SerialScanner"]

#: most bytes taken from the port in one go; the decoder bounds what it keeps
_CHUNK = 4096
#: longest single wait on the port; bounds how late a timeout or a pause is noticed
_POLL = 0.05
_ABSENT = {errno.ENOENT, errno.ENODEV, errno.ENXIO}
_DENIED = {errno.EACCES, errno.EPERM}


class SerialScanner:
    """Reads scans from a serial port named by a scanner URL (see :func:`paycode_serial.port_for_url`).

    ``decoder`` splits the byte stream into frames; by default a :class:`FrameDecoder` for
    the URL's ``suffix``/``stx``/``gap``/``max_length``. Local devices are opened
    exclusively, and input that arrived before the port was opened is discarded.
    Implements :class:`paycode.scanning.Scanner`: a vanished port raises
    :class:`~paycode.errors.ScannerGone`, discarded input a plain
    :class:`~paycode.errors.ScannerError`; frames decoded before either are delivered first.

    It has the feedback capability (:class:`paycode.scanning.FeedbackScanner`): the URL's
    ``good``, ``bad``, ``beep``, ``led_on``, ``led_off`` and ``trigger`` parameters give the
    vendor's command bytes, written to the port when the lane signals that kind.
    """

    def __init__(
        self,
        url: ScannerURL | str,
        decoder: Decoder | None = None,
        *,
        line: LineSettings | None = None,
        poll: float | None = None,
    ) -> None:
        self.url = url if isinstance(url, ScannerURL) else ScannerURL.parse(url)
        self.port_name, self.local = port_for_url(self.url)
        self.line = line if line is not None else LineSettings.from_url(self.url)
        self.decoder: Decoder = decoder if decoder is not None else FrameDecoder(Framing.from_url(self.url))
        if poll is None:
            poll = _POLL
            if isinstance(self.decoder, FrameDecoder) and not self.decoder.framing.terminators:
                poll = min(poll, self.decoder.framing.gap / 2)
        self._poll = poll
        self._port: Any = None
        self._ready: deque[Frame | FrameError] = deque()
        self.commands: dict[Feedback, bytes] = feedback_commands(self.url)
        self._write_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SerialScanner({self.url.raw!r})"

    @property
    def serial_port(self) -> Any:
        """The open pyserial port object, or None."""
        return self._port

    # -- the Scanner protocol ------------------------------------------------------

    def open(self) -> None:
        if self._port is not None:
            return
        self._check_device()
        options: dict[str, Any] = {**self.line.pyserial_kwargs(), "timeout": self._poll, "do_not_open": True}
        if self.local:
            options["exclusive"] = True
        try:
            port = serial.serial_for_url(self.port_name, **options)
            port.open()
        except ValueError as exc:
            raise ScannerConfigError(
                f"scanner {self.url.raw}: the port refused the settings: {exc}", scanner=self.url.raw
            ) from None
        except (serial.SerialException, OSError) as exc:
            raise self._open_error(exc) from None
        self.decoder.reset()
        self._ready.clear()
        self._port = port

    def read(self, timeout: float | None) -> Scan | None:
        if self._port is None:
            raise ScannerGone(f"serial port {self.port_name} is not open", scanner=self.url.raw)
        end = None if timeout is None else time.monotonic() + timeout
        attempted = False
        while True:
            if self._ready:
                return self._deliver(self._ready.popleft())
            now = time.monotonic()
            deadline = self.decoder.deadline()
            if deadline is not None and now >= deadline:
                self._ready.extend(self.decoder.expire(now))
                if self._ready:
                    continue
            if attempted and end is not None and now >= end:
                return None
            attempted = True
            chunk = self._read_chunk()
            if chunk:
                self._ready.extend(self.decoder.feed(chunk, time.monotonic()))

    # -- the feedback capability -----------------------------------------------------

    @property
    def feedback_kinds(self) -> frozenset[Feedback]:
        """The kinds the URL gives a command for."""
        return frozenset(self.commands)

    def feedback(self, kind: Feedback) -> bool:
        """Write the command of ``kind``; False when there is none, the port is closed or the write fails."""
        command = self.commands.get(kind)
        port = self._port
        if command is None or port is None:
            return False
        with self._write_lock:
            try:
                port.write(command)
                port.flush()
            except (serial.SerialException, OSError, ValueError):
                return False  # gone: the reader notices and reports it
        return True

    def close(self) -> None:
        port, self._port = self._port, None
        self._ready.clear()
        if port is not None:
            # pyserial's socket:// close() skips closing its socket when shutdown() fails (the peer went away
            # first): close it here, or the descriptor leaks
            sock = getattr(port, "_socket", None)
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass  # already gone: nothing left to release
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def __enter__(self) -> SerialScanner:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------

    def _deliver(self, item: Frame | FrameError) -> Scan:
        if isinstance(item, FrameError):
            raise ScannerError(item.reason, scanner=self.url.raw, kind=item.kind)
        return Scan(raw=item.raw, text=item.text, source=self.url.raw, symbology=item.symbology)

    def _read_chunk(self) -> bytes:
        """Wait up to one poll interval for a byte, then take whatever else is already there."""
        port = self._port
        if port is None:  # closed from another thread between two waits
            raise ScannerGone(f"serial port {self.port_name} was closed", scanner=self.url.raw)
        try:
            first = port.read(1)
            if not first:
                return b""
            chunk = bytearray(first)
            while len(chunk) < _CHUNK:
                waiting = port.in_waiting
                if not waiting:
                    break
                chunk += port.read(min(waiting, _CHUNK - len(chunk)))
            return bytes(chunk)
        except Exception as exc:
            if self._port is not port:  # close() from another thread while this one waited
                raise ScannerGone(f"serial port {self.port_name} was closed", scanner=self.url.raw) from None
            if not isinstance(exc, serial.SerialException | OSError):
                raise
            self.close()
            raise ScannerGone(
                f"serial port {self.port_name} went away ({_detail(exc)})", scanner=self.url.raw
            ) from None

    def _check_device(self) -> None:
        """A local path that exists but is not a character device can never work: say so now."""
        if not self.local or os.name != "posix":
            return
        try:
            mode = os.stat(self.port_name).st_mode
        except OSError:
            return  # absent: open() reports it as gone, so it is retried when plugged in
        if not stat.S_ISCHR(mode):
            raise ScannerConfigError(
                f"scanner {self.url.raw}: {self.port_name} is not a serial device (not a character device)",
                scanner=self.url.raw,
            )

    def _open_error(self, exc: BaseException) -> ScannerConfigError | ScannerGone:
        code = _errno(exc)
        where = f"serial port {self.port_name}"
        if code == errno.ENOTTY:
            return ScannerConfigError(
                f"scanner {self.url.raw}: {self.port_name} is not a serial port ({_detail(exc)})", scanner=self.url.raw
            )
        if "exclusively lock" in str(exc):
            return ScannerGone(
                f"{where} is in use by another program (ports are opened exclusively)", scanner=self.url.raw
            )
        if code in _ABSENT:
            return ScannerGone(f"{where} is not there (unplugged?)", scanner=self.url.raw)
        if code in _DENIED:
            return ScannerGone(
                f"{where}: permission denied (add the user to the port's group, e.g. dialout, or a udev rule)",
                scanner=self.url.raw,
            )
        return ScannerGone(f"{where} could not be opened ({_detail(exc)})", scanner=self.url.raw)


def _errno(exc: BaseException) -> int | None:
    """The OS error number behind a pyserial exception, wherever pyserial put it."""
    seen: BaseException | None = exc
    while seen is not None:
        number = getattr(seen, "errno", None)
        if isinstance(number, int):
            return number
        args = getattr(seen, "args", ())
        if args and isinstance(args[0], int):
            return args[0]
        seen = seen.__cause__ or seen.__context__
    return None


def _detail(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
