"""The payment journal: records, rules, durability, masking, and sharing one store between processes.

The tests that take the ``journal`` fixture (and those taking ``journal_setting``) run on both backends: a SQLite
file, and a real PostgreSQL server (tests/store/fixtures.py); the rest are about the SQLite file itself.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paycode.errors import JournalError, MoneyError, OrderError
from paycode.journal import CSV_COLUMNS, Journal, JournalBackend
from paycode.masking import mask_code
from paycode.models import Money, PaymentStatus

CODE = "130000000000000001"


@pytest.fixture
def journal(journal_backend: JournalBackend) -> JournalBackend:
    """The journal on each backend in turn."""
    return journal_backend


def new_order(
    j: JournalBackend, order_id: str = "o-1", amount: str = "12.50", *, code: str = CODE, **kw: object
) -> None:
    j.begin_order(
        order_id,
        money=Money(amount, "CNY"),
        wallet="Wechat-Offline",
        code_masked=mask_code(code),
        lane=str(kw.get("lane", "lane-1")),
        deadline_at=float(kw.get("deadline_at", time.time() + 30)),  # type: ignore[arg-type]
    )


def paid(j: JournalBackend, order_id: str = "o-1", amount: str = "12.50") -> None:
    new_order(j, order_id, amount)
    j.begin_attempt(order_id, f"{order_id}-r1", "pay")
    j.end_attempt(order_id, f"{order_id}-r1", outcome="answered", code="000000", status="SUCCESS")
    j.set_state(order_id, PaymentStatus.SUCCESS, transaction_id=f"T-{order_id}")


# ---------------------------------------------------------------------------- records


def test_an_order_keeps_its_attempts_transitions_and_refunds(journal: JournalBackend) -> None:
    new_order(journal)
    record = journal.order("o-1")
    assert record is not None
    assert (record.amount, record.currency, record.status) == (Decimal("12.50"), "CNY", PaymentStatus.INIT)
    assert record.code_masked == "1300**********0001"
    assert record.unresolved

    journal.begin_attempt("o-1", "r1", "pay")
    assert journal.attempts("o-1")[0].outcome == "pending"
    journal.end_attempt("o-1", "r1", outcome="answered", code="002000", status="PROCESSING")
    journal.set_state("o-1", "PROCESSING")
    journal.begin_attempt("o-1", "q1", "query")
    journal.end_attempt("o-1", "q1", outcome="answered", code="001000", status="SUCCESS")
    journal.set_state("o-1", PaymentStatus.SUCCESS, transaction_id="T1", note="query")
    journal.begin_refund("o-1", "rf1", Decimal("5"))
    journal.end_refund("o-1", "rf1", status="SUCCESS")

    record = journal.order("o-1")
    assert record is not None
    assert record.status is PaymentStatus.SUCCESS and record.transaction_id == "T1"
    assert record.refunded == Decimal("5.00") and str(record.refunded) == "5.00"
    assert record.refunds_pending == 0 and record.refundable == Decimal("7.50")
    assert not record.unresolved
    assert [t.status for t in journal.transitions("o-1")] == [
        PaymentStatus.INIT,
        PaymentStatus.PROCESSING,
        PaymentStatus.SUCCESS,
    ]
    assert [(a.kind, a.outcome, a.code, a.status) for a in journal.attempts("o-1")] == [
        ("pay", "answered", "002000", "PROCESSING"),
        ("query", "answered", "001000", "SUCCESS"),
    ]
    assert [(r.refund_id, r.amount, r.status) for r in journal.refunds("o-1")] == [("rf1", Decimal("5.00"), "SUCCESS")]
    assert journal.order("nope") is None


def test_a_batch_is_one_transaction(journal: JournalBackend, open_backend: Callable[[], JournalBackend]) -> None:
    other = open_backend()  # another lane's view of the same store
    with journal.batch():
        new_order(journal)
        journal.begin_attempt("o-1", "o-1-r1", "pay")
        assert journal.order("o-1") is not None  # the batch sees its own writes
        assert other.order("o-1") is None  # nothing is visible, nor durable, before the batch ends
        with journal.batch():  # batches nest: still the one transaction
            journal.set_state("o-1", PaymentStatus.PROCESSING)
        assert other.order("o-1") is None
    record = other.order("o-1")
    assert record is not None and record.status is PaymentStatus.PROCESSING
    assert [a.request_id for a in other.attempts("o-1")] == ["o-1-r1"]


def test_a_failing_write_undoes_its_whole_batch(journal: JournalBackend) -> None:
    new_order(journal, "o-1")
    with pytest.raises(JournalError, match="already in the journal"), journal.batch():
        new_order(journal, "o-2")
        journal.begin_attempt("o-2", "o-2-r1", "pay")
        new_order(journal, "o-1")  # refused: the batch is rolled back, o-2 with it
    assert journal.order("o-2") is None and journal.attempts("o-2") == []
    new_order(journal, "o-2")  # and the journal goes on working


def test_an_order_id_is_used_once(journal: JournalBackend) -> None:
    new_order(journal)
    with pytest.raises(JournalError, match="already in the journal"):
        new_order(journal)


def test_a_resent_request_is_counted_not_doubled(journal: JournalBackend) -> None:
    new_order(journal)
    journal.begin_attempt("o-1", "r1", "pay")
    journal.end_attempt("o-1", "r1", outcome="unknown", detail="read timeout")
    journal.begin_attempt("o-1", "r1", "pay")
    attempts = journal.attempts("o-1")
    assert len(attempts) == 1
    assert (attempts[0].sends, attempts[0].outcome) == (2, "pending")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda j: j.begin_attempt("o-1", "r1", "charge"), "attempt kind 'charge' is unknown"),
        (lambda j: j.begin_attempt("missing", "r1", "pay"), "order 'missing' is not in the journal"),
        (lambda j: j.end_attempt("o-1", "nope", outcome="answered"), "has no attempt with request id 'nope'"),
        (lambda j: j.end_attempt("o-1", "r1", outcome="maybe"), "attempt outcome 'maybe' is unknown"),
        (lambda j: j.set_state("o-1", "PAID"), "status 'PAID' is not a payment status"),
        (lambda j: j.set_state("missing", "SUCCESS"), "order 'missing' is not in the journal"),
        (lambda j: j.end_refund("o-1", "nope", status="SUCCESS"), "has no refund 'nope'"),
        (lambda j: j.end_refund("o-1", "nope", status="DONE"), "refund status 'DONE' is unknown"),
        (lambda j: j.begin_refund("o-1", "rf", 1.5), "must be a Decimal"),
    ],
)
def test_wrong_calls_get_a_clear_error(journal: JournalBackend, call, message: str) -> None:  # type: ignore[no-untyped-def]
    new_order(journal)
    with pytest.raises(JournalError) as info:
        call(journal)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_an_unmasked_code_is_refused(journal: JournalBackend) -> None:
    with pytest.raises(JournalError, match="not masked"):
        journal.begin_order(
            "o-1",
            money=Money("1", "CNY"),
            wallet="Wechat-Offline",
            code_masked=CODE,
            lane="lane-1",
            deadline_at=time.time(),
        )
    assert journal.order("o-1") is None


def test_no_whole_code_is_in_the_files_bytes(tmp_path: Path) -> None:
    codes = [f"13{n:016d}" for n in range(1, 40)] + [f"28{n:014d}" for n in range(1, 40)]
    with Journal(tmp_path / "j.sqlite3") as j:
        for i, code in enumerate(codes):
            new_order(j, f"o-{i}", code=code)
            j.begin_attempt(f"o-{i}", f"r-{i}", "pay")
            j.end_attempt(f"o-{i}", f"r-{i}", outcome="unknown", detail=f"no answer for {mask_code(code)}")
        blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert blob.count(b"**********") >= len(codes)  # the masked codes are there ...
    for code in codes:
        assert code.encode() not in blob  # ... and no whole one
        assert code[2:].encode() not in blob


# ---------------------------------------------------------------------------- state rules


def test_setting_the_same_status_records_nothing(journal: JournalBackend) -> None:
    new_order(journal)
    assert journal.set_state("o-1", "PROCESSING") is True
    assert journal.set_state("o-1", "processing") is False
    assert journal.set_state("o-1", PaymentStatus.PROCESSING, transaction_id="T9") is False
    record = journal.order("o-1")
    assert record is not None and record.transaction_id == "T9"
    assert len(journal.transitions("o-1")) == 2


def test_a_final_state_never_moves_back(journal: JournalBackend) -> None:
    """A late PROCESSING answer or an out-of-order notification cannot undo a SUCCESS."""
    new_order(journal)
    journal.set_state("o-1", "SUCCESS")
    assert journal.set_state("o-1", "PROCESSING") is False
    assert journal.set_state("o-1", "FAILED") is False
    record = journal.order("o-1")
    assert record is not None and record.status is PaymentStatus.SUCCESS


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list(PaymentStatus)), max_size=12))
def test_any_sequence_of_states_obeys_the_rules(journal: JournalBackend, seq: list[PaymentStatus]) -> None:
    order_id = f"o-{time.monotonic_ns()}"  # one journal for every example: an order of its own each
    new_order(journal, order_id)
    expected = [PaymentStatus.INIT]
    for status in seq:
        current = expected[-1]
        moves = status is not current and not (current.final and not status.final)
        assert journal.set_state(order_id, status) is moves
        if moves:
            expected.append(status)
    assert [t.status for t in journal.transitions(order_id)] == expected
    record = journal.order(order_id)
    assert record is not None and record.status is expected[-1]
    times = [t.time for t in journal.transitions(order_id)]
    assert times == sorted(times)


def test_abandoning_is_recorded_in_the_history(journal: JournalBackend) -> None:
    new_order(journal)
    journal.set_state("o-1", "PROCESSING")
    journal.mark_abandoned("o-1", "deadline 30 s passed; closed")
    record = journal.order("o-1")
    assert record is not None and record.abandoned and record.abandon_reason == "deadline 30 s passed; closed"
    assert journal.transitions("o-1")[-1].note == "abandoned: deadline 30 s passed; closed"


@pytest.mark.parametrize(
    ("steps", "unresolved"),
    [
        ([], True),  # INIT: the request may have left
        (["PROCESSING"], True),
        (["UNKNOWN"], True),
        (["SUCCESS"], False),
        (["CLOSED"], False),
        (["FAILED"], False),  # a definite decline
        (["FAILED", "unknown-attempt"], True),  # a retry whose answer was lost may have charged
        (["SUCCESS", "unknown-attempt"], False),  # the status was settled by a query since
        (["PROCESSING", "abandoned", "CLOSED"], False),
        (["SUCCESS", "abandoned"], True),  # late success: refund or report
        (["SUCCESS", "abandoned", "refund-pending"], True),
        (["SUCCESS", "abandoned", "refund-all"], False),
        (["SUCCESS", "abandoned", "refund-part"], True),
        (["SUCCESS", "abandoned", "kept"], False),
        (["SUCCESS", "refund-pending"], True),
        (["SUCCESS", "refund-failed"], False),
    ],
)
def test_which_orders_are_unresolved(journal: JournalBackend, steps: list[str], unresolved: bool) -> None:
    new_order(journal, amount="10.00")
    new_order(journal, "settled")
    journal.set_state("settled", "SUCCESS")
    for step in steps:
        if step == "unknown-attempt":
            journal.begin_attempt("o-1", "r2", "pay")
            journal.end_attempt("o-1", "r2", outcome="unknown")
        elif step == "abandoned":
            journal.mark_abandoned("o-1", "deadline")
        elif step == "kept":
            journal.keep_late_success("o-1", "late_success=report")
        elif step.startswith("refund-"):
            amount = Decimal("4") if step == "refund-part" else Decimal("10")
            journal.begin_refund("o-1", step, amount)
            if step != "refund-pending":
                journal.end_refund("o-1", step, status="FAILED" if step == "refund-failed" else "SUCCESS")
        else:
            journal.set_state("o-1", step)
    assert [r.order_id for r in journal.unresolved()] == (["o-1"] if unresolved else [])
    assert [r.order_id for r in journal.orders(unresolved_only=True)] == (["o-1"] if unresolved else [])


# ---------------------------------------------------------------------------- refunds


def test_refunds_never_exceed_what_was_paid(journal: JournalBackend) -> None:
    paid(journal, amount="10.00")
    journal.begin_refund("o-1", "a", Decimal("6"))
    with pytest.raises(OrderError, match=r"more than order 'o-1' has left to refund \(4.00 of 10.00"):
        journal.begin_refund("o-1", "b", Decimal("4.01"))
    journal.end_refund("o-1", "a", status="FAILED")  # a failed refund gives its amount back
    journal.begin_refund("o-1", "b", Decimal("10"))
    with pytest.raises(JournalError, match="already in the journal"):
        journal.begin_refund("o-1", "b", Decimal("0.01"))
    with pytest.raises(OrderError, match="greater than zero"):
        journal.begin_refund("o-1", "c", Decimal("0"))
    with pytest.raises(MoneyError, match="more decimals"):
        journal.begin_refund("o-1", "c", Decimal("0.001"))


def test_only_a_success_is_refunded(journal: JournalBackend) -> None:
    new_order(journal)
    journal.set_state("o-1", "PROCESSING")
    with pytest.raises(OrderError, match="is PROCESSING; only a SUCCESS payment can be refunded"):
        journal.begin_refund("o-1", "a", Decimal("1"))


# ---------------------------------------------------------------------------- listing and export


def test_orders_are_listed_newest_first_and_limited(journal: JournalBackend) -> None:
    for i in range(5):
        new_order(journal, f"o-{i}")
    assert [r.order_id for r in journal.orders()] == ["o-4", "o-3", "o-2", "o-1", "o-0"]
    assert [r.order_id for r in journal.orders(limit=2)] == ["o-4", "o-3"]
    assert [r.order_id for r in journal.unresolved()] == ["o-0", "o-1", "o-2", "o-3", "o-4"]


def test_csv_export_is_exact_and_complete(journal: JournalBackend) -> None:
    paid(journal, "a", "10.00")
    journal.begin_refund("a", "rf", Decimal("2.5"))
    journal.end_refund("a", "rf", status="SUCCESS")
    new_order(journal, "b,with comma", "0.01")
    out = io.StringIO()
    assert journal.export_csv(out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["order_id"] for r in rows] == ["a", "b,with comma"]
    assert rows[0]["amount"] == "10.00" and rows[0]["refunded"] == "2.50" and rows[0]["status"] == "SUCCESS"
    assert rows[0]["transaction_id"] == "T-a" and rows[0]["code_masked"] == "1300**********0001"
    assert rows[1]["amount"] == "0.01" and rows[1]["status"] == "INIT" and rows[1]["unknown_attempts"] == "0"
    assert rows[0]["created_at"].endswith("Z")


# ---------------------------------------------------------------------------- the file


def test_the_file_is_owner_only_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "j.sqlite3"
    with Journal(path) as j:
        new_order(j)
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert j._db.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        paid(j)
    with Journal(tmp_path / "j.sqlite3") as j:
        record = j.order("o-1")
        assert record is not None and record.status is PaymentStatus.SUCCESS


def test_a_file_that_is_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "j.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match=r"journal '.*j.sqlite3'.*not a database"):
        Journal(bad)


def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(JournalError, match="cannot be created"):
        Journal(tmp_path / "file" / "j.sqlite3")


def test_a_closed_journal_says_so(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.close()
    j.close()
    with pytest.raises(JournalError, match="is closed"):
        j.orders()
    with pytest.raises(JournalError, match="is closed"):
        new_order(j)


def test_unresolved_by_lane(journal: JournalBackend) -> None:
    new_order(journal, "a", lane="lane-1")
    new_order(journal, "b", lane="lane-2")
    new_order(journal, "c", lane="lane-1")
    journal.set_state("c", "SUCCESS")
    assert [r.order_id for r in journal.unresolved()] == ["a", "b"]
    assert [r.order_id for r in journal.unresolved(lane="lane-1")] == ["a"]
    assert [r.order_id for r in journal.unresolved(lane="lane-2")] == ["b"]


def test_orders_keep_their_gateway_and_site(journal: JournalBackend) -> None:
    new_order(journal, "x")
    journal.begin_order(
        "y",
        money=Money("1.00", "HKD"),
        wallet="AlipayHK-Offline",
        code_masked="28**1",
        lane="lane-9",
        deadline_at=0,
        gateway="pingpong",
        site="sg",
    )
    y = journal.order("y")
    x = journal.order("x")
    assert y is not None and (y.gateway, y.site) == ("pingpong", "sg")
    assert x is not None and (x.gateway, x.site) == ("", "")


# ---------------------------------------------------------------------------- durability and sharing

WORKER = r"""
import os, sys, time
from decimal import Decimal
from paycode.journal import open_journal
from paycode.models import Money
setting, lane, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
j = open_journal(setting)
deadline = time.monotonic() + 20
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.005)
won = 0
for i in range(count):
    own, shared = f"{lane}-{i}", f"shared-{i}"
    with j.batch():
        j.begin_order(own, money=Money("1.00", "CNY"), wallet="W", code_masked="13**1", lane=lane, deadline_at=0)
        j.begin_attempt(own, f"{own}-r", "pay")
    with j.batch():
        j.end_attempt(own, f"{own}-r", outcome="answered", code="000000", status="SUCCESS")
        j.set_state(own, "SUCCESS")
    try:
        j.begin_order(shared, money=Money("1.00", "CNY"), wallet="W", code_masked="13**1", lane=lane, deadline_at=0)
        won += 1
    except Exception as exc:
        assert "already in the journal" in str(exc), exc
    j.set_state("refund-me", "SUCCESS")
    try:
        j.begin_refund("refund-me", f"{lane}-{i}", Decimal("0.07"))
    except Exception as exc:
        assert "left to refund" in str(exc), exc
print(won)
j.close()
"""


def test_lanes_sharing_one_store_lose_and_double_nothing(
    journal: JournalBackend, journal_setting: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    lanes, count = 4, 25
    new_order(journal, "refund-me", "1.00")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, journal_setting, f"lane{n}", str(count), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(lanes)
    ]
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * lanes, [err for _, err in outputs]
    assert sum(int(out) for out, _ in outputs) == count  # each shared order begun by exactly one lane
    records = {r.order_id: r for r in journal.orders()}
    assert len(records) == lanes * count + count + 1
    for n in range(lanes):
        for i in range(count):
            oid = f"lane{n}-{i}"
            assert records[oid].status is PaymentStatus.SUCCESS
            assert len(journal.attempts(oid)) == 1 and len(journal.transitions(oid)) == 2
    refund_me = records["refund-me"]
    assert refund_me.refunds_pending == Decimal("0.98")  # 14 x 0.07 fit in 1.00; the rest were refused
    assert len(journal.refunds("refund-me")) == 14


def test_threads_sharing_one_journal(journal: JournalBackend) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                new_order(journal, f"t{n}-{i}")
                journal.set_state(f"t{n}-{i}", "PROCESSING")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(journal.orders()) == 80


KILLED = r"""
import sys, time
from paycode.journal import open_journal
from paycode.models import Money
j = open_journal(sys.argv[1])
j.begin_order("o-1", money=Money("3.00", "CNY"), wallet="W", code_masked="13**1", lane="l", deadline_at=0)
j.begin_attempt("o-1", "r1", "pay")
print("sent", flush=True)
time.sleep(30)
"""


def test_the_intent_survives_sigkill(journal_setting: str, open_backend: Callable[[], JournalBackend]) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED, journal_setting], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "sent"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    j = open_backend()
    record = j.order("o-1")
    assert record is not None and record.unknown_attempts == 1 and record.unresolved
    assert j.attempts("o-1")[0].outcome == "pending"


def test_settling_attempts_closes_only_open_ones(journal: JournalBackend) -> None:
    new_order(journal)
    journal.begin_attempt("o-1", "r1", "pay")
    journal.end_attempt("o-1", "r1", outcome="unknown", detail="read timeout")
    journal.begin_attempt("o-1", "r2", "pay")  # pending: the process died here
    journal.begin_attempt("o-1", "q1", "query")
    journal.end_attempt("o-1", "q1", outcome="answered", code="001000", status="FAILED")
    journal.set_state("o-1", "FAILED")
    record = journal.order("o-1")
    assert record is not None and record.unknown_attempts == 2 and record.unresolved
    assert journal.settle_attempts("o-1", "the gateway answers FAILED") == 2
    outcomes = [(a.request_id, a.outcome, a.detail) for a in journal.attempts("o-1")]
    assert outcomes == [
        ("r1", "settled", "read timeout | the gateway answers FAILED"),
        ("r2", "settled", "the gateway answers FAILED"),
        ("q1", "answered", ""),
    ]
    record = journal.order("o-1")
    assert record is not None and record.unknown_attempts == 0 and not record.unresolved
