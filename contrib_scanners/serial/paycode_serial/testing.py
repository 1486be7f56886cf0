"""Test helpers for serial scanner plugins: a pseudo-terminal that stands in for the scanner.

::

    from paycode_serial.testing import PtyScanner

    with PtyScanner() as fake:                      # a pty pair; fake.path is the port
        scanner = SerialScanner(f"serial://{fake.path}")
        scanner.open()
        fake.write(b"130000000000000001\\r")       # what the scanner would send
        scan = scanner.read(timeout=2.0)

POSIX only (``pty.openpty``).
"""

from __future__ import annotations

import os
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
