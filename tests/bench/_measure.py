"""Timing primitives and the :class:`Figure` every benchmark reports.

Samples are nanoseconds per operation from :func:`time.perf_counter_ns`. Cheap
operations are timed in batches (one clock read per ``batch`` calls, divided), so the
clock's own cost does not swamp them; the median and p99 are then taken over batches.
The paycode path and its baseline are measured in alternating rounds, so a slow patch
of the machine (another process, a frequency change) lands on both.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

__all__ = [
    "Check",
    "Figure",
    "Stats",
    "gc_paused",
    "percentile",
    "sample_interleaved",
    "time_batches",
]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@attrs.frozen
class Stats:
    """Median and p99 of a set of samples (nanoseconds per operation, or any one unit)."""

    median: float
    p99: float
    count: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        return cls(median=percentile(samples, 50), p99=percentile(samples, 99), count=len(samples))

    @classmethod
    def constant(cls, value: float) -> Stats:
        """A baseline that is a number, not a measurement (a device's physical limit)."""
        return cls(median=value, p99=value, count=0)

    def as_json(self) -> dict[str, float | int]:
        return {"median": self.median, "p99": self.p99, "count": self.count}


@attrs.frozen
class Figure:
    """One reported figure: paycode's cost, its baseline, and the ratio between them.

    ``value`` and ``baseline`` are in nanoseconds (``unit="ns"``) or in ``unit``.
    ``ratio`` is ``value / baseline`` when ``higher_is_better`` is False (paycode's cost
    over the baseline's; 1.0 means free), else ``baseline / value`` (how many times the
    device's physical maximum paycode keeps up with).
    """

    id: str
    title: str
    value: Stats
    baseline: Stats
    baseline_label: str
    goal: str
    met: bool | None
    unit: str = "ns"
    higher_is_better: bool = False
    notes: str = ""
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.baseline.median / self.value.median
        return self.value.median / self.baseline.median

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "median": self.value.median,
            "p99": self.value.p99,
            "samples": self.value.count,
            "baseline": self.baseline_label,
            "baseline_median": self.baseline.median,
            "baseline_p99": self.baseline.p99,
            "baseline_samples": self.baseline.count,
            "ratio": self.ratio,
            "ratio_meaning": "baseline / paycode (times the physical maximum)"
            if self.higher_is_better
            else "paycode / baseline",
            "goal": self.goal,
            "met": self.met,
            "notes": self.notes,
            "extra": dict(self.extra),
        }


@attrs.frozen
class Check:
    """A yes/no finding that is not a timing (e.g. which heavy modules a command imported)."""

    id: str
    title: str
    met: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "met": self.met, "detail": self.detail}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, then keep the cyclic garbage collector off for a timed loop."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_batches(fn: Callable[[], object], *, batch: int, batches: int, warmup: int = 0) -> list[float]:
    """Call ``fn`` ``batch`` times per sample, ``batches`` samples; nanoseconds per call for each sample."""
    clock = time.perf_counter_ns
    for _ in range(warmup):
        fn()
    out: list[float] = []
    for _ in range(batches):
        start = clock()
        for _ in range(batch):
            fn()
        out.append((clock() - start) / batch)
    return out


def sample_interleaved(
    candidates: Mapping[str, Callable[[], object]],
    *,
    batch: int,
    batches: int,
    rounds: int = 10,
    warmup: int = 100,
    gc_off: bool = True,
) -> dict[str, list[float]]:
    """Time every candidate in ``rounds`` alternating rounds of ``batches // rounds`` samples each.

    Returns nanoseconds per call, one value per batch, per candidate name.
    """
    per_round = max(1, batches // rounds)
    results: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            if gc_off:
                with gc_paused():
                    results[name] += time_batches(fn, batch=batch, batches=per_round)
            else:
                results[name] += time_batches(fn, batch=batch, batches=per_round)
    return results
