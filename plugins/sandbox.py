"""Built-in gateway plugin ``sandbox``: a PingPong client talking to an embedded local sandbox.

The factory starts a :class:`paycode.sandbox.SandboxServer` on 127.0.0.1 (a free port)
that accepts every registered wallet type and signer, and returns a ``pingpong`` client
pointed at it with the sandbox's own credentials. Closing the client stops the server,
so every client has its own sandbox: orders do not outlive it. To keep orders across
commands, run ``paycode sandbox`` and set ``PAYCODE_GATEWAY`` to the URL it prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paycode.hookspecs import hookimpl
from paycode.plugin_types import GatewayType

if TYPE_CHECKING:
    from collections.abc import Callable

    from paycode.gateway import AsyncPingPongClient, PingPongClient, PingPongProtocol
    from paycode.plugin_types import PluginRegistry
    from paycode.settings import Settings


def _start(settings: Settings, host: PluginRegistry) -> tuple[Any, PingPongProtocol]:
    from paycode.gateway import Credentials, PingPongProtocol  # httpx and ssl load only when a gateway is built
    from paycode.sandbox import SandboxServer

    signer = host.signer(settings.sign_type)  # refuses an unknown signType before a server starts
    server = SandboxServer(host="127.0.0.1", port=0, wallets=host.wallets.values(), signers=host.signers)
    server.start()
    try:
        creds = server.credentials
        proto = PingPongProtocol(
            base_url=server.base_url,
            credentials=Credentials(creds.acc_id, creds.client_id, creds.salt),
            signer=signer,
            signers=host.signers,
        )
    except BaseException:
        server.stop()
        raise
    return server, proto


def make_client(settings: Settings, host: PluginRegistry) -> PingPongClient:
    from paycode.gateway import PingPongClient  # httpx and ssl load only when a gateway is built

    server, proto = _start(settings, host)
    return PingPongClient(
        proto, connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout, on_close=server.stop
    )


def make_async_client(settings: Settings, host: PluginRegistry) -> AsyncPingPongClient:
    from paycode.gateway import AsyncPingPongClient  # httpx and ssl load only when a gateway is built

    server, proto = _start(settings, host)
    return AsyncPingPongClient(
        proto, connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout, on_close=server.stop
    )


@hookimpl
def paycode_register_gateways(register: Callable[[GatewayType], None]) -> None:
    register(
        GatewayType(
            name="sandbox",
            factory=make_client,
            async_factory=make_async_client,
            description="embedded local sandbox gateway on 127.0.0.1 (paycode demo, tests; no account needed)",
        )
    )
