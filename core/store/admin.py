"""Schema administration of either journal backend: which version a journal is at, and migrating it.

SQLite keeps its version in ``PRAGMA user_version`` (migrated by :class:`paycode.journal.Journal` itself when it
opens the file); PostgreSQL in the table ``schema_version`` (:mod:`paycode.store.schema`). Reading a version never
writes: a SQLite file is opened read-only, and one that does not exist yet is version 0 (nothing is created).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs

from ..errors import JournalError
from ..journal import journal_file, journal_label, refuse_folder

__all__ = ["SchemaReport", "check", "migrate"]


@attrs.frozen
class SchemaReport:
    """A journal's schema: ``version`` now, ``latest`` this paycode knows, migrations still ``pending``
    (``NNNN_name``), and those this run ``applied``."""

    journal: str
    backend: str
    version: int
    latest: int
    pending: tuple[str, ...] = ()
    applied: tuple[str, ...] = ()
    exists: bool = True

    @property
    def up_to_date(self) -> bool:
        return self.version == self.latest

    def as_json(self) -> dict[str, Any]:
        return {
            "journal": self.journal,
            "backend": self.backend,
            "version": self.version,
            "latest": self.latest,
            "up_to_date": self.up_to_date,
            "pending": list(self.pending),
            "applied": list(self.applied),
            "exists": self.exists,
        }

    def line(self) -> str:
        head = f"journal {self.journal} ({self.backend}): schema version {self.version} of {self.latest}"
        if self.applied:
            head += f"; applied {', '.join(self.applied)}"
        if self.version > self.latest:
            return head + "; newer than this paycode reads (upgrade paycode)"
        if self.pending:
            missing = "" if self.exists else " (the file does not exist yet; it is created when first used)"
            return head + f"; pending {', '.join(self.pending)}{missing}: run `paycode journal migrate`"
        return head + ", up to date"


def _sqlite_version(setting: str) -> tuple[int, bool]:
    path = journal_file(setting)
    assert path is not None
    if not path.exists():
        return 0, False
    refuse_folder(path)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("PRAGMA user_version").fetchone()[0]), True
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise JournalError(f"journal {str(path)!r} cannot be read: {exc}") from None


def _sqlite_report(setting: str, applied: tuple[str, ...] = ()) -> SchemaReport:
    from ..journal import SCHEMA_VERSION

    version, exists = _sqlite_version(setting)
    pending = tuple(f"{n:04d}" for n in range(version + 1, SCHEMA_VERSION + 1))
    return SchemaReport(journal_label(setting), "sqlite", version, SCHEMA_VERSION, pending, applied, exists)


def _pg_report(setting: str, *, apply: bool) -> SchemaReport:
    import psycopg

    from . import schema
    from .dsn import parse
    from .pg_journal import database_error

    dsn = parse(setting)
    try:
        with psycopg.connect(dsn.conninfo, connect_timeout=5, application_name="paycode-admin") as conn:
            applied = schema.migrate(conn, dsn.describe()) if apply else []
            state = schema.state(conn)
    except psycopg.Error as exc:
        raise database_error(dsn, exc) from None
    return SchemaReport(
        dsn.describe(),
        "postgresql",
        state.current,
        state.latest,
        tuple(f"{m.version:04d}_{m.name}" for m in state.pending),
        tuple(f"{m.version:04d}_{m.name}" for m in applied),
    )


def check(setting: str) -> SchemaReport:
    """The schema state of the journal a setting names (reads only)."""
    if journal_file(setting) is None:
        return _pg_report(setting, apply=False)
    return _sqlite_report(setting)


def migrate(setting: str) -> SchemaReport:
    """Bring the journal a setting names to the newest schema (creating it when missing); what was applied."""
    path = journal_file(setting)
    if path is None:
        return _pg_report(setting, apply=True)
    from ..journal import Journal

    before, _ = _sqlite_version(setting)
    Journal(path).close()  # opening migrates (user_version), creating the file when missing
    after = _sqlite_report(setting)
    applied = tuple(f"{n:04d}" for n in range(before + 1, after.version + 1))
    return attrs.evolve(after, applied=applied)
