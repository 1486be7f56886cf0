"""The payment state machine, written once as generators that both terminals drive.

A flow never touches the network or the clock's sleep itself: it *yields* an effect
(:class:`Call` a gateway operation, :class:`Sleep`) and is sent back the result (a
:class:`~paycode.gateway.GatewayAnswer`, or :class:`Lost` when the answer could not be
trusted). :func:`drive` runs a flow with a synchronous gateway client and
:func:`drive_async` with an asyncio one, so :class:`~paycode.terminal.Terminal` and
:class:`~paycode.terminal.AsyncTerminal` share every decision. The journal is written
before each call and after each answer; every step is emitted as an event.

The pay flow (docs/payment-flow.md draws it)::

    INIT ──unifiedPay──▶ SUCCESS | FAILED | PROCESSING | UNKNOWN (no trustworthy answer)
    PROCESSING/UNKNOWN ──query every interval──▶ SUCCESS | FAILED | CLOSED | still waiting
    deadline ──void, query once more──▶ CLOSED (not paid) | SUCCESS (paid after all)
                                      | still open: marked abandoned, a later success is refunded
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from . import bizcontent
from .errors import GatewayRejected, OrderError, OutcomeUnknown
from .gateway import AsyncGatewayClient, GatewayAnswer, GatewayClient
from .journal import JournalBackend, OrderRecord
from .masking import mask_code
from .models import Event, Money, Payment, PaymentRequest, PaymentStatus, PollingPolicy

__all__ = [
    "NOT_FOUND",
    "Call",
    "Flow",
    "FlowContext",
    "Lost",
    "RefundResult",
    "Sleep",
    "drive",
    "drive_async",
    "outcome",
    "pay_flow",
    "pay_verdict",
    "query_flow",
    "query_verdict",
    "refund_flow",
    "refund_verdict",
]

T = TypeVar("T")

#: a query's verdict when the gateway does not know the order (code 107001)
NOT_FOUND = "NOT_FOUND"
#: how often a pay (or refund) whose answer was lost, and which the gateway says it never saw, is sent again
#: with the same requestId (merchantRefundId): at most one of the copies is ever executed
MAX_RESENDS = 2

_WAITING = (PaymentStatus.INIT, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)
_NOT_PAID = (PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL)
#: codes of a definite "no" to a request: nothing was executed
_REJECTED = frozenset({"102000", "103000", "104000", "105000"})


# ---------------------------------------------------------------------------- effects


@attrs.frozen
class Call:
    """Call gateway operation ``operation`` (a method of the client) with ``kwargs``."""

    operation: str
    kwargs: Mapping[str, Any]


@attrs.frozen
class Sleep:
    """Wait ``seconds`` before going on."""

    seconds: float


@attrs.frozen
class Lost:
    """What a :class:`Call` is answered with when no trustworthy answer came back."""

    error: OutcomeUnknown

    @property
    def delivered(self) -> bool:
        """False only when every try failed to connect: the request never left this machine."""
        return bool(self.error.context.get("delivered", True))


Effect = Call | Sleep
Flow = Generator[Effect, Any, T]


def drive(flow: Flow[T], client: GatewayClient, *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``flow`` with a synchronous gateway client."""
    reply: Any = None
    try:
        while True:
            try:
                effect = flow.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(effect, Sleep):
                sleep(effect.seconds)
                reply = None
                continue
            try:
                reply = getattr(client, effect.operation)(**effect.kwargs)
            except OutcomeUnknown as exc:
                reply = Lost(exc)
    finally:
        flow.close()


async def drive_async(flow: Flow[T], client: AsyncGatewayClient) -> T:
    """Run ``flow`` with an asyncio gateway client."""
    reply: Any = None
    try:
        while True:
            try:
                effect = flow.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(effect, Sleep):
                await asyncio.sleep(effect.seconds)
                reply = None
                continue
            try:
                reply = await getattr(client, effect.operation)(**effect.kwargs)
            except OutcomeUnknown as exc:
                reply = Lost(exc)
    finally:
        flow.close()


# ---------------------------------------------------------------------------- verdicts


def pay_verdict(answer: GatewayAnswer) -> PaymentStatus:
    """The payment status a verified unifiedPay answer establishes (UNKNOWN: query to find out)."""
    if answer.status is not None:
        return answer.status
    code = answer.code
    if code == "000000":
        return PaymentStatus.SUCCESS
    if code == "002000":
        return PaymentStatus.PROCESSING
    if code in _REJECTED or code[:1] in ("2", "3"):
        return PaymentStatus.FAILED  # risk control, wallet decline, or a request refused before execution
    return PaymentStatus.UNKNOWN  # 107000 duplicate, 5xxxxx system error, 600002 upstream timeout, …


def query_verdict(answer: GatewayAnswer) -> PaymentStatus | str:
    """The status a verified payment-query answer reports, :data:`NOT_FOUND`, or UNKNOWN."""
    if answer.code == "107001":
        return NOT_FOUND
    if answer.status is not None:
        return answer.status
    return PaymentStatus.UNKNOWN


def refund_verdict(answer: GatewayAnswer) -> PaymentStatus | str:
    """The status of a refund from a refund or refund-query answer, :data:`NOT_FOUND`, or UNKNOWN."""
    if answer.code == "107001":
        return NOT_FOUND
    if answer.status is not None:
        return answer.status
    code = answer.code
    if code == "000000":
        return PaymentStatus.SUCCESS
    if code == "002000":
        return PaymentStatus.PROCESSING
    if code in _REJECTED or code[:1] in ("2", "3"):
        return PaymentStatus.FAILED
    return PaymentStatus.UNKNOWN


def outcome(payment: Payment) -> str:
    """``paid``, ``not_paid`` or ``unresolved`` (no final answer yet: journaled for recovery)."""
    if payment.status is PaymentStatus.SUCCESS:
        return "paid"
    if payment.status in _NOT_PAID:
        return "not_paid"
    return "unresolved"


# ---------------------------------------------------------------------------- context


@attrs.frozen
class FlowContext:
    """What a flow writes to and reports through. ``clock`` measures deadlines (monotonic seconds)."""

    journal: JournalBackend
    emit: Callable[..., Event | None]
    lane: str = "lane-1"
    notification_url: str | None = None
    clock: Callable[[], float] = time.monotonic


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


class _Order:
    """One payment being worked on: moves its state in the object, the journal and the events together."""

    def __init__(self, ctx: FlowContext, payment: Payment) -> None:
        self.ctx = ctx
        self.payment = payment
        self.id = payment.merchant_transaction_id

    def emit(self, kind: str, **data: Any) -> None:
        self.ctx.emit(kind, self.id, **data)

    def move(self, status: PaymentStatus, *, transaction_id: str | None = None, note: str = "") -> None:
        self._show(self._record(status, transaction_id, note))

    def _record(self, status: PaymentStatus, transaction_id: str | None, note: str) -> _Move | None:
        """Write a state change to the journal; what to show once it is durable (None: nothing moved)."""
        p = self.payment
        if transaction_id:
            p.transaction_id = transaction_id
        if status is p.status and not transaction_id:
            return None
        if p.status.final and not status.final:
            return None  # answers out of order never undo a final state
        self.ctx.journal.set_state(self.id, status, transaction_id=transaction_id, note=note)
        return _Move(p.status, status, note) if status is not p.status else None

    def _show(self, move: _Move | None) -> None:
        if move is not None:
            self.payment.move(move.status, move.note)
            self.emit("payment.state", status=move.status.value, previous=move.previous.value, note=move.note)

    def begin(self, request_id: str, kind: str) -> None:
        self.ctx.journal.begin_attempt(self.id, request_id, kind)

    def answered(
        self,
        request_id: str,
        operation: str,
        answer: GatewayAnswer,
        *,
        moves_to: PaymentStatus | None = None,
        transaction_id: str | None = None,
        note: str = "",
    ) -> None:
        """Record a verified answer and the state it moves the order to in one journal transaction, then tell."""
        status = answer.status.value if answer.status else None
        with self.ctx.journal.batch():
            self.ctx.journal.end_attempt(
                self.id, request_id, outcome="answered", code=answer.code, status=status, detail=answer.description
            )
            move = None if moves_to is None else self._record(moves_to, transaction_id, note)
        self.emit("payment.answer", operation=operation, **answer.as_json())
        self._show(move)

    def lost(
        self, request_id: str, operation: str, lost: Lost, *, moves_to: PaymentStatus | None = None, note: str = ""
    ) -> None:
        """Record an attempt without a trustworthy answer (and the state that follows) in one transaction, then tell."""
        with self.ctx.journal.batch():
            self.ctx.journal.end_attempt(
                self.id,
                request_id,
                outcome="unknown" if lost.delivered else "error",
                detail=lost.error.message,
            )
            move = None if moves_to is None else self._record(moves_to, None, note)
        self.emit("payment.unknown", operation=operation, reason=lost.error.message, delivered=lost.delivered)
        self._show(move)


@attrs.frozen
class _Move:
    previous: PaymentStatus
    status: PaymentStatus
    note: str


def _transaction_id(answer: GatewayAnswer) -> str | None:
    value = answer.biz.get("transactionId")
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------------- pay


def pay_flow(ctx: FlowContext, request: PaymentRequest, policy: PollingPolicy) -> Flow[Payment]:
    """From a classified code to a final state, or to the deadline (then close, and mark abandoned)."""
    biz = bizcontent.pay_biz(request)  # refuses bad ids before anything is written or sent
    order_id = request.merchant_transaction_id
    payment = Payment(order_id, request.money, request.wallet.name, mask_code(request.code))
    order = _Order(ctx, payment)
    deadline = ctx.clock() + policy.deadline
    with ctx.journal.batch():  # the order and its first attempt: one flush, durable before the request leaves
        ctx.journal.begin_order(
            order_id,
            money=request.money,
            wallet=request.wallet.name,
            code_masked=payment.code_masked,
            lane=ctx.lane,
            deadline_at=time.time() + policy.deadline,
        )
        order.begin(request.request_id, "pay")
    payment.move(PaymentStatus.INIT, "order created")

    delivered = yield from _send_pay(order, request, biz, resend=False, begun=True)
    if payment.status is PaymentStatus.UNKNOWN and not delivered:
        order.move(PaymentStatus.FAILED, note="not sent: the gateway could not be reached")
        return payment

    resends = 0
    polls = 0
    while payment.status in _WAITING and (ctx.clock() < deadline or not polls):  # ask at least once before closing
        if payment.status is not PaymentStatus.UNKNOWN or polls:
            yield Sleep(max(0.0, min(policy.interval, deadline - ctx.clock())))
        polls += 1
        order.emit("payment.poll", poll=polls, seconds_left=round(max(0.0, deadline - ctx.clock()), 3))
        verdict = yield from _query(order)
        if verdict == NOT_FOUND and payment.status is PaymentStatus.UNKNOWN and resends < MAX_RESENDS:
            # our pay never arrived (or not yet): send the very same request again, same requestId
            resends += 1
            yield from _send_pay(order, request, biz, resend=True)

    if payment.status in _WAITING:
        verdict = yield from _close(order, request)
        never_arrived = verdict == NOT_FOUND and payment.status is PaymentStatus.UNKNOWN
        if never_arrived:
            order.move(PaymentStatus.FAILED, note="the gateway has no such order at the deadline")
        if payment.status in _WAITING or never_arrived:
            # should the payment still go through, recovery refunds it (or reports it, by the setting)
            reason = f"no final answer within {policy.deadline:g} s"
            ctx.journal.mark_abandoned(order_id, reason)
            order.emit("payment.close", step="abandoned", reason=reason)
    return payment


def _send_pay(
    order: _Order, request: PaymentRequest, biz: Mapping[str, Any], *, resend: bool, begun: bool = False
) -> Flow[bool]:
    """Send unifiedPay; True when it may have reached the gateway. ``begun``: the attempt is journaled already."""
    if not begun:
        order.begin(request.request_id, "pay")
    order.emit(
        "payment.request",
        operation="unified_pay",
        request_id=request.request_id,
        wallet=request.wallet.name,
        amount=str(request.money.wire()),
        currency=request.money.currency,
        code=mask_code(request.code),
        resend=resend,
    )
    reply = yield Call("unified_pay", {"biz": biz})
    if isinstance(reply, Lost):
        note = "no trustworthy answer to unifiedPay; querying"
        order.lost(request.request_id, "unified_pay", reply, moves_to=PaymentStatus.UNKNOWN, note=note)
        return reply.delivered
    note = f"{reply.code} {reply.description}".strip()
    order.answered(
        request.request_id,
        "unified_pay",
        reply,
        moves_to=pay_verdict(reply),
        transaction_id=_transaction_id(reply),
        note=note,
    )
    return True


def _query(order: _Order) -> Flow[PaymentStatus | str]:
    """One payment query by order id; moves the state on a verified answer and returns the verdict."""
    query_id = bizcontent.new_request_id("q")
    order.begin(query_id, "query")
    reply = yield Call("query", {"merchant_transaction_id": order.id})
    if isinstance(reply, Lost):
        order.lost(query_id, "query", reply)
        return PaymentStatus.UNKNOWN
    verdict = query_verdict(reply)
    moves = verdict if isinstance(verdict, PaymentStatus) and verdict is not PaymentStatus.UNKNOWN else None
    order.answered(
        query_id,
        "query",
        reply,
        moves_to=moves,
        transaction_id=_transaction_id(reply) if moves else None,
        note=f"query: {reply.code}",
    )
    return verdict


def _close(order: _Order, request: PaymentRequest) -> Flow[PaymentStatus | str]:
    """At the deadline: void the order where the gateway lets us, then query once more."""
    void_id = bizcontent.new_request_id("vd")
    order.begin(void_id, "void")
    order.emit("payment.close", step="void", void_id=void_id)
    reply = yield Call(
        "void",
        {
            "merchant_transaction_id": order.id,
            "merchant_void_id": void_id,
            "amount": request.money,
            "notification_url": order.ctx.notification_url,
        },
    )
    if isinstance(reply, Lost):
        order.lost(void_id, "void", reply)
    else:
        order.answered(void_id, "void", reply)
    return (yield from _query(order))


# ---------------------------------------------------------------------------- query


def query_flow(ctx: FlowContext, order_id: str) -> Flow[Payment]:
    """Ask the gateway for an order's state; the journal follows a verified answer.

    Raises OutcomeUnknown when no trustworthy answer came, GatewayRejected when the
    gateway does not know the order.
    """
    bizcontent.check_id(order_id, "order id")
    record = ctx.journal.order(order_id)
    query_id = bizcontent.new_request_id("q")
    if record is not None:
        ctx.journal.begin_attempt(order_id, query_id, "query")
    reply = yield Call("query", {"merchant_transaction_id": order_id})
    if isinstance(reply, Lost):
        if record is not None:
            ctx.journal.end_attempt(order_id, query_id, outcome="unknown", detail=reply.error.message)
        ctx.emit("payment.unknown", order_id, operation="query", reason=reply.error.message)
        raise reply.error
    if record is not None:
        status_text = reply.status.value if reply.status else None
        ctx.journal.end_attempt(
            order_id, query_id, outcome="answered", code=reply.code, status=status_text, detail=reply.description
        )
    ctx.emit("payment.answer", order_id, operation="query", **reply.as_json())
    verdict = query_verdict(reply)
    if verdict == NOT_FOUND:
        raise GatewayRejected(
            f"order {order_id!r} does not exist at the gateway (code {reply.code})", order=order_id, code=reply.code
        )
    payment = _payment_from(record, reply, order_id)
    if isinstance(verdict, PaymentStatus) and verdict is not PaymentStatus.UNKNOWN and record is not None:
        _Order(ctx, payment).move(verdict, transaction_id=_transaction_id(reply), note=f"query: {reply.code}")
    elif isinstance(verdict, PaymentStatus):
        payment.move(verdict, f"query: {reply.code}")
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


def refund_flow(
    ctx: FlowContext, order_id: str, amount: Decimal | str | int, policy: PollingPolicy
) -> Flow[RefundResult]:
    """Refund part or all of a paid order, never more than is left; poll a PROCESSING refund until the deadline."""
    bizcontent.check_id(order_id, "order id")
    record = ctx.journal.order(order_id)
    if record is None:
        raise OrderError(f"order {order_id!r} is not in the journal; only orders paid on this journal can be refunded")
    money = Money(amount, record.currency)
    left = record.refundable
    if record.status is not PaymentStatus.SUCCESS:
        raise OrderError(f"order {order_id!r} is {record.status.value}; only a SUCCESS payment can be refunded")
    if money.amount > left:
        raise OrderError(
            f"refund of {money} is more than order {order_id!r} has left to refund: {left} {record.currency} "
            f"(paid {record.amount}, refunded {record.refunded}, pending {record.refunds_pending})"
        )
    refund_id = bizcontent.new_request_id("rf")
    journal = ctx.journal
    journal.begin_refund(order_id, refund_id, money.wire())  # checks again, atomically with other lanes
    deadline = ctx.clock() + policy.deadline

    def emit(step: str, **data: Any) -> None:
        ctx.emit(
            "payment.refund",
            order_id,
            step=step,
            refund_id=refund_id,
            amount=str(money.wire()),
            currency=money.currency,
            **data,
        )

    last = [""]  # the latest answer's description, for the result

    def send() -> Flow[PaymentStatus | str]:
        journal.begin_attempt(order_id, refund_id, "refund")
        emit("request")
        reply = yield Call(
            "refund",
            {
                "merchant_transaction_id": order_id,
                "merchant_refund_id": refund_id,
                "amount": money,
                "notification_url": ctx.notification_url,
            },
        )
        verdict, last[0] = _refund_answer(ctx, order_id, refund_id, "refund", reply)
        return verdict

    def ask() -> Flow[PaymentStatus | str]:
        attempt = bizcontent.new_request_id("rq")
        journal.begin_attempt(order_id, attempt, "refund_query")
        reply = yield Call("refund_query", {"merchant_transaction_id": order_id, "merchant_refund_id": refund_id})
        verdict, last[0] = _refund_answer(ctx, order_id, attempt, "refund_query", reply)
        return verdict

    status = yield from send()
    resends = 0
    asked = 0
    while status not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED) and (asked == 0 or ctx.clock() < deadline):
        if asked:
            yield Sleep(max(0.0, min(policy.interval, deadline - ctx.clock())))
        asked += 1
        status = yield from ask()
        if status == NOT_FOUND and resends < MAX_RESENDS:
            resends += 1  # the refund never arrived: the same merchantRefundId again, executed at most once
            status = yield from send()
    final = status if isinstance(status, PaymentStatus) else PaymentStatus.UNKNOWN
    description = last[0]
    if final in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
        journal.end_refund(order_id, refund_id, status=final.value, detail=description)
    else:
        final = final if final is PaymentStatus.PROCESSING else PaymentStatus.UNKNOWN
        journal.end_refund(order_id, refund_id, status=final.value, detail=description)
        description = f"no final answer yet ({description}); the refund stays pending in the journal"
    after = journal.order(order_id)
    refunded = after.refunded if after is not None else Decimal(0)
    emit("done", status=final.value, refunded=str(refunded))
    return RefundResult(order_id, refund_id, money, final, refunded, description)


def _refund_answer(
    ctx: FlowContext, order_id: str, attempt: str, operation: str, reply: GatewayAnswer | Lost
) -> tuple[PaymentStatus | str, str]:
    """Journal and report one refund (or refund query) answer: its verdict and the gateway's description."""
    if isinstance(reply, Lost):
        ctx.journal.end_attempt(order_id, attempt, outcome="unknown", detail=reply.error.message)
        ctx.emit("payment.unknown", order_id, operation=operation, reason=reply.error.message)
        return PaymentStatus.UNKNOWN, reply.error.message
    status = reply.status.value if reply.status else None
    ctx.journal.end_attempt(
        order_id, attempt, outcome="answered", code=reply.code, status=status, detail=reply.description
    )
    ctx.emit("payment.answer", order_id, operation=operation, **reply.as_json())
    verdict = refund_verdict(reply)
    if verdict == NOT_FOUND and operation == "refund":
        verdict = PaymentStatus.FAILED  # the refund call itself names an order the gateway does not have
    return verdict, f"{reply.code} {reply.description}".strip()
