"""Crash recovery: reconcile what the journal left unresolved with what the gateway knows.

:func:`recover` takes every unresolved order of the journal (oldest first), asks the
gateway about it by ``merchantTransactionId``, and settles it by the rules of
docs/journal.md ("Recovery rules"):

- a refund whose outcome was never read is queried; a refund the gateway never received
  is marked ``FAILED`` (so its amount may be refunded again);
- the payment's true status is recorded (``SUCCESS``, ``FAILED``, ``CLOSED``, …);
- a payment still ``PROCESSING`` after its deadline is never voided (V4 documents void for
  ``AUTH_SUCCESS`` pre-authorisations only): it is marked abandoned and left for the gateway
  to close at its ``timeExpire``; recovery asks again next run and says loudly when it is
  still open ``close_grace`` after that; an ``AUTH_SUCCESS`` order is voided (with the
  mandatory notificationUrl);
- a payment the gateway never received is marked ``FAILED`` and abandoned once its
  deadline has passed (abandoned: should it still arrive, its success is refunded);
- a success the lane had given up on is refunded (``late_success="refund"``, the
  default) or kept and reported (``"report"``);
- a success on an order the lane reported not paid (FAILED, CLOSED) is abandoned-and-paid:
  refunded (or reported) like any late success;
- when the gateway cannot be reached, its answer cannot be verified, or a signed answer does
  not match the journaled order (amount, currency, ids, a code that contradicts the status),
  nothing is assumed: the order stays unresolved, with the reason (``untrusted``).

Every order is asked at the gateway and site it was sent to (journaled with the order), not
at whatever the lane is configured with today.

Each order's outcome is a :class:`RecoveryResult`, also emitted as a ``recovery.order``
event. :class:`~paycode.terminal.Terminal` calls :func:`recover` when it starts;
``paycode recover`` calls it from the command line.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from . import bizcontent
from .errors import ConfigError, GatewayError, OrderError, OutcomeUnknown
from .gateway import OPERATIONS, CodeMeaning, GatewayAnswer, answer_mismatch, code_meaning
from .journal import JournalBackend, OrderRecord
from .models import Money, PaymentStatus

if TYPE_CHECKING:
    from .gateway import GatewayClient
    from .host import PluginHost

__all__ = ["ACTIONS", "LATE_SUCCESS", "NOT_FOUND_CODE", "RecoveryResult", "client_for_order", "recover"]

#: the gateway's code for "transaction does not exist"
NOT_FOUND_CODE = "107001"
#: accepted values of ``late_success``
LATE_SUCCESS = ("refund", "report")
#: what recovery did with an order
ACTIONS: dict[str, str] = {
    "recorded": "the gateway's status was recorded",
    "waiting": "still in progress before its deadline: left for the lane (or the shopper) to finish",
    "closing": "PROCESSING past its deadline: marked abandoned; the gateway closes it at its timeExpire",
    "voided": "an AUTH_SUCCESS pre-authorisation past its deadline was voided (the only documented void)",
    "untrusted": "a signed answer did not match the journaled order: not believed, asked again next run",
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


class Untrusted(GatewayError):
    """A signed answer that does not match the journaled order: never believed."""


def _where(record: OrderRecord) -> str | None:
    """The ``gateway`` setting the order was sent to (a site name or base URL, ``sandbox``); None when not journaled."""
    gateway = getattr(record, "gateway", "")
    if not gateway:
        return None
    return "sandbox" if gateway == "sandbox" else (getattr(record, "site", "") or None)


def client_for_order(
    host: PluginHost | None, record: OrderRecord | None, default: Any, *, asynchronous: bool = False
) -> tuple[Any, bool]:
    """A client for the gateway and site ``record`` was sent to, and whether the caller must close it
    (``asynchronous``: an asyncio client, from the gateway type's ``async_factory``).

    ``default`` (the lane's client) when the order went where the lane is configured to send,
    or the order does not say where it went. ConfigError when it went to the embedded sandbox
    of an earlier process (which forgot it) while the lane now uses another gateway.
    """
    if host is None or record is None:
        return default, False
    where = _where(record)
    if where is None or where == host.settings.gateway:
        return default, False
    if where == "sandbox":
        raise ConfigError(
            f"order {record.order_id!r} was sent to the embedded sandbox, which forgets its orders when its "
            "process ends; it cannot be asked any more"
        )
    gateway_type = host.gateways.get(record.gateway)
    if gateway_type is None:
        raise ConfigError(
            f"order {record.order_id!r} was sent through gateway {record.gateway!r}, which is not installed; "
            f"installed: {', '.join(sorted(host.gateways)) or 'none'}"
        )
    settings = attrs.evolve(host.settings, gateway=where)
    if not asynchronous:
        return gateway_type.factory(settings, host), True
    if gateway_type.async_factory is None:
        raise ConfigError(f"gateway {record.gateway!r} has no asyncio client; use the blocking Terminal")
    return gateway_type.async_factory(settings, host), True


class _Recovery:
    """One recovery run over one journal; each order asked at the gateway it was sent to."""

    def __init__(
        self,
        journal: JournalBackend,
        client: GatewayClient,
        late_success: str,
        now: float,
        grace: float,
        host: PluginHost | None = None,
    ) -> None:
        self.journal = journal
        self.default_client = client
        self.client: Any = client
        self.late_success = late_success
        self.now = now
        self.grace = grace
        self.host = host
        self.close_grace = host.settings.close_grace if host is not None else 10.0
        self.notification_url = host.settings.notification_url if host is not None else None
        self._clients: dict[str, Any] = {}

    def use_client_of(self, record: OrderRecord) -> None:
        where = _where(record) or ""
        if where in self._clients:
            self.client = self._clients[where]
            return
        client, owned = client_for_order(self.host, record, self.default_client)
        if owned:
            self._clients[where] = client
        self.client = client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _last_sent(self, order_id: str, kind: str, request_id: str | None = None) -> float:
        """When a request of ``kind`` (with ``request_id``) for the order was last begun; 0 when never."""
        times = [
            a.started_at
            for a in self.journal.attempts(order_id)
            if a.kind == kind and (request_id is None or a.request_id == request_id)
        ]
        return max(times, default=0.0)

    # -- gateway calls, each journaled as an attempt ----------------------------------

    def _call(
        self,
        order_id: str,
        kind: str,
        request_id: str,
        biz: dict[str, Any],
        check: Callable[[GatewayAnswer], str | None],
    ) -> GatewayAnswer:
        """Send one request with its intent and outcome journaled; OutcomeUnknown passes through, and an
        answer that does not match the order (``check``) is journaled as unknown and raised as Untrusted."""
        self.journal.begin_attempt(order_id, request_id, kind)
        try:
            answer: GatewayAnswer = self.client.send(OPERATIONS[kind], biz)
        except OutcomeUnknown as exc:
            self.journal.end_attempt(order_id, request_id, outcome="unknown", detail=str(exc))
            raise
        except GatewayError as exc:
            self.journal.end_attempt(order_id, request_id, outcome="error", detail=str(exc))
            raise
        why = None if answer.code == NOT_FOUND_CODE else check(answer)
        if why is not None:
            detail = f"untrustworthy answer ({answer.code} {answer.description}): {why}"
            self.journal.end_attempt(order_id, request_id, outcome="unknown", code=answer.code, detail=detail)
            raise Untrusted(
                f"the gateway's signed answer to {kind} does not match the journaled order ({why}); not believed, "
                "nothing assumed: check the order at PingPong",
                order=order_id,
                mismatch=why,
            )
        status = answer.status.value if answer.status else None
        self.journal.end_attempt(
            order_id, request_id, outcome="answered", code=answer.code, status=status, detail=answer.description
        )
        return answer

    def query(self, record: OrderRecord) -> GatewayAnswer:
        order_id = record.order_id
        biz = bizcontent.query_biz(merchant_transaction_id=order_id)
        money = record.money
        return self._call(
            order_id, "query", _new_id("rcq"), biz, lambda a: answer_mismatch(a, order_id=order_id, money=money)
        )

    # -- one order ---------------------------------------------------------------------

    def order(self, record: OrderRecord) -> RecoveryResult:
        before = record.status.value
        try:
            self.use_client_of(record)
            action, reason, refunded = self._settle(record)
        except Untrusted as exc:
            action, reason, refunded = "untrusted", str(exc), Decimal(0)
            if self.host is not None:
                self.host.emit(
                    "payment.mismatch", record.order_id, operation="recovery", mismatch=exc.context["mismatch"]
                )
        except OutcomeUnknown as exc:
            action, reason, refunded = "unknown", str(exc), Decimal(0)
            if exc.context.get("mismatch"):  # the client refused a signed answer that does not match its request
                action = "untrusted"
                if self.host is not None:
                    self.host.emit(
                        "payment.mismatch", record.order_id, operation="recovery", mismatch=exc.context["mismatch"]
                    )
        except (GatewayError, OrderError, ConfigError) as exc:
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
            answer = self.query(record)
            if answer.code == NOT_FOUND_CODE:
                return self._not_found(record)
            if answer.biz.get("status") == "AUTH_SUCCESS":
                return self._authorised(record)
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
                return self._closing(record)
            if record.status is PaymentStatus.FAILED and record.unknown_attempts:
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
        before = self._reload(record.order_id)
        self.journal.set_state(
            record.order_id, status, transaction_id=tx if isinstance(tx, str) and tx else None, note=note
        )
        if status is PaymentStatus.SUCCESS and before.status in _NOT_PAID:
            # the lane reported this order not paid: a success now is a late success, refunded (or reported)
            after = self._reload(record.order_id)
            if not after.abandoned:
                self.journal.mark_abandoned(
                    record.order_id, f"success after the lane reported {before.status.value} (not paid)"
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

    def _closing(self, record: OrderRecord) -> tuple[str, str, Decimal]:
        """PROCESSING past its deadline: no void (undocumented for barcode orders); the gateway closes it at
        timeExpire. Marked abandoned so that a success arriving first is refunded; asked again next run."""
        if not record.abandoned:
            self.journal.mark_abandoned(
                record.order_id, "deadline passed while PROCESSING; the gateway closes it at its timeExpire"
            )
        late = self.now - record.deadline_at
        if late <= self.close_grace:
            return (
                "closing",
                f"PROCESSING {late:.0f} s after its deadline: the gateway closes it at timeExpire",
                Decimal(0),
            )
        return (
            "closing",
            f"still PROCESSING {late:.0f} s after its timeExpire (grace {self.close_grace:g} s): the gateway has "
            "not closed it as documented; asked again next run, check the order at PingPong",
            Decimal(0),
        )

    def _authorised(self, record: OrderRecord) -> tuple[str, str, Decimal]:
        """An AUTH_SUCCESS order (a pre-authorisation): the one case V4 documents void for."""
        if self.now < record.deadline_at:
            left = record.deadline_at - self.now
            return "waiting", f"AUTH_SUCCESS with {left:.0f} s left before its deadline", Decimal(0)
        if not self.notification_url:
            return (
                "failed",
                "AUTH_SUCCESS (a pre-authorisation): its void needs a notificationUrl, which the documentation makes "
                "mandatory; set notification_url and run recovery again",
                Decimal(0),
            )
        if not record.abandoned:
            self.journal.mark_abandoned(record.order_id, "AUTH_SUCCESS past its deadline; voided by recovery")
        void_id = _new_id("rcv")
        biz = bizcontent.void_biz(
            merchant_transaction_id=record.order_id,
            merchant_void_id=void_id,
            amount=record.money,
            notification_url=self.notification_url,
        )
        order_id = record.order_id
        answer = self._call(order_id, "void", void_id, biz, lambda a: answer_mismatch(a, order_id=order_id))
        after = self.query(record)  # what the void did, recorded in this run
        if after.status is not None:
            self._apply(record, after, note="queried after the void by recovery")
            if after.status.final:
                self.journal.settle_attempts(order_id, f"voided; the gateway answers {after.status.value}")
        return "voided", f"void {void_id}: {answer.code} {answer.description}".strip(), Decimal(0)

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
        order_id = record.order_id
        self.journal.begin_refund(order_id, refund_id, money.wire())
        biz = bizcontent.refund_biz(
            merchant_transaction_id=order_id,
            merchant_refund_id=refund_id,
            amount=money,
            remark="late success refunded",
        )
        try:
            answer = self._call(
                order_id,
                "refund",
                refund_id,
                biz,
                lambda a: answer_mismatch(a, order_id=order_id, money=money, refund_id=refund_id),
            )
        except (OutcomeUnknown, Untrusted) as exc:
            self.journal.end_refund(order_id, refund_id, status="UNKNOWN", detail=str(exc))
            raise
        status = _refund_status(answer)
        self.journal.end_refund(order_id, refund_id, status=status, detail=f"{answer.code} {answer.description}")
        if status == "FAILED":
            return "failed", f"the refund was refused: {answer.code} {answer.description}", Decimal(0)
        if status != "SUCCESS":
            return "refunded", f"refund of {money} is {status}", Decimal(0)
        return "refunded", "", money.wire()

    def _settle_refunds(self, record: OrderRecord) -> None:
        """Query every refund whose outcome is open; one the gateway never received is FAILED."""
        order_id = record.order_id
        for refund in self.journal.refunds(order_id):
            if refund.settled:
                continue
            refund_id = refund.refund_id
            biz = bizcontent.refund_query_biz(merchant_transaction_id=order_id, merchant_refund_id=refund_id)
            answer = self._call(
                order_id,
                "refund_query",
                _new_id("rcf"),
                biz,
                _refund_check(order_id, refund_id),
            )
            status: str | None
            if answer.code == NOT_FOUND_CODE:
                sent = max(refund.created_at, self._last_sent(order_id, "refund", refund_id))
                # the refund request may still arrive within the grace: ask again next time
                status = "FAILED" if self.now >= sent + self.grace else None
            else:
                status = _refund_query_status(answer)
            if status is None:
                continue
            self.journal.end_refund(order_id, refund_id, status=status, detail=f"refund query: {answer.code}")


_NOT_PAID = (PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL)


def _refund_check(order_id: str, refund_id: str) -> Callable[[GatewayAnswer], str | None]:
    return lambda answer: answer_mismatch(answer, order_id=order_id, refund_id=refund_id)


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
    """A refund's status from the verified answer to the refund itself: its bizContent status, else by the code's
    documented meaning (:func:`paycode.gateway.code_meaning`): a success; a refusal or decline (nothing was
    refunded: FAILED); processing; anything else (a system error, a timeout, a duplicate) UNKNOWN, never
    FAILED: the refund may have been executed, so its amount stays pending and the next run asks."""
    raw = answer.biz.get("status")
    if isinstance(raw, str) and raw.upper() in ("SUCCESS", "FAILED", "PROCESSING"):
        return raw.upper()
    meaning = code_meaning(answer.code)
    if meaning is CodeMeaning.SUCCESS:
        return "SUCCESS"
    if meaning in (CodeMeaning.REFUSED, CodeMeaning.DECLINED, CodeMeaning.NOT_FOUND):
        return "FAILED"
    if meaning is CodeMeaning.PROCESSING or answer.code == "001000":
        return "PROCESSING"
    return "UNKNOWN"


def recover(
    journal: JournalBackend,
    client: GatewayClient,
    host: PluginHost | None = None,
    *,
    late_success: str | None = None,
    lane: str | None = None,
    now: float | None = None,
    grace: float | None = None,
    on_result: Callable[[RecoveryResult], None] | None = None,
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
    :param on_result: called with each order's result as soon as it is settled (``paycode recover`` prints and
        flushes it then, so that a recovery killed half-way has said what it did).
    :returns: one :class:`RecoveryResult` per order that was unresolved, oldest first.
    """
    if late_success is None:
        late_success = host.settings.late_success if host is not None else "refund"
    if late_success not in LATE_SUCCESS:
        raise ConfigError(f"late_success={late_success!r}; accepted: {', '.join(LATE_SUCCESS)}")
    if grace is None:
        grace = host.settings.connect_timeout + host.settings.read_timeout if host is not None else 20.0
    run = _Recovery(journal, client, late_success, time.time() if now is None else now, grace, host)
    results = []
    try:
        for record in journal.unresolved():
            if lane is not None and record.lane != lane:
                continue
            result = run.order(record)
            results.append(result)
            if on_result is not None:
                on_result(result)
            if host is not None:
                data = result.as_json()
                data.pop("order_id")
                host.emit("recovery.order", record.order_id, **data)
    finally:
        run.close()
    return results
