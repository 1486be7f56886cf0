"""paycode-wechat: the registered wallet, its published code rules, and classification through the core.

The host is built with this plugin alone (entry points off), as a merchant with only this
distribution installed would have it.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points

import paycode_wechat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode import Settings
from paycode.host import PluginHost
from paycode.testing.wallets import valid_codes
from paycode_wechat import WECHAT

CURRENCIES_IT_DOES_NOT_TAKE = sorted({"CNY", "HKD", "USD", "EUR", "JPY", "SGD"} - WECHAT.currencies)


@pytest.fixture(scope="module")
def host() -> Iterator[PluginHost]:
    yield PluginHost(Settings(), load_entrypoints=False, plugins=[paycode_wechat])


# ---------------------------------------------------------------------------- registration


def test_the_distribution_declares_its_entry_point() -> None:
    (ep,) = [ep for ep in entry_points(group="paycode") if ep.name == "wechat"]
    assert ep.value == "paycode_wechat"
    assert ep.load() is paycode_wechat


def test_registers_wechat_offline(host: PluginHost) -> None:
    wallet = host.wallets["Wechat-Offline"]
    assert wallet is WECHAT
    assert wallet.currencies == {"CNY", "HKD"}
    assert (wallet.polling.interval, wallet.polling.deadline) == (5.0, 30.0)
    assert wallet.label == "WeChat Pay"


def test_payment_method_is_pingpongs_payload() -> None:
    code = "134567890123456781"
    assert WECHAT.payment_method(code) == {"type": "Wechat-Offline", "scanCodeId": code}


def test_sandbox_test_codes_follow_the_documented_shape() -> None:
    assert WECHAT.patterns[0].make("001") == "130000000000000001"


# ---------------------------------------------------------------------------- the published rules


@pytest.mark.parametrize(
    "code",
    [
        "100000000000000000",  # mainland, lowest prefix
        "134567890123456781",
        "149999999999999999",  # mainland, highest prefix
        "150000000000000000",  # Hong Kong users
        "159999999999999999",
        "160000000000000000",  # Hong Kong wallet page: 160
        "160999999999999999",
    ],
)
def test_accepts_the_published_shapes(code: str) -> None:
    assert WECHAT.mismatch(code) is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("13456789012345678", "length 17"),
        ("1345678901234567812", "length 19"),
        ("090000000000000000", "prefix"),
        ("161000000000000000", "prefix"),  # only 160, not all of 16x
        ("170000000000000000", "prefix"),
        ("180000000000000000", "prefix"),  # JD Pay's prefix
        ("280000000000000000", "prefix"),  # Alipay's space
        ("13456789O123456781", "characters"),  # a letter O
    ],
)
def test_rejects_other_shapes_saying_why(code: str, why: str) -> None:
    reason = WECHAT.mismatch(code)
    assert reason is not None and why in reason


# ---------------------------------------------------------------------------- classification
# (codes of every shape, near misses and malformed codes: tests/test_conformance.py, paycode's suite)


@given(code=valid_codes(WECHAT), currency=st.sampled_from(CURRENCIES_IT_DOES_NOT_TAKE))
def test_a_currency_wechat_does_not_take_is_refused(host: PluginHost, code: str, currency: str) -> None:
    result = host.classify(code, currency)
    assert result.status == "none"
    assert currency in result.reason
