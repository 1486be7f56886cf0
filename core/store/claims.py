"""Claims: one recoverer at a time acts on an order, whichever process or machine it runs on.

:func:`claim` is a context manager yielding True when the caller holds the order and False when another
recoverer does (skip it, it is being handled). A claim is released when the block ends, and by the operating
system or the database server when its process dies, so a killed recoverer never leaves an order stuck.

- PostgreSQL journal: :meth:`paycode.store.pg_journal.PostgresJournal.claim` (a session advisory lock).
- SQLite journal: a POSIX record lock on one byte of ``<journal>.claims`` (an offset from the order id's CRC-32),
  plus a per-process set (record locks do not exclude threads of one process). Two orders may share a byte
  (a false conflict): the second is then skipped this run and settled by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import JournalError

__all__ = ["can_claim", "claim"]

_held: set[tuple[str, str]] = set()
_held_lock = threading.Lock()


@contextlib.contextmanager
def _file_claim(journal_path: Path, order_id: str) -> Iterator[bool]:
    key = (str(journal_path), order_id)
    with _held_lock:
        if key in _held:
            yield False
            return
        _held.add(key)
    try:
        path = journal_path.with_name(journal_path.name + ".claims")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise JournalError(f"claims file {str(path)!r} cannot be opened: {exc.strerror}") from None
        offset = zlib.crc32(order_id.encode("utf-8")) & 0x7FFFFFFF
        try:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)
        finally:
            os.close(fd)
    finally:
        with _held_lock:
            _held.discard(key)


def can_claim(journal: Any) -> bool:
    """Whether :func:`claim` works on ``journal``: a PostgreSQL journal, or a SQLite one (a file beside it)."""
    return callable(getattr(journal, "claim", None)) or isinstance(getattr(journal, "path", None), Path)


def claim(journal: Any, order_id: str) -> contextlib.AbstractContextManager[bool]:
    """Claim ``order_id`` of ``journal`` (either backend) for the duration of a ``with`` block."""
    own = getattr(journal, "claim", None)
    if callable(own):
        return own(order_id)  # type: ignore[no-any-return]
    path = getattr(journal, "path", None)
    if isinstance(path, Path):
        return _file_claim(path, order_id)
    raise JournalError(f"journal {journal!r} offers no way to claim an order")
