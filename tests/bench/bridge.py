"""Benchmark 8, the bridge (``paycode serve``): event latency to a WebSocket client, and a payment through it.

1. ``bridge_event_ws``: from ``PluginHost.emit`` on a lane (what the pay flow calls for every step) to the
   event's text received by a WebSocket client on loopback, through the bridge's observer, event hub (id,
   JSON, replay buffer), the hop to the server's event loop, Starlette and uvicorn. One event at a time, timed
   by the client's thread, which also emits. Baseline: the same hop without paycode, a bare Starlette WebSocket
   endpoint on the same uvicorn sending what the same thread puts in its queue (``call_soon_threadsafe``).
   Goal: p99 at most 5 ms.
2. ``bridge_payment``: a payment through the bridge, ``POST /v1/payments`` with a success code (keep-alive
   connection, the standard library's ``http.client``: the lightest Python client, so the figure is the
   bridge's and not the client's) until its final ``payment.updated`` event arrives on the WebSocket, against
   ``Terminal.pay`` of the same code shape in this process on the same sandbox, in alternating rounds. The same
   payment posted with httpx is a third arm of the same rounds (``extra``: ``httpx_median_ms``), and the CPU
   time the bridge's process and the client spend per payment are recorded. As deployed, the bridge
   (``paycode serve``) and the sandbox (``paycode sandbox``) each run in a process of their own, the client in
   the benchmark's. Goal: median at most 1.2 times ``Terminal.pay`` plus 1 ms.

The first figure runs in one process on 127.0.0.1 (the emit must happen in the bridge's process).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from paycode import Settings, Terminal
from paycode.bridge import Bridge, BridgeServer
from paycode.host import PluginHost
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.sync.client import connect

from ._fixtures import AMOUNT, CURRENCY, bench_settings, success_codes
from ._measure import Figure, Stats, gc_paused
from ._run import Config
from .lanes import sandbox_process

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
        with (
            connect(ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws,
            connect(f"ws://127.0.0.1:{port}/ws") as raw,
        ):
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


class _ServeProcess:
    """``paycode serve --json`` in its own process against the sandbox process; where it listens."""

    def __init__(self, cfg: Config, folder: Path, sandbox: Any) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
        env.update(
            PAYCODE_GATEWAY=sandbox.base_url,
            PAYCODE_ACC_ID=sandbox.acc_id,
            PAYCODE_CLIENT_ID=sandbox.client_id,
            PAYCODE_SALT=sandbox.salt,
            PAYCODE_JOURNAL=str(folder / "bridge.sqlite3"),
            PAYCODE_BRIDGE_TOKEN=TOKEN,
            XDG_STATE_HOME=str(folder / "state"),
        )
        self.log = (folder / "serve.log").open("w")
        self.proc = subprocess.Popen(
            [cfg.python, "-m", "paycode", "serve", "--port", "0", "--json", "--lane", "lane-1="],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=60):
                self.close()
                raise AssertionError("paycode serve printed nothing within 60 s")
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            raise AssertionError(f"paycode serve ended: {(folder / 'serve.log').read_text()[-2000:]}")
        self.url: str = json.loads(line)["url"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _payment_latency(cfg: Config, folder: Path) -> Figure:
    count = cfg.pick(150, 12)
    rounds = 5 if not cfg.quick else 2
    per_round = max(1, count // rounds)
    codes = iter(success_codes(3 * count + 60, start=500_000))
    clock = time.perf_counter_ns
    bridge_samples: list[float] = []
    httpx_samples: list[float] = []
    terminal_samples: list[float] = []
    cpu = {"bridge": 0.0, "client": 0.0}
    with sandbox_process(cfg, folder) as sandbox:
        serving = _ServeProcess(cfg, folder, sandbox)
        # the baseline lane: a Terminal in this process with its own journal, paying the same sandbox
        settings = bench_settings(
            folder,
            base_url=sandbox.base_url,
            acc_id=sandbox.acc_id,
            client_id=sandbox.client_id,
            salt=sandbox.salt,
            journal=str(folder / "terminal.sqlite3"),
        )
        terminal = Terminal(settings, host=PluginHost(settings), recover=False)
        ws_url = serving.url.replace("http://", "ws://") + "/v1/events"
        address = serving.url.removeprefix("http://").rpartition(":")
        plain = http.client.HTTPConnection(address[0], int(address[2]), timeout=30)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            with (
                httpx.Client(base_url=serving.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
                connect(ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws,
            ):

                def post_plain(code: str) -> str:
                    body = json.dumps({"amount": AMOUNT, "currency": CURRENCY, "code": code})
                    plain.request("POST", "/v1/payments", body=body, headers=headers)
                    answer = plain.getresponse()
                    text = answer.read()
                    if answer.status != 202:
                        raise AssertionError(f"bridge benchmark: POST answered {answer.status} {text[:300]!r}")
                    return str(json.loads(text)["reference"])

                def post_httpx(code: str) -> str:
                    answer = client.post("/v1/payments", json={"amount": AMOUNT, "currency": CURRENCY, "code": code})
                    if answer.status_code != 202:
                        raise AssertionError(f"bridge benchmark: POST answered {answer.status_code} {answer.text}")
                    return str(answer.json()["reference"])

                def via_bridge(post: Any = post_plain) -> float:
                    code = next(codes)
                    start = clock()
                    reference = post(code)
                    while True:
                        text = ws.recv(timeout=30)
                        if '"payment.updated"' not in text:  # the client parses only the events it follows
                            continue
                        event = json.loads(text)
                        if event["event"] == "payment.updated" and event["order"] == reference:
                            if event["payment"]["final"]:
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
                    via_bridge(post_httpx)
                    via_terminal()
                for _ in range(rounds):
                    bridge_cpu, client_cpu = _process_cpu(serving.proc.pid), time.process_time()
                    bridge_samples += [via_bridge() for _ in range(per_round)]
                    cpu["bridge"] += _process_cpu(serving.proc.pid) - bridge_cpu
                    cpu["client"] += time.process_time() - client_cpu
                    httpx_samples += [via_bridge(post_httpx) for _ in range(per_round)]
                    terminal_samples += [via_terminal() for _ in range(per_round)]
        finally:
            plain.close()
            terminal.close()
            serving.close()
    value, baseline, with_httpx = Stats.of(bridge_samples), Stats.of(terminal_samples), Stats.of(httpx_samples)
    return Figure(
        id="bridge_payment",
        title="bridge: payment via POST /v1/payments to its final event",
        value=value,
        baseline=baseline,
        baseline_label="Terminal.pay on the same sandbox process in the same run",
        goal="<= 1.2x Terminal.pay + 1 ms",
        met=value.median <= 1.2 * baseline.median + 1_000_000,
        notes="paycode serve and the sandbox in processes of their own; success codes, keep-alive HTTP "
        "(http.client), the final state read from the WebSocket",
        extra={
            "added_median_ms": round((value.median - baseline.median) / 1e6, 3),
            "httpx_median_ms": round(with_httpx.median / 1e6, 3),
            "bridge_cpu_ms_per_payment": round(cpu["bridge"] / len(bridge_samples) * 1e3, 3),
            "client_cpu_ms_per_payment": round(cpu["client"] / len(bridge_samples) * 1e3, 3),
        },
    )


def run(cfg: Config) -> list[Figure]:
    folder = cfg.folder("bridge")
    settings = Settings(journal=str(folder / "events.sqlite3"), gateway="sandbox")
    bridge = Bridge.build(settings, {"lane-1": None}, recover=False)
    try:
        server = BridgeServer(bridge, token=TOKEN, port=0).start()
        try:
            events = _event_latency(cfg, bridge, server.url)
        finally:
            server.stop()
    finally:
        bridge.close()
    return [events, _payment_latency(cfg, cfg.folder("bridge-payments"))]
