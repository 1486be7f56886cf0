"""Benchmark: the shopper's wait at the counter after the wallet confirmed the payment.

The sandbox gateway (in this process) confirms each payment at a random moment of the password step (the
``late_success`` codes, with ``password_seconds`` drawn from 0.3-2.5 s before each payment). The figure is the
time from the gateway's SUCCESS (the order's ``transactionTime`` as a query reports it) to the lane's SUCCESS
(``Terminal.pay`` returning). Lanes are threads with sync Terminals on the wallet's own schedule (WeChat: a query
every 5 s), several at once so the run stays short.

- ``shopper_wait_notified``: the store tier. A PostgreSQL journal; ``paycode notifications`` in its own process
  applies the gateway's notification, whose commit NOTIFYs the lane's LISTEN connection
  (:func:`paycode.wake.waker_for`). Goal: p99 <= 300 ms. Baseline: the polling figure below.
- ``shopper_wait_polling``: the same lanes with no notifications (``wake = "off"``, no receiver): the wait is
  bounded by the poll interval. Baseline: the poll interval itself.
- ``shopper_wait_notified_sqlite``: one machine. A SQLite journal; the receiver wakes the lane with a datagram on
  127.0.0.1. Goal: p99 <= 300 ms. Baseline: the polling figure.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from paycode import Settings, Terminal, bizcontent
from paycode.gateway import QUERY
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.models import PaymentStatus
from paycode.sandbox import SandboxServer
from paycode.store.tempserver import TempPostgres
from paycode.wake import waker_for

from ._measure import Check, Figure, Stats
from ._run import Config

__all__ = ["run"]

GOAL_NS = 300e6
POLL = 5.0  # WeChat's poll interval (its wallet policy); set explicitly so the figure does not drift with it
PASSWORD = (0.3, 2.5)


@contextmanager
def _receiver(cfg: Config, srv: SandboxServer, journal: str, folder: Path) -> Iterator[str]:
    """``paycode notifications`` on ``journal`` in its own process; yields its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    c = srv.credentials
    env.update(PAYCODE_ACC_ID=c.acc_id, PAYCODE_CLIENT_ID=c.client_id, PAYCODE_SALT=c.salt, PAYCODE_JOURNAL=journal)
    log = (folder / "receiver.log").open("w")
    proc = subprocess.Popen(
        [cfg.python, "-m", "paycode", "notifications", "--json"],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline() or "{}")
        if first.get("event") != "listening":
            raise AssertionError(f"paycode notifications did not start: {(folder / 'receiver.log').read_text()[-800:]}")
        drain = threading.Thread(target=proc.stdout.read, daemon=True)  # its result lines must not fill the pipe
        drain.start()
        yield str(first["url"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@attrs.define
class _Lanes:
    srv: SandboxServer
    host: PluginHost
    rng: random.Random
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def settings(self, journal: str, lane: str, **extra: Any) -> Settings:
        c = self.srv.credentials
        return Settings(
            gateway=self.srv.base_url, acc_id=c.acc_id, client_id=c.client_id, salt=c.salt, journal=journal,
            poll_interval=POLL, deadline=40, read_timeout=5, lane=lane, **extra,
        )  # fmt: skip

    def waits(self, journal: str, lanes: int, per_lane: int, *, url: str | None) -> list[float]:
        """Each lane pays ``per_lane`` late-success codes; the waits (ns) from the gateway's SUCCESS to the lane's."""
        wake = "auto" if url else "off"
        waker = waker_for(self.settings(journal, "waker", wake=wake))
        connected = getattr(waker, "connected", None)
        if connected is not None:
            connected.wait(10)
        pattern = self.host.wallets["Wechat-Offline"].patterns[0]
        waits: list[float] = []
        errors: list[BaseException] = []
        tag = secrets.token_hex(3)

        def lane(n: int) -> None:
            settings = self.settings(journal, f"lane-{n}", notification_url=url, wake=wake)
            try:
                with Terminal(settings, PluginHost(settings), waker=waker, recover=False) as terminal:
                    for i in range(per_lane):
                        code = pattern.make(f"{n}{i}{self.rng.randrange(10**6):06d}007")
                        with self.lock:
                            self.srv.password_seconds = self.rng.uniform(*PASSWORD)
                        order_id = f"sw{tag}{n}x{i}"
                        payment = terminal.pay("12.50", "CNY", code=code, order_id=order_id)
                        done = time.time()
                        if payment.status is not PaymentStatus.SUCCESS:
                            raise AssertionError(f"shopper_wait: a payment ended {payment.status.value}")
                        answer = terminal.gateway.send(QUERY, bizcontent.query_biz(merchant_transaction_id=order_id))
                        paid_at = int(answer.biz["transactionTime"]) / 1000
                        waits.append(max(done - paid_at, 0.0) * 1e9)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=lane, args=(n,)) for n in range(lanes)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            waker.close()
        if errors:
            raise errors[0]
        return waits


def run(cfg: Config) -> list[Figure | Check]:
    folder = cfg.folder("shopper_wait")
    lanes, per_lane = cfg.pick(6, 2), cfg.pick(4, 1)
    host = PluginHost(Settings(journal=str(folder / "host.sqlite3")))
    with SandboxServer(wallets=host.wallets.values(), signers=host.signers) as srv, TempPostgres() as pg:
        bench = _Lanes(srv, host, random.Random(20260301))
        dsn = pg.create_database("shopper_wait")
        sqlite = str(folder / "journal.sqlite3")
        for setting in (dsn, sqlite):
            open_journal(setting).close()  # created and migrated before the receiver opens it
        polled = Stats.of(bench.waits(dsn, lanes, per_lane, url=None))
        with _receiver(cfg, srv, dsn, folder) as url:
            notified = Stats.of(bench.waits(dsn, lanes, per_lane, url=url))
        with _receiver(cfg, srv, sqlite, folder) as url:
            notified_sqlite = Stats.of(bench.waits(sqlite, lanes, per_lane, url=url))
    return [
        Figure(
            id="shopper_wait_notified",
            title="gateway SUCCESS -> lane SUCCESS, notifications on (PostgreSQL LISTEN/NOTIFY)",
            value=notified,
            baseline=polled,
            baseline_label=f"notifications off (polling every {POLL:g} s)",
            goal="p99 <= 300 ms",
            met=notified.p99 <= GOAL_NS,
            notes=f"{lanes} lanes, {notified.count} payments confirmed {PASSWORD[0]}-{PASSWORD[1]} s into the password "
            "step; receiver in its own process",
            extra={"lanes": lanes, "poll_interval_s": POLL},
        ),
        Figure(
            id="shopper_wait_polling",
            title="gateway SUCCESS -> lane SUCCESS, notifications off (polling)",
            value=polled,
            baseline=Stats.constant(POLL * 1e9),
            baseline_label=f"the poll interval ({POLL:g} s, WeChat)",
            goal="bounded by the poll interval",
            met=polled.p99 <= POLL * 1e9 + 1e9,
            notes="the lane learns of the success at its next query",
            extra={"lanes": lanes, "poll_interval_s": POLL},
        ),
        Figure(
            id="shopper_wait_notified_sqlite",
            title="gateway SUCCESS -> lane SUCCESS, notifications on (SQLite, datagram on 127.0.0.1)",
            value=notified_sqlite,
            baseline=polled,
            baseline_label=f"notifications off (polling every {POLL:g} s)",
            goal="p99 <= 300 ms",
            met=notified_sqlite.p99 <= GOAL_NS,
            notes="lanes and receiver on one machine sharing a SQLite journal",
            extra={"lanes": lanes, "poll_interval_s": POLL},
        ),
    ]
