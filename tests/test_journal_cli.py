"""``paycode history``: table, JSON lines, one order's history, CSV export; the journal comes from the settings."""

from __future__ import annotations

import csv
import io
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from paycode.cli import main
from paycode.journal import CSV_COLUMNS, Journal
from paycode.masking import mask_code
from paycode.models import Money

CODE = "130000000000000001"


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state" / "journal.sqlite3"
    monkeypatch.setenv("PAYCODE_JOURNAL", str(path))
    monkeypatch.delenv("PAYCODE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./paycode.toml
    return path


def fill(path: Path) -> None:
    with Journal(path) as j:
        for i, (status, amount) in enumerate([("SUCCESS", "12.50"), ("PROCESSING", "3.00"), ("FAILED", "0.01")]):
            oid = f"order-{i}"
            j.begin_order(
                oid,
                money=Money(amount, "CNY"),
                wallet="Wechat-Offline",
                code_masked=mask_code(CODE),
                lane="lane-1",
                deadline_at=time.time() + 30,
            )
            j.begin_attempt(oid, f"rq-{i}", "pay")
            j.end_attempt(oid, f"rq-{i}", outcome="answered", code="000000", status=status)
            j.set_state(oid, status, transaction_id=f"TX{i}")
        j.begin_refund("order-0", "rf-0", Decimal("2.50"))
        j.end_refund("order-0", "rf-0", status="SUCCESS")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["history", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_no_journal_yet_is_not_an_error_and_creates_nothing(
    journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys)
    assert (status, out) == (0, "")
    assert err == f"no orders: the journal {journal_path} does not exist yet\n"
    assert run(capsys, "--json") == (0, "", "")
    assert run(capsys, "--csv", "-")[:2] == (0, ",".join(CSV_COLUMNS) + "\n")
    assert not journal_path.exists()


def test_the_table_lists_orders_newest_first_with_masked_codes(
    journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(journal_path)
    status, out, _ = run(capsys)
    lines = out.splitlines()
    assert status == 0 and len(lines) == 4
    assert lines[0].split() == [
        "time", "order", "lane", "gateway", "wallet", "code", "amount", "status", "refunded", "flags"
    ]  # fmt: skip
    assert {line.split()[4] for line in lines[1:]} == {"-"}  # orders of this journal say not where they went
    assert [line.split()[2] for line in lines[1:]] == ["order-2", "order-1", "order-0"]
    assert "1300**********0001" in lines[1] and CODE not in out
    assert lines[2].endswith("unresolved")
    assert lines[3].split()[-4:] == ["12.50", "CNY", "SUCCESS", "2.50"]
    status, out, _ = run(capsys, "--limit", "1")
    assert len(out.splitlines()) == 2 and "order-2" in out
    status, out, _ = run(capsys, "--unresolved")
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["order-1"]


def test_json_lines_one_per_order(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(journal_path)
    status, out, _ = run(capsys, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [r["order_id"] for r in rows] == ["order-2", "order-1", "order-0"]
    assert rows[2]["amount"] == "12.50" and rows[2]["refunded"] == "2.50" and rows[2]["code"] == "1300**********0001"
    assert rows[1]["unresolved"] is True and rows[2]["unresolved"] is False
    assert rows[2]["attempt_count"] == 1 and rows[2]["unknown_attempts"] == 0


def test_one_orders_history(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(journal_path)
    status, out, _ = run(capsys, "--order", "order-0", "--json")
    detail = json.loads(out)
    assert status == 0
    assert [t["status"] for t in detail["transitions"]] == ["INIT", "SUCCESS"]
    assert [a["request_id"] for a in detail["attempts"]] == ["rq-0"]
    assert [(r["refund_id"], r["amount"], r["status"]) for r in detail["refunds"]] == [("rf-0", "2.50", "SUCCESS")]
    status, out, _ = run(capsys, "--order", "order-0")
    assert status == 0
    assert out.splitlines()[0].startswith("order order-0  12.50 CNY  Wechat-Offline  1300**********0001")
    assert "refund rf-0  2.50  SUCCESS" in out and "pay" in out


def test_an_unknown_order_is_one_line_and_exit_1(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(journal_path)
    status, out, err = run(capsys, "--order", "nope")
    assert (status, out) == (1, "")
    assert err == f"paycode: error: order 'nope' is not in the journal '{journal_path}'\n"


def test_csv_to_a_file_and_to_stdout(journal_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(journal_path)
    target = tmp_path / "recon.csv"
    status, out, err = run(capsys, "--csv", str(target))
    assert (status, out, err) == (0, "", f"3 order(s) written to {target}\n")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["order_id"] for r in rows] == ["order-0", "order-1", "order-2"]
    assert rows[0]["refunded"] == "2.50"
    status, out, _ = run(capsys, "--csv", "-")
    assert list(csv.DictReader(io.StringIO(out))) == rows
    status, out, err = run(capsys, "--csv", str(tmp_path / "no" / "such" / "dir.csv"))
    assert status == 1 and err.startswith("paycode: error: cannot write CSV to ") and err.count("\n") == 1


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_a_bad_limit_is_a_usage_error(journal_path: Path, capsys: pytest.CaptureFixture[str], limit: str) -> None:
    status, out, err = run(capsys, "--limit", limit)
    assert (status, out) == (2, "")
    assert err == (
        f"paycode: error: paycode history: argument --limit: {limit!r} is not a whole number of orders, 1 or more\n"
    )
