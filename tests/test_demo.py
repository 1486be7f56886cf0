"""``paycode demo`` on a fresh install: a paid and partly refunded order, every step shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paycode import PaymentStatus
from paycode.cli import main
from paycode.journal import Journal


def test_demo_json_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    env["PAYCODE_GATEWAY"] = "fra"  # the demo never leaves the machine, whatever the environment says
    run = subprocess.run(
        [sys.executable, "-m", "paycode", "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    events = [line["event"] for line in lines[:-1]]
    for step in ("scan", "classified", "payment.request", "payment.poll", "payment.refund"):
        assert step in events
    states = [line["status"] for line in lines if line.get("event") == "payment.state"]
    assert states == ["PROCESSING", "SUCCESS"]
    scan = next(line for line in lines if line.get("event") == "scan")
    assert scan["text"] == "1300**********0003"
    assert scan["scanner"].startswith(("serial://", "replay://"))
    result = lines[-1]
    assert result["result"] == "demo" and result["status"] == "SUCCESS"
    assert (result["amount"], result["refunded"], result["net"]) == ("12.50", "2.50", "10.00")
    assert not Path(result["journal"]).exists()  # a temporary journal, removed with its folder


def test_demo_receipt_and_named_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("PAYCODE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "demo.sqlite3"
    assert main(["demo", "--journal", str(journal)]) == 0
    out = capsys.readouterr().out
    assert "------------------ receipt ------------------" in out
    assert "net          10.00 CNY" in out and "wallet       WeChat Pay (Wechat-Offline)" in out
    with Journal(journal) as j:
        (order,) = j.orders()
    assert order.status is PaymentStatus.SUCCESS and order.refunded == order.amount - 10
