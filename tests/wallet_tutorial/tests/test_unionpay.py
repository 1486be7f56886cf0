"""The installed plugin, loaded through its entry point as a merchant's paycode loads it."""

from functools import cache

from hypothesis import given
from hypothesis import strategies as st
from paycode.host import PluginHost


@cache
def host() -> PluginHost:
    return PluginHost()  # every installed plugin, found through the "paycode" entry points


def test_registers_unionpay() -> None:
    wallet = host().wallets["UnionPay-Offline"]
    assert wallet.currencies == {"CNY"}
    code = "6212345678901234567"
    assert wallet.payment_method(code) == {"type": "UnionPay-Offline", "scanCodeId": code}


@given(st.text("0123456789", min_size=17, max_size=17))
def test_62_and_19_digits_is_unionpay(rest: str) -> None:
    result = host().classify("62" + rest, "CNY")
    assert result.wallet is not None and result.wallet.name == "UnionPay-Offline"


@given(st.text("0123456789", min_size=17, max_size=17))
def test_unionpay_takes_cny_only(rest: str) -> None:
    assert host().classify("62" + rest, "HKD").status == "none"


@given(st.text(max_size=25))
def test_nothing_else_is_unionpay(text: str) -> None:
    result = host().classify(text, "CNY")
    is_unionpay = result.wallet is not None and result.wallet.name == "UnionPay-Offline"
    assert is_unionpay == (len(text) == 19 and text.startswith("62") and text.isascii() and text.isdigit())
