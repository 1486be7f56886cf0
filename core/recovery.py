"""Crash recovery: reconcile what the journal left unresolved with what the gateway knows.

:func:`recover` takes every unresolved order of the journal (oldest first), asks the
gateway about it by ``merchantTransactionId``, and settles it by the rules of
docs/journal.md ("Recovery rules"):

- a refund whose outcome was never read is queried; a refund the gateway never received
  is marked ``FAILED`` (so its amount may be refunded again);
- the payment's true status is recorded (``SUCCESS``, ``FAILED``, ``CLOSED``, …);
- a payment still ``PROCESSING`` after its deadline is voided (closed) at the gateway,
  queried again and marked abandoned, so a later success is refunded;
- a payment the gateway never received is marked ``FAILED`` and abandoned once its
  deadline has passed (abandoned: should it still arrive, its success is refunded);
- a success the lane had given up on is refunded (``late_success="refund"``, the
  default) or kept and reported (``"report"``);
- when the gateway cannot be reached, or its answer cannot be verified, nothing is
  assumed: the order stays unresolved, with the reason.

Each order's outcome is a :class:`RecoveryResult`, also emitted as a ``recovery.order``
event. :class:`~paycode.terminal.Terminal` calls :func:`recover` when it starts;
``paycode recover`` calls it from the command line.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ConfigError, GatewayError, OrderError, OutcomeUnknown
from .journal import JournalBackend, OrderRecord
from .models import Money, PaymentStatus

if TYPE_CHECKING:
    from .gateway import GatewayAnswer, GatewayClient
    from .host import PluginHost

__all__ = ["ACTIONS", "LATE_SUCCESS", "NOT_FOUND_CODE", "RecoveryResult", "recover"]

#: the gateway's code for "transaction does not exist"
NOT_FOUND_CODE = "107001"
#: accepted values of ``late_success``
LATE_SUCCESS = ("refund", "report")
#: what recovery did with an order
ACTIONS: dict[str, str] = {
    "recorded": "the gateway's status was recorded",
    "waiting": "still in progress before its deadline: left for the lane (or the shopper) to finish",
    "closed": "past its deadline: voided at the gateway and marked abandoned",
    "not_found": "the gateway never received it",
    "refunded": "a success the lane had given up on was refunded",
    "reported": "a success the lane had given up on was kept and reported (late_success=report)",
    "unknown": "the gateway could not be asked, or its answer not trusted: nothing assumed",
    "failed": "the gateway refused what recovery asked (the reason says why)",
}


@attrs.frozen
class RecoveryResult:
    """What recovery found and did for one order.

    ``before`` and ``after`` are the journal's status before and after; ``action`` is one
    of :data:`ACTIONS`; ``resolved`` is False when the order still needs recovery (then
    ``reason`` says why); ``refunded`` is the amount refunded by this run.
    """

    order_id: str
    lane: str
    before: str
    after: str
    action: str
    resolved: bool
    reason: str = ""
    amount: Decimal = Decimal(0)
    currency: str = ""
    refunded: Decimal = Decimal(0)

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "lane": self.lane,
            "before": self.before,
            "after": self.after,
            "action": self.action,
            "resolved": self.resolved,
            "reason": self.reason,
            "amount": str(self.amount),
            "currency": self.currency,
            "refunded": str(self.refunded),
        }

    def line(self) -> str:
        """One line for people: ``o-1  lane-1  INIT -> SUCCESS  recorded  (reason)``."""
        text = f"{self.order_id}  {self.lane}  {self.before} -> {self.after}  {self.action}"
        if self.refunded:
            text += f"  refunded {self.refunded} {self.currency}"
        if self.reason:
            text += f"  ({self.reason})"
        return text


def _new_id(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(16)}"


class _Recovery:
    """One recovery run over one journal and one gateway client."""

    def __init__(
        self, journal: JournalBackend, client: GatewayClient, late_success: str, now: float, grace: float
    ) -> None:
        self.journal = journal
        self.client = client
        self.late_success = late_success
        self.now = now
        self.grace = grace

    def _last_sent(self, order_id: str, kind: str, request_id: str | None = None) -> float:
        """When a request of ``kind`` (with ``request_id``) for the order was last begun; 0 when never."""
        times = [
            a.started_at
            for a in self.journal.attempts(order_id)
            if a.kind == kind and (request_id is None or a.request_id == request_id)
        ]
        return max(times, default=0.0)

    # -- gateway calls, each journaled as an attempt ----------------------------------

    def _call(self, order_id: str, kind: str, request_id: str, send: Callable[[], GatewayAnswer]) -> GatewayAnswer:
        """Send one request with its intent and outcome journaled; OutcomeUnknown passes through."""
        self.journal.begin_attempt(order_id, request_id, kind)
        try:
            answer = send()
        except OutcomeUnknown as exc:
            self.journal.end_attempt(order_id, request_id, outcome="unknown", detail=str(exc))
            raise
        except GatewayError as exc:
            self.journal.end_attempt(order_id, request_id, outcome="error", detail=str(exc))
            raise
        status = answer.status.value if answer.status else None
        self.journal.end_attempt(
            order_id, request_id, outcome="answered", code=answer.code, status=status, detail=answer.description
        )
        return answer

    def query(self, order_id: str) -> GatewayAnswer:
        return self._call(
            order_id, "query", _new_id("rcq"), lambda: self.client.query(merchant_transaction_id=order_id)
        )

    # -- one order ---------------------------------------------------------------------

    def order(self, record: OrderRecord) -> RecoveryResult:
        before = record.status.value
        try:
            action, reason, refunded = self._settle(record)
        except OutcomeUnknown as exc:
            action, reason, refunded = "unknown", str(exc), Decimal(0)
        except (GatewayError, OrderError) as exc:
            action, reason, refunded = "failed", str(exc), Decimal(0)
        after = self.journal.order(record.order_id)
        assert after is not None  # orders are never deleted
        return RecoveryResult(
            order_id=record.order_id,
            lane=record.lane,
            before=before,
            after=after.status.value,
            action=action,
            resolved=not after.unresolved,
            reason=reason or (_why_unresolved(after) if after.unresolved else ""),
            amount=record.amount,
            currency=record.currency,
            refunded=refunded,
        )

    def _settle(self, record: OrderRecord) -> tuple[str, str, Decimal]:
        order_id = record.order_id
        self._settle_refunds(record)
        record = self._reload(order_id)
        action = "recorded"
        reason = ""

        needs_query = record.status is not PaymentStatus.SUCCESS or not record.abandoned
        if needs_query and record.unresolved:
            answer = self.query(order_id)
            if answer.code == NOT_FOUND_CODE:
                return self._not_found(record)
            if answer.status is None:
                why = f"the query answered code {answer.code} ({answer.description}) without a status"
                return "failed", why, Decimal(0)
            self._apply(record, answer, note="queried by recovery")
            answered_for = answer.biz.get("requestId")
            if isinstance(answered_for, str) and answered_for:
                # the answer is about that very attempt: its outcome is known now
                status = answer.status.value
                self.journal.settle_attempts(order_id, f"the gateway answers {status} for it", request_id=answered_for)
            record = self._reload(order_id)

            if record.status in (PaymentStatus.PROCESSING, PaymentStatus.INIT):
                if self.now < record.deadline_at:
                    left = record.deadline_at - self.now
                    return "waiting", f"{record.status.value} with {left:.0f} s left before its deadline", Decimal(0)
                self._close(record)
                record = self._reload(order_id)
                action = "closed"
                if record.status in (PaymentStatus.PROCESSING, PaymentStatus.INIT):
                    return action, "voided, but the gateway still answers PROCESSING", Decimal(0)
            elif record.status is PaymentStatus.FAILED and record.unknown_attempts:
                if self.now < record.deadline_at:
                    return "waiting", "FAILED, but a retry may still be in flight before the deadline", Decimal(0)
                self.journal.settle_attempts(order_id, "the gateway answers FAILED after the deadline")
                if not record.abandoned:
                    # should a lost retry still arrive and succeed, the success is refunded
                    self.journal.mark_abandoned(order_id, "FAILED with a retry whose answer was lost")
            elif record.status.final:
                self.journal.settle_attempts(order_id, f"the gateway answers {record.status.value}")

        record = self._reload(order_id)
        if record.status is PaymentStatus.SUCCESS and record.abandoned and record.refunded < record.amount:
            return self._late_success(record)
        return action, reason, Decimal(0)

    def _reload(self, order_id: str) -> OrderRecord:
        record = self.journal.order(order_id)
        assert record is not None  # orders are never deleted
        return record

    def _apply(self, record: OrderRecord, answer: GatewayAnswer, note: str) -> None:
        status = answer.status
        if status is None:
            return
        tx = answer.biz.get("transactionId")
        self.journal.set_state(
            record.order_id, status, transaction_id=tx if isinstance(tx, str) and tx else None, note=note
        )

    def _not_found(self, record: OrderRecord) -> tuple[str, str, Decimal]:
        if self.now < record.deadline_at:
            left = record.deadline_at - self.now
            return "waiting", f"not at the gateway yet; {left:.0f} s left before its deadline", Decimal(0)
        arrives_by = self._last_sent(record.order_id, "pay") + self.grace
        if self.now < arrives_by:
            left = arrives_by - self.now
            return "waiting", f"not at the gateway yet; a request sent may still arrive within {left:.0f} s", Decimal(0)
        self.journal.set_state(record.order_id, PaymentStatus.FAILED, note="not found at the gateway by recovery")
        self.journal.settle_attempts(record.order_id, "the gateway has no such order after the deadline")
        if not record.abandoned:
            self.journal.mark_abandoned(record.order_id, "never reached the gateway; a late success must be refunded")
        return "not_found", "the gateway has no such order: never charged", Decimal(0)

    def _close(self, record: OrderRecord) -> None:
        """Void a payment still in progress after its deadline, then record what the gateway says."""
        void_id = _new_id("rcv")
        money = Money(record.amount, record.currency)
        if not record.abandoned:
            self.journal.mark_abandoned(record.order_id, "deadline passed while PROCESSING; voided by recovery")
        self._call(
            record.order_id,
            "void",
            void_id,
            lambda: self.client.void(merchant_transaction_id=record.order_id, merchant_void_id=void_id, amount=money),
        )
        answer = self.query(record.order_id)
        self._apply(record, answer, note="queried after void by recovery")
        current = self._reload(record.order_id)
        if current.status.final or current.status is PaymentStatus.FAILED:
            self.journal.settle_attempts(record.order_id, f"voided; the gateway answers {current.status.value}")

    def _late_success(self, record: OrderRecord) -> tuple[str, str, Decimal]:
        if self.late_success == "report":
            note = f"late success of {record.amount} {record.currency} kept (late_success=report)"
            self.journal.keep_late_success(record.order_id, note)
            return "reported", note, Decimal(0)
        amount = record.refundable
        if amount <= 0:
            return "refunded", "a refund is already in progress", Decimal(0)
        refund_id = _new_id("rcr")
        money = Money(amount, record.currency)
        self.journal.begin_refund(record.order_id, refund_id, money.wire())
        try:
            answer = self._call(
                record.order_id,
                "refund",
                refund_id,
                lambda: self.client.refund(
                    merchant_transaction_id=record.order_id,
                    merchant_refund_id=refund_id,
                    amount=money,
                    remark="late success refunded by paycode recovery",
                ),
            )
        except OutcomeUnknown as exc:
            self.journal.end_refund(record.order_id, refund_id, status="UNKNOWN", detail=str(exc))
            raise
        status = _refund_status(answer)
        self.journal.end_refund(record.order_id, refund_id, status=status, detail=f"{answer.code} {answer.description}")
        if status == "FAILED":
            return "failed", f"the refund was refused: {answer.code} {answer.description}", Decimal(0)
        if status != "SUCCESS":
            return "refunded", f"refund of {money} is {status}", Decimal(0)
        return "refunded", "", money.wire()

    def _settle_refunds(self, record: OrderRecord) -> None:
        """Query every refund whose outcome is open; one the gateway never received is FAILED."""
        for refund in self.journal.refunds(record.order_id):
            if refund.settled:
                continue
            answer = self._call(
                record.order_id,
                "refund_query",
                _new_id("rcf"),
                partial(
                    self.client.refund_query,
                    merchant_transaction_id=record.order_id,
                    merchant_refund_id=refund.refund_id,
                ),
            )
            status: str | None
            if answer.code == NOT_FOUND_CODE:
                sent = max(refund.created_at, self._last_sent(record.order_id, "refund", refund.refund_id))
                # the refund request may still arrive within the grace: ask again next time
                status = "FAILED" if self.now >= sent + self.grace else None
            else:
                status = _refund_query_status(answer)
            if status is None:
                continue
            self.journal.end_refund(
                record.order_id, refund.refund_id, status=status, detail=f"refund query: {answer.code}"
            )


def _why_unresolved(record: OrderRecord) -> str:
    if record.refunds_pending:
        return f"a refund of {record.refunds_pending} {record.currency} has no final outcome yet"
    if record.status is PaymentStatus.SUCCESS and record.abandoned:
        return "a success the lane had given up on is not refunded yet"
    if record.unknown_attempts:
        return f"{record.unknown_attempts} payment attempt(s) without a known outcome"
    return f"the order is {record.status.value}"


def _refund_query_status(answer: GatewayAnswer) -> str | None:
    """A refund's status from a refund query's answer; None when the answer does not say (ask again later)."""
    raw = answer.biz.get("status")
    if isinstance(raw, str) and raw.upper() in ("SUCCESS", "FAILED", "PROCESSING"):
        return raw.upper()
    return None


def _refund_status(answer: GatewayAnswer) -> str:
    """A refund's status from the verified answer to the refund itself: its bizContent status, else by code
    (000000 SUCCESS; 001000/002000 PROCESSING; any other code is a refusal: nothing was refunded)."""
    raw = answer.biz.get("status")
    if isinstance(raw, str) and raw.upper() in ("SUCCESS", "FAILED", "PROCESSING"):
        return raw.upper()
    if answer.code in ("000000",):
        return "SUCCESS"
    if answer.code in ("001000", "002000"):
        return "PROCESSING"
    return "FAILED"


def recover(
    journal: JournalBackend,
    client: GatewayClient,
    host: PluginHost | None = None,
    *,
    late_success: str | None = None,
    lane: str | None = None,
    now: float | None = None,
    grace: float | None = None,
) -> list[RecoveryResult]:
    """Settle every unresolved order of ``journal`` with the gateway behind ``client``.

    :param host: emits a ``recovery.order`` event per order; its settings give the default
        of ``late_success``. None: no events, and ``late_success`` defaults to ``"refund"``.
    :param late_success: ``"refund"`` or ``"report"``: what to do with a success the lane
        had given up on.
    :param lane: only this lane's orders (None: every lane sharing the journal).
    :param now: the time (``time.time()``) deadlines are compared with.
    :param grace: seconds after a request was sent during which the gateway's "no such order / refund" is not
        believed (the request may still be on its way). Default: the host's connect plus read timeout, else 20.
    :returns: one :class:`RecoveryResult` per order that was unresolved, oldest first.
    """
    if late_success is None:
        late_success = host.settings.late_success if host is not None else "refund"
    if late_success not in LATE_SUCCESS:
        raise ConfigError(f"late_success={late_success!r}; accepted: {', '.join(LATE_SUCCESS)}")
    if grace is None:
        grace = host.settings.connect_timeout + host.settings.read_timeout if host is not None else 20.0
    run = _Recovery(journal, client, late_success, time.time() if now is None else now, grace)
    results = []
    for record in journal.unresolved():
        if lane is not None and record.lane != lane:
            continue
        result = run.order(record)
        results.append(result)
        if host is not None:
            data = result.as_json()
            data.pop("order_id")
            host.emit("recovery.order", record.order_id, **data)
    return results
