"""paycode: wallet payment codes at the point of sale, charged through PingPong Checkout.

The public API is re-exported here; heavy parts (the terminal, the gateway client, the
sandbox) are imported lazily so that importing :mod:`paycode` stays cheap.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    AmbiguousWalletError,
    ClassificationError,
    CodeFormatError,
    ConfigError,
    CurrencyNotAccepted,
    GatewayError,
    GatewayRejected,
    JournalError,
    MessageError,
    MoneyError,
    NoWalletError,
    OrderError,
    OutcomeUnknown,
    PaycodeError,
    PluginError,
    RegistrationConflict,
    ScannerConfigError,
    ScannerError,
    ScannerExhausted,
    ScannerGone,
    ScanTimeout,
    SignatureError,
    UsageError,
)
from .hookspecs import hookimpl
from .masking import mask_code
from .models import (
    Candidate,
    Classification,
    ClassifyContext,
    CodePattern,
    Event,
    Money,
    Payment,
    PaymentRequest,
    PaymentStatus,
    PollingPolicy,
    Scan,
    Transition,
)
from .plugin_types import GatewayType, Scanner, ScannerType, SignerType, WalletType
from .scanning import ScannerURL
from .settings import Settings

__version__ = "0.1.0"

# name -> module, imported on first attribute access
_LAZY = {
    "PluginHost": "paycode.host",
    "PluginProblem": "paycode.host",
    "Terminal": "paycode.terminal",
    "AsyncTerminal": "paycode.terminal",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'paycode' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "AmbiguousWalletError",
    "AsyncTerminal",
    "Candidate",
    "Classification",
    "ClassificationError",
    "ClassifyContext",
    "CodeFormatError",
    "CodePattern",
    "ConfigError",
    "CurrencyNotAccepted",
    "Event",
    "GatewayError",
    "GatewayRejected",
    "GatewayType",
    "JournalError",
    "MessageError",
    "Money",
    "MoneyError",
    "NoWalletError",
    "OrderError",
    "OutcomeUnknown",
    "Payment",
    "PaymentRequest",
    "PaymentStatus",
    "PaycodeError",
    "PluginError",
    "PluginHost",
    "PluginProblem",
    "PollingPolicy",
    "RegistrationConflict",
    "Scan",
    "ScanTimeout",
    "Scanner",
    "ScannerConfigError",
    "ScannerError",
    "ScannerExhausted",
    "ScannerGone",
    "ScannerType",
    "ScannerURL",
    "Settings",
    "SignatureError",
    "SignerType",
    "Terminal",
    "Transition",
    "UsageError",
    "WalletType",
    "hookimpl",
    "mask_code",
]
