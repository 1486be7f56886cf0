"""paycode-alipaycn: the registered wallet, its published code rules, and classification through the core.

The host is built with this plugin alone (entry points off), as a merchant with only this
distribution installed would have it.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points

import paycode_alipaycn
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode import Settings
from paycode.host import PluginHost
from paycode.testing.wallets import valid_codes
from paycode_alipaycn import ALIPAYCN

CURRENCIES_IT_DOES_NOT_TAKE = sorted({"CNY", "HKD", "USD", "EUR", "JPY", "SGD"} - ALIPAYCN.currencies)


@pytest.fixture(scope="module")
def host() -> Iterator[PluginHost]:
    yield PluginHost(Settings(), load_entrypoints=False, plugins=[paycode_alipaycn])


# ---------------------------------------------------------------------------- registration


def test_the_distribution_declares_its_entry_point() -> None:
    (ep,) = [ep for ep in entry_points(group="paycode") if ep.name == "alipaycn"]
    assert ep.value == "paycode_alipaycn"
    assert ep.load() is paycode_alipaycn


def test_registers_alipaycn_offline(host: PluginHost) -> None:
    wallet = host.wallets["AlipayCN-Offline"]
    assert wallet is ALIPAYCN
    assert wallet.currencies == {"CNY", "USD"}  # V4 docs, paymentMethods.js
    assert (wallet.polling.interval, wallet.polling.deadline) == (3.0, 60.0)
    assert wallet.label == "Alipay"


def test_payment_method_is_pingpongs_payload() -> None:
    code = "281234567890123456"
    assert ALIPAYCN.payment_method(code) == {"type": "AlipayCN-Offline", "scanCodeId": code}


def test_sandbox_test_codes_follow_the_documented_shape() -> None:
    assert ALIPAYCN.patterns[0].make("001") == "2500000000000001"


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
def test_accepts_the_published_shapes(code: str) -> None:
    assert ALIPAYCN.mismatch(code) is None


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
def test_rejects_other_shapes_saying_why(code: str, why: str) -> None:
    reason = ALIPAYCN.mismatch(code)
    assert reason is not None and why in reason


def test_an_alipayhk_sale_is_not_taken_as_alipaycn(host: PluginHost) -> None:
    """Alone, this plugin still refuses an HKD sale: PingPong takes AlipayCN-Offline in CNY and USD only."""
    result = host.classify("281234567890123456", "HKD")
    assert result.status == "none"
    assert "HKD" in result.reason


# ---------------------------------------------------------------------------- classification
# (codes of every shape, near misses and malformed codes: tests/test_conformance.py, paycode's suite)


@given(code=valid_codes(ALIPAYCN), currency=st.sampled_from(CURRENCIES_IT_DOES_NOT_TAKE))
def test_a_currency_alipaycn_does_not_take_is_refused(host: PluginHost, code: str, currency: str) -> None:
    result = host.classify(code, currency)
    assert result.status == "none"
    assert currency in result.reason
