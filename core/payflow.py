"""The payment state machine, written once as generators that both terminals drive.

A flow does no I/O: it *yields* an effect (:mod:`paycode.effects`: :class:`Call` a gateway
operation with the ``bizContent`` it built, :class:`Sleep`, :class:`Now` read the clock,
:class:`Write` / :class:`Read` the journal) and is sent back the result (a
:class:`~paycode.gateway.GatewayAnswer`, or :class:`Lost` when no trustworthy answer came back;
for a sleep, True when news of the order woke it early; for a journal write, nothing once it is
durable, or the :class:`~paycode.errors.JournalError` raised at the ``yield``).
:func:`~paycode.drivers.drive` performs the effects on the calling thread with a synchronous
gateway client and :func:`~paycode.drivers.drive_async` in an event loop with an asyncio one
(its journal writes on the journal's writer thread), so :class:`~paycode.terminal.Terminal` and
:class:`~paycode.terminal.AsyncTerminal` share every decision. The journal is written before
each call and after each answer; every step is emitted as an event once the journal has it.

The pay flow (docs/payment-flow.md draws it)::

    INIT ──unifiedPay (timeExpire = end of the deadline)──▶ SUCCESS | FAILED | PROCESSING | UNKNOWN
    PROCESSING/UNKNOWN ──query every interval──▶ SUCCESS | FAILED | CLOSED | still waiting
    deadline (or cancel) while PROCESSING ──"closing": query every interval──▶ CLOSED (the gateway closed it at
        timeExpire: not paid) | SUCCESS (paid after all) | still PROCESSING close_grace after timeExpire:
        marked abandoned, recovery follows it (a later success is refunded)

Which status may follow which is one table, :data:`paycode.models.MOVES`. Every answer is
checked against what was asked (:func:`paycode.gateway.answer_mismatch`) before it can move the
state: a signed answer that names another order, attempt, amount or currency, or a code that
contradicts its status, is untrustworthy and leaves the outcome unknown. No call outlives the
lane's bound: the deadline plus one read timeout (when the gateway has answered PROCESSING:
timeExpire plus the close grace plus one read timeout).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from . import bizcontent
from .drivers import AsyncSleeper, Sleeper, drive, drive_async
from .effects import (
    CLOSE_GRACE,
    NOW,
    WALL,
    Call,
    Flow,
    FlowContext,
    Lost,
    Read,
    Reopen,
    Sleep,
    Step,
    Steps,
    Write,
    step,
)
from .errors import GatewayRejected, JournalError, MoneyError, OrderError, OutcomeUnknown
from .gateway import CodeMeaning, GatewayAnswer, answer_mismatch, code_meaning
from .journal import OrderRecord
from .masking import mask_code
from .models import Money, Payment, PaymentRequest, PaymentStatus, PollingPolicy

__all__ = [
    "CLOSE_GRACE",
    "NOT_FOUND",
    "AsyncSleeper",
    "Call",
    "Flow",
    "FlowContext",
    "Found",
    "Lost",
    "RefundResult",
    "Sleep",
    "Sleeper",
    "drive",
    "drive_async",
    "outcome",
    "pay_flow",
    "query_flow",
    "refund_flow",
    "verdict",
]

#: how often a pay (or refund) whose answer was lost, and which the gateway says it never saw, is sent again
#: with the same requestId (merchantRefundId): at most one of the copies is ever executed
MAX_RESENDS = 2
#: pauses before the journal writes that failed after a request left are tried again, at the end of a flow
JOURNAL_RETRIES = (0.5, 1.0, 2.0)

_WAITING = (PaymentStatus.INIT, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)
_NOT_PAID = (PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL)
#: what the gateway says of an order it holds open, waiting for the shopper: it closes it at timeExpire
_OPEN = (PaymentStatus.PROCESSING, PaymentStatus.INIT)


# ---------------------------------------------------------------------------- verdicts


class Found(enum.Enum):
    """A verdict that is not a payment status: the gateway has no such order (or refund)."""

    NOT_FOUND = "NOT_FOUND"


#: a query's (or refund's) verdict when the gateway does not know the order or refund (code 107001)
NOT_FOUND = Found.NOT_FOUND
Verdict = PaymentStatus | Found

#: the status a top-level code establishes on its own (no bizContent.status); anything else: UNKNOWN, query
_BY_MEANING = {
    CodeMeaning.SUCCESS: PaymentStatus.SUCCESS,
    CodeMeaning.PROCESSING: PaymentStatus.PROCESSING,
    CodeMeaning.REFUSED: PaymentStatus.FAILED,  # refused before anything was executed
    CodeMeaning.DECLINED: PaymentStatus.FAILED,  # risk control or the wallet said no
}


def verdict(operation: str, answer: GatewayAnswer) -> Verdict:
    """What a verified answer to ``operation`` establishes (UNKNOWN: query to find out).

    The status in its bizContent when it names one. Otherwise: "no such transaction" (107001) is
    :data:`NOT_FOUND` for a query, refund or refund query (to unifiedPay it is UNKNOWN, as any code
    that says nothing of the order); for unifiedPay and refunds the code's documented meaning
    (docs/payment-flow.md "Result codes": 107000 duplicate, 5xxxxx, 600002, unknown shapes are
    UNKNOWN); a payment query's code alone says nothing: UNKNOWN.
    """
    if operation != "unified_pay" and answer.code == "107001":
        return NOT_FOUND
    if answer.status is not None:
        return answer.status
    if operation == "query":
        return PaymentStatus.UNKNOWN
    return _BY_MEANING.get(code_meaning(answer.code), PaymentStatus.UNKNOWN)


def outcome(payment: Payment) -> str:
    """``paid``, ``not_paid`` or ``unresolved`` (no final answer yet: journaled for recovery).

    A success the journal could not record (``payment.unrecorded``) is ``not_paid`` once the lane has
    refunded it in full, else ``unresolved``: nobody may take it as paid without a record of it.
    """
    if payment.status is PaymentStatus.SUCCESS:
        if payment.unrecorded:
            return "not_paid" if payment.refunded >= payment.money.amount else "unresolved"
        return "paid"
    if payment.status in _NOT_PAID:
        return "not_paid"
    return "unresolved"


# ---------------------------------------------------------------------------- the order


@attrs.frozen
class RefundResult:
    """How a refund ended: ``status`` SUCCESS, FAILED, or PROCESSING/UNKNOWN (pending, journaled)."""

    order_id: str
    refund_id: str
    money: Money
    status: PaymentStatus
    refunded: Decimal
    description: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "order": self.order_id,
            "refund_id": self.refund_id,
            "amount": str(self.money.wire()),
            "currency": self.money.currency,
            "status": self.status.value,
            "refunded": str(self.refunded),
            "description": self.description,
        }


@attrs.frozen
class _Move:
    previous: PaymentStatus
    status: PaymentStatus
    note: str


def _read_order(order_id: str) -> Read:
    return Read(step("order", order_id))


def _answered(order_id: str, attempt: str, answer: GatewayAnswer) -> Step:
    """The journal step that ends an attempt with a verified, trusted answer."""
    status = answer.status.value if answer.status else None
    return step(
        "end_attempt", order_id, attempt, outcome="answered", code=answer.code, status=status, detail=answer.description
    )


class _Order:
    """One payment being worked on: moves its state in the object, the journal and the events together.

    Once its request may have left, a journal write that fails does not stop the order: the
    write is kept and tried again before the next one (and at the end of the flow), while
    the order is followed in memory to its end.
    """

    def __init__(self, ctx: FlowContext, payment: Payment, money: Money | None = None) -> None:
        self.ctx = ctx
        self.payment = payment
        self.id = payment.merchant_transaction_id
        self.money = money or payment.money
        self.backlog: list[tuple[Step, ...]] = []
        self.journal_error = ""

    def emit(self, kind: str, **data: Any) -> None:
        self.ctx.emit(kind, self.id, **data)

    # -- the journal, kept going after a failure ---------------------------------------

    def write(self, *steps: Step) -> Steps[bool]:
        """Write ``steps`` as one transaction; True when everything is written. After a failure the writes queue
        up in order and are tried again at the end of the flow (:func:`_finish`), so a journal that is locked or
        full does not hold the lane up at every step."""
        self.backlog.append(steps)
        if self.journal_error:
            return False
        return (yield from self.flush())

    def flush(self, *, reopen: bool = False) -> Steps[bool]:
        if reopen and self.backlog:
            try:
                yield Reopen()  # a lock released, space freed, a mount made writable again
            except JournalError as exc:
                self.journal_error = exc.message
                return False
        while self.backlog:
            try:
                yield Write(self.backlog[0])
            except JournalError as exc:
                first = not self.journal_error
                self.journal_error = exc.message
                if first:
                    self.emit("payment.journal", step="failed", error=exc.message, pending=len(self.backlog))
                return False
            self.backlog.pop(0)
        if self.journal_error:
            self.emit("payment.journal", step="recorded", error=self.journal_error)
            self.journal_error = ""
        return True

    # -- state --------------------------------------------------------------------------

    def _moving(self, status: PaymentStatus, transaction_id: str | None) -> bool:
        p = self.payment
        if status is p.status:
            return bool(transaction_id and transaction_id != p.transaction_id)
        return p.status.may_move_to(status)

    def _apply(self, status: PaymentStatus, transaction_id: str | None, note: str) -> _Move | None:
        """Move the order in memory; what to show once the journal has it (None: nothing moved)."""
        p = self.payment
        if transaction_id:
            p.transaction_id = transaction_id
        if not p.status.may_move_to(status):
            return None
        move = _Move(p.status, status, note)
        p.move(status, note)
        return move

    def _show(self, move: _Move | None) -> None:
        if move is not None:
            self.emit("payment.state", status=move.status.value, previous=move.previous.value, note=move.note)

    def _set_state(self, status: PaymentStatus, transaction_id: str | None, note: str) -> Step:
        # a SUCCESS after a "not paid" is marked abandoned-and-paid by the journal itself, in the same transaction
        return step("set_state", self.id, status, transaction_id=transaction_id, note=note)

    def move(self, status: PaymentStatus, *, transaction_id: str | None = None, note: str = "") -> Steps[None]:
        if not self._moving(status, transaction_id):
            return
        yield from self.write(self._set_state(status, transaction_id, note))
        self._show(self._apply(status, transaction_id, note))

    def abandon(self, reason: str) -> Steps[bool]:
        return (yield from self.write(step("mark_abandoned", self.id, reason)))

    def begin(self, request_id: str, kind: str) -> Steps[bool]:
        return (yield from self.write(step("begin_attempt", self.id, request_id, kind)))

    def answered(
        self,
        request_id: str,
        operation: str,
        answer: GatewayAnswer,
        *,
        moves_to: PaymentStatus | None = None,
        transaction_id: str | None = None,
        note: str = "",
    ) -> Steps[None]:
        """Record a verified answer and the state it moves the order to in one journal transaction, then tell."""
        ended = _answered(self.id, request_id, answer)
        moving = moves_to is not None and self._moving(moves_to, transaction_id)
        if moving and moves_to is not None:
            yield from self.write(ended, self._set_state(moves_to, transaction_id, note))
        else:
            yield from self.write(ended)
        move = self._apply(moves_to, transaction_id, note) if moving and moves_to is not None else None
        self.emit("payment.answer", operation=operation, **answer.as_json())
        self._show(move)

    def untrusted(self, request_id: str, operation: str, answer: GatewayAnswer, why: str) -> Steps[None]:
        """A signed answer that does not match what was asked: journaled with what differed, never believed."""
        detail = f"untrustworthy answer ({answer.code} {answer.description}): {why}".strip()
        yield from self.write(
            step("end_attempt", self.id, request_id, outcome="unknown", code=answer.code, detail=detail)
        )
        self.emit("payment.mismatch", operation=operation, code=answer.code, mismatch=why)

    def lost(
        self, request_id: str, operation: str, lost: Lost, *, moves_to: PaymentStatus | None = None, note: str = ""
    ) -> Steps[None]:
        """Record an attempt without a trustworthy answer (and the state that follows) in one transaction, then tell."""
        moving = moves_to is not None and self._moving(moves_to, None)
        outcome = "unknown" if lost.delivered else "error"
        ended = step("end_attempt", self.id, request_id, outcome=outcome, detail=lost.error.message)
        if moving and moves_to is not None:
            yield from self.write(ended, self._set_state(moves_to, None, note))
        else:
            yield from self.write(ended)
        move = self._apply(moves_to, None, note) if moving and moves_to is not None else None
        self.emit("payment.unknown", operation=operation, reason=lost.error.message, delivered=lost.delivered)
        if lost.error.context.get("mismatch"):  # the client refused a signed answer that does not match the request
            self.emit("payment.mismatch", operation=operation, mismatch=lost.error.context["mismatch"])
        self._show(move)


def _transaction_id(answer: GatewayAnswer) -> str | None:
    value = answer.biz.get("transactionId")
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------------- pay


@attrs.frozen
class _Bounds:
    """The pay flow's clock: deadline, the end of closing, and how long a call may take (monotonic seconds)."""

    deadline: float
    closing_ends: float
    slack: float | None

    def budget(self, now: float, closing: bool) -> float | None:
        if self.slack is None:
            return None
        return (self.closing_ends if closing else self.deadline) + self.slack - now

    def left(self, now: float, closing: bool) -> float:
        budget = self.budget(now, closing)
        return math.inf if budget is None else budget


def pay_flow(ctx: FlowContext, request: PaymentRequest, policy: PollingPolicy) -> Flow[Payment]:
    """From a classified code to a final state; at the deadline, the documented close (see the module doc)."""
    return Flow(ctx, _pay(ctx, request, policy))


def _pay(ctx: FlowContext, request: PaymentRequest, policy: PollingPolicy) -> Steps[Payment]:
    order_id = request.merchant_transaction_id
    started = yield NOW
    wall = yield WALL
    if request.time_expire is None:
        request = attrs.evolve(request, time_expire=math.ceil(wall + policy.deadline))
    time_expire = request.time_expire or 0
    biz = bizcontent.pay_biz(request)  # refuses bad ids and fields before anything is written or sent
    bounds = _Bounds(
        deadline=started + policy.deadline,
        closing_ends=started + (time_expire - wall) + ctx.close_grace,
        slack=ctx.read_timeout,
    )
    payment = Payment(order_id, request.money, request.wallet.name, mask_code(request.code))
    order = _Order(ctx, payment)
    extra: dict[str, Any] = {}
    if ctx.gateway is not None:
        extra = {"gateway": ctx.gateway, "site": ctx.site}
    # the order and its first attempt: one transaction, durable before the request leaves; a JournalError
    # here stops the payment (nothing has been sent)
    yield Write(
        (
            step(
                "begin_order",
                order_id,
                money=request.money,
                wallet=request.wallet.name,
                code_masked=payment.code_masked,
                lane=ctx.lane,
                deadline_at=wall + policy.deadline,
                **extra,
            ),
            step("begin_attempt", order_id, request.request_id, "pay"),
        )
    )
    payment.move(PaymentStatus.INIT, "order created")

    now = yield NOW
    delivered = yield from _send_pay(order, request, biz, resend=False, begun=True, budget=bounds.budget(now, False))
    if payment.status is PaymentStatus.UNKNOWN and not delivered:
        yield from order.move(PaymentStatus.FAILED, note="not sent: the gateway could not be reached")
        return (yield from _finish(order, request, policy))

    def cancelled() -> bool:
        return ctx.cancelled(order_id)

    resends = polls = 0
    found: Verdict = payment.status
    while payment.status in _WAITING:
        now = yield NOW
        if bounds.left(now, False) <= 0:
            break
        if polls and (now >= bounds.deadline or cancelled()):
            break  # a cancel still asks once when the pay's answer was lost: it may be PROCESSING, to be closed
        if cancelled() and payment.status is not PaymentStatus.UNKNOWN:
            break
        if payment.status is not PaymentStatus.UNKNOWN or polls:  # ask at once when the answer was lost
            yield Sleep(max(0.0, min(policy.interval, bounds.deadline - now)), order_id)
            if cancelled():
                break
        polls += 1
        now = yield NOW
        order.emit("payment.poll", poll=polls, seconds_left=round(max(0.0, bounds.deadline - now), 3))
        found = yield from _query(order, bounds.budget(now, closing=False))
        if found is NOT_FOUND and payment.status is PaymentStatus.UNKNOWN and resends < MAX_RESENDS:
            # our pay never arrived (or not yet): send the very same request again, same requestId
            resends += 1
            now = yield NOW
            yield from _send_pay(order, request, biz, resend=True, budget=bounds.budget(now, closing=False))

    if payment.status in _OPEN:
        # the documented close: the gateway closes the order itself at timeExpire; follow it until it does
        why = "cancelled" if cancelled() else "deadline"
        order.emit("payment.close", step="closing", reason=why, time_expire=time_expire)
        while payment.status in _WAITING:
            now = yield NOW
            if now >= bounds.closing_ends or bounds.left(now, True) <= 0:
                break
            yield Sleep(max(0.0, min(policy.interval, bounds.closing_ends - now)), order_id)
            polls += 1
            order.emit("payment.poll", poll=polls, seconds_left=0.0, closing=True)
            now = yield NOW
            found = yield from _query(order, bounds.budget(now, closing=True))

    if payment.status in _WAITING:
        never_arrived = found is NOT_FOUND and payment.status is PaymentStatus.UNKNOWN
        if never_arrived:
            yield from order.move(PaymentStatus.FAILED, note="the gateway has no such order at the deadline")
        # should the payment still go through, recovery refunds it (or reports it, by the setting)
        if payment.status in _OPEN:
            reason = f"still {payment.status.value} {ctx.close_grace:g} s after timeExpire {time_expire}"
        else:
            reason = f"no final answer within {policy.deadline:g} s"
        yield from order.abandon(reason)
        order.emit("payment.close", step="abandoned", reason=reason)
    return (yield from _finish(order, request, policy))


def _finish(order: _Order, request: PaymentRequest, policy: PollingPolicy) -> Steps[Payment]:
    """Retry journal writes that failed; when they never succeed, refund a success nobody could record."""
    payment = order.payment
    if not order.backlog:
        return payment
    order.emit("payment.journal", step="retrying", error=order.journal_error, pending=len(order.backlog))
    for pause in JOURNAL_RETRIES:
        yield Sleep(pause)
        if (yield from order.flush(reopen=True)):
            return payment
    error = order.journal_error
    payment.unrecorded = error
    if payment.status is PaymentStatus.SUCCESS:
        order.emit("payment.journal", step="refunding", error=error)
        yield from _refund_unrecorded(order, request, policy)
    elif payment.status in _OPEN:
        order.emit(
            "payment.journal",
            step="unrecorded",
            error=error,
            action=f"the gateway closes it at timeExpire "
            f"{request.time_expire}; nothing else can be done without a journal",
        )
    else:
        order.emit(
            "payment.journal",
            step="unrecorded",
            error=error,
            action="none needed: not paid"
            if payment.status in _NOT_PAID
            else "recovery cannot see it: check the order at the gateway",
        )
    return payment


def _refund_unrecorded(order: _Order, request: PaymentRequest, policy: PollingPolicy) -> Steps[None]:
    """Refund a success the journal could not record: the lane must never keep money it has no record of."""
    payment = order.payment
    refund_id = bizcontent.new_request_id("rf")
    biz = bizcontent.refund_biz(
        merchant_transaction_id=order.id,
        merchant_refund_id=refund_id,
        amount=payment.money,
        remark="not recorded: refunded",
    )
    reply = yield Call("refund", biz, budget=order.ctx.read_timeout)
    status: Verdict = PaymentStatus.UNKNOWN
    if isinstance(reply, GatewayAnswer) and not answer_mismatch(
        reply, order_id=order.id, money=payment.money, refund_id=refund_id
    ):
        status = verdict("refund", reply)
    asked = 0
    while status not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED) and asked < 3:
        asked += 1
        yield Sleep(policy.interval)
        ask = bizcontent.refund_query_biz(merchant_transaction_id=order.id, merchant_refund_id=refund_id)
        reply = yield Call("refund_query", ask, budget=order.ctx.read_timeout)
        if isinstance(reply, GatewayAnswer) and not answer_mismatch(reply, order_id=order.id, refund_id=refund_id):
            status = verdict("refund_query", reply)
            status = PaymentStatus.UNKNOWN if status is NOT_FOUND else status
    if status is PaymentStatus.SUCCESS:
        payment.refunded = payment.money.amount
        order.emit("payment.journal", step="refunded", refund_id=refund_id, amount=str(payment.money.wire()))
    else:
        order.emit("payment.journal", step="refund_unsettled", refund_id=refund_id, status=status.value)


def _send_pay(
    order: _Order,
    request: PaymentRequest,
    biz: Mapping[str, Any],
    *,
    resend: bool,
    begun: bool = False,
    budget: float | None = None,
) -> Steps[bool]:
    """Send unifiedPay; True when it may have reached the gateway. ``begun``: the attempt is journaled already."""
    if not begun:
        yield from order.begin(request.request_id, "pay")
    order.emit(
        "payment.request",
        operation="unified_pay",
        request_id=request.request_id,
        wallet=request.wallet.name,
        amount=str(request.money.wire()),
        currency=request.money.currency,
        code=mask_code(request.code),
        resend=resend,
        time_expire=request.time_expire,
    )
    reply = yield Call("unified_pay", biz, budget=budget)
    if isinstance(reply, Lost):
        note = "no trustworthy answer to unifiedPay; querying"
        yield from order.lost(request.request_id, "unified_pay", reply, moves_to=PaymentStatus.UNKNOWN, note=note)
        return reply.delivered
    why = answer_mismatch(reply, order_id=order.id, request_id=request.request_id, money=request.money)
    if why is not None:
        yield from order.untrusted(request.request_id, "unified_pay", reply, why)
        yield from order.move(PaymentStatus.UNKNOWN, note=f"untrustworthy answer to unifiedPay ({why}); querying")
        return True
    status = verdict("unified_pay", reply)
    assert isinstance(status, PaymentStatus)  # unifiedPay is never NOT_FOUND
    yield from order.answered(
        request.request_id,
        "unified_pay",
        reply,
        moves_to=status,
        transaction_id=_transaction_id(reply),
        note=f"{reply.code} {reply.description}".strip(),
    )
    return True


def _query(order: _Order, budget: float | None = None) -> Steps[Verdict]:
    """One payment query by order id; moves the state on a verified, matching answer and returns the verdict."""
    query_id = bizcontent.new_request_id("q")
    yield from order.begin(query_id, "query")
    reply = yield Call("query", bizcontent.query_biz(merchant_transaction_id=order.id), budget=budget)
    if isinstance(reply, Lost):
        yield from order.lost(query_id, "query", reply)
        return PaymentStatus.UNKNOWN
    found = verdict("query", reply)
    why = None if found is NOT_FOUND else answer_mismatch(reply, order_id=order.id, money=order.money)
    if why is not None:
        yield from order.untrusted(query_id, "query", reply, why)
        return PaymentStatus.UNKNOWN
    moves = found if isinstance(found, PaymentStatus) and found is not PaymentStatus.UNKNOWN else None
    yield from order.answered(
        query_id,
        "query",
        reply,
        moves_to=moves,
        transaction_id=_transaction_id(reply) if moves else None,
        note=f"query: {reply.code}",
    )
    return found


# ---------------------------------------------------------------------------- query


def query_flow(ctx: FlowContext, order_id: str) -> Flow[Payment]:
    """Ask the gateway for an order's state; the journal follows a verified answer that matches the order.

    Raises OutcomeUnknown when no trustworthy answer came (or it does not match the journaled
    order), GatewayRejected when the gateway does not know the order.
    """
    return Flow(ctx, _query_order(ctx, order_id))


def _query_order(ctx: FlowContext, order_id: str) -> Steps[Payment]:
    bizcontent.check_id(order_id, "order id")
    record: OrderRecord | None = yield _read_order(order_id)
    query_id = bizcontent.new_request_id("q")
    if record is not None:
        yield Write((step("begin_attempt", order_id, query_id, "query"),))
    reply = yield Call("query", bizcontent.query_biz(merchant_transaction_id=order_id))
    if isinstance(reply, Lost):
        if record is not None:
            yield Write((step("end_attempt", order_id, query_id, outcome="unknown", detail=reply.error.message),))
        ctx.emit("payment.unknown", order_id, operation="query", reason=reply.error.message)
        raise reply.error
    found = verdict("query", reply)
    money = record.money if record is not None else None
    why = None if found is NOT_FOUND else answer_mismatch(reply, order_id=order_id, money=money)
    if why is not None:
        detail = f"untrustworthy answer ({reply.code} {reply.description}): {why}"
        if record is not None:
            yield Write((step("end_attempt", order_id, query_id, outcome="unknown", code=reply.code, detail=detail),))
        ctx.emit("payment.mismatch", order_id, operation="query", code=reply.code, mismatch=why)
        raise OutcomeUnknown(
            f"query: the gateway's signed answer for order {order_id!r} does not match the order ({why}); "
            "not believed: the outcome stays unknown",
            order=order_id,
            mismatch=why,
        )
    if record is not None:
        yield Write((_answered(order_id, query_id, reply),))
    ctx.emit("payment.answer", order_id, operation="query", **reply.as_json())
    if found is NOT_FOUND:
        raise GatewayRejected(
            f"order {order_id!r} does not exist at the gateway (code {reply.code})", order=order_id, code=reply.code
        )
    payment = _payment_from(record, reply, order_id)
    if isinstance(found, PaymentStatus) and found is not PaymentStatus.UNKNOWN and record is not None:
        yield from _Order(ctx, payment).move(found, transaction_id=_transaction_id(reply), note=f"query: {reply.code}")
    elif isinstance(found, PaymentStatus):
        payment.move(found, f"query: {reply.code}")
    return payment


def _payment_from(record: OrderRecord | None, answer: GatewayAnswer, order_id: str) -> Payment:
    if record is not None:
        return Payment(
            order_id,
            record.money,
            record.wallet,
            record.code_masked,
            status=record.status,
            transaction_id=record.transaction_id,
            refunded=record.refunded,
        )
    # an order this journal never saw (another lane's): what the gateway says is all there is
    biz = answer.biz
    method = biz.get("paymentMethod")
    wallet = method.get("type", "") if isinstance(method, Mapping) else ""
    amount, currency = biz.get("amount"), biz.get("currency")
    if not isinstance(amount, Decimal) or not isinstance(currency, str):
        raise GatewayRejected(f"the gateway's answer for order {order_id!r} has no amount and currency")
    money = Money(amount, currency)
    return Payment(order_id, Money(money.wire(), currency), str(wallet), "", transaction_id=_transaction_id(answer))


# ---------------------------------------------------------------------------- refund


def check_refund_amount(amount: Decimal | str | int, currency: str | None = None) -> None:
    """MoneyError for an amount that can never be refunded, checked before the order is looked up: its grammar,
    sign and size; its decimals too when ``currency`` is given (else against the order's currency, later)."""
    if currency is not None:
        Money(amount, currency.strip().upper())
        return
    try:
        Money(amount, "CLF")  # four decimals, the most ISO 4217 has: only the order's currency can say fewer
    except MoneyError as exc:
        if "more decimals than" not in exc.message:
            raise


def check_refund_currency(order_id: str, order_currency: str, currency: str | None) -> None:
    """OrderError when a refund names a currency other than its order's (nothing is sent)."""
    if currency is None:
        return
    asked = currency.strip().upper()
    if asked != order_currency:
        raise OrderError(
            f"refund in {asked} refused: order {order_id!r} was paid in {order_currency}; "
            f"a refund is always in its order's currency ({order_currency})"
        )


def refund_flow(
    ctx: FlowContext,
    order_id: str,
    amount: Decimal | str | int,
    policy: PollingPolicy,
    currency: str | None = None,
) -> Flow[RefundResult]:
    """Refund part or all of a paid order, never more than is left, only in the order's currency;
    poll a PROCESSING refund until the deadline."""
    return Flow(ctx, _Refund(ctx, order_id, policy).run(amount, currency))


class _Refund:
    """One refund being worked on. Journal errors after the refund left are followed in memory, never raised."""

    def __init__(self, ctx: FlowContext, order_id: str, policy: PollingPolicy) -> None:
        self.ctx = ctx
        self.order_id = order_id
        self.policy = policy
        self.refund_id = bizcontent.new_request_id("rf")
        self.money: Money | None = None
        self.deadline = 0.0
        self.last = ""  # the latest answer's description, for the result
        self.unrecorded: list[str] = []

    def budget(self, now: float) -> float | None:
        slack = self.ctx.read_timeout
        return None if slack is None else self.deadline + slack - now

    def emit(self, stage: str, **data: Any) -> None:
        assert self.money is not None
        self.ctx.emit(
            "payment.refund",
            self.order_id,
            step=stage,
            refund_id=self.refund_id,
            amount=str(self.money.wire()),
            currency=self.money.currency,
            **data,
        )

    def later(self, *steps: Step) -> Steps[None]:
        """A journal write after the refund left: a failure is reported once and the refund followed in memory."""
        try:
            yield Write(steps)
        except JournalError as exc:
            if not self.unrecorded:
                self.ctx.emit("payment.journal", self.order_id, step="failed", error=exc.message)
            self.unrecorded.append(exc.message)

    def run(self, amount: Decimal | str | int, currency: str | None) -> Steps[RefundResult]:
        ctx, order_id, policy, refund_id = self.ctx, self.order_id, self.policy, self.refund_id
        check_refund_amount(amount, currency)  # a bad amount is said as such, never as "order not found"
        bizcontent.check_id(order_id, "order id")
        record: OrderRecord | None = yield _read_order(order_id)
        if record is None:
            raise OrderError(
                f"order {order_id!r} is not in the journal; only orders paid on this journal can be refunded"
            )
        check_refund_currency(order_id, record.currency, currency)
        money = self.money = Money(amount, record.currency)
        left = record.refundable
        if record.status is not PaymentStatus.SUCCESS:
            raise OrderError(f"order {order_id!r} is {record.status.value}; only a SUCCESS payment can be refunded")
        if money.amount > left:
            raise OrderError(
                f"refund of {money} is more than order {order_id!r} has left to refund: {left} {record.currency} "
                f"(paid {record.amount}, refunded {record.refunded}, pending {record.refunds_pending})"
            )
        biz = bizcontent.refund_biz(
            merchant_transaction_id=order_id,
            merchant_refund_id=refund_id,
            amount=money,
            notification_url=ctx.notification_url,
        )
        # checked again, atomically with other lanes; a failure of either stops the refund: nothing sent yet
        yield Write((step("begin_refund", order_id, refund_id, money.wire()),))
        self.deadline = (yield NOW) + policy.deadline
        yield Write((step("begin_attempt", order_id, refund_id, "refund"),))
        status = yield from self.send(biz)
        resends = asked = 0
        while status not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
            now = yield NOW
            if asked and now >= self.deadline:
                break
            if (left_s := self.budget(now)) is not None and left_s <= 0:
                break
            if asked:
                yield Sleep(max(0.0, min(policy.interval, self.deadline - now)), order_id)
            asked += 1
            status = yield from self.ask()
            if status is NOT_FOUND and resends < MAX_RESENDS:
                resends += 1  # the refund never arrived: the same merchantRefundId again, executed at most once
                yield from self.later(step("begin_attempt", order_id, refund_id, "refund"))
                status = yield from self.send(biz)
        return (yield from self.end(record, status))

    def send(self, biz: Mapping[str, Any]) -> Steps[Verdict]:
        self.emit("request")
        reply = yield Call("refund", biz, budget=self.budget((yield NOW)))
        return (yield from self.answer(self.refund_id, "refund", reply))

    def ask(self) -> Steps[Verdict]:
        attempt = bizcontent.new_request_id("rq")
        yield from self.later(step("begin_attempt", self.order_id, attempt, "refund_query"))
        ask_biz = bizcontent.refund_query_biz(merchant_transaction_id=self.order_id, merchant_refund_id=self.refund_id)
        reply = yield Call("refund_query", ask_biz, budget=self.budget((yield NOW)))
        return (yield from self.answer(attempt, "refund_query", reply))

    def answer(self, attempt: str, operation: str, reply: GatewayAnswer | Lost) -> Steps[Verdict]:
        """Journal and report one refund (or refund query) answer; its verdict (its description kept in ``last``)."""
        ctx, order_id = self.ctx, self.order_id
        if isinstance(reply, Lost):
            self.last = reply.error.message
            yield from self.later(step("end_attempt", order_id, attempt, outcome="unknown", detail=self.last))
            ctx.emit("payment.unknown", order_id, operation=operation, reason=reply.error.message)
            return PaymentStatus.UNKNOWN
        found = verdict(operation, reply)
        mismatch = (
            None
            if found is NOT_FOUND
            else answer_mismatch(reply, order_id=order_id, money=self.money, refund_id=self.refund_id)
        )
        if mismatch is not None:
            self.last = f"untrustworthy answer ({reply.code} {reply.description}): {mismatch}"
            ended = step("end_attempt", order_id, attempt, outcome="unknown", code=reply.code, detail=self.last)
            yield from self.later(ended)
            ctx.emit("payment.mismatch", order_id, operation=operation, code=reply.code, mismatch=mismatch)
            return PaymentStatus.UNKNOWN
        yield from self.later(_answered(order_id, attempt, reply))
        ctx.emit("payment.answer", order_id, operation=operation, **reply.as_json())
        self.last = f"{reply.code} {reply.description}".strip()
        if found is NOT_FOUND and operation == "refund":
            return PaymentStatus.FAILED  # the refund call itself names an order the gateway does not have
        return found

    def end(self, record: OrderRecord, status: Verdict) -> Steps[RefundResult]:
        assert self.money is not None
        order_id, refund_id, money = self.order_id, self.refund_id, self.money
        final = status if isinstance(status, PaymentStatus) else PaymentStatus.UNKNOWN
        description = self.last
        if final not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
            final = final if final is PaymentStatus.PROCESSING else PaymentStatus.UNKNOWN
        yield from self.later(step("end_refund", order_id, refund_id, status=final.value, detail=self.last))
        if final not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
            description = f"no final answer yet ({description}); the refund stays pending in the journal"
        refunded = record.refunded + (money.wire() if final is PaymentStatus.SUCCESS else Decimal(0))
        if self.unrecorded:
            description = (
                f"{description + '; ' if description else ''}not recorded in the journal ({self.unrecorded[-1]}): it "
                "stays pending there (nothing more can be refunded meanwhile) and paycode recover settles it"
            )
        else:
            after: OrderRecord | None = yield _read_order(order_id)
            refunded = after.refunded if after is not None else refunded
        self.emit("done", status=final.value, refunded=str(refunded))
        return RefundResult(order_id, refund_id, money, final, refunded, description)
