"""URL parameters both scanners understand, device ids, and opening with the hot-plug permission retry."""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import attrs
from paycode.errors import ScannerConfigError, ScannerGone
from paycode.scanning import ScannerURL

from .keyboard import END_KEYS
from .layouts import LAYOUTS, Layout, get_layout

__all__ = [
    "KEYBOARD_PARAMS",
    "OPEN_RETRY_INTERVAL",
    "KeyboardOptions",
    "open_with_retry",
    "parse_vid_pid",
]

OPEN_RETRY_INTERVAL = 0.05
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}
_VID_PID = re.compile(r"^(?:0x)?([0-9a-fA-F]{1,4}):(?:0x)?([0-9a-fA-F]{1,4})$")

#: parameters of keyboard decoding, shared by ``hid://`` (mode=keyboard) and ``evdev://``
KEYBOARD_PARAMS: Mapping[str, str] = {
    "layout": f"keyboard country the scanner is programmed for: {', '.join(LAYOUTS)} (default us)",
    "end": "what ends a scan: enter, tab, gap, comma-separated (default enter,tab)",
    "gap": "milliseconds without input after which a scan under way ends (end=gap) or is discarded (default 500)",
    "max_length": "longest scan in characters; longer ones are discarded (default 1024)",
    "open_retry": "seconds to retry an open refused while udev sets permissions after hot-plug (default 0.5)",
}

T = TypeVar("T")


@attrs.frozen
class KeyboardOptions:
    layout: Layout
    end: frozenset[str]
    gap: float  # seconds
    max_length: int
    open_retry: float

    @classmethod
    def from_url(cls, url: ScannerURL) -> KeyboardOptions:
        end_text = url.get_str("end", "enter,tab") or ""
        end = frozenset(part.strip().lower() for part in end_text.split(",") if part.strip())
        if not end or not end <= set(END_KEYS):
            raise ScannerConfigError(
                f"scanner {url.scheme}://: parameter end={end_text!r} is not valid; accepted: "
                f"a comma-separated choice of {', '.join(END_KEYS)}",
                scanner=url.raw,
            )
        return cls(
            layout=get_layout(url.get_str("layout", "us") or "us"),
            end=end,
            gap=url.get_int("gap", 500, minimum=10, maximum=60_000) / 1000,
            max_length=url.get_int("max_length", 1024, minimum=1, maximum=1_000_000),
            open_retry=url.get_float("open_retry", 0.5, minimum=0.0, maximum=30.0),
        )


def parse_vid_pid(text: str, url: ScannerURL) -> tuple[int, int]:
    """``0c2e:0b61`` (hex, optional ``0x``) -> (0x0C2E, 0x0B61)."""
    match = _VID_PID.match(text)
    if match is None:
        raise ScannerConfigError(
            f"scanner {url.scheme}://: {text!r} is not a device; give VID:PID in hex (e.g. 0c2e:0b61) "
            "or a device path starting with /",
            scanner=url.raw,
        )
    return int(match.group(1), 16), int(match.group(2), 16)


def open_with_retry(opener: Callable[[], T], *, retry: float, source: str, path: str) -> T:
    """Call ``opener`` until it succeeds; retry permission refusals for ``retry`` seconds, then ScannerGone.

    Right after hot-plug the device node exists before udev has given it its
    permissions (hidapi#217), so a refused open is retried briefly. hidapi's own
    "open failed" carries no errno and is retried the same way; a missing node is not.
    """
    deadline = time.monotonic() + retry
    while True:
        try:
            return opener()
        except OSError as exc:
            code = exc.errno
            refused = code in _PERMISSION_ERRNOS or code is None
            if refused and time.monotonic() < deadline:
                time.sleep(OPEN_RETRY_INTERVAL)
                continue
            if code in _PERMISSION_ERRNOS:
                reason = (
                    f"permission denied opening {path}; give this user access to the device node "
                    "(a udev rule, see docs/scanners/hid.md)"
                )
            elif code is None:
                reason = f"cannot open {path} ({exc}); if it persists, check the device node's permissions"
            else:
                reason = f"cannot open {path}: {exc.strerror or exc}"
            raise ScannerGone(reason, scanner=source) from None
