"""The scan supervisor: keeps one scanner reading, whatever the device does.

It builds the scanner from its URL, opens it, normalises every scan, suppresses a repeat
of the same code within ``repeat_window`` seconds (the window slides while the repeats
keep coming, as a camera holding a code in view does), reopens a scanner that vanished
with a bounded backoff (0.2 s doubling to 5 s), and reports every problem as an event
instead of raising. Only a configuration error (the scanner can never work) is raised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from .errors import ScannerConfigError, ScannerError, ScannerExhausted, ScannerGone, ScanTimeout
from .models import Scan
from .normalise import Normaliser
from .scanning import Scanner, ScannerType, ScannerURL

__all__ = ["BACKOFF_INITIAL", "BACKOFF_MAX", "ScanSupervisor"]

BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 5.0
_ASYNC_SLICE = 0.25  # seconds a worker thread blocks at most, so a cancelled aread() ends quickly

Emit = Callable[..., object]


def _no_emit(kind: str, order_id: str | None = None, **data: Any) -> None:
    return None


class ScanSupervisor:
    """Reads normalised, de-duplicated scans from one scanner URL; see the module docstring.

    ``emit(kind, **data)`` receives the events (``PluginHost.emit``). Use it as a context
    manager, or call :meth:`close`. :meth:`read` may be called from one thread at a time
    (calls are serialised); :meth:`close` may be called from any thread.
    """

    def __init__(
        self,
        scanner_type: ScannerType,
        url: ScannerURL,
        *,
        emit: Emit = _no_emit,
        repeat_window: float = 1.5,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.url = url
        self.scanner_type = scanner_type
        self.repeat_window = url.get_float("repeat_window", repeat_window)
        self.normaliser = Normaliser.from_url(url)
        self._emit = emit
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = backoff_initial
        self._scanner: Scanner | None = None
        self._spare: Scanner | None = scanner_type.factory(url)  # validates the URL's parameters now
        self._next_open = 0.0
        self._lost = False
        self._exhausted = False
        self._closed = False
        self._last_text: str | None = None
        self._last_time = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()

    # ------------------------------------------------------------------ state

    @property
    def is_open(self) -> bool:
        """True while the device is open."""
        return self._scanner is not None

    @property
    def exhausted(self) -> bool:
        """True once the input ended for good (end of a replay file, stdin closed)."""
        return self._exhausted

    @property
    def closed(self) -> bool:
        return self._closed

    def _event(self, kind: str, **data: Any) -> None:
        self._emit(kind, scanner=self.url.display, **data)

    # ------------------------------------------------------------------ opening

    def open(self) -> bool:
        """Try to open the device now; False (and a ``scanner.gone`` event) when it is not there yet."""
        with self._lock:
            return self._try_open(0.0)

    def _try_open(self, remaining: float | None) -> bool:
        if self._scanner is not None:
            return True
        wait = self._next_open - time.monotonic()
        if wait > 0:
            self._wake.wait(wait if remaining is None else min(wait, remaining))
            if self._closed or time.monotonic() < self._next_open:
                return False
        scanner = self._spare or self.scanner_type.factory(self.url)
        self._spare = None
        try:
            scanner.open()
        except ScannerConfigError:
            raise
        except ScannerExhausted as exc:
            self._exhaust(exc)
            return False
        except Exception as exc:  # ScannerGone, or a plugin bug: retry with backoff
            _safe_close(scanner)
            self._schedule_reopen(exc)
            return False
        self._scanner = scanner
        self._backoff = self._backoff_initial
        self._event("scanner.reopened" if self._lost else "scanner.opened")
        self._lost = False
        return True

    def _schedule_reopen(self, exc: BaseException) -> None:
        delay = self._backoff
        self._next_open = time.monotonic() + delay
        self._backoff = min(self._backoff * 2, self._backoff_max)
        kind = "scanner.error" if self._lost else "scanner.gone"
        self._lost = True
        self._event(kind, error=_describe(exc), retry_in=round(delay, 3))

    def _drop(self, exc: BaseException) -> None:
        if self._scanner is not None:
            _safe_close(self._scanner)
            self._scanner = None
        if not self._closed:
            self._schedule_reopen(exc)

    def _exhaust(self, exc: BaseException) -> None:
        if self._scanner is not None:
            _safe_close(self._scanner)
            self._scanner = None
        self._exhausted = True
        self._event("scanner.closed", reason=f"end of input: {_describe(exc)}")

    # ------------------------------------------------------------------ reading

    def read(self, timeout: float | None = None) -> Scan | None:
        """The next normalised scan that is not a repeat, or None after ``timeout`` seconds (None: no limit).

        Also None once the input is exhausted or the supervisor was closed meanwhile.
        """
        if self._closed:
            raise ScannerError(f"the scanner {self.url.display} was closed", scanner=self.url.display)
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self._lock:
            first = True
            while not (self._closed or self._exhausted):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0 and not first:
                    return None
                first = False
                remaining = None if remaining is None else max(remaining, 0.0)
                if not self._try_open(remaining):
                    continue
                scan = self._read_once(remaining)
                if scan is not None:
                    accepted = self._accept(scan)
                    if accepted is not None:
                        return accepted
            return None

    def _read_once(self, timeout: float | None) -> Scan | None:
        assert self._scanner is not None
        try:
            return self._scanner.read(timeout)
        except ScannerConfigError:
            raise
        except ScannerExhausted as exc:
            self._exhaust(exc)
        except ScannerGone as exc:
            self._drop(exc)
        except ScannerError as exc:
            if not self._closed:
                self._event("scanner.error", error=_describe(exc))
        except Exception as exc:  # a plugin bug: report it and reopen rather than die
            self._drop(exc)
        return None

    def _accept(self, scan: Scan) -> Scan | None:
        scan = self.normaliser(scan)
        if not scan.text:
            self._event("scanner.error", error="a scan was empty after normalisation", raw_length=len(scan.raw))
            return None
        data = {"text": scan.masked(), "length": len(scan.text), "symbology": scan.symbology, "aim": scan.aim}
        if scan.text == self._last_text and scan.time - self._last_time < self.repeat_window:
            self._last_time = scan.time
            self._event("scan.repeat_suppressed", **data)
            return None
        self._last_text, self._last_time = scan.text, scan.time
        self._event("scan", **data)
        return scan

    def scans(self, count: int | None = None, timeout: float | None = None) -> Iterator[Scan]:
        """Yield up to ``count`` scans (None: no limit) until the input ends.

        Raises :class:`~paycode.errors.ScanTimeout` when ``timeout`` seconds pass with no scan.
        """
        done = 0
        while count is None or done < count:
            scan = self.read(timeout)
            if scan is None:
                if self._exhausted or self._closed:
                    return
                raise ScanTimeout(f"no scan from {self.url.display} within {timeout:g} s", scanner=self.url.display)
            done += 1
            yield scan

    async def aread(self, timeout: float | None = None) -> Scan | None:
        """:meth:`read` for asyncio: blocks a worker thread for at most a quarter second at a time."""
        import asyncio  # only an asyncio host pays for importing it

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            piece = _ASYNC_SLICE if remaining is None else min(_ASYNC_SLICE, remaining)
            scan = await asyncio.to_thread(self.read, piece)
            if scan is not None or self._exhausted or self._closed:
                return scan
            if deadline is not None and time.monotonic() >= deadline:
                return None

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Release the device; safe to call twice and from another thread."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        for scanner in (self._scanner, self._spare):
            if scanner is not None:
                _safe_close(scanner)
        self._scanner = self._spare = None
        if not self._exhausted:
            self._event("scanner.closed", reason="closed")

    def __enter__(self) -> ScanSupervisor:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> ScanSupervisor:
        import asyncio  # only an asyncio host pays for importing it

        await asyncio.to_thread(self.open)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._scanner else "waiting"
        return f"<ScanSupervisor {self.url.display} {state}>"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ScannerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _safe_close(scanner: Scanner) -> None:
    try:
        scanner.close()
    except Exception:  # closing a dead device may fail; nothing to do about it
        pass
