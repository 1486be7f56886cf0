"""paycode-serial against paycode's scanner conformance suite (paycode.testing).

Two rigs, each a real OS interface:

- ``serial://`` on a pseudo-terminal reached through a symbolic link, as udev's
  ``/dev/serial/by-id/…`` links reach a USB scanner: unplugging closes the pty and removes
  the link, plugging back in opens a new pty and points the link at it;
- ``serial+socket://`` on a TCP server on loopback (a network serial server): unplugging
  closes the server and its connections, plugging back in listens on the same port again.
"""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from paycode.testing import ScannerConformance
from paycode_serial.testing import PtyScanner

#: bytes that are no text: the scanner reports them as a discarded frame
GARBAGE = b"\x00\xff\xfe12\x1b[3~\r"


class PtyRig:
    """A serial scanner on a pseudo-terminal behind the symbolic link ``folder/scanner``."""

    def __init__(self, folder: Path) -> None:
        self.link = folder / "scanner"
        self._pty: PtyScanner | None = None
        self.replug()
        self.url = f"serial://{self.link}?baudrate=9600&suffix=cr"

    def feed(self, code: str) -> None:
        assert self._pty is not None, "the scanner is unplugged"
        self._pty.write(code.encode("ascii") + b"\r")

    def feed_garbage(self) -> None:
        assert self._pty is not None, "the scanner is unplugged"
        self._pty.write(GARBAGE)

    def unplug(self) -> None:
        if self._pty is not None:
            self._pty.unplug()
            self._pty = None
        self.link.unlink(missing_ok=True)

    def replug(self) -> None:
        self.unplug()
        self._pty = PtyScanner()
        staged = self.link.with_name("scanner.new")
        staged.symlink_to(self._pty.path)
        os.replace(staged, self.link)

    def close(self) -> None:
        self.unplug()


class TcpRig:
    """A network serial server on loopback that sends what the scanner scans to every connected client."""

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self.port = 0
        self.replug()
        self.url = f"serial+socket://127.0.0.1:{self.port}?suffix=cr"

    def _connected(self) -> list[socket.socket]:
        """Accept waiting connections, drop closed ones; waits (bounded) for a first client."""
        assert self._listener is not None, "the scanner is unplugged"
        wait = 0.0 if self._live() else 5.0
        while select.select([self._listener], [], [], wait)[0]:
            client, _ = self._listener.accept()
            self._clients.append(client)
            wait = 0.0
        return self._live()

    def _live(self) -> list[socket.socket]:
        for client in list(self._clients):
            if select.select([client], [], [], 0)[0] and not client.recv(1, socket.MSG_PEEK):
                client.close()
                self._clients.remove(client)
        return self._clients

    def _send(self, data: bytes) -> None:
        clients = self._connected()
        assert clients, "no scanner connected to the server"
        for client in clients:
            client.sendall(data)

    def feed(self, code: str) -> None:
        self._send(code.encode("ascii") + b"\r")

    def feed_garbage(self) -> None:
        self._send(GARBAGE)

    def unplug(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def replug(self) -> None:
        self.unplug()
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again
        self.port = self._listener.getsockname()[1]

    def close(self) -> None:
        self.unplug()


class TestPtyConformance(ScannerConformance):
    entry_point = "serial"

    @pytest.fixture
    def rig(self, tmp_path: Path) -> Iterator[PtyRig]:
        rig = PtyRig(tmp_path)
        yield rig
        rig.close()


class TestTcpConformance(ScannerConformance):
    entry_point = "serial"

    @pytest.fixture
    def rig(self) -> Iterator[TcpRig]:
        rig = TcpRig()
        yield rig
        rig.close()
