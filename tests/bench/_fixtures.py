"""What the benchmarks plug into paycode: an in-memory scanner, a counting observer, settings.

They go through paycode's real plugin mechanism (``PluginHost(plugins=...)``), exactly
as a host application's own plugins would.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paycode import Event, Scan, ScannerType, ScannerURL, Settings, hookimpl

__all__ = [
    "AMOUNT",
    "CURRENCY",
    "MemoryScanner",
    "MemoryScannerPlugin",
    "Observer",
    "bench_settings",
    "success_codes",
]

AMOUNT = "12.50"
CURRENCY = "CNY"


def success_codes(count: int, *, start: int = 0) -> list[str]:
    """``count`` distinct WeChat-shaped codes ending ``001`` (the sandbox's success scenario).

    The seventh digit from the end is always 0: the sandbox reads a code ending in 9 and a result code
    (``9107001``…) as that result's scenario, which a counter in those places would sometimes spell.
    """
    return [f"13{i // 1000:09d}0{i % 1000:03d}001" for i in range(start, start + count)]


class MemoryScanner:
    """A :class:`paycode.Scanner` whose scans are whatever the benchmark puts in :attr:`queue`."""

    def __init__(self) -> None:
        self.queue: deque[Scan] = deque()

    def open(self) -> None:
        return None

    def read(self, timeout: float | None) -> Scan | None:
        return self.queue.popleft() if self.queue else None

    def close(self) -> None:
        return None


class MemoryScannerPlugin:
    """Registers the ``bench://`` scheme; every scanner it builds is :attr:`scanner`."""

    def __init__(self) -> None:
        self.scanner = MemoryScanner()

    def _factory(self, url: ScannerURL) -> MemoryScanner:
        return self.scanner

    @hookimpl
    def paycode_register_scanners(self, register: Callable[[ScannerType], None]) -> None:
        register(ScannerType("bench", self._factory, description="benchmark scans from memory"))


class Observer:
    """A ``paycode_payment_event`` implementation doing the least an observer does: count."""

    def __init__(self) -> None:
        self.seen = 0

    def see(self, event: Any) -> None:
        self.seen += 1

    @hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        self.seen += 1


def bench_settings(folder: Path, *, base_url: str = "http://127.0.0.1:9", **overrides: Any) -> Settings:
    """Settings for a PingPong gateway at ``base_url`` (nothing is sent unless a benchmark sends it).

    The salt is a throwaway secret made for this run.
    """
    values: dict[str, Any] = {
        "gateway": base_url,
        "acc_id": "bench-acc",
        "client_id": "bench-client",
        "salt": secrets.token_hex(16),
        "journal": str(folder / "journal.sqlite3"),
    }
    values.update(overrides)
    return Settings(**values)
