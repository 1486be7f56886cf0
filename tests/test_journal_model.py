"""The journal against a model: random sequences of orders, attempts, states and refunds (hypothesis state machine).

Invariants after every step: the journal's status, refunded and pending amounts match the model; refunds never
exceed what was paid; a final state never moves back; and an order is unresolved exactly when the rules of
docs/journal.md ("When an order is unresolved") say so.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule
from paycode.errors import OrderError
from paycode.journal import GIVEN_UP, Journal
from paycode.models import Money, PaymentStatus

STATUSES = list(PaymentStatus)
AMOUNTS = st.sampled_from(["0.01", "1.00", "2.50", "9.99", "10.00"]).map(Decimal)
FINAL = {PaymentStatus.SUCCESS, PaymentStatus.CLOSED, PaymentStatus.CANCEL}


@attrs.define
class ModelOrder:
    amount: Decimal
    status: PaymentStatus = PaymentStatus.INIT
    abandoned: bool = False
    open_pay_attempts: set[str] = attrs.field(factory=set)
    refunds: dict[str, tuple[Decimal, str]] = attrs.field(factory=dict)

    def total(self, *, settled: bool) -> Decimal:
        wanted = ("SUCCESS",) if settled else ("PENDING", "PROCESSING", "UNKNOWN")
        return sum((a for a, s in self.refunds.values() if s in wanted), Decimal(0))

    @property
    def unresolved(self) -> bool:
        if self.total(settled=False):
            return True
        if self.status is PaymentStatus.SUCCESS:
            return self.abandoned and self.total(settled=True) < self.amount
        if self.status is PaymentStatus.FAILED:
            return bool(self.open_pay_attempts)
        return self.status not in FINAL


class JournalMachine(RuleBasedStateMachine):
    orders = Bundle("orders")
    attempts = Bundle("attempts")
    refunds = Bundle("refunds")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.journal = Journal(Path(self.folder.name) / "journal.sqlite3")
        self.model: dict[str, ModelOrder] = {}
        self.serial = 0

    def teardown(self) -> None:
        self.journal.close()
        self.folder.cleanup()

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def _new_order(self, amount: Decimal) -> str:
        order_id = self._id("o")
        self.journal.begin_order(
            order_id, money=Money(amount, "CNY"), wallet="W", code_masked="13**01", lane="l", deadline_at=0
        )
        self.model[order_id] = ModelOrder(amount)
        return order_id

    # two orders, made first, so that every step meets one of them
    @initialize(target=orders, amount=AMOUNTS)
    def first_order(self, amount: Decimal) -> str:
        return self._new_order(amount)

    @initialize(target=orders, amount=AMOUNTS)
    def second_order(self, amount: Decimal) -> str:
        return self._new_order(amount)

    @rule(order_id=orders, status=st.sampled_from(STATUSES))
    def set_state(self, order_id: str, status: PaymentStatus) -> None:
        order = self.model[order_id]
        moves = status is not order.status and not (order.status in FINAL and status not in FINAL)
        assert self.journal.set_state(order_id, status) is moves
        if moves:
            if status is PaymentStatus.SUCCESS and order.status in GIVEN_UP:
                order.abandoned = True  # the lane had said "not paid": a late success is refunded
            order.status = status

    @rule(target=attempts, order_id=orders)
    def begin_pay(self, order_id: str) -> tuple[str, str]:
        request_id = self._id("rq")
        self.journal.begin_attempt(order_id, request_id, "pay")
        self.model[order_id].open_pay_attempts.add(request_id)
        return order_id, request_id

    @rule(attempt=consumes(attempts), outcome=st.sampled_from(["answered", "unknown", "error"]))
    def end_pay(self, attempt: tuple[str, str], outcome: str) -> None:
        order_id, request_id = attempt
        self.journal.end_attempt(order_id, request_id, outcome=outcome)
        if outcome == "unknown":  # the latest outcome counts, even after a settle: unknown is open again
            self.model[order_id].open_pay_attempts.add(request_id)
        else:
            self.model[order_id].open_pay_attempts.discard(request_id)

    @rule(order_id=orders)
    def settle(self, order_id: str) -> None:
        self.journal.settle_attempts(order_id, "settled by a query")
        self.model[order_id].open_pay_attempts.clear()

    @rule(order_id=orders)
    def abandon(self, order_id: str) -> None:
        self.journal.mark_abandoned(order_id, "deadline")
        self.model[order_id].abandoned = True

    @rule(order_id=orders)
    def keep(self, order_id: str) -> None:
        self.journal.keep_late_success(order_id, "late_success=report")
        self.model[order_id].abandoned = False

    @rule(target=refunds, order_id=orders, amount=st.none() | AMOUNTS)
    def begin_refund(self, order_id: str, amount: Decimal | None) -> tuple[str, str]:
        """Refund ``amount``, or (None) everything that is left."""
        order = self.model[order_id]
        refund_id = self._id("rf")
        left = order.amount - order.total(settled=True) - order.total(settled=False)
        amount = amount if amount is not None else max(left, Decimal("0.01"))
        if order.status is not PaymentStatus.SUCCESS or amount > left:
            with pytest.raises(OrderError):
                self.journal.begin_refund(order_id, refund_id, amount)
            return order_id, ""
        self.journal.begin_refund(order_id, refund_id, amount)
        order.refunds[refund_id] = (amount, "PENDING")
        return order_id, refund_id

    @rule(refund=consumes(refunds), status=st.sampled_from(["SUCCESS", "FAILED", "PROCESSING", "UNKNOWN"]))
    def end_refund(self, refund: tuple[str, str], status: str) -> None:
        order_id, refund_id = refund
        if refund_id:
            self.journal.end_refund(order_id, refund_id, status=status)
            amount, _ = self.model[order_id].refunds[refund_id]
            self.model[order_id].refunds[refund_id] = (amount, status)

    @invariant()
    def journal_agrees_with_the_model(self) -> None:
        records = {r.order_id: r for r in self.journal.orders()}
        assert set(records) == set(self.model)
        for order_id, order in self.model.items():
            record = records[order_id]
            assert record.status is order.status
            assert record.abandoned is order.abandoned
            assert record.refunded == order.total(settled=True)
            assert record.refunds_pending == order.total(settled=False)
            assert record.refunded + record.refunds_pending <= record.amount
            assert record.unresolved is order.unresolved, (order_id, order, record)
        assert {r.order_id for r in self.journal.unresolved()} == {i for i, o in self.model.items() if o.unresolved}


JournalMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=20, deadline=None)
test_journal_against_its_model = JournalMachine.TestCase
