"""The wallet conformance suite: what every registered :class:`~paycode.models.WalletType` must do.

A wallet plugin's tests subclass :class:`WalletConformance`::

    import paycode_unionpay
    from paycode.testing import WalletConformance

    class TestUnionPayConformance(WalletConformance):
        plugin = paycode_unionpay          # or: entry_point = "unionpay"

Every wallet the plugin registers is checked (``wallets = ("UnionPay-Offline",)`` narrows it):
its documented ``examples`` are accepted and classified to it, near misses of them are
refused, generated codes of every shape classify to it and generated malformed ones (wrong
length, wrong prefix, a letter, a space, other scripts' digits) never do, its currencies are
ISO 4217, its ``paymentMethod`` payload has the right shape, its polling policy is within sane
bounds, and the embedded sandbox pays its test codes.

Each check is also a plain function (``check_examples(wallet, host)``, …) that raises
``AssertionError`` with a one-line reason, for use outside pytest classes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..currencies import minor_units
from ..host import PluginHost
from ..masking import mask_code
from ..models import Money, PaymentStatus, WalletType
from ._suite import PluginSuite

__all__ = [
    "MAX_DEADLINE",
    "MAX_POLL_INTERVAL",
    "MIN_DEADLINE",
    "MIN_POLL_INTERVAL",
    "NearMiss",
    "WalletConformance",
    "check_classification",
    "check_currencies",
    "check_examples",
    "check_near_misses",
    "check_never_classified",
    "check_payload",
    "check_polling",
    "check_sandbox_payments",
    "invalid_codes",
    "near_misses",
    "valid_codes",
]

#: Query no more often than this while the shopper confirms (seconds): wallets ask for 3-10 s.
MIN_POLL_INTERVAL = 1.0
#: ...and no less often than this, or the shopper waits for nothing after confirming.
MAX_POLL_INTERVAL = 10.0
#: Give the shopper at least this long to confirm (seconds).
MIN_DEADLINE = 10.0
#: Give up before this: unpaid cross-border orders close themselves after 3 minutes, and the lane,
#: not the wallet's timeout, must decide how the payment ends.
MAX_DEADLINE = 170.0

_DIGITS = "0123456789"
_FULL_WIDTH_ZERO = 0xFF10
_ARABIC_INDIC_ZERO = 0x0660
#: zeros of digit families other than ASCII for which str.isdigit() is true: full-width, Arabic-Indic,
#: extended Arabic-Indic, Devanagari, Bengali, mathematical bold
_FOREIGN_ZEROS = (_FULL_WIDTH_ZERO, _ARABIC_INDIC_ZERO, 0x06F0, 0x0966, 0x09E6, 0x1D7CE)
_SPACES = (" ", "\t", "\u00a0", "\u3000")
#: characters that must never pass as part of a code: letters, full-width and Arabic-Indic digits, spaces, signs
_NOT_DIGITS = "AZaxz -+.\u3000\u00a0" + "".join(chr(_FULL_WIDTH_ZERO + i) for i in range(10)) + chr(0x0663)


@attrs.frozen
class NearMiss:
    """A code one step away from a documented one, which the wallet must refuse; ``what`` says which step."""

    what: str
    code: str = attrs.field(repr=lambda c: repr(mask_code(c)))


def _is_code(text: str) -> bool:
    return text.isascii() and text.isdigit()


def near_misses(wallet: WalletType) -> list[NearMiss]:
    """Codes one step away from the wallet's documented ``examples``, each of which it must refuse.

    One digit shorter than the shortest example and one longer than the longest (so the examples
    must show the shortest and longest lengths the wallet takes); each example with a first digit
    no prefix of the wallet starts with; with a letter, a full-width digit, an Arabic-Indic digit
    or a space in place of one digit; and written wholly in full-width digits.
    """
    examples = [e for e in wallet.examples if _is_code(e) and len(e) >= 2]
    if not examples:
        return []
    shortest, longest = min(examples, key=len), max(examples, key=len)
    misses = [
        NearMiss(f"one digit shorter than the shortest example ({len(shortest)} digits)", shortest[:-1]),
        NearMiss(f"one digit longer than the longest example ({len(longest)} digits)", longest + longest[-1]),
    ]
    first_digits = {prefix[0] for pattern in wallet.patterns for prefix in pattern.prefixes}
    foreign = [d for d in _DIGITS if d not in first_digits]
    for example in examples:
        middle = len(example) // 2
        digit = int(example[middle])

        def replaced(char: str, example: str = example, middle: int = middle) -> str:
            return example[:middle] + char + example[middle + 1 :]

        if foreign:
            wrong = foreign[0] + example[1:]
            misses.append(NearMiss(f"a first digit ({foreign[0]}) that no prefix starts with", wrong))
        misses += [
            NearMiss("a letter in place of a digit", replaced("A")),
            NearMiss("a full-width digit in place of a digit", replaced(chr(_FULL_WIDTH_ZERO + digit))),
            NearMiss("an Arabic-Indic digit in place of a digit", replaced(chr(_ARABIC_INDIC_ZERO + digit))),
            NearMiss("a space in place of a digit", replaced(" ")),
            NearMiss("written in full-width digits", "".join(chr(_FULL_WIDTH_ZERO + int(c)) for c in example)),
        ]
    return misses


def valid_codes(wallet: WalletType) -> st.SearchStrategy[str]:
    """Hypothesis strategy: codes of every shape the wallet's patterns describe (random digits after a prefix)."""
    shapes = sorted(
        {(prefix, n) for p in wallet.patterns for prefix in p.prefixes for n in p.lengths if n >= len(prefix)}
    )
    if not shapes:
        return st.nothing()

    def fill(shape: tuple[str, int]) -> st.SearchStrategy[str]:
        prefix, length = shape
        size = length - len(prefix)
        return st.text(_DIGITS, min_size=size, max_size=size).map(lambda rest: prefix + rest)

    return st.sampled_from(shapes).flatmap(fill)


def invalid_codes(wallet: WalletType) -> st.SearchStrategy[str]:
    """Hypothesis strategy: codes the wallet must refuse.

    A prefix of the wallet at a length no pattern takes; digits of a right length with no prefix of
    the wallet; and valid codes with a letter, a space inside, or digits of another script (wholly
    or in one place).
    """
    prefixes = sorted({prefix for p in wallet.patterns for prefix in p.prefixes})
    lengths = sorted({n for p in wallet.patterns for n in p.lengths})
    wrong_length = st.tuples(st.sampled_from(prefixes), st.integers(1, 40)).map(
        lambda pn: (pn[0] + "0" * pn[1])[: pn[1]]
    )
    wrong_prefix = st.sampled_from(lengths).flatmap(lambda n: st.text(_DIGITS, min_size=n, max_size=n))

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        code = draw(valid_codes(wallet))
        i = draw(st.integers(1, len(code) - 1))
        kind = draw(st.sampled_from(["letter", "space", "script", "one-digit-of-another-script"]))
        if kind == "letter":
            return code[:i] + draw(st.sampled_from("abcdefxyzABCDEFXYZ")) + code[i + 1 :]
        if kind == "space":
            return code[:i] + draw(st.sampled_from(_SPACES)) + code[i:]
        zero = draw(st.sampled_from(_FOREIGN_ZEROS))
        foreign = code.translate({ord(d): chr(zero + int(d)) for d in _DIGITS})
        return foreign if kind == "script" else code[:i] + foreign[i] + code[i + 1 :]

    return st.one_of(wrong_length, wrong_prefix, mutated()).filter(lambda code: not wallet.accepts(code))


# ---------------------------------------------------------------------------- checks


def check_examples(wallet: WalletType, host: PluginHost) -> None:
    """The documented examples exist, are accepted, and classify to this wallet in each of its currencies."""
    assert wallet.examples, (
        f"wallet {wallet.name} documents no example codes; give WalletType(examples=(...)) real codes of each "
        "shape, including the shortest and the longest length"
    )
    for example in wallet.examples:
        shown = mask_code(example)
        assert _is_code(example), f"wallet {wallet.name}: example {example!r} is not ASCII digits"
        reason = wallet.mismatch(example)
        assert reason is None, f"wallet {wallet.name} refuses its own example {shown}: {reason}"
        for currency in sorted(wallet.currencies):
            result = host.classify(example, currency)
            assert result.wallet is not None and result.wallet.name == wallet.name, (
                f"wallet {wallet.name}: example {shown} in {currency} is classified {result.status} "
                f"({result.reason or result.candidates}), not as {wallet.name}"
            )


def check_near_misses(wallet: WalletType) -> None:
    """Every near miss of the examples is refused (see :func:`near_misses`)."""
    first_digits = {prefix[0] for pattern in wallet.patterns for prefix in pattern.prefixes}
    assert set(_DIGITS) - first_digits, (
        f"wallet {wallet.name}: its prefixes start with every digit 0-9, so it claims every code of its lengths; "
        "give the prefixes the wallet really uses"
    )
    misses = near_misses(wallet)
    assert misses, f"wallet {wallet.name} documents no usable example codes to derive near misses from"
    accepted = [m for m in misses if wallet.accepts(m.code)]
    assert not accepted, (
        f"wallet {wallet.name} accepts near misses of its examples: "
        + "; ".join(f"{m.what} ({mask_code(m.code)})" for m in accepted)
        + (
            ". If a length is valid, document an example of it"
            if any("digit shorter" in m.what or "digit longer" in m.what for m in accepted)
            else ""
        )
    )


def check_classification(wallet: WalletType, host: PluginHost, code: str, position: int, char: str) -> None:
    """``code`` (a valid shape) classifies to the wallet in each currency; with ``char`` at ``position``, refused."""
    assert wallet.accepts(code), f"wallet {wallet.name} refuses {mask_code(code)}: {wallet.mismatch(code)}"
    for currency in sorted(wallet.currencies):
        result = host.classify(code, currency)
        assert result.wallet is not None and result.wallet.name == wallet.name, (
            f"wallet {wallet.name}: {mask_code(code)} in {currency} is classified {result.status} "
            f"({result.reason or result.candidates})"
        )
    broken = code[:position] + char + code[position + 1 :]
    assert not wallet.accepts(broken), (
        f"wallet {wallet.name} accepts {mask_code(broken)}, which has {char!r} in place of a digit "
        f"(position {position}); codes are ASCII digits 0-9 only"
    )


def check_never_classified(wallet: WalletType, host: PluginHost, code: str) -> None:
    """A code the wallet must refuse is never given to it, in any currency or none."""
    assert not wallet.accepts(code), f"wallet {wallet.name} accepts the malformed code {mask_code(code)!r}"
    for currency in [None, *sorted(wallet.currencies)]:
        result = host.classify(code, currency)
        assert result.wallet is None or result.wallet.name != wallet.name, (
            f"wallet {wallet.name}: the malformed code {mask_code(code)!r} is classified to it"
            f"{f' in {currency}' if currency else ''}"
        )


def check_currencies(wallet: WalletType) -> None:
    """At least one currency; each an ISO 4217 code in which an amount can be charged."""
    assert wallet.currencies, f"wallet {wallet.name} takes no currency"
    for currency in sorted(wallet.currencies):
        assert isinstance(currency, str) and len(currency) == 3 and currency.isupper(), (
            f"wallet {wallet.name}: currency {currency!r} is not three capital letters (ISO 4217)"
        )
        assert minor_units(currency) is not None, f"wallet {wallet.name}: {currency} is not an ISO 4217 currency"
        Money(Decimal(10), currency)


def check_payload(wallet: WalletType) -> None:
    """``payment_method(code)`` is a JSON object with ``type`` = the wallet's name and ``scanCodeId`` = the code."""
    for code in wallet.examples or (wallet.patterns[0].make(),):
        method = wallet.payment_method(code)
        shown = mask_code(code)
        assert isinstance(method, dict), (
            f"wallet {wallet.name}: payment_method({shown}) is a {type(method).__name__}, not a dict"
        )
        assert method.get("type") == wallet.name, (
            f"wallet {wallet.name}: paymentMethod.type is {method.get('type')!r}; it must be the wallet's name"
        )
        assert method.get("scanCodeId") == code, (
            f"wallet {wallet.name}: paymentMethod.scanCodeId is not the scanned code {shown}"
        )
        assert all(isinstance(key, str) for key in method), f"wallet {wallet.name}: paymentMethod keys must be text"
        try:
            json.dumps(method)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"wallet {wallet.name}: paymentMethod is not JSON: {exc}") from None


def check_polling(
    wallet: WalletType,
    *,
    interval: tuple[float, float] = (MIN_POLL_INTERVAL, MAX_POLL_INTERVAL),
    deadline: tuple[float, float] = (MIN_DEADLINE, MAX_DEADLINE),
) -> None:
    """The polling policy queries every 1-10 s, gives up after 10-170 s, and queries at least twice."""
    policy = wallet.polling
    assert interval[0] <= policy.interval <= interval[1], (
        f"wallet {wallet.name} queries every {policy.interval:g} s; keep it within {interval[0]:g}-{interval[1]:g} s "
        "(wallets ask for 3-10 s)"
    )
    assert deadline[0] <= policy.deadline <= deadline[1], (
        f"wallet {wallet.name} gives up after {policy.deadline:g} s; keep it within {deadline[0]:g}-{deadline[1]:g} s "
        "(the lane must close the order before the gateway closes it itself)"
    )
    assert policy.deadline >= 2 * policy.interval, (
        f"wallet {wallet.name}: a deadline of {policy.deadline:g} s leaves fewer than two queries "
        f"{policy.interval:g} s apart"
    )


def check_sandbox_payments(wallet: WalletType, host: PluginHost, amount: str = "10") -> None:
    """The embedded sandbox pays the wallet's success test code in each currency and declines its decline code.

    ``host`` must use the sandbox gateway and a journal of its own (``plugin_host(..., journal=path)``).
    """
    from ..terminal import Terminal

    success, decline = wallet.patterns[0].make("001"), wallet.patterns[0].make("002")
    with Terminal(host=host) as terminal:
        for currency in sorted(wallet.currencies):
            payment = terminal.pay(amount=amount, currency=currency, code=success)
            assert payment.status is PaymentStatus.SUCCESS, (
                f"wallet {wallet.name}: the sandbox success code {mask_code(success)} in {currency} ended "
                f"{payment.status}"
            )
            assert payment.wallet == wallet.name
        currency = sorted(wallet.currencies)[0]
        payment = terminal.pay(amount=amount, currency=currency, code=decline)
        assert payment.status is PaymentStatus.FAILED, (
            f"wallet {wallet.name}: the sandbox decline code {mask_code(decline)} ended {payment.status}, not FAILED"
        )


# ---------------------------------------------------------------------------- the suite


class WalletConformance(PluginSuite):
    """Subclass it in a wallet plugin's tests and set ``plugin`` (or ``entry_point``); see the module docstring."""

    #: names of the wallets to check; None checks every wallet the plugin registers
    wallets: ClassVar[Sequence[str] | None] = None
    #: bounds of the polling policy (seconds); widen them only for a wallet that documents other figures
    poll_interval_bounds: ClassVar[tuple[float, float]] = (MIN_POLL_INTERVAL, MAX_POLL_INTERVAL)
    deadline_bounds: ClassVar[tuple[float, float]] = (MIN_DEADLINE, MAX_DEADLINE)
    #: amount charged in the sandbox checks (in each of the wallet's currencies)
    sandbox_amount: ClassVar[str] = "10"

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "wallet_name" in metafunc.fixturenames:
            names = list(self.wallets) if self.wallets is not None else self._registered()
            metafunc.parametrize("wallet_name", names or [None], ids=[str(n) for n in names] or ["no-wallet"])

    @classmethod
    def _registered(cls) -> list[str]:
        if not cls.names_its_plugin():
            return []
        host = cls.host()
        infos = host.plugin_info()
        if cls.builtin is not None:
            return [w for info in infos if info["name"] == cls.builtin for w in info["registers"]["wallets"]]
        builtin = {w for info in infos if info["source"] == "builtin" for w in info["registers"]["wallets"]}
        return [name for name in host.wallets if name not in builtin]

    def wallet(self, name: str | None, host: PluginHost | None = None) -> WalletType:
        """The registered wallet ``name`` from ``host`` (default: a new host with the plugin)."""
        host = host or self.host()
        assert name is not None, (
            f"the plugin registers no wallet (plugin problems: {self.describe_problems(host)}); "
            "implement paycode_register_wallets(register) and call register(WalletType(...))"
        )
        found = host.wallets.get(name)
        assert found is not None, (
            f"the plugin does not register wallet {name!r} (registered: {', '.join(host.wallets) or 'none'}; "
            f"problems: {self.describe_problems(host)})"
        )
        return found

    def test_examples_are_accepted_and_classified(self, wallet_name: str | None) -> None:
        host = self.host()
        check_examples(self.wallet(wallet_name, host), host)

    def test_near_misses_are_refused(self, wallet_name: str | None) -> None:
        check_near_misses(self.wallet(wallet_name))

    @settings(
        max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors]
    )
    @given(data=st.data())
    def test_codes_of_every_shape_classify_and_one_wrong_character_is_refused(
        self, wallet_name: str | None, data: st.DataObject
    ) -> None:
        host = self.host()
        wallet = self.wallet(wallet_name, host)
        code = data.draw(valid_codes(wallet), label="code")
        position = data.draw(st.integers(0, len(code) - 1), label="position")
        char = data.draw(st.sampled_from(_NOT_DIGITS), label="character")
        check_classification(wallet, host, code, position, char)

    @settings(
        max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors]
    )
    @given(data=st.data())
    def test_malformed_codes_are_never_classified(self, wallet_name: str | None, data: st.DataObject) -> None:
        host = self.host()
        wallet = self.wallet(wallet_name, host)
        check_never_classified(wallet, host, data.draw(invalid_codes(wallet), label="code"))

    def test_currencies_are_iso_4217(self, wallet_name: str | None) -> None:
        check_currencies(self.wallet(wallet_name))

    def test_payment_method_payload(self, wallet_name: str | None) -> None:
        check_payload(self.wallet(wallet_name))

    def test_polling_policy_is_sane(self, wallet_name: str | None) -> None:
        check_polling(self.wallet(wallet_name), interval=self.poll_interval_bounds, deadline=self.deadline_bounds)

    def test_the_sandbox_pays_its_test_codes(self, wallet_name: str | None, tmp_path: Path) -> None:
        host = self.host(gateway="sandbox", journal=str(tmp_path / "journal.sqlite3"))
        check_sandbox_payments(self.wallet(wallet_name, host), host, self.sandbox_amount)
