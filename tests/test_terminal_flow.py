"""The pay state machine under arbitrary gateway behaviour: it never decides without a verified answer.

The flow generator is driven with a scripted client (any answer, honest or not matching the request,
lost answers, never-delivered requests, in any order) and a simulated clock, writing to a real journal.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import CodePattern, Money, OutcomeUnknown, PaymentRequest, PaymentStatus, PollingPolicy, WalletType
from paycode.gateway import GatewayAnswer, Operation
from paycode.journal import Journal
from paycode.payflow import MAX_RESENDS, FlowContext, drive, outcome, pay_flow

WALLET = WalletType(
    name="Wechat-Offline",
    patterns=(CodePattern(lengths=(18,), prefixes=("13",)),),
    currencies=frozenset({"CNY"}),
    polling=PollingPolicy(interval=5, deadline=30),
)
CALL_SECONDS = 0.5  # simulated time each call takes
CLOSE_GRACE = 2.0
#: a memory file system where there is one: the journal syncs every write to disk, which would dominate the run
MEMORY = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

codes = st.sampled_from(["000000", "001000", "002000", "107001", "107000", "301002", "102000", "500000"])
statuses = st.sampled_from([None, "SUCCESS", "PROCESSING", "FAILED", "CLOSED", "INIT", "AUTH_SUCCESS"])
#: ("answer", code, status, honest): an honest answer echoes the order, attempt, amount and currency asked;
#: a dishonest one is correctly signed but names another amount
replies = st.one_of(
    st.tuples(st.just("answer"), codes, statuses, st.booleans()),
    st.tuples(st.just("lost"), st.booleans()),
)


class Scripted:
    """A gateway client answering each call with the next scripted reply; lost (delivered) once they run out."""

    def __init__(self, script: list[tuple[Any, ...]], clock: list[float]) -> None:
        self.script = list(script)
        self.clock = clock
        self.calls: list[tuple[str, Mapping[str, Any], tuple[Any, ...]]] = []

    def send(self, operation: Operation, biz: Mapping[str, Any]) -> GatewayAnswer:
        self.clock[0] += CALL_SECONDS
        reply = self.script.pop(0) if self.script else ("lost", True)
        self.calls.append((operation.name, {"biz": biz}, reply))
        if reply[0] == "lost":
            raise OutcomeUnknown(f"{operation.name}: lost", delivered=reply[1])
        _, code, status, honest = reply
        answer: dict[str, Any] = {"merchantTransactionId": "order-1", "currency": "CNY"}
        answer["amount"] = Decimal("9.99") if honest else Decimal("1.00")
        if operation.name == "unified_pay":
            answer["requestId"] = biz["requestId"]
        if status is not None:
            answer.update(status=status, transactionId="T1")
        return GatewayAnswer.from_parts(code, "scripted", answer, 200)


def _trusted(reply: tuple[Any, ...]) -> bool:
    """A signed reply that matches the request: honest, and its code does not contradict its status."""
    if reply[0] != "answer" or not reply[3]:
        return False
    _, code, status, _ = reply
    if status == "SUCCESS" and code not in ("000000", "001000"):
        return False
    return not (code == "000000" and status not in (None, "SUCCESS"))


def _says(operation: str, reply: tuple[Any, ...], status: str) -> bool:
    """Did this verified, trustworthy reply establish ``status`` for the payment?"""
    if not _trusted(reply):
        return False
    _, code, biz_status, _ = reply
    if biz_status in {s.value for s in PaymentStatus}:  # a status paycode does not know counts as none
        return bool(biz_status == status)
    if operation != "unified_pay":
        return False
    refused = code[:1] in "23" or code in ("102000", "103000", "104000", "105000")
    return (status == "SUCCESS" and code == "000000") or (status == "FAILED" and refused)


@settings(max_examples=100, deadline=None)
@given(
    script=st.lists(replies, max_size=25),
    interval=st.sampled_from([1.0, 2.0, 5.0]),
    deadline=st.sampled_from([0.5, 4.0, 12.0]),
    cancel_at=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
)
def test_pay_flow_never_decides_without_a_verified_answer(
    script: list[tuple[Any, ...]], interval: float, deadline: float, cancel_at: int | None
) -> None:
    """Whatever the gateway answers, and whenever the host cancels (after ``cancel_at`` calls)."""
    clock = [0.0]
    client = Scripted(script, clock)

    def sleep(seconds: float, order_id: str | None) -> bool:
        assert seconds >= 0
        clock[0] += seconds
        return False

    with tempfile.TemporaryDirectory(dir=MEMORY) as folder, Journal(Path(folder) / "j.sqlite3") as journal:
        events: list[tuple[str, str | None]] = []
        ctx = FlowContext(
            journal=journal,
            emit=lambda kind, order=None, **data: events.append((kind, order)),
            clock=lambda: clock[0],
            wall=lambda: clock[0],
            close_grace=CLOSE_GRACE,
            cancelled=lambda order_id: cancel_at is not None and len(client.calls) >= cancel_at,
        )
        request = PaymentRequest(
            money=Money("9.99", "CNY"),
            wallet=WALLET,
            code="130000000000000001",
            merchant_transaction_id="order-1",
            request_id="rq-1",
        )
        policy = PollingPolicy(interval=min(interval, deadline), deadline=deadline)
        payment = drive(pay_flow(ctx, request, policy), client, sleep=sleep)
        record = journal.order("order-1")
        attempts = journal.attempts("order-1")

    calls = client.calls
    verdict = outcome(payment)
    assert record is not None and record.status is payment.status

    # a decision needs a verified answer that says so
    if verdict == "paid":
        assert any(_says(op, reply, "SUCCESS") for op, _, reply in calls)
    if payment.status is PaymentStatus.CLOSED:
        assert any(_says(op, reply, "CLOSED") for op, _, reply in calls)
    queries = [reply for op, _, reply in calls if op == "query"]
    last_query_not_found = bool(queries) and queries[-1][:2] == ("answer", "107001")
    if payment.status is PaymentStatus.FAILED:
        first_pay_never_left = calls[0][2] == ("lost", False) and len(calls) == 1
        said_failed = any(_says(op, reply, "FAILED") for op, _, reply in calls)
        assert said_failed or first_pay_never_left or last_query_not_found
        if not said_failed and last_query_not_found:
            assert record.abandoned  # should the pay still arrive, recovery refunds it
    # an order left open is marked so that a late success is refunded
    if verdict == "unresolved":
        assert record.abandoned

    # every pay is the very same request, closing at the end of the deadline; re-sends are bounded; never a void
    pays = [kwargs["biz"] for op, kwargs, _ in calls if op == "unified_pay"]
    assert 1 <= len(pays) <= 1 + MAX_RESENDS and all(biz == pays[0] for biz in pays)
    assert pays[0]["requestId"] == "rq-1" and pays[0]["timeExpire"] == math.ceil(deadline)
    assert {op for op, _, _ in calls} <= {"unified_pay", "query"}

    # the journal saw every call before it was made, and its outcome after
    assert sum(a.sends for a in attempts) == len(calls)
    assert all(a.outcome != "pending" for a in attempts)

    # bounded: never much past the deadline (or, once the gateway said PROCESSING, past timeExpire + the grace)
    assert clock[0] <= math.ceil(deadline) + CLOSE_GRACE + interval + CALL_SECONDS * (3 + MAX_RESENDS) + 1e-9
    assert ("payment.request", "order-1") in events
