"""Built-in gateway plugin ``pingpong``: the PingPong Checkout V4 client on httpx.

The base URL comes from the ``gateway`` setting: a site name (``pingpong-sandbox``,
``fra``, ``sg``, ``us``; see :data:`paycode.settings.SITES`) or an explicit base URL.
Plain ``http://`` is accepted only for a loopback host; TLS certificates are always
verified. Credentials (``acc_id``, ``client_id``, the salt) must all be set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paycode.errors import ConfigError
from paycode.hookspecs import hookimpl
from paycode.plugin_types import GatewayType
from paycode.settings import ENV, SITES

if TYPE_CHECKING:
    from collections.abc import Callable

    from paycode.gateway import AsyncPingPongClient, PingPongClient, PingPongProtocol
    from paycode.plugin_types import PluginRegistry
    from paycode.settings import Settings


def _credential(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if value and (any(c in "<>" or not c.isprintable() for c in value) or value != value.strip()):
        raise ConfigError(f"setting {name} ({ENV[name]}) contains spaces, '<', '>' or control characters")
    return str(value or "")


def protocol(settings: Settings, host: PluginRegistry) -> PingPongProtocol:
    """The request builder and answer verifier for the configured site and merchant; ConfigError when incomplete."""
    from paycode.gateway import (  # httpx and ssl load only when a gateway is built
        Credentials,
        PingPongProtocol,
        check_base_url,
    )

    base = settings.base_url
    if base is None:
        raise ConfigError(
            f"gateway 'sandbox' is the embedded sandbox, not a PingPong site; for PingPong set {ENV['gateway']} to "
            f"one of {', '.join(SITES)} or a base URL"
        )
    base = check_base_url(base)
    names = {"acc_id": "accId", "client_id": "clientId", "salt": "the salt"}
    missing = [f"{ENV[n]} ({label})" for n, label in names.items() if not _credential(settings, n)]
    if missing:
        raise ConfigError(
            f"gateway {settings.gateway}: missing credentials: set {', '.join(missing)} "
            f"(or acc_id/client_id and salt_file in paycode.toml; the salt may also come from {ENV['salt_file']})"
        )
    assert settings.acc_id and settings.client_id and settings.salt  # checked just above
    return PingPongProtocol(
        base_url=base,
        credentials=Credentials(settings.acc_id, settings.client_id, settings.salt),
        signer=host.signer(settings.sign_type),
        signers=host.signers,
    )


def make_client(settings: Settings, host: PluginRegistry) -> PingPongClient:
    from paycode.gateway import PingPongClient  # httpx and ssl load only when a gateway is built

    return PingPongClient(
        protocol(settings, host), connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout
    )


def make_async_client(settings: Settings, host: PluginRegistry) -> AsyncPingPongClient:
    from paycode.gateway import AsyncPingPongClient  # httpx and ssl load only when a gateway is built

    return AsyncPingPongClient(
        protocol(settings, host), connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout
    )


@hookimpl
def paycode_register_gateways(register: Callable[[GatewayType], None]) -> None:
    register(
        GatewayType(
            name="pingpong",
            factory=make_client,
            async_factory=make_async_client,
            description="PingPong Checkout V4 (sites pingpong-sandbox, fra, sg, us, or a base URL)",
        )
    )
