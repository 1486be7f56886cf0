"""``paycode recover --all-lanes`` on both backends: every lane's orders settled, each under a claim; an order
another recoverer holds is skipped (exit 3) and settled by the next run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from paycode import PaymentRequest
from paycode.bizcontent import pay_biz
from paycode.cli import main
from paycode.gateway import PAY
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.masking import mask_code
from paycode.models import Money
from paycode.sandbox.server import SandboxServer
from paycode.settings import Settings

from ..conftest import lane_environment


@pytest.fixture
def sandbox(
    sandbox: SandboxServer, journal_setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SandboxServer:
    """The sandbox gateway (tests/conftest.py), with the environment of a lane pointed at it and this journal."""
    return lane_environment(monkeypatch, sandbox, journal_setting, tmp_path)


def crashed_lanes(journal_setting: str, orders: dict[str, str]) -> None:
    """``orders`` (order id -> lane): journaled and sent by lanes that then died before reading the answer."""
    settings = Settings.load()
    host = PluginHost(settings)
    wechat = host.wallets["Wechat-Offline"]
    code = wechat.patterns[0].make("001")
    with open_journal(journal_setting) as journal, host.gateway() as client:
        for order_id, lane in orders.items():
            journal.begin_order(
                order_id,
                money=Money("8.80", "CNY"),
                wallet=wechat.name,
                code_masked=mask_code(code),
                lane=lane,
                deadline_at=time.time() - 1,
                gateway=settings.gateway,
            )
            journal.begin_attempt(order_id, f"{order_id}-rq", "pay")
            request = PaymentRequest(Money("8.80", "CNY"), wechat, code, order_id, f"{order_id}-rq")
            client.send(PAY, pay_biz(request))


HOLDER = r"""
import sys, time
from paycode.journal import open_journal
from paycode.store.claims import claim
j = open_journal(sys.argv[1])
with claim(j, sys.argv[2]) as mine:
    print(mine, flush=True)
    sys.stdin.readline()
j.close()
"""


@contextmanager
def held(journal_setting: str, order_id: str) -> Iterator[None]:
    """Another process holds the claim on ``order_id`` for the duration of the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, journal_setting, order_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        yield
    finally:
        holder.communicate("\n", timeout=30)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    status = main(["recover", *argv])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_every_lane_is_recovered_and_a_claimed_order_is_skipped(
    sandbox: SandboxServer, journal_setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed_lanes(journal_setting, {"a-1": "lane-1", "b-1": "lane-2", "c-1": "lane-3", "c-2": "lane-3"})
    with held(journal_setting, "b-1"):
        status, rows, err = run(capsys, "--all-lanes", "--json")
    assert (status, err) == (3, "")
    assert [(r["order_id"], r["lane"], r["after"], r["action"], r["resolved"]) for r in rows] == [
        ("a-1", "lane-1", "SUCCESS", "recorded", True),
        ("b-1", "lane-2", "INIT", "skipped", False),
        ("c-1", "lane-3", "SUCCESS", "recorded", True),
        ("c-2", "lane-3", "SUCCESS", "recorded", True),
    ]
    assert "another recoverer" in str(rows[1]["reason"])
    status, rows, err = run(capsys, "--all-lanes", "--json")  # the claim is released: the next run settles it
    assert status == 0 and [(r["order_id"], r["action"]) for r in rows] == [("b-1", "recorded")]
    assert sorted(o.charged for o in sandbox.orders()) == [1, 1, 1, 1]  # each charged once
    assert main(["recover", "--all-lanes"]) == 0


def test_all_lanes_and_one_lane_exclude_each_other(sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recover", "--all-lanes", "--lane", "lane-1"]) == 2
    assert "exclude each other" in capsys.readouterr().err
