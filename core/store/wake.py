"""Wake-ups between processes: lanes waiting on an order wake when another process (the store's notification
receiver) applies news of it. Both are :class:`paycode.wake.LocalWaker` for waiters of their own process.

:class:`PostgresWaker` (a PostgreSQL journal; lanes on any machine)
    A background thread holds one connection that ``LISTEN``\\s on ``paycode_orders``. The journal announces a
    final state with ``NOTIFY paycode_orders, '<order id>'`` once the transaction that applies it has
    committed, so the lane hears it only when the state is there to be read; :meth:`PostgresWaker.notify`
    announces one too. While the connection is down the thread reconnects every few seconds and the lanes
    simply poll; after it is back every waiting lane is woken once (news may have been missed) and queries.

:class:`DatagramWaker` (a SQLite journal; lanes and receiver on one machine)
    Each listening process binds a UDP socket on 127.0.0.1 (a free port) and records it as an empty file
    ``<pid>-<port>`` in the folder ``<journal>.wake/`` (mode 700). :meth:`DatagramWaker.notify` sends one
    datagram with the order id to every port recorded there (files of processes that are gone are removed).
    A datagram is only a reason to query early: a forged or lost one changes no verdict.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
from pathlib import Path
from typing import Any

from ..errors import JournalError
from ..wake import LocalWaker
from .dsn import parse
from .pg_journal import CHANNEL

__all__ = ["DatagramWaker", "PostgresWaker"]

#: every datagram starts with this, then the order id in UTF-8
MAGIC = b"paycode-wake\x00"
#: seconds between reconnection attempts of the LISTEN connection
RECONNECT = 2.0


class PostgresWaker(LocalWaker):
    """LISTEN/NOTIFY on ``paycode_orders`` of the journal's database (see the module's description).

    ``listen=False``: only announce (:meth:`notify`), never listen (the notification receiver).
    """

    def __init__(self, dsn: str, *, listen: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        self.dsn = parse(dsn)
        self._send_lock = threading.Lock()
        self._sender: Any = None
        self._stop = threading.Event()
        self.connected = threading.Event()  # set while the LISTEN connection is up
        self._thread: threading.Thread | None = None
        if listen:
            self._thread = threading.Thread(target=self._listen, name="paycode-wake-listen", daemon=True)
            self._thread.start()

    def _connect(self) -> Any:
        import psycopg

        # a wake-up needs no durability: its (NOTIFY-only) transactions do not wait for the disk
        return psycopg.connect(
            self.dsn.conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name="paycode-wake",
            options="-c synchronous_commit=off",
        )

    def _listen(self) -> None:
        import psycopg

        ever = False
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if ever:
                        self._wake_everyone()  # what was announced while we were away is unknown: query once
                    ever = True
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            if note.payload:
                                self._wake_local(note.payload)
                            elif self._stop.is_set():  # an empty one only ends the wait for news (close)
                                break
            except psycopg.Error:
                pass
            finally:
                self.connected.clear()
            self._stop.wait(RECONNECT)

    def notify(self, order_id: str) -> None:
        """Wake this process's waiters and announce the news to the other processes (best effort)."""
        import psycopg

        self._wake_local(order_id)
        with self._send_lock:
            for _ in range(2):  # once more on a fresh connection if the kept one broke
                try:
                    if self._sender is None or self._sender.closed:
                        self._sender = self._connect()
                    self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, order_id))
                    return
                except psycopg.Error:
                    with contextlib.suppress(psycopg.Error):
                        if self._sender is not None:
                            self._sender.close()
                    self._sender = None

    def close(self) -> None:
        import psycopg

        self._stop.set()
        if self._thread is not None:
            if self.connected.is_set():  # end the listener's wait at once rather than at its next half second
                with contextlib.suppress(psycopg.Error), self._connect() as conn:
                    conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
            self._thread.join(timeout=5)
        with self._send_lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None
        super().close()

    def __repr__(self) -> str:
        return f"PostgresWaker({self.dsn.describe()!r}, waiting={self.waiting})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DatagramWaker(LocalWaker):
    """UDP datagrams on 127.0.0.1 between the processes sharing one SQLite journal (see the module's
    description). ``listen=False``: only send (the notification receiver)."""

    def __init__(self, journal_path: str | os.PathLike[str], *, listen: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        journal = Path(journal_path).expanduser()
        self.folder = journal.with_name(journal.name + ".wake")
        self._sock: socket.socket | None = None
        self._entry: Path | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if listen:
            try:
                self._start()
            except BaseException:
                self._out.close()
                raise

    def _start(self) -> None:
        sock: socket.socket | None = None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            entry = self.folder / f"{os.getpid()}-{port}"
            for last in (False, True):
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                try:
                    entry.touch(mode=0o600)
                    break
                except FileNotFoundError:
                    if last:  # removed again by a process closing as this one started (see close)
                        raise
        except OSError as exc:
            if sock is not None:
                sock.close()
            raise JournalError(f"wake-up folder {str(self.folder)!r} cannot be used: {exc.strerror}") from None
        self._sock, self._entry = sock, entry
        self._thread = threading.Thread(target=self._receive, name="paycode-wake-receive", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.5)
            if not ready:
                continue
            try:
                data = sock.recv(1024)
            except OSError:
                continue
            if data.startswith(MAGIC):
                order_id = data[len(MAGIC) :].decode("utf-8", "replace")
                if order_id:
                    self._wake_local(order_id)

    def _peers(self) -> list[int]:
        """Ports of the listening processes (files of dead processes are removed on the way)."""
        ports = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return []
        for entry in entries:
            pid_text, _, port_text = entry.name.partition("-")
            if not (pid_text.isdigit() and port_text.isdigit()):
                continue
            pid = int(pid_text)
            if pid == os.getpid():
                continue  # this process is woken directly
            if not _alive(pid):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                continue
            ports.append(int(port_text))
        return ports

    def notify(self, order_id: str) -> None:
        """Wake this process's waiters and send the news to every other listening process."""
        self._wake_local(order_id)
        data = MAGIC + order_id.encode("utf-8")
        for port in self._peers():
            try:
                self._out.sendto(data, ("127.0.0.1", port))
            except OSError as exc:
                if exc.errno not in (errno.ECONNREFUSED, errno.ENOBUFS, errno.EAGAIN):
                    raise JournalError(f"cannot send a wake-up on 127.0.0.1:{port}: {exc.strerror}") from None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            if self._sock is not None:  # end the receiver's wait at once rather than at its next half second
                with contextlib.suppress(OSError):
                    self._out.sendto(b"", self._sock.getsockname())
            self._thread.join(timeout=5)
            self._thread = None
        if self._entry is not None:
            with contextlib.suppress(OSError):
                self._entry.unlink()
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # when no other process listens: no empty folder is left beside the journal
            self._entry = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._out.close()
        super().close()

    def __repr__(self) -> str:
        return f"DatagramWaker({str(self.folder)!r}, waiting={self.waiting})"
