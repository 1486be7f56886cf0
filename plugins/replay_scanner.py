"""Built-in ``replay:///path`` scanner: plays back a text file, one scan per line.

For demos, tests and benchmarks without hardware. Options:

- ``delay``: seconds between two scans (default 0; the first scan comes at once);
- ``loop``: 1 to start again at the end of the file (needs ``delay`` > 0); default 0,
  where the end of the file ends the scanner;
- ``escapes``: 1 (default) to decode ``\\r``, ``\\n``, ``\\t``, ``\\\\`` and ``\\xHH`` in a line,
  so a file can hold what a scanner really sends (``]C0130000000000000001\\x0d``).

Blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from paycode.errors import ScannerConfigError, ScannerExhausted, ScannerGone
from paycode.hookspecs import hookimpl
from paycode.models import Scan
from paycode.scanning import ScannerType, ScannerURL

__all__ = ["ReplayScanner"]

_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|[rnt\\])")
_NAMED = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}


def decode_escapes(line: str) -> str:
    """``\\r``, ``\\n``, ``\\t``, ``\\\\`` and ``\\xHH`` decoded; any other backslash is kept as it is."""

    def one(match: re.Match[str]) -> str:
        token = match.group(1)
        return chr(int(token[1:], 16)) if token[0] == "x" else _NAMED[token]

    return _ESCAPE.sub(one, line)


class ReplayScanner:
    """Plays the lines of a file as scans, ``delay`` seconds apart."""

    def __init__(self, url: ScannerURL) -> None:
        if not url.target:
            raise ScannerConfigError(
                f"replay scanner {url.raw!r} names no file; write replay:///path/scans.txt", scanner=url.raw
            )
        self.url = url
        self.path = Path(url.target)
        self.delay = url.get_float("delay", 0.0)
        self.loop = url.get_bool("loop", False)
        self.escapes = url.get_bool("escapes", True)
        if self.loop and self.delay <= 0:
            raise ScannerConfigError(
                f"replay scanner {url.raw!r}: loop=1 needs delay > 0 (e.g. delay=0.5), or it would spin",
                scanner=url.raw,
            )
        self._lines: list[str] | None = None
        self._index = 0
        self._next_at = 0.0
        self._closed = threading.Event()

    def open(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ScannerConfigError(
                f"replay file {str(self.path)!r} cannot be read: {reason}", scanner=self.url.raw
            ) from None
        lines = [line.rstrip("\r") for line in text.split("\n")]
        lines = [line for line in lines if line.strip() and not line.startswith("#")]
        self._lines = [decode_escapes(line) for line in lines] if self.escapes else lines
        self._index = 0
        self._next_at = time.monotonic()
        self._closed.clear()

    def read(self, timeout: float | None) -> Scan | None:
        if self._lines is None:
            raise ScannerGone("replay scanner is not open", scanner=self.url.raw)
        if self._index >= len(self._lines):
            if not (self.loop and self._lines):
                raise ScannerExhausted(f"end of replay file after {len(self._lines)} scan(s)", scanner=self.url.raw)
            self._index = 0
        wait = self._next_at - time.monotonic()
        if wait > 0:
            if timeout is not None and timeout < wait:
                self._closed.wait(timeout)
                return None
            if self._closed.wait(wait):
                return None
        text = self._lines[self._index]
        self._index += 1
        now = time.monotonic()
        self._next_at = now + self.delay
        return Scan(raw=text.encode("utf-8"), text=text, source=self.url.raw, time=now)

    def close(self) -> None:
        self._lines = None
        self._closed.set()


REPLAY = ScannerType(
    scheme="replay",
    factory=ReplayScanner,
    params={
        "delay": "seconds between two scans (default 0)",
        "loop": "1 to start again at the end of the file; needs delay > 0 (default 0)",
        "escapes": "1 to decode \\r \\n \\t \\\\ \\xHH in lines (default 1)",
    },
    description="plays back a text file, one scan per line (demos, tests, benchmarks)",
)


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    register(REPLAY)
