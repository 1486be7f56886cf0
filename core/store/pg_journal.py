"""The payment journal on PostgreSQL: one journal shared by the lanes of a store (psycopg 3, psycopg_pool).

It keeps the SQLite journal's interface and rules exactly (:class:`paycode.journal.Journal`, docs/journal.md):
every method is one transaction committed before it returns, so the intent is durable before a request leaves;
:meth:`PostgresJournal.batch` makes several writes (an answer and the state it moves to) one transaction; an
order's writes lock its row (``SELECT … FOR UPDATE``), so two lanes or a lane and the notification receiver never
interleave on one order and refunds never exceed what was paid; codes are stored masked only.

What PostgreSQL adds:

- a final state (``SUCCESS``, ``FAILED``, ``CLOSED``, ``CANCEL``) is announced with
  ``NOTIFY paycode_orders, '<order id>'`` right after the transaction that applies it commits (in a transaction
  of its own that does not wait for the disk: see :meth:`PostgresJournal._announce`),
  so a lane waiting on that order wakes at once (:class:`paycode.store.wake.PostgresWaker`);
- :meth:`PostgresJournal.claim` lets one recoverer at a time act on an order (a session advisory lock, released
  when the claim ends or its process dies);
- the schema is versioned (``schema_version``; :mod:`paycode.store.schema`), migrated on open unless told not to.

Every failure is a :class:`~paycode.errors.JournalError` whose message names the database without its password:
``PostgreSQL at host:port is unreachable: …`` when the server cannot be reached.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from ..errors import JournalError
from ..journal_rules import (
    REFUND_COLUMNS,
    OrderRecord,
    RefundRecord,
    allowed_refund,
    already_begun,
    attempt_outcome,
    check_attempt,
    check_new_order,
    check_refund,
    no_attempt,
    not_in_journal,
    order_note,
    order_record,
    plan_move,
    refund_records,
    unresolved_oldest_first,
    write_csv,
)
from ..journal_sql import SharedStatements
from ..models import Money, PaymentStatus
from . import schema
from .dsn import Dsn, parse

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["CHANNEL", "CLAIM_CLASS", "PostgresJournal", "database_error"]

#: the LISTEN/NOTIFY channel on which final states of orders are announced (payload: the order id)
CHANNEL = "paycode_orders"
#: first key of the advisory locks :meth:`PostgresJournal.claim` takes (the second is ``hashtext(order_id)``)
CLAIM_CLASS = 0x70636C6D
#: seconds a pooled connection may rest before it is tried (``SELECT`` of nothing) on being lent again
CHECK_AFTER = 1.0

# psycopg_pool reports each failed reconnection as a warning; the journal reports the failure itself as a
# JournalError, so without a handler of the host application's these stay quiet (no lastResort lines on stderr)
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


def database_error(dsn: Dsn, exc: BaseException) -> JournalError:
    """A JournalError for a psycopg or pool failure: the database named without its password; a connection
    that could not be made or was lost reads ``PostgreSQL at host:port is unreachable: …``."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is None or sqlstate.startswith(("08", "57P")):
        return JournalError(f"PostgreSQL at {dsn.where} is unreachable: {_first_line(exc)}")
    return JournalError(f"journal {dsn}: {_first_line(exc)}")


class PostgresJournal(SharedStatements):
    """The payment journal in a PostgreSQL database named by a ``postgresql://`` URL.

    :param dsn: ``postgresql://user:password@host:port/dbname`` (``postgres://`` too; libpq options allowed).
    :param timeout: seconds to connect, and to wait for a pooled connection, before the database counts as
        unreachable (a lane then refuses to start a payment rather than wait).
    :param pool_size: most connections this journal opens (at least 2: a claim holds one).
    :param migrate: apply pending schema migrations on open (default); False refuses an out-of-date schema.
    :param announce: NOTIFY final states on :data:`CHANNEL` (default). A writer nobody can be waiting on may turn
        it off: a lane recording its own payment's answer (the lane waiting is the writer), or a benchmark. The
        receiver, recovery and reconciliation must announce.
    """

    def __init__(
        self, dsn: str, *, timeout: float = 5.0, pool_size: int = 4, migrate: bool = True, announce: bool = True
    ) -> None:
        import psycopg

        self.dsn: Dsn = parse(dsn)
        self.announce = announce
        self._timeout = timeout
        self._closed = False
        self._local = threading.local()
        kwargs: dict[str, Any] = {
            "connect_timeout": max(1, round(timeout)),
            "application_name": "paycode",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": int(timeout * 1000) + 5000,
        }
        try:
            with psycopg.connect(self.dsn.conninfo, **kwargs) as conn:
                if migrate:
                    schema.migrate(conn, self.dsn.describe())
                self._require_current(schema.state(conn))
        except psycopg.Error as exc:
            raise self._error(exc) from None
        self._kwargs = kwargs
        self._pool_size = max(2, pool_size)
        self._revive_lock = threading.Lock()
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        #: order ids whose final state a connection's open transaction applied: announced once it commits
        self._announcements: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = self._new_pool()

    def _new_pool(self) -> ConnectionPool[psycopg.Connection[tuple[Any, ...]]]:
        from psycopg_pool import ConnectionPool

        pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            self.dsn.conninfo,
            kwargs=self._kwargs,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            timeout=self._timeout,
            check=self._check_idle,
            reconnect_timeout=365 * 86400.0,  # keep trying: a lane outlives a database restart
            name="paycode-journal",
        )
        pool.open(wait=False)
        return pool

    def _check_idle(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        """The pool's check on lending a connection: one that rested longer than :data:`CHECK_AFTER` is tried
        first (a server restarted meanwhile has closed it), so a write does not fail on a stale connection;
        one in steady use is lent as it is (no extra round trip per transaction)."""
        from psycopg_pool import ConnectionPool

        rested = time.monotonic() - self._returned.get(conn, 0.0)
        if rested > CHECK_AFTER:
            ConnectionPool.check_connection(conn)

    def _revive(self, failed: Any) -> bool:
        """After the pool found no connection: True when the server answers again (the pool is then replaced, so
        its reconnection back-off, grown while the server was away, does not keep the lane waiting)."""
        import psycopg

        with self._revive_lock:
            if self._pool is not failed:
                return True  # another thread replaced it meanwhile
            try:
                psycopg.connect(self.dsn.conninfo, **self._kwargs).close()
            except psycopg.Error:
                return False
            self._pool = self._new_pool()
        failed.close(timeout=0)
        return True

    def _require_current(self, state: schema.SchemaState) -> None:
        if state.current > state.latest:
            raise JournalError(
                f"journal {self.dsn} has schema version {state.current}; this paycode reads up to {state.latest} "
                "(upgrade paycode)"
            )
        if state.current < state.latest:
            raise JournalError(
                f"journal {self.dsn} has schema version {state.current}; this paycode needs {state.latest}: "
                "run `paycode journal migrate`"
            )

    # -- plumbing --------------------------------------------------------------------

    def _error(self, exc: BaseException) -> JournalError:
        return database_error(self.dsn, exc)

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self.dsn} is closed")

    def _acquire(self) -> tuple[Any, psycopg.Connection[tuple[Any, ...]]]:
        from psycopg_pool import PoolTimeout

        pool = self._pool
        try:
            return pool, pool.getconn(timeout=self._timeout)
        except PoolTimeout:
            pass
        if self._revive(pool):
            pool = self._pool
            try:
                return pool, pool.getconn(timeout=self._timeout)
            except PoolTimeout:
                pass
        raise JournalError(f"PostgreSQL at {self.dsn.where} is unreachable: no connection within {self._timeout:g} s")

    @contextmanager
    def _pooled(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """A pooled connection for one transaction: committed when the block ends, rolled back if it raises."""
        import psycopg

        self._check_open()
        pool, conn = self._acquire()
        try:
            try:
                yield conn
                conn.commit()
            except BaseException:
                self._announcements.pop(conn, None)
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
                raise
            else:
                self._announce(conn)
            finally:
                self._returned[conn] = time.monotonic()
                pool.putconn(conn)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _announce(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        """NOTIFY the final states the committed transaction applied, in a transaction of their own.

        Not inside the state's own transaction: PostgreSQL makes every transaction that notifies take one
        database-wide lock through its commit, so lanes committing final states (each waiting for its flush to
        disk) would queue behind each other. Here the notifying transaction writes nothing else and does not wait
        for the disk (``synchronous_commit`` off: a wake-up needs no durability), and it follows the commit, so
        a woken lane always finds the state. Best effort: lost, the lane polls as it would anyway.
        """
        import psycopg

        ids = self._announcements.pop(conn, None)
        if not ids:
            return
        try:
            conn.execute(
                "SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, x) FROM unnest(%s::text[]) AS x",
                (CHANNEL, ids),
            )
            conn.commit()
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """The batch's connection inside :meth:`batch` (same thread), else one transaction of its own."""
        import psycopg

        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._pooled() as conn:
                yield conn
            return
        self._check_open()
        try:
            yield conn
        except psycopg.Error as exc:
            raise self._error(exc) from None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes inside one transaction: all of them committed or none.

        As :meth:`paycode.journal.Journal.batch`: batches nest, reads inside see the batch's writes, and a write
        that raises inside undoes the whole batch. Other threads use other connections meanwhile (an order's
        row stays locked by the batch until it ends).
        """
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._pooled() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    PLACEHOLDER = "%s"

    def _writing(self) -> AbstractContextManager[psycopg.Connection[tuple[Any, ...]]]:
        return self._conn()

    def _reading(self) -> AbstractContextManager[psycopg.Connection[tuple[Any, ...]]]:
        return self._conn()

    @staticmethod
    def _require_order(conn: psycopg.Connection[tuple[Any, ...]], order_id: str) -> tuple[Any, ...]:
        row = conn.execute("SELECT status, amount FROM orders WHERE order_id = %s FOR UPDATE", (order_id,)).fetchone()
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
        """Record a new order (status ``INIT``) before anything is sent for it (see ``Journal.begin_order``)."""
        check_new_order(order_id, wallet=wallet, code_masked=code_masked, lane=lane, gateway=gateway, site=site)
        now = time.time()
        with self._conn() as conn:
            row = conn.execute(
                "WITH o AS (INSERT INTO orders (order_id, amount, currency, wallet, code_masked, lane, gateway, site,"
                " status, deadline_at, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (order_id) DO NOTHING RETURNING order_id)"
                " INSERT INTO transitions (order_id, status, time, note) SELECT order_id, %s, %s, %s FROM o"
                " RETURNING 1",
                (
                    order_id,
                    money.wire(),
                    money.currency,
                    wallet,
                    code_masked,
                    lane,
                    gateway,
                    site,
                    PaymentStatus.INIT.value,
                    float(deadline_at),
                    now,
                    now,
                    PaymentStatus.INIT.value,
                    now,
                    order_note(money, wallet, lane),
                ),
            ).fetchone()
            if row is None:
                raise already_begun(order_id)

    def begin_attempt(self, order_id: str, request_id: str, kind: str) -> None:
        """Record that a request is about to be sent (outcome ``pending``); a re-send is counted, never doubled."""
        check_attempt(request_id, kind)
        now = time.time()
        with self._conn() as conn:
            found = conn.execute(
                "SELECT (SELECT a.id FROM attempts a WHERE a.order_id = o.order_id AND a.request_id = %s"
                " AND a.kind = %s ORDER BY a.id DESC LIMIT 1) FROM orders o WHERE o.order_id = %s FOR UPDATE OF o",
                (request_id, kind, order_id),
            ).fetchone()
            if found is None:
                raise not_in_journal(order_id)
            row = None if found[0] is None else found
            if row is None:
                conn.execute(
                    "INSERT INTO attempts (order_id, request_id, kind, started_at) VALUES (%s, %s, %s, %s)",
                    (order_id, request_id, kind, now),
                )
            else:
                conn.execute(
                    "UPDATE attempts SET outcome = 'pending', sends = sends + 1, ended_at = NULL WHERE id = %s",
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
        """Record how an attempt ended: ``answered``, ``unknown`` or ``error`` (see ``Journal.end_attempt``)."""
        status_text = attempt_outcome(outcome, status)
        with self._conn() as conn:
            row = conn.execute(
                "UPDATE attempts SET outcome = %s, code = %s, status = %s, detail = %s, ended_at = %s"
                " WHERE id = (SELECT id FROM attempts WHERE order_id = %s AND request_id = %s"
                " ORDER BY outcome = 'pending' DESC, id DESC LIMIT 1 FOR UPDATE) RETURNING id",
                (outcome, code, status_text, detail, time.time(), order_id, request_id),
            ).fetchone()
            if row is None:
                raise no_attempt(order_id, request_id)

    def settle_attempts(self, order_id: str, note: str, *, request_id: str | None = None) -> int:
        """End attempts still ``pending`` or ``unknown`` as ``settled``; returns how many were settled."""
        where = "order_id = %s AND outcome IN ('pending', 'unknown')"
        params: tuple[Any, ...] = (note, time.time(), order_id)
        if request_id is not None:
            where += " AND request_id = %s"
            params += (request_id,)
        with self._conn() as conn:
            self._require_order(conn, order_id)
            cur = conn.execute(
                "UPDATE attempts SET outcome = 'settled', detail = btrim(detail || ' | ' || %s, ' |'), "
                f"ended_at = coalesce(ended_at, %s) WHERE {where}",
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
        """Move an order to ``status`` and record the transition, by the rules both backends share
        (:func:`paycode.journal_rules.plan_move`; see ``Journal.set_state``): idempotent, a final state never moves
        back, and a SUCCESS on an order the lane reported FAILED, CLOSED or CANCEL marks it abandoned in the same
        transaction (so recovery refunds it). A final state (or FAILED) is announced on :data:`CHANNEL` when it
        commits."""
        now = time.time()
        with self._conn() as conn:
            row = self._require_order(conn, order_id)
            move = plan_move(PaymentStatus(row[0]), status, note)
            if move is None:
                if transaction_id:
                    conn.execute(
                        "UPDATE orders SET transaction_id = %s, updated_at = %s WHERE order_id = %s",
                        (transaction_id, now, order_id),
                    )
                return False
            late = move.abandon_reason
            # the move, a late success's abandoned mark (kept when already given) and the transition: one round trip
            conn.execute(
                "WITH u AS (UPDATE orders SET status = %s, transaction_id = coalesce(%s, transaction_id),"
                " updated_at = %s, abandoned = abandoned OR %s, abandon_reason = CASE WHEN %s::text IS NULL"
                " OR (abandoned AND abandon_reason <> '') THEN abandon_reason ELSE %s::text END WHERE order_id = %s)"
                " INSERT INTO transitions (order_id, status, time, note) VALUES (%s, %s, %s, %s)",
                (
                    move.status.value,
                    transaction_id or None,
                    now,
                    late is not None,
                    late,
                    late,
                    order_id,
                    order_id,
                    move.status.value,
                    now,
                    move.note,
                ),
            )
            if self.announce and move.news:
                self._announcements.setdefault(conn, []).append(order_id)  # once the transaction has committed
            return True

    def begin_refund(self, order_id: str, refund_id: str, amount: Decimal) -> None:
        """Record a refund before it is sent (``PENDING``); checked under the order's row lock, so lanes
        together never refund more than was paid (see ``Journal.begin_refund``)."""
        asked = check_refund(refund_id, amount)
        now = time.time()
        with self._conn() as conn:
            locked = conn.execute("SELECT 1 FROM orders WHERE order_id = %s FOR UPDATE", (order_id,)).fetchone()
            known = conn.execute("SELECT 1 FROM refunds WHERE order_id = %s AND refund_id = %s", (order_id, refund_id))
            record = self._order(conn, order_id) if locked else None
            amount = allowed_refund(record, order_id, refund_id, asked, known=bool(known.fetchone()))
            conn.execute(
                "INSERT INTO refunds (order_id, refund_id, amount, status, created_at, updated_at)"
                " VALUES (%s, %s, %s, 'PENDING', %s, %s)",
                (order_id, refund_id, amount, now, now),
            )
            conn.execute("UPDATE orders SET updated_at = %s WHERE order_id = %s", (now, order_id))

    # -- claims ----------------------------------------------------------------------

    @contextmanager
    def claim(self, order_id: str) -> Iterator[bool]:
        """Claim ``order_id`` for one recoverer: yields True when this caller holds it, False when another
        process does (skip the order). The claim is a session advisory lock on a connection of its own, held
        until the block ends, and released by the server if this process dies."""
        import psycopg

        with self._pooled() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (CLAIM_CLASS, order_id)).fetchone()
            conn.commit()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held and not conn.closed:
                    try:
                        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (CLAIM_CLASS, order_id))
                        conn.commit()
                    except psycopg.Error:
                        pass  # the connection is gone, and its lock with it

    # -- reading ---------------------------------------------------------------------

    _ORDER_SELECT = """
        SELECT o.order_id, o.amount, o.currency, o.wallet, o.code_masked, o.lane, o.status, o.transaction_id,
               o.abandoned, o.deadline_at, o.created_at, o.updated_at, o.abandon_reason,
               (SELECT coalesce(sum(r.amount) FILTER (WHERE r.status = 'SUCCESS'), 0)
                  FROM refunds r WHERE r.order_id = o.order_id),
               (SELECT coalesce(sum(r.amount) FILTER (WHERE r.status NOT IN ('SUCCESS', 'FAILED')), 0)
                  FROM refunds r WHERE r.order_id = o.order_id),
               (SELECT count(*) FROM attempts a WHERE a.order_id = o.order_id
                    AND a.kind = 'pay' AND a.outcome IN ('pending', 'unknown')),
               (SELECT count(*) FROM attempts a WHERE a.order_id = o.order_id),
               o.gateway, o.site
        FROM orders o
    """
    #: a superset of the unresolved orders, narrowed by OrderRecord.unresolved (the one definition)
    _MAYBE_UNRESOLVED = """
        (o.status NOT IN ('SUCCESS', 'CLOSED', 'CANCEL', 'FAILED') OR o.abandoned
         OR EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.order_id AND r.status NOT IN ('SUCCESS', 'FAILED'))
         OR (o.status = 'FAILED' AND EXISTS (SELECT 1 FROM attempts a WHERE a.order_id = o.order_id
                 AND a.kind = 'pay' AND a.outcome IN ('pending', 'unknown'))))
    """

    def _order(self, conn: psycopg.Connection[tuple[Any, ...]], order_id: str) -> OrderRecord | None:
        row = conn.execute(self._ORDER_SELECT + " WHERE o.order_id = %s", (order_id,)).fetchone()
        return None if row is None else order_record(row)

    def order(self, order_id: str) -> OrderRecord | None:
        """The order, or None when the journal has no such order."""
        with self._conn() as conn:
            return self._order(conn, order_id)

    def orders(self, *, limit: int | None = None, unresolved_only: bool = False) -> list[OrderRecord]:
        """Orders, newest first; ``unresolved_only`` keeps those recovery still has to settle."""
        sql = self._ORDER_SELECT
        params: tuple[Any, ...] = ()
        if unresolved_only:
            sql += " WHERE " + self._MAYBE_UNRESOLVED
        sql += " ORDER BY o.created_at DESC, o.seq DESC"
        if limit is not None and not unresolved_only:
            sql += " LIMIT %s"
            params = (max(limit, 0),)
        with self._conn() as conn:
            rows = conn.execute(sql, params).fetchall()
        records = [order_record(r) for r in rows]
        if unresolved_only:
            records = [r for r in records if r.unresolved]
        return records if limit is None else records[: max(limit, 0)]

    def unresolved(self, lane: str | None = None) -> list[OrderRecord]:
        """Orders not settled (see ``Journal.unresolved``), oldest first; ``lane`` keeps that lane's only."""
        return unresolved_oldest_first(self.orders(unresolved_only=True), lane)

    def refunds(self, order_id: str) -> list[RefundRecord]:
        """The order's refunds, oldest first."""
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = %s ORDER BY created_at, seq",
                (order_id,),
            ).fetchall()
        return refund_records(rows)

    def export_csv(self, fh: IO[str]) -> int:
        """Write every order as CSV (header :data:`~paycode.journal.CSV_COLUMNS`, oldest first)."""
        return write_csv(fh, self.orders())

    # -- life ------------------------------------------------------------------------

    def reopen(self) -> None:
        """Drop broken connections after a failure (the pool reconnects by itself once the server is back).

        The flow calls it before retrying a write that failed; JournalError while the server is unreachable.
        """
        self._check_open()
        if getattr(self._local, "conn", None) is not None:
            raise JournalError(f"journal {self.dsn} cannot be reopened inside a batch")
        self._pool.check()
        with self._pooled() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        """Close the pool; further calls raise JournalError. Closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self._pool.close()

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresJournal({self.dsn.describe()!r})"

    def __str__(self) -> str:
        return self.dsn.describe()
