"""A stalling gateway (issue 16 item 4): the cashier's wait is bounded by the deadline plus one read timeout;
then ``paycode pay`` exits 3 (unresolved, journaled) and recovery carries on. Against the documented gateway
(paycode.testing.docgateway) holding every request without answering.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from paycode import AsyncTerminal, PaymentStatus, Settings, Terminal
from paycode.cli import main
from paycode.journal import open_journal
from paycode.terminal import outcome
from paycode.testing.docgateway import PAY, QUERY, DocGateway

CODE = "130000000000000001"


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway() as gateway:
        yield gateway


@pytest.fixture
def env(gw: DocGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [k for k in os.environ if k.startswith("PAYCODE_")]:
        monkeypatch.delenv(name)
    c = gw.credentials
    values = {
        "PAYCODE_GATEWAY": gw.url,
        "PAYCODE_ACC_ID": c.acc_id,
        "PAYCODE_CLIENT_ID": c.client_id,
        "PAYCODE_SALT": c.salt,
        "PAYCODE_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "PAYCODE_READ_TIMEOUT": "0.5",
        "PAYCODE_CONNECT_TIMEOUT": "0.5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return Settings.load()


def test_pay_against_a_stalling_gateway_exits_3_and_recovery_carries_on(
    gw: DocGateway, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gw.script(path=PAY, stall=2.5)  # held well past the lane's bound, then executed: the shopper is charged
    gw.script(path=QUERY, stall=math.inf)  # queries are never answered
    status = main(["pay", "--amount", "9.00", "--currency", "CNY", "--code", CODE, "--order", "stall-1",
                   "--deadline", "1", "--poll-interval", "0.2", "--json"])  # fmt: skip
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 3 and lines[-1]["result"] == "unresolved"
    unknown = [line for line in lines if line.get("event") == "payment.unknown"]
    assert unknown and all("outcome unknown" in line["reason"] for line in unknown)
    with open_journal(env.journal) as journal:
        record = journal.order("stall-1")
        attempts = journal.attempts("stall-1")
    assert record is not None and record.unresolved and record.abandoned
    assert any("the lane's bound" in a.detail for a in attempts)
    assert all(a.outcome in ("unknown", "error") for a in attempts)

    while (view := gw.order("stall-1")) is None or view.status != "SUCCESS":  # the held pay executes
        time.sleep(0.05)
    gw.clear()  # the gateway answers again: recovery settles the order it was left with
    status = main(["recover", "--json"])
    (result,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0 and (result["after"], result["action"], result["resolved"]) == ("SUCCESS", "refunded", True)
    view = gw.order("stall-1")
    assert view is not None and view.charged == 1 and view.refunded == Decimal("9.00")


def test_a_query_stalling_after_processing_is_cut_too(gw: DocGateway, env: Settings) -> None:
    gw.script(outcome="PROCESSING")  # answered: the shopper types the password
    gw.script(path=QUERY, stall=math.inf)  # then nothing more
    s = Settings.load(deadline=0.5, poll_interval=0.2, close_grace=0.5)
    with Terminal(s, recover=False) as t:
        p = t.pay("9.00", "CNY", code=CODE, order_id="stall-2")
        record = t.journal.order("stall-2")
        attempts = t.journal.attempts("stall-2")
    assert outcome(p) == "unresolved" and p.status is PaymentStatus.PROCESSING
    assert record is not None and record.abandoned and record.unresolved
    assert attempts[0].kind == "pay" and any("the lane's bound" in a.detail for a in attempts)


def test_async_pay_against_a_stalling_gateway_is_bounded(gw: DocGateway, env: Settings) -> None:
    gw.script(stall=math.inf)
    s = Settings.load(deadline=0.5, poll_interval=0.2)

    async def main_() -> tuple[str, PaymentStatus]:
        async with AsyncTerminal(s, recover=False) as t:
            p = await t.pay("9.00", "CNY", code=CODE, order_id="stall-3")
            return outcome(p), p.status

    assert asyncio.run(main_()) == ("unresolved", PaymentStatus.UNKNOWN)
    with open_journal(s.journal) as journal:
        record = journal.order("stall-3")
        attempts = journal.attempts("stall-3")
    assert record is not None and record.abandoned and record.unresolved
    assert any("the lane's bound" in a.detail for a in attempts)
