"""Classification: one wallet, none (and why), or ambiguous (and what would decide)."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paycode import (
    AmbiguousWalletError,
    Candidate,
    ClassifyContext,
    CodeFormatError,
    MoneyError,
    NoWalletError,
    PluginError,
)
from paycode.classify import character_problem, classify
from paycode.host import PluginHost

from .conftest import TEST_WALLETS

MakeHost = Callable[..., PluginHost]
WALLETS = {w.name: w for w in TEST_WALLETS}
WECHAT = "130000000000000001"
FULLWIDTH = {ord(d): 0xFF10 + int(d) for d in "0123456789"}  # "1" -> "\uff11"
ALIPAY = "280000000000000002"


def test_one_wallet(make_host: MakeHost, wallets_plugin: types.ModuleType) -> None:
    host = make_host(wallets_plugin)
    result = host.classify(WECHAT)
    assert (result.status, result.wallet, result.cause) == ("one", WALLETS["Wechat-Offline"], "")
    assert result.reason == "Wechat-Offline, accepted by its patterns"
    assert host.wallet_for(WECHAT, "hkd").name == "Wechat-Offline"


def test_ambiguous_names_the_wallets_and_what_decides(make_host: MakeHost, wallets_plugin: types.ModuleType) -> None:
    host = make_host(wallets_plugin)
    result = host.classify(ALIPAY)
    assert result.status == "ambiguous"
    assert result.candidates == ("AlipayCN-Offline", "AlipayHK-Offline")
    assert result.reason == (
        "AlipayCN-Offline and AlipayHK-Offline both accept this code; to decide, give the sale currency "
        "(--currency CNY or HKD), or enable only one of AlipayCN-Offline and AlipayHK-Offline "
        "(setting wallets / PAYCODE_WALLETS), or name one first in prefer_wallets / PAYCODE_PREFER_WALLETS"
    )
    with pytest.raises(AmbiguousWalletError, match=r"^code 2800\*{10}0002: AlipayCN-Offline and AlipayHK-Offline"):
        host.wallet_for(ALIPAY)


def test_currency_enabled_wallets_and_preference_decide(make_host: MakeHost, wallets_plugin: types.ModuleType) -> None:
    assert make_host(wallets_plugin).wallet_for(ALIPAY, "HKD").name == "AlipayHK-Offline"
    assert make_host(wallets_plugin).wallet_for(ALIPAY, "CNY").name == "AlipayCN-Offline"
    only_hk = make_host(wallets_plugin, wallets=("Wechat-Offline", "AlipayHK-Offline"))
    assert only_hk.wallet_for(ALIPAY).name == "AlipayHK-Offline"
    prefer = make_host(wallets_plugin, prefer_wallets=("Nope", "AlipayCN-Offline"))
    chosen = prefer.classify(ALIPAY)
    assert chosen.wallet is not None and chosen.wallet.name == "AlipayCN-Offline"
    assert "chosen by prefer_wallets" in chosen.reason


def test_ambiguous_even_with_a_currency_suggests_configuration() -> None:
    twin = attrs.evolve(TEST_WALLETS[1], name="AlipayCN-Twin")
    result = classify(ALIPAY, {**WALLETS, "AlipayCN-Twin": twin}, ClassifyContext(currency="CNY"))
    assert result.status == "ambiguous"
    assert result.reason.startswith(
        "AlipayCN-Offline and AlipayCN-Twin both accept this code in CNY (both take CNY, so the currency cannot "
        "decide); to decide, enable"
    )
    three = classify(ALIPAY, {**WALLETS, "AlipayCN-Twin": twin})
    assert three.reason.startswith("AlipayCN-Offline, AlipayHK-Offline and AlipayCN-Twin all accept this code")
    assert "--currency HKD" in three.reason


@pytest.mark.parametrize(
    ("code", "cause", "fragment"),
    [
        ("", "empty", "the code is empty"),
        ("13000000000000000a", "characters", "holds letters"),
        (WECHAT.translate(FULLWIDTH), "characters", "non-ASCII digits"),
        ("\u0661\u06630000000000000001", "characters", "non-ASCII digits"),
        ("1300000000 0000001", "characters", "spaces"),
        ("1300000000-0000001", "characters", "punctuation or symbols"),
        ("13000000000000001", "pattern", "Wechat-Offline: length 17, expected 18 digits"),
        ("990000000000000001", "pattern", "Wechat-Offline: prefix 99…, expected 10/11/12/13/14/15"),
        ("2800000000000000000000000", "pattern", "AlipayCN-Offline: length 25, expected 16-24 digits"),
    ],
)
def test_none_says_why(
    make_host: MakeHost, wallets_plugin: types.ModuleType, code: str, cause: str, fragment: str
) -> None:
    host = make_host(wallets_plugin)
    result = host.classify(code)
    assert (result.status, result.cause) == ("none", cause)
    assert fragment in result.reason
    error = CodeFormatError if cause in ("empty", "characters") else NoWalletError
    with pytest.raises(error):
        host.wallet_for(code)


def test_none_because_of_currency_or_disabled(make_host: MakeHost, wallets_plugin: types.ModuleType) -> None:
    host = make_host(wallets_plugin, wallets=("Wechat-Offline", "AlipayCN-Offline"))
    wrong_currency = host.classify(ALIPAY, "HKD")
    assert wrong_currency.cause == "currency"
    assert wrong_currency.reason == (
        "the code matches AlipayCN-Offline and AlipayHK-Offline, but AlipayHK-Offline is not enabled; "
        "AlipayCN-Offline takes CNY, not HKD"
    )
    assert host.classify(WECHAT, "USD").reason.endswith("Wechat-Offline takes CNY/HKD, not USD")
    disabled = make_host(wallets_plugin, wallets=("Wechat-Offline",)).classify(ALIPAY)
    assert disabled.cause == "disabled"
    assert disabled.reason == (
        "the code matches AlipayCN-Offline and AlipayHK-Offline, but AlipayCN-Offline and AlipayHK-Offline are not "
        "enabled (enabled wallets: Wechat-Offline; setting wallets / PAYCODE_WALLETS)"
    )
    assert disabled.candidates == ("AlipayCN-Offline", "AlipayHK-Offline")


def test_no_wallets_installed(make_host: MakeHost) -> None:
    result = make_host().classify(WECHAT)
    assert (result.status, result.cause) == ("none", "no_wallets")
    assert "`paycode plugins`" in result.reason


def test_bad_currency_is_a_usage_error(make_host: MakeHost, wallets_plugin: types.ModuleType) -> None:
    with pytest.raises(MoneyError, match="'YUAN' is not an ISO 4217 code"):
        make_host(wallets_plugin).classify(WECHAT, "yuan")


# ---------------------------------------------------------------------------- paycode_classify


def lookup(answer: Any) -> Callable[..., Any]:
    def paycode_classify(code: str, context: ClassifyContext) -> Any:
        return answer

    return paycode_classify


def test_an_override_replaces_the_pattern_candidates(
    make_host: MakeHost, make_plugin: Callable[..., types.ModuleType], wallets_plugin: types.ModuleType
) -> None:
    server = make_plugin("code_consult", paycode_classify=lookup([Candidate("AlipayHK-Offline", override=True)]))
    result = make_host(wallets_plugin, server).classify(ALIPAY)
    assert result.wallet is not None and result.wallet.name == "AlipayHK-Offline"
    assert result.reason == "AlipayHK-Offline, accepted by a plugin"
    # the currency still applies to an override
    assert make_host(wallets_plugin, server).classify(ALIPAY, "CNY").cause == "currency"


def test_additions_join_the_pattern_candidates_and_unknown_wallets_are_ignored(
    make_host: MakeHost, make_plugin: Callable[..., types.ModuleType], wallets_plugin: types.ModuleType
) -> None:
    extra = make_plugin("extra", paycode_classify=lookup([Candidate("AlipayCN-Offline"), Candidate("Ghost-Offline")]))
    result = make_host(wallets_plugin, extra).classify(WECHAT, "CNY")
    assert result.status == "ambiguous"
    assert result.candidates == ("Wechat-Offline", "AlipayCN-Offline")


def test_classify_plugins_are_not_asked_about_malformed_codes(
    make_host: MakeHost, make_plugin: Callable[..., types.ModuleType], wallets_plugin: types.ModuleType
) -> None:
    asked: list[str] = []

    def paycode_classify(code: str) -> None:
        asked.append(code)

    host = make_host(wallets_plugin, make_plugin("spy", paycode_classify=paycode_classify))
    host.classify("13abc")
    host.classify(WECHAT)
    assert asked == [WECHAT]


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (RuntimeError("lookup server down"), "plugin bad: paycode_classify raised RuntimeError: lookup server down"),
        ("Wechat-Offline", "must return a list of Candidate or None, not str"),
    ],
)
def test_a_failing_classify_plugin_is_an_error(
    make_host: MakeHost,
    make_plugin: Callable[..., types.ModuleType],
    wallets_plugin: types.ModuleType,
    answer: Any,
    fragment: str,
) -> None:
    def paycode_classify(code: str) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    host = make_host(wallets_plugin, make_plugin("bad", paycode_classify=paycode_classify))
    with pytest.raises(PluginError, match=fragment):
        host.classify(WECHAT)


# ---------------------------------------------------------------------------- properties


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_classify_never_raises_and_only_ascii_digit_codes_get_a_wallet(code: str) -> None:
    result = classify(code, WALLETS)
    assert result.status in ("one", "none", "ambiguous")
    assert "\n" not in result.reason
    if result.status != "none":
        assert code.isascii() and code.isdigit()
    if not (code.isascii() and code.isdigit()):
        assert result.cause in ("characters", "empty")
        assert character_problem(code) is not None


@given(
    st.sampled_from(["10", "11", "12", "13", "14", "15"]),
    st.text(alphabet="0123456789", min_size=16, max_size=16),
    st.sampled_from([None, "CNY", "HKD"]),
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_wechat_shaped_code_is_wechat(prefix: str, rest: str, currency: str | None) -> None:
    result = classify(prefix + rest, WALLETS, ClassifyContext(currency=currency))
    assert result.wallet is WALLETS["Wechat-Offline"]


@given(
    st.integers(min_value=16, max_value=24),
    st.sampled_from(["25", "26", "27", "28", "29", "30"]),
    st.sampled_from(["CNY", "HKD", "USD"]),
    st.data(),
)
@settings(max_examples=100, deadline=None)
def test_the_currency_filters_alipay(length: int, prefix: str, currency: str, data: st.DataObject) -> None:
    code = prefix + data.draw(st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2))
    result = classify(code, WALLETS, ClassifyContext(currency=currency))
    expected = {"CNY": "AlipayCN-Offline", "HKD": "AlipayHK-Offline"}.get(currency)
    if expected is None:
        assert (result.status, result.cause) == ("none", "currency")
    else:
        assert result.wallet is WALLETS[expected]
