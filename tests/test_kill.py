"""A lane killed with SIGKILL at every point of the flow, then restarted: nobody is charged twice, and the
journal agrees with the gateway.

Each run starts a real ``python -m paycode pay`` (or ``refund``) subprocess against an in-test sandbox gateway
(its own server and journal, so runs are independent and can go side by side), waits for a point of the flow
in the JSON steps it prints (or in the journal), kills it with SIGKILL after a random extra delay, lets any
request still held by the gateway finish, then restarts: ``paycode recover`` must settle everything (exit 0),
the sandbox must show at most one charge, and ``paycode history`` must say what ``paycode query`` says.

The delays are chosen by a seeded random generator, so a failing seed can be run again:
``PAYCODE_KILL_SEEDS=N`` runs N seeds per point (default 3).
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.sandbox import FaultSwitch, SandboxServer

SEEDS = int(os.environ.get("PAYCODE_KILL_SEEDS", "3"))
DEADLINE = 0.6  # seconds the lane waits for the shopper (PAYCODE_DEADLINE)
READ_TIMEOUT = 0.3
CONNECT_TIMEOUT = 0.2
GRACE = READ_TIMEOUT + CONNECT_TIMEOUT  # recovery believes "no such order" only after this
STEP_TIMEOUT = 20.0  # bound on waiting for any one step of a subprocess

PAY = "/v4/payment/unifiedPay"
REFUND = "/v4/payment/refund"

#: every kill point with every seed, in subprocesses: most of a minute (pytest -m "not slow" leaves it out)
pytestmark = pytest.mark.slow


# ---------------------------------------------------------------------------- a lane process


class LaneProcess:
    """A ``python -m paycode …`` subprocess whose JSON step lines are read as they come."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paycode", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = STEP_TIMEOUT) -> bool:
        """Read steps until one is ``wanted`` (True), or the process ended or the time is up (False)."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            step = json.loads(line)
            self.seen.append(step)
            if wanted(step):
                return True
        return False

    def kill(self) -> bool:
        """SIGKILL (when still running); True when it was killed rather than already done."""
        killed = self.proc.poll() is None
        if killed:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STEP_TIMEOUT)
        self.reader.join(timeout=STEP_TIMEOUT)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()
        return killed


def step(kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s.get("event") == kind and all(s.get(k) == v for k, v in fields.items())


# ---------------------------------------------------------------------------- one run


@attrs.define
class Run:
    """One seeded kill: its own sandbox gateway and journal, the environment of its lane."""

    seed: int
    point: str
    rng: random.Random
    srv: SandboxServer
    folder: Path
    env: dict[str, str]
    order_id: str
    code: str
    notes: list[str] = attrs.field(factory=list)

    @property
    def journal_path(self) -> Path:
        return self.folder / "journal.sqlite3"

    def paycode(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paycode", *argv],
            capture_output=True,
            text=True,
            env={**self.env, **env},
            cwd=self.folder,
            timeout=60,
        )

    def start(self, *argv: str) -> LaneProcess:
        return LaneProcess(list(argv), self.env, self.folder)

    def pay(self) -> LaneProcess:
        return self.start(
            "pay", "--amount", "20.00", "--currency", "CNY", "--code", self.code, "--order", self.order_id, "--json"
        )

    def kill_after(
        self,
        lane: LaneProcess,
        wanted: Callable[[dict[str, Any]], bool],
        jitter: float,
        arrived: Callable[[], bool] | None = None,
    ) -> None:
        """Kill ``lane`` a random moment (up to ``jitter`` s) after the step ``wanted`` was printed and, when
        given, after ``arrived()`` says the request reached the gateway."""
        reached = lane.wait_for(wanted)
        if arrived is not None:
            end = time.monotonic() + STEP_TIMEOUT
            while not arrived() and lane.proc.poll() is None and time.monotonic() < end:
                time.sleep(0.002)
        pause = self.rng.uniform(0, jitter)
        time.sleep(pause)
        killed = lane.kill()
        steps = [s.get("event") for s in lane.seen]
        self.notes.append(f"reached={reached} pause={pause:.3f} killed={killed} steps={steps}")

    def held(self, fault: str) -> Callable[[], bool]:
        """True once the request the one-shot fault ``fault`` waits for has reached the gateway (it used it up)."""
        return lambda: getattr(self.srv.faults, fault) is None

    def committed(self) -> bool:
        return self.srv.order(self.order_id) is not None


def _journal_order_appears(run: Run, lane: LaneProcess, timeout: float = STEP_TIMEOUT) -> bool:
    end = time.monotonic() + timeout
    with Journal(run.journal_path) as journal:
        while time.monotonic() < end and lane.proc.poll() is None:
            if journal.order(run.order_id) is not None:
                return True
            time.sleep(0.002)
    return False


def kill_journaled(run: Run) -> float:
    """Right after the intent is journaled: the request may or may not have left."""
    run.code = run.code[:-3] + run.rng.choice(["001", "003", "006"])
    lane = run.pay()
    reached = _journal_order_appears(run, lane)
    pause = run.rng.uniform(0, 0.01)
    time.sleep(pause)
    killed = lane.kill()
    run.notes.append(f"journaled={reached} pause={pause:.3f} killed={killed}")
    return run.srv.slow_seconds


def kill_request_left(run: Run) -> float:
    """The request left and the gateway holds it; the lane dies before the gateway even processes it."""
    hold = run.rng.uniform(0.3, 0.7)
    run.srv.faults.delay = FaultSwitch(path=PAY, times=1, seconds=hold)
    run.kill_after(run.pay(), step("payment.request"), 0.15, arrived=run.held("delay"))
    return hold


def kill_slow_commit(run: Run) -> float:
    """The payment committed at once but its answer comes late (slow_commit): killed while waiting for it."""
    run.code = run.code[:-3] + "006"
    run.srv.slow_seconds = run.rng.uniform(0.4, 0.8)
    run.kill_after(run.pay(), step("payment.request"), 0.3, arrived=run.committed)
    return run.srv.slow_seconds


def kill_answer_lost(run: Run) -> float:
    """Committed, then the answer is held after the commit: killed between sending and receiving."""
    hold = run.rng.uniform(0.3, 0.6)
    run.srv.faults.delay = FaultSwitch(path=PAY, times=1, seconds=hold, after_commit=True)
    run.kill_after(run.pay(), step("payment.request"), 0.2, arrived=run.committed)
    return hold


def kill_polling(run: Run) -> float:
    """While the shopper types the password: killed between queries."""
    run.code = run.code[:-3] + run.rng.choice(["003", "004"])
    run.kill_after(run.pay(), step("payment.poll", poll=run.rng.choice([1, 2])), 0.1)
    return 0.0


def kill_closing(run: Run) -> float:
    """At the deadline, while following the close of the order the shopper never confirmed (no void: timeExpire)."""
    run.code = run.code[:-3] + "004"
    run.kill_after(run.pay(), step("payment.close", step="closing"), 0.02)
    return 0.0


def kill_refunding(run: Run) -> float:
    """During a refund of a paid order: the refund request left, its answer never read."""
    paid = run.paycode(
        "pay", "--amount", "20.00", "--currency", "CNY", "--code", run.code, "--order", run.order_id,
        PAYCODE_READ_TIMEOUT="10", PAYCODE_DEADLINE="10",  # this payment is not the one under test: let it finish
    )  # fmt: skip
    assert paid.returncode == 0, paid.stderr
    hold = run.rng.uniform(0.3, 0.6)
    run.srv.faults.delay = FaultSwitch(path=REFUND, times=1, seconds=hold)
    amount = run.rng.choice(["20.00", "5.00", "0.01"])
    lane = run.start("refund", "--order", run.order_id, "--amount", amount, "--json")
    run.kill_after(lane, step("payment.refund", step="request"), 0.15, arrived=run.held("delay"))
    return hold


POINTS: dict[str, Callable[[Run], float]] = {
    "journaled": kill_journaled,
    "request_left": kill_request_left,
    "slow_commit": kill_slow_commit,
    "answer_lost": kill_answer_lost,
    "polling": kill_polling,
    "closing": kill_closing,
    "refunding": kill_refunding,
}


def lane_env(srv: SandboxServer, folder: Path, seed: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    c = srv.credentials
    env.update(
        PAYCODE_GATEWAY=srv.base_url,
        PAYCODE_ACC_ID=c.acc_id,
        PAYCODE_CLIENT_ID=c.client_id,
        PAYCODE_SALT=c.salt,
        PAYCODE_JOURNAL=str(folder / "journal.sqlite3"),
        PAYCODE_LANE=f"lane-{seed}",
        PAYCODE_DEADLINE=str(DEADLINE),
        PAYCODE_POLL_INTERVAL="0.1",
        PAYCODE_READ_TIMEOUT=str(READ_TIMEOUT),
        PAYCODE_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
    )
    return env


def check(run: Run) -> None:
    """Restart the lane (``paycode recover``) and compare the journal with the gateway."""
    for _ in range(3):  # as an operator would: run it again while the gateway could not be asked (a busy machine)
        recovered = run.paycode("recover", "--json")
        results = [json.loads(line) for line in recovered.stdout.splitlines()]
        run.notes.append(f"recovered={[(r['before'], r['after'], r['action']) for r in results]}")
        if recovered.returncode != 3 or any(r["action"] != "unknown" for r in results if not r["resolved"]):
            break
        time.sleep(GRACE)
    assert recovered.returncode == 0, (recovered.returncode, results, recovered.stderr)
    assert all(r["resolved"] for r in results)

    view = run.srv.order(run.order_id)
    history = run.paycode("history", "--order", run.order_id, "--json")
    assert history.returncode == 0, history.stderr
    record = json.loads(history.stdout)
    assert record["unresolved"] is False
    assert record["code"] == "1300**********" + run.code[-4:]
    if view is None:  # the request never reached the gateway: the journal says so, and nothing was charged
        assert record["status"] == "FAILED" and record["transaction_id"] is None
        assert run.srv.charges_for(run.code) == 0
        return
    assert view.charged <= 1, view
    assert run.srv.charges_for(run.code) == view.charged
    assert record["status"] == view.status
    assert Decimal(record["refunded"]) == view.refunded
    assert Decimal(record["refunds_pending"]) == 0
    if view.status == "SUCCESS" and record["abandoned"]:
        assert view.refunded == view.amount  # a success the lane had given up on is refunded
    query = run.paycode("query", "--order", run.order_id, "--json", PAYCODE_READ_TIMEOUT="10")
    assert query.returncode in (0, 1), query.stderr
    answer = json.loads(query.stdout.splitlines()[-1])
    assert answer["status"] == record["status"] == view.status


def one_run(point: str, seed: int, base_host: PluginHost, folder: Path) -> str:
    rng = random.Random(seed)
    folder.mkdir()
    with SandboxServer(wallets=base_host.wallets.values(), signers=base_host.signers, slow_seconds=0.6) as srv:
        code = base_host.wallets["Wechat-Offline"].patterns[0].make("001")
        run = Run(seed, point, rng, srv, folder, lane_env(srv, folder, seed), f"kill-{point}-{seed}", code)
        try:
            hold = POINTS[point](run)
            # let the gateway finish what it still holds, and let the order's deadline and the grace pass
            time.sleep(max(hold + 0.2, DEADLINE + GRACE + 0.1))
            check(run)
        except AssertionError as exc:
            raise AssertionError(f"{point} seed {seed}: {exc}; {run.notes}") from None
        return f"{point} seed {seed}: {run.notes}"


@pytest.fixture(scope="module")
def kill_runs(base_host: PluginHost, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every point with every seed, side by side (each run has its own gateway and journal): errors by point."""
    folder = tmp_path_factory.mktemp("kills")
    errors: dict[str, list[str]] = {point: [] for point in POINTS}
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {
            pool.submit(one_run, point, seed, base_host, folder / f"{point}-{seed}"): point
            for index, point in enumerate(POINTS)
            for seed in (1000 * index + n for n in range(SEEDS))
        }
        for future, point in futures.items():
            try:
                future.result(timeout=180)
            except AssertionError as exc:
                errors[point].append(str(exc))
    return errors


@pytest.mark.parametrize("point", list(POINTS))
def test_killed_lane_is_recovered(point: str, kill_runs: dict[str, list[str]]) -> None:
    assert not kill_runs[point], "\n".join(kill_runs[point])


def test_recover_reports_the_true_state_after_a_kill_during_slow_commit(base_host: PluginHost, tmp_path: Path) -> None:
    """The issue's acceptance case, step by step: kill `paycode pay` on slow_commit, `paycode recover` says
    SUCCESS (exit 0), and `paycode history` agrees with `paycode query`."""
    with SandboxServer(wallets=base_host.wallets.values(), signers=base_host.signers, slow_seconds=1.0) as srv:
        code = base_host.wallets["Wechat-Offline"].patterns[0].make("006")
        run = Run(0, "slow_commit", random.Random(0), srv, tmp_path, lane_env(srv, tmp_path, 0), "slow-1", code)
        lane = run.pay()
        assert lane.wait_for(step("payment.request"))
        end = time.monotonic() + STEP_TIMEOUT
        while not run.committed() and time.monotonic() < end:
            time.sleep(0.002)
        assert lane.kill()  # committed; the answer is held for a second: killed while waiting for it
        with Journal(run.journal_path) as journal:
            record = journal.order("slow-1")
            assert record is not None and record.status.value in ("INIT", "UNKNOWN") and record.unresolved
        time.sleep(1.1)
        recovered = run.paycode("recover", PAYCODE_READ_TIMEOUT="5")  # the order is at the gateway: no grace needed
        assert recovered.returncode == 0, recovered.stderr
        assert recovered.stdout.splitlines()[0].startswith("slow-1  lane-0  ")
        assert " -> SUCCESS  recorded" in recovered.stdout.splitlines()[0]
        history = json.loads(run.paycode("history", "--order", "slow-1", "--json").stdout)
        query = json.loads(
            run.paycode("query", "--order", "slow-1", "--json", PAYCODE_READ_TIMEOUT="5").stdout.splitlines()[-1]
        )
        assert history["status"] == query["status"] == "SUCCESS"
        assert srv.order("slow-1").charged == 1  # type: ignore[union-attr]
