"""Wake-ups: a waiting lane returns when news of its order arrives, in-process, between processes on SQLite
(datagrams on 127.0.0.1) and through PostgreSQL's LISTEN/NOTIFY; and never returns early for another order."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from paycode.errors import ConfigError
from paycode.models import Money
from paycode.settings import Settings
from paycode.store.pg_journal import PostgresJournal
from paycode.store.wake import DatagramWaker, PostgresWaker
from paycode.wake import LocalWaker, SleepWaker, Waker, waker_for

LONG = 30.0  # a wait that would fail the test's time budget if nothing woke it


def wake_soon(waker: Waker, order_id: str, after: float = 0.05) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(after), waker.notify(order_id)))
    thread.start()
    return thread


def test_sleep_waker_is_never_woken() -> None:
    waker = SleepWaker()
    waker.notify("o-1")
    assert waker.wait("o-1", 0.01) is False
    assert asyncio.run(waker.wait_async("o-1", 0.01)) is False
    assert isinstance(waker, Waker)


def test_local_waker_wakes_the_waiter_of_that_order_only() -> None:
    waker = LocalWaker()
    other = threading.Thread(target=lambda: (time.sleep(0.05), waker.notify("o-2")))
    other.start()
    assert waker.wait("o-1", 0.3) is False  # news of another order does not wake it
    other.join()
    thread = wake_soon(waker, "o-1")
    started = time.monotonic()
    assert waker.wait("o-1", LONG) is True
    assert time.monotonic() - started < LONG
    thread.join()
    assert waker.waiting == 0


def test_news_before_the_wait_is_not_lost() -> None:
    waker = LocalWaker(memory=60)
    waker.notify("o-1")  # arrived between the lane's query and its next wait
    assert waker.wait("o-1", LONG) is True
    assert waker.wait("o-1", 0.01) is False  # the news is used once


def test_old_news_is_forgotten() -> None:
    waker = LocalWaker(memory=0.05, keep=2)
    waker.notify("o-1")
    time.sleep(0.1)
    assert waker.wait("o-1", 0.01) is False
    for n in range(10):
        waker.notify(f"x-{n}")
    assert len(waker._news) <= 3


def test_async_waiters_wake_from_another_thread() -> None:
    waker = LocalWaker()

    async def main() -> tuple[bool, bool]:
        thread = wake_soon(waker, "o-1")
        woken = await waker.wait_async("o-1", LONG)
        thread.join()
        timed_out = await waker.wait_async("o-9", 0.05)
        return woken, timed_out

    assert asyncio.run(main()) == (True, False)


def test_closing_releases_every_waiter() -> None:
    waker = LocalWaker()
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(waker.wait("o-1", LONG)))
    thread.start()
    while waker.waiting == 0:
        time.sleep(0.005)
    waker.close()
    thread.join(timeout=5)
    assert result == [False]


LANE = r"""
import sys, time
from paycode.settings import Settings
from paycode.wake import waker_for
waker = waker_for(Settings(journal=sys.argv[1]))
ready = getattr(waker, "connected", None)
if ready is not None:
    ready.wait(10)
print("waiting", flush=True)
started = time.monotonic()
woken = waker.wait(sys.argv[2], float(sys.argv[3]))
print(woken, round(time.monotonic() - started, 3), flush=True)
waker.close()
"""


def run_lane(journal: str, order_id: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", LANE, journal, order_id, str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "waiting"
    return proc


def test_datagrams_wake_a_lane_in_another_process(tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.sqlite3")
    lane = run_lane(journal, "o-1", LONG)
    sender = waker_for(Settings(journal=journal), listen=False)
    assert isinstance(sender, DatagramWaker)
    try:
        deadline = time.monotonic() + 10
        while lane.poll() is None and time.monotonic() < deadline:
            sender.notify("o-2")  # not its order
            sender.notify("o-1")
            time.sleep(0.2)  # a datagram sent before the lane's wait began is kept as news; resend anyway
        out, err = lane.communicate(timeout=10)
    finally:
        sender.close()
    woken, _ = out.split()
    assert woken == "True", err
    assert not (tmp_path / "journal.sqlite3.wake").exists()  # the lane removed its entry, and the folder left empty


def test_datagram_entries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "j.sqlite3.wake"
    folder.mkdir()
    (folder / "999999999-40000").touch()
    waker = DatagramWaker(tmp_path / "j.sqlite3", listen=False)
    try:
        waker.notify("o-1")
    finally:
        waker.close()
    assert list(folder.iterdir()) == []


def test_a_postgresql_commit_wakes_a_lane_in_another_process(pg_dsn: str) -> None:
    with PostgresJournal(pg_dsn) as journal:
        journal.begin_order(
            "o-1", money=Money("1.00", "CNY"), wallet="W", code_masked="13**1", lane="lane-1", deadline_at=0
        )
        lane = run_lane(pg_dsn, "o-1", LONG)
        time.sleep(0.2)
        journal.set_state("o-1", "PROCESSING")  # not news: the lane keeps waiting
        time.sleep(0.3)
        assert lane.poll() is None
        journal.set_state("o-1", "SUCCESS", note="notification")  # the receiver applies the outcome
        out, err = lane.communicate(timeout=15)
    woken, _ = out.split()
    assert woken == "True", err


def test_postgres_waker_notify_reaches_other_processes(pg_dsn: str) -> None:
    PostgresJournal(pg_dsn).close()  # the database exists and is migrated
    lane = run_lane(pg_dsn, "o-7", LONG)
    sender = waker_for(Settings(journal=pg_dsn), listen=False)
    try:
        assert isinstance(sender, PostgresWaker)
        sender.notify("o-7")
        out, err = lane.communicate(timeout=15)
    finally:
        sender.close()
    assert out.split()[0] == "True", err


def test_wake_off_only_sleeps(tmp_path: Path) -> None:
    assert isinstance(waker_for(Settings(journal=str(tmp_path / "j"), wake="off")), SleepWaker)
    with pytest.raises(ConfigError, match="accepted: auto"):
        Settings.load(env={"PAYCODE_WAKE": "sometimes"})
