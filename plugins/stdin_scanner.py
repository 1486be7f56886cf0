"""Built-in ``stdin://`` scanner: every line of standard input is one scan.

For keyboard-wedge scanners typing into a terminal, and for piping codes in from
scripts. End of input ends the scanner for good (it is not reopened).
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable

from paycode.errors import ScannerConfigError, ScannerExhausted, ScannerGone
from paycode.hookspecs import hookimpl
from paycode.models import Scan
from paycode.scanning import ScannerType, ScannerURL

__all__ = ["StdinScanner"]

_CHUNK = 4096


class StdinScanner:
    """Reads lines from file descriptor 0 without Python's buffering, so ``read(timeout)`` can time out."""

    def __init__(self, url: ScannerURL) -> None:
        if url.target:
            raise ScannerConfigError(f"stdin:// takes no target, got {url.raw!r}; write stdin://", scanner=url.raw)
        self.url = url
        self._fd: int | None = None
        self._buffer = b""
        self._eof = False

    def open(self) -> None:
        try:
            fd = sys.stdin.fileno() if sys.stdin is not None else -1
        except (OSError, ValueError) as exc:
            raise ScannerConfigError(f"stdin:// cannot read standard input: {exc}", scanner=self.url.raw) from None
        if fd < 0:
            raise ScannerConfigError("stdin:// cannot read standard input: there is none", scanner=self.url.raw)
        self._fd = fd

    def read(self, timeout: float | None) -> Scan | None:
        if self._fd is None:
            raise ScannerGone("stdin:// is not open", scanner=self.url.raw)
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if self._eof:
                return self._last_line()
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._fd, _CHUNK)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True
        line, _, self._buffer = self._buffer.partition(b"\n")
        return self._scan(line)

    def _last_line(self) -> Scan:
        if not self._buffer:
            raise ScannerExhausted("standard input ended", scanner=self.url.raw)
        line, self._buffer = self._buffer, b""
        return self._scan(line)

    def _scan(self, line: bytes) -> Scan:
        return Scan(raw=line, text=line.decode("utf-8", "replace"), source=self.url.raw)

    def close(self) -> None:
        self._fd = None  # never close the process's standard input


STDIN = ScannerType(
    scheme="stdin",
    factory=StdinScanner,
    params={},
    description="standard input, one scan per line (keyboard-wedge scanners in a terminal, pipes)",
)


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    register(STDIN)
