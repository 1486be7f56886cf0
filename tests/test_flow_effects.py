"""The pay flow does no I/O: journal writes and clock reads are effects its drivers perform.

The flow is stepped by hand here with a journal it cannot touch; the asyncio driver's writer
threads are tested with real journals: the writes of several lanes sharing one journal, and a
grouped transaction one of whose writes fails (each flow keeps its own outcome).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from paycode import AsyncTerminal, Money, PaymentRequest, PaymentStatus, PollingPolicy
from paycode.drivers import _journal, _work
from paycode.effects import NOW, WALL, Call, FlowContext, Now, Read, Write, step
from paycode.errors import JournalError
from paycode.gateway import GatewayAnswer
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.payflow import NOT_FOUND, Found, pay_flow, verdict
from paycode.sandbox import SandboxServer

from .conftest import settings_for

WECHAT_SUCCESS = "130000000000000001"


class Untouchable:
    """A journal the flow must never use itself: any attribute read fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the flow touched the journal itself ({name}); it must yield an effect")


def test_the_pay_flow_yields_its_journal_writes_and_clock_reads(base_host: PluginHost, tmp_path: Path) -> None:
    """Driven by hand: the intent is a Write before the Call; the answer and its state one Write after it."""
    events: list[str] = []
    ctx = FlowContext(journal=Untouchable(), emit=lambda kind, order=None, **data: events.append(kind))  # type: ignore[arg-type]
    wallet = base_host.wallet_for(WECHAT_SUCCESS, "CNY")
    request = PaymentRequest(
        money=Money("9.99", "CNY"), wallet=wallet, code=WECHAT_SUCCESS, merchant_transaction_id="o-1", request_id="rq-1"
    )
    flow = pay_flow(ctx, request, PollingPolicy(interval=1, deadline=30))
    seen: list[Any] = []
    with Journal(tmp_path / "j.sqlite3") as journal:
        reply: Any = None
        try:
            while True:
                effect = flow.steps.send(reply)
                seen.append(effect)
                if isinstance(effect, Now):
                    reply = 1000.0
                elif isinstance(effect, (Write, Read)):
                    reply = _journal(journal, effect)
                    if isinstance(effect, Write):
                        events.append("(durable)")
                elif isinstance(effect, Call):
                    biz = effect.biz
                    reply = GatewayAnswer.from_parts(
                        "000000",
                        "ok",
                        {
                            "merchantTransactionId": biz["merchantTransactionId"],
                            "requestId": biz["requestId"],
                            "amount": Decimal("9.99"),
                            "currency": "CNY",
                            "status": "SUCCESS",
                            "transactionId": "T1",
                        },
                        200,
                    )
                else:
                    raise AssertionError(f"unexpected effect {effect!r}")
        except StopIteration as stop:
            payment = stop.value
        record = journal.order("o-1")
    assert payment.status is PaymentStatus.SUCCESS and record is not None and record.status is PaymentStatus.SUCCESS
    kinds = [type(e).__name__ for e in seen]
    assert seen[:2] == [NOW, WALL]
    intent = kinds.index("Write")
    assert intent < kinds.index("Call")  # durable before the request leaves
    assert [s.method for s in seen[intent].steps] == ["begin_order", "begin_attempt"]
    after = [e for e in seen[kinds.index("Call") :] if isinstance(e, Write)]
    assert [[s.method for s in w.steps] for w in after] == [["end_attempt", "set_state"]]
    # the answer and the new state are told only after the write that records them
    assert events.index("payment.request") > events.index("(durable)")
    assert events.index("payment.state") > len(events) - 1 - events[::-1].index("(durable)")


def test_one_verdict_function() -> None:
    def answer(code: str, status: str | None = None) -> GatewayAnswer:
        biz = {"status": status} if status else {}
        return GatewayAnswer.from_parts(code, "", biz, 200)

    assert verdict("unified_pay", answer("000000")) is PaymentStatus.SUCCESS
    assert verdict("unified_pay", answer("107001")) is PaymentStatus.UNKNOWN
    assert verdict("query", answer("107001")) is NOT_FOUND is Found.NOT_FOUND
    assert verdict("query", answer("001000")) is PaymentStatus.UNKNOWN
    assert verdict("query", answer("001000", "CLOSED")) is PaymentStatus.CLOSED
    assert verdict("refund", answer("000000")) is PaymentStatus.SUCCESS
    assert verdict("refund_query", answer("107001")) is NOT_FOUND


def _begin(order_id: str) -> Write:
    return Write(
        (
            step(
                "begin_order",
                order_id,
                money=Money("1.00", "CNY"),
                wallet="Wechat-Offline",
                code_masked="13**************01",
                lane="lane-1",
                deadline_at=0.0,
            ),
            step("begin_attempt", order_id, f"rq-{order_id}", "pay"),
        )
    )


def test_grouped_writes_that_fail_are_made_alone(tmp_path: Path) -> None:
    """Three lanes' intents in one transaction; one names an order already there: only that one fails."""

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        with Journal(tmp_path / "j.sqlite3") as journal:
            futures = [loop.create_future() for _ in range(3)]
            settled = _work([(journal, _begin(o), f) for o, f in zip(("a", "b", "a"), futures, strict=True)])
            outcomes = [(ok, value) for _, ok, value in settled]
            orders = sorted(r.order_id for r in journal.orders())
            attempts = [len(journal.attempts(o)) for o in orders]
        return [outcomes, orders, attempts]

    outcomes, orders, attempts = asyncio.run(main())
    assert [ok for ok, _ in outcomes] == [True, True, False]
    assert isinstance(outcomes[2][1], JournalError) and "already in the journal" in outcomes[2][1].message
    assert orders == ["a", "b"] and attempts == [1, 1]


@pytest.mark.sandbox()
def test_async_lanes_sharing_one_journal(sandbox: SandboxServer, tmp_path: Path) -> None:
    """Lanes in one event loop on one journal: their writes go through the writer threads, every payment recorded;
    two lanes paying the same order id: one pays, the other is refused by the journal before anything is sent."""
    s = settings_for(sandbox, tmp_path)
    host = PluginHost(s)

    async def main() -> tuple[list[str], list[str]]:
        with Journal(s.journal) as journal:
            lanes = [AsyncTerminal(s, host, journal=journal, recover=False) for _ in range(6)]
            for t in lanes:
                await t.start()
            try:
                paid = await asyncio.gather(*(t.pay("1.00", "CNY", code=WECHAT_SUCCESS) for t in lanes))
                twice = await asyncio.gather(
                    *(t.pay("1.00", "CNY", code=WECHAT_SUCCESS, order_id="same-order") for t in lanes[:2]),
                    return_exceptions=True,
                )
            finally:
                for t in lanes:
                    await t.close()
            statuses = [journal.order(p.merchant_transaction_id).status.value for p in paid]  # type: ignore[union-attr]
            shown = [type(x).__name__ if isinstance(x, BaseException) else x.status.value for x in twice]
        return statuses, shown

    statuses, shown = asyncio.run(main())
    assert statuses == ["SUCCESS"] * 6
    assert sorted(shown) == ["JournalError", "SUCCESS"]
    assert len([o for o in sandbox.orders() if o.merchant_transaction_id == "same-order"]) == 1
