"""Benchmark: lanes on a PostgreSQL journal (the store tier), against bare psycopg and against SQLite.

A throwaway PostgreSQL server (:class:`paycode.store.tempserver.TempPostgres`: 127.0.0.1, ``fsync=on``, the
scratch file system) is started for the run.

``lanes_pg_10``, ``lanes_pg_100``: the journal's own cost. N lane threads, each with its own
:class:`~paycode.store.pg_journal.PostgresJournal` (as N POS boxes would have), each recording payments paid at
once exactly as the pay flow does: one transaction for the order with its first attempt (``batch``:
``begin_order``, ``begin_attempt``), one for the answer with the state it moves to (``end_attempt``,
``set_state``). The baseline is the same N threads, each with its own bare psycopg connection, committing the
same rows in the same two transactions with plain INSERT and UPDATE statements (no checks, no row locks, no
NOTIFY). Goal: at most 1.5 times the baseline. They take turns (paycode, bare, paycode without the NOTIFY of
the final state, and again); the notes give the figure without the NOTIFY (``announce=False``).

``lanes_pg_10_pay``, ``lanes_pg_100_pay``: whole payments. N AsyncTerminals in one event loop paying success
codes against the sandbox gateway (its own process), sharing one PostgreSQL journal; the baseline is the same
lanes sharing one SQLite journal file (WAL, ``synchronous=FULL``) on the scratch file system.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paycode import AsyncTerminal
from paycode.journal import Journal, JournalBackend
from paycode.masking import mask_code
from paycode.models import Money, PaymentStatus
from paycode.store.pg_journal import PostgresJournal
from paycode.store.tempserver import TempPostgres

from ._fixtures import AMOUNT, CURRENCY, success_codes
from ._measure import Check, Figure, Stats
from ._run import Config
from .lanes import _Fleet, _paycode_round, _settings, _touch_paycode, sandbox_process

__all__ = ["run"]

GOAL_RATIO = 1.5
_MONEY = Money(AMOUNT, CURRENCY)
_MASKED = mask_code(success_codes(1)[0])


# ---------------------------------------------------------------------------- the journal's own cost


def _paycode_payment(journal: PostgresJournal, order_id: str, lane: str) -> None:
    """The journal writes of a payment paid at once, as the pay flow makes them."""
    request_id = f"{order_id}-r1"
    with journal.batch():
        journal.begin_order(
            order_id, money=_MONEY, wallet="Wechat-Offline", code_masked=_MASKED, lane=lane,
            deadline_at=time.time() + 30, gateway="pingpong", site="sg",
        )  # fmt: skip
        journal.begin_attempt(order_id, request_id, "pay")
    with journal.batch():
        journal.end_attempt(order_id, request_id, outcome="answered", code="000000", status="SUCCESS")
        journal.set_state(order_id, PaymentStatus.SUCCESS, transaction_id=f"T{order_id}", note="answer")


def _bare_payment(conn: Any, order_id: str, lane: str) -> None:
    """The same rows in the same two transactions, with plain statements."""
    now = time.time()
    with conn.transaction():
        conn.execute(
            "INSERT INTO orders (order_id, amount, currency, wallet, code_masked, lane, gateway, site, status,"
            " deadline_at, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'INIT', %s, %s, %s)",
            (order_id, _MONEY.wire(), CURRENCY, "Wechat-Offline", _MASKED, lane, "pingpong", "sg", now + 30, now, now),
        )
        conn.execute(
            "INSERT INTO transitions (order_id, status, time, note) VALUES (%s, 'INIT', %s, %s)",
            (order_id, now, "order"),
        )
        attempt = conn.execute(
            "INSERT INTO attempts (order_id, request_id, kind, started_at) VALUES (%s, %s, 'pay', %s) RETURNING id",
            (order_id, f"{order_id}-r1", now),
        ).fetchone()[0]
    with conn.transaction():
        now = time.time()
        conn.execute(
            "UPDATE attempts SET outcome = 'answered', code = '000000', status = 'SUCCESS', ended_at = %s"
            " WHERE id = %s",
            (now, attempt),
        )
        conn.execute(
            "UPDATE orders SET status = 'SUCCESS', transaction_id = %s, updated_at = %s WHERE order_id = %s",
            (f"T{order_id}", now, order_id),
        )
        conn.execute(
            "INSERT INTO transitions (order_id, status, time, note) VALUES (%s, 'SUCCESS', %s, 'answer')",
            (order_id, now),
        )


def _threads(count: int, per_lane: int, pay: Callable[[int, str], None]) -> tuple[list[float], float]:
    """``count`` lane threads paying ``per_lane`` times each; latencies (ns) and the wall time."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start_line = threading.Barrier(count + 1)
    run_id = secrets.token_hex(4)

    def lane(n: int) -> None:
        mine = []
        try:
            start_line.wait()
            for i in range(per_lane):
                began = time.perf_counter_ns()
                pay(n, f"{run_id}-{n}-{i}")
                mine.append(time.perf_counter_ns() - began)
        except BaseException as exc:
            errors.append(exc)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter_ns()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return latencies, time.perf_counter_ns() - began


def _journal_cost(cfg: Config, server: TempPostgres, count: int, per_lane: int) -> Figure:
    import psycopg

    dsn = server.create_database(f"bench_{count}_{secrets.token_hex(3)}")
    journals = [PostgresJournal(dsn, pool_size=2) for _ in range(count)]
    quiet = [PostgresJournal(dsn, pool_size=2, announce=False) for _ in range(count)]
    bare = [psycopg.connect(dsn, autocommit=True) for _ in range(count)]
    ours: list[float] = []
    base: list[float] = []
    silent: list[float] = []
    ours_time = base_time = 0.0
    half = max(1, per_lane // 2)
    try:
        _threads(count, 1, lambda n, oid: _paycode_payment(journals[n], "w" + oid, f"lane-{n}"))  # warm up
        _threads(count, 1, lambda n, oid: _paycode_payment(quiet[n], "q" + oid, f"lane-{n}"))
        _threads(count, 1, lambda n, oid: _bare_payment(bare[n], "v" + oid, f"lane-{n}"))
        for _ in range(2):
            lat, spent = _threads(count, half, lambda n, oid: _paycode_payment(journals[n], oid, f"lane-{n}"))
            ours += lat
            ours_time += spent
            lat, spent = _threads(count, half, lambda n, oid: _bare_payment(bare[n], "b" + oid, f"lane-{n}"))
            base += lat
            base_time += spent
            lat, _ = _threads(count, half, lambda n, oid: _paycode_payment(quiet[n], "s" + oid, f"lane-{n}"))
            silent += lat
    finally:
        for j in (*journals, *quiet):
            j.close()
        for c in bare:
            c.close()
    value, baseline, unannounced = Stats.of(ours), Stats.of(base), Stats.of(silent)
    rate, bare_rate = len(ours) / (ours_time / 1e9), len(base) / (base_time / 1e9)
    ratio = value.median / baseline.median
    return Figure(
        id=f"lanes_pg_{count}",
        title=f"{count} lanes' journal writes per payment, PostgreSQL on {cfg.filesystem(server.folder)}",
        value=value,
        baseline=baseline,
        baseline_label="bare psycopg commits of the same rows",
        goal=f"<= {GOAL_RATIO}x",
        met=ratio <= GOAL_RATIO,
        notes=f"{rate:.0f} payments/s journaled (bare {bare_rate:.0f}/s); 2 transactions per payment; without "
        f"the NOTIFY of the final state (announce=False) median {unannounced.median / 1e6:.1f} ms, "
        f"{unannounced.median / baseline.median:.2f}x",
        extra={
            "lanes": count,
            "payments": len(ours),
            "payments_per_second": rate,
            "bare_per_second": bare_rate,
            "unannounced": unannounced.as_json(),
            "unannounced_ratio": unannounced.median / baseline.median,
        },
    )


# ---------------------------------------------------------------------------- whole payments


async def _pay_round(
    fleet: _Fleet, count: int, per_lane: int, journal: JournalBackend, lane_prefix: str
) -> tuple[list[float], float]:
    terminals = [
        AsyncTerminal(
            _settings(fleet.sandbox, Path("unused.sqlite3"), f"{lane_prefix}-{i}"),
            fleet.host,
            journal=journal,
            gateway=g,
            recover=False,
        )
        for i, g in enumerate(fleet.gateways[:count])
    ]
    try:
        for t in terminals:
            await t.start()
        await _touch_paycode(terminals, fleet.codes)
        return await _paycode_round(terminals, fleet.codes, per_lane)
    finally:
        for t in terminals:
            await t.close()


async def _whole_payments(cfg: Config, server: TempPostgres, folder: Path, plan: dict[int, int]) -> list[Figure]:
    figures = []
    with sandbox_process(cfg, folder) as sandbox:
        fleet = _Fleet.build(sandbox, folder, max(plan))
        try:
            for count, per_lane in plan.items():
                dsn = server.create_database(f"bench_pay_{count}_{secrets.token_hex(3)}")
                pg = PostgresJournal(dsn, pool_size=min(count, 20))
                sqlite = Journal(folder / f"pay-{count}.sqlite3")
                ours: list[float] = []
                base: list[float] = []
                ours_time = base_time = 0.0
                try:
                    for _ in range(2):
                        lat, spent = await _pay_round(fleet, count, max(1, per_lane // 2), pg, "pg")
                        ours += lat
                        ours_time += spent
                        lat, spent = await _pay_round(fleet, count, max(1, per_lane // 2), sqlite, "sq")
                        base += lat
                        base_time += spent
                finally:
                    pg.close()
                    sqlite.close()
                value, baseline = Stats.of(ours), Stats.of(base)
                rate, sqlite_rate = len(ours) / (ours_time / 1e9), len(base) / (base_time / 1e9)
                figures.append(
                    Figure(
                        id=f"lanes_pg_{count}_pay",
                        title=f"{count} concurrent AsyncTerminals paying, one PostgreSQL journal",
                        value=value,
                        baseline=baseline,
                        baseline_label=f"the same lanes on one SQLite journal ({cfg.filesystem(folder)})",
                        goal="reported",
                        met=None,
                        notes=f"{rate:.0f} payments/s (SQLite {sqlite_rate:.0f}/s)",
                        extra={"lanes": count, "payments": len(ours), "payments_per_second": rate},
                    )
                )
        finally:
            await fleet.close()
    return figures


def run(cfg: Config) -> list[Figure | Check]:
    folder = cfg.folder("lanes_pg")
    with TempPostgres(max_connections=300) as server:
        figures: list[Figure | Check] = [
            _journal_cost(cfg, server, 10, cfg.pick(200, 4)),
            _journal_cost(cfg, server, 100, cfg.pick(30, 2)),
        ]
        figures += asyncio.run(_whole_payments(cfg, server, folder, {10: cfg.pick(40, 2), 100: cfg.pick(8, 2)}))
    return figures
