"""Benchmark 8, the bridge (``paycode serve``): event latency to a WebSocket client, and a payment through it.

1. ``bridge_event_ws``: from ``PluginHost.emit`` on a lane (what the pay flow calls for every step) to the
   event's text received by a WebSocket client on loopback, through the bridge's observer, event hub (id,
   JSON, replay buffer), the hop to the server's event loop, Starlette and uvicorn. One event at a time, timed
   by the client's thread, which also emits. Baseline: the same hop without paycode, a bare Starlette WebSocket
   endpoint on the same uvicorn sending what the same thread puts in its queue (``call_soon_threadsafe``).
   Goal: p99 at most 5 ms.
2. ``bridge_payment``: a payment through the bridge, ``POST /v1/payments`` with a success code (keep-alive
   connection) until its final ``payment.updated`` event arrives on the WebSocket, against ``Terminal.pay`` of
   the same code shape on the same embedded sandbox gateway client and the same kind of journal, in
   alternating rounds. Goal: median at most 1.2 times ``Terminal.pay`` plus 1 ms.

Everything runs in one process on 127.0.0.1 (the sandbox, the bridge's server and the clients share the
two cores), so the figures include the bridge's threads competing with the client for the CPU.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
from paycode import Settings, Terminal
from paycode.bridge import Bridge, BridgeServer
from paycode.host import PluginHost
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.sync.client import connect

from ._fixtures import AMOUNT, CURRENCY, success_codes
from ._measure import Figure, Stats, gc_paused
from ._run import Config

__all__ = ["run"]

TOKEN = "bench-token-0123456789abcdef"
EVENT_GOAL_NS = 5_000_000


class _BareSocket:
    """The baseline: a Starlette WebSocket endpoint on uvicorn that sends whatever another thread queues."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue[str] | None = None
        self.ready = threading.Event()
        self.app = Starlette(routes=[WebSocketRoute("/ws", self.endpoint)])

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()
        self.ready.set()
        while True:
            text = await self.queue.get()
            await websocket.send_text(text)

    def push(self, text: str) -> None:
        assert self.loop is not None and self.queue is not None
        self.loop.call_soon_threadsafe(self.queue.put_nowait, text)


def _serve_bare(bare: _BareSocket) -> tuple[Any, threading.Thread, int]:
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY, as the bridge
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(bare.app, lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


def _event_latency(cfg: Config, bridge: Bridge, url: str) -> Figure:
    count = cfg.pick(3000, 200)
    host = bridge.lanes["lane-1"].host
    clock = time.perf_counter_ns
    bare = _BareSocket()
    server, thread, port = _serve_bare(bare)
    paycode_samples: list[float] = []
    bare_samples: list[float] = []
    ws_url = url.replace("http://", "ws://") + "/v1/events"
    try:
        with connect(ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws, \
                connect(f"ws://127.0.0.1:{port}/ws") as raw:
            bare.ready.wait(10)
            text = json.dumps({"event": "bench.ping", "order": None, "n": 0})

            def one_paycode() -> float:
                start = clock()
                host.emit("bench.ping", None, n=1)
                ws.recv(timeout=10)
                return clock() - start

            def one_bare() -> float:
                start = clock()
                bare.push(text)
                raw.recv(timeout=10)
                return clock() - start

            for _ in range(100):
                one_paycode()
                one_bare()
            rounds = 10
            for _ in range(rounds):
                with gc_paused():
                    paycode_samples += [one_paycode() for _ in range(count // rounds)]
                    bare_samples += [one_bare() for _ in range(count // rounds)]
    finally:
        server.should_exit = True
        thread.join(10)
    value = Stats.of(paycode_samples)
    return Figure(
        id="bridge_event_ws",
        title="bridge: event emit to WebSocket client (loopback)",
        value=value,
        baseline=Stats.of(bare_samples),
        baseline_label="bare Starlette WebSocket send on the same uvicorn, queued from the same thread",
        goal="p99 <= 5 ms",
        met=value.p99 <= EVENT_GOAL_NS,
        notes="one event in flight at a time; the client's thread emits and receives",
    )


def _payment_latency(cfg: Config, bridge: Bridge, url: str, folder: Any) -> Figure:
    count = cfg.pick(150, 12)
    rounds = 5 if not cfg.quick else 2
    per_round = max(1, count // rounds)
    codes = iter(success_codes(2 * count + 40, start=500_000))
    clock = time.perf_counter_ns
    # the baseline lane: its own Terminal and journal file, the bridge's gateway client (the same sandbox)
    terminal_settings = Settings(journal=str(folder / "terminal.sqlite3"), gateway="sandbox")
    terminal = Terminal(terminal_settings, host=PluginHost(terminal_settings), gateway=bridge.gateway, recover=False)
    bridge_samples: list[float] = []
    terminal_samples: list[float] = []
    ws_url = url.replace("http://", "ws://") + "/v1/events"
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http, \
                connect(ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:

            def via_bridge() -> float:
                code = next(codes)
                start = clock()
                answer = http.post("/v1/payments", json={"amount": AMOUNT, "currency": CURRENCY, "code": code})
                if answer.status_code != 202:
                    raise AssertionError(f"bridge benchmark: POST answered {answer.status_code} {answer.text}")
                reference = answer.json()["reference"]
                while True:
                    event = json.loads(ws.recv(timeout=30))
                    if event["event"] == "payment.updated" and event["order"] == reference \
                            and event["payment"]["final"]:
                        break
                elapsed = clock() - start
                if event["payment"]["state"] != "paid":
                    raise AssertionError(f"bridge benchmark: a payment ended {event['payment']['state']}")
                return elapsed

            def via_terminal() -> float:
                code = next(codes)
                start = clock()
                payment = terminal.pay(AMOUNT, CURRENCY, code=code)
                elapsed = clock() - start
                if payment.status.value != "SUCCESS":
                    raise AssertionError(f"bridge benchmark: Terminal.pay ended {payment.status.value}")
                return elapsed

            for _ in range(5):
                via_bridge()
                via_terminal()
            for _ in range(rounds):
                bridge_samples += [via_bridge() for _ in range(per_round)]
                terminal_samples += [via_terminal() for _ in range(per_round)]
    finally:
        terminal.close()
    value, baseline = Stats.of(bridge_samples), Stats.of(terminal_samples)
    return Figure(
        id="bridge_payment",
        title="bridge: payment via POST /v1/payments to its final event",
        value=value,
        baseline=baseline,
        baseline_label="Terminal.pay on the same embedded sandbox in the same run",
        goal="<= 1.2x Terminal.pay + 1 ms",
        met=value.median <= 1.2 * baseline.median + 1_000_000,
        notes="success codes, keep-alive HTTP, the final state read from the WebSocket",
        extra={"added_median_ms": round((value.median - baseline.median) / 1e6, 3)},
    )


def run(cfg: Config) -> list[Figure]:
    folder = cfg.folder("bridge")
    settings = Settings(journal=str(folder / "bridge.sqlite3"), gateway="sandbox")
    bridge = Bridge.build(settings, {"lane-1": None}, recover=False)
    try:
        server = BridgeServer(bridge, token=TOKEN, port=0).start()
        try:
            return [_event_latency(cfg, bridge, server.url), _payment_latency(cfg, bridge, server.url, folder)]
        finally:
            server.stop()
    finally:
        bridge.close()
