"""Real distributions with entry points, built and installed into a temporary folder, seen by `paycode plugins`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "plugin_fixtures"
DISTRIBUTIONS = ("paycode_echo", "paycode_broken", "paycode_greedy")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three throwaway distributions, installed with pip into a folder of their own (not the venv)."""
    sources = tmp_path_factory.mktemp("sources")
    target = tmp_path_factory.mktemp("site")
    for name in DISTRIBUTIONS:
        shutil.copytree(FIXTURES / name, sources / name)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    pip += ["--no-deps", "--no-build-isolation", "--no-index", "--target", str(target)]
    done = subprocess.run(
        [*pip, *(str(sources / name) for name in DISTRIBUTIONS)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return target


def paycode(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    clean.update(env, PYTHONPATH=str(site))
    return subprocess.run(
        [sys.executable, "-m", "paycode", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=site,
        timeout=60,
        check=False,
    )


def listing(site: Path, **env: str) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    done = paycode(site, "plugins", "--json", **env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return {line["name"]: line for line in lines if "name" in line}, [line for line in lines if "problem" in line]


def test_an_installed_plugin_is_loaded_with_its_distribution_and_version(site: Path) -> None:
    plugins, _ = listing(site)
    echo = plugins["echo"]
    assert (echo["distribution"], echo["version"], echo["source"]) == ("paycode-echo", "1.2.3", "entrypoint")
    assert echo["hooks"] == ["paycode_register_wallets"]
    assert echo["registers"]["wallets"] == ["Echo-Offline"]
    classified = paycode(site, "classify", "770000000001")
    assert (classified.returncode, classified.stdout) == (0, "7700****0001: Echo-Offline (Echo Pay)\n")


def test_broken_plugins_are_reported_and_the_rest_still_load(site: Path) -> None:
    plugins, problems = listing(site)
    by_plugin = {p["plugin"]: p for p in problems}
    assert by_plugin["broken"] == {
        "problem": "failed to import paycode_broken: ImportError: needs libfoo, which is not installed",
        "plugin": "broken",
        "distribution": "paycode-broken",
    }
    assert by_plugin["greedy"]["distribution"] == "paycode-greedy"
    assert by_plugin["greedy"]["problem"] == (
        "signer 'SHA256' is already registered by plugin signers (paycode); this one is ignored"
    )
    assert plugins["greedy"]["registers"]["wallets"] == ["Greedy-Offline"]
    assert plugins["signers"]["registers"]["signers"] == ["SHA256", "MD5"]
    assert "broken" not in plugins and "echo" in plugins


def test_allow_block_lists_and_tracing(site: Path) -> None:
    plugins, problems = listing(site, PAYCODE_DISABLE_PLUGINS="paycode-broken,greedy")
    assert "broken" not in {p["plugin"] for p in problems} and "greedy" not in plugins
    only_echo, problems = listing(site, PAYCODE_PLUGINS="echo")
    assert {p["source"] for name, p in only_echo.items() if name != "echo"} == {"builtin"}
    assert problems == []
    traced = paycode(site, "classify", "660000000001", PAYCODE_TRACE_PLUGINS="1")
    assert traced.returncode == 0
    assert "paycode trace: loaded plugin echo from paycode-echo 1.2.3 (entrypoint)" in traced.stderr
    assert "paycode trace: greedy registered wallet Greedy-Offline" in traced.stderr
