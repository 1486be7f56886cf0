"""Shared fixtures: plugin hosts built from in-memory plugins, isolated from installed distributions.

- ``make_plugin(name, paycode_hook=function, ...)``: a plugin module whose functions are hook implementations.
- ``make_host(*plugins, load_entrypoints=False, **settings)``: a :class:`PluginHost` with the built-ins, the
  given plugins and ``Settings(**settings)`` (journal in the test's temporary folder).
- ``wallets_plugin``: an in-memory plugin registering WeChat-, AlipayCN- and AlipayHK-shaped test wallets
  (:data:`TEST_WALLETS`), for tests that must not depend on the wallet distributions.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from paycode import CodePattern, PollingPolicy, Settings, WalletType, hookimpl
from paycode.host import PluginHost

_ALIPAY = CodePattern(range(16, 25), ("25", "26", "27", "28", "29", "30"))

TEST_WALLETS = (
    WalletType(
        "Wechat-Offline",
        [CodePattern([18], ("13", "10", "11", "12", "14", "15"))],
        {"CNY", "HKD"},
        PollingPolicy(5.0, 30.0),
        display_name="WeChat Pay",
    ),
    WalletType("AlipayCN-Offline", [_ALIPAY], {"CNY"}, PollingPolicy(3.0, 60.0), display_name="Alipay"),
    WalletType("AlipayHK-Offline", [_ALIPAY], {"HKD"}, PollingPolicy(3.0, 60.0), display_name="AlipayHK"),
)


def build_plugin(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    """A module named ``name`` holding each keyword as a hook implementation."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


@pytest.fixture
def make_plugin() -> Callable[..., types.ModuleType]:
    return build_plugin


@pytest.fixture
def make_host(tmp_path: Path) -> Callable[..., PluginHost]:
    def make(*plugins: object, load_entrypoints: bool = False, **settings: Any) -> PluginHost:
        settings.setdefault("journal", str(tmp_path / "journal.sqlite3"))
        return PluginHost(Settings(**settings), load_entrypoints=load_entrypoints, plugins=plugins)

    return make


@pytest.fixture
def wallets_plugin() -> types.ModuleType:
    def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
        for wallet in TEST_WALLETS:
            register(wallet)

    return build_plugin("test_wallets", paycode_register_wallets=paycode_register_wallets)
