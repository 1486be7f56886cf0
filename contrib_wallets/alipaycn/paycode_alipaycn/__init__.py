"""paycode wallet plugin: Alipay (mainland China) payment codes, charged as PingPong ``AlipayCN-Offline``.

The rules, and where they come from (docs/wallets.md has the full table):

- 16 to 24 ASCII digits starting ``25``-``30`` (Alipay merchant docs; the same rule as
  jeepay's ``JeepayKit``). Alipay+ asks terminals to be ready for up to 32 digits "for future
  use"; no Alipay code is that long today, and widening the pattern is a one-line change here.
- AlipayHK codes share this code space exactly: the digits cannot tell the two apart. PingPong
  accepts ``AlipayCN-Offline`` in CNY and USD and ``AlipayHK-Offline`` in HKD and USD (the V4
  docs' payment-method table), so a CNY or HKD sale decides by its currency; a USD sale, or one
  with no currency, is decided by the merchant's enabled wallets (``wallets``) or a preference
  (``prefer_wallets``); anything left is classified "ambiguous", never guessed.
- While the shopper enters a password (``WAIT_BUYER_PAY``) query every 3 s (Alipay allows
  3-6 s; the lower end shows the result soonest) and give up after 60 s (Alipay's "about 60 s",
  well before cross-border orders auto-close at 3 min, so the lane's cancel decides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paycode
from paycode import CodePattern, PollingPolicy, WalletType

__all__ = ["ALIPAYCN", "payment_method", "paycode_register_wallets"]


def payment_method(wallet: WalletType, code: str) -> dict[str, Any]:
    """PingPong's ``paymentMethod`` object: the payment type and the scanned digits."""
    return {"type": wallet.name, "scanCodeId": code}


ALIPAYCN = WalletType(
    name="AlipayCN-Offline",
    display_name="Alipay",
    description="Alipay payment code (付款码) of a mainland China account; shares its code space with AlipayHK",
    patterns=(
        CodePattern(
            lengths=range(16, 25),
            prefixes=("25", "26", "27", "28", "29", "30"),
            note="Alipay code space, shared with AlipayHK",
        ),
    ),
    currencies=frozenset({"CNY", "USD"}),  # V4 docs, paymentMethods.js
    polling=PollingPolicy(interval=3.0, deadline=60.0),
    examples=("281234567890123456", "2512345678901234", "301234567890123456789012"),
    payload=payment_method,
)


@paycode.hookimpl
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    register(ALIPAYCN)
