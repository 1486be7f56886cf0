"""Issue 16 item 3, the journal-level rule: a success on an order the lane reported "not paid" is abandoned-and-paid.

On both backends (SQLite, PostgreSQL: tests/store/fixtures.py): the rule lives in one place,
paycode.journal_rules.plan_move, and each backend applies it in the transaction of the move."""

from __future__ import annotations

import time

import pytest
from paycode.journal import GIVEN_UP, JournalBackend, late_success_reason
from paycode.masking import mask_code
from paycode.models import Money, PaymentStatus


def new_order(j: JournalBackend, order_id: str = "o-1") -> None:
    j.begin_order(
        order_id,
        money=Money("12.50", "CNY"),
        wallet="Wechat-Offline",
        code_masked=mask_code("130000000000000001"),
        lane="lane-1",
        deadline_at=time.time(),
    )


@pytest.mark.parametrize("given_up", sorted(GIVEN_UP))
def test_a_success_after_not_paid_is_abandoned_and_unresolved(
    journal_backend: JournalBackend, given_up: PaymentStatus
) -> None:
    j = journal_backend
    new_order(j)
    j.set_state("o-1", PaymentStatus.PROCESSING)
    j.set_state("o-1", given_up, note="deadline passed")
    assert j.set_state("o-1", PaymentStatus.SUCCESS, transaction_id="TX1", note="notification RECHARGE") is True
    record = j.order("o-1")
    assert record is not None
    assert (record.status, record.abandoned, record.unresolved) == (PaymentStatus.SUCCESS, True, True)
    assert record.abandon_reason == f"paid after the lane reported {given_up.value} (not paid)"
    assert record.refundable == record.amount
    last = j.transitions("o-1")[-1]
    assert last.status is PaymentStatus.SUCCESS
    assert last.note == f"notification RECHARGE; paid after the lane reported {given_up.value} (not paid)"
    assert [r.order_id for r in j.unresolved()] == ["o-1"]


@pytest.mark.parametrize("before", [PaymentStatus.INIT, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN])
def test_a_success_while_the_lane_still_waits_is_a_payment(
    journal_backend: JournalBackend, before: PaymentStatus
) -> None:
    j = journal_backend
    new_order(j)
    j.set_state("o-1", before)
    j.set_state("o-1", PaymentStatus.SUCCESS)
    record = j.order("o-1")
    assert record is not None and (record.abandoned, record.unresolved) == (False, False)


def test_an_earlier_abandon_reason_is_kept(journal_backend: JournalBackend) -> None:
    j = journal_backend
    new_order(j)
    j.mark_abandoned("o-1", "deadline passed, gateway still PROCESSING")
    j.set_state("o-1", PaymentStatus.CLOSED)
    j.set_state("o-1", PaymentStatus.SUCCESS)
    record = j.order("o-1")
    assert record is not None and record.abandon_reason == "deadline passed, gateway still PROCESSING"


def test_the_rule_itself() -> None:
    for old in PaymentStatus:
        for new in PaymentStatus:
            reason = late_success_reason(old, new)
            assert (reason is not None) is (new is PaymentStatus.SUCCESS and old in GIVEN_UP)
