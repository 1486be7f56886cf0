"""The payment journal: a durable record of every order, attempt, state change and refund.

The journal is what lets a lane crash, lose the network or be killed and still end with
every shopper charged once or not at all. The flow writes the *intent* (an order, an
attempt) before a request leaves and the *outcome* after the answer; every method commits
before it returns, so what the journal says was sent may have been sent, and nothing is
sent that the journal does not know about. :func:`paycode.recovery.recover` reconciles
what is left unresolved with the gateway.

Storage is one SQLite file (stdlib :mod:`sqlite3`) in WAL mode with ``synchronous=FULL``
(a commit is on disk when it returns) and a busy timeout, so several lane processes may
share one file: every write is a short ``BEGIN IMMEDIATE`` transaction. Payment codes are
stored masked only; the journal refuses a value that looks like a whole code.

Tables (docs/journal.md has the columns): ``orders`` (one row per order),
``attempts`` (one per request sent: pay, query, close, void, refund, refund_query),
``transitions`` (one per state change, with its time), ``refunds`` (one per refund).
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from pathlib import Path
from stat import S_ISREG
from typing import IO, Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError, JournalError
from .journal_rules import (
    ATTEMPT_KINDS,
    ATTEMPT_OUTCOMES,
    CSV_COLUMNS,
    GIVEN_UP,
    REFUND_COLUMNS,
    REFUND_STATUSES,
    AttemptRecord,
    OrderRecord,
    RefundRecord,
    TransitionRecord,
    allowed_refund,
    already_begun,
    attempt_outcome,
    check_attempt,
    check_new_order,
    check_refund,
    late_success_reason,
    no_attempt,
    not_in_journal,
    order_note,
    order_record,
    plan_move,
    refund_records,
    unresolved_oldest_first,
    write_csv,
)
from .journal_sql import SharedStatements
from .models import Money, PaymentStatus

__all__ = [
    "ATTEMPT_KINDS",
    "ATTEMPT_OUTCOMES",
    "CSV_COLUMNS",
    "GIVEN_UP",
    "REFUND_STATUSES",
    "AttemptRecord",
    "Journal",
    "JournalBackend",
    "OrderRecord",
    "RefundRecord",
    "TransitionRecord",
    "journal_file",
    "journal_label",
    "late_success_reason",
    "open_journal",
    "retry_write",
]

#: the schema this paycode writes: PRAGMA user_version of the file (0 for a new file)
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id       TEXT PRIMARY KEY,
    amount         TEXT NOT NULL,
    currency       TEXT NOT NULL,
    wallet         TEXT NOT NULL,
    code_masked    TEXT NOT NULL,
    lane           TEXT NOT NULL,
    status         TEXT NOT NULL,
    transaction_id TEXT,
    abandoned      INTEGER NOT NULL DEFAULT 0,
    abandon_reason TEXT NOT NULL DEFAULT '',
    deadline_at    REAL NOT NULL,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at);
CREATE TABLE IF NOT EXISTS attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    request_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT 'pending',
    code        TEXT,
    status      TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    sends       INTEGER NOT NULL DEFAULT 1,
    started_at  REAL NOT NULL,
    ended_at    REAL
);
CREATE INDEX IF NOT EXISTS attempts_order ON attempts (order_id, request_id);
CREATE TABLE IF NOT EXISTS transitions (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id  TEXT NOT NULL REFERENCES orders (order_id),
    status    TEXT NOT NULL,
    time      REAL NOT NULL,
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS transitions_order ON transitions (order_id);
CREATE TABLE IF NOT EXISTS refunds (
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    refund_id   TEXT NOT NULL,
    amount      TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (order_id, refund_id)
);
"""

#: statements that bring a file from the version before each key to that version
_MIGRATIONS: dict[int, str] = {
    1: _SCHEMA,
    # 2: which gateway (plugin or base URL) and site each order was sent to (issue 11 item 7)
    2: """
ALTER TABLE orders ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN site TEXT NOT NULL DEFAULT ''
""",
}

T = TypeVar("T")


# ---------------------------------------------------------------------------- the interface


@runtime_checkable
class JournalBackend(Protocol):
    """What the pay flow, recovery, the receiver and the commands need from a journal.

    Two backends implement it: :class:`Journal` (one SQLite file, the default) and
    ``paycode.store.pg_journal.PostgresJournal`` (a PostgreSQL database shared by a store's
    lanes). :func:`open_journal` chooses one from the journal setting. Every method commits
    before it returns; every storage failure is a :class:`~paycode.errors.JournalError`.
    """

    def begin_order(
        self,
        order_id: str,
        *,
        money: Money,
        wallet: str,
        code_masked: str,
        lane: str,
        deadline_at: float,
        gateway: str = "",
        site: str = "",
    ) -> None: ...

    def begin_attempt(self, order_id: str, request_id: str, kind: str) -> None: ...

    def end_attempt(
        self,
        order_id: str,
        request_id: str,
        *,
        outcome: str,
        code: str | None = None,
        status: str | None = None,
        detail: str = "",
    ) -> None: ...

    def settle_attempts(self, order_id: str, note: str, *, request_id: str | None = None) -> int: ...

    def set_state(
        self,
        order_id: str,
        status: PaymentStatus | str,
        *,
        transaction_id: str | None = None,
        note: str = "",
    ) -> bool: ...

    def mark_abandoned(self, order_id: str, reason: str) -> None: ...

    def keep_late_success(self, order_id: str, note: str) -> None: ...

    def begin_refund(self, order_id: str, refund_id: str, amount: Decimal) -> None: ...

    def end_refund(self, order_id: str, refund_id: str, *, status: str, detail: str = "") -> None: ...

    def order(self, order_id: str) -> OrderRecord | None: ...

    def orders(self, *, limit: int | None = None, unresolved_only: bool = False) -> list[OrderRecord]: ...

    def unresolved(self, lane: str | None = None) -> list[OrderRecord]: ...

    def transitions(self, order_id: str) -> list[TransitionRecord]: ...

    def attempts(self, order_id: str) -> list[AttemptRecord]: ...

    def refunds(self, order_id: str) -> list[RefundRecord]: ...

    def export_csv(self, fh: IO[str]) -> int: ...

    def batch(self) -> AbstractContextManager[None]: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> JournalBackend: ...

    def __exit__(self, *exc: object) -> None: ...


#: the schemes of a PostgreSQL journal setting
POSTGRES_SCHEMES = ("postgresql", "postgres")
#: what a journal setting may be, for error messages
_ACCEPTED = (
    "accepted: a file path for the SQLite journal (such as /var/lib/paycode/journal.sqlite3 or ./journal.sqlite3) "
    "or a PostgreSQL URL postgresql://user@host:port/dbname (also postgres://)"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")


def _scheme(setting: str) -> str | None:
    """The URL scheme of a journal setting (lower case), or None for a plain path.

    A drive letter (``C:\\…``) is a path; anything else of the shape ``word:`` is a URL.
    """
    match = _SCHEME.match(setting)
    return match.group(1).lower() if match else None


def _setting_text(setting: str | os.PathLike[str]) -> str:
    text = os.fspath(setting)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"journal setting {setting!r} is empty; {_ACCEPTED}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigError(f"journal setting {text!r} holds a control character; {_ACCEPTED}")
    return text


def refuse_folder(path: Path) -> None:
    """JournalError when ``path`` is a folder: the journal is a file (a path such as ``folder/journal.sqlite3``)."""
    if path.is_dir():
        raise JournalError(
            f"journal {str(path)!r} is a folder; give the path of the journal file in it, such as "
            f"{str(path / 'journal.sqlite3')!r}"
        )


def journal_file(setting: str | os.PathLike[str]) -> Path | None:
    """The SQLite file a journal setting names, or None for a PostgreSQL journal.

    Raises ConfigError for an empty setting or an unknown scheme (``mysql://…``), naming
    the accepted forms; a setting is never taken for a file named after its scheme.
    """
    text = _setting_text(setting)
    if text == ":memory:" or text.startswith("file::memory:"):
        raise ConfigError(
            f"journal setting {text!r} would keep payments only in memory, lost when the process ends; "
            f"a payment journal is a file; {_ACCEPTED}"
        )
    scheme = _scheme(text)
    if scheme is None:
        return Path(text).expanduser()
    if scheme in POSTGRES_SCHEMES:
        return None
    if scheme in ("sqlite", "file"):
        raise ConfigError(
            f"journal setting with scheme {scheme}: is not supported; give the SQLite file as a plain path; {_ACCEPTED}"
        )
    raise ConfigError(f"journal setting with scheme {scheme}: is not a journal paycode can use; {_ACCEPTED}")


#: JournalError reasons after which a write is not retried: the file is gone, or is not a journal
_FINAL_REASONS = frozenset({"removed", "damaged"})


def retry_write(
    journal: JournalBackend,
    write: Callable[[], T],
    *,
    attempts: int = 3,
    delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    on_failure: Callable[[JournalError, int], None] | None = None,
) -> T:
    """Run ``write`` (one journal write, or a :meth:`~JournalBackend.batch` of them) until it succeeds,
    at most ``attempts`` times, reopening the journal and waiting ``delay`` seconds between tries.

    For the flow after a request has left: a lock that is released, space that is freed or a
    mount made writable again lets the record be made. A journal whose file was removed, or that
    is damaged, is not retried. ``on_failure(error, attempt)`` is told of each failed try (to
    show "journal full, retrying"). Raises the last JournalError when every try failed.

    A write that failed may still have been made (a commit whose answer was lost), so ``write``
    should be safe to repeat: the journal's own writes are idempotent where the flow repeats
    them (set_state, end_attempt, settle_attempts), and begin_order says "already in the journal".
    """
    if attempts < 1:
        raise JournalError(f"retry_write needs at least one attempt, not {attempts}")
    attempt = 1
    while True:
        try:
            return write()
        except JournalError as exc:
            if on_failure is not None:
                on_failure(exc, attempt)
            if attempt >= attempts or exc.context.get("reason") in _FINAL_REASONS:
                raise
        attempt += 1
        sleep(delay)
        try:
            journal.reopen()
        except JournalError as exc:
            if exc.context.get("reason") in _FINAL_REASONS:
                raise
            # still failing to open: the next try says why, or the last one raises


def journal_label(setting: str | os.PathLike[str]) -> str:
    """A journal setting as it may be shown: the path, or the URL with any password masked."""
    text = os.fspath(setting)
    if _scheme(text) not in POSTGRES_SCHEMES:
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hostport}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def open_journal(setting: str | os.PathLike[str], *, announce: bool = True, **kw: Any) -> JournalBackend:
    """Open the journal a setting names: a path is the SQLite :class:`Journal`; ``postgresql://…``
    (or ``postgres://…``) is ``paycode.store.pg_journal.PostgresJournal``, imported only then.

    ``announce=False`` says that nobody can be waiting on what this writer records: a lane recording its own
    payment's answers (the lane waiting is the writer). PostgreSQL then leaves out the ``NOTIFY`` of final
    states (docs/store.md); SQLite never announces by itself (the receiver tells the waker), so it changes
    nothing there. The receiver, recovery and reconciliation announce (the default).

    ``kw`` goes to the backend (``timeout`` for SQLite). An unknown scheme, or a PostgreSQL URL
    when the PostgreSQL backend is not installed, is a ConfigError naming the accepted forms.
    """
    path = journal_file(setting)
    if path is not None:
        return Journal(path, **kw)
    text = os.fspath(setting)
    try:
        from .store.pg_journal import PostgresJournal  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise ConfigError(
            f"journal setting postgresql://… needs the PostgreSQL backend (paycode.store.pg_journal with psycopg), "
            f"which cannot be loaded here ({exc}); install paycode[postgresql], or {_ACCEPTED}"
        ) from None
    backend: JournalBackend = PostgresJournal(text, announce=announce, **kw)
    return backend


# ---------------------------------------------------------------------------- the journal


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back what is left of a failed transaction; nothing when SQLite already rolled it back."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the error that made the transaction fail is the one worth reporting


def _make_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents owner-only (mode 700), as the docs promise."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by another lane
        path.chmod(0o700)  # mkdir's mode is reduced by the umask; 700 is the most it may be anyway


def _owner_only(path: Path) -> None:
    """Make an existing journal file (or its -wal/-shm file) readable and writable by its owner only."""
    try:
        info = os.stat(path)
    except OSError:
        return
    if S_ISREG(info.st_mode) and info.st_mode & 0o077:
        try:
            os.chmod(path, 0o600)
        except OSError:
            pass  # another user's file, or a read-only mount: the write that follows says so


class Journal(SharedStatements):
    """The payment journal in one SQLite file (created, with its folders, when missing).

    Safe to share between threads of a process and between processes: each method is one
    short transaction, committed (to disk, ``synchronous=FULL``) before it returns.
    ``timeout`` is how long a write waits for another process holding the file.
    Errors of the file itself (unwritable folder, not a database) raise
    :class:`~paycode.errors.JournalError` naming the path.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.RLock()
        self._closed = False
        self._batch_depth = 0  # > 0 inside batch(): writes join its transaction
        self._timeout = timeout
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened
        try:
            _make_folders(self.path.parent)
            if not self.path.exists():
                # create the file owner-only before SQLite opens it (the -wal/-shm files inherit the mode)
                fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
                os.close(fd)
        except OSError as exc:
            raise self._os_failure(exc, "cannot be created") from None
        refuse_folder(self.path)
        _owner_only(self.path)
        self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._failure(exc, "cannot be opened") from None
        try:
            stat = os.stat(self.path)
            self._setup(db)
            self._identity = (stat.st_dev, stat.st_ino)
        except OSError as exc:
            db.close()
            raise self._os_failure(exc, "cannot be opened") from None
        except JournalError:
            db.close()
            raise
        return db

    def reopen(self) -> None:
        """Open the file again after a failure (a lock released, space freed, a mount made writable).

        The flow calls it before retrying a write that failed (see :func:`retry_write`). A journal
        whose file was removed is not re-created (that would lose what it held): JournalError says
        it was removed.
        """
        with self._lock:
            if self._closed:
                raise JournalError(f"journal {str(self.path)!r} is closed")
            if self._batch_depth:
                raise JournalError(f"journal {str(self.path)!r} cannot be reopened inside a batch")
            self._check_file()
            db = self._connect()  # the old connection stays until a new one works
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = db

    def _setup(self, db: sqlite3.Connection) -> None:
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {str(self.path)!r} cannot use write-ahead logging (mode {mode})")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {str(self.path)!r} has schema version {version}; this paycode reads up to "
                    f"{SCHEMA_VERSION} (upgrade paycode)"
                )
            if version < SCHEMA_VERSION:
                db.execute("BEGIN IMMEDIATE")
                try:
                    # another process may have migrated the file while this one waited for the lock
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    for step in range(version + 1, SCHEMA_VERSION + 1):
                        for statement in _MIGRATIONS[step].split(";"):
                            if statement.strip():
                                db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    db.execute("COMMIT")
                except BaseException:
                    _rollback(db)
                    raise
            for suffix in ("-wal", "-shm"):
                _owner_only(self.path.with_name(self.path.name + suffix))
        except sqlite3.Error as exc:
            raise self._failure(exc, "cannot be opened") from None

    # -- plumbing --------------------------------------------------------------------

    def _failure(self, exc: sqlite3.Error, doing: str = "cannot be written") -> JournalError:
        """The JournalError for a failure of SQLite, saying what happened in words a cashier's supervisor can act on.

        ``context["reason"]`` is one of ``locked``, ``full``, ``read-only``, ``removed``, ``io``, ``damaged``,
        ``other``; all but ``removed`` and ``damaged`` may pass, so a write may be retried after :meth:`reopen`.
        """
        where = f"journal {str(self.path)!r}"
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(exc)
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
            return JournalError(
                f"{where} is locked by another process: waited {self._timeout:g} s for it to finish writing "
                f"({doing}: {text}); another paycode, or a tool holding the file open, keeps it locked",
                reason="locked",
            )
        if not self._file_present():
            return self._removed()
        if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
            return JournalError(
                f"{where} {doing}: database or disk is full (free space on the disk that holds it)", reason="full"
            )
        read_only = self._read_only_hint()
        if read_only or primary == sqlite3.SQLITE_READONLY or "readonly" in text:
            hint = read_only or (
                "paycode needs to write the file, its -wal and -shm files and its folder; check their owner and "
                "permissions, and that the disk is not mounted read-only"
            )
            return JournalError(f"{where} is read-only: {hint} ({doing}: {text})", reason="read-only")
        if primary == sqlite3.SQLITE_IOERR or "disk I/O error" in text:
            return JournalError(
                f"{where} {doing}: disk I/O error ({text}); the disk may be failing or full", reason="io"
            )
        if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or "not a database" in text:
            return JournalError(f"{where} {doing}: the file is not a database or is damaged ({text})", reason="damaged")
        if primary == sqlite3.SQLITE_CANTOPEN:
            return JournalError(
                f"{where} {doing}: {text} (its folder must exist and be writable, for the -wal and -shm files)",
                reason="read-only",
            )
        return JournalError(f"{where} {doing}: {text}", reason="other")

    def _os_failure(self, exc: OSError, doing: str) -> JournalError:
        where = f"journal {str(self.path)!r}"
        if exc.errno == errno.ENOSPC:
            return JournalError(f"{where} {doing}: database or disk is full (no space left on device)", reason="full")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            hint = self._read_only_hint() or f"{exc.strerror}"
            return JournalError(f"{where} is read-only: {hint} ({doing}: {exc.strerror})", reason="read-only")
        return JournalError(f"{where} {doing}: {exc.strerror or exc}", reason="other")

    def _read_only_hint(self) -> str:
        """Why the file cannot be written, when that can be seen: a read-only mount or missing permission."""
        folder = self.path.parent
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        try:
            if os.statvfs(folder).f_flag & os.ST_RDONLY:
                return f"the file system holding {str(folder)!r} is mounted read-only"
        except (OSError, AttributeError):
            pass
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return "the file is not writable by this user"
        if not os.access(folder, os.W_OK):
            return (
                f"its folder {str(folder)!r} is not writable by this user (SQLite makes its -wal and -shm files there)"
            )
        return ""

    def _file_present(self) -> bool:
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        return self._identity is None or (stat.st_dev, stat.st_ino) == self._identity

    def _removed(self) -> JournalError:
        return JournalError(
            f"journal {str(self.path)!r} was removed (or replaced by another file) while in use; nothing more is "
            "written to it: restore the file (or its folder) from a backup, then run paycode recover",
            reason="removed",
        )

    def _check_file(self) -> None:
        """Refuse to write into a file that was removed or replaced: SQLite would write on into the lost inode."""
        if not self._file_present():
            raise self._removed()

    def _run(self, fn: Callable[[sqlite3.Connection], T], doing: str = "cannot be read") -> T:
        with self._lock:
            if self._closed:
                raise JournalError(f"journal {str(self.path)!r} is closed")
            try:
                return fn(self._db)
            except sqlite3.Error as exc:
                raise self._failure(exc, doing) from None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes inside one transaction: one flush to disk, all of them durable or none.

        The flow uses it to record an order with its first attempt, and an answer with the
        state it moves to. A write that raises inside undoes the whole batch, so callers must
        not catch a journal error inside and go on. Other threads' writes wait until it ends.
        """
        with self._write():
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE (waits for other writers), COMMIT on success.

        Inside :meth:`batch` (same thread: the lock is re-entrant) it joins the batch's transaction.
        A failed transaction is rolled back only if SQLite has not already done so (on a full disk
        or an I/O error it has): a second ROLLBACK would hide the real error.
        """
        with self._lock:
            if self._closed:
                raise JournalError(f"journal {str(self.path)!r} is closed")
            db = self._db
            if self._batch_depth:
                try:
                    yield db
                except sqlite3.Error as exc:
                    raise self._failure(exc) from None
                return
            self._check_file()
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                _rollback(db)
                raise self._failure(exc) from None
            try:
                yield db
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise self._failure(exc) from None
            except BaseException:
                _rollback(db)
                raise

    def _writing(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._write()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise JournalError(f"journal {str(self.path)!r} is closed")
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise self._failure(exc, "cannot be read") from None

    @staticmethod
    def _require_order(db: sqlite3.Connection, order_id: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] | None = db.execute(
            "SELECT status, amount FROM orders WHERE order_id = ?", (order_id,)
        ).fetchone()
        if row is None:
            raise not_in_journal(order_id)
        return row

    # -- writing ---------------------------------------------------------------------

    def begin_order(
        self,
        order_id: str,
        *,
        money: Money,
        wallet: str,
        code_masked: str,
        lane: str,
        deadline_at: float,
        gateway: str = "",
        site: str = "",
    ) -> None:
        """Record a new order (status ``INIT``) before anything is sent for it.

        ``gateway`` and ``site`` say where the order is sent (the gateway plugin or base URL, and
        the site), so that recovery and query ask the same gateway later, whatever the lane is
        configured with by then; "" when not known.

        Raises JournalError when ``order_id`` is already in the journal (an order is paid
        once; a second lane using the same id must not start it again) or when
        ``code_masked`` looks like a whole payment code.
        """
        check_new_order(order_id, wallet=wallet, code_masked=code_masked, lane=lane, gateway=gateway, site=site)
        now = time.time()
        with self._write() as db:
            if db.execute("SELECT 1 FROM orders WHERE order_id = ?", (order_id,)).fetchone():
                raise already_begun(order_id)
            db.execute(
                "INSERT INTO orders (order_id, amount, currency, wallet, code_masked, lane, status, deadline_at,"
                " created_at, updated_at, gateway, site) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id,
                    str(money.wire()),
                    money.currency,
                    wallet,
                    code_masked,
                    lane,
                    PaymentStatus.INIT.value,
                    float(deadline_at),
                    now,
                    now,
                    gateway,
                    site,
                ),
            )
            db.execute(
                "INSERT INTO transitions (order_id, status, time, note) VALUES (?, ?, ?, ?)",
                (order_id, PaymentStatus.INIT.value, now, order_note(money, wallet, lane)),
            )

    def begin_attempt(self, order_id: str, request_id: str, kind: str) -> None:
        """Record that a request is about to be sent (outcome ``pending``).

        Beginning the same ``(order_id, request_id, kind)`` again records a re-send of the
        same request (a retry whose answer was lost): the attempt is re-opened and its
        ``sends`` counted, never doubled.
        """
        check_attempt(request_id, kind)
        now = time.time()
        with self._write() as db:
            self._require_order(db, order_id)
            row = db.execute(
                "SELECT id FROM attempts WHERE order_id = ? AND request_id = ? AND kind = ? ORDER BY id DESC LIMIT 1",
                (order_id, request_id, kind),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO attempts (order_id, request_id, kind, started_at) VALUES (?, ?, ?, ?)",
                    (order_id, request_id, kind, now),
                )
            else:
                db.execute(
                    "UPDATE attempts SET outcome = 'pending', sends = sends + 1, ended_at = NULL WHERE id = ?",
                    (row[0],),
                )

    def end_attempt(
        self,
        order_id: str,
        request_id: str,
        *,
        outcome: str,
        code: str | None = None,
        status: str | None = None,
        detail: str = "",
    ) -> None:
        """Record how an attempt ended: ``answered`` (a verified answer, with its ``code`` and
        ``status``), ``unknown`` (no usable answer: the request may have been executed) or
        ``error`` (refused before it left)."""
        status_text = attempt_outcome(outcome, status)
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM attempts WHERE order_id = ? AND request_id = ? "
                "ORDER BY outcome = 'pending' DESC, id DESC LIMIT 1",
                (order_id, request_id),
            ).fetchone()
            if row is None:
                raise no_attempt(order_id, request_id)
            db.execute(
                "UPDATE attempts SET outcome = ?, code = ?, status = ?, detail = ?, ended_at = ? WHERE id = ?",
                (outcome, code, status_text, detail, time.time(), row[0]),
            )

    def settle_attempts(self, order_id: str, note: str, *, request_id: str | None = None) -> int:
        """End attempts still ``pending`` or ``unknown`` as ``settled``: the order's status was learnt
        from the gateway since, so their own answers no longer matter. ``request_id`` limits this to
        the attempt a query answer names (its ``requestId``). Returns how many were settled."""
        where = "order_id = ? AND outcome IN ('pending', 'unknown')"
        params: tuple[Any, ...] = (note, time.time(), order_id)
        if request_id is not None:
            where += " AND request_id = ?"
            params += (request_id,)
        with self._write() as db:
            self._require_order(db, order_id)
            cur = db.execute(
                "UPDATE attempts SET outcome = 'settled', detail = trim(detail || ' | ' || ?, ' |'), "
                f"ended_at = coalesce(ended_at, ?) WHERE {where}",
                params,
            )
            return cur.rowcount

    def set_state(
        self,
        order_id: str,
        status: PaymentStatus | str,
        *,
        transaction_id: str | None = None,
        note: str = "",
    ) -> bool:
        """Move an order to ``status`` and record the transition with its time.

        Idempotent and safe against answers arriving out of order: setting the status the
        order already has records nothing (a new ``transaction_id`` is still kept), and an
        order in a final state (``SUCCESS``, ``CLOSED``, ``CANCEL``) never moves back to a
        non-final one. Returns True when a transition was recorded.

        A ``SUCCESS`` on an order the lane reported "not paid" (``FAILED``, ``CLOSED``, ``CANCEL``)
        marks it abandoned in the same transaction (:func:`late_success_reason`), whichever path
        brings it (the lane's query, recovery, a notification), so recovery refunds it under the
        ``late_success`` setting.
        """
        now = time.time()
        with self._write() as db:
            row = self._require_order(db, order_id)
            if transaction_id:
                db.execute(
                    "UPDATE orders SET transaction_id = ?, updated_at = ? WHERE order_id = ?",
                    (transaction_id, now, order_id),
                )
            move = plan_move(PaymentStatus(row[0]), status, note)  # the rules both backends share
            if move is None:
                return False
            db.execute(
                "UPDATE orders SET status = ?, updated_at = ? WHERE order_id = ?", (move.status.value, now, order_id)
            )
            if move.abandon_reason is not None:
                db.execute(
                    "UPDATE orders SET abandoned = 1, abandon_reason = CASE WHEN abandoned = 1 AND abandon_reason != ''"
                    " THEN abandon_reason ELSE ? END WHERE order_id = ?",
                    (move.abandon_reason, order_id),
                )
            db.execute(
                "INSERT INTO transitions (order_id, status, time, note) VALUES (?, ?, ?, ?)",
                (order_id, move.status.value, now, move.note),
            )
            return True

    def begin_refund(self, order_id: str, refund_id: str, amount: Decimal) -> None:
        """Record a refund before it is sent (status ``PENDING``).

        Checked in the same transaction, so two lanes cannot refund more than was paid
        between them: the order must be ``SUCCESS`` and ``amount`` at most what is left
        after settled and pending refunds (OrderError otherwise).
        """
        asked = check_refund(refund_id, amount)
        now = time.time()
        with self._write() as db:
            known = db.execute("SELECT 1 FROM refunds WHERE order_id = ? AND refund_id = ?", (order_id, refund_id))
            amount = allowed_refund(self._order(db, order_id), order_id, refund_id, asked, known=bool(known.fetchone()))
            db.execute(
                "INSERT INTO refunds (order_id, refund_id, amount, status, created_at, updated_at)"
                " VALUES (?, ?, ?, 'PENDING', ?, ?)",
                (order_id, refund_id, str(amount), now, now),
            )
            db.execute("UPDATE orders SET updated_at = ? WHERE order_id = ?", (now, order_id))

    # -- reading ---------------------------------------------------------------------

    # the columns paycode.journal_rules.order_record reads; refund amounts are exact text, added there
    _ORDER_SELECT = """
        SELECT o.order_id, o.amount, o.currency, o.wallet, o.code_masked, o.lane, o.status, o.transaction_id,
               o.abandoned, o.deadline_at, o.created_at, o.updated_at, o.abandon_reason,
               (SELECT group_concat(r.amount, ' ') FROM refunds r WHERE r.order_id = o.order_id
                    AND r.status = 'SUCCESS'),
               (SELECT group_concat(r.amount, ' ') FROM refunds r WHERE r.order_id = o.order_id
                    AND r.status NOT IN ('SUCCESS', 'FAILED')),
               (SELECT count(*) FROM attempts a WHERE a.order_id = o.order_id
                    AND a.kind = 'pay' AND a.outcome IN ('pending', 'unknown')),
               (SELECT count(*) FROM attempts a WHERE a.order_id = o.order_id),
               o.gateway, o.site
        FROM orders o
    """

    def _order(self, db: sqlite3.Connection, order_id: str) -> OrderRecord | None:
        row = db.execute(self._ORDER_SELECT + " WHERE o.order_id = ?", (order_id,)).fetchone()
        return None if row is None else order_record(row)

    def order(self, order_id: str) -> OrderRecord | None:
        """The order, or None when the journal has no such order."""
        return self._run(lambda db: self._order(db, order_id))

    def orders(self, *, limit: int | None = None, unresolved_only: bool = False) -> list[OrderRecord]:
        """Orders, newest first; ``unresolved_only`` keeps those recovery still has to settle."""
        rows = self._run(
            lambda db: db.execute(self._ORDER_SELECT + " ORDER BY o.created_at DESC, o.rowid DESC").fetchall()
        )
        records = (order_record(r) for r in rows)
        out = [r for r in records if r.unresolved] if unresolved_only else list(records)
        return out if limit is None else out[: max(limit, 0)]

    def unresolved(self, lane: str | None = None) -> list[OrderRecord]:
        """Orders not settled: not in a decided state, an unknown pay attempt on a FAILED order,
        a refund whose outcome is open, or a success the lane gave up on and has not refunded.
        Oldest first (the order recovery handles them); ``lane`` keeps that lane's only."""
        return unresolved_oldest_first(self.orders(unresolved_only=True), lane)

    def refunds(self, order_id: str) -> list[RefundRecord]:
        """The order's refunds, oldest first."""
        rows = self._run(
            lambda db: db.execute(
                f"SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = ? ORDER BY created_at, rowid",
                (order_id,),
            ).fetchall()
        )
        return refund_records(rows)

    def export_csv(self, fh: IO[str]) -> int:
        """Write every order as CSV (header :data:`CSV_COLUMNS`, oldest first) for reconciliation;
        returns the number of orders written. Amounts are exact decimal text, times ISO 8601 UTC."""
        return write_csv(fh, self.orders())

    # -- life ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; further calls raise JournalError. Closing twice is harmless."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"
