"""``paycode setup scanner`` on a serial port: a pseudo-terminal sends what a serial scanner sends for the test code."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from paycode.setup_assistant import TEST_TEXT, Diagnosis, diagnose
from paycode_serial.testing import PtyScanner

CODE = TEST_TEXT.encode()


def setup_through(fake: PtyScanner, url: str, *sends: bytes) -> Diagnosis:
    """Run the assistant on ``url`` while the pty sends ``sends`` (once the port is open)."""
    result: dict[str, Any] = {}
    fake.arm()  # a byte waiting in the port: opening it discards it, which tells us it is open

    def run() -> None:
        try:
            result["diagnosis"] = diagnose(url, timeout=10.0, settle=0.5)
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    assert fake.wait_opened(), "the assistant did not open the port"
    for data in sends:
        fake.write(data)
    worker.join(30)
    if "error" in result:
        raise result["error"]
    return result["diagnosis"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("sent", "params", "aim"),
    [
        (CODE + b"\r", "suffix=cr", None),
        (CODE + b"\r\n", "suffix=crlf", None),
        (CODE + b"\t", "suffix=tab", None),
        (b"]C0" + CODE + b"\n", "suffix=lf", "]C0"),
        (b"\x02]Q1" + CODE + b"\x03\r\n", "stx=yes", "]Q1"),
    ],
    ids=["cr", "crlf", "tab", "aim-lf", "stx-etx"],
)
def test_framings_are_worked_out(pty_scanner: PtyScanner, sent: bytes, params: str, aim: str | None) -> None:
    d = setup_through(pty_scanner, f"serial://{pty_scanner.path}?baudrate=115200", sent)
    assert d.ok, d.problems
    assert d.transport == "serial" and d.aim == aim
    assert d.url == f"serial://{pty_scanner.path}?baudrate=115200&{params}"


def test_missing_suffix(pty_scanner: PtyScanner) -> None:
    d = setup_through(pty_scanner, f"serial://{pty_scanner.path}", CODE)
    assert [p.name for p in d.problems] == ["missing-suffix"]
    assert d.url == f"serial://{pty_scanner.path}?suffix=none&gap=50"


def test_duplicate_reads(pty_scanner: PtyScanner) -> None:
    d = setup_through(pty_scanner, f"serial://{pty_scanner.path}", CODE + b"\r", CODE + b"\r")
    assert [p.name for p in d.problems] == ["duplicate-reads"] and d.reads == 2


def test_another_code_is_named_and_gives_no_url(pty_scanner: PtyScanner) -> None:
    d = setup_through(pty_scanner, f"serial://{pty_scanner.path}", b"130000000000000001\r")
    assert [p.name for p in d.problems] == ["not-the-test-code"] and d.url is None


def test_nothing_sent(pty_scanner: PtyScanner) -> None:
    pty_scanner.arm()
    d = diagnose(f"serial://{pty_scanner.path}", timeout=0.3, settle=0.1)
    assert [p.name for p in d.problems] == ["nothing"]


def test_listening_on_several_devices_finds_the_one_that_sends() -> None:
    from paycode.setup_assistant import diagnose_any

    with PtyScanner() as quiet, PtyScanner() as talking:
        result: dict[str, Any] = {}
        quiet.arm()
        talking.arm()
        urls = [f"serial://{quiet.path}", f"serial://{talking.path}", "serial:///dev/paycode-no-such-port"]

        def run() -> None:
            result["answer"] = diagnose_any(urls, timeout=10.0, settle=0.5)

        worker = threading.Thread(target=run)
        worker.start()
        assert quiet.wait_opened() and talking.wait_opened()
        talking.write(CODE + b"\r\n")
        worker.join(30)
    device, d, skipped = result["answer"]
    assert device == f"serial://{talking.path}"
    assert d.ok and d.url == f"serial://{talking.path}?suffix=crlf"
    assert len(skipped) == 1 and "paycode-no-such-port" in skipped[0]
