"""A store: four lane processes pay through one PostgreSQL journal while, in other processes, the notification
receiver applies the gateway's notifications (waking the lane that waits on that order), ``paycode history`` sees
every lane's orders, and ``paycode recover --all-lanes`` settles the order of a lane that was killed mid-payment.

The lanes poll every 30 s, far beyond the time the test gives them: a payment the shopper confirms during the
password step (the sandbox's ``007`` codes) can only finish in time because the receiver's commit woke its lane
(LISTEN/NOTIFY). Nothing is charged twice, and the journal agrees with the gateway on every order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.sandbox import SandboxServer

LANES = 4
PER_LANE = 4  # per lane: success, confirmed during the password step (twice), declined
POLL = 30.0  # seconds between a lane's queries: longer than the lanes are given

LANE = r"""
import json, sys, time
from paycode import Settings, Terminal
from paycode.wake import waker_for
codes = sys.argv[1].split(",")
settings = Settings.load()
waker = waker_for(settings)
waker.connected.wait(10)
with Terminal(settings, waker=waker) as terminal:
    for n, code in enumerate(codes):
        order_id = f"{settings.lane}-{n}"
        started = time.monotonic()
        payment = terminal.pay("12.50", "CNY", code=code, order_id=order_id)
        print(json.dumps({"order": order_id, "status": payment.status.value,
                          "seconds": round(time.monotonic() - started, 3)}), flush=True)
waker.close()
"""


def environment(srv: SandboxServer, dsn: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    c = srv.credentials
    env.update(
        PAYCODE_GATEWAY=srv.base_url,
        PAYCODE_ACC_ID=c.acc_id,
        PAYCODE_CLIENT_ID=c.client_id,
        PAYCODE_SALT=c.salt,
        PAYCODE_JOURNAL=dsn,
        PAYCODE_POLL_INTERVAL=str(POLL),
        PAYCODE_DEADLINE="60",
        PAYCODE_READ_TIMEOUT="5",
        **extra,
    )
    return env


@contextmanager
def receiver_process(srv: SandboxServer, journal: str, cwd: Path) -> Iterator[str]:
    """``paycode notifications`` on ``journal`` in a process of its own, for the sandbox ``srv``; yields its URL."""
    open_journal(journal).close()  # made (migrated) before the processes start
    proc = subprocess.Popen(
        [sys.executable, "-m", "paycode", "notifications", "--json"],
        env=environment(srv, journal),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "listening", first
        assert ("postgresql://" in first["journal"]) is journal.startswith("postgresql://"), first
        yield str(first["url"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture
def receiver(pg_dsn: str, base_host: PluginHost, tmp_path: Path) -> Iterator[tuple[SandboxServer, str, list[str]]]:
    """The sandbox gateway, and ``paycode notifications`` on the store's journal; yields (sandbox, the receiver's
    URL, its output lines so far)."""
    with (
        SandboxServer(
            wallets=base_host.wallets.values(), signers=base_host.signers, password_seconds=0.8, slow_seconds=1.5
        ) as srv,
        receiver_process(srv, pg_dsn, tmp_path) as url,
    ):
        yield srv, url, []


def paycode(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paycode", *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
def test_four_lanes_one_journal_the_receiver_wakes_them_the_store_recovers(
    receiver: tuple[SandboxServer, str, list[str]], pg_dsn: str, base_host: PluginHost, tmp_path: Path
) -> None:
    srv, url, _ = receiver
    pattern = base_host.wallets["Wechat-Offline"].patterns[0]
    lanes = []
    for n in range(1, LANES + 1):
        codes = [pattern.make(f"{n}1001"), pattern.make(f"{n}1007"), pattern.make(f"{n}2007"), pattern.make(f"{n}1002")]
        env = environment(srv, pg_dsn, PAYCODE_LANE=f"lane-{n}", PAYCODE_NOTIFICATION_URL=url)
        lanes.append(
            subprocess.Popen(
                [sys.executable, "-c", LANE, ",".join(codes)],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )

    # a fifth lane is killed while its payment's answer is on the way (committed at the gateway: slow_commit)
    store_env = environment(srv, pg_dsn, PAYCODE_LANE="lane-9")
    killed = subprocess.Popen(
        [sys.executable, "-m", "paycode", "pay", "--amount", "3.00", "--currency", "CNY",
         "--code", pattern.make("9006"), "--order", "lane-9-0", "--json"],
        env=store_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    end = time.monotonic() + 20
    while srv.order("lane-9-0") is None and time.monotonic() < end:
        time.sleep(0.01)
    killed.kill()
    killed.communicate(timeout=10)

    results: dict[str, dict[str, Any]] = {}
    for proc in lanes:
        out, err = proc.communicate(timeout=25)  # far less than one poll interval
        assert proc.returncode == 0, err
        for line in out.splitlines():
            row = json.loads(line)
            results[row["order"]] = row
    assert len(results) == LANES * PER_LANE
    for order_id, row in results.items():
        expected = "FAILED" if order_id.endswith("-3") else "SUCCESS"
        assert row["status"] == expected, row
        assert row["seconds"] < POLL  # the confirmed-during-password ones were woken, not polled

    # the store server, another process: history sees every lane's orders; recovery settles the killed lane's
    history = paycode(store_env, tmp_path, "history", "--json")
    assert history.returncode == 0, history.stderr
    orders = {row["order_id"]: row for row in map(json.loads, history.stdout.splitlines())}
    assert set(orders) == {*results, "lane-9-0"}
    assert {row["lane"] for row in orders.values()} == {f"lane-{n}" for n in (*range(1, LANES + 1), 9)}
    assert orders["lane-9-0"]["unresolved"] is True

    time.sleep(1.6)  # the killed lane's answer was held 1.5 s: let the gateway finish it
    recovered = paycode(store_env, tmp_path, "recover", "--all-lanes", "--json")
    assert recovered.returncode == 0, (recovered.stdout, recovered.stderr)
    rows = [json.loads(line) for line in recovered.stdout.splitlines()]
    assert [(r["order_id"], r["after"], r["action"]) for r in rows] == [("lane-9-0", "SUCCESS", "recorded")]

    # the journal agrees with the gateway on every order, and nobody was charged twice
    with open_journal(pg_dsn) as journal:
        for record in journal.orders():
            view = srv.order(record.order_id)
            assert view is not None and view.charged <= 1
            assert record.status.value == view.status, record
            assert not record.unresolved
