"""paycode wallet plugin: AlipayHK payment codes, charged as PingPong ``AlipayHK-Offline``.

The rules, and where they come from (docs/wallets.md has the full table):

- 16 to 24 ASCII digits starting ``25``-``30``: exactly the code space of Alipay (AlipayCN);
  the digits cannot tell the two apart. Alipay's HK documentation resolves it server-side with a
  "code consult" call that PingPong does not offer; PingPong accepts ``AlipayHK-Offline`` in HKD
  and USD and ``AlipayCN-Offline`` in CNY and USD (the V4 docs' payment-method table), so a CNY or
  HKD sale decides by its currency; a USD sale, or one with no currency, is decided by the
  merchant's enabled wallets (``wallets``) or a preference (``prefer_wallets``); anything left
  is classified "ambiguous", never guessed.
- While the shopper enters a password query every 3 s (Alipay allows 3-6 s) and give up after
  60 s (Alipay's "about 60 s", well before cross-border orders auto-close at 3 min).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paycode
from paycode import CodePattern, PollingPolicy, WalletType

__all__ = ["ALIPAYHK", "payment_method", "paycode_register_wallets"]


def payment_method(wallet: WalletType, code: str) -> dict[str, Any]:
    """PingPong's ``paymentMethod`` object: the payment type and the scanned digits."""
    return {"type": wallet.name, "scanCodeId": code}


ALIPAYHK = WalletType(
    name="AlipayHK-Offline",
    display_name="AlipayHK",
    description="AlipayHK payment code (付款碼); shares its code space with Alipay (AlipayCN)",
    patterns=(
        CodePattern(
            lengths=range(16, 25),
            prefixes=("25", "26", "27", "28", "29", "30"),
            note="Alipay code space, shared with AlipayCN",
        ),
    ),
    currencies=frozenset({"HKD", "USD"}),  # V4 docs, paymentMethods.js
    polling=PollingPolicy(interval=3.0, deadline=60.0),
    examples=("289876543210987654", "2598765432109876", "309876543210987654321098"),
    payload=payment_method,
)


@paycode.hookimpl
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    register(ALIPAYHK)
