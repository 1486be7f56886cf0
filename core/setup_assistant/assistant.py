"""The candidates a scanner may be, and one diagnosis: capture a scan from a device URL and analyse it."""

from __future__ import annotations

from typing import Any

from ..errors import ScannerConfigError
from ..scanning import ScannerURL
from .analysis import TEST_TEXT, Diagnosis, analyse_bytes, analyse_keyboard_reports, analyse_pos_reports
from .capture import capture_hid, capture_serial, capture_stdin

__all__ = ["CAPTURED_SCHEMES", "STDIN_CANDIDATE", "candidates", "diagnose"]

#: the terminal itself: a keyboard-wedge scanner types into it
STDIN_CANDIDATE: dict[str, Any] = {
    "scheme": "stdin",
    "url": "stdin://",
    "description": "a keyboard-wedge scanner typing into this terminal",
}
#: the schemes whose raw input the assistant can read
CAPTURED_SCHEMES = ("stdin", "serial", "serial+socket", "serial+rfc2217", "rfc2217", "serial+loop", "hid")


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
    url = ScannerURL.parse(url_text)
    if url.scheme not in CAPTURED_SCHEMES:
        hint = ""
        if url.scheme == "evdev":
            hint = " (an evdev keyboard is the same scanner as its hid://VID:PID?mode=keyboard device)"
        if url.scheme.startswith("camera"):
            hint = " (a camera needs no set-up: paycode scan --scanner camera://0 shows what it reads)"
        raise ScannerConfigError(
            f"paycode setup scanner cannot read {url.scheme}:// raw{hint}; accepted: "
            + ", ".join(f"{s}://" for s in CAPTURED_SCHEMES)
        )
    if url.scheme == "stdin":
        chunks = capture_stdin(timeout=timeout, settle=settle, fd=stdin_fd)
        return analyse_bytes(chunks, transport="stdin", base_url="stdin://", expected=expected)
    if url.scheme == "hid":
        kind, reports = capture_hid(url, timeout=timeout, settle=settle, backend=hid_backend)
        if reports and all(len(r) == 64 and r[0] == 0x02 for _, r in reports):
            kind = "pos"  # the reports say HID POS, whatever the interface
        base = f"hid://{url.target}" if url.target else "hid://"
        if kind == "pos":
            return analyse_pos_reports(reports, base_url=base, expected=expected)
        layout = url.get_str("layout") or "us"
        return analyse_keyboard_reports(reports, base_url=base, layout=layout, expected=expected)
    chunks = capture_serial(url, timeout=timeout, settle=settle)
    line = {k: v for k, v in url.params.items() if k in {"baudrate", "bytesize", "parity", "stopbits", "rtscts"}}
    base = f"{url.scheme}://{url.target}" + ("?" + "&".join(f"{k}={v}" for k, v in line.items()) if line else "")
    return analyse_bytes(chunks, transport="serial", base_url=base, expected=expected)
