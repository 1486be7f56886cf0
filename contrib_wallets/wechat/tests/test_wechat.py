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
from paycode import CodeFormatError, NoWalletError, Settings
from paycode.host import PluginHost
from paycode_wechat import WECHAT

DIGITS = "0123456789"
ALL_PREFIXES = tuple(prefix for pattern in WECHAT.patterns for prefix in pattern.prefixes)
ALL_LENGTHS = frozenset(length for pattern in WECHAT.patterns for length in pattern.lengths)
#: digit families other than ASCII for which str.isdigit() is true: full-width, Arabic-Indic,
#: extended Arabic-Indic, Devanagari, Bengali, mathematical bold.
FOREIGN_ZEROS = (0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x1D7CE)
SPACES = (" ", "\t", "\u00a0", "\u3000")
CURRENCIES = st.sampled_from([None, *sorted(WECHAT.currencies)])


@pytest.fixture(scope="module")
def host() -> Iterator[PluginHost]:
    yield PluginHost(Settings(), load_entrypoints=False, plugins=[paycode_wechat])


# ---------------------------------------------------------------------------- strategies


def _fill(prefix: str, length: int) -> st.SearchStrategy[str]:
    size = max(length - len(prefix), 0)
    return st.text(DIGITS, min_size=size, max_size=size).map(lambda rest: (prefix + rest)[:length])


valid_codes = st.sampled_from(
    [(p, n) for pattern in WECHAT.patterns for p in pattern.prefixes for n in pattern.lengths]
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


def test_examples_classify_in_every_currency(host: PluginHost) -> None:
    for code in WECHAT.examples:
        for currency in sorted(WECHAT.currencies):
            assert host.classify(code, currency).wallet is WECHAT


# ---------------------------------------------------------------------------- classification properties


@given(code=valid_codes, currency=CURRENCIES)
def test_valid_codes_classify_to_wechat(host: PluginHost, code: str, currency: str | None) -> None:
    result = host.classify(code, currency)
    assert (result.status, result.wallet) == ("one", WECHAT)
    assert host.wallet_for(code, currency) is WECHAT


@given(code=valid_codes, currency=st.sampled_from(["USD", "EUR", "JPY", "SGD"]))
def test_a_currency_wechat_does_not_take_is_refused(host: PluginHost, code: str, currency: str) -> None:
    result = host.classify(code, currency)
    assert result.status == "none"
    assert currency in result.reason


@given(code=invalid_codes, currency=CURRENCIES)
def test_malformed_codes_never_classify(host: PluginHost, code: str, currency: str | None) -> None:
    assert not WECHAT.accepts(code)
    result = host.classify(code, currency)
    assert (result.status, result.wallet) == ("none", None)
    with pytest.raises((CodeFormatError, NoWalletError)):
        host.wallet_for(code, currency)
