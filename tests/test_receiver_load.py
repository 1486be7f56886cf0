"""The notification receiver under load and abuse (issue 16 item 5), on loopback, bounded in count and time.

500 slow clients connected (headers sent byte by byte, or nothing at all) while valid notifications are still
answered and applied; 300 POSTs at once with none reset; clients that go away mid-request or before reading
their answer leave no traceback on stderr; a silent client is disconnected after the read timeout. How fast a
valid notification is answered meanwhile is measured in tests/bench/receiver.py, not asserted here.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from paycode import Money, PaymentStatus
from paycode.gateway import Credentials
from paycode.journal import Journal
from paycode.notifications import NotificationReceiver, ReceiverResult
from paycode.plugins.signers import SHA256
from paycode.signing import signed

CREDS = Credentials("acc-load", "client-load", "salt-load-0123")
SIGNERS = {"SHA256": SHA256}


def notification(order_id: str, status: str = "SUCCESS") -> bytes:
    content = {
        "notifyType": "RECHARGE",
        "merchantTransactionId": order_id,
        "transactionId": f"TX-{order_id}",
        "amount": "10.000000",
        "currency": "CNY",
        "status": status,
    }
    message = {"accId": CREDS.acc_id, "clientId": CREDS.client_id, "version": "1.0", "bizContent": json.dumps(content)}
    return json.dumps(signed(message, CREDS.salt, SHA256)).encode()


def fill(path: Path, count: int) -> list[str]:
    ids = [f"load-{n:04d}" for n in range(count)]
    with Journal(path) as j:
        for order_id in ids:
            with j.batch():
                j.begin_order(
                    order_id,
                    money=Money("10.00", "CNY"),
                    wallet="Wechat-Offline",
                    code_masked="1300**********0001",
                    lane="lane-1",
                    deadline_at=time.time() + 600,
                )
                j.set_state(order_id, PaymentStatus.PROCESSING)
    return ids


class SlowClients:
    """``count`` connections to the receiver: half send a request head one byte per round, half send nothing."""

    HEAD = b"POST /notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 900\r\n"

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.sockets: list[socket.socket] = []
        for _ in range(count):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.setblocking(False)
            self.sockets.append(s)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def _drip(self) -> None:
        while not self._stop.is_set() and self.sent < len(self.HEAD):
            byte = self.HEAD[self.sent : self.sent + 1]
            for s in self.sockets[::2]:
                try:
                    s.send(byte)
                except OSError:
                    pass  # disconnected by the server: counted by still_open()
            self.sent += 1
            self._stop.wait(0.05)

    def __enter__(self) -> SlowClients:
        self._thread.start()
        return self

    def still_open(self) -> int:
        """How many of them the server has not closed (a closed one reads b"" or is reset)."""
        open_ = 0
        for s in self.sockets:
            try:
                open_ += s.recv(1) != b""
            except BlockingIOError:
                open_ += 1
            except OSError:
                pass
        return open_

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.sockets:
            s.close()


@pytest.fixture
def receiver_of(tmp_path: Path) -> Iterator[Any]:
    made: list[NotificationReceiver] = []

    def make(journal: Journal, **kw: Any) -> tuple[NotificationReceiver, list[ReceiverResult]]:
        seen: list[ReceiverResult] = []
        r = NotificationReceiver(journal, credentials=CREDS, signers=SIGNERS, on_result=seen.append, **kw).start()
        made.append(r)
        return r, seen

    yield make
    for r in made:
        r.stop()


def test_valid_notifications_are_answered_and_applied_while_500_slow_clients_are_connected(
    tmp_path: Path, receiver_of: Any
) -> None:
    ids = fill(tmp_path / "j.sqlite3", 40)
    with Journal(tmp_path / "j.sqlite3") as journal:
        receiver, seen = receiver_of(journal, read_timeout=60.0)
        with SlowClients(receiver.url, 500) as slow, httpx.Client(timeout=10) as client:
            answers = []
            for order_id in ids:
                answers.append(client.post(receiver.url + "/notify", content=notification(order_id)))
                client.close()  # a new connection for each, as the gateway makes them
                client = httpx.Client(timeout=10)
            assert slow.still_open() == 500  # they were all held while the valid ones were answered
        assert [(a.status_code, a.text) for a in answers] == [(200, "SUCCESS")] * len(ids)
        assert [r.outcome for r in seen] == ["applied"] * len(ids)
        for order_id in ids:
            record = journal.order(order_id)
            assert record is not None and record.status is PaymentStatus.SUCCESS


def test_300_posts_at_once_are_all_answered_none_reset(tmp_path: Path, receiver_of: Any) -> None:
    ids = fill(tmp_path / "j.sqlite3", 300)
    with Journal(tmp_path / "j.sqlite3") as journal:
        receiver, seen = receiver_of(journal)

        async def burst() -> list[httpx.Response | BaseException]:
            limits = httpx.Limits(max_connections=300, max_keepalive_connections=0)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                posts = [client.post(receiver.url + "/notify", content=notification(i)) for i in ids]
                return await asyncio.gather(*posts, return_exceptions=True)

        answers = asyncio.run(burst())
        failures = [a for a in answers if isinstance(a, BaseException)]
        assert failures == []
        assert {(a.status_code, a.text) for a in answers if isinstance(a, httpx.Response)} == {(200, "SUCCESS")}
        assert len(seen) == 300 and {r.outcome for r in seen} == {"applied"}
        assert all(r.status is PaymentStatus.SUCCESS for r in journal.orders())


def test_a_client_that_sends_no_whole_request_is_disconnected_after_the_read_timeout(
    tmp_path: Path, receiver_of: Any
) -> None:
    fill(tmp_path / "j.sqlite3", 1)
    with Journal(tmp_path / "j.sqlite3") as journal:
        receiver, seen = receiver_of(journal, read_timeout=0.5)
        with SlowClients(receiver.url, 40) as slow:
            deadline = time.monotonic() + 20  # a bound for a slow machine, not a measurement
            while slow.still_open() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert slow.still_open() == 0
        assert seen == []  # nothing was ever handled for them
        answer = httpx.post(receiver.url + "/notify", content=notification("load-0000"), timeout=10)
        assert answer.status_code == 200


def test_slow_clients_beyond_the_connection_limit_make_room_for_the_gateway(tmp_path: Path, receiver_of: Any) -> None:
    ids = fill(tmp_path / "j.sqlite3", 5)
    with Journal(tmp_path / "j.sqlite3") as journal:
        receiver, seen = receiver_of(journal, max_connections=10, read_timeout=60.0)
        with SlowClients(receiver.url, 30) as slow:
            answers = [httpx.post(receiver.url + "/notify", content=notification(i), timeout=10) for i in ids]
            held = slow.still_open()
            assert receiver.connections <= 10
        assert [(a.status_code, a.text) for a in answers] == [(200, "SUCCESS")] * len(ids)
        assert [r.outcome for r in seen] == ["applied"] * len(ids)
        assert held < 10  # the oldest of them were closed to make room


def test_a_request_beyond_the_connection_limit_while_all_are_busy_is_answered_503(
    tmp_path: Path, receiver_of: Any
) -> None:
    ids = fill(tmp_path / "j.sqlite3", 4)
    release = threading.Event()
    with Journal(tmp_path / "j.sqlite3") as journal:
        receiver, _ = receiver_of(journal, max_connections=4, read_timeout=60.0)
        receiver.handler.on_result = lambda result: release.wait(30)  # hold every request in its worker
        answers: dict[str, httpx.Response] = {}

        def post(order_id: str) -> None:
            answers[order_id] = httpx.post(receiver.url + "/notify", content=notification(order_id), timeout=60)

        busy = [threading.Thread(target=post, args=(i,)) for i in ids[:3]]
        for t in busy:
            t.start()
        deadline = time.monotonic() + 20
        while receiver.in_flight < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        beyond = httpx.post(receiver.url + "/notify", content=notification(ids[3]), timeout=10)
        release.set()
        for t in busy:
            t.join(30)
        assert beyond.status_code == 503
        assert {i: a.status_code for i, a in answers.items()} == dict.fromkeys(ids[:3], 200)
        record = journal.order(ids[3])
        assert record is not None and record.status is PaymentStatus.PROCESSING  # the gateway will retry it


def _abuse(url: str, body: bytes) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))
    request = (
        b"POST /notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    for n in range(60):
        s = socket.create_connection(address, timeout=10)
        kind = n % 4
        if kind == 0:  # a whole request, then gone before the answer: reset (SO_LINGER 0)
            s.sendall(request)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == 1:  # half a request, then gone
            s.sendall(request[: len(request) // 2])
        elif kind == 2:  # not HTTP at all
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64))
        else:  # a head too large
            s.sendall(b"POST /notify HTTP/1.1\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
        s.close()


def test_clients_that_go_away_leave_no_traceback_on_stderr(tmp_path: Path) -> None:
    ids = fill(tmp_path / "j.sqlite3", 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    env.update(
        PAYCODE_ACC_ID=CREDS.acc_id,
        PAYCODE_CLIENT_ID=CREDS.client_id,
        PAYCODE_SALT=CREDS.salt,
        PAYCODE_JOURNAL=str(tmp_path / "j.sqlite3"),
        PAYCODE_WAKE="off",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "paycode", "notifications", "--json", "--read-timeout", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    killer = threading.Timer(60, proc.kill)
    killer.start()
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        _abuse(url, notification(ids[0]))
        answer = httpx.post(url + "/notify", content=notification(ids[1]), timeout=10)
        assert answer.status_code == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
        killer.cancel()
    assert proc.returncode == 0, err
    assert err == "", err  # no BrokenPipe, no traceback, no uvicorn warning
    lines = [json.loads(line) for line in out.splitlines()]
    assert any(e.get("order") == ids[1] and e["outcome"] == "applied" for e in lines)
