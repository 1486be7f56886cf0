"""Benchmark 1, scan to wire: from a scanner's Scan to the signed unifiedPay body ready for the socket.

paycode has no single "scan to bytes" function, so the path is composed of the public
pieces :meth:`paycode.Terminal.pay` runs, in its order, on a real Terminal and PluginHost
(installed wallet plugins, an in-memory scanner plugin, one counting observer):

1. ``ScanSupervisor.read``: the scanner plugin's Scan, normalised (AIM id ``]C0`` stripped),
   repeat check, ``scan`` event;
2. ``Terminal.sale``: order id, Money checks;
3. ``Terminal.wallet_for``: ``PluginHost.classify`` over every wallet plugin's patterns
   (and ``paycode_classify`` implementations), ``classified`` event;
4. ``Terminal.polling`` and ``Terminal.request``: polling policy, requestId;
5. ``bizcontent.pay_biz``: the bizContent dict;
6. the ``payment.request`` event the pay flow emits before the call;
7. ``PingPongProtocol.prepare``: serialise bizContent once, sign (SHA256 signer plugin),
   the JSON body bytes.

The baseline is a hand-written function doing the same steps with plain Python: strip
the suffix and AIM id, match the WeChat pattern, build the text, sign with hashlib, call
the same observer three times with a dict. Both bodies are checked to carry the same
fields and to verify before anything is timed.

A second figure runs the whole :meth:`Terminal.pay` up to the same bytes (a gateway client
that stops the clock when the body is ready and answers SUCCESS): that adds the journal's
two durable commits (order, attempt) before the request may leave, and is set against
the hand-written function plus the same two commits on a bare sqlite3 connection.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from paycode import Scan, Terminal, bizcontent
from paycode.gateway import PAY, GatewayAnswer, Operation, PingPongProtocol
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.masking import mask_code
from paycode.signing import verify_message

from ._fixtures import AMOUNT, CURRENCY, MemoryScannerPlugin, Observer, bench_settings, success_codes
from ._measure import Check, Figure, Stats, gc_paused, sample_interleaved
from ._run import Config

__all__ = ["run"]

GOAL_P99_NS = 200_000
GOAL_RATIO = 1.5
_WECHAT_PREFIXES = ("13", "10", "11", "12", "14")


def _raw_scans(codes: list[str]) -> list[Scan]:
    """What a serial scanner sending AIM ids delivers: ``]C0`` + the code (framing already stripped)."""
    return [Scan(raw=f"]C0{c}\r".encode(), text=f"]C0{c}", source="bench://lane") for c in codes]


# ---------------------------------------------------------------------------- paycode


class _Lane:
    """A Terminal with its scanner, and the composed scan-to-wire path."""

    def __init__(self, folder: Path) -> None:
        self.scanner_plugin = MemoryScannerPlugin()
        self.observer = Observer()
        self.settings = bench_settings(folder)
        self.host = PluginHost(self.settings, plugins=[self.scanner_plugin, self.observer])
        self.terminal = Terminal(self.settings, self.host, recover=False)
        self.supervisor = self.host.open_scanner("bench://lane")
        self.supervisor.open()
        self.protocol: PingPongProtocol = self.terminal.gateway.protocol

    def to_wire(self, raw: Scan) -> bytes:
        t, host = self.terminal, self.host
        self.scanner_plugin.scanner.queue.append(raw)
        scan = self.supervisor.read(timeout=0)
        assert scan is not None
        sale = t.sale(AMOUNT, CURRENCY)
        wallet = t.wallet_for(sale, scan.text)
        t.polling(wallet, None, None)
        request = t.request(sale, wallet, scan.text)
        biz = bizcontent.pay_biz(request)
        host.emit(
            "payment.request",
            sale.order_id,
            operation="unified_pay",
            request_id=request.request_id,
            wallet=wallet.name,
            amount=str(request.money.wire()),
            currency=request.money.currency,
            code=mask_code(request.code),
            resend=False,
        )
        return self.protocol.prepare(PAY, biz).body

    def close(self) -> None:
        self.supervisor.close()
        self.terminal.close()


# ---------------------------------------------------------------------------- baseline


def handwritten(salt: str, observe: Callable[[Any], None]) -> Callable[[str], bytes]:
    """The same steps with no plugin machinery: one wallet hard-coded, text built by hand, hashlib."""
    dumps = json.dumps
    amount = format(Decimal(AMOUNT), "f")

    def to_wire(text: str) -> bytes:
        if text.endswith("\r"):
            text = text[:-1]
        text = text.strip()
        if text[:1] == "]" and len(text) > 3:
            text = text[3:]
        observe({"kind": "scan", "length": len(text)})
        if not (text.isascii() and text.isdigit() and len(text) == 18 and text.startswith(_WECHAT_PREFIXES)):
            raise ValueError("not a WeChat code")
        observe({"kind": "classified", "wallet": "Wechat-Offline"})
        order_id = f"pc{time.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(5)}"
        request_id = f"rq-{secrets.token_hex(16)}"
        biz = (
            f'{{"captureDelayHours":0,"amount":{amount},"currency":"{CURRENCY}","requestId":{dumps(request_id)},'
            f'"merchantTransactionId":{dumps(order_id)},'
            f'"paymentMethod":{{"type":"Wechat-Offline","scanCodeId":{dumps(text)}}},'
            '"device":{"orderTerminal":"02"}}'
        )
        observe({"kind": "payment.request", "order": order_id, "request_id": request_id})
        envelope = {
            "accId": "bench-acc",
            "bizContent": biz,
            "clientId": "bench-client",
            "signType": "SHA256",
            "version": "1.0",
        }
        content = salt + "&".join(f"{k}={v}" for k, v in envelope.items())
        envelope["sign"] = hashlib.sha256(content.encode()).hexdigest().upper()
        return dumps(envelope, separators=(",", ":")).encode()

    return to_wire


_ID_FIELDS = ("requestId", "merchantTransactionId")


def _same_request(ours: bytes, theirs: bytes, salt: str, protocol: PingPongProtocol) -> None:
    """Both bodies verify and carry the same fields (ids aside): the baseline does the same work."""
    a, b = json.loads(ours), json.loads(theirs)
    if set(a) != set(b):
        raise AssertionError(f"envelopes differ: {sorted(a)} vs {sorted(b)}")
    for body in (a, b):
        if not verify_message(body, salt, protocol.signer):
            raise AssertionError("a benchmark body does not verify")
    biz_a = {k: v for k, v in json.loads(a["bizContent"]).items() if k not in _ID_FIELDS}
    biz_b = {k: v for k, v in json.loads(b["bizContent"]).items() if k not in _ID_FIELDS}
    if biz_a != biz_b:
        raise AssertionError(f"bizContent differs: {biz_a} vs {biz_b}")


# ---------------------------------------------------------------------------- whole pay, journal included


class _StopWatchClient:
    """A GatewayClient that builds the real body, notes when it is ready, and answers SUCCESS."""

    def __init__(self, protocol: PingPongProtocol) -> None:
        self.protocol = protocol
        self.base_url = protocol.base_url
        self.ready_ns = 0

    def send(self, operation: Operation, biz: Mapping[str, Any]) -> GatewayAnswer:
        self.protocol.prepare(operation, biz)
        self.ready_ns = time.perf_counter_ns()
        result = {
            "status": "SUCCESS",
            "transactionId": f"tx{biz['merchantTransactionId']}",
            "merchantTransactionId": biz["merchantTransactionId"],
            "requestId": biz["requestId"],
            "amount": biz["amount"],
            "currency": biz["currency"],
        }
        return GatewayAnswer.from_parts("000000", "success", result, 200)

    def close(self) -> None:
        return None


class _BareCommits:
    """Two durable inserts per payment on a bare sqlite3 connection, with paycode's journal settings."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, amount TEXT, code TEXT, at REAL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS attempts (order_id TEXT, request_id TEXT, at REAL)")

    def commit_twice(self, order_id: str) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO orders VALUES (?, ?, ?, ?)", (order_id, AMOUNT, "1300****0001", time.time()))
        db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO attempts VALUES (?, ?, ?)", (order_id, "rq", time.time()))
        db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


def _whole_pay(lane: _Lane, folder: Path, scans: list[Scan]) -> tuple[list[float], list[float]]:
    client = _StopWatchClient(lane.protocol)
    journal = Journal(folder / "whole-pay.sqlite3")
    terminal = Terminal(lane.settings, lane.host, journal=journal, gateway=client, recover=False)
    bare = handwritten(lane.settings.salt or "", lane.observer.see)
    bare_journal = _BareCommits(folder / "bare.sqlite3")
    ours: list[float] = []
    theirs: list[float] = []
    clock = time.perf_counter_ns
    try:
        with gc_paused():
            for i, raw in enumerate(scans):
                lane.scanner_plugin.scanner.queue.append(raw)
                start = clock()
                payment = terminal.pay(AMOUNT, CURRENCY, supervisor=lane.supervisor, scan_timeout=1.0)
                ours.append(client.ready_ns - start)
                if payment.status.value != "SUCCESS":
                    raise AssertionError(f"whole-pay benchmark payment ended {payment.status}")
                start = clock()
                bare(raw.text)
                bare_journal.commit_twice(f"o{i}")
                theirs.append(clock() - start)
    finally:
        terminal.close()
        journal.close()
        bare_journal.close()
    warm = min(10, len(scans) // 5)
    return ours[warm:], theirs[warm:]


# ---------------------------------------------------------------------------- the benchmark


def run(cfg: Config) -> list[Figure | Check]:
    folder = cfg.folder("scan_to_wire")
    lane = _Lane(folder)
    try:
        salt = lane.settings.salt or ""
        bare = handwritten(salt, lane.observer.see)
        probe = _raw_scans(success_codes(1, start=10**9))[0]
        _same_request(lane.to_wire(probe), bare(probe.text), salt, lane.protocol)

        batches = cfg.pick(20000, 300)
        warmup = 200
        scans = iter(_raw_scans(success_codes(batches + warmup)))
        texts = iter([s.text for s in _raw_scans(success_codes(batches + warmup))])
        samples = sample_interleaved(
            {"paycode": lambda: lane.to_wire(next(scans)), "baseline": lambda: bare(next(texts))},
            batch=1,
            batches=batches,
            warmup=warmup,
        )
        paycode, base = Stats.of(samples["paycode"]), Stats.of(samples["baseline"])
        ratio = paycode.median / base.median
        composed = Figure(
            id="scan_to_wire",
            title="scan to wire: Scan -> signed unifiedPay body",
            value=paycode,
            baseline=base,
            baseline_label="hand-written, no plugins",
            goal="p99 < 200 us and <= 1.5x",
            met=paycode.p99 < GOAL_P99_NS and ratio <= GOAL_RATIO,
            notes="normalise, classify, build, serialise, sign, 3 events to 1 observer; no journal",
        )

        count = cfg.pick(1000, 30)
        whole_ours, whole_theirs = _whole_pay(lane, folder, _raw_scans(success_codes(count, start=10**6)))
        whole = Figure(
            id="scan_to_wire_journaled",
            title="scan to wire through Terminal.pay, journal included",
            value=Stats.of(whole_ours),
            baseline=Stats.of(whole_theirs),
            baseline_label="hand-written + 2 bare sqlite commits",
            goal="<= 1.2x",
            met=Stats.of(whole_ours).median <= 1.2 * Stats.of(whole_theirs).median,
            notes=f"journal: SQLite WAL, synchronous=FULL, on {cfg.filesystem(folder)}",
        )
        return [composed, whole]
    finally:
        lane.close()
