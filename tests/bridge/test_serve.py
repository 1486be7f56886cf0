"""``paycode serve`` as a process: the listening line, the token file, refusals, SIGTERM, and a kill during a payment.

The kill test runs the bridge against a sandbox gateway of the test's own (so the orders outlive the bridge
process), kills it with SIGKILL while a payment waits for the gateway's answer, restarts it on the same journal,
and checks that recovery settled the payment and that a client reconnecting with its last event id is told the
stream restarted and then sees the final state.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from paycode import Settings
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.sandbox import SandboxServer
from websockets.sync.client import connect

from tests.bridge.helpers import wechat

STEP = 30.0


class Serving:
    """A ``python -m paycode serve --json`` process; ``listening`` is its first line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paycode", "serve", "--port", "0", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        line = self.lines.get(timeout=STEP)
        if line is None:
            assert self.proc.stderr is not None
            raise AssertionError(f"paycode serve ended: {self.proc.wait(5)} {self.proc.stderr.read()}")
        self.listening: dict[str, Any] = json.loads(line)
        self.url: str = self.listening["url"]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def http(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=STEP)

    def stop(self, sig: int | None = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig`` (None: none, the process was told already) and wait for the exit status and stderr."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(STEP)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code, err


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    clean.update(
        XDG_STATE_HOME=str(tmp_path / "state"),
        PAYCODE_JOURNAL=str(tmp_path / "journal.sqlite3"),
        PAYCODE_POLL_INTERVAL="0.1",
        PAYCODE_DEADLINE="5",
    )
    return clean


def test_the_listening_line_the_token_file_and_sigterm(env: dict[str, str], tmp_path: Path) -> None:
    serving = Serving(env, "--lane", "front=", "--lane", "back=")
    listening = serving.listening
    assert listening["event"] == "listening" and listening["lanes"] == ["front", "back"]
    assert listening["url"].startswith("http://127.0.0.1:")
    token_file = Path(listening["token_file"])
    assert token_file.parent == tmp_path / "state" / "paycode"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    with serving.http(token) as http:
        answer = http.post(
            "/v1/payments", json={"amount": "3.00", "currency": "CNY", "code": wechat("001"), "reference": "cli-1"}
        )
        assert answer.status_code == 202, answer.text
        end = time.monotonic() + STEP
        while http.get("/v1/payments/cli-1").json()["state"] != "paid":
            assert time.monotonic() < end
            time.sleep(0.05)
    code, err = serving.stop()
    assert code == 0, err
    assert token not in err
    # the same file is used again on the next start
    again = Serving(env)
    assert again.listening["token_file"] == str(token_file) and token_file.read_text().strip() == token
    assert again.stop()[0] == 0


def test_the_token_from_the_environment(env: dict[str, str]) -> None:
    token = "env-token-abcdefghijklmnop"
    serving = Serving({**env, "PAYCODE_BRIDGE_TOKEN": token})
    try:
        assert serving.listening["token_file"] is None
        assert serving.listening["token_source"] == "PAYCODE_BRIDGE_TOKEN"
        with serving.http(token) as http:
            assert http.get("/v1/lanes").status_code == 200
        assert httpx.get(f"{serving.url}/v1/lanes").status_code == 401
    finally:
        assert serving.stop()[0] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--host", "0.0.0.0"], "not a loopback address"),
        (["--host", "0.0.0.0", "--allow-remote"], "requires TLS"),
        (["--lane", "nolane"], "NAME=SCANNER_URL"),
        (["--lane", "a=", "--lane", "a="], "must differ"),
        (["--lane", "bad name="], "lane name"),
        (["--origin", "localhost:3000"], "scheme://host"),
        (["--lane", "a=nosuch://x"], "unknown scanner scheme"),
        (["--origin", "http://[::1"], "not a valid scheme://host[:port]"),
        # the certificate is checked before the listening line, not found broken after it (exit 70)
        (
            ["--host", "0.0.0.0", "--allow-remote", "--ssl-certfile", "/", "--ssl-keyfile", "/dev/null"],
            "cannot be used",
        ),
    ],
)
def test_refusals_are_one_line_exit_2(env: dict[str, str], args: list[str], words: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paycode", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=STEP,
    )
    assert done.returncode == 2, done
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_short_token_in_the_environment_is_refused(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paycode", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env={**env, "PAYCODE_BRIDGE_TOKEN": "short"},
        timeout=STEP,
    )
    assert done.returncode == 2 and "at least 16 characters" in done.stderr
    assert "short" not in done.stderr.replace("shorter", "")


# ---------------------------------------------------------------------------- killed during a payment


@pytest.fixture
def gateway() -> Iterator[SandboxServer]:
    host = PluginHost(Settings())
    with SandboxServer(wallets=host.wallets.values(), signers=host.signers, slow_seconds=2.0) as srv:
        yield srv


def test_a_bridge_killed_during_a_payment_recovers_it_and_the_client_sees_the_final_state(
    env: dict[str, str], gateway: SandboxServer
) -> None:
    c = gateway.credentials
    env = {
        **env,
        "PAYCODE_GATEWAY": gateway.base_url,
        "PAYCODE_ACC_ID": c.acc_id,
        "PAYCODE_CLIENT_ID": c.client_id,
        "PAYCODE_SALT": c.salt,
        "PAYCODE_READ_TIMEOUT": "10",
        "PAYCODE_BRIDGE_TOKEN": "kill-test-token-0123456789",
    }
    token = env["PAYCODE_BRIDGE_TOKEN"]
    first = Serving(env)
    ws_base = first.url.replace("http://", "ws://")
    with first.http(token) as http:
        ticket = http.post("/v1/tickets", json={}).json()["ticket"]
        with connect(f"{ws_base}/v1/events?ticket={ticket}") as ws:
            # slow_commit: the gateway commits SUCCESS at once and answers only after 2 s
            answer = http.post(
                "/v1/payments",
                json={"amount": "20.00", "currency": "CNY", "code": wechat("006"), "reference": "kill-1"},
            )
            assert answer.status_code == 202, answer.text
            last = None
            while True:
                event = json.loads(ws.recv(timeout=STEP))
                last = event["id"]
                if event["event"] == "payment.request":
                    break
            end = time.monotonic() + STEP
            while gateway.order("kill-1") is None:  # the request reached the gateway
                assert time.monotonic() < end
                time.sleep(0.01)
            code, _ = first.stop(signal.SIGKILL)
            assert code == -signal.SIGKILL
    assert gateway.order("kill-1") is not None

    second = Serving(env)  # recovery runs before it listens
    try:
        with second.http(token) as http:
            payment = http.get("/v1/payments/kill-1").json()
            assert payment["state"] == "paid" and payment["status"] == "SUCCESS", payment
            ticket = http.post("/v1/tickets", json={}).json()["ticket"]
        with connect(f"{second.url.replace('http://', 'ws://')}/v1/events?ticket={ticket}&last_event_id={last}") as ws:
            reset = json.loads(ws.recv(timeout=STEP))
            assert reset["event"] == "stream.reset"
            recovered = json.loads(ws.recv(timeout=STEP))
            while recovered["event"] != "recovery.order":
                recovered = json.loads(ws.recv(timeout=STEP))
            assert recovered["order"] == "kill-1" and recovered["after"] == "SUCCESS", recovered
        assert gateway.order("kill-1").charged == 1  # type: ignore[union-attr]
    finally:
        assert second.stop()[0] == 0


# ---------------------------------------------------------------------------- TLS for --allow-remote


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command (Debian's openssl package) to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_allow_remote_serves_https(env: dict[str, str], certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    token = "tls-test-token-0123456789"
    serving = Serving(
        {**env, "PAYCODE_BRIDGE_TOKEN": token},
        "--host",
        "0.0.0.0",
        "--allow-remote",
        "--ssl-certfile",
        str(cert),
        "--ssl-keyfile",
        str(key),
    )
    try:
        assert serving.url.startswith("https://0.0.0.0:")
        port = serving.url.rsplit(":", 1)[1]
        trust = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(
            base_url=f"https://127.0.0.1:{port}", verify=trust, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            assert http.get("/v1/lanes").status_code == 200
            assert http.get("/v1/lanes", headers={"Host": "evil.example"}).status_code == 403
        with pytest.raises(httpx.TransportError):  # no plain http on that port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        assert serving.stop()[0] == 0


def test_sigterm_follows_the_payment_under_way_then_exits_0(env: dict[str, str]) -> None:
    token = "drain-test-token-0123456789"
    serving = Serving({**env, "PAYCODE_BRIDGE_TOKEN": token, "PAYCODE_DEADLINE": "1.5", "PAYCODE_CLOSE_GRACE": "1"})
    with serving.http(token) as http:
        answer = http.post(
            "/v1/payments", json={"amount": "4.00", "currency": "CNY", "code": wechat("004"), "reference": "drain-1"}
        )
        assert answer.status_code == 202, answer.text
        end = time.monotonic() + STEP
        while http.get("/v1/payments/drain-1").json()["status"] != "PROCESSING":
            assert time.monotonic() < end
            time.sleep(0.02)
        serving.proc.send_signal(signal.SIGTERM)
        refused = http.post("/v1/payments", json={"amount": "1.00", "currency": "CNY", "code": wechat("001")})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "draining"
        assert http.get("/v1/payments/drain-1").json()["final"] is False  # still followed
    code, err = serving.stop(None)  # a second SIGTERM would stop it at once
    assert code == 0, err
    assert "still in flight" not in err
    with Journal(env["PAYCODE_JOURNAL"]) as journal:
        order = journal.order("drain-1")
    assert order is not None and order.status.value in ("CLOSED", "SUCCESS", "PROCESSING"), order
    assert order.status.value != "PROCESSING" or order.abandoned  # final, or journaled for recovery
