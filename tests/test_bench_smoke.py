"""Smoke test of the benchmarks: ``python -m tests.bench --quick`` runs and reports every figure.

Performance is measured by the benchmarks, never asserted here: this only checks that
each benchmark ran and that its figures are complete, finite and in their units.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FIGURES = (
    "scan_to_wire",
    "scan_to_wire_journaled",
    "hook_dispatch_0",
    "hook_dispatch_1",
    "hook_dispatch_3",
    "decoder_hid_keyboard",
    "decoder_hid_pos",
    "decoder_serial_bytewise",
    "decoder_serial_frame",
    "camera_720p",
    "camera_480p",
    "camera_720p_empty",
    "camera_hard_720p",
    "camera_hard_720p_empty",
    "startup_help",
    "startup_plugins",
    "lanes_1",
    "lanes_10",
    "lanes_100",
    "lanes_1_tmpfs",
    "lanes_10_tmpfs",
    "lanes_100_tmpfs",
    "terminal_rss",
    "lanes_pg_10",
    "lanes_pg_100",
    "lanes_pg_10_pay",
    "lanes_pg_100_pay",
    "shopper_wait_notified",
    "shopper_wait_polling",
    "shopper_wait_notified_sqlite",
    "receiver_slow_clients",
    "bridge_event_ws",
    "bridge_payment",
)
CHECKS = ("lazy_imports_help", "lazy_imports_plugins", "camera_hard_scans")
NUMBERS = ("median", "p99", "baseline_median", "baseline_p99", "ratio")


@pytest.mark.slow  # the quick benchmark run: about half a minute
def test_quick_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--quick", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(out.read_text())

    assert report["quick"] is True
    assert report["errors"] == {}
    assert sorted(report["figures"]) == sorted(FIGURES)
    assert sorted(report["checks"]) == sorted(CHECKS)
    for name, figure in report["figures"].items():
        for field in NUMBERS:
            value = figure[field]
            assert isinstance(value, float | int) and math.isfinite(value) and value > 0, (name, field, value)
        assert figure["p99"] >= figure["median"], name
        assert figure["samples"] >= 1, name
        assert figure["unit"] in ("ns", "bytes"), name
        assert isinstance(figure["met"], bool) or figure["met"] is None, name
        assert name in result.stdout, f"{name} missing from the printed table"
    for name, check in report["checks"].items():
        assert isinstance(check["met"], bool) and check["detail"], name

    machine = report["machine"]
    assert machine["nproc"] >= 1 and machine["cpu_model"] and machine["python"]
    assert set(report["benchmarks"]) == {f["benchmark"] for f in report["figures"].values()}


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--only", "nonsense", "--json", str(tmp_path / "r.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown nonsense" in result.stderr and "scan_to_wire" in result.stderr
    assert not (tmp_path / "r.json").exists()
