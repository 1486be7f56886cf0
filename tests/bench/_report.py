"""The machine a run happened on, and the table of figures (a Markdown table: readable and pasteable)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from ._measure import Check, Figure

__all__ = ["cpu_times", "format_quantity", "load_average", "machine", "steal_percent", "table"]

_VERSIONS = ("paycode", "pluggy", "attrs", "httpx", "pyserial", "zxing-cpp", "opencv-python-headless", "numpy")


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory, OS, Python and the versions of what is measured."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = _first("/proc/meminfo", "MemTotal")
    return {
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "memory": memory,
        "memory_gib": round(int(memory.split()[0]) / 2**20, 1) if memory and memory.endswith("kB") else None,
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "versions": {name: _version(name) for name in _VERSIONS},
    }


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters from /proc/stat (user, nice, system, idle, iowait, irq, softirq, steal…)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    return [int(v) for v in first[1:]] if first and first[0] == "cpu" else None


def steal_percent(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of CPU time the hypervisor gave to other guests between two :func:`cpu_times` readings."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    total = sum(after[:8]) - sum(before[:8])
    return round(100.0 * (after[7] - before[7]) / total, 2) if total > 0 else None


def format_quantity(value: float, unit: str) -> str:
    """``64.1 us``, ``19.7 ms``, ``35.8 MiB``: a time in ns or a size in bytes, in a readable unit."""
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    for limit, name, scale in ((1e3, "ns", 1.0), (1e6, "us", 1e3), (1e9, "ms", 1e6)):
        if abs(value) < limit:
            digits = 0 if name == "ns" else 1 if abs(value / scale) < 100 else 0
            return f"{value / scale:.{digits}f} {name}"
    return f"{value / 1e9:.2f} s"


def _ratio(figure: Figure) -> str:
    ratio = figure.ratio
    if figure.higher_is_better:
        return f"{ratio:,.0f}x max"
    return f"{ratio:.2f}x"


def _met(met: bool | None) -> str:
    return "-" if met is None else "yes" if met else "NO"


def table(items: Sequence[Figure | Check]) -> str:
    """The figures as a Markdown table, then the checks and each figure's baseline and notes."""
    rows = [
        ["figure", "median", "p99", "baseline median", "baseline p99", "ratio", "goal", "met"],
    ]
    figures = [f for f in items if isinstance(f, Figure)]
    checks = [c for c in items if isinstance(c, Check)]
    for f in figures:
        rows.append(
            [
                f.id,
                format_quantity(f.value.median, f.unit),
                format_quantity(f.value.p99, f.unit),
                format_quantity(f.baseline.median, f.unit),
                format_quantity(f.baseline.p99, f.unit),
                _ratio(f),
                f.goal,
                _met(f.met),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {1, 2, 3, 4, 5}

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    out = [line(rows[0]), rule, *(line(r) for r in rows[1:])]
    if checks:
        out.append("")
        out.extend(f"- check {c.id}: {_met(c.met)} ({c.title}: {c.detail})" for c in checks)
    out.append("")
    for f in figures:
        note = f"; {f.notes}" if f.notes else ""
        out.append(f"- {f.id}: {f.title}; baseline: {f.baseline_label}{note}")
    return "\n".join(out)
