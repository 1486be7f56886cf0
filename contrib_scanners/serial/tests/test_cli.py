"""End to end: codes written to a pseudo-terminal come out of ``paycode scan --scanner serial://…`` exactly once.

``paycode scan`` runs as a subprocess with the serial plugin found through its entry point.
Before it opens the port, the test leaves one byte waiting in the tty (``PtyScanner.arm``);
pyserial discards stale input when it opens a port, so the byte vanishing tells the test the
port is open and anything written from then on is read (no sleeping, no guessing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from paycode.masking import mask_code
from paycode_serial.testing import PtyScanner

CODE = "130000000000000001"
OTHER = "280000000000000002"


class PaycodeScan:
    """``paycode scan`` running on a pty; the test writes frames and reads the JSON lines."""

    def __init__(self, fake: PtyScanner, params: str, cwd: Path, count: int = 2) -> None:
        fake.arm()  # a stale byte: gone once paycode has opened (and flushed) the port
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
        url = f"serial://{fake.path}?repeat_window=0{params}"  # no repeat suppression: a duplicate would show
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paycode", "scan", "--scanner", url, "--count", str(count), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
        )
        self._killer = threading.Timer(30, self.proc.kill)  # a hung run fails the test instead of hanging it
        self._killer.start()
        assert fake.wait_opened(20), "paycode scan did not open the port"
        assert self.proc.poll() is None, f"paycode scan ended early: {self.finish()}"

    def line(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.proc.stdout
        assert stdout is not None
        text = stdout.readline()
        assert text, f"no scan printed; stderr: {self.finish()[1]}"
        return dict(json.loads(text))

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=30)
        self._killer.cancel()
        return self.proc.returncode, out, err


@pytest.fixture
def run_scan(pty_scanner: PtyScanner, tmp_path: Path) -> Iterator[Any]:
    runs: list[PaycodeScan] = []

    def start(params: str = "", count: int = 2) -> PaycodeScan:
        runs.append(PaycodeScan(pty_scanner, params, tmp_path, count))
        return runs[-1]

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
        run.finish()


FRAMINGS = [
    ("", b"%s\r"),
    ("", b"%s\n"),
    ("", b"%s\r\n"),
    ("&suffix=cr", b"%s\r"),
    ("&suffix=lf", b"%s\n"),
    ("&suffix=crlf", b"%s\r\n"),
    ("&suffix=tab", b"%s\t"),
    ("&suffix=etx", b"%s\x03"),
    ("&suffix=eot", b"%s\x04"),
    ("&stx=yes", b"\x02%s\x03\r\n"),
    ("&suffix=none&gap=30", b"%s"),
]


@pytest.mark.parametrize(("params", "framed"), FRAMINGS, ids=[f"{p or 'default'}-{f!r}" for p, f in FRAMINGS])
def test_each_framing_gives_each_code_exactly_once(
    run_scan: Any, pty_scanner: PtyScanner, params: str, framed: bytes
) -> None:
    scan = run_scan(params)
    pty_scanner.write(framed % CODE.encode())
    first = scan.line()  # the second frame goes out only after the first came out: a pause between them
    pty_scanner.write(framed % OTHER.encode())
    second = scan.line()
    status, rest, err = scan.finish()
    assert status == 0, err
    assert rest == ""
    assert [first["text"], second["text"]] == [mask_code(CODE), mask_code(OTHER)]
    assert first["length"] == len(CODE) and first["source"].startswith("serial://")
    assert CODE not in json.dumps([first, second]) + err  # masked everywhere


def test_aim_identifiers_are_stripped_and_named(run_scan: Any, pty_scanner: PtyScanner) -> None:
    scan = run_scan("&baudrate=115200")
    pty_scanner.write(f"]C0{CODE}\r\n]Q1{OTHER}\r\n".encode())
    lines = [scan.line(), scan.line()]
    assert scan.finish()[0] == 0
    assert [(s["text"], s["aim"], s["symbology"]) for s in lines] == [
        (mask_code(CODE), "]C0", "code128"),
        (mask_code(OTHER), "]Q1", "qr"),
    ]


def test_garbage_is_reported_and_the_next_code_still_comes_out(run_scan: Any, pty_scanner: PtyScanner) -> None:
    scan = run_scan("&max_length=40", count=1)
    pty_scanner.write(b"\x00\xff garbage\r" + b"9" * 100 + b"\r" + CODE.encode() + b"\r")
    assert scan.line()["text"] == mask_code(CODE)
    status, rest, err = scan.finish()
    assert (status, rest) == (0, "")
    assert "scanner.error" in err and "not printable text" in err and "longer than max_length=40" in err
