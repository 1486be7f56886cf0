"""The payment state machine, written once as generators that both terminals drive.

A flow never touches the network or the clock's sleep itself: it *yields* an effect
(:class:`Call` a gateway operation with the ``bizContent`` it built, :class:`Sleep`) and is
sent back the result (a :class:`~paycode.gateway.GatewayAnswer`, or :class:`Lost` when no
trustworthy answer came back; for a sleep, True when news of the order woke it early).
:func:`drive` runs a flow with a synchronous gateway client and :func:`drive_async` with an
asyncio one, so :class:`~paycode.terminal.Terminal` and :class:`~paycode.terminal.AsyncTerminal`
share every decision. The journal is written before each call and after each answer; every
step is emitted as an event.

The pay flow (docs/payment-flow.md draws it)::

    INIT ──unifiedPay (timeExpire = end of the deadline)──▶ SUCCESS | FAILED | PROCESSING | UNKNOWN
    PROCESSING/UNKNOWN ──query every interval──▶ SUCCESS | FAILED | CLOSED | still waiting
    deadline (or cancel) while PROCESSING ──"closing": query every interval──▶ CLOSED (the gateway closed it at
        timeExpire: not paid) | SUCCESS (paid after all) | still PROCESSING close_grace after timeExpire:
        marked abandoned, recovery follows it (a later success is refunded)

Every answer is checked against what was asked (:func:`paycode.gateway.answer_mismatch`)
before it can move the state: a signed answer that names another order, attempt, amount or
currency, or a code that contradicts its status, is untrustworthy and leaves the outcome
unknown. No call outlives the lane's bound: the deadline plus one read timeout (when the
gateway has answered PROCESSING: timeExpire plus the close grace plus one read timeout).
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from . import bizcontent
from .errors import GatewayRejected, JournalError, MoneyError, OrderError, OutcomeUnknown
from .gateway import OPERATIONS, CodeMeaning, GatewayAnswer, answer_mismatch, code_meaning
from .journal import JournalBackend, OrderRecord
from .masking import mask_code
from .models import Event, Money, Payment, PaymentRequest, PaymentStatus, PollingPolicy

__all__ = [
    "CLOSE_GRACE",
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
#: default seconds after timeExpire during which a PROCESSING order is still expected to turn CLOSED
CLOSE_GRACE = 10.0
#: pauses before the journal writes that failed after a request left are tried again, at the end of a flow
JOURNAL_RETRIES = (0.5, 1.0, 2.0)

_WAITING = (PaymentStatus.INIT, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)
_NOT_PAID = (PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL)
#: what the gateway says of an order it holds open, waiting for the shopper: it closes it at timeExpire
_OPEN = (PaymentStatus.PROCESSING, PaymentStatus.INIT)


# ---------------------------------------------------------------------------- effects


@attrs.frozen
class Call:
    """Send gateway operation ``operation`` (``unified_pay``, ``query``, ``refund``, ``refund_query``) with ``biz``.

    ``budget``: the most seconds the call may take (None: the client's own timeouts); a call
    still unanswered then is answered :class:`Lost` (it may have been delivered).
    """

    operation: str
    biz: Mapping[str, Any]
    budget: float | None = None


@attrs.frozen
class Sleep:
    """Wait ``seconds`` before going on; news of ``order_id`` (a notification, a cancel) may end it early."""

    seconds: float
    order_id: str | None = None


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
#: how a driver sleeps: (seconds, order id) -> True when woken early by news of that order
Sleeper = Callable[[float, str | None], bool]
AsyncSleeper = Callable[[float, str | None], Awaitable[bool]]


def _plain_sleep(seconds: float, order_id: str | None) -> bool:
    time.sleep(seconds)
    return False


async def _plain_async_sleep(seconds: float, order_id: str | None) -> bool:
    await asyncio.sleep(seconds)
    return False


def _stalled(call: Call) -> OutcomeUnknown:
    return OutcomeUnknown(
        f"{call.operation}: no answer within {call.budget:g} s, the lane's bound (deadline plus one read "
        "timeout); outcome unknown",
        operation=call.operation,
        delivered=True,
        stalled=True,
    )


class _Job:
    """One bounded call handed to a worker thread."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None

    def run(self) -> None:
        try:
            self.value = self.work()
            self.ok = True
        except BaseException as exc:  # handed to the flow's thread
            self.value = exc
        finally:
            self.done.set()


class _Workers:
    """Daemon threads that run bounded calls, kept between calls (starting a thread per call costs ~0.1-0.3 ms).

    A call that stalls past its budget keeps its worker until the client's own timeouts end it; the flow has
    moved on, and another worker takes the next call. Daemon threads never hold up the end of the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[_Job]] = []

    def run(self, job: _Job) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name="paycode-call", daemon=True).start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[_Job]) -> None:
        while True:
            job = inbox.get()
            job.run()
            with self._lock:
                if len(self._idle) >= 8:
                    return  # enough idle workers: this one ends
                self._idle.append(inbox)


_WORKERS = _Workers()


def _call(client: Any, call: Call) -> Any:
    """One call, bounded by its budget: the client works in a worker thread that is left behind when it stalls."""
    operation = OPERATIONS[call.operation]
    if call.budget is None:
        return client.send(operation, call.biz)
    if call.budget <= 0:
        raise _stalled(call)  # no time left: not sent at all (still "may have been delivered": a re-send's twin may)
    job = _Job(lambda: client.send(operation, call.biz))
    _WORKERS.run(job)
    if not job.done.wait(max(call.budget, 0.0)):
        raise _stalled(call)
    if not job.ok:
        raise job.value
    return job.value


def drive(flow: Flow[T], client: Any, *, sleep: Sleeper | None = None) -> T:
    """Run ``flow`` with a synchronous gateway client (anything with ``send(operation, biz)``).

    ``sleep(seconds, order_id)`` waits for a :class:`Sleep` (default: plain ``time.sleep``)
    and returns True when news of the order ended it early.
    """
    pause = sleep or _plain_sleep
    reply: Any = None
    try:
        while True:
            try:
                effect = flow.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(effect, Sleep):
                reply = pause(effect.seconds, effect.order_id) if effect.seconds > 0 else False
                continue
            try:
                reply = _call(client, effect)
            except OutcomeUnknown as exc:
                reply = Lost(exc)
    finally:
        flow.close()


async def drive_async(flow: Flow[T], client: Any, *, sleep: AsyncSleeper | None = None) -> T:
    """Run ``flow`` with an asyncio gateway client (``await send(operation, biz)``)."""
    pause = sleep or _plain_async_sleep
    reply: Any = None
    try:
        while True:
            try:
                effect = flow.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(effect, Sleep):
                reply = (await pause(effect.seconds, effect.order_id)) if effect.seconds > 0 else False
                continue
            operation = OPERATIONS[effect.operation]
            try:
                if effect.budget is None:
                    reply = await client.send(operation, effect.biz)
                elif effect.budget <= 0:
                    raise _stalled(effect)  # no time left: not sent at all
                else:
                    try:
                        reply = await asyncio.wait_for(client.send(operation, effect.biz), effect.budget)
                    except TimeoutError:
                        raise _stalled(effect) from None
            except OutcomeUnknown as exc:
                reply = Lost(exc)
    finally:
        flow.close()


# ---------------------------------------------------------------------------- verdicts


#: the status a top-level code establishes on its own (no bizContent.status); anything else: UNKNOWN, query
_BY_MEANING = {
    CodeMeaning.SUCCESS: PaymentStatus.SUCCESS,
    CodeMeaning.PROCESSING: PaymentStatus.PROCESSING,
    CodeMeaning.REFUSED: PaymentStatus.FAILED,  # refused before anything was executed
    CodeMeaning.DECLINED: PaymentStatus.FAILED,  # risk control or the wallet said no
}


def _code_verdict(code: str) -> PaymentStatus:
    """By docs/payment-flow.md "Result codes": 107000 duplicate, 5xxxxx, 600002, unknown shapes are UNKNOWN."""
    return _BY_MEANING.get(code_meaning(code), PaymentStatus.UNKNOWN)


def pay_verdict(answer: GatewayAnswer) -> PaymentStatus:
    """The payment status a verified unifiedPay answer establishes (UNKNOWN: query to find out)."""
    if answer.status is not None:
        return answer.status
    return _code_verdict(answer.code)


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
    return _code_verdict(answer.code)


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


# ---------------------------------------------------------------------------- context


def _never_cancelled(order_id: str) -> bool:
    return False


@attrs.frozen
class FlowContext:
    """What a flow writes to and reports through.

    ``clock`` measures deadlines (monotonic seconds), ``wall`` gives epoch seconds (timeExpire).
    ``read_timeout`` bounds a call beyond the deadline (None: no bound but the client's own);
    ``close_grace`` is how long after timeExpire a PROCESSING order is still expected to close;
    ``cancelled(order_id)`` is True once the host asked to stop waiting for the shopper.
    """

    journal: JournalBackend
    emit: Callable[..., Event | None]
    lane: str = "lane-1"
    notification_url: str | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    read_timeout: float | None = None
    close_grace: float = CLOSE_GRACE
    cancelled: Callable[[str], bool] = _never_cancelled
    gateway: str | None = None
    site: str | None = None


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
        self.backlog: list[Callable[[], None]] = []
        self.journal_error = ""

    def emit(self, kind: str, **data: Any) -> None:
        self.ctx.emit(kind, self.id, **data)

    # -- the journal, kept going after a failure ---------------------------------------

    def write(self, work: Callable[[], None]) -> bool:
        """Do a journal write; True when everything is written. After a failure the writes queue up in order
        and are tried again at the end of the flow (:func:`_finish`), so a journal that is locked or full does
        not hold the lane up at every step."""
        self.backlog.append(work)
        if self.journal_error:
            return False
        return self.flush()

    def flush(self, *, reopen: bool = False) -> bool:
        if reopen and self.backlog:
            try:
                self.ctx.journal.reopen()  # a lock released, space freed, a mount made writable again
            except JournalError as exc:
                self.journal_error = exc.message
                return False
        while self.backlog:
            try:
                self.backlog[0]()
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
        if status is p.status and not (transaction_id and transaction_id != p.transaction_id):
            return False
        return not (p.status.final and not status.final)  # answers out of order never undo a final state

    def _late_success(self, previous: PaymentStatus) -> None:
        """A success on an order the lane had reported not paid: abandoned-and-paid, refunded by recovery."""
        record = self.ctx.journal.order(self.id)
        if record is not None and not record.abandoned:
            self.ctx.journal.mark_abandoned(self.id, f"success after the lane reported {previous.value} (not paid)")

    def _apply(self, status: PaymentStatus, transaction_id: str | None, note: str) -> _Move | None:
        """Move the order in memory; what to show once the journal has it (None: nothing moved)."""
        p = self.payment
        if transaction_id:
            p.transaction_id = transaction_id
        if status is p.status or (p.status.final and not status.final):
            return None
        move = _Move(p.status, status, note)
        p.move(status, note)
        return move

    def _show(self, move: _Move | None) -> None:
        if move is not None:
            self.emit("payment.state", status=move.status.value, previous=move.previous.value, note=move.note)

    def move(self, status: PaymentStatus, *, transaction_id: str | None = None, note: str = "") -> None:
        if not self._moving(status, transaction_id):
            return
        previous = self.payment.status
        self.write(lambda: self._journal_move(previous, status, transaction_id, note))
        self._show(self._apply(status, transaction_id, note))

    def _journal_move(self, previous: PaymentStatus, status: PaymentStatus, tx: str | None, note: str) -> None:
        self.ctx.journal.set_state(self.id, status, transaction_id=tx, note=note)
        if status is PaymentStatus.SUCCESS and previous in _NOT_PAID:
            self._late_success(previous)

    def abandon(self, reason: str) -> None:
        self.write(lambda: self.ctx.journal.mark_abandoned(self.id, reason))

    def begin(self, request_id: str, kind: str) -> None:
        self.write(lambda: self.ctx.journal.begin_attempt(self.id, request_id, kind))

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
        status_text = answer.status.value if answer.status else None
        moving = moves_to is not None and self._moving(moves_to, transaction_id)
        previous = self.payment.status

        def record() -> None:
            with self.ctx.journal.batch():
                self.ctx.journal.end_attempt(
                    self.id,
                    request_id,
                    outcome="answered",
                    code=answer.code,
                    status=status_text,
                    detail=answer.description,
                )
                if moving and moves_to is not None:
                    self._journal_move(previous, moves_to, transaction_id, note)

        self.write(record)
        move = self._apply(moves_to, transaction_id, note) if moving and moves_to is not None else None
        self.emit("payment.answer", operation=operation, **answer.as_json())
        self._show(move)

    def untrusted(self, request_id: str, operation: str, answer: GatewayAnswer, why: str) -> None:
        """A signed answer that does not match what was asked: journaled with what differed, never believed."""
        detail = f"untrustworthy answer ({answer.code} {answer.description}): {why}".strip()
        self.write(
            lambda: self.ctx.journal.end_attempt(
                self.id, request_id, outcome="unknown", code=answer.code, detail=detail
            )
        )
        self.emit("payment.mismatch", operation=operation, code=answer.code, mismatch=why)

    def lost(
        self, request_id: str, operation: str, lost: Lost, *, moves_to: PaymentStatus | None = None, note: str = ""
    ) -> None:
        """Record an attempt without a trustworthy answer (and the state that follows) in one transaction, then tell."""
        moving = moves_to is not None and self._moving(moves_to, None)
        previous = self.payment.status

        def record() -> None:
            with self.ctx.journal.batch():
                self.ctx.journal.end_attempt(
                    self.id, request_id, outcome="unknown" if lost.delivered else "error", detail=lost.error.message
                )
                if moving and moves_to is not None:
                    self._journal_move(previous, moves_to, None, note)

        self.write(record)
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


def pay_flow(ctx: FlowContext, request: PaymentRequest, policy: PollingPolicy) -> Flow[Payment]:
    """From a classified code to a final state; at the deadline, the documented close (see the module doc)."""
    order_id = request.merchant_transaction_id
    started, wall = ctx.clock(), ctx.wall()
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
    with ctx.journal.batch():  # the order and its first attempt: one flush, durable before the request leaves
        ctx.journal.begin_order(  # a JournalError here stops the payment: nothing has been sent
            order_id,
            money=request.money,
            wallet=request.wallet.name,
            code_masked=payment.code_masked,
            lane=ctx.lane,
            deadline_at=wall + policy.deadline,
            **extra,
        )
        ctx.journal.begin_attempt(order_id, request.request_id, "pay")
    payment.move(PaymentStatus.INIT, "order created")

    budget = bounds.budget(ctx.clock(), closing=False)
    delivered = yield from _send_pay(order, request, biz, resend=False, begun=True, budget=budget)
    if payment.status is PaymentStatus.UNKNOWN and not delivered:
        order.move(PaymentStatus.FAILED, note="not sent: the gateway could not be reached")
        return (yield from _finish(order, request, policy))

    def time_left(closing: bool) -> float:
        budget = bounds.budget(ctx.clock(), closing)
        return math.inf if budget is None else budget

    resends = polls = 0
    verdict: PaymentStatus | str = payment.status
    while payment.status in _WAITING and time_left(False) > 0:
        if polls and (ctx.clock() >= bounds.deadline or ctx.cancelled(order_id)):
            break  # a cancel still asks once when the pay's answer was lost: it may be PROCESSING, to be closed
        if ctx.cancelled(order_id) and payment.status is not PaymentStatus.UNKNOWN:
            break
        if payment.status is not PaymentStatus.UNKNOWN or polls:  # ask at once when the answer was lost
            yield Sleep(max(0.0, min(policy.interval, bounds.deadline - ctx.clock())), order_id)
            if ctx.cancelled(order_id):
                break
        polls += 1
        order.emit("payment.poll", poll=polls, seconds_left=round(max(0.0, bounds.deadline - ctx.clock()), 3))
        verdict = yield from _query(order, bounds.budget(ctx.clock(), closing=False))
        if verdict == NOT_FOUND and payment.status is PaymentStatus.UNKNOWN and resends < MAX_RESENDS:
            # our pay never arrived (or not yet): send the very same request again, same requestId
            resends += 1
            budget = bounds.budget(ctx.clock(), closing=False)
            yield from _send_pay(order, request, biz, resend=True, budget=budget)

    if payment.status in _OPEN:
        # the documented close: the gateway closes the order itself at timeExpire; follow it until it does
        why = "cancelled" if ctx.cancelled(order_id) else "deadline"
        order.emit("payment.close", step="closing", reason=why, time_expire=time_expire)
        while payment.status in _WAITING and ctx.clock() < bounds.closing_ends and time_left(True) > 0:
            yield Sleep(max(0.0, min(policy.interval, bounds.closing_ends - ctx.clock())), order_id)
            polls += 1
            order.emit("payment.poll", poll=polls, seconds_left=0.0, closing=True)
            verdict = yield from _query(order, bounds.budget(ctx.clock(), closing=True))

    if payment.status in _WAITING:
        never_arrived = verdict == NOT_FOUND and payment.status is PaymentStatus.UNKNOWN
        if never_arrived:
            order.move(PaymentStatus.FAILED, note="the gateway has no such order at the deadline")
        # should the payment still go through, recovery refunds it (or reports it, by the setting)
        if payment.status in _OPEN:
            reason = f"still {payment.status.value} {ctx.close_grace:g} s after timeExpire {time_expire}"
        else:
            reason = f"no final answer within {policy.deadline:g} s"
        order.abandon(reason)
        order.emit("payment.close", step="abandoned", reason=reason)
    return (yield from _finish(order, request, policy))


def _finish(order: _Order, request: PaymentRequest, policy: PollingPolicy) -> Flow[Payment]:
    """Retry journal writes that failed; when they never succeed, refund a success nobody could record."""
    payment = order.payment
    if not order.backlog:
        return payment
    order.emit("payment.journal", step="retrying", error=order.journal_error, pending=len(order.backlog))
    for pause in JOURNAL_RETRIES:
        yield Sleep(pause)
        if order.flush(reopen=True):
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


def _refund_unrecorded(order: _Order, request: PaymentRequest, policy: PollingPolicy) -> Flow[None]:
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
    status: PaymentStatus | str = PaymentStatus.UNKNOWN
    if isinstance(reply, GatewayAnswer) and not answer_mismatch(
        reply, order_id=order.id, money=payment.money, refund_id=refund_id
    ):
        status = refund_verdict(reply)
    asked = 0
    while status not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED) and asked < 3:
        asked += 1
        yield Sleep(policy.interval)
        ask = bizcontent.refund_query_biz(merchant_transaction_id=order.id, merchant_refund_id=refund_id)
        reply = yield Call("refund_query", ask, budget=order.ctx.read_timeout)
        if isinstance(reply, GatewayAnswer) and not answer_mismatch(reply, order_id=order.id, refund_id=refund_id):
            status = refund_verdict(reply)
            status = PaymentStatus.UNKNOWN if status == NOT_FOUND else status
    if status is PaymentStatus.SUCCESS:
        payment.refunded = payment.money.amount
        order.emit("payment.journal", step="refunded", refund_id=refund_id, amount=str(payment.money.wire()))
    else:
        shown = status.value if isinstance(status, PaymentStatus) else str(status)
        order.emit("payment.journal", step="refund_unsettled", refund_id=refund_id, status=shown)


def _send_pay(
    order: _Order,
    request: PaymentRequest,
    biz: Mapping[str, Any],
    *,
    resend: bool,
    begun: bool = False,
    budget: float | None = None,
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
        time_expire=request.time_expire,
    )
    reply = yield Call("unified_pay", biz, budget=budget)
    if isinstance(reply, Lost):
        note = "no trustworthy answer to unifiedPay; querying"
        order.lost(request.request_id, "unified_pay", reply, moves_to=PaymentStatus.UNKNOWN, note=note)
        return reply.delivered
    why = answer_mismatch(reply, order_id=order.id, request_id=request.request_id, money=request.money)
    if why is not None:
        order.untrusted(request.request_id, "unified_pay", reply, why)
        order.move(PaymentStatus.UNKNOWN, note=f"untrustworthy answer to unifiedPay ({why}); querying")
        return True
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


def _query(order: _Order, budget: float | None = None) -> Flow[PaymentStatus | str]:
    """One payment query by order id; moves the state on a verified, matching answer and returns the verdict."""
    query_id = bizcontent.new_request_id("q")
    order.begin(query_id, "query")
    reply = yield Call("query", bizcontent.query_biz(merchant_transaction_id=order.id), budget=budget)
    if isinstance(reply, Lost):
        order.lost(query_id, "query", reply)
        return PaymentStatus.UNKNOWN
    verdict = query_verdict(reply)
    why = None if verdict == NOT_FOUND else answer_mismatch(reply, order_id=order.id, money=order.money)
    if why is not None:
        order.untrusted(query_id, "query", reply, why)
        return PaymentStatus.UNKNOWN
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


# ---------------------------------------------------------------------------- query


def query_flow(ctx: FlowContext, order_id: str) -> Flow[Payment]:
    """Ask the gateway for an order's state; the journal follows a verified answer that matches the order.

    Raises OutcomeUnknown when no trustworthy answer came (or it does not match the journaled
    order), GatewayRejected when the gateway does not know the order.
    """
    bizcontent.check_id(order_id, "order id")
    record = ctx.journal.order(order_id)
    query_id = bizcontent.new_request_id("q")
    if record is not None:
        ctx.journal.begin_attempt(order_id, query_id, "query")
    reply = yield Call("query", bizcontent.query_biz(merchant_transaction_id=order_id))
    if isinstance(reply, Lost):
        if record is not None:
            ctx.journal.end_attempt(order_id, query_id, outcome="unknown", detail=reply.error.message)
        ctx.emit("payment.unknown", order_id, operation="query", reason=reply.error.message)
        raise reply.error
    verdict = query_verdict(reply)
    money = record.money if record is not None else None
    why = None if verdict == NOT_FOUND else answer_mismatch(reply, order_id=order_id, money=money)
    if why is not None:
        detail = f"untrustworthy answer ({reply.code} {reply.description}): {why}"
        if record is not None:
            ctx.journal.end_attempt(order_id, query_id, outcome="unknown", code=reply.code, detail=detail)
        ctx.emit("payment.mismatch", order_id, operation="query", code=reply.code, mismatch=why)
        raise OutcomeUnknown(
            f"query: the gateway's signed answer for order {order_id!r} does not match the order ({why}); "
            "not believed: the outcome stays unknown",
            order=order_id,
            mismatch=why,
        )
    if record is not None:
        status_text = reply.status.value if reply.status else None
        ctx.journal.end_attempt(
            order_id, query_id, outcome="answered", code=reply.code, status=status_text, detail=reply.description
        )
    ctx.emit("payment.answer", order_id, operation="query", **reply.as_json())
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
    check_refund_amount(amount, currency)  # a bad amount is said as such, never as "order not found"
    bizcontent.check_id(order_id, "order id")
    record = ctx.journal.order(order_id)
    if record is None:
        raise OrderError(f"order {order_id!r} is not in the journal; only orders paid on this journal can be refunded")
    check_refund_currency(order_id, record.currency, currency)
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
    biz = bizcontent.refund_biz(
        merchant_transaction_id=order_id,
        merchant_refund_id=refund_id,
        amount=money,
        notification_url=ctx.notification_url,
    )
    journal.begin_refund(order_id, refund_id, money.wire())  # checks again, atomically with other lanes
    deadline = ctx.clock() + policy.deadline
    slack = ctx.read_timeout

    def budget() -> float | None:
        return None if slack is None else deadline + slack - ctx.clock()

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
    unrecorded: list[str] = []  # journal errors after the refund left: followed in memory, never raised

    def later(work: Callable[[], None]) -> None:
        try:
            work()
        except JournalError as exc:
            if not unrecorded:
                ctx.emit("payment.journal", order_id, step="failed", error=exc.message)
            unrecorded.append(exc.message)

    def send(first: bool = False) -> Flow[PaymentStatus | str]:
        if first:
            journal.begin_attempt(order_id, refund_id, "refund")  # a failure here stops it: nothing sent yet
        else:
            later(lambda: journal.begin_attempt(order_id, refund_id, "refund"))
        emit("request")
        reply = yield Call("refund", biz, budget=budget())
        verdict, last[0] = _refund_answer(ctx, later, order_id, refund_id, "refund", reply, money, refund_id)
        return verdict

    def ask() -> Flow[PaymentStatus | str]:
        attempt = bizcontent.new_request_id("rq")
        later(lambda: journal.begin_attempt(order_id, attempt, "refund_query"))
        ask_biz = bizcontent.refund_query_biz(merchant_transaction_id=order_id, merchant_refund_id=refund_id)
        reply = yield Call("refund_query", ask_biz, budget=budget())
        verdict, last[0] = _refund_answer(ctx, later, order_id, attempt, "refund_query", reply, money, refund_id)
        return verdict

    status = yield from send(first=True)
    resends = 0
    asked = 0
    while status not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED) and (asked == 0 or ctx.clock() < deadline):
        if (left_s := budget()) is not None and left_s <= 0:
            break
        if asked:
            yield Sleep(max(0.0, min(policy.interval, deadline - ctx.clock())), order_id)
        asked += 1
        status = yield from ask()
        if status == NOT_FOUND and resends < MAX_RESENDS:
            resends += 1  # the refund never arrived: the same merchantRefundId again, executed at most once
            status = yield from send()
    final = status if isinstance(status, PaymentStatus) else PaymentStatus.UNKNOWN
    description = last[0]
    if final not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
        final = final if final is PaymentStatus.PROCESSING else PaymentStatus.UNKNOWN
    ended = last[0]
    later(lambda: journal.end_refund(order_id, refund_id, status=final.value, detail=ended))
    if final not in (PaymentStatus.SUCCESS, PaymentStatus.FAILED):
        description = f"no final answer yet ({description}); the refund stays pending in the journal"
    refunded = record.refunded + (money.wire() if final is PaymentStatus.SUCCESS else Decimal(0))
    if unrecorded:
        description = (
            f"{description + '; ' if description else ''}not recorded in the journal ({unrecorded[-1]}): it stays "
            "pending there (nothing more can be refunded meanwhile) and paycode recover settles it"
        )
    else:
        after = journal.order(order_id)
        refunded = after.refunded if after is not None else refunded
    emit("done", status=final.value, refunded=str(refunded))
    return RefundResult(order_id, refund_id, money, final, refunded, description)


def _refund_answer(
    ctx: FlowContext,
    later: Callable[[Callable[[], None]], None],
    order_id: str,
    attempt: str,
    operation: str,
    reply: GatewayAnswer | Lost,
    money: Money | None,
    refund_id: str,
) -> tuple[PaymentStatus | str, str]:
    """Journal and report one refund (or refund query) answer: its verdict and the gateway's description."""
    if isinstance(reply, Lost):
        later(lambda: ctx.journal.end_attempt(order_id, attempt, outcome="unknown", detail=reply.error.message))
        ctx.emit("payment.unknown", order_id, operation=operation, reason=reply.error.message)
        return PaymentStatus.UNKNOWN, reply.error.message
    verdict = refund_verdict(reply)
    why = None if verdict == NOT_FOUND else answer_mismatch(reply, order_id=order_id, money=money, refund_id=refund_id)
    if why is not None:
        detail = f"untrustworthy answer ({reply.code} {reply.description}): {why}"
        later(lambda: ctx.journal.end_attempt(order_id, attempt, outcome="unknown", code=reply.code, detail=detail))
        ctx.emit("payment.mismatch", order_id, operation=operation, code=reply.code, mismatch=why)
        return PaymentStatus.UNKNOWN, detail
    status = reply.status.value if reply.status else None
    later(
        lambda: ctx.journal.end_attempt(
            order_id, attempt, outcome="answered", code=reply.code, status=status, detail=reply.description
        )
    )
    ctx.emit("payment.answer", order_id, operation=operation, **reply.as_json())
    if verdict == NOT_FOUND and operation == "refund":
        verdict = PaymentStatus.FAILED  # the refund call itself names an order the gateway does not have
    return verdict, f"{reply.code} {reply.description}".strip()
