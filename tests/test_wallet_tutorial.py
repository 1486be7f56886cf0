"""The "add a wallet type" tutorial (docs/wallets.md) works as written.

Its worked example, the UnionPay QuickPass plugin ``paycode-unionpay``, lives in
tests/wallet_tutorial/. The docs must show exactly those files. The plugin is installed
from a temporary copy into a temporary folder (``pip install --target``, no build
isolation: this environment's setuptools builds it), then, with only ``PYTHONPATH`` pointing
there, its own tests run and ``paycode`` lists it, classifies with it and pays with it
against the embedded sandbox, each in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import copy_tutorial, files_shown, tutorial_files

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "tests" / "wallet_tutorial"
DOC = ROOT / "docs" / "wallets.md"
SUCCESS_CODE = "6200000000000000001"  # sandbox scenario "success" (ends with 001)


def test_the_docs_show_exactly_the_tutorial_files() -> None:
    shown = files_shown(DOC)
    files = tutorial_files(TUTORIAL)
    assert sorted(shown) == sorted(files)
    for path, text in files.items():
        assert shown[path] == text, f"docs/wallets.md shows a different {path} than tests/wallet_tutorial/{path}"


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory, install_plugins: Callable[..., dict[str, str]]
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The plugin's sources copied to a temporary folder and installed into another; an environment using it."""
    work = tmp_path_factory.mktemp("unionpay")
    source = copy_tutorial(TUTORIAL, work / "paycode-unionpay")
    env = install_plugins(work, source)
    env.update(PAYCODE_GATEWAY="sandbox", PAYCODE_JOURNAL=str(work / "journal.sqlite3"))
    yield source, env


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_plugin_passes_its_own_tests(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    done = _run(env, source, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def test_paycode_lists_the_plugin(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    done = _run(env, source.parent, "-m", "paycode", "plugins", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    plugins = {line["name"]: line for line in lines if "problem" not in line}
    assert [line for line in lines if "problem" in line and line["plugin"] == "unionpay"] == []
    assert plugins["unionpay"]["distribution"] == "paycode-unionpay"
    assert plugins["unionpay"]["registers"]["wallets"] == ["UnionPay-Offline"]


def test_paycode_classifies_with_the_plugin(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    done = _run(env, source.parent, "-m", "paycode", "classify", "6212345678901234567", "--currency", "CNY", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["wallet"] == "UnionPay-Offline"


def test_paycode_pays_with_the_plugin_in_the_sandbox(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    done = _run(
        env, source.parent, "-m", "paycode", "pay", "--amount", "10.00", "--currency", "CNY",
        "--code", SUCCESS_CODE, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert (result["result"], result["status"], result["wallet"]) == ("paid", "SUCCESS", "UnionPay-Offline")
    assert SUCCESS_CODE not in done.stdout + done.stderr  # masked everywhere
