"""Test helpers for serial scanner plugins: a pseudo-terminal that stands in for the scanner.

::

    from paycode_serial.testing import PtyScanner

    with PtyScanner() as fake:                      # a pty pair; fake.path is the port
        scanner = SerialScanner(f"serial://{fake.path}")
        scanner.open()
        fake.write(b"130000000000000001\\r")       # what the scanner would send
        scan = scanner.read(timeout=2.0)
        fake.sent(2)                                # what the host wrote to the scanner (feedback)

When the reader is another process (``paycode scan`` in a subprocess), ``arm()`` before
starting it and ``wait_opened()`` after: writes made before the reader opened the port
would be discarded, as pyserial discards stale input when it opens a port.

POSIX only (``pty.openpty``, ``FIONREAD``).
"""

from __future__ import annotations

import fcntl
import os
import sys
import termios
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["PtyScanner"]


class PtyScanner:
    """The scanner's end of a pseudo-terminal pair: bytes written here arrive at ``path``.

    ``unplug()`` closes the scanner's end, so a reader of ``path`` sees the port vanish.
    """

    def __init__(self) -> None:
        import pty

        self._master, self._slave = pty.openpty()
        self.path = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        """Send bytes as the scanner would (all of them, in one write)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self._master, view) :]

    def sent(self, size: int, timeout: float = 5.0) -> bytes:
        """The next ``size`` bytes the host wrote to the port (feedback commands), or fewer at ``timeout``."""
        import select

        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([self._master], [], [], remaining)
            if ready:
                data += os.read(self._master, size - len(data))
        return data

    def waiting(self) -> int:
        """Bytes written here that no reader has taken (or discarded) yet."""
        answer = fcntl.ioctl(self._slave, termios.FIONREAD, b"\0\0\0\0")
        return int.from_bytes(answer, sys.byteorder)

    def arm(self, timeout: float = 10.0) -> None:
        """Leave one byte (CR) waiting in the port, for :meth:`wait_opened` to watch."""
        self.write(b"\r")
        self._wait(lambda: self.waiting() > 0, timeout)  # the pty passes bytes on asynchronously

    def wait_opened(self, timeout: float = 10.0) -> bool:
        """True once a reader opened the port since :meth:`arm` (it discarded the waiting byte); False on timeout."""
        return self._wait(lambda: self.waiting() == 0, timeout)

    @staticmethod
    def _wait(condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def unplug(self) -> None:
        """Close the scanner's end: readers of ``path`` get an I/O error, as on a USB unplug."""
        self._close_fd("_master")
        self._close_fd("_slave")

    def close(self) -> None:
        self.unplug()

    def _close_fd(self, name: str) -> None:
        fd = getattr(self, name)
        if fd >= 0:
            setattr(self, name, -1)
            os.close(fd)

    def __enter__(self) -> PtyScanner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
