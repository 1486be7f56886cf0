"""The journal's rules on both backends, and what only the PostgreSQL backend has (server, claims, NOTIFY).

The backend-neutral tests of tests/test_journal.py are imported here and run with its ``journal`` fixture
replaced by :func:`journal` below: once on SQLite, once on a real PostgreSQL server.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paycode.errors import ConfigError, JournalError
from paycode.journal import JournalBackend, open_journal
from paycode.models import PaymentStatus
from paycode.store import schema
from paycode.store.pg_journal import CHANNEL, PostgresJournal
from paycode.store.tempserver import TempPostgres

_spec = importlib.util.spec_from_file_location(
    "_paycode_shared_journal_tests", Path(__file__).parents[1] / "test_journal.py"
)
assert _spec is not None and _spec.loader is not None
shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared)
new_order, paid = shared.new_order, shared.paid

# the backend-neutral checks, run on both backends through the ``journal`` fixture below
SHARED_TESTS = (
    "test_an_order_keeps_its_attempts_transitions_and_refunds",
    "test_a_failing_write_undoes_its_whole_batch",
    "test_an_order_id_is_used_once",
    "test_a_resent_request_is_counted_not_doubled",
    "test_wrong_calls_get_a_clear_error",
    "test_an_unmasked_code_is_refused",
    "test_setting_the_same_status_records_nothing",
    "test_a_final_state_never_moves_back",
    "test_abandoning_is_recorded_in_the_history",
    "test_which_orders_are_unresolved",
    "test_refunds_never_exceed_what_was_paid",
    "test_only_a_success_is_refunded",
    "test_orders_are_listed_newest_first_and_limited",
    "test_csv_export_is_exact_and_complete",
    "test_threads_sharing_one_journal",
    "test_settling_attempts_closes_only_open_ones",
)
for _name in SHARED_TESTS:
    globals()[_name] = getattr(shared, _name)


@pytest.fixture
def journal(journal_backend: JournalBackend) -> JournalBackend:
    return journal_backend


@pytest.fixture
def pg(pg_dsn: str) -> PostgresJournal:
    j = PostgresJournal(pg_dsn)
    yield j  # type: ignore[misc]
    j.close()


# ---------------------------------------------------------------------------- both backends


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list(PaymentStatus)), max_size=10))
def test_any_sequence_of_states_obeys_the_rules(journal: JournalBackend, seq: list[PaymentStatus]) -> None:
    order_id = f"o-{time.monotonic_ns()}"
    new_order(journal, order_id)
    expected = [PaymentStatus.INIT]
    for status in seq:
        current = expected[-1]
        moves = status is not current and not (current.final and not status.final)
        assert journal.set_state(order_id, status) is moves
        if moves:
            expected.append(status)
    assert [t.status for t in journal.transitions(order_id)] == expected
    record = journal.order(order_id)
    assert record is not None and record.status is expected[-1]


def test_unresolved_by_lane(journal: JournalBackend) -> None:
    new_order(journal, "a", lane="lane-1")
    new_order(journal, "b", lane="lane-2")
    new_order(journal, "c", lane="lane-1")
    journal.set_state("c", "SUCCESS")
    assert [r.order_id for r in journal.unresolved()] == ["a", "b"]
    assert [r.order_id for r in journal.unresolved(lane="lane-1")] == ["a"]
    assert [r.order_id for r in journal.unresolved(lane="lane-2")] == ["b"]


def test_orders_keep_their_gateway_and_site(journal: JournalBackend) -> None:
    new_order(journal, "x")
    journal.begin_order(
        "y",
        money=shared.Money("1.00", "HKD"),
        wallet="AlipayHK-Offline",
        code_masked="28**1",
        lane="lane-9",
        deadline_at=0,
        gateway="pingpong",
        site="sg",
    )
    y = journal.order("y")
    x = journal.order("x")
    assert y is not None and (y.gateway, y.site) == ("pingpong", "sg")
    assert x is not None and (x.gateway, x.site) == ("", "")


# ---------------------------------------------------------------------------- PostgreSQL only


def test_open_journal_chooses_postgresql_for_its_urls(pg_dsn: str) -> None:
    for url in (pg_dsn, pg_dsn.replace("postgresql://", "postgres://", 1)):
        with open_journal(url) as j:
            assert isinstance(j, PostgresJournal) and isinstance(j, JournalBackend)
            assert repr(j) == f"PostgresJournal({pg_dsn!r})"


def test_a_batch_is_one_transaction_other_connections_do_not_see(pg: PostgresJournal, pg_dsn: str) -> None:
    with PostgresJournal(pg_dsn) as other:
        with pg.batch():
            new_order(pg, "o-1")
            pg.begin_attempt("o-1", "o-1-r1", "pay")
            assert pg.order("o-1") is not None  # the batch sees its own writes
            assert other.order("o-1") is None  # nobody else does before it commits
            with pg.batch():
                pg.set_state("o-1", PaymentStatus.PROCESSING)
            assert other.order("o-1") is None
        record = other.order("o-1")
        assert record is not None and record.status is PaymentStatus.PROCESSING
        assert [a.request_id for a in other.attempts("o-1")] == ["o-1-r1"]


def test_a_final_state_is_announced_when_it_commits(pg: PostgresJournal, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        new_order(pg, "o-1")
        with pg.batch():
            pg.set_state("o-1", "PROCESSING")  # not final: not announced
            pg.set_state("o-1", "SUCCESS")
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []  # not before the commit
        got = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
        assert got == ["o-1"]
        pg.set_state("o-1", "SUCCESS")  # no transition: nothing announced
        assert list(listener.notifies(timeout=0.2, stop_after=1)) == []


def test_a_journal_that_does_not_announce(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as listener, PostgresJournal(pg_dsn, announce=False) as quiet:
        listener.execute(f"LISTEN {CHANNEL}")
        new_order(quiet, "o-1")
        assert quiet.set_state("o-1", "SUCCESS") is True
        assert list(listener.notifies(timeout=0.3, stop_after=1)) == []


def test_one_claim_per_order_across_processes(pg: PostgresJournal, pg_dsn: str) -> None:
    new_order(pg, "o-1")
    holder = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, pg_dsn, "o-1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        with pg.claim("o-1") as mine:
            assert mine is False  # another process holds it
        with pg.claim("o-2") as mine:
            assert mine is True  # other orders are free
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # the holder dies: the server releases its claim
        holder.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while True:
        with pg.claim("o-1") as mine:
            if mine:
                break
        assert time.monotonic() < deadline, "the dead holder's claim was never released"
        time.sleep(0.05)
    with pg.claim("o-1") as first, pg.claim("o-1") as second:
        assert (first, second) == (True, False)  # a claim is exclusive within one process too


CLAIMER = r"""
import sys, time
from paycode.store.pg_journal import PostgresJournal
j = PostgresJournal(sys.argv[1])
with j.claim(sys.argv[2]) as mine:
    print(mine, flush=True)
    time.sleep(60)
"""

WORKER = r"""
import os, sys, time
from decimal import Decimal
from paycode.journal import open_journal
from paycode.models import Money
dsn, lane, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
j = open_journal(dsn)
deadline = time.monotonic() + 20
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.005)
won = 0
for i in range(count):
    own, shared = f"{lane}-{i}", f"shared-{i}"
    with j.batch():
        j.begin_order(own, money=Money("1.00", "CNY"), wallet="W", code_masked="13**1", lane=lane, deadline_at=0)
        j.begin_attempt(own, f"{own}-r", "pay")
    with j.batch():
        j.end_attempt(own, f"{own}-r", outcome="answered", code="000000", status="SUCCESS")
        j.set_state(own, "SUCCESS")
    try:
        j.begin_order(shared, money=Money("1.00", "CNY"), wallet="W", code_masked="13**1", lane=lane, deadline_at=0)
        won += 1
    except Exception as exc:
        assert "already in the journal" in str(exc), exc
    j.set_state("refund-me", "SUCCESS")
    try:
        j.begin_refund("refund-me", f"{lane}-{i}", Decimal("0.07"))
    except Exception as exc:
        assert "left to refund" in str(exc), exc
print(won)
j.close()
"""


def test_lanes_sharing_one_database_lose_and_double_nothing(pg: PostgresJournal, pg_dsn: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    lanes, count = 4, 25
    new_order(pg, "refund-me", "1.00")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, pg_dsn, f"lane{n}", str(count), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(lanes)
    ]
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * lanes, [err for _, err in outputs]
    assert sum(int(out) for out, _ in outputs) == count  # each shared order begun by exactly one lane
    records = {r.order_id: r for r in pg.orders()}
    assert len(records) == lanes * count + count + 1
    for n in range(lanes):
        for i in range(count):
            oid = f"lane{n}-{i}"
            assert records[oid].status is PaymentStatus.SUCCESS
            assert len(pg.attempts(oid)) == 1 and len(pg.transitions(oid)) == 2
    refund_me = records["refund-me"]
    assert refund_me.refunds_pending == Decimal("0.98")  # 14 x 0.07 fit in 1.00; the rest were refused
    assert len(pg.refunds("refund-me")) == 14


KILLED = r"""
import sys, time
from paycode.store.pg_journal import PostgresJournal
from paycode.models import Money
j = PostgresJournal(sys.argv[1])
j.begin_order("o-1", money=Money("3.00", "CNY"), wallet="W", code_masked="13**1", lane="l", deadline_at=0)
j.begin_attempt("o-1", "r1", "pay")
print("sent", flush=True)
time.sleep(30)
"""


def test_the_intent_survives_sigkill(pg_dsn: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED, pg_dsn], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "sent"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    with PostgresJournal(pg_dsn) as j:
        record = j.order("o-1")
        assert record is not None and record.unknown_attempts == 1 and record.unresolved
        assert j.attempts("o-1")[0].outcome == "pending"


def test_no_whole_code_reaches_the_database(pg: PostgresJournal, pg_dsn: str) -> None:
    codes = [f"13{n:016d}" for n in range(1, 20)]
    for i, code in enumerate(codes):
        new_order(pg, f"o-{i}", code=code)
        pg.begin_attempt(f"o-{i}", f"r-{i}", "pay")
        pg.end_attempt(f"o-{i}", f"r-{i}", outcome="unknown", detail="no answer")
    with psycopg.connect(pg_dsn) as conn:
        dump = "".join(
            str(row)
            for table in ("orders", "attempts", "transitions", "refunds")
            for row in conn.execute(f"SELECT * FROM {table}").fetchall()  # fixed table names
        )
    assert dump.count("**********") >= len(codes)
    for code in codes:
        assert code not in dump and code[2:] not in dump


# ---------------------------------------------------------------------------- errors and schema


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(JournalError) as info:
        PostgresJournal("postgresql://shop:s3cret-pw@127.0.0.1:1/paycode", timeout=2)
    message = str(info.value)
    assert message.startswith("PostgreSQL at 127.0.0.1:1 is unreachable: ")
    assert "s3cret-pw" not in message and "\n" not in message


def test_settings_never_show_the_journal_password() -> None:
    from paycode.settings import Settings

    shown = repr(Settings(journal="postgresql://shop:s3cret-pw@db:5432/paycode?password=s3cret-pw"))
    assert "s3cret-pw" not in shown and "postgresql://shop:***@db:5432/paycode" in shown


def test_a_malformed_url_does_not_show_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        PostgresJournal("postgresql://shop:s3cret-pw@127.0.0.1:99999999/x?nonsense=1")
    assert "s3cret-pw" not in str(info.value)
    assert "postgresql://user:password@host:port/dbname" in str(info.value)


def test_a_database_error_names_the_database_without_the_password(pg_server: TempPostgres) -> None:
    url = pg_server.dsn("no_such_database").replace("postgres@", "postgres:pw-77@")
    with pytest.raises(JournalError) as info:
        PostgresJournal(url)
    assert "no_such_database" in str(info.value) and "pw-77" not in str(info.value)


def test_the_schema_is_versioned_and_migrated_once(pg_dsn: str) -> None:
    with pytest.raises(JournalError, match=r"schema version 0; this paycode needs \d+: run `paycode journal migrate`"):
        PostgresJournal(pg_dsn, migrate=False)
    with PostgresJournal(pg_dsn), PostgresJournal(pg_dsn):
        pass
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
        assert rows == [(m.version, m.name) for m in schema.all_migrations()]
        assert schema.state(conn).up_to_date
        conn.execute("INSERT INTO schema_version (version, name) VALUES (999, 'from_the_future')")
        conn.commit()
    with pytest.raises(JournalError, match="has schema version 999; this paycode reads up to"):
        PostgresJournal(pg_dsn)


def test_a_closed_journal_says_so(pg_dsn: str) -> None:
    j = PostgresJournal(pg_dsn)
    j.close()
    j.close()
    with pytest.raises(JournalError, match="is closed"):
        j.orders()
