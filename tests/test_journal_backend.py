"""Choosing the journal backend from the setting, and the schema migration that records gateway and site."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from paycode.cli import main
from paycode.errors import ConfigError, JournalError
from paycode.journal import (
    _MIGRATIONS,
    SCHEMA_VERSION,
    Journal,
    JournalBackend,
    journal_file,
    journal_label,
    open_journal,
)
from paycode.masking import mask_code
from paycode.models import Money

CODE = "130000000000000001"


def order(j: JournalBackend, order_id: str, **kw: str) -> None:
    j.begin_order(
        order_id,
        money=Money("12.50", "CNY"),
        wallet="Wechat-Offline",
        code_masked=mask_code(CODE),
        lane="lane-1",
        deadline_at=time.time() + 30,
        **kw,
    )


def test_a_path_opens_the_sqlite_journal(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.sqlite3"
    with open_journal(str(path), timeout=2.0) as j:
        assert isinstance(j, Journal)
        assert isinstance(j, JournalBackend)
        order(j, "o-1")
    assert path.is_file()
    assert journal_file(str(path)) == path
    assert journal_file("~/x.sqlite3") == Path("~/x.sqlite3").expanduser()


@pytest.mark.parametrize("setting", ["postgresql://paycode@127.0.0.1:5432/store", "postgres://db.local/x"])
def test_postgresql_without_its_backend_is_a_clear_error_and_makes_no_file(
    setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "paycode.store.pg_journal", None)  # as if not installed
    assert journal_file(setting) is None
    with pytest.raises(ConfigError) as caught:
        open_journal(setting)
    message = str(caught.value)
    assert "PostgreSQL backend" in message
    assert "a file path" in message and "postgresql://" in message
    assert list(tmp_path.iterdir()) == []  # never a file named "postgresql:"


@pytest.mark.parametrize(
    ("setting", "scheme"),
    [
        ("mysql://root@127.0.0.1/pay", "mysql"),
        ("MySQL://root@127.0.0.1/pay", "mysql"),
        ("sqlite:///var/lib/j.sqlite3", "sqlite"),
        ("file:journal.sqlite3", "file"),
        ("redis:", "redis"),
    ],
)
def test_an_unknown_scheme_is_a_clear_error_naming_the_accepted_forms(
    setting: str, scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        open_journal(setting)
    message = str(caught.value)
    assert f"scheme {scheme}:" in message
    assert "accepted: a file path" in message and "postgresql://" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("setting", ["", "   ", "journal\n.sqlite3", "j\x00x"])
def test_an_empty_or_control_character_setting_is_refused(setting: str) -> None:
    with pytest.raises(ConfigError, match="journal setting"):
        journal_file(setting)


def test_a_drive_letter_is_a_path() -> None:
    assert journal_file("C:journal.sqlite3") == Path("C:journal.sqlite3")


def test_the_label_never_shows_a_password() -> None:
    assert journal_label("postgresql://pay:s3cret@db:5432/store") == "postgresql://pay:***@db:5432/store"
    assert journal_label("postgresql://db/store?sslmode=require&password=s3cret") == (
        "postgresql://db/store?sslmode=require&password=***"
    )
    assert journal_label("postgresql://pay@db/store") == "postgresql://pay@db/store"
    assert journal_label("/var/lib/paycode/journal.sqlite3") == "/var/lib/paycode/journal.sqlite3"


def test_orders_record_their_gateway_and_site(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        order(j, "o-1", gateway="pingpong", site="fra")
        order(j, "o-2")
        first, second = j.order("o-1"), j.order("o-2")
        assert first is not None and second is not None
        assert (first.gateway, first.site) == ("pingpong", "fra")
        assert (second.gateway, second.site) == ("", "")
        assert first.as_json()["gateway"] == "pingpong" and first.as_json()["site"] == "fra"
        out = io.StringIO()
        j.export_csv(out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["order_id"], r["gateway"], r["site"]) for r in rows] == [("o-1", "pingpong", "fra"), ("o-2", "", "")]


@pytest.mark.parametrize("bad", ["pay\nfake", "x" * 257])
def test_a_gateway_or_site_that_cannot_be_stored_is_refused(tmp_path: Path, bad: str) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        with pytest.raises(JournalError, match="gateway"):
            order(j, "o-1", gateway=bad)
        with pytest.raises(JournalError, match="site"):
            order(j, "o-1", site=bad)
        assert j.order("o-1") is None


def _version_1_file(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1])
    db.execute(
        "INSERT INTO orders (order_id, amount, currency, wallet, code_masked, lane, status, deadline_at, created_at,"
        " updated_at) VALUES ('old-1', '3.00', 'HKD', 'AlipayHK-Offline', '2800********0001', 'lane-2', 'SUCCESS',"
        " 1.0, 1.0, 1.0)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def test_a_version_1_file_is_migrated_in_place_keeping_its_orders(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _version_1_file(path)
    with Journal(path) as j:
        old = j.order("old-1")
        assert old is not None
        assert (str(old.amount), old.currency, old.status.value, old.gateway, old.site) == (
            "3.00",
            "HKD",
            "SUCCESS",
            "",
            "",
        )
        order(j, "new-1", gateway="sandbox", site="http://127.0.0.1:9")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    db.close()
    with Journal(path) as j:  # opening a migrated file again changes nothing
        again = j.order("new-1")
        assert again is not None and again.site == "http://127.0.0.1:9"


def test_a_newer_file_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match=f"schema version {SCHEMA_VERSION + 1}; this paycode reads up to"):
        Journal(path)


def test_history_shows_gateway_and_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("PAYCODE_JOURNAL", str(path))
    monkeypatch.delenv("PAYCODE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with Journal(path) as j:
        order(j, "o-1", gateway="pingpong", site="sg")
    assert main(["history", "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["gateway"], line["site"]) == ("pingpong", "sg")
    assert main(["history", "--order", "o-1"]) == 0
    assert "sent to gateway pingpong  site sg" in capsys.readouterr().out
    assert main(["history"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[3] == "gateway" and row.split()[4] == "sg"


def test_history_with_an_unknown_scheme_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYCODE_JOURNAL", "mysql://root:pw@127.0.0.1/pay")
    monkeypatch.delenv("PAYCODE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["history"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("paycode: error: journal setting with scheme mysql:") and err.count("\n") == 1
    assert "pw" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_time_no_calendar_holds_is_shown_not_a_crash() -> None:
    """Journals written before the week cap on seconds can hold a deadline such as 1e300: history still prints."""
    from paycode.journal_rules import _iso

    assert _iso(1e300) == "1e+300 (out of the calendar's range)"
    assert _iso(0.0) == "1970-01-01T00:00:00.000Z"
