"""A plain ``paycode pay`` process builds its waker from the settings (``wake = "auto"``): the notification
receiver, another process, wakes it as soon as it applies the shopper's confirmation, on both backends (a datagram
on 127.0.0.1 for a SQLite journal, LISTEN/NOTIFY for PostgreSQL). ``wake = "off"`` keeps plain polling.

The lane polls every 30 s, far beyond the time the test gives it: the payment the shopper confirms during the
password step (the sandbox's ``007`` code) can only finish in time because the receiver woke the lane.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.sandbox import SandboxServer

from .test_store import POLL, environment, receiver_process


@pytest.fixture
def store(
    journal_setting: str, base_host: PluginHost, tmp_path: Path
) -> Iterator[tuple[SandboxServer, str, dict[str, str]]]:
    """The sandbox gateway and ``paycode notifications`` on this test's journal, in its own process; yields
    (sandbox, the receiver's URL, the environment of a lane)."""
    with (
        SandboxServer(wallets=base_host.wallets.values(), signers=base_host.signers, password_seconds=1.0) as srv,
        receiver_process(srv, journal_setting, tmp_path) as url,
    ):
        yield srv, url, environment(srv, journal_setting, PAYCODE_NOTIFICATION_URL=url)


def pay(env: dict[str, str], cwd: Path, code: str, order_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paycode", "pay", "--amount", "12.50", "--currency", "CNY", "--code", code,
         "--order", order_id, "--json"],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_pay_process_is_woken_by_the_receiver_of_another_process(
    store: tuple[SandboxServer, str, dict[str, str]], journal_setting: str, base_host: PluginHost, tmp_path: Path
) -> None:
    srv, _, env = store
    code = base_host.wallets["Wechat-Offline"].patterns[0].make("1007")  # confirmed during the password step
    proc = pay(env, tmp_path, code, "woken-1")
    try:
        out, err = proc.communicate(timeout=POLL - 5)  # less than one poll interval: only a wake-up finishes it
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("paycode pay was not woken by the receiver: it waited for its next poll")
    assert proc.returncode == 0, (out, err)
    assert '"SUCCESS"' in out, out
    view = srv.order("woken-1")
    assert view is not None and view.status == "SUCCESS" and view.charged == 1
    with open_journal(journal_setting) as journal:
        record = journal.order("woken-1")
        assert record is not None and record.status.value == "SUCCESS" and not record.unresolved
        # the lane asked once more after it was woken; a lane that polled would not have asked yet
        kinds = [a.kind for a in journal.attempts("woken-1")]
        assert kinds.count("pay") == 1 and kinds.count("query") <= 2, kinds
    if not journal_setting.startswith("postgresql://"):  # the datagram waker's entry and folder go when it closes
        assert not Path(journal_setting + ".wake").exists()


def test_wake_off_keeps_plain_polling(
    store: tuple[SandboxServer, str, dict[str, str]], journal_setting: str, base_host: PluginHost, tmp_path: Path
) -> None:
    srv, _, env = store
    env = {**env, "PAYCODE_WAKE": "off", "PAYCODE_POLL_INTERVAL": "0.5"}
    code = base_host.wallets["Wechat-Offline"].patterns[0].make("2007")
    proc = pay(env, tmp_path, code, "polled-1")
    out, err = proc.communicate(timeout=POLL)
    assert proc.returncode == 0, (out, err)
    assert '"SUCCESS"' in out, out
    view = srv.order("polled-1")
    assert view is not None and view.status == "SUCCESS" and view.charged == 1
    with open_journal(journal_setting) as journal:
        assert [a.kind for a in journal.attempts("polled-1")].count("query") >= 1  # it polled to the answer
    if not journal_setting.startswith("postgresql://"):
        assert not Path(journal_setting + ".wake").exists()  # no waker was made
