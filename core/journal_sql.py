"""The journal's statements that read and write the same SQL on SQLite and PostgreSQL, written once.

:class:`paycode.journal.Journal` and ``paycode.store.pg_journal.PostgresJournal`` inherit them. Each backend gives
the connection of one write transaction (``_writing``, the batch's inside one), a connection to read on
(``_reading``), its parameter placeholder and its way of finding (and locking) an order (``_require_order``). The
rules these statements follow are :mod:`paycode.journal_rules`'.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from .journal_rules import (
    ATTEMPT_COLUMNS,
    AttemptRecord,
    TransitionRecord,
    abandoned_note,
    attempt_records,
    kept_note,
    no_refund,
    refund_status,
    transition_records,
)

__all__ = ["SharedStatements"]


class SharedStatements(ABC):
    """Statements both backends run alike (SQL with ``?`` placeholders, turned into the backend's own)."""

    #: the backend's parameter placeholder: ``?`` (sqlite3) or ``%s`` (psycopg)
    PLACEHOLDER: ClassVar[str] = "?"

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Any]:
        """A connection inside one write transaction, committed when the block ends (the batch's inside one)."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Any]:
        """A connection to read on (the batch's inside one)."""

    @staticmethod
    @abstractmethod
    def _require_order(db: Any, order_id: str) -> tuple[Any, ...]:
        """The order's (status, amount), locked for the transaction where the backend can; JournalError if absent."""

    def _sql(self, text: str) -> str:
        return text if self.PLACEHOLDER == "?" else text.replace("?", self.PLACEHOLDER)

    def _transition(self, db: Any, order_id: str, status: str, now: float, note: str) -> None:
        db.execute(
            self._sql("INSERT INTO transitions (order_id, status, time, note) VALUES (?, ?, ?, ?)"),
            (order_id, status, now, note),
        )

    def mark_abandoned(self, order_id: str, reason: str) -> None:
        """Record that the lane gave up on the order: a later SUCCESS must be refunded (or reported)."""
        now = time.time()
        with self._writing() as db:
            row = self._require_order(db, order_id)
            db.execute(
                self._sql("UPDATE orders SET abandoned = TRUE, abandon_reason = ?, updated_at = ? WHERE order_id = ?"),
                (reason, now, order_id),
            )
            self._transition(db, order_id, row[0], now, abandoned_note(reason))

    def keep_late_success(self, order_id: str, note: str) -> None:
        """Clear the abandoned mark of a late success that is kept (``late_success = "report"``)."""
        now = time.time()
        with self._writing() as db:
            row = self._require_order(db, order_id)
            db.execute(
                self._sql("UPDATE orders SET abandoned = FALSE, updated_at = ? WHERE order_id = ?"), (now, order_id)
            )
            self._transition(db, order_id, row[0], now, kept_note(note))

    def end_refund(self, order_id: str, refund_id: str, *, status: str, detail: str = "") -> None:
        """Record a refund's outcome: ``SUCCESS``, ``FAILED``, or still ``PROCESSING``/``UNKNOWN``."""
        status = refund_status(status)
        now = time.time()
        with self._writing() as db:
            cur = db.execute(
                self._sql(
                    "UPDATE refunds SET status = ?, detail = ?, updated_at = ? WHERE order_id = ? AND refund_id = ?"
                ),
                (status, detail, now, order_id, refund_id),
            )
            if cur.rowcount == 0:
                raise no_refund(order_id, refund_id)
            db.execute(self._sql("UPDATE orders SET updated_at = ? WHERE order_id = ?"), (now, order_id))

    def transitions(self, order_id: str) -> list[TransitionRecord]:
        """The order's history, oldest first."""
        with self._reading() as db:
            rows = db.execute(
                self._sql("SELECT status, time, note FROM transitions WHERE order_id = ? ORDER BY id"), (order_id,)
            ).fetchall()
        return transition_records(rows)

    def attempts(self, order_id: str) -> list[AttemptRecord]:
        """The requests sent for the order, oldest first."""
        with self._reading() as db:
            rows = db.execute(
                self._sql(f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE order_id = ? ORDER BY id"), (order_id,)
            ).fetchall()
        return attempt_records(rows)
