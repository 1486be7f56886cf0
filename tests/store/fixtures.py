"""The journal's two backends for the tests: SQLite, and a real PostgreSQL server the tests start themselves.

Loaded for every test by tests/conftest.py, so the journal tests of tests/ and tests/store run on both backends.

- ``pg_server`` starts :class:`paycode.store.tempserver.TempPostgres` once per session (initdb + pg_ctl into a
  temporary folder, 127.0.0.1 on a free port, fsync on; as the ``postgres`` user when the tests run as root) and
  stops it at the end. Without initdb/pg_ctl the tests that need it are skipped, naming Debian's ``postgresql``.
- ``pg_dsn``: a new empty database on it (migrated by the first journal opened on it).
- ``backend_kind`` is ``sqlite`` then ``postgresql`` (a test that uses it, or any fixture below, runs once per
  backend); ``journal_setting`` is that backend's journal setting (a file in ``tmp_path``, or ``pg_dsn``);
  ``open_backend()`` opens one more journal on that same store (another lane's view), closed after the test;
  ``journal_backend`` is the first one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from paycode.journal import JournalBackend, open_journal
from paycode.store.tempserver import TempPostgres, find_bin

__all__ = ["backend_kind", "journal_backend", "journal_setting", "open_backend", "pg_dsn", "pg_server"]

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


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def journal_setting(backend_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The journal setting of this test's store: a SQLite file, or a PostgreSQL database."""
    if backend_kind == "sqlite":
        return str(tmp_path / "journal.sqlite3")
    return str(request.getfixturevalue("pg_dsn"))


@pytest.fixture
def open_backend(journal_setting: str) -> Iterator[Callable[[], JournalBackend]]:
    """``open_backend()``: one more journal on this test's store, closed after the test."""
    opened: list[JournalBackend] = []

    def open_() -> JournalBackend:
        journal = open_journal(journal_setting)
        opened.append(journal)
        return journal

    yield open_
    for journal in opened:
        journal.close()


@pytest.fixture
def journal_backend(open_backend: Callable[[], JournalBackend]) -> JournalBackend:
    """A journal of each backend in turn (the test runs once per backend)."""
    return open_backend()
