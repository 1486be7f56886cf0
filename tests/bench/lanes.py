"""Benchmark 6, many lanes: 1, 10 and 100 concurrent AsyncTerminals paying against one sandbox.

The sandbox runs as its own process (``paycode sandbox --json``, PingPong V4 over HTTP on
127.0.0.1), so its work is not charged to the lanes' process and the two use both cores.
Every lane is an :class:`paycode.AsyncTerminal` with its own journal file (SQLite WAL,
``synchronous=FULL``) and its own HTTP connection, sharing one PluginHost; all lanes run
in one asyncio event loop, each paying success codes one after another (a lane serves
one shopper at a time). Latency is from ``pay()`` to its return.

The baseline is the sandbox's own time in the same run: the same number of concurrent
lanes each posting pre-signed unifiedPay bodies with a bare ``httpx.AsyncClient``.
"Added" is paycode's latency minus the baseline's (p50 and p99): classification,
building and signing, answer verification, events and the journal's durable commits.
The two take turns (paycode, raw, paycode, raw) so drifts in load fall on both.

A second figure is the resident memory of one idle Terminal (all plugins loaded, no
camera opened) in a fresh process, against a bare interpreter.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import attrs
import httpx
from paycode import AsyncTerminal, Settings, bizcontent
from paycode.gateway import AsyncGatewayClient
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.plugins.signers import SHA256
from paycode.signing import signed

from ._fixtures import AMOUNT, CURRENCY, bench_settings, success_codes
from ._measure import Check, Figure, Stats
from ._run import Config

__all__ = ["run"]

GOAL_RSS_BYTES = 50 * 1024 * 1024
#: issue 12: 100 asyncio lanes, journals on disk, at most this many times raw signed httpx (median)
GOAL_LANES_100 = 1.5
_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}


@attrs.frozen
class _Sandbox:
    base_url: str
    acc_id: str
    client_id: str
    salt: str


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}


@contextmanager
def sandbox_process(cfg: Config, folder: Path) -> Iterator[_Sandbox]:
    """``paycode sandbox --json`` in its own process; yields where it listens and the account it accepts.

    Its stderr goes to ``sandbox.log`` in ``folder``; the tail is added to any error raised meanwhile.
    """
    command = [cfg.python, "-m", "paycode", "sandbox", "--json"]
    log_path = folder / "sandbox.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=folder, env=_environment(), stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=30):
                raise AssertionError("paycode sandbox printed nothing within 30 s")
        banner = json.loads(proc.stdout.readline())
        yield _Sandbox(banner["base_url"], banner["acc_id"], banner["client_id"], banner["salt"])
    except Exception as exc:
        alive = "running" if proc.poll() is None else f"exited with status {proc.returncode}"
        tail = log_path.read_text()[-2000:].strip() or "(nothing on stderr)"
        exc.add_note(f"the sandbox process is {alive}; its stderr ends:\n{tail}")
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def _settings(sandbox: _Sandbox, journal: Path, lane: str = "lane-1") -> Settings:
    return bench_settings(
        journal.parent,
        base_url=sandbox.base_url,
        acc_id=sandbox.acc_id,
        client_id=sandbox.client_id,
        salt=sandbox.salt,
        journal=str(journal),
        lane=lane,
    )


# ---------------------------------------------------------------------------- the lanes


class _Codes:
    """Fresh success codes, never the same twice in a run."""

    def __init__(self) -> None:
        self._next = 0

    def take(self, count: int) -> list[str]:
        codes = success_codes(count, start=self._next)
        self._next += count
        return codes


async def _paycode_round(terminals: list[AsyncTerminal], codes: _Codes, per_lane: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    clock = time.perf_counter_ns

    async def lane(terminal: AsyncTerminal, mine: list[str]) -> None:
        for code in mine:
            start = clock()
            payment = await terminal.pay(AMOUNT, CURRENCY, code=code)
            latencies.append(clock() - start)
            if payment.status.value != "SUCCESS":
                raise AssertionError(f"lanes benchmark: a payment ended {payment.status.value}")

    start = clock()
    await asyncio.gather(*(lane(t, codes.take(per_lane)) for t in terminals))
    return latencies, clock() - start


def _raw_bodies(sandbox: _Sandbox, codes: list[str]) -> list[bytes]:
    """Signed unifiedPay bodies, made before the clock starts."""
    bodies = []
    for code in codes:
        biz = {
            "captureDelayHours": 0,
            "amount": Decimal(AMOUNT),
            "currency": CURRENCY,
            "requestId": bizcontent.new_request_id("rq"),
            "merchantTransactionId": f"raw{secrets.token_hex(8)}",
            "paymentMethod": {"type": "Wechat-Offline", "scanCodeId": code},
            "device": {"orderTerminal": "02"},
        }
        envelope = {
            "accId": sandbox.acc_id,
            "clientId": sandbox.client_id,
            "version": "1.0",
            "bizContent": bizcontent.serialise(biz),
        }
        bodies.append(json.dumps(signed(envelope, sandbox.salt, SHA256), separators=(",", ":")).encode())
    return bodies


async def _raw_round(
    clients: list[httpx.AsyncClient], url: str, sandbox: _Sandbox, codes: _Codes, per_lane: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    answers: list[tuple[int, bytes]] = []
    clock = time.perf_counter_ns

    async def lane(client: httpx.AsyncClient, bodies: list[bytes]) -> None:
        for body in bodies:
            start = clock()
            response = await client.post(url, content=body)
            latencies.append(clock() - start)
            answers.append((response.status_code, response.content))

    work = [(c, _raw_bodies(sandbox, codes.take(per_lane))) for c in clients]
    start = clock()
    await asyncio.gather(*(lane(c, bodies) for c, bodies in work))
    elapsed = clock() - start
    for status, content in answers:
        if status != 200 or json.loads(content).get("code") != "000000":
            raise AssertionError(f"lanes benchmark: the sandbox answered a raw request with HTTP {status}")
    return latencies, elapsed


async def _touch_paycode(terminals: list[AsyncTerminal], codes: _Codes) -> None:
    """One untimed payment per lane, one lane after another, right before a timed round.

    A connection idle longer than httpx's keep-alive expiry (5 s) is reopened by the next
    request. Reopened here one at a time, they never reach the sandbox as a burst of
    simultaneous connects, which its short accept backlog refuses in part (and a store's
    lanes do not reconnect within the same millisecond either).
    """
    for terminal in terminals:
        await _paycode_round([terminal], codes, 1)


async def _touch_raw(clients: list[httpx.AsyncClient], url: str, sandbox: _Sandbox, codes: _Codes) -> None:
    """As :func:`_touch_paycode`, for the bare clients."""
    for client in clients:
        await _raw_round([client], url, sandbox, codes, 1)


@attrs.define
class _Fleet:
    """What every lanes figure shares, built once in the one event loop of the run: the host, a
    gateway client per lane (built as ``AsyncTerminal.start()`` builds its own), a bare client per lane.
    """

    sandbox: _Sandbox
    host: PluginHost
    gateways: list[AsyncGatewayClient]
    raw_clients: list[httpx.AsyncClient]
    codes: _Codes = attrs.field(factory=_Codes)

    @classmethod
    def build(cls, sandbox: _Sandbox, folder: Path, lanes: int) -> _Fleet:
        host = PluginHost(_settings(sandbox, folder / "host.sqlite3"))
        gateways = [host.async_gateway() for _ in range(lanes)]  # what AsyncTerminal.start() builds
        # plain http:// on loopback: no certificates to load for the bare client
        raw = [httpx.AsyncClient(headers=_HEADERS, timeout=30.0, verify=False) for _ in range(lanes)]
        return cls(sandbox, host, gateways, raw)

    async def close(self) -> None:
        for gateway in self.gateways:
            await gateway.close()
        for client in self.raw_clients:
            await client.aclose()


async def _lanes(cfg: Config, fleet: _Fleet, count: int, per_lane: int, journals_in: Path, label: str) -> Figure:
    sandbox, codes = fleet.sandbox, fleet.codes
    journals = [Journal(journals_in / f"lanes{count}-{i}.sqlite3") for i in range(count)]
    # a new journal has nothing to recover
    terminals = [
        AsyncTerminal(_settings(sandbox, j.path, f"lane-{i}"), fleet.host, journal=j, gateway=g, recover=False)
        for i, (j, g) in enumerate(zip(journals, fleet.gateways[:count], strict=True))
    ]
    clients = fleet.raw_clients[:count]
    url = sandbox.base_url + "/v4/payment/unifiedPay"
    ours: list[float] = []
    raw: list[float] = []
    ours_time = raw_time = 0.0
    rounds = 2
    try:
        for t in terminals:
            await t.start()
        for _ in range(rounds):
            await _touch_paycode(terminals, codes)
            lat, spent = await _paycode_round(terminals, codes, max(1, per_lane // rounds))
            ours += lat
            ours_time += spent
            await _touch_raw(clients, url, sandbox, codes)
            lat, spent = await _raw_round(clients, url, sandbox, codes, max(1, per_lane // rounds))
            raw += lat
            raw_time += spent
    finally:
        for t in terminals:
            await t.close()
        for j in journals:
            j.close()
    value, base = Stats.of(ours), Stats.of(raw)
    rate, raw_rate = len(ours) / (ours_time / 1e9), len(raw) / (raw_time / 1e9)
    filesystem = cfg.filesystem(journals_in)
    return Figure(
        id=f"lanes_{count}{label}",
        title=f"{count} concurrent AsyncTerminal{'s' if count > 1 else ''}, journal on {filesystem}",
        value=value,
        baseline=base,
        baseline_label="raw signed httpx to the sandbox",
        goal="<= 1.5x raw httpx" if (count, label) == (100, "") else "reported",
        met=value.median <= GOAL_LANES_100 * base.median if (count, label) == (100, "") else None,
        notes=f"{rate:.0f} payments/s (raw {raw_rate:.0f}/s); added p50 {(value.median - base.median) / 1e6:.2f} ms, "
        f"p99 {(value.p99 - base.p99) / 1e6:.2f} ms",
        extra={
            "lanes": count,
            "payments": len(ours),
            "payments_per_second": rate,
            "raw_requests_per_second": raw_rate,
            "added_p50_ns": value.median - base.median,
            "added_p99_ns": value.p99 - base.p99,
            "journal_filesystem": filesystem,
        },
    )


@contextmanager
def memory_folder(cfg: Config, fallback: Path) -> Iterator[Path]:
    """A folder in /dev/shm (tmpfs: commits never wait for a disk) when there is one, else ``fallback``."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and cfg.filesystem(shm) == "tmpfs" and os.access(shm, os.W_OK)):
        yield fallback
        return
    folder = Path(tempfile.mkdtemp(prefix="paycode-bench-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------- memory of one idle terminal

_RSS_PROBE = """
import json, sys
def rss():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmRSS:"))
if sys.argv[1] == "bare":
    print(json.dumps({"idle": rss(), "after_pay": rss(), "heavy": []}))
    raise SystemExit
from paycode import Settings, Terminal
settings = Settings(**json.loads(sys.argv[2]))
with Terminal(settings) as terminal:
    idle = rss()
    payment = terminal.pay("12.50", "CNY", code=sys.argv[3])
    assert payment.status.value == "SUCCESS", payment.status
    after = rss()
heavy = sorted(m for m in ("cv2", "zxingcpp", "numpy") if m in sys.modules)
print(json.dumps({"idle": idle, "after_pay": after, "heavy": heavy}))
"""


def _rss(cfg: Config, sandbox: _Sandbox, folder: Path) -> Figure:
    samples: dict[str, list[float]] = {"bare": [], "terminal": [], "after_pay": []}
    heavy: set[str] = set()
    codes = iter(success_codes(10, start=10**9))
    for i in range(cfg.pick(3, 1)):
        settings = {
            "gateway": sandbox.base_url,
            "acc_id": sandbox.acc_id,
            "client_id": sandbox.client_id,
            "salt": sandbox.salt,
            "journal": str(folder / f"rss-{i}.sqlite3"),
        }
        for kind in ("bare", "terminal"):
            out = subprocess.run(
                [cfg.python, "-c", _RSS_PROBE, kind, json.dumps(settings), next(codes)],
                cwd=folder,
                env=_environment(),
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
            probe = json.loads(out.strip().splitlines()[-1])
            samples[kind].append(probe["idle"])
            if kind == "terminal":
                samples["after_pay"].append(probe["after_pay"])
                heavy.update(probe["heavy"])
    value = Stats.of(samples["terminal"])
    after = Stats.of(samples["after_pay"])
    return Figure(
        id="terminal_rss",
        title="resident memory of one idle Terminal",
        value=value,
        baseline=Stats.of(samples["bare"]),
        baseline_label="bare interpreter",
        goal="< 50 MB, no camera libraries",
        met=value.median < GOAL_RSS_BYTES and not heavy,
        unit="bytes",
        notes=f"after one payment {after.median / 2**20:.1f} MiB; camera libraries loaded: "
        f"{', '.join(sorted(heavy)) or 'none'}",
        extra={"after_one_payment_bytes": after.median, "heavy_modules": sorted(heavy)},
    )


# ---------------------------------------------------------------------------- the benchmark


async def _all_lanes(cfg: Config, sandbox: _Sandbox, folder: Path, in_memory: Path) -> list[Figure]:
    plan = {1: cfg.pick(800, 4), 10: cfg.pick(100, 2), 100: cfg.pick(20, 2)}
    fleet = _Fleet.build(sandbox, folder, max(plan))
    figures = []
    try:
        for label, journals_in in (("", folder), ("_tmpfs", in_memory)):
            journals_in.mkdir(exist_ok=True)
            for count, per_lane in plan.items():
                figures.append(await _lanes(cfg, fleet, count, per_lane, journals_in, label))
    finally:
        await fleet.close()
    return figures


def run(cfg: Config) -> list[Figure | Check]:
    folder = cfg.folder("lanes")
    with sandbox_process(cfg, folder) as sandbox, memory_folder(cfg, folder / "memory") as in_memory:
        figures: list[Figure | Check] = [*asyncio.run(_all_lanes(cfg, sandbox, folder, in_memory))]
        figures.append(_rss(cfg, sandbox, folder))
    return figures
