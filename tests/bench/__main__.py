"""Run the benchmarks: ``python -m tests.bench [--quick] [--json PATH] [--only NAME,…]`` from the repository root.

Prints the table (Markdown) and writes every figure, check and the machine's description
as JSON (default ``tests/bench/results.json``). Exit status 0 when every benchmark ran,
1 when one failed (its error is printed and recorded; the others still run), 2 for bad
arguments. A missed goal is a finding, not a failure: it shows as ``NO`` in the table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._measure import Check, Figure
from ._report import cpu_times, load_average, machine, steal_percent, table
from ._run import Config

#: the benchmark modules, in the order they run
BENCHMARKS = (
    "scan_to_wire",
    "hook_dispatch",
    "decoders",
    "camera",
    "camera_hard",
    "startup",
    "lanes",
    "lanes_pg",
    "shopper_wait",
    "receiver",
    "bridge",
)
DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke run of every benchmark")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH", help=f"default {DEFAULT_JSON}")
    parser.add_argument(
        "--only", metavar="NAME,…", help=f"run only these benchmarks (of {', '.join(BENCHMARKS)}), comma-separated"
    )
    args = parser.parse_args(argv)
    if args.only is not None:
        chosen = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in chosen if n not in BENCHMARKS]
        if unknown or not chosen:
            parser.error(f"--only {args.only!r}: unknown {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        args.only = chosen
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    names = args.only or list(BENCHMARKS)
    started = time.monotonic()
    report: dict[str, Any] = {
        "command": ["python", "-m", "tests.bench", *(sys.argv[1:] if argv is None else argv)],
        "quick": args.quick,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_average(),
        "benchmarks": {},
        "figures": {},
        "checks": {},
        "errors": {},
    }
    items: list[Figure | Check] = []
    cpu_before = cpu_times()
    with tempfile.TemporaryDirectory(prefix="paycode-bench-") as scratch:
        cfg = Config(quick=args.quick, scratch=Path(scratch))
        report["machine"]["scratch_filesystem"] = cfg.filesystem(Path(scratch))
        for name in names:
            print(f"bench: {name} …", file=sys.stderr, flush=True)
            began = time.monotonic()
            try:
                results = importlib.import_module(f"tests.bench.{name}").run(cfg)
            except Exception as exc:
                traceback.print_exc()
                report["errors"][name] = f"{type(exc).__name__}: {exc}"
                continue
            finally:
                report["benchmarks"][name] = {"seconds": round(time.monotonic() - began, 2)}
            for item in results:
                items.append(item)
                key = "figures" if isinstance(item, Figure) else "checks"
                report[key][item.id] = {**item.as_json(), "benchmark": name}
    report["duration_s"] = round(time.monotonic() - started, 2)
    report["load_average_after"] = load_average()
    report["cpu_steal_percent"] = steal_percent(cpu_before, cpu_times())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    print(table(items))
    print(
        f"\n{m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB memory, {m['python']}, {m['os']}; "
        f"load average before {report['load_average_before']}, after {report['load_average_after']}; "
        f"CPU steal {report['cpu_steal_percent']}%; "
        f"{report['duration_s']:.0f} s; JSON: {args.json}"
    )
    for name, error in report["errors"].items():
        print(f"bench: {name} FAILED: {error}", file=sys.stderr)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
