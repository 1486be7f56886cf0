"""paycode-alipaycn and paycode-alipayhk: each registered wallet, its published code rules, and classification.

One module for the two Alipay distributions: they share Alipay's code space (16 to 24 digits, prefixes 25 to 30)
and differ only in name, label and currencies, so every test runs once per wallet (ids ``alipaycn``,
``alipayhk``). Each host is built with that one plugin alone (entry points off), as a merchant with only that
distribution installed would have it; a distribution that is not installed is skipped, saying which.
The generic properties (codes of every shape, near misses, malformed codes) are paycode's conformance suite:
tests/test_conformance.py of each distribution.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from types import ModuleType

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode import Settings, WalletType
from paycode.host import PluginHost
from paycode.testing.wallets import valid_codes


@attrs.frozen
class Alipay:
    """What differs between the two distributions, as published (V4 docs, paymentMethods.js)."""

    entry_point: str  # also the import name without its "paycode_" prefix
    constant: str  # the WalletType the plugin module exports
    name: str  # paymentMethod.type
    currencies: frozenset[str]
    label: str
    sibling_currency: str  # the other Alipay's own currency: refused by this plugin alone
    code: str  # a code of the shared space


ALIPAYS = [
    Alipay(
        "alipaycn", "ALIPAYCN", "AlipayCN-Offline", frozenset({"CNY", "USD"}), "Alipay", "HKD", "281234567890123456"
    ),
    Alipay(
        "alipayhk", "ALIPAYHK", "AlipayHK-Offline", frozenset({"HKD", "USD"}), "AlipayHK", "CNY", "289876543210987654"
    ),
]


@attrs.frozen
class Installed:
    facts: Alipay
    plugin: ModuleType
    wallet: WalletType
    host: PluginHost


@pytest.fixture(scope="module", params=ALIPAYS, ids=lambda a: a.entry_point)
def alipay(request: pytest.FixtureRequest) -> Iterator[Installed]:
    facts: Alipay = request.param
    plugin = pytest.importorskip(f"paycode_{facts.entry_point}", reason=f"paycode-{facts.entry_point} is not installed")
    host = PluginHost(Settings(), load_entrypoints=False, plugins=[plugin])
    yield Installed(facts, plugin, getattr(plugin, facts.constant), host)


# ---------------------------------------------------------------------------- registration


def test_the_distribution_declares_its_entry_point(alipay: Installed) -> None:
    (ep,) = [ep for ep in entry_points(group="paycode") if ep.name == alipay.facts.entry_point]
    assert ep.value == f"paycode_{alipay.facts.entry_point}"
    assert ep.load() is alipay.plugin is importlib.import_module(ep.value)


def test_registers_its_wallet(alipay: Installed) -> None:
    wallet = alipay.host.wallets[alipay.facts.name]
    assert wallet is alipay.wallet
    assert wallet.currencies == alipay.facts.currencies
    assert (wallet.polling.interval, wallet.polling.deadline) == (3.0, 60.0)
    assert wallet.label == alipay.facts.label


def test_payment_method_is_pingpongs_payload(alipay: Installed) -> None:
    code = alipay.facts.code
    assert alipay.wallet.payment_method(code) == {"type": alipay.facts.name, "scanCodeId": code}


def test_sandbox_test_codes_follow_the_documented_shape(alipay: Installed) -> None:
    assert alipay.wallet.patterns[0].make("001") == "2500000000000001"


# ---------------------------------------------------------------------------- the published rules


@pytest.mark.parametrize(
    "code",
    [
        "2500000000000000",  # 16 digits, lowest prefix
        "281234567890123456",
        "309999999999999999999999",  # 24 digits, highest prefix
        "2600000000000000000",
        "270000000000000000000",
        "2900000000000000000000",
    ],
)
def test_accepts_the_published_shapes(alipay: Installed, code: str) -> None:
    assert alipay.wallet.mismatch(code) is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("250000000000000", "length 15"),
        ("2500000000000000000000000", "length 25"),  # Alipay+ may reach 32 one day; not today
        ("240000000000000000", "prefix"),
        ("310000000000000000", "prefix"),
        ("130000000000000001", "prefix"),  # WeChat's space
        ("6200000000000000001", "prefix"),  # UnionPay's space
        ("28123456789O123456", "characters"),  # a letter O
    ],
)
def test_rejects_other_shapes_saying_why(alipay: Installed, code: str, why: str) -> None:
    reason = alipay.wallet.mismatch(code)
    assert reason is not None and why in reason


def test_a_sale_in_the_other_alipays_currency_is_not_taken(alipay: Installed) -> None:
    """Alone, each plugin refuses its sibling's sale: PingPong takes each Alipay in its own currency and USD."""
    currency = alipay.facts.sibling_currency
    result = alipay.host.classify(alipay.facts.code, currency)
    assert result.status == "none"
    assert currency in result.reason


# ---------------------------------------------------------------------------- classification


@given(data=st.data())
def test_a_currency_the_wallet_does_not_take_is_refused(alipay: Installed, data: st.DataObject) -> None:
    code = data.draw(valid_codes(alipay.wallet), label="code")
    others = sorted({"CNY", "HKD", "USD", "EUR", "JPY", "SGD"} - alipay.wallet.currencies)
    currency = data.draw(st.sampled_from(others), label="currency")
    result = alipay.host.classify(code, currency)
    assert result.status == "none"
    assert currency in result.reason
