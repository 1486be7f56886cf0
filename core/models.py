"""Value objects passed between the core, plugins and host applications.

Money is :class:`decimal.Decimal`, never float. Anything holding a payment code masks
it in its ``repr``.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .currencies import minor_units
from .errors import CodeFormatError, ConfigError, MoneyError
from .masking import mask_code

__all__ = [
    "AMOUNT_GRAMMAR",
    "AMOUNT_PATTERN",
    "MAX_AMOUNT",
    "MAX_AMOUNT_TEXT",
    "MOVES",
    "Candidate",
    "Classification",
    "ClassifyContext",
    "CodePattern",
    "Event",
    "Money",
    "Payment",
    "PaymentRequest",
    "PaymentStatus",
    "PollingPolicy",
    "Scan",
    "Transition",
    "WalletType",
    "parse_amount_text",
]


# WalletType is defined with the other plugin types in paycode.plugin_types; it is still importable from here.
if TYPE_CHECKING:
    from .plugin_types import WalletType as WalletType
else:

    def __getattr__(name: str) -> Any:
        if name == "WalletType":
            from .plugin_types import WalletType

            return WalletType
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _masked(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return repr(mask_code(str(value)))


# ---------------------------------------------------------------------------- scans


@attrs.frozen
class Scan:
    """One read from a scanner.

    ``raw`` is what the device sent for this scan (framing included where the plugin
    keeps it); ``text`` is the decoded label; after normalisation it is the bare code
    and ``aim`` holds the stripped AIM identifier. ``time`` is ``time.monotonic()``.
    """

    raw: bytes = attrs.field(repr=_masked)
    text: str = attrs.field(repr=_masked)
    source: str
    symbology: str | None = None
    aim: str | None = None
    time: float = attrs.field(factory=time.monotonic)
    meta: Mapping[str, Any] = attrs.field(factory=dict)

    def masked(self) -> str:
        """The text, masked for output."""
        return mask_code(self.text)


# ---------------------------------------------------------------------------- money

#: Every amount must be below this (15 integer digits): far above any real sale, and it
#: keeps every quantisation within the default decimal precision.
MAX_AMOUNT = Decimal(10) ** 15


#: The amount grammar for text, decided once (docs/payment-flow.md, "Amounts"): ASCII digits with no leading
#: zero (a single ``0`` before the point is fine), then optionally a ``.`` and one to the currency's number of
#: decimals. No sign, exponent, spaces, comma, currency symbol, leading or trailing ``.``; bounded length.
AMOUNT_PATTERN = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
#: the longest amount text accepted (15 integer digits, a point and 4 decimals fit with room to spare)
MAX_AMOUNT_TEXT = 32
AMOUNT_GRAMMAR = (
    "write it like '12.50': digits without a leading zero (except '0.50'), optionally a '.' and 1 to the "
    "currency's number of decimals; no sign, exponent, spaces, comma or currency symbol"
)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}… ({len(text)} characters)"


def parse_amount_text(text: str) -> tuple[Decimal, int]:
    """An amount written as text: its value and how many decimals it was written with.

    MoneyError, naming the grammar, for anything but a plain decimal (:data:`AMOUNT_PATTERN`) of at
    most :data:`MAX_AMOUNT_TEXT` characters; the currency's decimals are checked by :class:`Money`.
    """
    if len(text) > MAX_AMOUNT_TEXT:
        raise MoneyError(f"amount {_shown(text)} is longer than {MAX_AMOUNT_TEXT} characters; {AMOUNT_GRAMMAR}")
    if AMOUNT_PATTERN.fullmatch(text) is None:
        raise MoneyError(f"amount {text!r} is not a plain decimal number; {AMOUNT_GRAMMAR}")
    return Decimal(text), len(text.partition(".")[2])


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(
            f"amount {value!r} is a {type(value).__name__}; amounts are decimal text such as '12.50' "
            "(floats are never accepted for money)"
        )
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        return parse_amount_text(value)[0]
    raise MoneyError(f"amount {value!r} has type {type(value).__name__}; give a Decimal, int or decimal text")


@attrs.frozen(init=False)
class Money:
    """A positive amount in an ISO 4217 currency, with no more decimals than the currency has.

    ``amount`` is a Decimal, an int, or text in the amount grammar (:func:`parse_amount_text`:
    ``"12.50"``, never ``"12.500"`` for CNY, ``" 12"``, ``"5."``, ``".5"``, ``"00012"`` or ``"1e3"``).
    Raises :class:`~paycode.errors.MoneyError` for floats, text outside the grammar, negative or
    zero amounts, too many decimals, and unknown currencies.
    """

    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        written = parse_amount_text(amount) if isinstance(amount, str) else None
        self.__attrs_init__(written[0] if written else _to_decimal(amount), currency)
        if written is not None and written[1] > self.exponent:
            hint = self.amount.quantize(Decimal(1).scaleb(-self.exponent))
            raise MoneyError(
                f"amount {amount} has more decimals than {self.currency} allows ({self.exponent}); e.g. {hint}"
            )

    def __attrs_post_init__(self) -> None:
        cur = self.currency
        exponent = minor_units(cur) if isinstance(cur, str) else None
        if exponent is None:
            raise MoneyError(
                f"currency {cur!r} is not an ISO 4217 code; give three capital letters such as CNY, HKD or USD"
            )
        amount = self.amount
        if not amount.is_finite():
            raise MoneyError(f"amount {amount} is not a finite number")
        if amount <= 0:
            raise MoneyError(f"amount {amount} {cur} must be greater than zero")
        if amount >= MAX_AMOUNT:
            raise MoneyError(f"amount {amount} {cur} is too large; amounts must be below {MAX_AMOUNT:,}")
        step = Decimal(1).scaleb(-exponent)
        if amount != amount.quantize(step):
            hint = amount.quantize(step, rounding=ROUND_DOWN)
            example = f"; e.g. {hint}" if hint > 0 else ""
            raise MoneyError(f"amount {amount} has more decimals than {cur} allows ({exponent}){example}")

    @classmethod
    def parse(cls, amount: str, currency: str) -> Money:
        """Build from command-line text; the currency is upper-cased."""
        return cls(amount, currency.strip().upper())

    @property
    def exponent(self) -> int:
        """Minor-unit exponent of the currency (2 for CNY, 0 for JPY)."""
        return minor_units(self.currency) or 0

    @property
    def minor(self) -> int:
        """The amount in minor units (fen, cents)."""
        return int(self.amount.scaleb(self.exponent))

    def wire(self) -> Decimal:
        """The amount normalised to the currency's decimals, as sent to the gateway."""
        return self.amount.quantize(Decimal(1).scaleb(-self.exponent))

    def __str__(self) -> str:
        return f"{self.wire()} {self.currency}"


# ---------------------------------------------------------------------------- wallets


def _sorted_lengths(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(values)))


# Typed converters (rather than bare ``tuple``/``frozenset``) so that type checkers see what
# the generated ``__init__`` accepts: any iterable of the element type.
def _texts(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _text_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen
class CodePattern:
    """One shape of payment code: ASCII digits, one of ``lengths``, starting with one of ``prefixes``."""

    lengths: tuple[int, ...] = attrs.field(converter=_sorted_lengths)
    prefixes: tuple[str, ...] = attrs.field(converter=_texts)
    note: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.lengths or not all(isinstance(n, int) and n > 0 for n in self.lengths):
            raise ConfigError(f"code pattern lengths {self.lengths!r} must be positive integers (at least one)")
        if not self.prefixes or not all(p.isascii() and p.isdigit() for p in self.prefixes):
            raise ConfigError(f"code pattern prefixes {self.prefixes!r} must be ASCII digit strings (at least one)")

    def mismatch(self, code: str) -> str | None:
        """None when ``code`` fits; otherwise what is wrong ("length 17, expected 18")."""
        if not (code.isascii() and code.isdigit()):
            return "characters: only ASCII digits 0-9 are accepted"
        if len(code) not in self.lengths:
            return f"length {len(code)}, expected {_describe_lengths(self.lengths)}"
        if not code.startswith(self.prefixes):
            width = max(len(p) for p in self.prefixes)
            return f"prefix {code[:width]}…, expected {'/'.join(self.prefixes)}"
        return None

    def accepts(self, code: str) -> bool:
        """True when ``code`` fits (the fast check of the per-scan path; :meth:`mismatch` says why not)."""
        return code.isascii() and code.isdigit() and len(code) in self.lengths and code.startswith(self.prefixes)

    def make(self, ending: str = "") -> str:
        """A code of this shape (shortest length, first prefix) ending with ``ending``; for tests and the sandbox."""
        prefix, length = self.prefixes[0], self.lengths[0]
        fill = length - len(prefix) - len(ending)
        if fill < 0:
            raise CodeFormatError(f"ending {ending!r} does not fit a {length}-digit code with prefix {prefix}")
        return prefix + "0" * fill + ending


def _describe_lengths(lengths: tuple[int, ...]) -> str:
    if len(lengths) > 2 and lengths == tuple(range(lengths[0], lengths[-1] + 1)):
        return f"{lengths[0]}-{lengths[-1]} digits"
    return " or ".join(str(n) for n in lengths) + " digits"


@attrs.frozen
class PollingPolicy:
    """How long to wait while the shopper confirms: query every ``interval`` s, give up after ``deadline`` s."""

    interval: float
    deadline: float

    def __attrs_post_init__(self) -> None:
        if not (self.interval > 0 and self.deadline > 0):
            raise ConfigError(
                f"polling interval {self.interval} s and deadline {self.deadline} s must both be positive"
            )
        if self.interval > self.deadline:
            raise ConfigError(f"polling interval {self.interval} s must not exceed the deadline {self.deadline} s")


# ---------------------------------------------------------------------------- classification


@attrs.frozen
class ClassifyContext:
    """What classification knows about the sale: its currency, the merchant's enabled wallets and preferences.

    ``enabled`` None means every registered wallet; ``prefer`` names wallets to choose
    when several remain (first match wins).
    """

    currency: str | None = None
    enabled: frozenset[str] | None = None
    prefer: tuple[str, ...] = ()


@attrs.frozen
class Candidate:
    """A wallet that may own a code. ``override`` candidates from ``paycode_classify`` replace the pattern ones."""

    wallet: str
    source: str = "patterns"
    override: bool = False
    note: str = ""


@attrs.frozen
class Classification:
    """The answer for one code: exactly one wallet, none, or ambiguous, with the reason.

    ``cause`` says in one word why the answer is not ``one``: ``characters``, ``empty``,
    ``pattern`` (length or prefix), ``currency``, ``disabled``, ``no_wallets`` or
    ``ambiguous``; it is ``""`` for a single wallet. ``candidates`` names the wallets
    still in the running (for ``ambiguous``) or the chosen one.
    """

    code: str = attrs.field(repr=_masked)
    status: Literal["one", "none", "ambiguous"]
    wallet: WalletType | None = None
    candidates: tuple[str, ...] = ()
    reason: str = ""
    cause: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "code": mask_code(self.code),
            "length": len(self.code),
            "status": self.status,
            "wallet": self.wallet.name if self.wallet else None,
            "candidates": list(self.candidates),
            "reason": self.reason,
            "cause": self.cause,
        }


# ---------------------------------------------------------------------------- payments


class PaymentStatus(enum.StrEnum):
    """Gateway statuses plus ``UNKNOWN`` (no verified answer yet: query before deciding)."""

    INIT = "INIT"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CLOSED = "CLOSED"
    CANCEL = "CANCEL"
    UNKNOWN = "UNKNOWN"

    @property
    def final(self) -> bool:
        """Final at the gateway (``FAILED`` is not: the order may be paid again)."""
        return self in (PaymentStatus.SUCCESS, PaymentStatus.CLOSED, PaymentStatus.CANCEL)

    def may_move_to(self, status: PaymentStatus) -> bool:
        """Whether an answer may move a payment from this status to ``status`` (the table :data:`MOVES`)."""
        return status in MOVES[self]


_S = PaymentStatus
#: the legal moves of a payment's status, in one table (as h11's ``_state.py``): from each status, the statuses
#: an answer may move it to. Nothing moves to the status it has; a final status (SUCCESS, CLOSED, CANCEL) never
#: goes back to a waiting one (answers arriving out of order never undo it); a SUCCESS after FAILED, CLOSED or
#: CANCEL is a late success (the journal marks it abandoned-and-paid). The pay flow and the journal both use it.
MOVES: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    _S.INIT: frozenset({_S.PROCESSING, _S.UNKNOWN, _S.SUCCESS, _S.FAILED, _S.CLOSED, _S.CANCEL}),
    _S.PROCESSING: frozenset({_S.INIT, _S.UNKNOWN, _S.SUCCESS, _S.FAILED, _S.CLOSED, _S.CANCEL}),
    _S.UNKNOWN: frozenset({_S.INIT, _S.PROCESSING, _S.SUCCESS, _S.FAILED, _S.CLOSED, _S.CANCEL}),
    _S.FAILED: frozenset({_S.INIT, _S.PROCESSING, _S.UNKNOWN, _S.SUCCESS, _S.CLOSED, _S.CANCEL}),
    _S.SUCCESS: frozenset({_S.CLOSED, _S.CANCEL}),
    _S.CLOSED: frozenset({_S.SUCCESS, _S.CANCEL}),
    _S.CANCEL: frozenset({_S.SUCCESS, _S.CLOSED}),
}


def _goods(value: Iterable[Mapping[str, Any]] | None) -> tuple[Mapping[str, Any], ...] | None:
    # a list stays a sequence (frozen, hashable container); text or a single object is left for the check to refuse
    if value is None or isinstance(value, (str, bytes, Mapping)):
        return value  # type: ignore[return-value]
    return tuple(value)


@attrs.frozen
class PaymentRequest:
    """One payment attempt as the lane intends to send it."""

    money: Money
    wallet: WalletType
    code: str = attrs.field(repr=_masked)
    merchant_transaction_id: str
    request_id: str
    notification_url: str | None = None
    order_terminal: str = "02"
    time_expire: int | None = None
    #: optional unifiedPay fields (docs/payment-flow.md, "Request fields"); checked when the request is built
    pay_result_url: str | None = None
    remark: str | None = None
    goods: tuple[Mapping[str, Any], ...] | None = attrs.field(default=None, converter=_goods)
    customer: Mapping[str, Any] | None = None
    shopper_ip: str | None = None
    trade_country: str | None = None

    def __attrs_post_init__(self) -> None:
        from .bizcontent import check_pay_fields  # bizcontent builds on these models

        check_pay_fields(
            pay_result_url=self.pay_result_url,
            remark=self.remark,
            goods=self.goods,
            customer=self.customer,
            shopper_ip=self.shopper_ip,
            trade_country=self.trade_country,
        )


@attrs.frozen
class Transition:
    """One entry of a payment's history."""

    status: PaymentStatus
    time: float
    note: str = ""


@attrs.define
class Payment:
    """A payment as the lane knows it: current status, gateway id, refunds, and its history."""

    merchant_transaction_id: str
    money: Money
    wallet: str
    code_masked: str
    status: PaymentStatus = PaymentStatus.INIT
    transaction_id: str | None = None
    refunded: Decimal = Decimal(0)
    history: list[Transition] = attrs.field(factory=list)
    #: why the journal lacks this payment's outcome (it could not be written); "" when it is recorded
    unrecorded: str = ""

    def move(self, status: PaymentStatus, note: str = "") -> None:
        self.status = status
        self.history.append(Transition(status, time.time(), note))


# ---------------------------------------------------------------------------- events


@attrs.frozen
class Event:
    """Something that happened: a scan, a state change, a poll, an error.

    ``kind`` is a short dotted name (``scan``, ``scanner.error``, ``payment.state``, …;
    docs/hooks.md lists them). ``data`` is JSON-able and never holds a secret or an
    unmasked payment code.
    """

    kind: str
    data: Mapping[str, Any] = attrs.field(factory=dict)
    order_id: str | None = None
    time: float = attrs.field(factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return {"event": self.kind, "order": self.order_id, "time": round(self.time, 3), **self.data}
