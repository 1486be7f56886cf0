"""``rfc2217://`` against a network serial server the test runs (pyserial's own RFC 2217 port manager)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import serial
from paycode.errors import ScannerError, ScannerGone
from paycode.models import Scan
from paycode_serial import SerialScanner
from serial.rfc2217 import PortManager

CODE = "130000000000000001"

# pyserial's RFC 2217 client starts its reader thread with the deprecated Thread.setDaemon/setName
pytestmark = pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning")


class Rfc2217Server:
    """Accepts one client, negotiates RFC 2217 with it, and sends it scanner bytes on request."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(5)
        self.port: int = self._listener.getsockname()[1]
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._line = serial.serial_for_url("loop://")  # the server's own (unused) serial port
        self.manager: PortManager | None = None
        self._thread = threading.Thread(target=self._serve, name="rfc2217-server", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:  # PortManager's connection: telnet answers go out here
        with self._lock:
            if self._client is not None:
                self._client.sendall(data)

    def _serve(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        self._client = client
        self.manager = PortManager(self._line, self)
        self._ready.set()
        while True:
            try:
                data = client.recv(1024)
            except OSError:
                return
            if not data:
                return
            for _ in self.manager.filter(data):
                pass  # what the client writes to the scanner: nothing to do with it

    @property
    def settings(self) -> dict[str, object]:
        """The line settings the client asked for (the manager applies them before it answers)."""
        return {"baudrate": self._line.baudrate, "parity": self._line.parity}

    def send(self, data: bytes) -> None:
        assert self._ready.wait(5), "no client"
        assert self.manager is not None
        self.write(b"".join(self.manager.escape(data)))

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.shutdown(socket.SHUT_RDWR)
            client.close()
        self._listener.close()
        self._thread.join(timeout=5)
        self._line.close()


@pytest.fixture
def rfc2217_server() -> Iterator[Rfc2217Server]:
    server = Rfc2217Server()
    yield server
    server.stop()


def test_scans_through_a_network_serial_server(rfc2217_server: Rfc2217Server) -> None:
    with SerialScanner(f"rfc2217://127.0.0.1:{rfc2217_server.port}?baudrate=19200&parity=odd&suffix=cr") as scanner:
        assert rfc2217_server.settings == {"baudrate": 19200, "parity": serial.PARITY_ODD}  # line settings went over
        rfc2217_server.send(b"]C0" + CODE[:7].encode())
        rfc2217_server.send(CODE[7:].encode() + b"\r\xff")  # 0xFF is escaped on the wire, then a garbage frame
        scan = scanner.read(5.0)
        assert isinstance(scan, Scan) and scan.text == f"]C0{CODE}"
        with pytest.raises(ScannerError, match="byte 0xff"):  # the escaped 0xFF arrived as itself
            scanner.read(5.0)
        rfc2217_server.stop()
        with pytest.raises(ScannerGone):
            scanner.read(5.0)
