"""Conformance suites and fixtures for plugin authors (the pytest plugin ``paycode``).

Installed with paycode and loaded by pytest through the ``pytest11`` entry point, so a plugin's
tests only subclass a suite::

    from paycode.testing import WalletConformance

    class TestUnionPayConformance(WalletConformance):
        plugin = paycode_unionpay

- :class:`ScannerConformance` with a :class:`ScannerRig` the plugin's test provides,
- :class:`WalletConformance`,
- :class:`SignerConformance` with :class:`KnownAnswer` vectors,
- :class:`DocGateway`, a gateway written from the V4 documentation (:mod:`paycode.testing.docgateway`),

and the fixtures ``paycode_host`` (a host holding given plugins), ``paycode_events`` (an
:class:`EventRecorder`) and ``paycode_sandbox_terminal`` (a terminal on the embedded sandbox).
docs/conformance.md documents every check.

Importing this module stays cheap (pytest imports it in every run): the suites, and the
hypothesis and paycode modules they need, load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the lazily loaded names with their real types
    from ._hosts import EventRecorder as EventRecorder
    from ._hosts import plugin_host as plugin_host
    from .docgateway import DocGateway as DocGateway
    from .scanners import ScannerConformance as ScannerConformance
    from .scanners import ScannerRig as ScannerRig
    from .signers import KnownAnswer as KnownAnswer
    from .signers import SignerConformance as SignerConformance
    from .wallets import NearMiss as NearMiss
    from .wallets import WalletConformance as WalletConformance
    from .wallets import near_misses as near_misses

__all__ = [
    "DocGateway",
    "EventRecorder",
    "KnownAnswer",
    "NearMiss",
    "ScannerConformance",
    "ScannerRig",
    "SignerConformance",
    "WalletConformance",
    "near_misses",
    "plugin_host",
]

_LAZY = {
    "EventRecorder": "paycode.testing._hosts",
    "plugin_host": "paycode.testing._hosts",
    "ScannerConformance": "paycode.testing.scanners",
    "ScannerRig": "paycode.testing.scanners",
    "WalletConformance": "paycode.testing.wallets",
    "NearMiss": "paycode.testing.wallets",
    "near_misses": "paycode.testing.wallets",
    "SignerConformance": "paycode.testing.signers",
    "KnownAnswer": "paycode.testing.signers",
    "DocGateway": "paycode.testing.docgateway",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'paycode.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


# the fixtures pytest finds in this plugin module
from ._fixtures import paycode_events as paycode_events  # noqa: E402
from ._fixtures import paycode_host as paycode_host  # noqa: E402
from ._fixtures import paycode_sandbox_terminal as paycode_sandbox_terminal  # noqa: E402
