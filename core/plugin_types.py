"""What signer and gateway plugins register."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .host import PluginHost
    from .settings import Settings

__all__ = ["GatewayType", "SignerType"]


@attrs.frozen
class SignerType:
    """A ``signType``: ``digest(content_bytes)`` returns the uppercase hex digest (PingPong V4 rule)."""

    sign_type: str
    digest: Callable[[bytes], str]
    description: str = ""


@attrs.frozen
class GatewayType:
    """A gateway client by name (``pingpong``, ``sandbox``).

    ``factory(settings, host)`` returns a client object implementing
    :class:`paycode.gateway.GatewayClient`; ``host`` gives it the registered wallets
    and signers (the embedded sandbox accepts every registered wallet type).
    ``async_factory`` (optional, same arguments) returns the
    :class:`paycode.gateway.AsyncGatewayClient`; ``PluginHost.async_gateway()`` needs it.
    """

    name: str
    factory: Callable[[Settings, PluginHost], Any]
    description: str = ""
    async_factory: Callable[[Settings, PluginHost], Any] | None = None
