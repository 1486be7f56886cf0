"""SerialScanner over ``serial+socket://`` against a TCP server the test runs: framing, and the port coming back."""

from __future__ import annotations

from typing import Any

import pytest
from paycode.errors import ScannerError, ScannerGone
from paycode.models import Scan
from paycode_serial import SerialScanner

CODE = "130000000000000001"
OTHER = "280000000000000002"


def read_text(scanner: SerialScanner, timeout: float = 5.0) -> str:
    scan = scanner.read(timeout)
    assert isinstance(scan, Scan), "no scan within the timeout"
    return scan.text


def test_frames_over_a_socket(tcp_scanner: Any) -> None:
    with SerialScanner(f"serial+socket://127.0.0.1:{tcp_scanner.port}") as scanner:
        for piece in (b"]C0", CODE[:4].encode(), CODE[4:].encode(), b"\r", b"\n" + OTHER.encode() + b"\r\n"):
            tcp_scanner.send(piece)
        assert [read_text(scanner), read_text(scanner)] == [f"]C0{CODE}", OTHER]
        assert scanner.read(0.1) is None


def test_stx_framing_over_a_socket(tcp_scanner: Any) -> None:
    with SerialScanner(f"serial+socket://127.0.0.1:{tcp_scanner.port}?stx=1&max_length=32") as scanner:
        tcp_scanner.send(b"junk\x02" + b"9" * 40 + b"\x03\x02" + CODE.encode() + b"\x03")
        errors = []
        for _ in range(2):
            with pytest.raises(ScannerError) as caught:
                scanner.read(5.0)
            assert not isinstance(caught.value, ScannerGone)
            errors.append(caught.value.context["kind"])
        assert errors == ["outside", "overlong"]
        assert read_text(scanner) == CODE


def test_the_server_going_away_and_coming_back(make_tcp_scanner: Any) -> None:
    server = make_tcp_scanner()
    port = server.port
    scanner = SerialScanner(f"serial+socket://127.0.0.1:{port}")
    scanner.open()
    try:
        server.send(CODE.encode() + b"\r")
        assert read_text(scanner) == CODE
        server.stop()
        with pytest.raises(ScannerGone, match="went away"):
            scanner.read(5.0)
        with pytest.raises(ScannerGone, match="could not be opened"):
            scanner.open()  # nobody listening now
        server = make_tcp_scanner(port)  # back, on the same port
        scanner.open()
        server.send(OTHER.encode() + b"\r")
        assert read_text(scanner) == OTHER
    finally:
        scanner.close()
