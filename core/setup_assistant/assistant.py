"""The candidates a scanner may be, and one diagnosis: capture a scan from a device URL and analyse it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

from ..errors import ScannerConfigError, ScannerGone
from ..scanning import ScannerURL
from .analysis import TEST_TEXT, Diagnosis, analyse_bytes, analyse_keyboard_reports, analyse_pos_reports
from .capture import Captured, capture_evdev, capture_hid, capture_serial, capture_stdin

__all__ = ["CAPTURED_SCHEMES", "STDIN_CANDIDATE", "candidates", "diagnose", "diagnose_any"]

#: the terminal itself: a keyboard-wedge scanner types into it
STDIN_CANDIDATE: dict[str, Any] = {
    "scheme": "stdin",
    "url": "stdin://",
    "description": "a keyboard-wedge scanner typing into this terminal",
}
#: the schemes whose raw input the assistant can read
CAPTURED_SCHEMES = ("stdin", "serial", "serial+socket", "serial+rfc2217", "rfc2217", "serial+loop", "hid", "evdev")


def candidates(host: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Every device an installed scanner plugin lists now (serial ports, HID devices, evdev keyboards, cameras),
    then the terminal; and one line per plugin that could not list its devices."""
    found: list[dict[str, Any]] = []
    trouble: list[str] = []
    for scheme, scanner_type in sorted(host.scanners.items()):
        if scanner_type.list_devices is None:
            continue
        try:
            devices = scanner_type.list_devices()
        except Exception as exc:  # a missing library or permission: say so, list the rest
            trouble.append(f"{scheme}:// could not list its devices: {type(exc).__name__}: {exc}")
            continue
        found += [{"scheme": scheme, **device} for device in devices]
    found.append(dict(STDIN_CANDIDATE))
    return found, trouble


def diagnose(
    url_text: str,
    *,
    timeout: float = 30.0,
    settle: float = 1.0,
    expected: str = TEST_TEXT,
    hid_backend: Any = None,
    stdin_fd: int | None = None,
) -> Diagnosis:
    """Read one scan of the test barcode from ``url_text`` and work out how to configure it.

    ``stdin://`` reads this terminal (a keyboard wedge), ``serial://…`` (and its transports) the
    port's raw bytes, ``hid://…`` the device's raw reports. Other schemes are refused with the
    accepted ones named. ``hid_backend`` replaces hidapi (tests); ``stdin_fd`` the terminal.
    """
    url = _capturable(url_text)
    captured = _capture(url, timeout=timeout, settle=settle, hid_backend=hid_backend, stdin_fd=stdin_fd)
    return _analyse(url, captured, expected)


def diagnose_any(
    url_texts: Sequence[str],
    *,
    timeout: float = 30.0,
    settle: float = 1.0,
    expected: str = TEST_TEXT,
    hid_backend: Any = None,
    stdin_fd: int | None = None,
) -> tuple[str, Diagnosis, list[str]]:
    """Listen on every device of ``url_texts`` at once; the first one heard is the scanner.

    Returns that device's URL, its diagnosis, and one line per device that could not be opened.
    When none is heard, the first device's "nothing" diagnosis is returned.
    """
    urls = [_capturable(text) for text in url_texts]
    if not urls:
        raise ScannerConfigError("no device to listen on; give --device URL (paycode setup scanner --list)")
    stop = threading.Event()
    heard: list[str] = []
    results: dict[str, tuple[str, Captured] | BaseException] = {}

    def listen(url: ScannerURL) -> None:
        def first() -> None:
            heard.append(url.raw)
            stop.set()

        try:
            results[url.raw] = _capture(
                url, timeout=timeout, settle=settle, hid_backend=hid_backend, stdin_fd=stdin_fd, stop=stop, heard=first
            )
        except Exception as exc:  # a device that cannot be opened now: the others may be the scanner
            results[url.raw] = exc

    threads = [threading.Thread(target=listen, args=(url,), name=f"paycode-setup {url.display}") for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    trouble = [f"{raw}: {result}" for raw, result in results.items() if isinstance(result, BaseException)]
    if not heard:
        opened = [url for url in urls if not isinstance(results.get(url.raw), BaseException)]
        if not opened:
            raise ScannerGone("none of the devices could be opened: " + "; ".join(trouble))
        url = opened[0]
        return url.raw, _analyse(url, cast(tuple[str, Captured], results[url.raw]), expected), trouble
    url = next(u for u in urls if u.raw == heard[0])
    return url.raw, _analyse(url, cast(tuple[str, Captured], results[url.raw]), expected), trouble


def _capturable(url_text: str) -> ScannerURL:
    url = ScannerURL.parse(url_text)
    if url.scheme not in CAPTURED_SCHEMES:
        hint = ""
        if url.scheme.startswith("camera"):
            hint = " (a camera needs no set-up: paycode scan --scanner camera://0 shows what it reads)"
        raise ScannerConfigError(
            f"paycode setup scanner cannot read {url.scheme}:// raw{hint}; accepted: "
            + ", ".join(f"{s}://" for s in CAPTURED_SCHEMES)
        )
    return url


def _capture(
    url: ScannerURL, *, timeout: float, settle: float, hid_backend: Any, stdin_fd: int | None, **listen: Any
) -> tuple[str, Captured]:
    """``(kind, captured)``: kind is stdin, serial, or the HID mode (pos or keyboard)."""
    if url.scheme == "stdin":
        return "stdin", capture_stdin(timeout=timeout, settle=settle, fd=stdin_fd, **listen)
    if url.scheme == "evdev":
        return "evdev", capture_evdev(url, timeout=timeout, settle=settle, **listen)
    if url.scheme == "hid":
        kind, reports = capture_hid(url, timeout=timeout, settle=settle, backend=hid_backend, **listen)
        if reports and all(len(r) == 64 and r[0] == 0x02 for _, r in reports):
            kind = "pos"  # the reports say HID POS, whatever the interface
        return kind, reports
    return "serial", capture_serial(url, timeout=timeout, settle=settle, **listen)


def _analyse(url: ScannerURL, captured: tuple[str, Captured], expected: str) -> Diagnosis:
    kind, chunks = captured
    if kind == "stdin":
        return analyse_bytes(chunks, transport="stdin", base_url="stdin://", expected=expected)
    if kind == "evdev":
        base = url.raw.partition("?")[0]
        return analyse_keyboard_reports(
            chunks, base_url=base, layout=url.get_str("layout") or "us", expected=expected, transport="evdev"
        )
    if kind in {"pos", "keyboard"}:
        base = f"hid://{url.target}" if url.target else "hid://"
        if kind == "pos":
            return analyse_pos_reports(chunks, base_url=base, expected=expected)
        layout = url.get_str("layout") or "us"
        return analyse_keyboard_reports(chunks, base_url=base, layout=layout, expected=expected)
    line = {k: v for k, v in url.params.items() if k in {"baudrate", "bytesize", "parity", "stopbits", "rtscts"}}
    base = f"{url.scheme}://{url.target}" + ("?" + "&".join(f"{k}={v}" for k, v in line.items()) if line else "")
    return analyse_bytes(chunks, transport="serial", base_url=base, expected=expected)
