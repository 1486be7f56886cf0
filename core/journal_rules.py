"""The journal's rules, one home for both backends: records, checks, and the money rules of every write.

:class:`paycode.journal.Journal` (SQLite) and ``paycode.store.pg_journal.PostgresJournal`` (PostgreSQL) store
the same things in the same way; everything here is what must never differ between them: how a row becomes a
record, which names, amounts and statuses are accepted (and the error that says what is accepted), which state
moves are recorded (:func:`plan_move`, with the late-success rule), when a refund is allowed
(:func:`allowed_refund`), and what an order's history notes say. A backend only runs its SQL around these.
``paycode.journal`` re-exports the public names, so ``from paycode.journal import OrderRecord`` keeps working.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import attrs

from .errors import JournalError, OrderError
from .models import Money, PaymentStatus

__all__ = [
    "ANNOUNCED",
    "ATTEMPT_COLUMNS",
    "ATTEMPT_KINDS",
    "ATTEMPT_OUTCOMES",
    "CSV_COLUMNS",
    "GIVEN_UP",
    "REFUND_COLUMNS",
    "REFUND_STATUSES",
    "AttemptRecord",
    "Move",
    "OrderRecord",
    "RefundRecord",
    "TransitionRecord",
    "abandoned_note",
    "allowed_refund",
    "already_begun",
    "attempt_records",
    "attempt_outcome",
    "check_attempt",
    "check_new_order",
    "check_optional_text",
    "check_refund",
    "check_text",
    "kept_note",
    "late_success_reason",
    "looks_unmasked",
    "no_attempt",
    "no_refund",
    "not_in_journal",
    "order_note",
    "order_record",
    "parse_amount",
    "parse_status",
    "plan_move",
    "refund_records",
    "refund_status",
    "transition_records",
    "unresolved_oldest_first",
    "write_csv",
]

#: what an attempt may be
ATTEMPT_KINDS = frozenset({"pay", "query", "close", "void", "refund", "refund_query"})
#: how an attempt may end; an attempt that was begun and never ended reads ``pending``, and one whose
#: outcome was never read but no longer matters (the order's status was settled by a query) ``settled``
ATTEMPT_OUTCOMES = frozenset({"answered", "unknown", "error", "settled"})
#: statuses of a refund; ``PENDING`` from ``begin_refund`` until it is ended
REFUND_STATUSES = frozenset({"PENDING", "PROCESSING", "SUCCESS", "FAILED", "UNKNOWN"})
#: refund statuses that are settled one way or the other
_REFUND_SETTLED = ("SUCCESS", "FAILED")
#: order statuses after which nothing more is needed unless an attempt's outcome is unknown
_DECIDED = frozenset({PaymentStatus.SUCCESS, PaymentStatus.CLOSED, PaymentStatus.CANCEL, PaymentStatus.FAILED})
#: statuses after which the lane told the cashier "not paid"
GIVEN_UP = frozenset({PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL})
#: statuses whose arrival is news for a lane waiting on the order (a waker may be told)
ANNOUNCED = frozenset({PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL})

#: columns of ``export_csv``, in order
CSV_COLUMNS = (
    "order_id",
    "created_at",
    "updated_at",
    "lane",
    "wallet",
    "code_masked",
    "amount",
    "currency",
    "status",
    "transaction_id",
    "refunded",
    "refunds_pending",
    "abandoned",
    "abandon_reason",
    "attempts",
    "unknown_attempts",
    "gateway",
    "site",
)
#: the columns of table ``attempts`` an :class:`AttemptRecord` is made of, in its fields' order
ATTEMPT_COLUMNS = "order_id, request_id, kind, outcome, code, status, detail, sends, started_at, ended_at"
#: the columns of table ``refunds`` a :class:`RefundRecord` is made of, in its fields' order
REFUND_COLUMNS = "order_id, refund_id, amount, status, detail, created_at, updated_at"


# ---------------------------------------------------------------------------- records


def _iso(t: float | None) -> str:
    if t is None:
        return ""
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):  # a time no calendar date holds (written before the seconds cap)
        return f"{t!r} (out of the calendar's range)"


@attrs.frozen
class TransitionRecord:
    """One state change of an order: the status it moved to, when, and why."""

    status: PaymentStatus
    time: float
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "time": _iso(self.time), "note": self.note}


@attrs.frozen
class AttemptRecord:
    """One request sent (or about to be sent) for an order.

    ``outcome`` is ``pending`` from ``begin_attempt`` until
    ``end_attempt``; a pending attempt after a crash means the request may
    have left and its answer was never read. ``sends`` counts re-sends of the same
    ``request_id`` (a retry of a call whose answer was lost).
    """

    order_id: str
    request_id: str
    kind: str
    outcome: str
    code: str | None
    status: str | None
    detail: str
    sends: int
    started_at: float
    ended_at: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "kind": self.kind,
            "outcome": self.outcome,
            "code": self.code,
            "status": self.status,
            "detail": self.detail,
            "sends": self.sends,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
        }


@attrs.frozen
class RefundRecord:
    """One refund of an order, from the intent (``PENDING``) to ``SUCCESS`` or ``FAILED``."""

    order_id: str
    refund_id: str
    amount: Decimal
    status: str
    detail: str
    created_at: float
    updated_at: float

    @property
    def settled(self) -> bool:
        return self.status in _REFUND_SETTLED

    def as_json(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "amount": str(self.amount),
            "status": self.status,
            "detail": self.detail,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@attrs.frozen
class OrderRecord:
    """An order as the journal knows it.

    ``refunded`` sums the refunds that succeeded; ``refunds_pending`` sums those begun
    and not yet settled (their outcome may still be a success). ``unknown_attempts``
    counts attempts that are pending or ended ``unknown``.
    """

    order_id: str
    amount: Decimal
    currency: str
    wallet: str
    code_masked: str
    lane: str
    status: PaymentStatus
    transaction_id: str | None
    abandoned: bool
    deadline_at: float
    created_at: float
    updated_at: float
    refunded: Decimal = Decimal(0)
    refunds_pending: Decimal = Decimal(0)
    abandon_reason: str = ""
    unknown_attempts: int = 0
    attempt_count: int = 0
    #: the gateway the order was sent to (``pingpong``, ``sandbox``, a base URL); "" when not recorded
    gateway: str = ""
    #: the gateway's site (``fra``, ``sg``, ``us``, ``pingpong-sandbox``, a base URL); "" when not recorded
    site: str = ""

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def refundable(self) -> Decimal:
        """What may still be refunded: paid, minus settled and pending refunds (zero unless SUCCESS)."""
        if self.status is not PaymentStatus.SUCCESS:
            return Decimal(0)
        return self.amount - self.refunded - self.refunds_pending

    @property
    def unresolved(self) -> bool:
        """True when recovery still has something to find out or do for this order."""
        if self.refunds_pending:
            return True
        if self.status is PaymentStatus.SUCCESS:
            return self.abandoned and self.refunded < self.amount
        if self.status in _DECIDED:
            return self.status is PaymentStatus.FAILED and self.unknown_attempts > 0
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "amount": str(self.amount),
            "currency": self.currency,
            "wallet": self.wallet,
            "code": self.code_masked,
            "lane": self.lane,
            "gateway": self.gateway,
            "site": self.site,
            "status": self.status.value,
            "transaction_id": self.transaction_id,
            "refunded": str(self.refunded),
            "refunds_pending": str(self.refunds_pending),
            "abandoned": self.abandoned,
            "abandon_reason": self.abandon_reason,
            "deadline_at": _iso(self.deadline_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "attempt_count": self.attempt_count,
            "unknown_attempts": self.unknown_attempts,
            "unresolved": self.unresolved,
        }

    def csv_row(self) -> list[str]:
        values = {
            **self.as_json(),
            "code_masked": self.code_masked,
            "transaction_id": self.transaction_id or "",
            "abandoned": "1" if self.abandoned else "0",
            "attempts": str(self.attempt_count),
            "unknown_attempts": str(self.unknown_attempts),
        }
        return [str(values[c]) for c in CSV_COLUMNS]


# ---------------------------------------------------------------------------- checks


def looks_unmasked(value: str) -> bool:
    """A masked code has stars; eight or more digits in a row would reveal a code."""
    run = 0
    for ch in value:
        run = run + 1 if ch.isdigit() else 0
        if run >= 8:
            return True
    return False


def parse_status(value: PaymentStatus | str) -> PaymentStatus:
    if isinstance(value, PaymentStatus):
        return value
    try:
        return PaymentStatus(str(value).upper())
    except ValueError:
        accepted = ", ".join(s.value for s in PaymentStatus)
        raise JournalError(f"status {value!r} is not a payment status; accepted: {accepted}") from None


def check_text(name: str, value: object, *, limit: int = 256) -> str:
    if not isinstance(value, str) or not value:
        raise JournalError(f"{name} must be non-empty text, not {value!r}")
    if len(value) > limit:
        raise JournalError(f"{name} is {len(value)} characters long; at most {limit} are stored")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise JournalError(f"{name} {value!r} holds a control character")
    return value


def check_optional_text(name: str, value: object, *, limit: int = 256) -> str:
    if not isinstance(value, str):
        raise JournalError(f"{name} must be text, not {value!r}")
    if len(value) > limit:
        raise JournalError(f"{name} is {len(value)} characters long; at most {limit} are stored")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise JournalError(f"{name} {value!r} holds a control character")
    return value


def parse_amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise JournalError(f"journal holds a malformed amount {text!r}") from None


# ---------------------------------------------------------------------------- reading rows


def _total(value: object) -> Decimal:
    """A sum of refund amounts: a number (PostgreSQL's ``sum``), or amounts as text separated by spaces
    (SQLite stores amounts as exact text and adds them here), or nothing."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, str):
        return sum((parse_amount(part) for part in value.split()), Decimal(0))
    return Decimal(value)  # type: ignore[arg-type]


def order_record(row: Sequence[Any]) -> OrderRecord:
    """An :class:`OrderRecord` from an order row of either backend, columns in this order: order_id, amount,
    currency, wallet, code_masked, lane, status, transaction_id, abandoned, deadline_at, created_at, updated_at,
    abandon_reason, refunded (the refunds that succeeded), refunds pending (those neither SUCCESS nor FAILED),
    unknown pay attempts, attempt count, gateway, site."""
    amount = parse_amount(str(row[1]))
    return OrderRecord(
        order_id=row[0],
        amount=amount,
        currency=row[2],
        wallet=row[3],
        code_masked=row[4],
        lane=row[5],
        status=parse_status(row[6]),
        transaction_id=row[7],
        abandoned=bool(row[8]),
        deadline_at=row[9],
        created_at=row[10],
        updated_at=row[11],
        abandon_reason=row[12],
        refunded=_total(row[13]).quantize(amount),
        refunds_pending=_total(row[14]).quantize(amount),
        unknown_attempts=int(row[15]),
        attempt_count=int(row[16]),
        gateway=row[17],
        site=row[18],
    )


def transition_records(rows: Iterable[Sequence[Any]]) -> list[TransitionRecord]:
    """Records of rows (status, time, note)."""
    return [TransitionRecord(parse_status(s), t, n) for s, t, n in rows]


def attempt_records(rows: Iterable[Sequence[Any]]) -> list[AttemptRecord]:
    """Records of rows of :data:`ATTEMPT_COLUMNS`."""
    return [AttemptRecord(*row) for row in rows]


def refund_records(rows: Iterable[Sequence[Any]]) -> list[RefundRecord]:
    """Records of rows of :data:`REFUND_COLUMNS` (amounts exact: text or a number)."""
    return [RefundRecord(o, r, parse_amount(str(a)), s, d, c, u) for o, r, a, s, d, c, u in rows]


def unresolved_oldest_first(newest_first: Iterable[OrderRecord], lane: str | None = None) -> list[OrderRecord]:
    """The unresolved orders of a newest-first list, oldest first (the order recovery handles them);
    ``lane`` keeps that lane's only."""
    return [r for r in reversed(list(newest_first)) if r.unresolved and (lane is None or r.lane == lane)]


def write_csv(fh: IO[str], newest_first: Sequence[OrderRecord]) -> int:
    """Write orders as CSV (header :data:`CSV_COLUMNS`, oldest first); returns how many were written."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in reversed(newest_first):
        writer.writerow(record.csv_row())
    return len(newest_first)


# ---------------------------------------------------------------------------- the rules of writes


def check_new_order(order_id: str, *, wallet: str, code_masked: str, lane: str, gateway: str, site: str) -> None:
    """Refuse a new order's bad names (empty, too long, a control character) and a code that is not masked."""
    check_text("order id", order_id)
    check_text("wallet", wallet)
    check_text("lane", lane)
    check_optional_text("gateway", gateway)
    check_optional_text("site", site)
    if not isinstance(code_masked, str) or looks_unmasked(code_masked):
        raise JournalError("refusing to store a payment code that is not masked; pass mask_code(code)")


def already_begun(order_id: str) -> JournalError:
    """The error for an order id that is already in the journal."""
    return JournalError(f"order {order_id!r} is already in the journal; every order needs its own id")


def not_in_journal(order_id: str) -> JournalError:
    """The error for an order id the journal does not have."""
    return JournalError(f"order {order_id!r} is not in the journal")


def order_note(money: Money, wallet: str, lane: str) -> str:
    """The note of an order's first transition (INIT)."""
    return f"order of {money} by {wallet} on {lane}"


def check_attempt(request_id: str, kind: str) -> None:
    """Refuse an attempt's empty request id or unknown kind."""
    check_text("request id", request_id)
    if kind not in ATTEMPT_KINDS:
        raise JournalError(f"attempt kind {kind!r} is unknown; accepted: {', '.join(sorted(ATTEMPT_KINDS))}")


def attempt_outcome(outcome: str, status: object) -> str | None:
    """Check how an attempt ended; returns the answer's status as text (None when there was none)."""
    if outcome not in ATTEMPT_OUTCOMES:
        raise JournalError(f"attempt outcome {outcome!r} is unknown; accepted: {', '.join(sorted(ATTEMPT_OUTCOMES))}")
    return None if status is None else str(getattr(status, "value", status))


def no_attempt(order_id: str, request_id: str) -> JournalError:
    """The error for ending an attempt that was never begun."""
    return JournalError(f"order {order_id!r} has no attempt with request id {request_id!r}")


def late_success_reason(old: PaymentStatus, new: PaymentStatus) -> str | None:
    """The abandon reason when moving ``old`` -> ``new`` is a success on an order the lane gave up on, else None.

    The lane reported ``FAILED``, ``CLOSED`` or ``CANCEL`` to the cashier ("not paid", ask for a new code), so a
    ``SUCCESS`` arriving afterwards (a late notification, query or recovery) is abandoned-and-paid and is refunded
    (or reported) under the ``late_success`` setting, never silently kept. Applied by :func:`plan_move`.
    """
    if new is PaymentStatus.SUCCESS and old in GIVEN_UP:
        return f"paid after the lane reported {old.value} (not paid)"
    return None


@attrs.frozen
class Move:
    """A state move ``set_state`` records: the new status, the transition's note, and, for a late success, the
    reason the order is marked abandoned in the same transaction (None otherwise)."""

    status: PaymentStatus
    note: str
    abandon_reason: str | None

    @property
    def news(self) -> bool:
        """Whether a lane waiting on the order should hear of it (:data:`ANNOUNCED`)."""
        return self.status in ANNOUNCED


def plan_move(old: PaymentStatus, new: PaymentStatus | str, note: str = "") -> Move | None:
    """The move ``set_state`` records from ``old`` to ``new``, or None when nothing is recorded.

    The one rule for both backends: the order's status changes only by a legal move (the table
    :data:`paycode.models.MOVES`: nothing moves to the status it has, a final state never goes back to a waiting
    one); a success on an order the lane reported "not paid" (:func:`late_success_reason`) is marked abandoned in
    the same transaction, with the reason appended to the note. ``new`` may be text (checked).
    """
    status = parse_status(new)
    if not old.may_move_to(status):
        return None
    late = late_success_reason(old, status)
    if late is not None:
        note = f"{note}; {late}" if note else late
    return Move(status, note, late)


def abandoned_note(reason: str) -> str:
    """The transition note of :meth:`~paycode.journal.JournalBackend.mark_abandoned`."""
    return f"abandoned: {reason}"


def kept_note(note: str) -> str:
    """The transition note of :meth:`~paycode.journal.JournalBackend.keep_late_success`."""
    return f"late success kept: {note}"


def check_refund(refund_id: str, amount: object) -> Decimal:
    """Check a refund's id and amount before anything is read: the amount a Decimal (or int) greater than zero."""
    check_text("refund id", refund_id)
    if isinstance(amount, float) or not isinstance(amount, (Decimal, int)):
        raise JournalError(f"refund amount {amount!r} must be a Decimal")
    value = Decimal(amount)
    if not value.is_finite() or value <= 0:
        raise OrderError(f"refund amount {value} must be greater than zero")
    return value


def allowed_refund(
    record: OrderRecord | None, order_id: str, refund_id: str, amount: Decimal, *, known: bool
) -> Decimal:
    """The amount (in the currency's exponent) of a refund that may be recorded, read under the order's lock.

    ``known``: the journal already has a refund ``refund_id`` of the order. Raises JournalError for an order not
    in the journal or a refund id used twice, OrderError for an order that is not a SUCCESS or a refund of more
    than is left after settled and pending refunds (so lanes together never refund more than was paid).
    """
    if record is None:
        raise not_in_journal(order_id)
    if known:
        raise JournalError(f"refund {refund_id!r} of order {order_id!r} is already in the journal")
    value = Money(amount, record.currency).wire()
    if record.status is not PaymentStatus.SUCCESS:
        raise OrderError(f"order {order_id!r} is {record.status.value}; only a SUCCESS payment can be refunded")
    left = record.refundable
    if value > left:
        raise OrderError(
            f"refund of {value} {record.currency} is more than order {order_id!r} has left to refund "
            f"({left} of {record.amount}; refunded {record.refunded}, pending {record.refunds_pending})"
        )
    return value


def refund_status(status: object) -> str:
    """Check a refund's outcome: ``SUCCESS``, ``FAILED``, or still ``PROCESSING``/``UNKNOWN`` (any case)."""
    text = str(getattr(status, "value", status)).upper()
    if text not in REFUND_STATUSES:
        raise JournalError(f"refund status {text!r} is unknown; accepted: {', '.join(sorted(REFUND_STATUSES))}")
    return text


def no_refund(order_id: str, refund_id: str) -> JournalError:
    """The error for ending a refund that was never begun."""
    return JournalError(f"order {order_id!r} has no refund {refund_id!r}")
