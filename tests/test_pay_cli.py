"""``paycode pay / query / refund`` against a sandbox gateway on loopback: the documented exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paycode.cli import main
from paycode.sandbox import SandboxServer

WECHAT = "13000000000000"  # + 4 digits: an 18-digit WeChat test code


#: the sandbox fixture (tests/conftest.py) with these options
pytestmark = pytest.mark.sandbox(slow_seconds=0.8)


@pytest.fixture
def env(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in [k for k in os.environ if k.startswith("PAYCODE_")]:
        monkeypatch.delenv(name)
    values = {
        "PAYCODE_GATEWAY": sandbox.base_url,
        "PAYCODE_ACC_ID": sandbox.credentials.acc_id,
        "PAYCODE_CLIENT_ID": sandbox.credentials.client_id,
        "PAYCODE_SALT": sandbox.credentials.salt,
        "PAYCODE_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "PAYCODE_READ_TIMEOUT": "0.4",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return values


def pay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    status = main(["pay", "--currency", "CNY", "--poll-interval", "0.05", "--deadline", "0.6", "--json", *args])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize(
    ("ending", "exit_status", "result"),
    [
        ("0001", 0, "paid"),
        ("0002", 1, "not_paid"),
        ("0003", 0, "paid"),
        ("0004", 1, "not_paid"),
        ("0005", 1, "not_paid"),
        ("0006", 0, "paid"),
    ],
    ids=["success", "decline", "password_then_success", "password_timeout", "gateway_error", "slow_commit"],
)
def test_exit_status_of_every_scenario(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], ending: str, exit_status: int, result: str
) -> None:
    status, lines = pay(capsys, "--amount", "9.90", "--code", WECHAT + ending)
    assert status == exit_status
    assert lines[-1]["result"] == result and lines[-1]["code"] == "1300**********" + ending[-4:]
    assert all("event" in line for line in lines[:-1]) and lines[0]["event"] == "scan"
    assert WECHAT + ending not in json.dumps(lines)


def test_query_and_refund_follow_a_payment(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = pay(capsys, "--amount", "12.50", "--code", WECHAT + "0001", "--order", "cli-order-1")
    assert status == 0 and lines[-1]["order"] == "cli-order-1"
    assert main(["query", "--order", "cli-order-1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "SUCCESS"
    assert main(["refund", "--order", "cli-order-1", "--amount", "12.51"]) == 2
    assert "left to refund: 12.50 CNY" in capsys.readouterr().err
    assert main(["refund", "--order", "cli-order-1", "--amount", "2.50"]) == 0
    assert "SUCCESS; order cli-order-1 refunded 2.50 in all" in capsys.readouterr().out
    assert main(["query", "--order", "no-such-order"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_query_and_refund_refuse_the_embedded_sandbox(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYCODE_GATEWAY", "sandbox")
    assert main(["query", "--order", "x"]) == 2
    assert "forgets its orders" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "env_extra", "message"),
    [
        (["--order", "o" * 65], {}, "at most 64"),
        (["--order", "a>b"], {}, "'<', '>'"),
        (["--currency", "eur"], {}, "no installed wallet accepts EUR"),
        (["--amount", "1.234"], {}, "more decimals"),
        ([], {"PAYCODE_GATEWAY": "mars"}, "not a site or URL"),
        ([], {"PAYCODE_GATEWAY": "http://192.0.2.7"}, "not loopback"),
        ([], {"PAYCODE_GATEWAY": "sg", "PAYCODE_SALT": ""}, "missing credentials"),
    ],
)
def test_bad_input_exits_2_with_one_line_before_sending(
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sandbox: SandboxServer,
    args: list[str],
    env_extra: dict[str, str],
    message: str,
) -> None:
    for name, value in env_extra.items():
        monkeypatch.setenv(name, value)
    before = len(sandbox.orders())
    argv = ["pay", "--amount", "1.00", "--currency", "CNY", "--code", WECHAT + "0001", *args]
    if "--currency" in args:
        argv[4] = args[args.index("--currency") + 1]
    if "--amount" in args:
        argv[2] = args[args.index("--amount") + 1]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("paycode: error: ")
    assert len(sandbox.orders()) == before


def test_pay_as_a_subprocess_prints_steps(env: dict[str, str], tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "paycode", "pay", "--amount", "3.00", "--currency", "HKD", "--code", WECHAT + "0001"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("scan      1300**********0001")
    assert lines[-1].startswith("PAID 3.00 HKD order ")
    assert env["PAYCODE_SALT"] not in run.stdout + run.stderr
