"""The kill tests of tests/test_kill.py on the PostgreSQL journal: a ``paycode pay`` (or ``refund``) process
killed with SIGKILL at every point of the flow, then ``paycode recover`` from another process: nobody is charged
twice, and the journal agrees with the gateway. (tests/test_kill.py runs the same points on SQLite.)

The points, the seeded delays and the checks are test_kill's own (loaded from its file); only the journal is a
fresh PostgreSQL database per run. ``PAYCODE_KILL_SEEDS=N`` runs N seeds per point (default 3).
"""

from __future__ import annotations

import importlib.util
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.sandbox import SandboxServer
from paycode.store.tempserver import TempPostgres

_spec = importlib.util.spec_from_file_location("_paycode_kill_points_pg", Path(__file__).parents[1] / "test_kill.py")
assert _spec is not None and _spec.loader is not None
kill = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kill)


def _journal_order_appears(run: Any, lane: Any, timeout: float = kill.STEP_TIMEOUT) -> bool:
    """test_kill's wait for the intent, reading the run's own journal (PostgreSQL here)."""
    end = time.monotonic() + timeout
    with open_journal(run.env["PAYCODE_JOURNAL"]) as journal:
        while time.monotonic() < end and lane.proc.poll() is None:
            if journal.order(run.order_id) is not None:
                return True
            time.sleep(0.002)
    return False


kill._journal_order_appears = _journal_order_appears


def one_run(point: str, seed: int, base_host: PluginHost, folder: Path, dsn: str) -> str:
    rng = random.Random(seed)
    folder.mkdir()
    with SandboxServer(wallets=base_host.wallets.values(), signers=base_host.signers, slow_seconds=0.6) as srv:
        code = base_host.wallets["Wechat-Offline"].patterns[0].make("001")
        env = {**kill.lane_env(srv, folder, seed), "PAYCODE_JOURNAL": dsn}
        run = kill.Run(seed, point, rng, srv, folder, env, f"kill-{point}-{seed}", code)
        try:
            hold = kill.POINTS[point](run)
            time.sleep(max(hold + 0.2, kill.DEADLINE + kill.GRACE + 0.1))
            kill.check(run)
        except AssertionError as exc:
            raise AssertionError(f"{point} seed {seed} (PostgreSQL): {exc}; {run.notes}") from None
        return f"{point} seed {seed}: {run.notes}"


@pytest.fixture(scope="module")
def kill_runs(
    base_host: PluginHost, pg_server: TempPostgres, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    folder = tmp_path_factory.mktemp("kills_pg")
    errors: dict[str, list[str]] = {point: [] for point in kill.POINTS}
    runs = [(point, 1000 * index + n) for index, point in enumerate(kill.POINTS) for n in range(kill.SEEDS)]
    dsns = {(p, s): pg_server.create_database(f"kill_{p}_{s}") for p, s in runs}
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {
            pool.submit(one_run, point, seed, base_host, folder / f"{point}-{seed}", dsns[point, seed]): point
            for point, seed in runs
        }
        for future, point in futures.items():
            try:
                future.result(timeout=180)
            except AssertionError as exc:
                errors[point].append(str(exc))
    return errors


@pytest.mark.slow
@pytest.mark.parametrize("point", list(kill.POINTS))
def test_killed_lane_is_recovered_on_postgresql(point: str, kill_runs: dict[str, list[str]]) -> None:
    assert not kill_runs[point], "\n".join(kill_runs[point])
