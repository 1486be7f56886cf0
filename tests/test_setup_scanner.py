"""``paycode setup scanner``: the analysis of what a scanner sent, and the command driven through a pseudo-terminal.

The serial port (a pty) and replayed HID reports are tested with their plugins:
contrib_scanners/serial/tests/test_setup_serial.py and contrib_scanners/hid/tests/test_setup_hid.py.
"""

from __future__ import annotations

import itertools
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode.errors import ScannerConfigError, UsageError
from paycode.setup_assistant import PROBLEMS, TEST_TEXT, analyse_bytes, diagnose
from paycode.setup_assistant.analysis import _retyped, layout_tables
from paycode.setup_assistant.testcode import blocks, symbol, write_png

LAYOUTS = layout_tables()
assert LAYOUTS is not None, "paycode-hid provides the layout tables"

SUFFIXES = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "tab": b"\t"}


def problems(diagnosis: object) -> list[str]:
    return [p.name for p in diagnosis.problems]  # type: ignore[attr-defined]


def chunked(data: bytes, cuts: list[int], at: float = 0.0) -> list[tuple[float, bytes]]:
    """``data`` split at ``cuts``, all arriving together (a few ms apart)."""
    points = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [(at + i * 0.001, data[a:b]) for i, (a, b) in enumerate(itertools.pairwise(points))]


# ---------------------------------------------------------------------------- the analysis, serial framing


@given(
    stx=st.booleans(),
    suffix=st.sampled_from(sorted(SUFFIXES)),
    aim=st.sampled_from([None, "]C0", "]Q1"]),
    cuts=st.lists(st.integers(1, 40), max_size=5),
)
@settings(max_examples=150, deadline=None)
def test_framing_is_worked_out_whatever_the_chunking(stx: bool, suffix: str, aim: str | None, cuts: list[int]) -> None:
    frame = (b"\x02" if stx else b"") + (aim or "").encode() + TEST_TEXT.encode()
    frame += (b"\x03" if stx else b"") + SUFFIXES[suffix]
    d = analyse_bytes(chunked(frame, cuts), transport="serial", base_url="serial:///dev/ttyUSB0?baudrate=9600")
    assert d.ok, d.problems
    assert (d.stx, d.aim, d.reads) == (stx, aim, 1)
    assert d.symbology == {None: None, "]C0": "code128", "]Q1": "qr"}[aim]
    expected = "serial:///dev/ttyUSB0?baudrate=9600&" + ("stx=yes" if stx else f"suffix={suffix}")
    assert d.url == expected
    assert d.toml_lines() == [f'scanner = "{expected}"']


def test_a_prefix_and_a_code_id_are_found() -> None:
    d = analyse_bytes([(0.0, b"#" + TEST_TEXT.encode() + b"\r")], transport="serial", base_url="serial://COM3")
    assert (d.prefix, d.url) == ("#", "serial://COM3?suffix=cr&prefix=%23")
    d = analyse_bytes([(0.0, b"j" + TEST_TEXT.encode() + b"\r")], transport="serial", base_url="serial://COM3")
    assert (d.code_id, d.symbology, d.url) == ("j", "code128", "serial://COM3?suffix=cr&code_id=1")


def test_missing_suffix_on_a_serial_port_gives_a_pause_framing_and_the_fix() -> None:
    d = analyse_bytes([(0.0, TEST_TEXT.encode())], transport="serial", base_url="serial:///dev/ttyUSB0")
    assert problems(d) == ["missing-suffix"]
    assert d.url == "serial:///dev/ttyUSB0?suffix=none&gap=50"
    assert "CR suffix" in d.problems[0].fix


def test_duplicate_reads_are_named_and_the_repeat_window_raised() -> None:
    frame = TEST_TEXT.encode() + b"\r"
    d = analyse_bytes([(0.0, frame), (0.4, frame), (0.8, frame)], transport="serial", base_url="serial://COM3")
    assert problems(d) == ["duplicate-reads"] and d.reads == 3
    assert "3 times" in d.problems[0].message
    assert d.toml_lines()[1].startswith("repeat_window = 2.0")


@pytest.mark.parametrize(("typed", "decoded"), [(a, b) for a in sorted(LAYOUTS) for b in sorted(LAYOUTS) if a != b])
def test_every_layout_mismatch_is_named_with_the_scanner_layout(typed: str, decoded: str) -> None:
    arrived = _retyped(TEST_TEXT, LAYOUTS[typed], LAYOUTS[decoded])
    assert arrived is not None and arrived != TEST_TEXT
    d = analyse_bytes([(0.0, arrived.encode("utf-8") + b"\r")], transport="stdin", base_url="stdin://")
    assert problems(d) == ["wrong-layout", "focused-window"]
    assert d.layout == typed and decoded in d.problems[0].message
    assert f"layout={typed}" in d.problems[0].fix


def test_nothing_and_something_else_are_named() -> None:
    assert problems(analyse_bytes([], transport="serial", base_url="serial://COM3")) == ["nothing"]
    other = analyse_bytes([(0.0, b"130000000000000001\r")], transport="serial", base_url="serial://COM3")
    assert problems(other) == ["not-the-test-code"] and other.url is None and other.toml_lines() == []
    assert "130000000000000001" not in json.dumps(other.as_json())  # scanned data is never echoed


def test_every_problem_has_a_description() -> None:
    assert set(PROBLEMS) == {
        "wrong-layout", "focused-window", "missing-suffix", "duplicate-reads", "not-the-test-code", "nothing",
    }  # fmt: skip


def test_schemes_it_cannot_read_are_refused_with_the_accepted_ones() -> None:
    with pytest.raises(ScannerConfigError, match=r"cannot read camera:// raw .*accepted: stdin://, serial://"):
        diagnose("camera://0", timeout=0.1)
    with pytest.raises(ScannerConfigError, match=r"cannot read replay:// raw; accepted: .*hid://, evdev://"):
        diagnose("replay:///tmp/scans.txt", timeout=0.1)


@pytest.mark.parametrize(
    ("device", "error"),
    [
        ("", "paycode: error: scanner '' is not a URL; write scheme://target?options"),
        ("replay:///tmp/scans.txt", "paycode: error: paycode setup scanner cannot read replay:// raw; accepted: "),
    ],
)
def test_a_device_it_cannot_read_is_refused_before_the_test_barcode(
    device: str, error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paycode.cli import main

    status = main(["setup", "scanner", "--device", device, "--png", str(tmp_path / "code.png"), "--timeout", "0.1"])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")  # no candidate list, no barcode drawn, no "scan it now"
    assert err.splitlines()[-1].startswith(error)
    assert not (tmp_path / "code.png").exists()


# ---------------------------------------------------------------------------- the test barcode


def test_the_test_barcode_png_reads_back_as_the_test_text(tmp_path: Path) -> None:
    zxingcpp = pytest.importorskip("zxingcpp", reason="paycode-camera's decoder reads the PNG back")
    cv2 = pytest.importorskip("cv2")
    png = write_png(tmp_path / "code.png", [(symbol(TEST_TEXT, "code128"), "code128"), (symbol(TEST_TEXT), "qr")])
    image = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    found = sorted((r.format.name, r.text) for r in zxingcpp.read_barcodes(image))
    assert found == [("Code128", TEST_TEXT), ("QRCode", TEST_TEXT)]


def test_the_terminal_drawing_is_two_module_rows_per_line() -> None:
    modules = symbol(TEST_TEXT, "qr")
    lines = blocks(modules).splitlines()
    assert len(lines) == (len(modules) + 8 + 1) // 2 and {len(line) for line in lines} == {len(modules[0]) + 8}
    assert set("".join(lines)) <= {"█", "▀", "▄", " "}
    with pytest.raises(UsageError, match="accepted: qr, code128"):
        symbol(TEST_TEXT, "aztec")


# ---------------------------------------------------------------------------- the command, through a pty


def run_setup(tmp_path: Path, typed: bytes, *extra: str) -> tuple[int, dict[str, object], str]:
    """``paycode setup scanner --json`` with a pty as its terminal; ``typed`` is what the scanner types into it."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    command = [sys.executable, "-m", "paycode", "setup", "scanner", "--json", "--timeout", "20", "--settle", "0.5"]
    proc = subprocess.Popen(
        [*command, "--png", str(tmp_path / "code.png"), *extra],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env,
    )  # fmt: skip
    os.close(slave)
    try:
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:  # the prompt says it is reading now
            if b"scan it now" in _peek(proc):
                break
        time.sleep(0.2)  # the terminal is switched to raw mode right after the prompt
        os.write(master, typed)
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
    return proc.returncode, json.loads(out), _STDERR.pop(proc.pid, b"").decode() + err.decode()


_STDERR: dict[int, bytes] = {}


def _peek(proc: subprocess.Popen[bytes]) -> bytes:
    assert proc.stderr is not None
    chunk = os.read(proc.stderr.fileno(), 65536)
    _STDERR[proc.pid] = _STDERR.get(proc.pid, b"") + chunk
    return _STDERR[proc.pid]


def test_a_keyboard_wedge_in_the_terminal(tmp_path: Path) -> None:
    code, data, err = run_setup(tmp_path, TEST_TEXT.encode() + b"\r")
    assert code == 1  # typing into the focused window is a field failure, whatever else is right
    assert [p["name"] for p in data["problems"]] == ["focused-window"]  # type: ignore[index]
    assert data["url"] == "stdin://" and data["framing"]["suffix"] == "cr"  # type: ignore[index]
    assert data["device"] == "stdin://"  # heard there, among every candidate listened on (--device auto)
    assert any(a.startswith("evdev://") for a in data["alternatives"])  # type: ignore[union-attr]
    assert {"url": "stdin://", "scheme": "stdin"}.items() <= data["candidates"][-1].items()  # type: ignore[index]
    assert (tmp_path / "code.png").read_bytes().startswith(b"\x89PNG")
    assert "▀" in err or "▄" in err  # the barcode drawn on the terminal (stderr with --json)


def test_the_wrong_layout_through_the_terminal(tmp_path: Path) -> None:
    arrived = _retyped(TEST_TEXT, LAYOUTS["us"], LAYOUTS["be"])
    assert arrived is not None
    code, data, _ = run_setup(tmp_path, arrived.encode("utf-8") + b"\r", "--device", "stdin://")
    assert code == 1 and [p["name"] for p in data["problems"]] == ["wrong-layout", "focused-window"]  # type: ignore[index]
    assert data["layout"] == "us"


def test_missing_suffix_and_duplicates_through_the_terminal(tmp_path: Path) -> None:
    code, data, _ = run_setup(tmp_path, TEST_TEXT.encode() * 2)
    assert code == 1
    names = [p["name"] for p in data["problems"]]  # type: ignore[index]
    assert names == ["focused-window", "missing-suffix", "duplicate-reads"]
