"""paycode wallet plugin: WeChat Pay payment codes, charged as PingPong ``Wechat-Offline``.

The rules, and where they come from (docs/wallets.md has the full table):

- 18 ASCII digits. Mainland users' codes start ``10``-``14`` and Hong Kong users' codes
  ``15`` (WeChat Pay merchant docs: "18 digits, starting with 10-15").
- ``160`` is accepted too, as a narrow pattern of its own: WeChat Pay HK's wallet page lists
  it (medium confidence). Wrongly accepting a code only costs a clean decline from the gateway
  (no money moves), while wrongly refusing one turns a paying shopper away at the till, and no
  other wallet uses ``16`` here; so the POS accepts it and lets WeChat decide.
- PingPong accepts ``Wechat-Offline`` in CNY and HKD (the V4 docs' payment-method table).
- While the shopper enters a password (``USERPAYING``) query every 5 s (WeChat allows 3-10 s)
  and give up after 30 s (WeChat says 30-45 s and revokes unpaid orders itself at 45 s, so the
  lane's close lands while the order is still open and the lane stays the one that decides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paycode
from paycode import CodePattern, PollingPolicy, WalletType

__all__ = ["WECHAT", "payment_method", "paycode_register_wallets"]


def payment_method(wallet: WalletType, code: str) -> dict[str, Any]:
    """PingPong's ``paymentMethod`` object: the payment type and the scanned digits."""
    return {"type": wallet.name, "scanCodeId": code}


WECHAT = WalletType(
    name="Wechat-Offline",
    display_name="WeChat Pay",
    description="WeChat Pay payment code (付款码), mainland and Hong Kong users",
    patterns=(
        # "13" first: the commonest prefix (PingPong's own example is 1328…), so
        # patterns[0].make(ending) gives the sandbox test codes 130000000000000001 etc.
        CodePattern(lengths=(18,), prefixes=("13", "10", "11", "12", "14"), note="mainland users"),
        CodePattern(lengths=(18,), prefixes=("15",), note="Hong Kong users"),
        CodePattern(lengths=(18,), prefixes=("160",), note="Hong Kong wallet page (medium confidence)"),
    ),
    currencies=frozenset({"CNY", "HKD"}),  # V4 docs, paymentMethods.js
    polling=PollingPolicy(interval=5.0, deadline=30.0),
    examples=("134567890123456781", "151234567890123452", "160123456789012343"),
    payload=payment_method,
)


@paycode.hookimpl
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    register(WECHAT)
