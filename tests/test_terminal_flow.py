"""The pay state machine under arbitrary gateway behaviour: it never decides without a verified answer.

The flow generator is driven with a scripted client (any answer, lost answers, never-delivered
requests, in any order) and a simulated clock, writing to a real journal.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import CodePattern, Money, OutcomeUnknown, PaymentRequest, PaymentStatus, PollingPolicy, WalletType
from paycode.gateway import GatewayAnswer
from paycode.journal import Journal
from paycode.payflow import MAX_RESENDS, FlowContext, drive, outcome, pay_flow

WALLET = WalletType(
    name="Wechat-Offline",
    patterns=(CodePattern(lengths=(18,), prefixes=("13",)),),
    currencies=frozenset({"CNY"}),
    polling=PollingPolicy(interval=5, deadline=30),
)
CALL_SECONDS = 0.5  # simulated time each call takes
#: a memory file system where there is one: the journal syncs every write to disk, which would dominate the run
MEMORY = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

codes = st.sampled_from(["000000", "001000", "002000", "107001", "107000", "301002", "102000", "500000"])
statuses = st.sampled_from([None, "SUCCESS", "PROCESSING", "FAILED", "CLOSED", "INIT", "AUTH_SUCCESS"])
replies = st.one_of(
    st.tuples(st.just("answer"), codes, statuses),
    st.tuples(st.just("lost"), st.booleans()),
)


class Scripted:
    """A gateway client answering each call with the next scripted reply; lost (delivered) once they run out."""

    def __init__(self, script: list[tuple[Any, ...]], clock: list[float]) -> None:
        self.script = list(script)
        self.clock = clock
        self.calls: list[tuple[str, Mapping[str, Any], tuple[Any, ...]]] = []

    def _reply(self, operation: str, kwargs: Mapping[str, Any]) -> GatewayAnswer:
        self.clock[0] += CALL_SECONDS
        reply = self.script.pop(0) if self.script else ("lost", True)
        self.calls.append((operation, kwargs, reply))
        if reply[0] == "lost":
            raise OutcomeUnknown(f"{operation}: lost", delivered=reply[1])
        biz = {} if reply[2] is None else {"status": reply[2], "transactionId": "T1"}
        return GatewayAnswer.from_parts(reply[1], "scripted", biz, 200)

    def unified_pay(self, biz: Mapping[str, Any]) -> GatewayAnswer:
        return self._reply("unified_pay", {"biz": biz})

    def query(self, **kwargs: Any) -> GatewayAnswer:
        return self._reply("query", kwargs)

    def void(self, **kwargs: Any) -> GatewayAnswer:
        return self._reply("void", kwargs)


def _says(operation: str, reply: tuple[Any, ...], status: str) -> bool:
    """Did this verified reply establish ``status`` for the payment?"""
    if reply[0] != "answer" or operation == "void":
        return False
    _, code, biz_status = reply
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
)
def test_pay_flow_never_decides_without_a_verified_answer(
    script: list[tuple[Any, ...]], interval: float, deadline: float
) -> None:
    clock = [0.0]
    client = Scripted(script, clock)

    def sleep(seconds: float) -> None:
        assert seconds >= 0
        clock[0] += seconds

    with tempfile.TemporaryDirectory(dir=MEMORY) as folder, Journal(Path(folder) / "j.sqlite3") as journal:
        events: list[tuple[str, str | None]] = []
        ctx = FlowContext(
            journal=journal, emit=lambda kind, order=None, **data: events.append((kind, order)), clock=lambda: clock[0]
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
    last_query_not_found = calls[-1][0] == "query" and calls[-1][2][:2] == ("answer", "107001")
    if payment.status is PaymentStatus.FAILED:
        first_pay_never_left = calls[0][2] == ("lost", False) and len(calls) == 1
        said_failed = any(_says(op, reply, "FAILED") for op, _, reply in calls)
        assert said_failed or first_pay_never_left or last_query_not_found
        if not said_failed and last_query_not_found:
            assert record.abandoned  # should the pay still arrive, recovery refunds it
    # an order left open is marked so that a late success is refunded
    if verdict == "unresolved":
        assert record.abandoned

    # every pay is the very same request; re-sends are bounded
    pays = [kwargs["biz"] for op, kwargs, _ in calls if op == "unified_pay"]
    assert 1 <= len(pays) <= 1 + MAX_RESENDS and all(biz == pays[0] for biz in pays)
    assert pays[0]["requestId"] == "rq-1"

    # the journal saw every call before it was made, and its outcome after
    assert sum(a.sends for a in attempts) == len(calls)
    assert all(a.outcome != "pending" for a in attempts)

    # bounded: never much past the deadline
    assert clock[0] <= deadline + interval + CALL_SECONDS * (3 + MAX_RESENDS) + 1e-9
    assert ("payment.request", "order-1") in events
