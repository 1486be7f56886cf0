"""What only the PostgreSQL journal has: its URLs, the server, NOTIFY, claims, its schema, errors without the
password. The journal's rules are tested on both backends by tests/test_journal*.py (tests/store/fixtures.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from paycode.errors import ConfigError, JournalError
from paycode.journal import JournalBackend, open_journal
from paycode.store import schema
from paycode.store.pg_journal import CHANNEL, PostgresJournal
from paycode.store.tempserver import TempPostgres

from ..test_journal import new_order


@pytest.fixture
def pg(pg_dsn: str) -> PostgresJournal:
    j = PostgresJournal(pg_dsn)
    yield j  # type: ignore[misc]
    j.close()


# ---------------------------------------------------------------------------- PostgreSQL only


def test_open_journal_chooses_postgresql_for_its_urls(pg_dsn: str) -> None:
    for url in (pg_dsn, pg_dsn.replace("postgresql://", "postgres://", 1)):
        with open_journal(url) as j:
            assert isinstance(j, PostgresJournal) and isinstance(j, JournalBackend)
            assert repr(j) == f"PostgresJournal({pg_dsn!r})"


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
