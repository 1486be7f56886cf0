"""The wallet conformance suite: a well-formed wallet passes it, and each check catches the wallet that breaks it."""

from __future__ import annotations

import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from paycode import CodePattern, PollingPolicy, WalletType, hookimpl
from paycode.testing import WalletConformance, near_misses, plugin_host
from paycode.testing.wallets import (
    check_classification,
    check_currencies,
    check_examples,
    check_near_misses,
    check_never_classified,
    check_payload,
    check_polling,
    check_sandbox_payments,
)

QUICKPASS = WalletType(
    name="UnionPay-Offline",
    display_name="UnionPay QuickPass",
    patterns=(CodePattern(lengths=(19,), prefixes=("62",)),),
    currencies=frozenset({"CNY"}),
    polling=PollingPolicy(interval=5.0, deadline=60.0),
    examples=("6212345678901234567",),
)
BESTPAY = WalletType(
    name="Bestpay-Offline",
    patterns=(CodePattern(lengths=(18,), prefixes=("51",)),),
    currencies=frozenset({"CNY", "HKD"}),
    polling=PollingPolicy(interval=3.0, deadline=60.0),
    examples=("511234567890123456",),
)


def wallets_plugin(*wallets: WalletType, name: str = "paycode_test_wallets") -> types.ModuleType:
    module = types.ModuleType(name)

    def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
        for wallet in wallets:
            register(wallet)

    module.paycode_register_wallets = hookimpl(paycode_register_wallets)  # type: ignore[attr-defined]
    return module


def host_of(*wallets: WalletType, **settings: Any) -> Any:
    return plugin_host(wallets_plugin(*wallets), **settings)


def changed(wallet: WalletType, **fields: Any) -> WalletType:
    return attrs.evolve(wallet, **fields)


# ---------------------------------------------------------------------------- well-formed wallets pass


class TestTwoWalletsConformance(WalletConformance):
    """One plugin, two wallets: every check runs for each."""

    plugin = wallets_plugin(QUICKPASS, BESTPAY)


class TestOneOfTwoWalletsConformance(WalletConformance):
    plugin = wallets_plugin(QUICKPASS, BESTPAY)
    wallets = ("Bestpay-Offline",)


def test_every_wallet_of_the_plugin_is_checked() -> None:
    assert TestTwoWalletsConformance._registered() == ["UnionPay-Offline", "Bestpay-Offline"]


def test_near_misses_are_the_documented_steps() -> None:
    misses = {m.what: m.code for m in near_misses(QUICKPASS)}
    assert misses["one digit shorter than the shortest example (19 digits)"] == "621234567890123456"
    assert misses["one digit longer than the longest example (19 digits)"] == "62123456789012345677"
    assert misses["a first digit (0) that no prefix starts with"] == "0212345678901234567"
    assert misses["a letter in place of a digit"] == "621234567A901234567"
    assert misses["a full-width digit in place of a digit"] == "621234567\uff18901234567"
    assert misses["written in full-width digits"][0] == "\uff16"
    assert "6212345678901234567" not in repr(near_misses(QUICKPASS))  # codes masked in reprs


# ---------------------------------------------------------------------------- each broken wallet is caught


def test_no_examples_is_caught() -> None:
    wallet = changed(QUICKPASS, examples=())
    with pytest.raises(AssertionError, match="documents no example codes"):
        check_examples(wallet, host_of(wallet))
    with pytest.raises(AssertionError, match="no usable example codes"):
        check_near_misses(wallet)


def test_an_example_the_wallet_refuses_is_caught() -> None:
    wallet = changed(QUICKPASS, examples=("6312345678901234567",))
    with pytest.raises(AssertionError, match=r"refuses its own example 6312\*+4567: prefix 63…, expected 62"):
        check_examples(wallet, host_of(wallet))


def test_an_example_another_wallet_of_the_plugin_also_claims_is_caught() -> None:
    twin = changed(QUICKPASS, name="UnionPay-Twin")
    with pytest.raises(AssertionError, match="classified ambiguous"):
        check_examples(QUICKPASS, host_of(QUICKPASS, twin))


def test_lengths_wider_than_the_examples_show_are_caught() -> None:
    wallet = changed(QUICKPASS, patterns=(CodePattern(lengths=range(16, 25), prefixes=("62",)),))
    with pytest.raises(AssertionError, match=r"one digit shorter than the shortest example .* document an example"):
        check_near_misses(wallet)
    check_near_misses(changed(wallet, examples=("6212345678901234", "621234567890123456789012")))


def test_prefixes_that_claim_every_first_digit_are_caught() -> None:
    wallet = changed(QUICKPASS, patterns=(CodePattern(lengths=(19,), prefixes=tuple("0123456789")),))
    with pytest.raises(AssertionError, match="prefixes start with every digit"):
        check_near_misses(wallet)


@attrs.frozen
class UnicodeDigitsWallet(WalletType):
    """A wallet that takes anything ``str.isdigit`` calls a digit: full-width and Arabic-Indic too."""

    def mismatch(self, code: str) -> str | None:
        ok = code.isdigit() and len(code) == 19 and code.startswith(("62", "\uff16\uff12"))
        return None if ok else "not a QuickPass code"

    def accepts(self, code: str) -> bool:  # what classification asks
        return self.mismatch(code) is None


def test_non_ascii_digits_accepted_are_caught() -> None:
    wallet = UnicodeDigitsWallet(**{f.name: getattr(QUICKPASS, f.name) for f in attrs.fields(WalletType)})
    with pytest.raises(AssertionError, match=r"full-width digit in place of a digit .*Arabic-Indic digit"):
        check_near_misses(wallet)
    with pytest.raises(AssertionError, match="which has '\uff11' in place of a digit"):
        check_classification(wallet, host_of(wallet), "6212345678901234567", 5, "\uff11")


def test_a_malformed_code_the_wallet_accepts_is_caught() -> None:
    wallet = UnicodeDigitsWallet(**{f.name: getattr(QUICKPASS, f.name) for f in attrs.fields(WalletType)})
    with pytest.raises(AssertionError, match="accepts the malformed code"):
        check_never_classified(wallet, host_of(wallet), "\uff16\uff12" + "1" * 17)
    check_never_classified(QUICKPASS, host_of(QUICKPASS), "\uff16\uff12" + "1" * 17)


def test_malformed_codes_are_what_they_say() -> None:
    from hypothesis import given, settings
    from paycode.testing.wallets import invalid_codes

    @settings(max_examples=200, deadline=None)
    @given(invalid_codes(QUICKPASS))
    def refused(code: str) -> None:
        assert not QUICKPASS.accepts(code)
        assert code.isascii() is False or not code.isdigit() or len(code) != 19 or not code.startswith("62")

    refused()


def test_a_code_classified_elsewhere_is_caught() -> None:
    greedy = changed(BESTPAY, name="Greedy-Offline", patterns=(CodePattern(lengths=(19,), prefixes=("6",)),))
    with pytest.raises(AssertionError, match="classified ambiguous"):
        check_classification(QUICKPASS, host_of(QUICKPASS, greedy), "6212345678901234567", 3, "A")


def test_a_currency_that_is_not_iso_4217_is_caught() -> None:
    wallet = changed(QUICKPASS)
    object.__setattr__(wallet, "currencies", frozenset({"RMB"}))  # WalletType() itself refuses it
    with pytest.raises(AssertionError, match="RMB is not an ISO 4217 currency"):
        check_currencies(wallet)
    object.__setattr__(wallet, "currencies", frozenset({"cny"}))
    with pytest.raises(AssertionError, match="'cny' is not three capital letters"):
        check_currencies(wallet)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (lambda w, c: [w.name, c], "is a list, not a dict"),
        (lambda w, c: {"type": "UnionPay", "scanCodeId": c}, "paymentMethod.type is 'UnionPay'"),
        (lambda w, c: {"type": w.name, "code": c}, "paymentMethod.scanCodeId is not the scanned code"),
        (lambda w, c: {"type": w.name, "scanCodeId": c, "limit": Decimal(1)}, "paymentMethod is not JSON"),
        (lambda w, c: {"type": w.name, "scanCodeId": c, 1: "x"}, "keys must be text"),
    ],
)
def test_a_wrong_payment_method_is_caught(payload: Callable[[WalletType, str], Any], reason: str) -> None:
    with pytest.raises(AssertionError, match=reason):
        check_payload(changed(QUICKPASS, payload=payload))


@pytest.mark.parametrize(
    ("interval", "deadline", "reason"),
    [
        (0.5, 60.0, "queries every 0.5 s; keep it within 1-10 s"),
        (15.0, 60.0, "queries every 15 s"),
        (3.0, 5.0, "gives up after 5 s; keep it within 10-170 s"),
        (5.0, 180.0, "gives up after 180 s"),
        (10.0, 15.0, "leaves fewer than two queries"),
    ],
)
def test_insane_polling_is_caught(interval: float, deadline: float, reason: str) -> None:
    with pytest.raises(AssertionError, match=reason):
        check_polling(changed(QUICKPASS, polling=PollingPolicy(interval, deadline)))


def test_polling_bounds_can_be_widened() -> None:
    check_polling(changed(QUICKPASS, polling=PollingPolicy(15.0, 60.0)), interval=(1.0, 20.0))


def test_a_payload_the_sandbox_refuses_is_caught(tmp_path: Path) -> None:
    """Digits with a dash in scanCodeId: shaped right for check_payload's keys, refused by the gateway (102000)."""
    wallet = changed(QUICKPASS, payload=lambda w, c: {"type": w.name, "scanCodeId": c[:4] + "-" + c[4:]})
    host = host_of(wallet, gateway="sandbox", journal=str(tmp_path / "journal.sqlite3"))
    with pytest.raises(AssertionError, match=r"sandbox success code 6200\*+0001 in CNY ended FAILED"):
        check_sandbox_payments(host.wallets["UnionPay-Offline"], host)


def test_a_plugin_that_registers_no_wallet_is_reported() -> None:
    class TestNothing(WalletConformance):
        plugin = types.ModuleType("paycode_nothing")

    assert TestNothing._registered() == []
    with pytest.raises(AssertionError, match="the plugin registers no wallet"):
        TestNothing().wallet(None)
    with pytest.raises(AssertionError, match="does not register wallet 'Foo-Offline'"):
        TestNothing().wallet("Foo-Offline")


def test_a_suite_that_names_no_plugin_says_how() -> None:
    class TestUnnamed(WalletConformance):
        pass

    with pytest.raises(pytest.fail.Exception, match="name the plugin under test: set `plugin = "):
        TestUnnamed.host()


def test_an_entry_point_that_is_not_installed_is_reported() -> None:
    class TestMissing(WalletConformance):
        entry_point = "no-such-wallet"

    with pytest.raises(AssertionError, match=r"named in the allow-list .* but not installed"):
        TestMissing().test_the_plugin_loads_without_problems()
