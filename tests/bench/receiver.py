"""Benchmark: the notification receiver's answer time for a valid notification while 500 slow clients hold
connections open (issue 16 item 5: "it keeps answering valid notifications within 100 ms").

The receiver (``paycode.notifications.NotificationReceiver``: uvicorn, the read timeout raised out of the way so
the slow clients stay) journals into a SQLite file in the scratch folder. Each valid notification is POSTed on
a new connection, as the gateway does, and timed from connect to the whole answer; it moves its own order from
PROCESSING to SUCCESS, so every sample includes one durable journal commit. The baseline is the same POSTs with
no slow client connected. 500 slow clients: half send a request head one byte every 0.2 s, half send nothing.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
from paycode import Money, PaymentStatus
from paycode.gateway import Credentials
from paycode.journal import Journal
from paycode.notifications import NotificationReceiver
from paycode.plugins.signers import SHA256
from paycode.signing import signed

from ._measure import Figure, Stats
from ._run import Config

__all__ = ["GOAL_NS", "SLOW_CLIENTS", "run"]

GOAL_NS = 100_000_000
SLOW_CLIENTS = 500
CREDS = Credentials("acc-bench", "client-bench", "salt-bench-0123")
HEAD = b"POST /notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 900\r\n"


def _body(order_id: str) -> bytes:
    content = {
        "notifyType": "RECHARGE",
        "merchantTransactionId": order_id,
        "transactionId": f"TX-{order_id}",
        "amount": "10.000000",
        "currency": "CNY",
        "status": "SUCCESS",
    }
    message = {"accId": CREDS.acc_id, "clientId": CREDS.client_id, "version": "1.0", "bizContent": json.dumps(content)}
    return json.dumps(signed(message, CREDS.salt, SHA256)).encode()


def _orders(path: Path, count: int) -> list[str]:
    ids = [f"bench-{n:05d}" for n in range(count)]
    with Journal(path) as j:
        for order_id in ids:
            with j.batch():
                j.begin_order(
                    order_id,
                    money=Money("10.00", "CNY"),
                    wallet="Wechat-Offline",
                    code_masked="1300**********0001",
                    lane="lane-1",
                    deadline_at=time.time() + 3600,
                )
                j.set_state(order_id, PaymentStatus.PROCESSING)
    return ids


class _Slow:
    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.sockets = [socket.create_connection((host, int(port)), timeout=10) for _ in range(count)]
        for s in self.sockets:
            s.setblocking(False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        for i in range(len(HEAD)):
            if self._stop.wait(0.2):
                return
            for s in self.sockets[::2]:
                try:
                    s.send(HEAD[i : i + 1])
                except OSError:
                    pass

    def open_count(self) -> int:
        count = 0
        for s in self.sockets:
            try:
                count += s.recv(1) != b""
            except BlockingIOError:
                count += 1
            except OSError:
                pass
        return count

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.sockets:
            s.close()


def _post_times(url: str, ids: list[str]) -> list[float]:
    times: list[float] = []
    bodies = {order_id: _body(order_id) for order_id in ids}
    # one client, no kept-alive connection: a new connection for each POST, as the gateway makes them
    with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for order_id in ids:
            start = time.perf_counter_ns()
            answer = client.post(url + "/notify", content=bodies[order_id])
            times.append(time.perf_counter_ns() - start)
            if (answer.status_code, answer.text) != (200, "SUCCESS"):
                raise AssertionError(f"notification for {order_id} answered {answer.status_code} {answer.text!r}")
    return times


def run(cfg: Config) -> list[Figure]:
    folder = cfg.folder("receiver")
    path = folder / "journal.sqlite3"
    count = cfg.pick(200, 10)
    ids = _orders(path, 2 * count + 10)
    warm, quiet_ids, loaded_ids = ids[:10], ids[10 : 10 + count], ids[10 + count :]
    with Journal(path) as journal:
        receiver = NotificationReceiver(
            journal, credentials=CREDS, signers={"SHA256": SHA256}, read_timeout=600.0
        ).start()
        try:
            _post_times(receiver.url, warm)
            quiet = _post_times(receiver.url, quiet_ids)
            slow = _Slow(receiver.url, SLOW_CLIENTS)
            try:
                loaded = _post_times(receiver.url, loaded_ids)
                held = slow.open_count()
            finally:
                slow.close()
        finally:
            receiver.stop()
        applied = sum(1 for r in journal.orders() if r.status is PaymentStatus.SUCCESS)
    if applied != len(ids):
        raise AssertionError(f"{applied} of {len(ids)} notifications were applied to the journal")
    value = Stats.of(loaded)
    return [
        Figure(
            id="receiver_slow_clients",
            title=f"notification receiver: a valid notification answered while {SLOW_CLIENTS} slow clients are "
            "connected",
            value=value,
            baseline=Stats.of(quiet),
            baseline_label="the same with no slow client",
            goal="p99 < 100 ms",
            met=value.p99 < GOAL_NS,
            notes=f"{held} of {SLOW_CLIENTS} slow clients still connected at the end; one journal commit per "
            f"notification on {cfg.filesystem(folder)}",
            extra={"slow_clients_held": held},
        )
    ]
