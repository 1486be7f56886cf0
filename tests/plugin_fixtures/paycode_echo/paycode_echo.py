"""A wallet plugin as small as one can be: one wallet type with one code pattern."""

from __future__ import annotations

from collections.abc import Callable

from paycode import CodePattern, PollingPolicy, WalletType, hookimpl

ECHO = WalletType(
    name="Echo-Offline",
    patterns=[CodePattern([12], ["77"])],
    currencies={"CNY"},
    polling=PollingPolicy(interval=1.0, deadline=10.0),
    display_name="Echo Pay",
)


@hookimpl
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    register(ECHO)
