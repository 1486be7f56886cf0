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
from paycode import CodeFormatError, NoWalletError, Settings
from paycode.host import PluginHost
from paycode_alipaycn import ALIPAYCN

DIGITS = "0123456789"
ALL_PREFIXES = tuple(prefix for pattern in ALIPAYCN.patterns for prefix in pattern.prefixes)
ALL_LENGTHS = frozenset(length for pattern in ALIPAYCN.patterns for length in pattern.lengths)
#: digit families other than ASCII for which str.isdigit() is true: full-width, Arabic-Indic,
#: extended Arabic-Indic, Devanagari, Bengali, mathematical bold.
FOREIGN_ZEROS = (0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x1D7CE)
SPACES = (" ", "\t", "\u00a0", "\u3000")
CURRENCIES = st.sampled_from([None, *sorted(ALIPAYCN.currencies)])


@pytest.fixture(scope="module")
def host() -> Iterator[PluginHost]:
    yield PluginHost(Settings(), load_entrypoints=False, plugins=[paycode_alipaycn])


# ---------------------------------------------------------------------------- strategies


def _fill(prefix: str, length: int) -> st.SearchStrategy[str]:
    size = max(length - len(prefix), 0)
    return st.text(DIGITS, min_size=size, max_size=size).map(lambda rest: (prefix + rest)[:length])


valid_codes = st.sampled_from(
    [(p, n) for pattern in ALIPAYCN.patterns for p in pattern.prefixes for n in pattern.lengths]
).flatmap(lambda pn: _fill(*pn))

wrong_length = st.tuples(
    st.sampled_from(ALL_PREFIXES), st.integers(1, 40).filter(lambda n: n not in ALL_LENGTHS)
).flatmap(lambda pn: _fill(*pn))

wrong_prefix = (
    st.sampled_from(sorted(ALL_LENGTHS))
    .flatmap(lambda n: st.text(DIGITS, min_size=n, max_size=n))
    .filter(lambda code: not code.startswith(ALL_PREFIXES))
)


@st.composite
def with_letter(draw: st.DrawFn) -> str:
    code = draw(valid_codes)
    i = draw(st.integers(0, len(code) - 1))
    return code[:i] + draw(st.sampled_from("abcdefxyzABCDEFXYZ")) + code[i + 1 :]


@st.composite
def with_space_inside(draw: st.DrawFn) -> str:
    code = draw(valid_codes)
    i = draw(st.integers(1, len(code) - 1))
    return code[:i] + draw(st.sampled_from(SPACES)) + code[i:]


@st.composite
def with_foreign_digits(draw: st.DrawFn) -> str:
    """A valid code written in another script's digits, wholly or in one place."""
    code = draw(valid_codes)
    zero = draw(st.sampled_from(FOREIGN_ZEROS))
    foreign = code.translate({ord(d): chr(zero + int(d)) for d in DIGITS})
    if draw(st.booleans()):
        return foreign
    i = draw(st.integers(0, len(code) - 1))
    return code[:i] + foreign[i] + code[i + 1 :]


invalid_codes = st.one_of(wrong_length, wrong_prefix, with_letter(), with_space_inside(), with_foreign_digits())


# ---------------------------------------------------------------------------- registration


def test_the_distribution_declares_its_entry_point() -> None:
    (ep,) = [ep for ep in entry_points(group="paycode") if ep.name == "alipaycn"]
    assert ep.value == "paycode_alipaycn"
    assert ep.load() is paycode_alipaycn


def test_registers_alipaycn_offline(host: PluginHost) -> None:
    wallet = host.wallets["AlipayCN-Offline"]
    assert wallet is ALIPAYCN
    assert wallet.currencies == {"CNY"}
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


def test_examples_classify_in_every_currency(host: PluginHost) -> None:
    for code in ALIPAYCN.examples:
        for currency in sorted(ALIPAYCN.currencies):
            assert host.classify(code, currency).wallet is ALIPAYCN


def test_an_alipayhk_sale_is_not_taken_as_alipaycn(host: PluginHost) -> None:
    """Alone, this plugin still refuses an HKD sale: PingPong takes AlipayCN-Offline in CNY only."""
    result = host.classify("281234567890123456", "HKD")
    assert result.status == "none"
    assert "HKD" in result.reason


# ---------------------------------------------------------------------------- classification properties


@given(code=valid_codes, currency=CURRENCIES)
def test_valid_codes_classify_to_alipaycn(host: PluginHost, code: str, currency: str | None) -> None:
    result = host.classify(code, currency)
    assert (result.status, result.wallet) == ("one", ALIPAYCN)
    assert host.wallet_for(code, currency) is ALIPAYCN


@given(code=valid_codes, currency=st.sampled_from(["HKD", "USD", "EUR", "JPY"]))
def test_a_currency_alipaycn_does_not_take_is_refused(host: PluginHost, code: str, currency: str) -> None:
    result = host.classify(code, currency)
    assert result.status == "none"
    assert currency in result.reason


@given(code=invalid_codes, currency=CURRENCIES)
def test_malformed_codes_never_classify(host: PluginHost, code: str, currency: str | None) -> None:
    assert not ALIPAYCN.accepts(code)
    result = host.classify(code, currency)
    assert (result.status, result.wallet) == ("none", None)
    with pytest.raises((CodeFormatError, NoWalletError)):
        host.wallet_for(code, currency)
