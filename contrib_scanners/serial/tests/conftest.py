"""Fixtures: a pseudo-terminal standing in for a serial scanner, and a TCP server standing in for a network one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from paycode_serial.testing import PtyScanner


class TcpScanner:
    """A network serial server on loopback: accepts one client and sends it what the test writes.

    ``stop()`` closes it (the client sees the port vanish); a new ``TcpScanner(port=...)``
    brings it back on the same port.
    """

    def __init__(self, port: int = 0) -> None:
        self._listener = socket.create_server(("127.0.0.1", port))  # SO_REUSEADDR: the port can come back
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._client: socket.socket | None = None
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"tcp-scanner-{self.port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._client = client
            self._connected.set()
            return

    def send(self, data: bytes, timeout: float = 5.0) -> None:
        assert self._connected.wait(timeout), "no client connected"
        assert self._client is not None
        self._client.sendall(data)

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> TcpScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def pty_scanner() -> Iterator[PtyScanner]:
    with PtyScanner() as fake:
        yield fake


@pytest.fixture
def tcp_scanner() -> Iterator[TcpScanner]:
    with TcpScanner() as server:
        yield server


@pytest.fixture
def make_tcp_scanner() -> Iterator[type[TcpScanner]]:
    """The TcpScanner class, for tests that stop a server and bring it back; every one made is stopped after."""
    made: list[TcpScanner] = []

    class Tracked(TcpScanner):
        def __init__(self, port: int = 0) -> None:
            super().__init__(port)
            made.append(self)

    yield Tracked
    for server in made:
        server.stop()
