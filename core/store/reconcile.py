"""Reconciliation (对账): the journal's orders and refunds of a date range compared with the gateway.

Every order created in the range is queried at the gateway it was sent to (``/v4/payment/query``), and each of
its refunds (``/v4/refund/query``), at most ``rate`` queries a second. Each answer is checked against the order
(:func:`paycode.gateway.answer_mismatch`: order id, amount in the currency's exponent, currency, code and status
consistent) before it is compared. What differs is listed as a :class:`Difference` ("journal says X, gateway
says Y"). The safe ones are repaired, always in the gateway's direction and only to its final state:

- an order the journal has open (``INIT``, ``PROCESSING``, ``UNKNOWN``) or ``FAILED`` and the gateway has final
  (``SUCCESS``, ``CLOSED``, ``CANCEL``) or ``FAILED``: the gateway's state is recorded;
- a ``SUCCESS`` at the gateway of an order the lane had said was not paid (journal ``FAILED``, ``CLOSED`` or
  ``CANCEL``): recorded and marked abandoned, so ``paycode recover`` refunds it (``late_success``);
- a refund the journal has open and the gateway has ``SUCCESS`` or ``FAILED``: recorded.

Never repaired, listed for a person: the journal says paid and the gateway does not; a signed answer that does
not match the order; an order the gateway does not know; a refund whose settled outcome differs. Queries are
read-only at the gateway and are not journaled as attempts; a repair is a transition whose note says
"reconciliation". :class:`Total` rows give the store's books by day (local time), wallet and currency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .. import bizcontent
from ..errors import ConfigError, GatewayError
from ..gateway import QUERY, REFUND_QUERY, CodeMeaning, answer_mismatch, code_meaning
from ..models import PaymentStatus
from ..recovery import client_for_order

if TYPE_CHECKING:
    from ..gateway import GatewayAnswer, GatewayClient
    from ..host import PluginHost
    from ..journal import JournalBackend, OrderRecord, RefundRecord

__all__ = ["Difference", "Reconciliation", "Total", "Unchecked", "day_range", "reconcile"]

_OPEN = (PaymentStatus.INIT, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)
_NOT_PAID = (PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL)
_SETTLED_REFUND = ("SUCCESS", "FAILED")


def _day(t: float) -> str:
    return datetime.fromtimestamp(t).date().isoformat()


def day_range(first: date, last: date) -> tuple[float, float]:
    """Epoch seconds from the start of ``first`` to the end of ``last`` (local time), ``last`` included."""
    if last < first:
        raise ConfigError(f"--to {last.isoformat()} is before --from {first.isoformat()}; give a range forwards")
    start = datetime.combine(first, datetime.min.time()).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time()).timestamp()
    return start, end


@attrs.frozen
class Difference:
    """What the journal says and what the gateway says about one order (or one of its refunds)."""

    order_id: str
    day: str
    lane: str
    wallet: str
    currency: str
    amount: Decimal
    journal: str
    gateway: str
    repaired: bool
    detail: str
    refund_id: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "difference",
            "order_id": self.order_id,
            "refund_id": self.refund_id or None,
            "day": self.day,
            "lane": self.lane,
            "wallet": self.wallet,
            "amount": str(self.amount),
            "currency": self.currency,
            "journal": self.journal,
            "gateway": self.gateway,
            "repaired": self.repaired,
            "detail": self.detail,
        }

    def line(self) -> str:
        what = f"{self.order_id} refund {self.refund_id}" if self.refund_id else self.order_id
        verdict = "repaired" if self.repaired else "NOT repaired"
        return (
            f"{what}  {self.lane}  {self.amount} {self.currency}  journal says {self.journal}, "
            f"gateway says {self.gateway}  {verdict}: {self.detail}"
        )


@attrs.frozen
class Unchecked:
    """An order (or refund) the gateway could not be asked about, or whose answer could not be read."""

    order_id: str
    reason: str
    refund_id: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "unchecked",
            "order_id": self.order_id,
            "refund_id": self.refund_id or None,
            "reason": self.reason,
        }

    def line(self) -> str:
        what = f"{self.order_id} refund {self.refund_id}" if self.refund_id else self.order_id
        return f"{what}  not checked: {self.reason}"


@attrs.frozen
class Total:
    """The books of one day, wallet and currency (after repairs): orders, paid orders and amounts."""

    day: str
    wallet: str
    currency: str
    orders: int
    paid_orders: int
    paid: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.paid - self.refunded

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "total",
            "day": self.day,
            "wallet": self.wallet,
            "currency": self.currency,
            "orders": self.orders,
            "paid_orders": self.paid_orders,
            "paid": str(self.paid),
            "refunded": str(self.refunded),
            "net": str(self.net),
        }

    def row(self) -> list[str]:
        return [
            self.day,
            self.wallet,
            self.currency,
            str(self.orders),
            str(self.paid_orders),
            str(self.paid),
            str(self.refunded),
            str(self.net),
        ]


TOTAL_COLUMNS = ("day", "wallet", "currency", "orders", "paid_orders", "paid", "refunded", "net")


@attrs.frozen
class Reconciliation:
    """A reconciliation run: what was checked, what differed, what could not be checked, and the totals."""

    start: float
    end: float
    orders: int
    refunds: int
    differences: tuple[Difference, ...]
    unchecked: tuple[Unchecked, ...]
    totals: tuple[Total, ...]

    @property
    def unrepaired(self) -> list[Difference]:
        return [d for d in self.differences if not d.repaired]

    def summary(self) -> dict[str, Any]:
        return {
            "kind": "summary",
            "from": _day(self.start),
            "to": _day(self.end - 1),
            "orders": self.orders,
            "refunds": self.refunds,
            "differences": len(self.differences),
            "repaired": len(self.differences) - len(self.unrepaired),
            "unrepaired": len(self.unrepaired),
            "unchecked": len(self.unchecked),
        }


class _Pacer:
    """At most ``rate`` calls a second (spaced evenly)."""

    def __init__(
        self, rate: float, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not rate > 0:
            raise ConfigError(f"query rate {rate!r} must be a positive number of queries per second")
        self.gap = 1.0 / rate
        self.next = 0.0
        self.sleep = sleep
        self.clock = clock

    def wait(self) -> None:
        now = self.clock()
        if now < self.next:
            self.sleep(self.next - now)
            now = self.next
        self.next = now + self.gap


class _Run:
    def __init__(self, journal: JournalBackend, client: GatewayClient, host: PluginHost | None, rate: float) -> None:
        self.journal = journal
        self.default_client = client
        self.host = host
        self.pacer = _Pacer(rate)
        self.clients: dict[str, Any] = {}
        self.differences: list[Difference] = []
        self.unchecked: list[Unchecked] = []
        self.refunds = 0

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def client_of(self, record: OrderRecord) -> Any:
        key = f"{record.gateway}|{record.site}"
        if key in self.clients:
            return self.clients[key]
        client, owned = client_for_order(self.host, record, self.default_client)
        if owned:
            self.clients[key] = client
        return client

    def ask(
        self, record: OrderRecord, operation: Any, biz: dict[str, Any], refund_id: str = ""
    ) -> GatewayAnswer | None:
        self.pacer.wait()
        try:
            answer: GatewayAnswer = self.client_of(record).send(operation, biz)
        except (GatewayError, ConfigError) as exc:
            self.unchecked.append(Unchecked(record.order_id, f"{operation.name}: {exc}", refund_id))
            return None
        return answer

    def differ(
        self, record: OrderRecord, journal: str, gateway: str, repaired: bool, detail: str, refund: str = ""
    ) -> None:
        self.differences.append(
            Difference(
                order_id=record.order_id,
                day=_day(record.created_at),
                lane=record.lane,
                wallet=record.wallet,
                currency=record.currency,
                amount=record.amount,
                journal=journal,
                gateway=gateway,
                repaired=repaired,
                detail=detail,
                refund_id=refund,
            )
        )

    # -- one order ---------------------------------------------------------------------

    def order(self, record: OrderRecord) -> None:
        oid = record.order_id
        answer = self.ask(record, QUERY, bizcontent.query_biz(merchant_transaction_id=oid))
        if answer is not None:
            self.payment(record, answer)
        for refund in self.journal.refunds(oid):
            self.refund(record, refund)

    def payment(self, record: OrderRecord, answer: GatewayAnswer) -> None:
        oid, ours = record.order_id, record.status
        if code_meaning(answer.code) is CodeMeaning.NOT_FOUND:
            if ours in _NOT_PAID or (ours in _OPEN and record.attempt_count == 0):
                return  # never charged, and the journal agrees
            why = (
                "the journal has a payment the gateway does not know: check the order at PingPong"
                if ours is PaymentStatus.SUCCESS
                else "never reached the gateway: paycode recover marks it failed once its grace has passed"
            )
            self.differ(record, ours.value, "no such order", False, why)
            return
        mismatch = answer_mismatch(answer, order_id=oid, money=record.money)
        if mismatch is not None:
            self.differ(
                record,
                ours.value,
                f"{answer.code} {answer.biz.get('status')}",
                False,
                f"untrustworthy answer: {mismatch}",
            )
            return
        theirs = answer.status
        if theirs is None:
            self.unchecked.append(Unchecked(oid, f"the query answered code {answer.code} without a status"))
            return
        tx = answer.biz.get("transactionId")
        tx = tx if isinstance(tx, str) and tx else None
        if theirs is ours:
            if tx and not record.transaction_id:
                self.journal.set_state(oid, ours, transaction_id=tx)
            return
        note = f"reconciliation: the gateway answers {theirs.value}"
        if theirs is PaymentStatus.SUCCESS and ours in _NOT_PAID:
            with self.journal.batch():
                self.journal.set_state(oid, theirs, transaction_id=tx, note=note)
                if not record.abandoned:
                    self.journal.mark_abandoned(oid, f"paid at the gateway after the lane said {ours.value}")
            self.differ(record, ours.value, theirs.value, True, "late success recorded and marked abandoned: "
                        "paycode recover refunds it (late_success)")  # fmt: skip
            return
        final = theirs.final or theirs is PaymentStatus.FAILED
        if final and (ours in _OPEN or (ours is PaymentStatus.FAILED and theirs.final)):
            self.journal.set_state(oid, theirs, transaction_id=tx, note=note)
            self.differ(record, ours.value, theirs.value, True, "the gateway's final state recorded")
            return
        if ours is PaymentStatus.SUCCESS:
            why = "the journal says paid and the gateway does not: check the order at PingPong"
        elif not final:
            why = "still in progress at the gateway: paycode recover follows it"
        else:
            why = "both say not paid, in different words: nothing to repair"
        self.differ(record, ours.value, theirs.value, False, why)

    def refund(self, record: OrderRecord, refund: RefundRecord) -> None:
        self.refunds += 1
        oid, rid = record.order_id, refund.refund_id
        biz = bizcontent.refund_query_biz(merchant_transaction_id=oid, merchant_refund_id=rid)
        answer = self.ask(record, REFUND_QUERY, biz, rid)
        if answer is None:
            return
        ours = refund.status
        if code_meaning(answer.code) is CodeMeaning.NOT_FOUND:
            if ours == "FAILED":
                return
            why = (
                "the journal has a refund the gateway does not know: check it at PingPong"
                if ours == "SUCCESS"
                else "not at the gateway: paycode recover marks it failed once its grace has passed"
            )
            self.differ(record, ours, "no such refund", False, why, rid)
            return
        mismatch = answer_mismatch(answer, order_id=oid, refund_id=rid)
        raw = answer.biz.get("status")
        theirs = raw.upper() if isinstance(raw, str) else None
        if mismatch is not None or theirs not in ("SUCCESS", "FAILED", "PROCESSING"):
            why = f"untrustworthy answer: {mismatch}" if mismatch else f"refund status {raw!r} is not one it documents"
            self.differ(record, ours, f"{answer.code} {raw}", False, why, rid)
            return
        if theirs == ours:
            return
        if ours not in _SETTLED_REFUND and theirs in _SETTLED_REFUND:
            self.journal.end_refund(oid, rid, status=theirs, detail=f"reconciliation: refund query {answer.code}")
            self.differ(record, ours, theirs, True, "the gateway's final refund state recorded", rid)
            return
        why = (
            "still in progress at the gateway"
            if theirs == "PROCESSING"
            else "the refund's settled outcome differs: check it at PingPong"
        )
        self.differ(record, ours, theirs, False, why, rid)


def _totals(records: Iterable[OrderRecord]) -> tuple[Total, ...]:
    groups: dict[tuple[str, str, str], list[OrderRecord]] = {}
    for record in records:
        groups.setdefault((_day(record.created_at), record.wallet, record.currency), []).append(record)
    totals = []
    for (day, wallet, currency), items in sorted(groups.items()):
        paid = [r for r in items if r.status is PaymentStatus.SUCCESS]
        zero = Decimal(0).quantize(items[0].amount)
        totals.append(
            Total(
                day=day,
                wallet=wallet,
                currency=currency,
                orders=len(items),
                paid_orders=len(paid),
                paid=sum((r.amount for r in paid), zero),
                refunded=sum((r.refunded for r in paid), zero),
            )
        )
    return tuple(totals)


def reconcile(
    journal: JournalBackend,
    client: GatewayClient,
    host: PluginHost | None = None,
    *,
    start: float,
    end: float,
    rate: float = 5.0,
    on_order: Callable[[OrderRecord], None] | None = None,
) -> Reconciliation:
    """Compare every order created in ``[start, end)`` (epoch seconds) and its refunds with the gateway.

    ``client`` is the default gateway client (an order sent elsewhere is asked there, through ``host``);
    ``rate`` caps the queries a second. Repairs are written to the journal as they are found.
    """
    run = _Run(journal, client, host, rate)
    chosen = [r for r in reversed(journal.orders()) if start <= r.created_at < end]
    try:
        for record in chosen:
            run.order(record)
            if on_order is not None:
                on_order(record)
    finally:
        run.close()
    after = [journal.order(r.order_id) for r in chosen]
    return Reconciliation(
        start=start,
        end=end,
        orders=len(chosen),
        refunds=run.refunds,
        differences=tuple(run.differences),
        unchecked=tuple(run.unchecked),
        totals=_totals(r for r in after if r is not None),
    )
