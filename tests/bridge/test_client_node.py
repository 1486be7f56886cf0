"""The JavaScript client (/v1/client.js) run by Node against a real bridge: pay, events, refund, errors, and
reconnecting after the server went away, resuming the stream after the last event id it saw.

Needs Node 20.10 or later (``--experimental-websocket``; Node 22 has WebSocket built in); skipped without it.
The browser runs the same client in tests/bridge/test_browser.py.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from paycode.bridge import BridgeServer

from tests.bridge.helpers import TOKEN, Running, wechat

Serve = Callable[..., Running]
NODE = shutil.which("node")

SCRIPT = r"""
import { Paycode, PaycodeError } from "./client.js";
const [url, token, paid, declined] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
const pc = new Paycode(url, token);
let connects = 0;
pc.on("connected", () => { connects += 1; out({ step: "connected", connects }); });
pc.on("disconnected", (d) => out({ step: "disconnected", code: d.code }));

const p = await pc.pay({ amount: "12.50", currency: "CNY", code: paid, reference: "node-1" });
const kinds = [];
const states = [];
p.on("event", (e) => kinds.push(e.event));
p.on("update", (d) => states.push(d.state));
const final = await p.done;
out({ step: "paid", state: final.state, kinds, states, code: final.code });
const refund = await p.refund({ amount: "2.50" });
out({ step: "refund", status: refund.status, refunded: refund.refunded, after: p.data.refunded });
try {
  await pc.pay({ amount: "1.005", currency: "CNY", code: paid });
} catch (e) {
  out({ step: "error", isError: e instanceof PaycodeError, status: e.status, code: e.code, field: e.field });
}
const lanes = await pc.lanes();
out({ step: "lanes", names: lanes.map((l) => l.name), listed: (await pc.list({ status: "paid" })).length });

// the server goes away; a payment happens meanwhile; the client must see it after reconnecting
const seen = new Promise((resolve) => {
  pc.on("event", (e) => {
    if (e.event === "payment.updated" && e.order === "offline-1" && e.payment.final) resolve(e);
  });
});
out({ step: "restart", last: pc.lastEventId });
const offline = await seen;
const handle = await pc.payment("offline-1");
out({ step: "resumed", state: offline.payment.state, connects, handle: handle.state });
const d = await pc.pay({ amount: "3.00", currency: "CNY", code: declined, reference: "node-2" });
out({ step: "declined", state: (await d.done).state });
pc.close();
"""


def node_supports_websocket() -> list[str] | None:
    if NODE is None:
        return None
    for flags in ([], ["--experimental-websocket"]):
        done = subprocess.run(
            [NODE, *flags, "-e", "if (typeof WebSocket !== 'function') process.exit(3)"],
            capture_output=True,
            timeout=30,
        )
        if done.returncode == 0:
            return flags
    return None


FLAGS = node_supports_websocket()
pytestmark = pytest.mark.skipif(FLAGS is None, reason="needs Node 20.10+ (the nodejs package) with WebSocket")


def test_the_client_in_node(serve: Serve, tmp_path: Path) -> None:
    run = serve()
    (tmp_path / "client.js").write_bytes(run.http.get("/v1/client.js").content)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "script.js").write_text(SCRIPT)
    assert NODE is not None and FLAGS is not None
    proc = subprocess.Popen(
        [NODE, *FLAGS, "script.js", run.url, TOKEN, wechat("003"), wechat("002")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    steps: dict[str, dict[str, Any]] = {}

    def until(step: str) -> dict[str, Any]:
        while step not in steps:
            line = lines.get(timeout=60)
            if line is None:
                assert proc.stderr is not None
                raise AssertionError(f"node ended before {step}: {proc.wait(5)} {proc.stderr.read()}")
            data = json.loads(line)
            steps.setdefault(data["step"], data)
        return steps[step]

    try:
        paid = until("paid")
        assert paid["state"] == "paid" and paid["code"] == "1300**********0003"
        assert {"payment.request", "payment.state", "payment.updated"} <= set(paid["kinds"])
        assert paid["states"][-1] == "paid"
        assert until("refund") == {"step": "refund", "status": "SUCCESS", "refunded": "2.50", "after": "2.50"}
        assert until("error") == {
            "step": "error",
            "isError": True,
            "status": 422,
            "code": "invalid_money",
            "field": "amount",
        }
        assert until("lanes") == {"step": "lanes", "names": ["lane-1"], "listed": 1}
        last = until("restart")["last"]
        port = run.server.port
        run.server.kill()  # the server goes away without draining: the client sees its stream drop
        reference, _ = run.bridge.create_payment(
            {"amount": "5.00", "currency": "CNY", "code": wechat("001"), "reference": "offline-1"}, None
        )
        run.server = BridgeServer(run.bridge, token=TOKEN, port=port).start()
        resumed = until("resumed")
        assert resumed["state"] == "paid" and resumed["handle"] == "paid" and resumed["connects"] >= 2
        assert until("declined")["state"] == "declined"
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    events = run.bridge.hub.events()
    assert last is not None and any(e.id == last for e in events)
    assert reference["reference"] == "offline-1"
