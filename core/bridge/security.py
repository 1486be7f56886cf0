"""The bridge's security rules: the bearer token, WebSocket tickets, and the Host / Origin / size middleware.

- **Token.** Every ``/v1`` call but the public files (``client.js``, ``client.d.ts``, ``messages``)
  carries ``Authorization: Bearer TOKEN``. The token is ``PAYCODE_BRIDGE_TOKEN``, else the one in
  the token file (setting ``bridge_token_file``), generated on first start with mode 600. Only
  the file's path is ever printed.
- **Tickets.** A browser cannot set headers on a WebSocket or an EventSource: it asks
  ``POST /v1/tickets`` (with the token) for a single-use ticket valid for 30 s and connects
  with ``?ticket=…``.
- **Host.** The ``Host`` header must name one of the allowed hosts (loopback names, the address
  the bridge listens on, and ``bridge_hosts``): a page on another name that resolves to
  127.0.0.1 (DNS rebinding) is refused.
- **Origin.** A request with an ``Origin`` header must come from the bridge itself or one of
  ``bridge_origins``; CORS and Private Network Access preflights are answered for those only.
- **Size.** Request bodies above :data:`MAX_BODY` bytes are refused with 413.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..settings import read_secret_file

__all__ = [
    "MAX_BODY",
    "BodyTooLarge",
    "SecurityMiddleware",
    "TicketBook",
    "load_token",
    "token_matches",
]

MAX_BODY = 16 * 1024
TOKEN_ENV = "PAYCODE_BRIDGE_TOKEN"
TICKET_SECONDS = 30
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
ALLOW_METHODS = "GET, POST, OPTIONS"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def default_token_file() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "paycode", "bridge-token")


def load_token(token_file: str | None, env: MutableMapping[str, str] | None = None) -> tuple[str, str | None]:
    """``(token, path)``: the token from ``PAYCODE_BRIDGE_TOKEN`` (path None), else from ``token_file``,
    generated there (mode 600, folders 700) when the file does not exist."""
    env = os.environ if env is None else env
    given = env.get(TOKEN_ENV, "").strip()
    if given:
        if len(given) < 16 or any(c.isspace() for c in given):
            raise ConfigError(f"{TOKEN_ENV} must be at least 16 characters without spaces (e.g. openssl rand -hex 32)")
        return given, None
    path = Path(token_file or default_token_file()).expanduser()
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another bridge made it a moment ago: read that one
        except OSError as exc:
            raise ConfigError(f"bridge token file {str(path)!r} cannot be created: {exc.strerror}") from None
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
    token = read_secret_file(path)
    if len(token) < 16:
        raise ConfigError(f"bridge token file {str(path)!r} holds a token shorter than 16 characters")
    return token, str(path)


def token_matches(expected: str, authorization: str | None) -> bool:
    """True when ``authorization`` is ``Bearer <expected>`` (constant-time compare)."""
    if not authorization:
        return False
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8", "replace"), expected.encode("utf-8"))


class TicketBook:
    """Single-use tickets for the event stream, each valid for ``seconds``."""

    def __init__(self, seconds: float = TICKET_SECONDS) -> None:
        self.seconds = seconds
        self._tickets: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        ticket = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._tickets = {t: exp for t, exp in self._tickets.items() if exp > now}
            self._tickets[ticket] = now + self.seconds
        return ticket

    def redeem(self, ticket: str) -> bool:
        with self._lock:
            expires = self._tickets.pop(ticket, None)
        return expires is not None and expires > time.monotonic()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header, without the port, lower-case (``[::1]:8350`` -> ``::1``)."""
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class SecurityMiddleware:
    """Host allow-list, Origin/CORS/Private-Network-Access, and the body size limit, before any route."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: Iterable[str],
        origins: Iterable[str],
        max_body: int = MAX_BODY,
        on_refused: Callable[[str, int], None] | None = None,
    ) -> None:
        self.app = app
        self.hosts = frozenset(h.strip("[]").lower() for h in hosts)
        self.origins = frozenset(o.rstrip("/").lower() for o in origins)
        self.max_body = max_body
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is None or host_name(host) not in self.hosts:
            shown = "none" if host is None else repr(host[:80])
            await self._refuse(
                scope,
                send,
                403,
                "host_not_allowed",
                f"Host {shown} is not one this bridge answers to; allowed: "
                f"{', '.join(sorted(self.hosts))} (setting bridge_hosts)",
            )
            return
        origin = _header(scope, b"origin")
        if origin is not None and origin.rstrip("/").lower() not in self.origins:
            await self._refuse(
                scope,
                send,
                403,
                "origin_not_allowed",
                f"Origin {origin[:80]!r} is not allowed; allowed: "
                f"{', '.join(sorted(self.origins))} (setting bridge_origins)",
            )
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            await self._preflight(scope, send, origin)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                await self._refuse(scope, send, 400, "invalid_header", "Content-Length must be a number of bytes")
                return
            if int(length) > self.max_body:
                await self._too_large(scope, send)
                return
        await self.app(scope, self._limited(receive), self._with_cors(send, origin))

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        return limited

    def _with_cors(self, send: Send, origin: str | None) -> Send:
        if origin is None:
            return send

        async def cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                headers.append((b"vary", b"Origin"))
                message["headers"] = headers
            await send(message)

        return cors

    async def _preflight(self, scope: Scope, send: Send, origin: str | None) -> None:
        headers = [
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]
        if origin is not None:
            headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
        if (_header(scope, b"access-control-request-private-network") or "").lower() == "true":
            headers.append((b"access-control-allow-private-network", b"true"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await self._refuse(
            scope,
            send,
            413,
            "body_too_large",
            f"the request body is larger than {self.max_body} bytes; API bodies are small JSON objects",
        )

    async def _refuse(self, scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        if self.on_refused is not None:
            self.on_refused(code, status)
        if scope["type"] == "websocket":
            # refuse the handshake: an HTTP 403 answer (the ASGI websocket denial response when supported)
            await send({"type": "websocket.close", "code": 1008, "reason": code})
            return
        body = json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised from receive() when a body without Content-Length grows past the limit (the route answers 413)."""
