"""The one exception hierarchy of paycode.

Every error paycode raises on purpose is a :class:`PaycodeError`. Each carries a
one-line, user-facing message saying what was wrong and what is accepted, and an
``exit_code`` the command line uses (2 usage/configuration, 1 negative verdict,
3 unresolved outcome).

::

    PaycodeError
    ├── UsageError (exit 2)                  bad input from a person or a script
    │   ├── ConfigError                      settings, environment, credentials, secret files
    │   ├── MoneyError                       amount / currency rejected
    │   │   └── CurrencyNotAccepted              the code's wallet does not take the sale currency
    │   │                                        (also a NoWalletError)
    │   ├── CodeFormatError                  a payment code that is not digits of a known shape
    │   ├── MessageError                     unreadable or non-JSON message to sign / verify
    │   ├── ScannerConfigError               unknown scheme, malformed scanner URL or parameter
    │   └── OrderError                       order id / refund amount the gateway would reject
    ├── PluginError                          a plugin failed to load or registered a taken name
    │   └── RegistrationConflict
    ├── SignatureError (exit 1)              a signature did not verify
    ├── ClassificationError (exit 1)
    │   ├── NoWalletError                    no wallet claims the code (says why)
    │   └── AmbiguousWalletError             several wallets claim it (names them, and what decides)
    ├── ScannerError                         a scanner failed while reading
    │   ├── ScannerGone                      the device disappeared (unplugged, closed port)
    │   ├── ScannerExhausted                 the input ended for good (end of a replay file, stdin closed)
    │   └── ScanTimeout (exit 1)             nothing was scanned in time
    ├── GatewayError                         the payment gateway said no, or could not be understood
    │   ├── GatewayRejected                  a definite, signed answer that is not a success
    │   └── OutcomeUnknown (exit 3)          no answer, or an answer that failed verification
    └── JournalError                         the payment journal could not be written or read
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmbiguousWalletError",
    "ClassificationError",
    "CodeFormatError",
    "CurrencyNotAccepted",
    "ConfigError",
    "GatewayError",
    "GatewayRejected",
    "JournalError",
    "MessageError",
    "MoneyError",
    "NoWalletError",
    "OrderError",
    "OutcomeUnknown",
    "PaycodeError",
    "PluginError",
    "RegistrationConflict",
    "ScanTimeout",
    "ScannerConfigError",
    "ScannerError",
    "ScannerExhausted",
    "ScannerGone",
    "SignatureError",
    "UsageError",
]


class PaycodeError(Exception):
    """Base of every error paycode raises on purpose.

    ``context`` holds what the error is about (plugin, scanner URL, order id, …);
    it never holds a secret or an unmasked payment code.
    """

    exit_code: int = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class UsageError(PaycodeError, ValueError):
    """Bad input from a person or a script: exit status 2."""

    exit_code = 2


class ConfigError(UsageError):
    """Settings, environment variables, credentials or secret files are wrong."""


class MoneyError(UsageError):
    """An amount or currency that cannot be charged."""


class CodeFormatError(UsageError):
    """A payment code that is not made of ASCII digits in a known shape."""


class MessageError(UsageError):
    """A message to sign or verify that cannot be read or is not a JSON object."""


class ScannerConfigError(UsageError):
    """Unknown scanner scheme, malformed scanner URL or parameter."""


class OrderError(UsageError):
    """An order id, request or refund the gateway would reject, caught before sending."""


class PluginError(PaycodeError):
    """A plugin could not be loaded or used."""


class RegistrationConflict(PluginError):
    """A plugin registered a scheme, wallet, signType or gateway another plugin already has."""


class SignatureError(PaycodeError):
    """A signature did not verify."""


class ClassificationError(PaycodeError):
    """A code could not be given to exactly one wallet."""


class NoWalletError(ClassificationError):
    """No registered wallet accepts the code; the message says why."""


class CurrencyNotAccepted(MoneyError, NoWalletError):
    """The code belongs to wallets that do not take the sale currency: a usage error (exit 2), caught before sending."""


class AmbiguousWalletError(ClassificationError):
    """More than one wallet accepts the code; the message names them and what would decide."""


class ScannerError(PaycodeError):
    """A scanner failed while reading."""


class ScannerGone(ScannerError):
    """The scanner disappeared: unplugged, port closed, device node gone."""


class ScannerExhausted(ScannerError):
    """The scanner's input ended for good (a replay file without ``loop``, stdin at end of file).

    Unlike :class:`ScannerGone` it is not reopened: the supervisor reports it and stops reading.
    """


class ScanTimeout(ScannerError):
    """Nothing was scanned before the timeout."""


class GatewayError(PaycodeError):
    """The gateway refused a request, or its answer could not be used."""


class GatewayRejected(GatewayError):
    """A definite, verified answer that is not a success (``code``/``status`` in context)."""


class OutcomeUnknown(GatewayError):
    """No answer arrived, or it failed verification: the outcome must be queried, never assumed."""

    exit_code = 3


class JournalError(PaycodeError):
    """The payment journal could not be written or read."""
