"""Benchmark 5, start-up: wall time of ``paycode --help`` and ``paycode plugins`` against ``python -c pass``.

Each command runs as a fresh process through the installed ``paycode`` console script,
with every plugin distribution of the repository installed (checked: ``paycode plugins
--json`` must list them all), from an empty folder (no ``paycode.toml``) and with no
``PAYCODE_*`` variables. The three commands take turns, so load changes hit all of them.

A check reports the heavy modules each command imported, from ``python -X importtime``:
a camera's libraries (cv2, zxingcpp, numpy) must load only when a camera scanner opens.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from ._measure import Check, Figure, Stats
from ._run import Config

__all__ = ["EXPECTED_PLUGINS", "HEAVY_MODULES", "run"]

GOAL_NS = 300_000_000
#: the plugins of this repository's distributions, besides the built-ins
EXPECTED_PLUGINS = ("alipaycn", "alipayhk", "camera", "hid", "serial", "wechat")
#: modules only a camera scanner needs
HEAVY_MODULES = ("cv2", "zxingcpp", "numpy")


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}


def _paycode_command(cfg: Config) -> list[str]:
    script = Path(cfg.python).parent / "paycode"
    return [str(script)] if script.exists() else [cfg.python, "-m", "paycode"]


def _plugins_listed(cfg: Config, folder: Path) -> list[str]:
    out = subprocess.run(
        [*_paycode_command(cfg), "plugins", "--json"],
        cwd=folder,
        env=_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    names = [json.loads(line).get("name") for line in out.splitlines() if line.strip()]
    missing = [p for p in EXPECTED_PLUGINS if p not in names]
    if missing:
        raise AssertionError(f"start-up benchmark needs every plugin installed; missing: {', '.join(missing)}")
    return [str(n) for n in names if n]


def _imported(cfg: Config, folder: Path, args: list[str]) -> set[str]:
    """Top-level names of every module the command imported (``python -X importtime``)."""
    command = _paycode_command(cfg)
    if command[0] != cfg.python:
        command = [cfg.python, *command]
    result = subprocess.run(
        [command[0], "-X", "importtime", *command[1:], *args],
        cwd=folder,
        env=_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    if "paycode" not in names:
        raise AssertionError("python -X importtime reported no paycode import; the check would prove nothing")
    return names


def run(cfg: Config) -> list[Figure | Check]:
    folder = cfg.folder("startup")
    plugins = _plugins_listed(cfg, folder)
    env = _environment()
    commands = {
        "pass": [cfg.python, "-c", "pass"],
        "help": [*_paycode_command(cfg), "--help"],
        "plugins": [*_paycode_command(cfg), "plugins"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(cfg.pick(40, 3) + 1):
        for name, command in commands.items():
            start = time.perf_counter_ns()
            subprocess.run(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, check=True, timeout=60)
            if round_:  # the first round warms the page cache
                walls[name].append(time.perf_counter_ns() - start)
    base = Stats.of(walls["pass"])
    figures: list[Figure] = []
    for name in ("help", "plugins"):
        value = Stats.of(walls[name])
        figures.append(
            Figure(
                id=f"startup_{name}",
                title=f"start-up: paycode {'--help' if name == 'help' else 'plugins'}",
                value=value,
                baseline=base,
                baseline_label="python -c pass",
                goal="< 300 ms wall",
                met=value.median < GOAL_NS,
                notes=f"{len(plugins)} plugins loaded" if name == "plugins" else "",
                extra={
                    "over_bare_python_ns": value.median - base.median,
                    "min_ns": min(walls[name]),
                    "baseline_min_ns": min(walls["pass"]),
                },
            )
        )
    checks: list[Check] = []
    for args in (["--help"], ["plugins"]):
        heavy = sorted(set(HEAVY_MODULES) & _imported(cfg, folder, args))
        checks.append(
            Check(
                id=f"lazy_imports_{args[0].lstrip('-')}",
                title=f"paycode {args[0]} imports none of {', '.join(HEAVY_MODULES)}",
                met=not heavy,
                detail=f"imported: {', '.join(heavy)}" if heavy else "none imported",
            )
        )
    return [*figures, *checks]
