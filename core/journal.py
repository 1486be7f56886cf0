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

import csv
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, TypeVar

import attrs

from .errors import JournalError, OrderError
from .models import Money, PaymentStatus

__all__ = [
    "ATTEMPT_KINDS",
    "ATTEMPT_OUTCOMES",
    "CSV_COLUMNS",
    "REFUND_STATUSES",
    "AttemptRecord",
    "Journal",
    "OrderRecord",
    "RefundRecord",
    "TransitionRecord",
]

#: what an attempt may be
ATTEMPT_KINDS = frozenset({"pay", "query", "close", "void", "refund", "refund_query"})
#: how an attempt may end; an attempt that was begun and never ended reads ``pending``, and one whose
#: outcome was never read but no longer matters (the order's status was settled by a query) ``settled``
ATTEMPT_OUTCOMES = frozenset({"answered", "unknown", "error", "settled"})
#: statuses of a refund; ``PENDING`` from :meth:`Journal.begin_refund` until it is ended
REFUND_STATUSES = frozenset({"PENDING", "PROCESSING", "SUCCESS", "FAILED", "UNKNOWN"})
#: refund statuses that are settled one way or the other
_REFUND_SETTLED = ("SUCCESS", "FAILED")
#: order statuses after which nothing more is needed unless an attempt's outcome is unknown
_DECIDED = frozenset({PaymentStatus.SUCCESS, PaymentStatus.CLOSED, PaymentStatus.CANCEL, PaymentStatus.FAILED})

#: columns of :meth:`Journal.export_csv`, in order
CSV_COLUMNS = (
    "order_id",
    "created_at",
    "updated_at",
    "lane",
    "wallet",
    "code_masked",
    "amount",
    "currency",
    "status",
    "transaction_id",
    "refunded",
    "refunds_pending",
    "abandoned",
    "abandon_reason",
    "attempts",
    "unknown_attempts",
)

SCHEMA_VERSION = 1

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

T = TypeVar("T")


# ---------------------------------------------------------------------------- records


def _iso(t: float | None) -> str:
    if t is None:
        return ""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.frozen
class TransitionRecord:
    """One state change of an order: the status it moved to, when, and why."""

    status: PaymentStatus
    time: float
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "time": _iso(self.time), "note": self.note}


@attrs.frozen
class AttemptRecord:
    """One request sent (or about to be sent) for an order.

    ``outcome`` is ``pending`` from :meth:`Journal.begin_attempt` until
    :meth:`Journal.end_attempt`; a pending attempt after a crash means the request may
    have left and its answer was never read. ``sends`` counts re-sends of the same
    ``request_id`` (a retry of a call whose answer was lost).
    """

    order_id: str
    request_id: str
    kind: str
    outcome: str
    code: str | None
    status: str | None
    detail: str
    sends: int
    started_at: float
    ended_at: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "outcome": self.outcome,
            "code": self.code,
            "status": self.status,
            "detail": self.detail,
            "sends": self.sends,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
        }


@attrs.frozen
class RefundRecord:
    """One refund of an order, from the intent (``PENDING``) to ``SUCCESS`` or ``FAILED``."""

    order_id: str
    refund_id: str
    amount: Decimal
    status: str
    detail: str
    created_at: float
    updated_at: float

    @property
    def settled(self) -> bool:
        return self.status in _REFUND_SETTLED

    def as_json(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "amount": str(self.amount),
            "status": self.status,
            "detail": self.detail,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@attrs.frozen
class OrderRecord:
    """An order as the journal knows it.

    ``refunded`` sums the refunds that succeeded; ``refunds_pending`` sums those begun
    and not yet settled (their outcome may still be a success). ``unknown_attempts``
    counts attempts that are pending or ended ``unknown``.
    """

    order_id: str
    amount: Decimal
    currency: str
    wallet: str
    code_masked: str
    lane: str
    status: PaymentStatus
    transaction_id: str | None
    abandoned: bool
    deadline_at: float
    created_at: float
    updated_at: float
    refunded: Decimal = Decimal(0)
    refunds_pending: Decimal = Decimal(0)
    abandon_reason: str = ""
    unknown_attempts: int = 0
    attempt_count: int = 0

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def refundable(self) -> Decimal:
        """What may still be refunded: paid, minus settled and pending refunds (zero unless SUCCESS)."""
        if self.status is not PaymentStatus.SUCCESS:
            return Decimal(0)
        return self.amount - self.refunded - self.refunds_pending

    @property
    def unresolved(self) -> bool:
        """True when recovery still has something to find out or do for this order."""
        if self.refunds_pending:
            return True
        if self.status is PaymentStatus.SUCCESS:
            return self.abandoned and self.refunded < self.amount
        if self.status in _DECIDED:
            return self.status is PaymentStatus.FAILED and self.unknown_attempts > 0
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "amount": str(self.amount),
            "currency": self.currency,
            "wallet": self.wallet,
            "code": self.code_masked,
            "lane": self.lane,
            "status": self.status.value,
            "transaction_id": self.transaction_id,
            "refunded": str(self.refunded),
            "refunds_pending": str(self.refunds_pending),
            "abandoned": self.abandoned,
            "abandon_reason": self.abandon_reason,
            "deadline_at": _iso(self.deadline_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "attempt_count": self.attempt_count,
            "unknown_attempts": self.unknown_attempts,
            "unresolved": self.unresolved,
        }

    def csv_row(self) -> list[str]:
        values = {
            **self.as_json(),
            "code_masked": self.code_masked,
            "transaction_id": self.transaction_id or "",
            "abandoned": "1" if self.abandoned else "0",
            "attempts": str(self.attempt_count),
            "unknown_attempts": str(self.unknown_attempts),
        }
        return [str(values[c]) for c in CSV_COLUMNS]


# ---------------------------------------------------------------------------- checks


def _looks_unmasked(value: str) -> bool:
    """A masked code has stars; eight or more digits in a row would reveal a code."""
    run = 0
    for ch in value:
        run = run + 1 if ch.isdigit() else 0
        if run >= 8:
            return True
    return False


def _status(value: PaymentStatus | str) -> PaymentStatus:
    if isinstance(value, PaymentStatus):
        return value
    try:
        return PaymentStatus(str(value).upper())
    except ValueError:
        accepted = ", ".join(s.value for s in PaymentStatus)
        raise JournalError(f"status {value!r} is not a payment status; accepted: {accepted}") from None


def _text(name: str, value: object, *, limit: int = 256) -> str:
    if not isinstance(value, str) or not value:
        raise JournalError(f"{name} must be non-empty text, not {value!r}")
    if len(value) > limit:
        raise JournalError(f"{name} is {len(value)} characters long; at most {limit} are stored")
    return value


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise JournalError(f"journal holds a malformed amount {text!r}") from None


# ---------------------------------------------------------------------------- the journal


class Journal:
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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # create the file owner-only before SQLite opens it (the -wal/-shm files inherit the mode)
                fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
                os.close(fd)
        except OSError as exc:
            raise JournalError(f"journal {str(self.path)!r} cannot be created: {exc.strerror}") from None
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {str(self.path)!r} cannot be opened: {exc}") from None
        try:
            self._setup(timeout)
        except JournalError:
            self._db.close()
            raise

    def _setup(self, timeout: float) -> None:
        def setup(db: sqlite3.Connection) -> None:
            db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
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
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise

        self._run(setup)

    # -- plumbing --------------------------------------------------------------------

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._closed:
                raise JournalError(f"journal {str(self.path)!r} is closed")
            try:
                return fn(self._db)
            except sqlite3.Error as exc:
                raise JournalError(f"journal {str(self.path)!r}: {exc}") from None

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
        """
        with self._lock:
            if self._closed:
                raise JournalError(f"journal {str(self.path)!r} is closed")
            db = self._db
            if self._batch_depth:
                try:
                    yield db
                except sqlite3.Error as exc:
                    raise JournalError(f"journal {str(self.path)!r} cannot be written: {exc}") from None
                return
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(f"journal {str(self.path)!r} cannot be written: {exc}") from None
            try:
                yield db
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise JournalError(f"journal {str(self.path)!r} cannot be written: {exc}") from None
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise JournalError(f"journal {str(self.path)!r} cannot be written: {exc}") from None

    @staticmethod
    def _require_order(db: sqlite3.Connection, order_id: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] | None = db.execute(
            "SELECT status, amount FROM orders WHERE order_id = ?", (order_id,)
        ).fetchone()
        if row is None:
            raise JournalError(f"order {order_id!r} is not in the journal")
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
    ) -> None:
        """Record a new order (status ``INIT``) before anything is sent for it.

        Raises JournalError when ``order_id`` is already in the journal (an order is paid
        once; a second lane using the same id must not start it again) or when
        ``code_masked`` looks like a whole payment code.
        """
        _text("order id", order_id)
        _text("wallet", wallet)
        _text("lane", lane)
        if not isinstance(code_masked, str) or _looks_unmasked(code_masked):
            raise JournalError("refusing to store a payment code that is not masked; pass mask_code(code)")
        now = time.time()
        with self._write() as db:
            if db.execute("SELECT 1 FROM orders WHERE order_id = ?", (order_id,)).fetchone():
                raise JournalError(f"order {order_id!r} is already in the journal; every order needs its own id")
            db.execute(
                "INSERT INTO orders (order_id, amount, currency, wallet, code_masked, lane, status, deadline_at,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )
            db.execute(
                "INSERT INTO transitions (order_id, status, time, note) VALUES (?, ?, ?, ?)",
                (order_id, PaymentStatus.INIT.value, now, f"order of {money} by {wallet} on {lane}"),
            )

    def begin_attempt(self, order_id: str, request_id: str, kind: str) -> None:
        """Record that a request is about to be sent (outcome ``pending``).

        Beginning the same ``(order_id, request_id, kind)`` again records a re-send of the
        same request (a retry whose answer was lost): the attempt is re-opened and its
        ``sends`` counted, never doubled.
        """
        _text("request id", request_id)
        if kind not in ATTEMPT_KINDS:
            raise JournalError(f"attempt kind {kind!r} is unknown; accepted: {', '.join(sorted(ATTEMPT_KINDS))}")
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
        if outcome not in ATTEMPT_OUTCOMES:
            raise JournalError(
                f"attempt outcome {outcome!r} is unknown; accepted: {', '.join(sorted(ATTEMPT_OUTCOMES))}"
            )
        status_text = None if status is None else str(getattr(status, "value", status))
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM attempts WHERE order_id = ? AND request_id = ? "
                "ORDER BY outcome = 'pending' DESC, id DESC LIMIT 1",
                (order_id, request_id),
            ).fetchone()
            if row is None:
                raise JournalError(f"order {order_id!r} has no attempt with request id {request_id!r}")
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
        """
        new = _status(status)
        now = time.time()
        with self._write() as db:
            row = self._require_order(db, order_id)
            old = PaymentStatus(row[0])
            if transaction_id:
                db.execute(
                    "UPDATE orders SET transaction_id = ?, updated_at = ? WHERE order_id = ?",
                    (transaction_id, now, order_id),
                )
            if new is old or (old.final and not new.final):
                return False
            db.execute("UPDATE orders SET status = ?, updated_at = ? WHERE order_id = ?", (new.value, now, order_id))
            db.execute(
                "INSERT INTO transitions (order_id, status, time, note) VALUES (?, ?, ?, ?)",
                (order_id, new.value, now, note),
            )
            return True

    def mark_abandoned(self, order_id: str, reason: str) -> None:
        """Record that the lane gave up on the order: a later SUCCESS must be refunded (or reported)."""
        now = time.time()
        with self._write() as db:
            row = self._require_order(db, order_id)
            db.execute(
                "UPDATE orders SET abandoned = 1, abandon_reason = ?, updated_at = ? WHERE order_id = ?",
                (reason, now, order_id),
            )
            db.execute(
                "INSERT INTO transitions (order_id, status, time, note) VALUES (?, ?, ?, ?)",
                (order_id, row[0], now, f"abandoned: {reason}"),
            )

    def keep_late_success(self, order_id: str, note: str) -> None:
        """Clear the abandoned mark of a late success that is kept (``late_success = "report"``)."""
        now = time.time()
        with self._write() as db:
            row = self._require_order(db, order_id)
            db.execute("UPDATE orders SET abandoned = 0, updated_at = ? WHERE order_id = ?", (now, order_id))
            db.execute(
                "INSERT INTO transitions (order_id, status, time, note) VALUES (?, ?, ?, ?)",
                (order_id, row[0], now, f"late success kept: {note}"),
            )

    def begin_refund(self, order_id: str, refund_id: str, amount: Decimal) -> None:
        """Record a refund before it is sent (status ``PENDING``).

        Checked in the same transaction, so two lanes cannot refund more than was paid
        between them: the order must be ``SUCCESS`` and ``amount`` at most what is left
        after settled and pending refunds (OrderError otherwise).
        """
        _text("refund id", refund_id)
        if isinstance(amount, float) or not isinstance(amount, (Decimal, int)):
            raise JournalError(f"refund amount {amount!r} must be a Decimal")
        amount = Decimal(amount)
        if not amount.is_finite() or amount <= 0:
            raise OrderError(f"refund amount {amount} must be greater than zero")
        now = time.time()
        with self._write() as db:
            record = self._order(db, order_id)
            if record is None:
                raise JournalError(f"order {order_id!r} is not in the journal")
            if db.execute(
                "SELECT 1 FROM refunds WHERE order_id = ? AND refund_id = ?", (order_id, refund_id)
            ).fetchone():
                raise JournalError(f"refund {refund_id!r} of order {order_id!r} is already in the journal")
            amount = Money(amount, record.currency).wire()
            if record.status is not PaymentStatus.SUCCESS:
                raise OrderError(f"order {order_id!r} is {record.status.value}; only a SUCCESS payment can be refunded")
            left = record.refundable
            if amount > left:
                raise OrderError(
                    f"refund of {amount} {record.currency} is more than order {order_id!r} has left to refund "
                    f"({left} of {record.amount}; refunded {record.refunded}, pending {record.refunds_pending})"
                )
            db.execute(
                "INSERT INTO refunds (order_id, refund_id, amount, status, created_at, updated_at)"
                " VALUES (?, ?, ?, 'PENDING', ?, ?)",
                (order_id, refund_id, str(amount), now, now),
            )
            db.execute("UPDATE orders SET updated_at = ? WHERE order_id = ?", (now, order_id))

    def end_refund(self, order_id: str, refund_id: str, *, status: str, detail: str = "") -> None:
        """Record a refund's outcome: ``SUCCESS``, ``FAILED``, or still ``PROCESSING``/``UNKNOWN``."""
        status = str(getattr(status, "value", status)).upper()
        if status not in REFUND_STATUSES:
            raise JournalError(f"refund status {status!r} is unknown; accepted: {', '.join(sorted(REFUND_STATUSES))}")
        now = time.time()
        with self._write() as db:
            cur = db.execute(
                "UPDATE refunds SET status = ?, detail = ?, updated_at = ? WHERE order_id = ? AND refund_id = ?",
                (status, detail, now, order_id, refund_id),
            )
            if cur.rowcount == 0:
                raise JournalError(f"order {order_id!r} has no refund {refund_id!r}")
            db.execute("UPDATE orders SET updated_at = ? WHERE order_id = ?", (now, order_id))

    # -- reading ---------------------------------------------------------------------

    _ORDER_SELECT = """
        SELECT o.order_id, o.amount, o.currency, o.wallet, o.code_masked, o.lane, o.status, o.transaction_id,
               o.abandoned, o.deadline_at, o.created_at, o.updated_at, o.abandon_reason,
               (SELECT group_concat(r.status || ':' || r.amount, ' ') FROM refunds r WHERE r.order_id = o.order_id),
               (SELECT count(*) FROM attempts a WHERE a.order_id = o.order_id
                    AND a.kind = 'pay' AND a.outcome IN ('pending', 'unknown')),
               (SELECT count(*) FROM attempts a WHERE a.order_id = o.order_id)
        FROM orders o
    """

    @staticmethod
    def _record(row: tuple[Any, ...]) -> OrderRecord:
        refunded = Decimal(0)
        pending = Decimal(0)
        for item in (row[13] or "").split():
            status, _, amount = item.partition(":")
            if status == "SUCCESS":
                refunded += _decimal(amount)
            elif status != "FAILED":
                pending += _decimal(amount)
        amount = _decimal(row[1])
        return OrderRecord(
            order_id=row[0],
            amount=amount,
            currency=row[2],
            wallet=row[3],
            code_masked=row[4],
            lane=row[5],
            status=_status(row[6]),
            transaction_id=row[7],
            abandoned=bool(row[8]),
            deadline_at=row[9],
            created_at=row[10],
            updated_at=row[11],
            abandon_reason=row[12],
            refunded=refunded.quantize(amount),
            refunds_pending=pending.quantize(amount),
            unknown_attempts=row[14],
            attempt_count=row[15],
        )

    def _order(self, db: sqlite3.Connection, order_id: str) -> OrderRecord | None:
        row = db.execute(self._ORDER_SELECT + " WHERE o.order_id = ?", (order_id,)).fetchone()
        return None if row is None else self._record(row)

    def order(self, order_id: str) -> OrderRecord | None:
        """The order, or None when the journal has no such order."""
        return self._run(lambda db: self._order(db, order_id))

    def orders(self, *, limit: int | None = None, unresolved_only: bool = False) -> list[OrderRecord]:
        """Orders, newest first; ``unresolved_only`` keeps those recovery still has to settle."""
        rows = self._run(
            lambda db: db.execute(self._ORDER_SELECT + " ORDER BY o.created_at DESC, o.rowid DESC").fetchall()
        )
        records = (self._record(r) for r in rows)
        out = [r for r in records if r.unresolved] if unresolved_only else list(records)
        return out if limit is None else out[: max(limit, 0)]

    def unresolved(self) -> list[OrderRecord]:
        """Orders not settled: not in a decided state, an unknown pay attempt on a FAILED order,
        a refund whose outcome is open, or a success the lane gave up on and has not refunded.
        Oldest first (the order recovery handles them)."""
        return list(reversed(self.orders(unresolved_only=True)))

    def transitions(self, order_id: str) -> list[TransitionRecord]:
        """The order's history, oldest first."""
        rows = self._run(
            lambda db: db.execute(
                "SELECT status, time, note FROM transitions WHERE order_id = ? ORDER BY id", (order_id,)
            ).fetchall()
        )
        return [TransitionRecord(_status(s), t, n) for s, t, n in rows]

    def attempts(self, order_id: str) -> list[AttemptRecord]:
        """The requests sent for the order, oldest first."""
        rows = self._run(
            lambda db: db.execute(
                "SELECT order_id, request_id, kind, outcome, code, status, detail, sends, started_at, ended_at"
                " FROM attempts WHERE order_id = ? ORDER BY id",
                (order_id,),
            ).fetchall()
        )
        return [AttemptRecord(*row) for row in rows]

    def refunds(self, order_id: str) -> list[RefundRecord]:
        """The order's refunds, oldest first."""
        rows = self._run(
            lambda db: db.execute(
                "SELECT order_id, refund_id, amount, status, detail, created_at, updated_at"
                " FROM refunds WHERE order_id = ? ORDER BY created_at, rowid",
                (order_id,),
            ).fetchall()
        )
        return [RefundRecord(o, r, _decimal(a), s, d, c, u) for o, r, a, s, d, c, u in rows]

    def export_csv(self, fh: IO[str]) -> int:
        """Write every order as CSV (header :data:`CSV_COLUMNS`, oldest first) for reconciliation;
        returns the number of orders written. Amounts are exact decimal text, times ISO 8601 UTC."""
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        records = list(reversed(self.orders()))
        for record in records:
            writer.writerow(record.csv_row())
        return len(records)

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
