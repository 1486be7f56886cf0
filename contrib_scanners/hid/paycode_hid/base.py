"""The read loop both scanners share: poll the device in short slices, decode, end stale scans.

A subclass opens its device and implements :meth:`DecodingScanner._poll`, which waits
at most the given time for input, feeds it to the decoder and returns the results.
Polling in slices of at most :data:`POLL_SLICE` seconds lets :meth:`close` (which may
come from another thread: the supervisor reads in a worker thread) take the lock
between two reads instead of closing a device under a blocked read.
"""

from __future__ import annotations

import abc
import threading
import time
from collections import deque
from typing import Any, Protocol

from paycode.errors import ScannerError, ScannerGone
from paycode.models import Scan

from .pos import symbology_of
from .results import DecodedScan, DiscardedScan

__all__ = ["POLL_SLICE", "Decoder", "DecodingScanner"]

POLL_SLICE = 0.1

Result = DecodedScan | DiscardedScan


class Decoder(Protocol):
    @property
    def pending(self) -> bool: ...

    def flush(self) -> Result | None: ...

    def reset(self) -> None: ...


class DecodingScanner(abc.ABC):
    """A :class:`paycode.scanning.Scanner` made of a device, a sans-IO decoder and a gap timer.

    ``gap`` seconds without input end a scan under way: :meth:`Decoder.flush` decides
    whether that is a scan (``end=gap``) or an incomplete one to discard.
    """

    source: str
    gap: float
    meta: dict[str, Any]

    def __init__(self, source: str, *, gap: float) -> None:
        self.source = source
        self.gap = gap
        self.meta = {}
        self._lock = threading.Lock()
        self._ready: deque[Result] = deque()
        self._last_input = time.monotonic()

    # ---------------------------------------------------------------- to implement

    @property
    @abc.abstractmethod
    def decoder(self) -> Decoder:
        """The decoder of the open device."""

    @property
    @abc.abstractmethod
    def is_open(self) -> bool:
        """True while a device is open."""

    @abc.abstractmethod
    def _poll(self, wait: float) -> list[Result]:
        """Wait up to ``wait`` seconds for input, decode it; raise ScannerGone when the device is gone."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Close the device (the lock is held); must not raise."""

    @abc.abstractmethod
    def open(self) -> None:
        """Open the device; ScannerGone when absent, ScannerConfigError when it can never work."""

    # ---------------------------------------------------------------- Scanner protocol

    def read(self, timeout: float | None) -> Scan | None:
        """The next scan, None after ``timeout`` seconds; ScannerGone on unplug, ScannerError for discarded input."""
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        idle = False  # the last poll brought no input; until then, a passed deadline still reads what is waiting
        while True:
            if self._ready:
                return self._deliver(self._ready.popleft())
            now = time.monotonic()
            decoder = self._require_open().decoder
            if decoder.pending and now - self._last_input >= self.gap:
                result = decoder.flush()
                if result is not None:
                    self._ready.append(result)
                continue
            if deadline is not None and now >= deadline and (idle or now >= deadline + POLL_SLICE):
                return None
            wait = POLL_SLICE if deadline is None else min(POLL_SLICE, deadline - now)
            if decoder.pending:
                wait = min(wait, self._last_input + self.gap - now)
            before = self._last_input
            with self._lock:
                if not self.is_open:
                    continue
                results = self._poll(max(wait, 0.001))
            idle = self._last_input == before
            self._ready.extend(results)

    def close(self) -> None:
        """Release the device; safe to call twice and from another thread."""
        with self._lock:
            self._release()
        self._ready.clear()

    def __enter__(self) -> DecodingScanner:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- helpers for subclasses

    def _input_arrived(self) -> None:
        self._last_input = time.monotonic()

    def _gone(self, reason: str) -> ScannerGone:
        """Close the device (lock held) and build the error to raise."""
        self._release()
        self._ready.clear()
        return ScannerGone(reason, scanner=self.source)

    def _require_open(self) -> DecodingScanner:
        if not self.is_open:
            raise ScannerGone("the scanner is not open", scanner=self.source)
        return self

    def _deliver(self, result: Result) -> Scan:
        if isinstance(result, DiscardedScan):
            raise ScannerError(f"scan discarded: {result.reason}", scanner=self.source, kind=result.kind)
        meta = dict(self.meta)
        if result.ending is not None:
            meta["ending"] = result.ending
        if result.code_id is not None:
            meta["code_id"] = result.code_id
        return Scan(
            raw=result.raw,
            text=result.text,
            source=self.source,
            symbology=symbology_of(result.aim, result.code_id),
            aim=result.aim,
            meta=meta,
        )
