"""Versioned schema migrations of the PostgreSQL journal.

Migrations are the files ``paycode/store/migrations/NNNN_name.sql``, applied in order, each in its own
transaction together with its row in ``schema_version`` (version, name, applied_at). Several lanes starting at
once do not race: the run holds a transaction-level advisory lock, and a version applied meanwhile is skipped.
A database whose version is newer than this paycode knows is refused (upgrade paycode), never written.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import attrs

from ..errors import JournalError

if TYPE_CHECKING:
    import psycopg

__all__ = ["Migration", "SchemaState", "all_migrations", "latest", "migrate", "state"]

#: advisory lock key held while migrating (``pg_advisory_xact_lock``): "paycode" in ASCII, shortened
MIGRATION_LOCK = 0x70617963


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str = attrs.field(repr=False)


@attrs.frozen
class SchemaState:
    """What a database holds: its version, the newest this paycode knows, and what is left to apply."""

    current: int
    latest: int
    pending: tuple[Migration, ...]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.latest


@cache
def _load() -> tuple[Migration, ...]:
    found = []
    for item in resources.files("paycode.store").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_([a-z0-9_]+)\.sql", item.name)
        if match:
            found.append(Migration(int(match[1]), match[2], item.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise JournalError(f"paycode's PostgreSQL migrations are not numbered 1..N: {[m.version for m in found]}")
    return tuple(found)


def all_migrations() -> tuple[Migration, ...]:
    """Every migration this paycode ships, oldest first."""
    return _load()


def latest() -> int:
    return len(_load())


_CREATE_VERSION = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def _current(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(got[0]) if got else 0  # type: ignore[call-overload]


def state(conn: psycopg.Connection[tuple[object, ...]]) -> SchemaState:
    """The schema state of the database behind ``conn`` (reads only; ends its transaction)."""
    with conn.transaction():
        current = _current(conn)
    return SchemaState(current, latest(), tuple(m for m in _load() if m.version > current))


def migrate(conn: psycopg.Connection[tuple[object, ...]], where: str) -> list[Migration]:
    """Apply every pending migration; returns those this call applied. ``where`` names the database in errors."""
    applied: list[Migration] = []
    for migration in _load():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(_CREATE_VERSION)
            current = _current(conn)
            if current > latest():
                raise JournalError(
                    f"journal {where} has schema version {current}; this paycode reads up to {latest()} "
                    "(upgrade paycode)"
                )
            if migration.version <= current:
                continue
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (migration.version, migration.name)
            )
            applied.append(migration)
    return applied
