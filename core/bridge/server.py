"""Serving the bridge with uvicorn: loopback unless allowed otherwise (then TLS), a pre-bound socket, draining.

:class:`BridgeServer` binds its socket first (so port 0 gives a free port whose URL is known
before serving), then runs uvicorn on it: in the calling thread (:meth:`serve`, which handles
SIGTERM and SIGINT) or in a background thread (:meth:`start` / :meth:`stop`, for tests and
embedding). The first SIGTERM or SIGINT drains: no new payments (503), payments still waiting
for a scan are cancelled, payments under way are followed to a final or journaled state, then
the event streams end and the server stops; a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import ssl
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Any

import uvicorn

from ..errors import ConfigError
from ..netaddr import is_loopback
from .app import BridgeApp
from .service import Bridge

__all__ = ["DEFAULT_PORT", "BridgeServer"]

DEFAULT_PORT = 8350


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, owner: BridgeServer) -> None:
        super().__init__(config)
        self.owner = owner

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # not recorded in _captured_signals: uvicorn would raise the signal again at the end (exit status 143)
        if self.owner.draining.is_set():
            self.force_exit = True
            self.should_exit = True
            return
        self.owner.drain_in_background()


class BridgeServer:
    """One bridge served over HTTP; see the module docstring."""

    def __init__(
        self,
        bridge: Bridge,
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        allow_remote: bool = False,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        origins: Iterable[str] = (),
        hosts: Iterable[str] = (),
        drain_timeout: float | None = None,
        notifications: Any = None,
    ) -> None:
        if (ssl_certfile is None) != (ssl_keyfile is None):
            raise ConfigError(
                "give both --ssl-certfile and --ssl-keyfile (a certificate and its private key), or neither"
            )
        if not is_loopback(host):
            if not allow_remote:
                raise ConfigError(
                    f"--host {host} is not a loopback address; the bridge listens on 127.0.0.1 unless "
                    "--allow-remote is given (with --ssl-certfile and --ssl-keyfile)"
                )
            if ssl_certfile is None:
                raise ConfigError(f"--allow-remote (--host {host}) requires TLS: give --ssl-certfile and --ssl-keyfile")
        if ssl_certfile is not None and ssl_keyfile is not None:
            _check_certificate(ssl_certfile, ssl_keyfile)
        self.bridge = bridge
        self.draining = threading.Event()
        self.drain_timeout = drain_timeout
        self.sock = _bind(host, port)
        self.port = self.sock.getsockname()[1]
        scheme = "https" if ssl_certfile else "http"
        self.app = BridgeApp(
            bridge,
            token=token,
            port=self.port,
            host=host,
            scheme=scheme,
            hosts=hosts,
            origins=origins,
            notifications=notifications,
        )
        self.url = self.app.base_url
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            timeout_graceful_shutdown=5,
            ws_ping_interval=20.0,
            ws_max_size=64 * 1024,
            # events are a few hundred bytes of JSON, mostly to a client on the same machine: compressing each
            # one (and the client inflating it) cost ~0.8 ms of CPU a payment (docs/benchmarks.md, section 8)
            ws_per_message_deflate=False,
        )
        self.server = _Server(config, self)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ serving

    def handle_signals_until_serving(self) -> None:
        """Drain on SIGTERM/SIGINT from now on; uvicorn's own handlers take over inside :meth:`serve`."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.server.handle_exit(signum, frame))

    def serve(self) -> None:
        """Serve in this thread until drained (SIGTERM/SIGINT when this is the main thread)."""
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        finally:
            self.sock.close()

    def start(self) -> BridgeServer:
        """Serve in a background thread; returns when the server accepts connections."""
        self._thread = threading.Thread(target=self.serve, name="paycode-bridge-server", daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise ConfigError(f"the bridge server on {self.url} stopped while starting")
            self._thread.join(0.01)
        return self

    def drain_in_background(self) -> None:
        """Start draining (see the module docstring) without waiting for it."""
        if self.draining.is_set():
            return
        self.draining.set()
        threading.Thread(target=self._drain, name="paycode-bridge-drain", daemon=True).start()

    def _drain(self) -> None:
        self.bridge.begin_drain()
        self.bridge.wait_idle(self.drain_timeout)
        self.bridge.hub.close()
        self.server.should_exit = True

    def stop(self, timeout: float = 60.0) -> None:
        """Drain and stop a server started with :meth:`start` (the bridge itself stays open)."""
        self.drain_in_background()
        if self._thread is not None:
            self._thread.join(timeout)

    def kill(self) -> None:
        """Stop serving at once, without draining (tests)."""
        self.draining.set()
        self.server.should_exit = True
        self.server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host.strip("[]")).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says TCP;
    # with proto 0 a keep-alive answer written in two parts waits for the client's delayed ACK (about 40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _check_certificate(certfile: str, keyfile: str) -> None:
    """Load the certificate and key before listening, so a wrong file is one clear line, not a crash after it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"--ssl-certfile {certfile} / --ssl-keyfile {keyfile} cannot be used: {reason}; give a PEM certificate "
            "(chain) and its PEM private key"
        ) from None
