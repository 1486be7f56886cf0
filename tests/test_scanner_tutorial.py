"""The "add a scanner model" tutorial (docs/tutorial-scanner.md) works as written.

Its worked example, the Acme AX-200 plugin ``paycode-acme`` (STX, length, data, XOR
checksum, ETX, built on paycode-serial), lives in tests/scanner_tutorial/. The tutorial must
show exactly those files. The plugin is installed from a temporary copy into a temporary
folder (``pip install --target``, no build isolation), then, with only ``PYTHONPATH``
pointing there, its own tests run, ``paycode plugins`` lists it and ``paycode scan`` reads
a frame through it from a pseudo-terminal, each in a subprocess.
"""

from __future__ import annotations

import json
import operator
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import reduce
from pathlib import Path

import pytest
from paycode.masking import mask_code
from paycode_serial.testing import PtyScanner

from .conftest import copy_tutorial, files_shown, tutorial_files

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "tests" / "scanner_tutorial"
DOC = ROOT / "docs" / "tutorial-scanner.md"
CODE = "130000000000000001"


def test_the_tutorial_shows_exactly_the_plugin_files() -> None:
    shown = files_shown(DOC)
    files = tutorial_files(TUTORIAL)
    assert sorted(shown) == sorted(files)
    for path, text in files.items():
        assert shown[path] == text, f"docs/tutorial-scanner.md shows a different {path} than tests/scanner_tutorial/"


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory, install_plugins: Callable[..., dict[str, str]]
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The plugin's sources copied to a temporary folder and installed into another; an environment using it."""
    work = tmp_path_factory.mktemp("acme")
    source = copy_tutorial(TUTORIAL, work / "paycode-acme")
    yield source, install_plugins(work, source)


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_plugin_passes_its_own_tests(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    done = _run(env, source, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_paycode_lists_the_plugin(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    done = _run(env, source.parent, "-m", "paycode", "plugins", "--json")
    assert done.returncode == 0, done.stderr
    plugins = {p.get("name"): p for p in map(json.loads, done.stdout.splitlines())}
    assert plugins["acme"]["distribution"] == "paycode-acme"
    assert plugins["acme"]["registers"]["scanners"] == ["acme", "acme+socket", "acme+rfc2217", "acme+loop"]


def test_paycode_scan_reads_an_acme_frame_from_a_pty(installed: tuple[Path, dict[str, str]]) -> None:
    source, env = installed
    data = f"]Q1{CODE}".encode()
    frame = bytes([0x02, len(data), *data, reduce(operator.xor, data, len(data)), 0x03])  # as the docs define it
    with PtyScanner() as fake:
        fake.arm()
        proc = subprocess.Popen(
            [sys.executable, "-m", "paycode", "scan", "--scanner", f"acme://{fake.path}", "--count", "1", "--json"],
            cwd=source.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert fake.wait_opened(20), "paycode scan did not open the port"
            fake.write(b"noise" + frame)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    [line] = out.splitlines()
    assert json.loads(line)["text"] == mask_code(CODE) and json.loads(line)["symbology"] == "qr"
    assert "outside a frame" in err  # the noise before STX: an error event, on stderr
