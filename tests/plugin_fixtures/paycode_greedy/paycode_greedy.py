"""A plugin that registers the SHA256 signer (taken by the built-ins) and a wallet of its own."""

from __future__ import annotations

from collections.abc import Callable

from paycode import CodePattern, PollingPolicy, SignerType, WalletType, hookimpl


@hookimpl
def paycode_register_signers(register: Callable[[SignerType], None]) -> None:
    register(SignerType("SHA256", lambda content: "0" * 64, "a signer that must never be used"))


@hookimpl
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    register(WalletType("Greedy-Offline", [CodePattern([12], ["66"])], {"CNY"}, PollingPolicy(1.0, 10.0)))
