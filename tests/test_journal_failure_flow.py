"""A journal that fails while a payment is out (issue 16 item 2, the flow side), through a real Terminal against
the sandbox gateway: a real small tmpfs filled up, a read-only mount, the file removed mid-payment.

Before anything is sent a journal failure stops the payment (exit 2, nothing at the gateway). After the request
left, the lane follows the order to its end in memory, tells the true outcome, retries the writes, and refunds a
success it can never record. Mounting needs root: without it those tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import paycode
import pytest
from paycode import Event, PaymentStatus, Settings, Terminal
from paycode.cli import main
from paycode.errors import JournalError
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.sandbox import SandboxServer
from paycode.terminal import outcome

from .conftest import settings_for as shared_settings_for

CODE = "130000000000000001"  # WeChat; sandbox ending 001: paid at once


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} is not permitted here ({done.stderr.strip()}); these tests need root")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs of the test's own, unmounted afterwards."""
    if shutil.which("mount") is None:
        pytest.skip("the mount command (util-linux) is not installed")
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (these tests run as root in CI)")
    mnt = tmp_path / "small"
    mnt.mkdir()
    _mount("-t", "tmpfs", "-o", "size=256k,mode=700", "tmpfs", str(mnt))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; the filler file is returned (remove it to free)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0")
        except OSError:
            pass
    return filler


class At:
    """A plugin that runs ``action`` once, at the first event of ``kind`` (with ``step``), and records events."""

    def __init__(self, kind: str, action: Callable[[], None], step: str | None = None) -> None:
        self.kind, self.step, self.action = kind, step, action
        self.done = False
        self.events: list[Event] = []

    @paycode.hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        self.events.append(event)
        if not self.done and event.kind == self.kind and (self.step is None or event.data.get("step") == self.step):
            self.done = True
            self.action()

    def steps(self) -> list[str]:
        return [str(e.data.get("step")) for e in self.events if e.kind == "payment.journal"]


def settings_for(srv: SandboxServer, journal: Path, **overrides: Any) -> Settings:
    """The shared settings_for (tests/conftest.py; the sandbox fixture is its too) with this journal."""
    return shared_settings_for(srv, journal.parent, **{"journal": str(journal), "read_timeout": 1.0, **overrides})


def pay_with(srv: SandboxServer, journal: Path, plugin: At, order_id: str) -> Any:
    s = settings_for(srv, journal)
    with Terminal(s, host=PluginHost(s, plugins=[plugin]), recover=False) as t:
        return t.pay("18.00", "CNY", code=CODE, order_id=order_id)


def assert_refunded_in_full(srv: SandboxServer, payment: Any, plugin: At) -> None:
    assert payment.status is PaymentStatus.SUCCESS and payment.unrecorded
    assert outcome(payment) == "not_paid"  # paycode pay: "NOT PAID … refunded in full", exit 1
    assert payment.refunded == Decimal("18.00")
    view = srv.order(payment.merchant_transaction_id)
    assert view is not None and view.charged == 1 and view.refunded == Decimal("18.00")
    assert plugin.steps()[0] == "failed" and plugin.steps()[-2:] == ["refunding", "refunded"]


def test_a_disk_full_after_the_request_left_refunds_the_success_it_cannot_record(
    sandbox: SandboxServer, tmpfs: Path
) -> None:
    plugin = At("payment.request", lambda: fill(tmpfs))
    payment = pay_with(sandbox, tmpfs / "journal.sqlite3", plugin, "jf-full")
    assert_refunded_in_full(sandbox, payment, plugin)
    assert "disk is full" in payment.unrecorded


def test_a_disk_freed_while_retrying_records_the_payment(sandbox: SandboxServer, tmpfs: Path) -> None:
    fillers: list[Path] = []
    plugin = At("payment.request", lambda: fillers.append(fill(tmpfs)))
    freeing = At("payment.journal", lambda: fillers[0].unlink(), step="retrying")
    s = settings_for(sandbox, tmpfs / "journal.sqlite3")
    with Terminal(s, host=PluginHost(s, plugins=[plugin, freeing]), recover=False) as t:
        payment = t.pay("18.00", "CNY", code=CODE, order_id="jf-freed")
        record = t.journal.order("jf-freed")
    assert outcome(payment) == "paid" and not payment.unrecorded
    assert record is not None and record.status is PaymentStatus.SUCCESS and not record.unresolved
    assert plugin.steps() == ["failed", "retrying", "recorded"]
    view = sandbox.order("jf-freed")
    assert view is not None and view.charged == 1 and view.refunded == 0


def test_a_journal_on_a_read_only_mount_stops_the_payment_before_anything_is_sent(
    sandbox: SandboxServer, tmpfs: Path
) -> None:
    """A mount cannot turn read-only under an open file (the kernel says busy): the read-only case is at start."""
    with open_journal(str(tmpfs / "journal.sqlite3")):
        pass
    view_dir = tmpfs.parent / "view"
    view_dir.mkdir()
    _mount("--bind", str(tmpfs), str(view_dir))
    try:
        _mount("-o", "remount,ro,bind", str(view_dir))
        s = settings_for(sandbox, view_dir / "journal.sqlite3")
        with pytest.raises(JournalError, match="read-only") as caught:
            with Terminal(s, recover=False) as t:
                t.pay("18.00", "CNY", code=CODE, order_id="jf-ro")
    finally:
        subprocess.run(["umount", "-l", str(view_dir)], check=False)
    assert "read-only" in caught.value.message
    assert sandbox.order("jf-ro") is None


def test_a_journal_removed_mid_payment_refunds_the_success(sandbox: SandboxServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"

    def remove() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)

    plugin = At("payment.request", remove)
    payment = pay_with(sandbox, journal, plugin, "jf-gone")
    assert_refunded_in_full(sandbox, payment, plugin)


def test_a_journal_that_cannot_record_the_intent_stops_the_payment_before_anything_is_sent(
    sandbox: SandboxServer, tmpfs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmpfs / "journal.sqlite3"
    with open_journal(str(journal)):
        pass  # the journal exists; then the disk fills up
    fill(tmpfs)
    for name in [k for k in os.environ if k.startswith("PAYCODE_")]:
        monkeypatch.delenv(name)
    s = settings_for(sandbox, journal)
    for name, value in {
        "PAYCODE_GATEWAY": s.gateway,
        "PAYCODE_ACC_ID": s.acc_id or "",
        "PAYCODE_CLIENT_ID": s.client_id or "",
        "PAYCODE_SALT": s.salt or "",
        "PAYCODE_JOURNAL": s.journal,
    }.items():
        monkeypatch.setenv(name, value)
    status = main(["pay", "--amount", "18.00", "--currency", "CNY", "--code", CODE, "--order", "jf-intent"])
    err = capsys.readouterr().err
    assert status == 2  # never 1: the gateway said nothing
    assert err.startswith("paycode: error: journal") and "full" in err and err.count("\n") == 1
    assert sandbox.order("jf-intent") is None


def test_a_journal_removed_while_a_refund_is_out_follows_the_refund_in_memory(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"

    def remove() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)

    plugin = At("payment.refund", remove, step="request")
    s = settings_for(sandbox, journal)
    with Terminal(s, host=PluginHost(s, plugins=[plugin]), recover=False) as t:
        assert outcome(t.pay("18.00", "CNY", code=CODE, order_id="jf-refund")) == "paid"
        result = t.refund("jf-refund", "5.00")
    assert result.status is PaymentStatus.SUCCESS and result.refunded == Decimal("5.00")
    assert "not recorded in the journal" in result.description
    view = sandbox.order("jf-refund")
    assert view is not None and view.refunded == Decimal("5.00")
    assert plugin.steps() == ["failed"]


@pytest.mark.parametrize("released", [True, False])
def test_a_journal_locked_by_another_writer_while_the_charge_is_out(
    sandbox: SandboxServer, tmp_path: Path, released: bool
) -> None:
    """The issue's case: the journal locked by another writer while the charge was out. Never 'not paid' while the
    gateway has it SUCCESS: recorded once the lock is released, else refunded in full (and said so)."""
    path = tmp_path / "journal.sqlite3"
    holder: list[sqlite3.Connection] = []

    def lock() -> None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("BEGIN IMMEDIATE")  # another writer holds the journal
        holder.append(db)

    def release() -> None:
        holder[0].execute("ROLLBACK")

    plugin = At("payment.request", lock)
    plugins: list[Any] = [plugin]
    if released:
        plugins.append(At("payment.journal", release, step="retrying"))
    s = settings_for(sandbox, path)
    journal = open_journal(str(path), timeout=0.3)  # a short busy timeout keeps the test quick
    try:
        with Terminal(s, host=PluginHost(s, plugins=plugins), journal=journal, recover=False) as t:
            payment = t.pay("18.00", "CNY", code=CODE, order_id=f"jf-lock-{released}")
    finally:
        for db in holder:
            db.close()
        journal.close()
    assert "locked" in plugin.events[[e.kind for e in plugin.events].index("payment.journal")].data["error"]
    if released:
        assert outcome(payment) == "paid" and not payment.unrecorded
        with open_journal(str(path)) as again:
            record = again.order(payment.merchant_transaction_id)
        assert record is not None and record.status is PaymentStatus.SUCCESS and not record.unresolved
    else:
        assert_refunded_in_full(sandbox, payment, plugin)


def test_paycode_pay_tells_the_cashier_when_the_disk_fills_mid_payment(
    sandbox: SandboxServer, tmpfs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line, end to end: never exit 70 or 1 on a success; the true outcome and what was done."""
    import paycode.host

    plugin = At("payment.request", lambda: fill(tmpfs))

    class FillingHost(paycode.host.PluginHost):  # the command's own host, with the test's plugin beside its printer
        def __init__(self, *args: Any, plugins: Any = (), **kw: Any) -> None:
            super().__init__(*args, plugins=[*plugins, plugin], **kw)

    monkeypatch.setattr(paycode.host, "PluginHost", FillingHost)
    for name in [k for k in os.environ if k.startswith("PAYCODE_")]:
        monkeypatch.delenv(name)
    s = settings_for(sandbox, tmpfs / "journal.sqlite3")
    for name, value in {
        "PAYCODE_GATEWAY": s.gateway,
        "PAYCODE_ACC_ID": s.acc_id or "",
        "PAYCODE_CLIENT_ID": s.client_id or "",
        "PAYCODE_SALT": s.salt or "",
        "PAYCODE_JOURNAL": s.journal,
    }.items():
        monkeypatch.setenv(name, value)
    status = main(["pay", "--amount", "18.00", "--currency", "CNY", "--code", CODE, "--order", "jf-cli", "--json"])
    out, err = capsys.readouterr()
    last = json.loads(out.splitlines()[-1])
    assert status == 1 and last["result"] == "not_paid" and last["status"] == "SUCCESS"
    assert last["refunded"] == "18.00" and "disk is full" in last["unrecorded"]
    assert err.startswith("paycode: warning: the journal could not record order jf-cli:") and err.count("\n") == 1
    view = sandbox.order("jf-cli")
    assert view is not None and view.charged == 1 and view.refunded == Decimal("18.00")
