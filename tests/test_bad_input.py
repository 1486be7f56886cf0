"""The bad-input tour: every row of docs/errors.md's table is run, and must print exactly the documented line
with the documented exit status. The table is the test's data, so the documentation cannot drift.

Rows run in-process through ``paycode.cli.main`` (what the ``paycode`` console script calls), each with the
documented environment, in a folder holding the documented files; rows starting with ``python:`` evaluate an
expression of the Python API and compare the error it raises.
"""

from __future__ import annotations

import os
import random
import re
import shlex
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import paycode
import pytest
from paycode.cli import main
from paycode.journal import Journal
from paycode.masking import mask_code
from paycode.models import Money

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
WECHAT = "130000000000000001"
ALIPAY = "280000000000000001"

#: the environment every row starts from (docs/errors.md, "How the tour runs")
BASE_ENV = {
    "PAYCODE_GATEWAY": "http://127.0.0.1:9",
    "PAYCODE_ACC_ID": "2023042011040310224447",
    "PAYCODE_CLIENT_ID": "2023042011040310224",
    "PAYCODE_SALT": "TESTSALT",
    "PAYCODE_JOURNAL": "journal.sqlite3",
}


def make_files(folder: Path) -> dict[str, str]:
    """The files the tour uses, by name, with what each holds (docs/errors.md lists the same names)."""
    (folder / "bad.toml").write_text('[paycode\ngateway = "fra"\n')
    (folder / "unknown.toml").write_text('[paycode]\ncolour = "red"\n')
    (folder / "inline.toml").write_text('[paycode]\nsalt = "TESTSALT"\n')
    (folder / "badvalue.toml").write_text('[paycode]\ndeadline = "soon"\n')
    (folder / "open.salt").write_text("TESTSALT\n")
    os.chmod(folder / "open.salt", 0o644)
    (folder / "message.json").write_text('{"accId": "1", "bizContent": "{}"}\n')
    (folder / "random.bin").write_bytes(random.Random(6).randbytes(4096))
    (folder / "junk.txt").write_text("!{6de`X[2d?%cf;}e&f0;\n1Y^5\n")
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    code = mask_code(WECHAT)
    with Journal(folder / "journal.sqlite3") as journal:
        for order_id, status in (("paid-1", "SUCCESS"), ("failed-1", "FAILED")):
            journal.begin_order(
                order_id,
                money=Money("10.00", "CNY"),
                wallet="Wechat-Offline",
                code_masked=code,
                lane="lane-1",
                deadline_at=0,
            )
            journal.set_state(order_id, status)
    with Journal(folder / "open.sqlite3") as journal:
        journal.begin_order(
            "open-1",
            money=Money("10.00", "CNY"),
            wallet="Wechat-Offline",
            code_masked=code,
            lane="lane-1",
            deadline_at=0,
        )
    return {
        "bad.toml": "a table header never closed",
        "unknown.toml": "an unknown setting",
        "inline.toml": "the salt written inline",
        "badvalue.toml": "a deadline that is not a number",
        "open.salt": "the salt, mode 644",
        "message.json": "a JSON message to sign",
        "random.bin": "4096 random bytes",
        "junk.txt": "lines of printable junk",
        "deep.json": "JSON nested 100,000 levels deep",
        "journal.sqlite3": "a paid order paid-1 and a declined order failed-1",
        "open.sqlite3": "an order open-1 never answered",
    }


# ---------------------------------------------------------------------------- reading the table


@attrs.frozen
class Row:
    id: str
    what: str
    command: str
    exit: int
    prints: str


def _cells(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace("\\|", "|") for c in cells]


def _code(cell: str) -> str:
    assert cell.startswith("`") and cell.endswith("`"), cell
    return cell[1:-1]


def read_tour() -> list[Row]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## The tour", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert _cells(lines[0]) == ["id", "bad input", "command", "exit", "prints"], lines[0]
    rows = []
    for line in lines[2:]:
        ident, what, command, status, prints = _cells(line)
        rows.append(Row(ident, what, _code(command), int(status), _code(prints)))
    return rows


def read_files() -> list[str]:
    section = DOC.read_text(encoding="utf-8").split("### Files", 1)[1].split("\n## ", 1)[0]
    return [_code(_cells(line)[0]) for line in section.splitlines() if line.startswith("| `")]


ROWS = read_tour()


def test_the_tour_covers_every_kind_of_bad_input() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))
    for prefix in ("amount-", "currency-", "order-", "code-", "toml-", "secret-", "salt-", "http-", "scanner-"):
        assert any(i.startswith(prefix) for i in ids), prefix
    for needed in ("amount-float", "amount-exponent", "amount-comma", "amount-negative", "amount-zero",
                   "amount-decimals", "amount-empty", "currency-unknown", "currency-lower-case", "currency-wallet",
                   "order-long", "order-lt", "order-gt", "order-newline", "toml-malformed", "toml-unknown",
                   "secret-open", "salt-missing", "http-remote", "wallet-unknown", "scanner-scheme",
                   "scanner-not-url", "scanner-random-bytes"):  # fmt: skip
        assert needed in ids, needed


def test_the_documented_files_are_the_ones_the_tour_makes(tmp_path: Path) -> None:
    assert sorted(read_files()) == sorted(make_files(tmp_path))


# ---------------------------------------------------------------------------- running a row


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tour")
    make_files(path)
    return path


def _expand(text: str, folder: Path) -> str:
    return (
        text.replace("$WECHAT", WECHAT)
        .replace("$ALIPAY", ALIPAY)
        .replace("$LONG", "x" * 65)
        .replace("$DIR", str(folder))
    )


def _python(row: Row) -> tuple[int, str]:
    namespace: dict[str, Any] = {name: getattr(paycode, name) for name in paycode.__all__}
    namespace["Decimal"] = Decimal
    try:
        eval(row.command.removeprefix("python:").strip(), namespace)
    except paycode.PaycodeError as exc:
        return exc.exit_code, str(exc)
    return 0, ""


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    expected = _expand(row.prints, folder)
    if row.command.startswith("python:"):
        assert _python(row) == (row.exit, expected)
        return
    for name in list(os.environ):
        if name.startswith("PAYCODE_"):
            monkeypatch.delenv(name)
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(folder)
    tokens = shlex.split(_expand(row.command, folder))
    while re.fullmatch(r"[A-Z_]+=.*", tokens[0]):
        name, _, value = tokens.pop(0).partition("=")
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    assert tokens[0] == "paycode"
    argv = [t.replace("\\n", "\n") for t in tokens[1:]]

    status = main(argv)
    out, err = capsys.readouterr()
    errors = err.splitlines()
    shown = errors[-1] if errors else out.splitlines()[-1]
    assert (status, shown) == (row.exit, expected)
    assert sum(line.startswith("paycode: error:") for line in errors) == (1 if errors else 0)
    assert "Traceback" not in err
    assert WECHAT not in out + err and ALIPAY not in out + err  # codes are masked even in errors
    assert "TESTSALT" not in out + err  # the secret never shows
