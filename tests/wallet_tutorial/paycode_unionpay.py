"""paycode wallet plugin: UnionPay QuickPass (云闪付) payment codes.

A QuickPass payment code is 19 ASCII digits starting ``62``. UnionPay-Offline is this
example's payment type name; use the one your gateway documents.
"""

from __future__ import annotations

from collections.abc import Callable

import paycode
from paycode import CodePattern, PollingPolicy, WalletType

UNIONPAY = WalletType(
    name="UnionPay-Offline",
    display_name="UnionPay QuickPass",
    description="UnionPay QuickPass (云闪付) payment code",
    patterns=(CodePattern(lengths=(19,), prefixes=("62",), note="QuickPass"),),
    currencies=frozenset({"CNY"}),
    polling=PollingPolicy(interval=5.0, deadline=60.0),
    examples=("6212345678901234567",),
)


@paycode.hookimpl
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    register(UNIONPAY)
