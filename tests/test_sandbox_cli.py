"""``paycode sandbox`` as a separate process: banner, credentials, serving until a signal, test codes, bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from paycode.cli import main
from paycode.host import PluginHost
from paycode.sandbox import ALL_SCENARIOS, Credentials
from paycode.sandbox.caller import V4Caller
from paycode.settings import Settings

PAY = "/v4/payment/unifiedPay"


@contextmanager
def sandbox_process(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``paycode sandbox ARGS``; yield the process and its first line of output; stop it at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "paycode", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline() if proc.stdout else ""))
    reader.start()
    reader.join(30)
    try:
        assert lines and lines[0], "no banner from paycode sandbox"
        yield proc, lines[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for the process to end; the rest of its output (after the banner line) and its stderr."""
    proc.wait(10)
    assert proc.stdout and proc.stderr
    return proc.stdout.read(), proc.stderr.read()


def pay_biz(code: str) -> dict[str, object]:
    return {
        "captureDelayHours": 0,
        "amount": Decimal("1.00"),
        "currency": "CNY",
        "requestId": "req-1",
        "merchantTransactionId": "order-1",
        "paymentMethod": {"type": "Wechat-Offline", "scanCodeId": code},
    }


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_json_banner_serves_until_a_signal(sig: signal.Signals) -> None:
    with sandbox_process("--json") as (proc, line):
        banner = json.loads(line)
        assert set(banner) == {"base_url", "acc_id", "client_id", "salt"}
        assert banner["base_url"].startswith("http://127.0.0.1:")
        creds = Credentials(banner["acc_id"], banner["client_id"], banner["salt"])
        with V4Caller(banner["base_url"], creds) as caller:
            answer = caller.call(PAY, pay_biz("130000000000000001"))
        assert answer.verified and answer.biz["status"] == "SUCCESS"
        proc.send_signal(sig)
        out, err = finish(proc)
    assert proc.returncode == 0, err
    assert out == "" and err == ""


def test_given_credentials_and_faults(tmp_path: Path) -> None:
    salt_file = tmp_path / "salt"
    salt_file.write_text("my-test-salt\n")
    salt_file.chmod(0o600)
    args = ["--json", "--acc-id", "ACC1", "--client-id", "CLI1", "--salt-file", str(salt_file)]
    with sandbox_process(*args, "--fault", "drop_after_commit:times=1") as (proc, line):
        banner = json.loads(line)
        assert (banner["acc_id"], banner["client_id"]) == ("ACC1", "CLI1")
        # a salt the user gave is their secret: the banner says where it came from, never the value
        assert banner["salt"] is None and banner["salt_from"] == f"the file {salt_file}"
        assert "my-test-salt" not in line
        with V4Caller(banner["base_url"], Credentials("ACC1", "CLI1", "my-test-salt")) as caller:
            with pytest.raises(httpx.RemoteProtocolError):
                caller.call(PAY, pay_biz("130000000000000001"))
            assert caller.call(PAY, pay_biz("130000000000000001")).biz["status"] == "SUCCESS"  # stored answer
        proc.send_signal(signal.SIGTERM)
        finish(proc)
    assert proc.returncode == 0


def test_human_banner_shows_how_to_point_paycode_at_it() -> None:
    with sandbox_process("--salt-env", "SANDBOX_TEST_SALT", env={"SANDBOX_TEST_SALT": "s3"}) as (proc, line):
        assert line.startswith("paycode sandbox: PingPong V4 gateway at http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        out, _ = finish(proc)
    assert "salt      yours, from $SANDBOX_TEST_SALT (not shown)" in out
    assert "PAYCODE_SALT=<your salt>" in out and "s3" not in out and "Wechat-Offline" in out
    assert proc.returncode == 0


def test_the_export_line_is_quoted_for_the_shell() -> None:
    """An accId such as '<x>' would be a redirection if pasted unquoted into a shell."""
    salt = {"SANDBOX_TEST_SALT": "s 3"}
    with sandbox_process("--acc-id", "<x>", "--salt-env", "SANDBOX_TEST_SALT", env=salt) as (proc, _):
        proc.send_signal(signal.SIGINT)
        out, _ = finish(proc)
    [export] = [line for line in out.splitlines() if line.startswith("  export ")]
    assert "PAYCODE_ACC_ID='<x>'" in export and "s 3" not in out
    assert proc.returncode == 0


def test_a_generated_salt_is_shown_as_the_sandbox_throwaway_secret() -> None:
    with sandbox_process() as (proc, _):
        proc.send_signal(signal.SIGINT)
        out, _ = finish(proc)
    [salt_line] = [line for line in out.splitlines() if line.startswith("  salt ")]
    salt = salt_line.split()[1]
    assert "(a throwaway test secret of this sandbox)" in salt_line and f"PAYCODE_SALT={salt}" in out
    assert proc.returncode == 0


def test_list_codes_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--list-codes", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    host = PluginHost(Settings.load())
    assert len(rows) == len(host.wallets) * len(ALL_SCENARIOS)
    for row in rows:
        assert set(row) == {"scenario", "wallet", "code"}
        currency = sorted(host.wallets[row["wallet"]].currencies)[0]
        assert host.classify(row["code"], currency).wallet is host.wallets[row["wallet"]]


def test_list_codes_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--list-codes"]) == 0
    out = capsys.readouterr().out
    assert "password_then_success" in out and "130000000000000003" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--host", "0.0.0.0"], "sandbox host '0.0.0.0' is not a loopback address"),
        (["--host", "192.0.2.1", "--allow-remote"], "sandbox cannot listen on 192.0.2.1:0"),
        (["--port", "70000"], "sandbox port 70000 is out of range"),
        (["--port", "x"], "invalid int value"),
        (["--fault", "bogus"], "unknown fault 'bogus'"),
        (["--fault", "refuse:times=1"], "refuse cannot be limited"),
        (["--slow-seconds", "-1"], "--slow-seconds -1.0: give a number of seconds"),
        (["--notify-schedule", "1,x"], "--notify-schedule '1,x': give comma-separated seconds"),
        (["--salt-env", "PAYCODE_TEST_UNSET_VARIABLE"], "PAYCODE_TEST_UNSET_VARIABLE"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        assert main(["sandbox", "--port", str(held.getsockname()[1])]) == 2
    assert "sandbox cannot listen on 127.0.0.1:" in capsys.readouterr().err
