"""Every way the journal's storage can fail is a JournalError with a clear message, never a raw sqlite3 error.

Real failures, not imitations: a small tmpfs filled to many levels (full disk), a read-only bind mount, another
connection holding the write lock, the file and its folder removed while open. Mounting needs root; without it
those tests are skipped, naming what is missing. Also: file and folder modes (issue 16 item 6).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from paycode.errors import ConfigError, JournalError
from paycode.journal import _MIGRATIONS, Journal, retry_write
from paycode.masking import mask_code
from paycode.models import Money, PaymentStatus
from paycode.settings import Settings

CODE = "130000000000000001"


def begin(j: Journal, order_id: str) -> None:
    j.begin_order(
        order_id,
        money=Money("12.50", "CNY"),
        wallet="Wechat-Offline",
        code_masked=mask_code(CODE),
        lane="lane-1",
        deadline_at=time.time() + 30,
        gateway="sandbox",
        site="http://127.0.0.1:9",
    )


def pay(j: Journal, order_id: str) -> None:
    """What the flow writes for a payment paid at once: two batches."""
    with j.batch():
        begin(j, order_id)
        j.begin_attempt(order_id, f"rq-{order_id}", "pay")
    with j.batch():
        j.end_attempt(order_id, f"rq-{order_id}", outcome="answered", code="000000", status="SUCCESS")
        j.set_state(order_id, PaymentStatus.SUCCESS, transaction_id=f"TX-{order_id}")


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode:
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


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system holding ``folder`` with a file, then free about ``leave`` bytes of it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            try:
                os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        size = os.fstat(fd).st_size
        os.ftruncate(fd, max(size - leave, 0))
    finally:
        os.close(fd)
    return filler


# ---------------------------------------------------------------------------- full disk


@pytest.mark.parametrize("leave", [0, 4096, 8192, 16384, 32768, 65536, 98304])
def test_a_full_disk_at_any_level_is_a_clear_error_and_loses_nothing_written(tmpfs: Path, leave: int) -> None:
    path = tmpfs / "journal.sqlite3"
    j = Journal(path, timeout=1.0)
    pay(j, "before")
    filler = fill(tmpfs, leave)
    written: list[str] = []
    failure: JournalError | None = None
    for n in range(3000):
        try:
            pay(j, f"o-{n}")
        except JournalError as exc:
            failure = exc
            break
        written.append(f"o-{n}")
    assert failure is not None, f"{len(written)} payments fitted into a full 256 KiB disk"
    message = str(failure)
    assert "database or disk is full" in message, message
    assert "rollback" not in message and "OperationalError" not in message
    assert failure.context["reason"] == "full"
    # what failed failed whole (a batch is all or nothing), and the journal still reads
    failed = f"o-{len(written)}"
    record = j.order(failed)
    assert record is None or record.status in (PaymentStatus.INIT, PaymentStatus.SUCCESS)
    # space comes back: the flow's retry (reopen, then the write again) records what was left
    filler.unlink()
    if record is None:
        retry_write(j, lambda: pay(j, failed), delay=0, attempts=2)
    else:
        retry_write(j, lambda: pay_rest(j, failed), delay=0, attempts=2)
    j.close()
    with Journal(path) as again:
        for order_id in ["before", *written, failed]:
            found = again.order(order_id)
            assert found is not None and found.status is PaymentStatus.SUCCESS, order_id


def pay_rest(j: Journal, order_id: str) -> None:
    with j.batch():
        j.end_attempt(order_id, f"rq-{order_id}", outcome="answered", code="000000", status="SUCCESS")
        j.set_state(order_id, PaymentStatus.SUCCESS, transaction_id=f"TX-{order_id}")


def test_a_full_disk_at_start_says_so_not_cannot_rollback(tmpfs: Path) -> None:
    fill(tmpfs, 0)
    with pytest.raises(JournalError) as caught:
        Journal(tmpfs / "new.sqlite3", timeout=1.0)
    message = str(caught.value)
    assert "database or disk is full" in message, message
    assert "rollback" not in message


def test_a_full_disk_while_migrating_an_old_file_says_so_and_keeps_it(tmpfs: Path) -> None:
    path = tmpfs / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1])
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    filler = fill(tmpfs, 0)
    with pytest.raises(JournalError, match="database or disk is full") as caught:
        Journal(path, timeout=1.0)
    assert "rollback" not in str(caught.value)
    filler.unlink()
    with Journal(path) as j:  # the migration was all or nothing, and now it is made
        begin(j, "o-1")
        record = j.order("o-1")
        assert record is not None and record.site == "http://127.0.0.1:9"


# ---------------------------------------------------------------------------- read-only


def test_a_journal_on_a_read_only_mount_is_a_clear_error(tmpfs: Path, tmp_path: Path) -> None:
    with Journal(tmpfs / "journal.sqlite3") as j:
        pay(j, "o-1")
    view = tmp_path / "read-only-view"
    view.mkdir()
    _mount("--bind", str(tmpfs), str(view))
    try:
        _mount("-o", "remount,ro,bind", str(view))
        for target in (view / "journal.sqlite3", view / "new.sqlite3", view / "deeper" / "new.sqlite3"):
            with pytest.raises(JournalError) as caught:
                Journal(target, timeout=1.0)
            message = str(caught.value)
            assert f"journal {str(target)!r} is read-only: the file system holding" in message, message
            assert "mounted read-only" in message
            assert caught.value.context["reason"] == "read-only"
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


# ---------------------------------------------------------------------------- locked


def test_a_journal_locked_by_another_process_says_so_and_a_retry_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    j = Journal(path, timeout=0.2)
    begin(j, "o-1")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " db.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.readline()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(JournalError) as caught:
            j.set_state("o-1", "PROCESSING")
        message = str(caught.value)
        assert message.startswith(f"journal {str(path)!r} is locked by another process: waited 0.2 s"), message
        assert caught.value.context["reason"] == "locked"
        failures: list[int] = []

        def release(error: JournalError, attempt: int) -> None:
            failures.append(attempt)
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(10)

        assert retry_write(j, lambda: j.set_state("o-1", "PROCESSING"), delay=0, on_failure=release) is True
        assert failures == [1]
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(10)
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
    record = j.order("o-1")
    assert record is not None and record.status is PaymentStatus.PROCESSING
    j.close()


def test_retry_write_gives_up_after_its_attempts_with_the_last_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    j = Journal(path, timeout=0.05)
    begin(j, "o-1")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        seen: list[int] = []
        slept: list[float] = []
        with pytest.raises(JournalError, match="is locked by another process"):
            retry_write(
                j,
                lambda: j.set_state("o-1", "PROCESSING"),
                attempts=3,
                delay=0.5,
                sleep=slept.append,
                on_failure=lambda e, n: seen.append(n),
            )
        assert seen == [1, 2, 3] and slept == [0.5, 0.5]
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(JournalError, match="at least one attempt"):
        retry_write(j, lambda: None, attempts=0)
    j.close()


# ---------------------------------------------------------------------------- removed


@pytest.mark.parametrize("what", ["file", "folder", "replaced"])
def test_a_journal_removed_while_open_is_never_written_into_the_void(tmp_path: Path, what: str) -> None:
    folder = tmp_path / "state"
    path = folder / "journal.sqlite3"
    j = Journal(path)
    pay(j, "o-1")
    begin(j, "o-2")
    if what == "folder":
        shutil.rmtree(folder)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if what == "replaced":
            Journal(path).close()  # another, empty journal in its place
    attempts: list[int] = []
    with pytest.raises(JournalError) as caught:
        retry_write(j, lambda: j.set_state("o-2", "PROCESSING"), delay=0, on_failure=lambda e, n: attempts.append(n))
    assert attempts == [1]  # a removed journal is not retried: its records would go nowhere
    message = str(caught.value)
    assert message.startswith(f"journal {str(path)!r} was removed (or replaced by another file) while in use"), message
    assert caught.value.context["reason"] == "removed"
    with pytest.raises(JournalError, match="was removed"):
        j.reopen()
    with pytest.raises(JournalError, match="was removed"):
        with j.batch():
            begin(j, "o-3")
    j.close()


# ---------------------------------------------------------------------------- a failed transaction


def test_a_failed_write_inside_a_batch_rolls_back_once_and_the_journal_goes_on(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite3")
    begin(j, "o-1")
    with pytest.raises(JournalError, match="already in the journal"):
        with j.batch():
            begin(j, "o-2")
            begin(j, "o-1")
    assert j.order("o-2") is None
    assert not j._db.in_transaction
    begin(j, "o-2")
    j.close()


def test_reopen_keeps_the_journal_usable(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite3")
    pay(j, "o-1")
    j.reopen()
    pay(j, "o-2")
    with pytest.raises(JournalError, match="inside a batch"):
        with j.batch():
            j.reopen()
    j.close()
    with pytest.raises(JournalError, match="is closed"):
        j.reopen()


# ---------------------------------------------------------------------------- modes and names


def test_a_pre_existing_journal_and_its_wal_and_shm_become_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as j:
        pay(j, "o-1")
        keep = sqlite3.connect(path)  # holds the -wal and -shm files in place after the journal closes
        keep.execute("SELECT count(*) FROM orders").fetchone()
    try:
        files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
        for f in files:
            assert f.exists(), f
            f.chmod(0o644)
        with Journal(path) as j:
            assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600, 0o600, 0o600]
            assert j.order("o-1") is not None
    finally:
        keep.close()


def test_missing_folders_are_created_owner_only_at_every_level(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    old = os.umask(0o022)
    try:
        with Journal(shared / "a" / "b" / "c" / "journal.sqlite3"):
            pass
    finally:
        os.umask(old)
    for folder in (shared / "a", shared / "a" / "b", shared / "a" / "b" / "c"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # a folder that existed is left as it was


@pytest.mark.parametrize("lane", ["lane\n1", "lane\r", "a\tb", "x\x00", "\u2028", "", "   ", "l" * 65])
def test_a_lane_name_with_control_characters_or_out_of_bounds_is_refused(lane: str) -> None:
    with pytest.raises(ConfigError, match="setting lane") as caught:
        Settings(lane=lane)
    assert "1 to 64 printable characters" in str(caught.value)
    if lane:  # PAYCODE_LANE="" means "not set"
        with pytest.raises(ConfigError, match="setting lane"):
            Settings.load(env={"PAYCODE_LANE": lane})


def test_the_journal_refuses_control_characters_in_its_names(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite3") as j:
        with pytest.raises(JournalError, match="lane 'a\\\\nb' holds a control character"):
            j.begin_order(
                "o-1",
                money=Money("1.00", "CNY"),
                wallet="Wechat-Offline",
                code_masked=mask_code(CODE),
                lane="a\nb",
                deadline_at=0,
            )
        assert j.order("o-1") is None


def test_a_folder_given_as_the_journal_is_a_clear_error_and_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.raises(JournalError, match="is a folder; give the path of the journal file in it, such as"):
        Journal(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
