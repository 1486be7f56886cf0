"""PostgreSQL for the store tests: one throwaway server per session, a fresh database per test.

``pg_server`` starts :class:`paycode.store.tempserver.TempPostgres` (initdb + pg_ctl into a temporary folder,
127.0.0.1 on a free port, fsync on; as the ``postgres`` user when the tests run as root) and stops it at the end.
Without initdb/pg_ctl the tests that need it are skipped, naming Debian's ``postgresql`` package.
``pg_dsn`` is a new empty database on it; ``journal_backend`` yields a SQLite and a PostgreSQL journal in turn.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from paycode.journal import Journal, JournalBackend
from paycode.store.pg_journal import PostgresJournal
from paycode.store.tempserver import TempPostgres, find_bin

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TempPostgres]:
    if find_bin() is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (Debian package: postgresql)")
    server = TempPostgres()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_dsn(pg_server: TempPostgres) -> str:
    """A fresh, empty database (migrated by the first journal opened on it)."""
    return pg_server.create_database(f"test_{next(_numbers)}")


@pytest.fixture
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], JournalBackend]:
    """``open_backend(kind)``: a new journal of kind ``sqlite`` or ``postgresql``, closed after the test."""
    opened: list[JournalBackend] = []
    dsn: list[str] = []

    def open_(kind: str) -> JournalBackend:
        journal: JournalBackend
        if kind == "sqlite":
            journal = Journal(tmp_path / "journal.sqlite3")
        else:
            if not dsn:
                dsn.append(request.getfixturevalue("pg_dsn"))
            journal = PostgresJournal(dsn[0])
        opened.append(journal)
        return journal

    yield open_  # type: ignore[misc]
    for journal in opened:
        journal.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_backend(request: pytest.FixtureRequest, open_backend: Callable[[str], JournalBackend]) -> JournalBackend:
    """A journal of each backend in turn (the test runs once per backend)."""
    return open_backend(request.param)
