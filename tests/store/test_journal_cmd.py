"""``paycode journal check|migrate`` on both backends: versions, pending migrations, errors without secrets."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from paycode.cli import main
from paycode.journal import SCHEMA_VERSION
from paycode.store import schema


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_sqlite_check_writes_nothing_and_migrate_brings_it_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.sqlite3"
    monkeypatch.setenv("PAYCODE_JOURNAL", str(path))
    status, out, _ = run(capsys, "journal", "check")
    assert status == 1 and "schema version 0 of" in out and "paycode journal migrate" in out
    assert not path.exists()
    status, out, _ = run(capsys, "journal", "migrate", "--json")
    report = json.loads(out)
    assert status == 0 and report["up_to_date"] and report["version"] == SCHEMA_VERSION
    assert report["applied"] == [f"{n:04d}" for n in range(1, SCHEMA_VERSION + 1)]
    status, out, _ = run(capsys, "journal", "check")
    assert status == 0 and out.strip().endswith("up to date")
    status, out, _ = run(capsys, "journal", "migrate", "--json")
    assert status == 0 and json.loads(out)["applied"] == []  # again: nothing to do


def test_sqlite_from_an_older_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.sqlite3"
    monkeypatch.setenv("PAYCODE_JOURNAL", str(path))
    run(capsys, "journal", "migrate")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    status, out, _ = run(capsys, "journal", "check")
    assert status == 1 and "newer than this paycode reads" in out


def test_postgresql_check_and_migrate(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_dsn.replace("postgres@", "postgres:hunter2@")  # trust auth ignores it; it must never be printed
    monkeypatch.setenv("PAYCODE_JOURNAL", url)
    status, out, _ = run(capsys, "journal", "check", "--json")
    report = json.loads(out)
    assert status == 1 and report["version"] == 0 and report["backend"] == "postgresql"
    assert report["pending"] == [f"{m.version:04d}_{m.name}" for m in schema.all_migrations()]
    status, out, _ = run(capsys, "journal", "migrate")
    assert status == 0 and "applied 0001_journal" in out and "up to date" in out
    assert "hunter2" not in out and pg_dsn.rsplit("/", 1)[1] in out
    status, out, _ = run(capsys, "journal", "check")
    assert status == 0
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (len(schema.all_migrations()),)


def test_errors_are_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYCODE_JOURNAL", "postgresql://shop:hunter2@127.0.0.1:1/paycode")
    status, out, err = run(capsys, "journal", "check")
    errors = [line for line in err.splitlines() if line.startswith("paycode: error:")]
    assert status == 1 and len(errors) == 1 and errors[0].startswith("paycode: error: PostgreSQL at 127.0.0.1:1 is")
    assert "hunter2" not in out + err
    monkeypatch.setenv("PAYCODE_JOURNAL", "mysql://shop:hunter2@db/paycode")
    status, out, err = run(capsys, "journal", "migrate")
    assert status == 2 and "accepted:" in err and "hunter2" not in err
    status, out, err = run(capsys, "journal")
    assert status == 2 and "ACTION" in err
