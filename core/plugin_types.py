"""What plugins register, in one module: scanner, wallet, signer and gateway types.

- :class:`ScannerType` (with the :class:`Scanner` protocol its factory returns), by URL scheme;
- :class:`WalletType`, by PingPong ``paymentMethod.type``;
- :class:`SignerType`, by ``signType``;
- :class:`GatewayType` (its factories return a :class:`paycode.gateway.GatewayClient` or
  :class:`paycode.gateway.AsyncGatewayClient`, one method ``send(operation, biz)``), by name.

Factories that need the other registrations (the embedded sandbox takes every registered wallet)
receive a :class:`PluginRegistry`, which :class:`paycode.host.PluginHost` is; this module does
not import the host, so the hook specifications, these types and the host import in one direction.
The old homes still work: ``paycode.scanning.ScannerType``, ``paycode.scanning.Scanner`` and
``paycode.models.WalletType`` are these classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from .currencies import minor_units
from .errors import ConfigError
from .models import CodePattern, PollingPolicy, _describe_lengths, _text_set, _texts

if TYPE_CHECKING:
    from .gateway import AsyncGatewayClient, GatewayClient
    from .models import Scan
    from .scanning import ScannerURL
    from .settings import Settings

__all__ = ["GatewayType", "PluginRegistry", "Scanner", "ScannerType", "SignerType", "WalletType"]


# ---------------------------------------------------------------------------- scanners


@runtime_checkable
class Scanner(Protocol):
    """A scanner the supervisor drives. Blocking, used from one thread at a time.

    - ``open()`` claims the device exclusively; raises :class:`~paycode.errors.ScannerGone`
      when it is not there (the supervisor retries with backoff) or
      :class:`~paycode.errors.ScannerConfigError` when it can never work.
    - ``read(timeout)`` returns the next :class:`~paycode.models.Scan`, or None when
      ``timeout`` seconds passed with none (None means wait forever). It raises
      ``ScannerGone`` when the device disappears and a plain
      :class:`~paycode.errors.ScannerError` for input it discarded (garbage, overlong
      frames); the supervisor reports either as an event and goes on.
    - ``close()`` releases the device; safe to call twice.
    """

    def open(self) -> None: ...

    def read(self, timeout: float | None) -> Scan | None: ...

    def close(self) -> None: ...


@attrs.frozen
class ScannerType:
    """A scanner factory registered for one URL scheme.

    ``params`` names the URL parameters the factory understands (besides
    :data:`paycode.scanning.CORE_PARAMS`); any other parameter is rejected before the factory runs.
    ``list_devices`` (optional) returns the devices of this kind present now, each a
    JSON-able dict with at least ``url`` and ``description``; ``paycode devices`` lists them.
    ``defaults`` (optional) are URL parameters the factory gets when a URL does not give
    them (a vendor's baud rate, ``{"baudrate": "115200"}``); :meth:`build` applies them.
    A scanner the factory returns may also have the optional feedback capability
    (:class:`paycode.scanning.FeedbackScanner`).
    """

    scheme: str
    factory: Callable[[ScannerURL], Scanner]
    params: Mapping[str, str] = attrs.field(factory=dict)
    description: str = ""
    list_devices: Callable[[], list[dict[str, Any]]] | None = None
    defaults: Mapping[str, str] = attrs.field(factory=dict)

    def build(self, url: ScannerURL) -> Scanner:
        """A new scanner for ``url``, with this type's :attr:`defaults` filled in."""
        return self.factory(url.with_defaults(self.defaults))


# ---------------------------------------------------------------------------- wallets


def _patterns(values: Iterable[CodePattern]) -> tuple[CodePattern, ...]:
    return tuple(values)


def _default_payment_method(wallet: WalletType, code: str) -> dict[str, Any]:
    return {"type": wallet.name, "scanCodeId": code}


@attrs.frozen
class WalletType:
    """A wallet payment method the gateway accepts for customer-presented codes.

    ``name`` is PingPong's ``paymentMethod.type`` (``Wechat-Offline``). ``payload`` builds
    the ``paymentMethod`` object; the default is ``{"type": name, "scanCodeId": code}``.
    ``examples`` are documented codes used by conformance tests and the sandbox listing.
    """

    name: str
    patterns: tuple[CodePattern, ...] = attrs.field(converter=_patterns)
    currencies: frozenset[str] = attrs.field(converter=_text_set)
    polling: PollingPolicy
    display_name: str = ""
    examples: tuple[str, ...] = attrs.field(default=(), converter=_texts, repr=False)
    payload: Callable[[WalletType, str], dict[str, Any]] = attrs.field(default=_default_payment_method, repr=False)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.name or not self.name.isascii() or any(c.isspace() for c in self.name):
            raise ConfigError(f"wallet name {self.name!r} must be non-empty ASCII without spaces, e.g. Wechat-Offline")
        if not self.patterns:
            raise ConfigError(f"wallet {self.name} has no code pattern; give at least one CodePattern")
        unknown = sorted(c for c in self.currencies if minor_units(c) is None)
        if unknown or not self.currencies:
            raise ConfigError(
                f"wallet {self.name} currencies {sorted(self.currencies)!r} must be ISO 4217 codes (at least one)"
            )

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def mismatch(self, code: str) -> str | None:
        """None when some pattern accepts ``code``; else what is wrong, naming every accepted prefix or length.

        A code of a right length is told the prefixes of all patterns of that length
        ("prefix 99…, expected 10/11/12/13/14/15/160"), otherwise every accepted length.
        """
        reasons = [p.mismatch(code) for p in self.patterns]
        if not reasons or any(r is None for r in reasons):
            return None if reasons else "no code pattern"
        if not (code.isascii() and code.isdigit()):
            return reasons[0]
        same_length = [p for p in self.patterns if len(code) in p.lengths]
        if same_length:
            prefixes = sorted({prefix for p in same_length for prefix in p.prefixes})
            width = max(len(prefix) for prefix in prefixes)
            return f"prefix {code[:width]}…, expected {'/'.join(prefixes)}"
        lengths = tuple(sorted({n for p in self.patterns for n in p.lengths}))
        return f"length {len(code)}, expected {_describe_lengths(lengths)}"

    def accepts(self, code: str) -> bool:
        """True when some pattern accepts ``code``: what classification asks on every scan.

        :meth:`mismatch` says why not; a subclass that changes the rules overrides both.
        """
        return any(pattern.accepts(code) for pattern in self.patterns)

    def payment_method(self, code: str) -> dict[str, Any]:
        """The ``paymentMethod`` object of a unifiedPay request for ``code``."""
        return self.payload(self, code)


# ---------------------------------------------------------------------------- signers and gateways


@attrs.frozen
class SignerType:
    """A ``signType``: ``digest(content_bytes)`` returns the uppercase hex digest (PingPong V4 rule)."""

    sign_type: str
    digest: Callable[[bytes], str]
    description: str = ""


class PluginRegistry(Protocol):
    """What a gateway factory receives besides the settings: the registrations of the host building it.

    :class:`paycode.host.PluginHost` is one; a factory should ask no more of it than this.
    """

    settings: Settings

    @property
    def scanners(self) -> Mapping[str, ScannerType]: ...

    @property
    def wallets(self) -> Mapping[str, WalletType]: ...

    @property
    def signers(self) -> Mapping[str, SignerType]: ...

    @property
    def gateways(self) -> Mapping[str, GatewayType]: ...

    def signer(self, sign_type: str | None = None) -> SignerType:
        """The signer for ``sign_type`` (default the settings' ``sign_type``); ConfigError when not installed."""
        ...


@attrs.frozen
class GatewayType:
    """A gateway client by name (``pingpong``, ``sandbox``).

    ``factory(settings, registry)`` returns a :class:`paycode.gateway.GatewayClient`, whose one
    operation is ``send(operation, biz) -> GatewayAnswer``; ``registry`` (a :class:`PluginRegistry`,
    the host) gives it the registered wallets and signers (the embedded sandbox accepts every
    registered wallet type). ``async_factory`` (optional, same arguments) returns the
    :class:`paycode.gateway.AsyncGatewayClient`; ``PluginHost.async_gateway()`` needs it.
    """

    name: str
    factory: Callable[[Settings, PluginRegistry], GatewayClient]
    description: str = ""
    async_factory: Callable[[Settings, PluginRegistry], AsyncGatewayClient] | None = None
