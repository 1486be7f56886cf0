"""Merchants, orders and refunds held by the sandbox, and the gateway's business rules over them (void refused).

Everything happens under one lock, so concurrent requests (a retry racing a slow first
attempt) see a consistent ledger. Codes are kept only masked and as a SHA-256 digest
(to count charges per shopper code); the ledger never holds a whole code.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ..masking import mask_code
from ..models import Money, PaymentStatus
from .scenarios import Scenario, scenario_for
from .validation import (
    PayRequest,
    QueryRequest,
    RefundQueryRequest,
    RefundRequest,
    VoidQueryRequest,
    VoidRequest,
)

__all__ = ["Answer", "Credentials", "Ledger", "Notice", "OrderView", "RefundView"]

_STATUS_CODES = {
    PaymentStatus.SUCCESS: ("000000", "transaction succeeded"),
    PaymentStatus.FAILED: ("301002", "declined by the wallet (sandbox scenario decline)"),
    PaymentStatus.PROCESSING: ("002000", "transaction processing: waiting for the shopper's password"),
    PaymentStatus.CLOSED: ("105000", "transaction closed"),
}


def _digits(n: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(n - 1))


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def _in_currency(amount: Decimal, like: Money) -> str:
    """``amount`` with the decimals of ``like``'s currency: ``7.50 CNY``, also for zero."""
    return f"{amount.quantize(Decimal(1).scaleb(-like.exponent))} {like.currency}"


def _wire_amount(amount: Decimal) -> str:
    """Amounts in answers are text with six decimals, as the gateway writes them (``"100.000000"``)."""
    return f"{amount:.6f}"


# ---------------------------------------------------------------------------- values


@attrs.frozen
class Credentials:
    """A merchant account the sandbox accepts. The salt is a throwaway test secret, generated per server."""

    acc_id: str
    client_id: str
    salt: str = attrs.field(repr=False)

    @classmethod
    def generate(cls, acc_id: str | None = None, client_id: str | None = None, salt: str | None = None) -> Credentials:
        """Fill what is not given: a 22-digit accId, a 19-digit clientId, a random 32-hex-digit salt."""
        return cls(acc_id or _digits(22), client_id or _digits(19), salt or secrets.token_hex(16).upper())

    def as_json(self) -> dict[str, str]:
        return {"acc_id": self.acc_id, "client_id": self.client_id, "salt": self.salt}


@attrs.frozen
class Answer:
    """What the gateway answers: top-level ``code``/``description``, ``bizContent``, HTTP status.

    ``hold`` is how long to wait after committing before the answer is sent (slow_commit).
    """

    code: str
    description: str
    biz: Mapping[str, Any] = attrs.field(factory=dict)
    http_status: int = 200
    hold: float = 0.0


@attrs.frozen
class Notice:
    """A notification to post: ``bizContent`` for ``url``, signed for ``merchant`` with ``sign_type``."""

    url: str
    notify_type: str
    biz: Mapping[str, Any]
    merchant: Credentials
    sign_type: str


@attrs.frozen
class RefundView:
    merchant_refund_id: str
    refund_id: str
    amount: Decimal
    currency: str
    status: str


@attrs.frozen
class OrderView:
    """One order as tests inspect it. ``charged`` counts moves to SUCCESS: it must never exceed 1."""

    acc_id: str
    merchant_transaction_id: str
    transaction_id: str
    status: str
    amount: Decimal
    currency: str
    wallet: str
    code_masked: str
    scenario: str
    charged: int
    refunded: Decimal
    refunds: tuple[RefundView, ...]
    request_ids: tuple[str, ...]
    queries: int
    closed_by: str | None


# ---------------------------------------------------------------------------- state


@attrs.define
class _Attempt:
    request_id: str
    scenario: Scenario
    code_digest: str
    status: PaymentStatus
    fingerprint: tuple[Any, ...]
    answer: Answer | None = None


@attrs.define
class _Operation:
    """A refund or a void of an order: the merchant's id for it, the gateway's, and the answer stored for repeats.

    Both settle at once in the sandbox, so their status is always SUCCESS.
    """

    merchant_id: str
    gateway_id: str
    money: Money
    time_ms: int
    answer: Answer | None = None


@attrs.define
class _Order:
    merchant_transaction_id: str
    transaction_id: str
    money: Money
    wallet: str
    created_ms: int
    code_masked: str = ""  # of the current attempt's code
    sign_type: str = "SHA256"  # of the current attempt: notifications are signed with it
    status: PaymentStatus = PaymentStatus.INIT
    attempts: list[_Attempt] = attrs.field(factory=list)
    refunds: dict[str, _Operation] = attrs.field(factory=dict)  # by merchantRefundId
    notification_url: str | None = None
    close_notification_url: str | None = None
    closes_at: float | None = None  # wall time a PROCESSING attempt is closed by the gateway
    pays_at: float | None = None  # wall time the shopper confirms a late_success attempt
    queries_left: int | None = None  # queries still answered PROCESSING before SUCCESS; None: never succeeds
    queries: int = 0
    charged: int = 0
    closed_by: str | None = None
    transaction_ms: int = 0

    @property
    def current(self) -> _Attempt:
        return self.attempts[-1]

    @property
    def refunded(self) -> Decimal:
        return sum((r.money.amount for r in self.refunds.values()), Decimal(0))

    def move(self, status: PaymentStatus, now: float) -> None:
        self.status = status
        self.current.status = status
        self.transaction_ms = int(now * 1000)


@attrs.define
class _Merchant:
    credentials: Credentials
    orders: dict[str, _Order] = attrs.field(factory=dict)
    by_transaction_id: dict[str, _Order] = attrs.field(factory=dict)
    by_request_id: dict[str, _Order] = attrs.field(factory=dict)
    by_refund_id: dict[str, tuple[_Order, _Operation]] = attrs.field(factory=dict)


def _not_found(what: str) -> Answer:
    return Answer("107001", f"transaction does not exist: {what}")


def _duplicate(description: str) -> Answer:
    return Answer("107000", f"duplicated transaction: {description}")


def _repeated(earlier: tuple[_Order, _Operation] | None, order: _Order, money: Money, kind: str) -> Answer | None:
    """For a refund or void id seen before: the stored answer when it is the same operation, else 107000."""
    if earlier is None:
        return None
    first_order, operation = earlier
    if first_order is not order or operation.money != money or operation.answer is None:
        return _duplicate(f"merchant{kind.title()}Id {operation.merchant_id} was already used for another {kind}")
    return operation.answer


# ---------------------------------------------------------------------------- the ledger


class Ledger:
    """Every merchant's orders, and the V4 rules for paying, querying, refunding and voiding them."""

    def __init__(
        self,
        *,
        notify: Callable[[Notice], None],
        slow_seconds: float = 3.0,
        processing_queries: int = 2,
        auto_close_seconds: float = 180.0,
        password_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._notify = notify
        self.slow_seconds = slow_seconds
        self.password_seconds = password_seconds
        self.processing_queries = processing_queries
        self.auto_close_seconds = auto_close_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._merchants: dict[str, _Merchant] = {}
        self._charges: Counter[str] = Counter()
        self._serial = 0

    # ------------------------------------------------------------------ merchants

    def add_merchant(self, credentials: Credentials) -> None:
        with self._lock:
            self._merchants.setdefault(credentials.acc_id, _Merchant(credentials))

    def credentials(self, acc_id: str) -> Credentials | None:
        merchant = self._merchants.get(acc_id)
        return merchant.credentials if merchant else None

    # ------------------------------------------------------------------ payments

    def pay(self, acc_id: str, req: PayRequest, sign_type: str) -> Answer:
        """``unifiedPay``: a new attempt, the stored answer of a repeated ``requestId``, or a refusal."""
        with self._lock:
            merchant = self._merchants[acc_id]
            now = self._clock()
            digest = _code_digest(req.code)
            fingerprint = (req.merchant_transaction_id, req.money, req.wallet.name, digest)
            known = merchant.by_request_id.get(req.request_id)
            if known is not None:
                attempt = next(a for a in known.attempts if a.request_id == req.request_id)
                if attempt.fingerprint != fingerprint or attempt.answer is None:
                    return _duplicate(f"requestId {req.request_id} was already used for a different payment")
                return attempt.answer
            scenario = scenario_for(req.code)
            if scenario.name == "gateway_error":
                return Answer(
                    "500000",
                    "system error (sandbox scenario gateway_error: nothing was committed)",
                    {"requestId": req.request_id, "merchantTransactionId": req.merchant_transaction_id},
                    http_status=500,
                )
            if scenario.effect == "refused":
                return self._scenario_answer(scenario, req, status="FAILED")
            order = merchant.orders.get(req.merchant_transaction_id)
            if order is not None:
                refusal = self._refuse_new_attempt(merchant, order, req, now)
                if refusal is not None:
                    return refusal
            else:
                order = _Order(
                    merchant_transaction_id=req.merchant_transaction_id,
                    transaction_id=self._new_id("TX"),
                    money=req.money,
                    wallet=req.wallet.name,
                    created_ms=int(now * 1000),
                )
                merchant.orders[order.merchant_transaction_id] = order
                merchant.by_transaction_id[order.transaction_id] = order
            order.code_masked = mask_code(req.code)
            order.sign_type = sign_type
            order.notification_url = req.notification_url
            order.close_notification_url = req.close_notification_url
            order.attempts.append(_Attempt(req.request_id, scenario, digest, PaymentStatus.INIT, fingerprint))
            merchant.by_request_id[req.request_id] = order
            self._start(merchant, order, req, now)
            if scenario.effect in ("unknown_paid", "unknown_open"):
                answer = self._scenario_answer(scenario, req, status=None)
            else:
                code, description = _STATUS_CODES[order.status]
                if scenario.result_code is not None:
                    code, description = (
                        scenario.result_code,
                        f"{scenario.description} (sandbox scenario {scenario.name})",
                    )
                answer = Answer(code, description, self._payment_biz(order, order.current))
            order.current.answer = answer
            if scenario.name == "slow_commit":
                return attrs.evolve(answer, hold=self.slow_seconds)
            return answer

    @staticmethod
    def _scenario_answer(scenario: Scenario, req: PayRequest, *, status: str | None) -> Answer:
        """A result-code scenario's answer: the request's ids and money, ``status`` (None: left out)."""
        assert scenario.result_code is not None
        biz: dict[str, Any] = {
            "merchantTransactionId": req.merchant_transaction_id,
            "requestId": req.request_id,
            "amount": _wire_amount(req.money.amount),
            "currency": req.money.currency,
        }
        if status is not None:
            biz["status"] = status
        biz["resultCode"] = scenario.result_code
        biz["resultDescription"] = scenario.description
        return Answer(scenario.result_code, f"{scenario.description} (sandbox scenario {scenario.name})", biz)

    def _refuse_new_attempt(self, merchant: _Merchant, order: _Order, req: PayRequest, now: float) -> Answer | None:
        self._expire(merchant, order, now)
        mtid = order.merchant_transaction_id
        if order.status is PaymentStatus.SUCCESS:
            return _duplicate(f"merchantTransactionId {mtid} is already paid")
        if order.status is PaymentStatus.PROCESSING:
            return _duplicate(
                f"merchantTransactionId {mtid} has a payment in flight (requestId {order.current.request_id}); "
                "query it: it is paid, or closed at its timeExpire"
            )
        if order.status is PaymentStatus.CLOSED:
            return Answer("105000", f"transaction invalid or expired: merchantTransactionId {mtid} is closed")
        if order.money != req.money or order.wallet != req.wallet.name:
            return _duplicate(
                f"merchantTransactionId {mtid} was created for {order.money} by {order.wallet}; "
                "a new attempt must have the same amount, currency and payment method"
            )
        return None

    def _start(self, merchant: _Merchant, order: _Order, req: PayRequest, now: float) -> None:
        scenario = order.current.scenario
        name = scenario.name
        if name in ("success", "slow_commit") or scenario.effect == "unknown_paid":
            self._succeed(merchant, order, now)
        elif name == "decline" or scenario.effect == "declined":
            order.move(PaymentStatus.FAILED, now)
            self._notify_payment(merchant, order)
        else:  # password_then_success, password_timeout, late_success, unknown_open
            order.move(PaymentStatus.PROCESSING, now)
            order.queries_left = self.processing_queries if name == "password_then_success" else None
            order.pays_at = now + self.password_seconds if name == "late_success" else None
            closes_at = now + self.auto_close_seconds
            order.closes_at = min(closes_at, req.time_expire) if req.time_expire else closes_at

    def _succeed(self, merchant: _Merchant, order: _Order, now: float) -> None:
        order.move(PaymentStatus.SUCCESS, now)
        order.charged += 1
        self._charges[order.current.code_digest] += 1
        self._notify_payment(merchant, order)

    def _close(self, merchant: _Merchant, order: _Order, now: float, by: str) -> None:
        order.move(PaymentStatus.CLOSED, now)
        order.closed_by = by
        if order.close_notification_url:
            self._post(merchant, order, order.close_notification_url, "RECHARGE", self._payment_biz(order))

    def _expire(self, merchant: _Merchant, order: _Order, now: float) -> bool:
        """Settle a PROCESSING ``order`` whose time has come: a confirmation due before its closing time pays it,
        else past its closing time it is closed (the gateway's own close). True when it changed."""
        if order.status is not PaymentStatus.PROCESSING:
            return False
        closes_at, pays_at = order.closes_at, order.pays_at
        if pays_at is not None and now >= pays_at and (closes_at is None or pays_at < closes_at):
            self._succeed(merchant, order, now)
            return True
        if closes_at is not None and now >= closes_at:
            self._close(merchant, order, now, "expired")
            return True
        return False

    def sweep(self) -> int:
        """Settle every PROCESSING order whose time has come (paid or closed); returns how many changed."""
        with self._lock:
            now = self._clock()
            return sum(self._expire(m, order, now) for m in self._merchants.values() for order in m.orders.values())

    def query(self, acc_id: str, req: QueryRequest) -> Answer:
        """``/v4/payment/query``: the status now; a password_then_success order succeeds on its third query."""
        with self._lock:
            merchant = self._merchants[acc_id]
            now = self._clock()
            order = self._find(merchant, req.merchant_transaction_id, req.transaction_id)
            if order is None:
                return _not_found(f"no order {req.merchant_transaction_id or req.transaction_id}")
            attempt = order.current
            if req.request_id is not None:
                found = [a for a in order.attempts if a.request_id == req.request_id]
                if not found:
                    return _not_found(f"requestId {req.request_id} is not an attempt of this order")
                attempt = found[0]
            self._expire(merchant, order, now)
            order.queries += 1
            if attempt is order.current and order.status is PaymentStatus.PROCESSING and order.queries_left is not None:
                if order.queries_left > 0:
                    order.queries_left -= 1
                else:
                    self._succeed(merchant, order, now)
            return Answer("001000", "request succeeded", self._payment_biz(order, attempt))

    def _find(self, merchant: _Merchant, mtid: str | None, transaction_id: str | None) -> _Order | None:
        by_mtid = merchant.orders.get(mtid) if mtid else None
        by_tid = merchant.by_transaction_id.get(transaction_id) if transaction_id else None
        if mtid and transaction_id and by_mtid is not by_tid:
            return None
        return by_mtid or by_tid

    def _order_now(self, acc_id: str, mtid: str) -> tuple[_Merchant, _Order | None, float]:
        """The merchant, its order ``mtid`` (None: no such order) settled up to now (paid or closed when its time
        has come, as a query would find it), and now. The opening of refund and void; call with the lock held."""
        merchant = self._merchants[acc_id]
        now = self._clock()
        order = merchant.orders.get(mtid)
        if order is not None:
            self._expire(merchant, order, now)
        return merchant, order, now

    # ------------------------------------------------------------------ refunds

    def refund(self, acc_id: str, req: RefundRequest) -> Answer:
        """``/v4/payment/refund``: partial refunds allowed, never above what was paid, idempotent by id."""
        with self._lock:
            merchant, order, now = self._order_now(acc_id, req.merchant_transaction_id)
            if order is None:
                return _not_found(f"no order {req.merchant_transaction_id}")
            stored = _repeated(merchant.by_refund_id.get(req.merchant_refund_id), order, req.money, "refund")
            if stored is not None:
                return stored
            if order.status is not PaymentStatus.SUCCESS:
                return Answer(
                    "105000",
                    f"transaction invalid: merchantTransactionId {order.merchant_transaction_id} is "
                    f"{order.status.value}; only a successful payment can be refunded",
                )
            if req.money.currency != order.money.currency:
                return Answer(
                    "102000",
                    f"bad parameter: refund currency {req.money.currency} differs from the payment's "
                    f"{order.money.currency}",
                )
            refundable = order.money.amount - order.refunded
            if req.money.amount > refundable:
                return Answer(
                    "102000",
                    f"bad parameter: refund of {req.money} exceeds what can be refunded: "
                    f"{_in_currency(refundable, order.money)} (paid {order.money}, "
                    f"refunded {_in_currency(order.refunded, order.money)})",
                )
            refund = _Operation(req.merchant_refund_id, self._new_id("RF"), req.money, int(now * 1000))
            order.refunds[refund.merchant_id] = refund
            merchant.by_refund_id[refund.merchant_id] = (order, refund)
            refund.answer = Answer("000000", "refund succeeded", self._refund_biz(order, refund))
            if req.notification_url:
                self._post(merchant, order, req.notification_url, "REFUND", self._refund_biz(order, refund))
            return refund.answer

    def refund_query(self, acc_id: str, req: RefundQueryRequest) -> Answer:
        with self._lock:
            order = self._merchants[acc_id].orders.get(req.merchant_transaction_id)
            if order is None:
                return _not_found(f"no order {req.merchant_transaction_id}")
            for refund in order.refunds.values():
                if refund.merchant_id == req.merchant_refund_id or refund.gateway_id == req.refund_id:
                    return Answer("001000", "request succeeded", self._refund_biz(order, refund))
            return _not_found(f"no refund {req.merchant_refund_id or req.refund_id} on this order")

    # ------------------------------------------------------------------ voids

    def void(self, acc_id: str, req: VoidRequest) -> Answer:
        """``/v4/payment/void``: documented for pre-authorisations (``AUTH_SUCCESS``) only.

        A payment-code order is never a pre-authorisation (``captureDelayHours`` is 0), so the
        sandbox refuses every void of one with ``105000`` and changes nothing: an unpaid order is
        closed at its ``timeExpire`` instead, a paid one is refunded.
        """
        with self._lock:
            _, order, _ = self._order_now(acc_id, req.merchant_transaction_id)
            if order is None:
                return _not_found(f"no order {req.merchant_transaction_id}")
            if req.money != order.money:
                return Answer(
                    "102000", f"bad parameter: void amount {req.money} must equal the order's amount {order.money}"
                )
            mtid = order.merchant_transaction_id
            if order.status is PaymentStatus.SUCCESS:
                advice = "it is paid: refund it instead"
            elif order.status is PaymentStatus.PROCESSING:
                advice = "it is waiting for the shopper: it closes at its timeExpire (query it until CLOSED)"
            else:
                advice = "there is nothing to void"
            return Answer(
                "105000",
                f"transaction invalid or expired: merchantTransactionId {mtid} is {order.status.value}; "
                f"void is only for a pre-authorisation in AUTH_SUCCESS, and {advice}",
                {"merchantTransactionId": mtid, "merchantVoidId": req.merchant_void_id},
            )

    def void_query(self, acc_id: str, req: VoidQueryRequest) -> Answer:
        """``/v4/void/query``: the sandbox never voids, so every void is unknown (``107001``)."""
        with self._lock:
            order = self._merchants[acc_id].orders.get(req.merchant_transaction_id)
            where = f"on order {req.merchant_transaction_id}" if order else f"(no order {req.merchant_transaction_id})"
            return _not_found(f"no void {req.merchant_void_id} {where}")

    # ------------------------------------------------------------------ answers and notifications

    def _payment_biz(self, order: _Order, attempt: _Attempt | None = None) -> dict[str, Any]:
        attempt = attempt or order.current
        status = attempt.status
        result_code, result_description = _STATUS_CODES.get(status, ("001000", status.value))
        if status is PaymentStatus.FAILED and attempt.scenario.result_code is not None:
            result_code, result_description = attempt.scenario.result_code, attempt.scenario.description
        return {
            "transactionId": order.transaction_id,
            "merchantTransactionId": order.merchant_transaction_id,
            "requestId": attempt.request_id,
            "amount": _wire_amount(order.money.amount),
            "currency": order.money.currency,
            "status": status.value,
            "resultCode": result_code,
            "resultDescription": result_description,
            "transactionTime": str(order.transaction_ms or order.created_ms),
            "paymentMethod": {"type": order.wallet},
        }

    def _refund_biz(self, order: _Order, refund: _Operation) -> dict[str, Any]:
        return {
            "transactionId": order.transaction_id,
            "merchantTransactionId": order.merchant_transaction_id,
            "merchantRefundId": refund.merchant_id,
            "refundId": refund.gateway_id,
            "amount": _wire_amount(refund.money.amount),
            "currency": refund.money.currency,
            "status": "SUCCESS",
            "refundTime": str(refund.time_ms),
            "transactionTime": str(refund.time_ms),
            "paymentMethod": {"type": order.wallet},
        }

    def _notify_payment(self, merchant: _Merchant, order: _Order) -> None:
        if order.notification_url:
            self._post(merchant, order, order.notification_url, "RECHARGE", self._payment_biz(order))

    def _post(self, merchant: _Merchant, order: _Order, url: str, notify_type: str, biz: dict[str, Any]) -> None:
        biz = {"notifyType": notify_type, **biz}
        self._notify(Notice(url, notify_type, biz, merchant.credentials, order.sign_type))

    def _new_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{int(self._clock() * 1000)}{self._serial:06d}"

    # ------------------------------------------------------------------ inspection

    def orders(self, acc_id: str | None = None) -> list[OrderView]:
        """Every order (of one merchant, or of all), oldest first."""
        with self._lock:
            views = []
            for merchant in self._merchants.values():
                if acc_id is not None and merchant.credentials.acc_id != acc_id:
                    continue
                for order in merchant.orders.values():
                    views.append(self._view(merchant, order))
            return views

    def charges_for(self, code: str) -> int:
        """How many times the shopper code ``code`` was charged, over every order and merchant."""
        with self._lock:
            return self._charges[_code_digest(code)]

    def _view(self, merchant: _Merchant, order: _Order) -> OrderView:
        return OrderView(
            acc_id=merchant.credentials.acc_id,
            merchant_transaction_id=order.merchant_transaction_id,
            transaction_id=order.transaction_id,
            status=order.status.value,
            amount=order.money.amount,
            currency=order.money.currency,
            wallet=order.wallet,
            code_masked=order.code_masked,
            scenario=order.current.scenario.name,
            charged=order.charged,
            refunded=order.refunded,
            refunds=tuple(
                RefundView(r.merchant_id, r.gateway_id, r.money.amount, r.money.currency, "SUCCESS")
                for r in order.refunds.values()
            ),
            request_ids=tuple(a.request_id for a in order.attempts),
            queries=order.queries,
            closed_by=order.closed_by,
        )
