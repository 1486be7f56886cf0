"""SerialScanner on a real tty: a pseudo-terminal pair, the scanner writing to the master end."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from paycode.errors import ScannerConfigError, ScannerError, ScannerGone
from paycode.models import Scan
from paycode_serial import SerialScanner
from paycode_serial.testing import PtyScanner

CODE = "130000000000000001"
OTHER = "280000000000000002"


def read_text(scanner: SerialScanner, timeout: float = 5.0) -> str:
    scan = scanner.read(timeout)
    assert isinstance(scan, Scan), "no scan within the timeout"
    return scan.text


def test_a_frame_split_across_many_writes(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}?baudrate=9600") as scanner:
        for byte in (CODE + "\r\n").encode():
            pty_scanner.write(bytes([byte]))
        scan = scanner.read(5.0)
        assert scan is not None
        assert (scan.text, scan.raw, scan.source) == (
            CODE,
            CODE.encode() + b"\r",
            f"serial://{pty_scanner.path}?baudrate=9600",
        )
        assert scanner.read(0.1) is None  # the LF of CR LF is no second scan


def test_several_frames_in_one_write(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}") as scanner:
        pty_scanner.write(f"{CODE}\r{OTHER}\n{CODE}\r\n".encode())
        assert [read_text(scanner) for _ in range(3)] == [CODE, OTHER, CODE]
        assert scanner.read(0.1) is None


def test_aim_prefixes_come_through_for_the_normaliser(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}") as scanner:
        pty_scanner.write(f"]C0{CODE}\r]Q1{OTHER}\r".encode())
        assert [read_text(scanner), read_text(scanner)] == [f"]C0{CODE}", f"]Q1{OTHER}"]


@pytest.mark.parametrize(
    ("params", "framed"),
    [
        ("suffix=cr", b"%s\r"),
        ("suffix=lf", b"%s\n"),
        ("suffix=crlf", b"%s\r\n"),
        ("suffix=tab", b"%s\t"),
        ("suffix=etx", b"%s\x03"),
        ("suffix=eot", b"%s\x04"),
        ("stx=yes", b"\x02%s\x03\r\n"),
        ("stx=yes&suffix=cr", b"\x02%s\r"),
        ("suffix=%23", b"%s#"),
    ],
)
def test_each_framing_over_a_tty(pty_scanner: PtyScanner, params: str, framed: bytes) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}?{params}&baudrate=115200&parity=even&stopbits=2") as scanner:
        pty_scanner.write(framed % CODE.encode() + framed % OTHER.encode())
        assert [read_text(scanner), read_text(scanner)] == [CODE, OTHER]


def test_a_pause_ends_the_frame_with_suffix_none(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}?suffix=none&gap=30") as scanner:
        pty_scanner.write(CODE.encode())
        assert read_text(scanner) == CODE
        pty_scanner.write(OTHER.encode())
        assert read_text(scanner) == OTHER


def test_garbage_is_an_error_then_the_next_frame_reads(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}") as scanner:
        pty_scanner.write(b"\x00\xff\xfe12\x1b[3~\r" + CODE.encode() + b"\r")
        with pytest.raises(ScannerError) as caught:
            scanner.read(5.0)
        assert not isinstance(caught.value, ScannerGone)
        assert "not printable text; frame discarded" in str(caught.value)
        assert caught.value.context == {"scanner": f"serial://{pty_scanner.path}", "kind": "garbage"}
        assert read_text(scanner) == CODE


def test_overlong_input_is_an_error_then_the_next_frame_reads(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}?max_length=64") as scanner:
        pty_scanner.write(b"7" * 5000 + b"\r" + CODE.encode() + b"\r")
        with pytest.raises(ScannerError, match="longer than max_length=64"):
            scanner.read(5.0)
        assert read_text(scanner) == CODE
        assert scanner.decoder.buffered == 0  # type: ignore[attr-defined]


def test_frames_decoded_before_an_error_are_delivered_first(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}") as scanner:
        pty_scanner.write(CODE.encode() + b"\r\x07\r" + OTHER.encode() + b"\r")
        assert read_text(scanner) == CODE
        with pytest.raises(ScannerError):
            scanner.read(5.0)
        assert read_text(scanner) == OTHER


def test_the_port_is_opened_exclusively(pty_scanner: PtyScanner) -> None:
    url = f"serial://{pty_scanner.path}"
    with SerialScanner(url) as first:
        second = SerialScanner(url)
        with pytest.raises(ScannerGone, match="in use by another program"):
            second.open()
        pty_scanner.write(CODE.encode() + b"\r")
        assert read_text(first) == CODE
    with SerialScanner(url) as third:  # released on close
        pty_scanner.write(OTHER.encode() + b"\r")
        assert read_text(third) == OTHER


def test_unplugging_raises_scanner_gone(pty_scanner: PtyScanner) -> None:
    scanner = SerialScanner(f"serial://{pty_scanner.path}")
    scanner.open()
    pty_scanner.write(CODE.encode() + b"\r")
    assert read_text(scanner) == CODE
    pty_scanner.unplug()
    with pytest.raises(ScannerGone, match="went away"):
        scanner.read(5.0)
    assert scanner.serial_port is None  # released, so it can be reopened
    with pytest.raises(ScannerGone, match="not open"):
        scanner.read(0.1)
    scanner.close()
    scanner.close()  # twice is fine


def test_a_missing_device_is_gone_not_a_configuration_error(tmp_path: Path) -> None:
    scanner = SerialScanner(f"serial://{tmp_path}/ttyACM9")
    with pytest.raises(ScannerGone, match="is not there"):
        scanner.open()


def test_a_path_that_is_not_a_device_is_a_configuration_error(tmp_path: Path) -> None:
    path = f"{tmp_path}/not-a-tty"
    open(path, "w").close()
    with pytest.raises(ScannerConfigError, match="is not a serial device"):
        SerialScanner(f"serial://{path}").open()


def test_a_character_device_that_is_not_a_tty_is_a_configuration_error() -> None:
    with pytest.raises(ScannerConfigError, match="is not a serial port"):
        SerialScanner("serial:///dev/null").open()


def test_read_timeout_returns_none(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}") as scanner:
        assert scanner.read(0) is None
        assert scanner.read(0.05) is None
        pty_scanner.write(CODE.encode())  # no terminator yet: nothing to deliver
        assert scanner.read(0.05) is None
        pty_scanner.write(b"\r")
        assert read_text(scanner) == CODE


def test_close_from_another_thread_ends_a_waiting_read(pty_scanner: PtyScanner) -> None:
    scanner = SerialScanner(f"serial://{pty_scanner.path}")
    scanner.open()
    closer = threading.Timer(0.1, scanner.close)
    closer.start()
    try:
        with pytest.raises(ScannerGone, match=r"was closed|is not open"):
            scanner.read(None)  # would wait forever
    finally:
        closer.join()
