"""``paycode recover``: prints each recovered order, exit 0 when all are resolved and 3 while some remain."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from paycode import PaymentRequest
from paycode.bizcontent import pay_biz
from paycode.cli import main
from paycode.gateway import PAY
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.masking import mask_code
from paycode.models import Money
from paycode.sandbox.server import SandboxServer
from paycode.settings import Settings
from paycode.testing.docgateway import QUERY as DOC_QUERY
from paycode.testing.docgateway import DocGateway

from .conftest import lane_environment


@pytest.fixture
def sandbox(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """The sandbox gateway (tests/conftest.py), with a lane's environment pointed at it and a journal in tmp_path."""
    return lane_environment(monkeypatch, sandbox, str(tmp_path / "journal.sqlite3"), tmp_path)


def crashed_lane(tmp_path: Path, *, sent: list[str], waiting: tuple[str, ...] = ()) -> None:
    """Orders whose pay request was journaled (and sent for ``sent``) by a lane that then died."""
    host = PluginHost(Settings.load())
    wechat = host.wallets["Wechat-Offline"]
    code = wechat.patterns[0].make("001")
    with Journal(tmp_path / "journal.sqlite3") as journal, host.gateway() as client:
        for order_id in [*sent, *waiting]:
            deadline = time.time() + (60 if order_id in waiting else -1)
            journal.begin_order(
                order_id,
                money=Money("8.80", "CNY"),
                wallet=wechat.name,
                code_masked=mask_code(code),
                lane="lane-7" if order_id.startswith("l7") else "lane-1",
                deadline_at=deadline,
            )
            journal.begin_attempt(order_id, f"{order_id}-rq", "pay")
            if order_id in sent:
                request = PaymentRequest(Money("8.80", "CNY"), wechat, code, order_id, f"{order_id}-rq")
                client.send(PAY, pay_biz(request))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["recover", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_nothing_to_recover(sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys) == (
        0,
        f"nothing to recover: the journal {tmp_path / 'journal.sqlite3'} does not exist yet\n",
        "",
    )
    Journal(tmp_path / "journal.sqlite3").close()
    assert run(capsys) == (0, "nothing to recover: every order in the journal is resolved\n", "")
    assert run(capsys, "--json") == (0, "", "")


def test_a_lane_with_nothing_to_recover_is_named(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed_lane(tmp_path, sent=["l7-open"])  # lane-7 has an unresolved order, lane-1 none
    assert run(capsys, "--lane", "lane-1") == (
        0,
        "nothing to recover on lane lane-1: every order of that lane in the journal is resolved\n",
        "",
    )
    for bad in ("", " ", "a\nb", "x" * 65):
        status, out, err = run(capsys, "--lane", bad)
        assert (status, out) == (2, "")
        assert err == (
            f"paycode: error: paycode recover: --lane {bad!r} is not a lane name; a lane name is 1 to 64 printable "
            "characters, such as lane-1 or front-2\n"
        )
    status, out, err = run(capsys, "--lane", "lane-7")
    assert (status, err) == (0, "") and out.startswith("l7-open  lane-7  INIT -> SUCCESS")


def test_all_resolved_exits_0(sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crashed_lane(tmp_path, sent=["paid-1", "paid-2"])
    status, out, err = run(capsys)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "paid-1  lane-1  INIT -> SUCCESS  recorded",
        "paid-2  lane-1  INIT -> SUCCESS  recorded",
        "2 order(s) recovered: 2 resolved, 0 unresolved",
    ]
    assert [o.charged for o in sandbox.orders()] == [1, 1]
    assert run(capsys)[0] == 0


def test_some_unresolved_exits_3(sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crashed_lane(tmp_path, sent=["paid-1"], waiting=("slow-1",))
    status, out, err = run(capsys, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert (status, err) == (3, "")
    assert [(r["order_id"], r["after"], r["action"], r["resolved"]) for r in rows] == [
        ("paid-1", "SUCCESS", "recorded", True),
        ("slow-1", "INIT", "waiting", False),
    ]
    assert rows[1]["reason"].startswith("not at the gateway yet;")


def test_an_unreachable_gateway_leaves_orders_unresolved(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed_lane(tmp_path, sent=["paid-1"])
    sandbox.faults.refuse = True
    status, out, _ = run(capsys)
    assert status == 3
    assert out.splitlines()[0].startswith("paid-1  lane-1  INIT -> INIT  unknown  (query: no answer from the gateway")
    sandbox.faults.refuse = None
    assert run(capsys)[0] == 0


def test_one_lane_only(sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crashed_lane(tmp_path, sent=["paid-1", "l7-paid"])
    status, out, _ = run(capsys, "--lane", "lane-7")
    assert status == 0 and out.splitlines()[0].startswith("l7-paid  lane-7  INIT -> SUCCESS")
    assert "paid-1" not in out
    status, out, _ = run(capsys, "--lane", "lane-1")
    assert status == 0 and out.splitlines()[0].startswith("paid-1  lane-1")


def test_the_embedded_sandbox_cannot_recover(
    sandbox: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed_lane(tmp_path, sent=["paid-1"])
    monkeypatch.setenv("PAYCODE_GATEWAY", "sandbox")
    status, out, err = run(capsys)
    assert (status, out) == (2, "")
    assert err.startswith("paycode: error: paycode recover needs the gateway the orders were sent to;")
    assert err.count("\n") == 1


def test_a_bad_late_success_option(sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--late-success", "keep")
    assert (status, out) == (2, "")
    assert "argument --late-success: invalid choice: 'keep'" in err


def test_json_lines_are_flushed_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A recovery killed half-way has already said what it did: each line is flushed as its order is settled."""
    with DocGateway() as gw:
        c = gw.credentials
        journal = Journal(tmp_path / "flush.sqlite3")
        for order_id in ("first", "second"):
            journal.begin_order(
                order_id,
                money=Money("8.80", "CNY"),
                wallet="Wechat-Offline",
                code_masked="1300**********0001",
                lane="lane-1",
                deadline_at=time.time() + 60,
            )
            journal.begin_attempt(order_id, f"{order_id}-rq", "pay")
        journal.close()
        gw.script(path=DOC_QUERY, times=1)  # the first query is answered ("no such order yet": waiting) ...
        gw.script(path=DOC_QUERY, stall=math.inf)  # ... the second never is
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
        env.update(
            PAYCODE_GATEWAY=gw.url,
            PAYCODE_ACC_ID=c.acc_id,
            PAYCODE_CLIENT_ID=c.client_id,
            PAYCODE_SALT=c.salt,
            PAYCODE_JOURNAL=str(tmp_path / "flush.sqlite3"),
            PAYCODE_READ_TIMEOUT="30",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "paycode", "recover", "--json"], stdout=subprocess.PIPE, env=env, text=True
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # arrives while the second order's query is still held
            assert proc.poll() is None
            first = json.loads(line)
            assert (first["order_id"], first["action"]) == ("first", "waiting")
        finally:
            proc.kill()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
