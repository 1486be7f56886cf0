"""Reading what a scanner sends for one scan, raw: bytes from a serial port or the terminal, HID reports.

Every capture waits up to ``timeout`` seconds for the first input, then keeps reading until
``settle`` seconds pass without any (so a suffix sent late, or a duplicate read, is caught),
and returns ``(time.monotonic(), data)`` pairs. Nothing is decoded here: the analysis does
that (:mod:`paycode.setup_assistant.analysis`).
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import ScannerConfigError, ScannerGone, UsageError
from ..scanning import ScannerURL

__all__ = ["Captured", "capture_evdev", "capture_hid", "capture_serial", "capture_stdin", "collect"]

Captured = list[tuple[float, bytes]]
_SLICE = 0.05
_ABORT = b"\x03"  # Ctrl+C typed at a terminal in raw mode


def collect(
    read: Callable[[float], bytes],
    *,
    timeout: float,
    settle: float,
    stop: threading.Event | None = None,
    heard: Callable[[], None] | None = None,
) -> Captured:
    """Call ``read(wait)`` (bytes that arrived within ``wait`` s, or b"") until input has settled.

    ``read`` raises EOFError when no more input can come (the end of a pipe): what arrived is returned.
    ``stop`` ends a capture that has received nothing yet (another device was heard first); ``heard``
    is called once, when the first input arrives.
    """
    got: Captured = []
    deadline = time.monotonic() + timeout
    while True:
        if stop is not None and stop.is_set() and not got:
            return got
        now = time.monotonic()
        limit = deadline if not got else got[-1][0] + settle
        if now >= limit:
            return got
        try:
            data = read(min(_SLICE, limit - now))
        except EOFError:
            return got
        if data:
            if not got and heard is not None:
                heard()
            got.append((time.monotonic(), data))


def capture_serial(url: ScannerURL, *, timeout: float, settle: float, **listen: Any) -> Captured:
    """Raw bytes from the serial port (or network serial server) ``url`` names, with its line settings."""
    try:
        import serial
        from paycode_serial import LineSettings, port_for_url
    except ImportError:
        raise UsageError("reading a serial scanner needs paycode-serial (pip install paycode-serial)") from None
    port_name, local = port_for_url(url)
    options: dict[str, Any] = {**LineSettings.from_url(url).pyserial_kwargs(), "timeout": _SLICE}
    if local:
        options["exclusive"] = True
    try:
        port = serial.serial_for_url(port_name, **options)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise ScannerGone(f"cannot open {port_name}: {exc}", scanner=url.display) from None
    try:
        # no reset_input_buffer() here: pyserial's open() already discarded what was waiting, and a second
        # flush after the prompt could swallow a scan that arrived in between

        def read(wait: float) -> bytes:
            port.timeout = wait
            first = port.read(1)
            if not first:
                return b""
            return bytes(first) + bytes(port.read(port.in_waiting or 0))

        return collect(read, timeout=timeout, settle=settle, **listen)
    except (serial.SerialException, OSError) as exc:
        raise ScannerGone(f"{port_name} went away: {exc}", scanner=url.display) from None
    finally:
        port.close()


def capture_stdin(*, timeout: float, settle: float, fd: int | None = None, **listen: Any) -> Captured:
    """Keystrokes typed into this terminal by a keyboard-wedge scanner, as bytes (raw mode: CR stays CR).

    Ctrl+C typed at the keyboard ends the capture with a UsageError.
    """
    fd = sys.stdin.fileno() if fd is None else fd
    restore = None
    if os.isatty(fd):
        import termios
        import tty

        restore = termios.tcgetattr(fd)
        tty.setraw(fd, termios.TCSANOW)
    try:

        def read(wait: float) -> bytes:
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                return b""
            data = os.read(fd, 4096)
            if data == _ABORT:
                raise UsageError("set-up interrupted (Ctrl+C)")
            if not data:  # end of input: nothing more will come
                raise EOFError
            return data

        return collect(read, timeout=timeout, settle=settle, **listen)
    finally:
        if restore is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, restore)


def capture_hid(
    url: ScannerURL, *, timeout: float, settle: float, backend: Any = None, **listen: Any
) -> tuple[str, Captured]:
    """Raw reports from the HID device ``url`` names: ``("pos" | "keyboard", reports)``.

    ``backend`` replaces hidapi's ``hid`` module (paycode-hid's ReplayBackend in tests).
    """
    try:
        from paycode_hid import HidScanner, hidapi_scanner, select_device
        from paycode_hid.hidapi_scanner import HID_POS_USAGE_PAGE
    except ImportError:
        raise UsageError("reading a HID scanner needs paycode-hid (pip install paycode-hid)") from None
    api = backend if backend is not None else hidapi_scanner.load_hidapi()
    selector = HidScanner._selector(url)
    mode = url.get_choice("mode", ("auto", "keyboard", "pos"), "auto")
    if not selector.names_a_device and mode != "pos":
        mode = "pos"
    try:
        entry = select_device(api.enumerate(), selector, mode)
    except ScannerConfigError:
        raise
    path = entry["path"].encode() if isinstance(entry["path"], str) else bytes(entry["path"])
    device = api.device()
    try:
        device.open_path(path)
    except OSError as exc:
        raise ScannerGone(
            f"cannot open HID device {path.decode(errors='replace')}: {exc}", scanner=url.display
        ) from None
    kind = "pos" if entry.get("usage_page") == HID_POS_USAGE_PAGE else "keyboard"
    try:

        def read(wait: float) -> bytes:
            try:
                data = device.read(64, max(1, int(wait * 1000)))
            except (OSError, ValueError) as exc:
                raise ScannerGone(f"the HID device went away ({exc})", scanner=url.display) from None
            return bytes(data)

        return kind, collect(read, timeout=timeout, settle=settle, **listen)
    finally:
        device.close()


def capture_evdev(url: ScannerURL, *, timeout: float, settle: float, **listen: Any) -> Captured:
    """The boot keyboard reports a keyboard-wedge scanner's key events make, read from the Linux input layer.

    The device is grabbed while reading (as ``evdev://`` does), so the keys reach no window.
    """
    try:
        from paycode_hid import EvdevKeyDecoder, EvdevScanner
    except ImportError:
        raise UsageError("reading an evdev device needs paycode-hid (pip install paycode-hid)") from None
    scanner = EvdevScanner(url)
    scanner.open()
    keys = EvdevKeyDecoder()
    try:

        def read(wait: float) -> bytes:
            reports = [keys.report(*event) for event in scanner.read_events(wait)]
            return b"".join(r for r in reports if r is not None)

        chunks = collect(read, timeout=timeout, settle=settle, **listen)
    finally:
        scanner.close()
    return [(at, data[i : i + 8]) for at, data in chunks for i in range(0, len(data), 8)]
