"""The bridge's HTTP + WebSocket API (Starlette): routes, the OpenAPI 3.1 document, errors.

Every route is an :class:`Endpoint` of :data:`ENDPOINTS`-building code below: its method, path,
request body (:mod:`paycode.bridge.schema`), parameters and answers. The Starlette routes and the
``/openapi.json`` document are both made from that one table. Every answer that is not a success
is ``{"error": {"code", "message", "field"}}``; nothing ever answers with a traceback.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from importlib import resources
from typing import Any

import anyio
import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..messages import catalogue
from .events import CLOSED, StreamEvent, Subscription
from .metrics import CONTENT_TYPE
from .schema import PAYMENT_CREATE, REFERENCE_PATTERN, REFUND_CREATE, SCHEMAS, TICKET_CREATE, ApiError, Body
from .security import (
    ALLOW_HEADERS,
    LOOPBACK_HOSTS,
    MAX_BODY,
    BodyTooLarge,
    SecurityMiddleware,
    TicketBook,
    token_matches,
)
from .service import Bridge, check_state, parse_since

__all__ = ["BridgeApp", "create_app", "openapi_document"]

API_VERSION = "1.0.0"
#: where the notification receiver answers when the bridge serves it (docs/bridge.md, "Notifications")
NOTIFICATIONS = "/notifications"
HEARTBEAT_SECONDS = 15.0
_REFERENCE = re.compile(REFERENCE_PATTERN)

Handler = Callable[[Request], Awaitable[Response]]


@attrs.frozen
class Param:
    name: str
    where: str  # path, query, header
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@attrs.frozen
class Endpoint:
    method: str
    path: str
    operation_id: str
    summary: str
    handler: Handler
    responses: dict[str, tuple[str, str | None]]  # status -> (description, schema name or None)
    body: Body | None = None
    params: tuple[Param, ...] = ()
    auth: bool = True
    media: str = "application/json"
    tag: str = "payments"


_REF_PARAM = Param(
    "reference",
    "path",
    {"type": "string", "pattern": REFERENCE_PATTERN, "maxLength": 64},
    "the payment's reference (merchantTransactionId)",
    True,
)
_AUTH_ERRORS = {"401": ("no or wrong bearer token", "Error"), "403": ("Host or Origin not allowed", "Error")}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


def error_response(exc: ApiError) -> JSONResponse:
    return _json(exc.body(), exc.status, exc.headers or None)


def _static(name: str) -> bytes:
    return resources.files("paycode.bridge").joinpath("static", name).read_bytes()


class BridgeApp:
    """The API of one :class:`Bridge`; ``asgi`` is the application to serve (security middleware outside)."""

    def __init__(
        self,
        bridge: Bridge,
        *,
        token: str,
        port: int,
        host: str = "127.0.0.1",
        scheme: str = "http",
        hosts: Iterable[str] = (),
        origins: Iterable[str] = (),
        max_body: int = MAX_BODY,
        notifications: Any = None,
    ) -> None:
        self.bridge = bridge
        self.token = token
        self.tickets = TicketBook()
        self.port = port
        self.base_url = f"{scheme}://{_url_host(host)}:{port}"
        names = {*LOOPBACK_HOSTS, host, *hosts}
        self.hosts = sorted(n.strip("[]").lower() for n in names if n)
        own = {f"{scheme}://{_url_host(n)}:{port}" for n in self.hosts}
        self.origins = sorted({*own, *(o.rstrip("/") for o in origins)})
        self._files = {
            name: _static(name) for name in ("index.html", "page.js", "page.css", "client.js", "client.d.ts")
        }
        self.endpoints = self._endpoints()
        routes: list[Any] = [
            Route(e.path, self._wrap(e), methods=[e.method], name=e.operation_id) for e in self.endpoints
        ]
        routes.append(WebSocketRoute("/v1/events", self.websocket_events))
        self.notifications = notifications
        self.starlette = Starlette(
            routes=routes,
            exception_handlers={HTTPException: self._http_error, Exception: self._internal_error},
        )
        self.asgi = SecurityMiddleware(
            self._dispatch, hosts=self.hosts, origins=self.origins, max_body=max_body, on_refused=self._refused
        )
        self.openapi = openapi_document(self.endpoints, self.base_url)
        self._openapi_bytes = json.dumps(self.openapi, ensure_ascii=False).encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi(scope, receive, send)

    async def _dispatch(self, scope: Any, receive: Any, send: Any) -> None:
        """``/notifications`` and below to the notification receiver (when mounted), the rest to the API."""
        path = scope.get("path", "")
        if (
            self.notifications is not None
            and scope["type"] == "http"
            and (path == NOTIFICATIONS or path.startswith(NOTIFICATIONS + "/"))
        ):
            inner = {
                **scope,
                "path": path[len(NOTIFICATIONS) :] or "/",
                "root_path": scope.get("root_path", "") + NOTIFICATIONS,
            }
            await self.notifications(inner, receive, send)
            return
        await self.starlette(scope, receive, send)

    # ------------------------------------------------------------------ plumbing

    def _refused(self, code: str, status: int) -> None:
        self.bridge.metrics.http_requests.labels("refused", str(status)).inc()

    def _wrap(self, endpoint: Endpoint) -> Handler:
        counter = self.bridge.metrics.http_requests

        async def handle(request: Request) -> Response:
            try:
                if endpoint.auth and endpoint.operation_id != "events":  # the stream also takes tickets
                    self._authorize(request)
                response = await endpoint.handler(request)
            except ApiError as exc:
                response = error_response(exc)
            counter.labels(endpoint.path, str(response.status_code)).inc()
            return response

        return handle

    def _authorize(self, request: Request, *, ticket_ok: bool = False) -> None:
        if token_matches(self.token, request.headers.get("authorization")):
            return
        ticket = request.query_params.get("ticket") if ticket_ok else None
        if ticket and self.tickets.redeem(ticket):
            return
        raise ApiError(
            401,
            "unauthorized",
            "missing or wrong token: send 'Authorization: Bearer TOKEN' (PAYCODE_BRIDGE_TOKEN, or the token file "
            "paycode serve names)" + ("; or ?ticket= from POST /v1/tickets" if ticket_ok else ""),
            headers={"WWW-Authenticate": 'Bearer realm="paycode"'},
        )

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            error = ApiError(404, "not_found", f"no such path {request.url.path[:100]!r}; see /openapi.json")
        elif exc.status_code == 405:
            error = ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.url.path[:100]}",
                headers=dict(exc.headers or {}),
            )
        else:
            error = ApiError(exc.status_code, "http_error", str(exc.detail))
        return error_response(error)

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        return error_response(
            ApiError(
                500,
                "internal",
                f"internal error ({type(exc).__name__}); the journal keeps every payment; see the bridge's log",
            )
        )

    async def _body(self, request: Request, body: Body) -> dict[str, Any]:
        try:
            raw = await request.body()
        except BodyTooLarge:
            raise ApiError(413, "body_too_large", f"the request body is larger than {MAX_BODY} bytes") from None
        if body is TICKET_CREATE and not raw.strip():
            return {}
        return body.parse(raw, request.headers.get("content-type"))

    @staticmethod
    def _reference(request: Request) -> str:
        reference = str(request.path_params["reference"])
        if not _REFERENCE.match(reference):
            raise ApiError(
                422,
                "invalid_field",
                "reference must be 1-64 of A-Z a-z 0-9 . _ : - starting with a letter or digit",
                "reference",
            )
        return reference

    # ------------------------------------------------------------------ the table

    def _endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(
                "GET",
                "/",
                "page",
                "The cashier page",
                self.page,
                {"200": ("the page", None)},
                auth=False,
                media="text/html",
                tag="page",
            ),
            Endpoint(
                "GET",
                "/assets/page.js",
                "page_script",
                "The cashier page's script",
                self.page_script,
                {"200": ("ES module", None)},
                auth=False,
                media="text/javascript",
                tag="page",
            ),
            Endpoint(
                "GET",
                "/assets/page.css",
                "page_style",
                "The cashier page's style sheet",
                self.page_style,
                {"200": ("CSS", None)},
                auth=False,
                media="text/css",
                tag="page",
            ),
            Endpoint(
                "GET",
                "/v1/client.js",
                "client_js",
                "The JavaScript client (ES module, no build step)",
                self.client_js,
                {"200": ("ES module", None)},
                auth=False,
                media="text/javascript",
                tag="client",
            ),
            Endpoint(
                "GET",
                "/v1/client.d.ts",
                "client_dts",
                "TypeScript declarations of the client",
                self.client_dts,
                {"200": ("TypeScript", None)},
                auth=False,
                media="text/plain",
                tag="client",
            ),
            Endpoint(
                "GET",
                "/v1/messages",
                "messages",
                "The cashier message catalogue (zh-Hans, zh-Hant, en)",
                self.messages,
                {"200": ("language -> key -> text", "Messages")},
                auth=False,
                tag="client",
            ),
            Endpoint(
                "GET",
                "/openapi.json",
                "openapi",
                "This document",
                self.openapi_json,
                {"200": ("OpenAPI 3.1", None)},
                auth=False,
                tag="service",
            ),
            Endpoint(
                "GET",
                "/healthz",
                "health",
                "Liveness",
                self.health,
                {"200": ("alive", "Health")},
                auth=False,
                tag="service",
            ),
            Endpoint(
                "GET",
                "/metrics",
                "metrics",
                "Prometheus metrics",
                self.metrics,
                {"200": ("text exposition format", None)},
                auth=False,
                media="text/plain",
                tag="service",
            ),
            Endpoint(
                "POST",
                "/v1/payments",
                "create_payment",
                "Start a payment on a lane",
                self.create_payment,
                {
                    "202": (
                        "the payment, started (or the same payment again for a repeated Idempotency-Key)",
                        "Payment",
                    ),
                    "400": ("not a JSON object", "Error"),
                    **_AUTH_ERRORS,
                    "409": ("the lane is busy, or the reference exists", "Error"),
                    "413": ("body too large", "Error"),
                    "415": ("not JSON", "Error"),
                    "422": ("a field is wrong (the answer names it), or the key was used with another body", "Error"),
                    "503": ("the bridge is shutting down", "Error"),
                },
                body=PAYMENT_CREATE,
                params=(
                    Param(
                        "Idempotency-Key",
                        "header",
                        {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
                        "the same key and body again returns the same payment, never a second one",
                    ),
                ),
            ),
            Endpoint(
                "GET",
                "/v1/payments",
                "list_payments",
                "Payments, newest first (the journal and the live ones)",
                self.list_payments,
                {"200": ("payments", "PaymentList"), **_AUTH_ERRORS, "422": ("a parameter is wrong", "Error")},
                params=(
                    Param("since", "query", {"type": "string", "format": "date-time"}, "created at or after"),
                    Param(
                        "status",
                        "query",
                        {"type": "string", "enum": list(SCHEMAS["Payment"]["properties"]["state"]["enum"])},
                        "the API state",
                    ),
                    Param("lane", "query", {"type": "string"}, "the lane"),
                    Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500}, "default 100"),
                ),
            ),
            Endpoint(
                "GET",
                "/v1/payments/{reference}",
                "get_payment",
                "A payment by its reference",
                self.get_payment,
                {
                    "200": ("the payment", "Payment"),
                    **_AUTH_ERRORS,
                    "404": ("no such payment", "Error"),
                    "422": ("the reference is malformed", "Error"),
                },
                params=(_REF_PARAM,),
            ),
            Endpoint(
                "POST",
                "/v1/payments/{reference}/cancel",
                "cancel_payment",
                "Cancel a payment",
                self.cancel_payment,
                {
                    "200": ("cancelled at once (it was waiting for the scan)", "Payment"),
                    "202": ("the documented close path started; the final state arrives as an event", "Payment"),
                    **_AUTH_ERRORS,
                    "404": ("no such payment", "Error"),
                    "409": ("already paid (refund instead) or already ended", "Error"),
                    "422": ("the reference is malformed", "Error"),
                },
                params=(_REF_PARAM,),
            ),
            Endpoint(
                "POST",
                "/v1/payments/{reference}/refunds",
                "refund_payment",
                "Refund part or all of a paid payment",
                self.refund_payment,
                {
                    "200": ("the refund, decided (status SUCCESS or FAILED)", "Refund"),
                    "202": ("the refund is pending at the gateway (journaled; it settles later)", "Refund"),
                    "400": ("not a JSON object", "Error"),
                    **_AUTH_ERRORS,
                    "404": ("no such payment", "Error"),
                    "409": ("not refundable (not paid, or more than what is left)", "Error"),
                    "413": ("body too large", "Error"),
                    "415": ("not JSON", "Error"),
                    "422": ("a field is wrong", "Error"),
                    "502": ("the gateway refused or did not answer", "Error"),
                    "503": ("the journal is unavailable", "Error"),
                },
                body=REFUND_CREATE,
                params=(_REF_PARAM,),
            ),
            Endpoint(
                "GET",
                "/v1/lanes",
                "list_lanes",
                "Lanes and their scanners",
                self.list_lanes,
                {"200": ("lanes", "LaneList"), **_AUTH_ERRORS},
                tag="lanes",
            ),
            Endpoint(
                "POST",
                "/v1/tickets",
                "create_ticket",
                "A single-use ticket (30 s) for the event stream",
                self.create_ticket,
                {
                    "201": ("the ticket", "Ticket"),
                    "400": ("not a JSON object", "Error"),
                    **_AUTH_ERRORS,
                    "413": ("body too large", "Error"),
                    "415": ("not JSON", "Error"),
                    "422": ("a field was given", "Error"),
                },
                body=TICKET_CREATE,
                tag="events",
            ),
            Endpoint(
                "GET",
                "/v1/events",
                "events",
                "Every event as Server-Sent Events (Accept: text/event-stream), or a WebSocket on the same path",
                self.events_sse,
                {
                    "200": ("text/event-stream", None),
                    **_AUTH_ERRORS,
                    "406": ("neither a WebSocket upgrade nor Accept: text/event-stream", "Error"),
                },
                params=(
                    Param("ticket", "query", {"type": "string"}, "a ticket from POST /v1/tickets (browsers)"),
                    Param("last_event_id", "query", {"type": "string"}, "resume after this event id"),
                    Param("Last-Event-ID", "header", {"type": "string"}, "resume after this event id (SSE)"),
                ),
                media="text/event-stream",
                tag="events",
            ),
        ]

    # ------------------------------------------------------------------ files and service

    def _file(self, name: str, media: str, cache: bool = False) -> Response:
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if name == "index.html":
            headers["Content-Security-Policy"] = (
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'"
            )
            headers["Referrer-Policy"] = "no-referrer"
        return Response(self._files[name], media_type=media, headers=headers)

    async def page(self, request: Request) -> Response:
        return self._file("index.html", "text/html; charset=utf-8")

    async def page_script(self, request: Request) -> Response:
        return self._file("page.js", "text/javascript; charset=utf-8")

    async def page_style(self, request: Request) -> Response:
        return self._file("page.css", "text/css; charset=utf-8")

    async def client_js(self, request: Request) -> Response:
        return self._file("client.js", "text/javascript; charset=utf-8")

    async def client_dts(self, request: Request) -> Response:
        return self._file("client.d.ts", "text/plain; charset=utf-8")

    async def messages(self, request: Request) -> Response:
        return _json(catalogue())

    async def openapi_json(self, request: Request) -> Response:
        return Response(self._openapi_bytes, media_type="application/json")

    async def health(self, request: Request) -> Response:
        return _json({"status": "ok", "lanes": len(self.bridge.lanes), "draining": self.bridge.draining})

    async def metrics(self, request: Request) -> Response:
        return Response(self.bridge.metrics.render(), media_type=CONTENT_TYPE)

    # ------------------------------------------------------------------ payments

    async def create_payment(self, request: Request) -> Response:
        body = await self._body(request, PAYMENT_CREATE)
        key = request.headers.get("idempotency-key")
        if key is not None and not (0 < len(key) <= 255 and all(33 <= ord(c) <= 126 for c in key)):
            raise ApiError(
                422, "invalid_field", "Idempotency-Key must be 1-255 visible ASCII characters", "Idempotency-Key"
            )
        payment, replayed = self.bridge.create_payment(body, key)
        headers = {"Location": f"/v1/payments/{payment['reference']}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return _json(payment, 202, headers)

    async def list_payments(self, request: Request) -> Response:
        q = request.query_params
        since = parse_since(q["since"]) if "since" in q else None
        state = check_state(q["status"]) if "status" in q else None
        limit_text = q.get("limit", "100")
        if not (limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= 500):
            raise ApiError(422, "invalid_field", f"limit {limit_text[:20]!r} must be a whole number 1-500", "limit")
        lane = q.get("lane")
        payments = await anyio.to_thread.run_sync(
            lambda: self.bridge.payments(since=since, state=state, lane=lane, limit=int(limit_text))
        )
        return _json({"payments": payments})

    async def get_payment(self, request: Request) -> Response:
        reference = self._reference(request)
        return _json(self.bridge.payment(reference))

    async def cancel_payment(self, request: Request) -> Response:
        reference = self._reference(request)
        status, payment = await anyio.to_thread.run_sync(self.bridge.cancel, reference)
        return _json(payment, status)

    async def refund_payment(self, request: Request) -> Response:
        reference = self._reference(request)
        body = await self._body(request, REFUND_CREATE)
        refund = await anyio.to_thread.run_sync(self.bridge.refund, reference, body["amount"], body.get("currency"))
        return _json(refund, 200 if refund["status"] in ("SUCCESS", "FAILED") else 202)

    async def list_lanes(self, request: Request) -> Response:
        return _json({"lanes": self.bridge.lanes_json()})

    async def create_ticket(self, request: Request) -> Response:
        await self._body(request, TICKET_CREATE)
        return _json({"ticket": self.tickets.issue(), "expires_in": int(self.tickets.seconds)}, 201)

    # ------------------------------------------------------------------ events

    def _subscribe(self, last_id: str | None) -> Subscription:
        return self.bridge.hub.subscribe(last_id[:80] if last_id else None)

    async def events_sse(self, request: Request) -> Response:
        self._authorize(request, ticket_ok=True)
        if "text/event-stream" not in request.headers.get("accept", ""):
            raise ApiError(
                406,
                "not_acceptable",
                "GET /v1/events is a WebSocket, or Server-Sent Events with 'Accept: text/event-stream'",
            )
        last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        sub = self._subscribe(last_id)
        gauge = self.bridge.metrics.stream_clients

        async def stream() -> AsyncIterator[bytes]:
            gauge.inc()
            try:
                yield b"retry: 1000\n\n"
                for event in sub.backlog:
                    yield _sse(event)
                while True:
                    try:
                        event = await asyncio.wait_for(sub.next(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if event is CLOSED:
                        return
                    yield _sse(event)
            finally:
                gauge.dec()
                sub.close()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def websocket_events(self, websocket: WebSocket) -> None:
        ticket = websocket.query_params.get("ticket")
        authorized = token_matches(self.token, websocket.headers.get("authorization")) or (
            bool(ticket) and self.tickets.redeem(str(ticket))
        )
        if not authorized:
            await websocket.close(code=1008, reason="unauthorized: give ?ticket= from POST /v1/tickets")
            return
        # subscribed before the handshake completes: an event emitted once the client sees the socket open is in it
        sub = self._subscribe(websocket.query_params.get("last_event_id"))
        try:
            await websocket.accept()
        except BaseException:
            sub.close()
            raise
        gauge = self.bridge.metrics.stream_clients
        gauge.inc()

        async def watch_disconnect() -> None:
            try:
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        break
            except (WebSocketDisconnect, RuntimeError):
                pass
            sub._deliver(CLOSED)

        watcher = asyncio.create_task(watch_disconnect())
        try:
            for event in sub.backlog:
                await websocket.send_text(event.text)
            while True:
                event = await sub.next()
                if event is CLOSED:
                    break
                await websocket.send_text(event.text)
            if not watcher.done():
                await websocket.close(
                    code=1001 if not sub.overflowed else 1013,
                    reason="bridge stopping" if not sub.overflowed else "too far behind: reconnect and resume",
                )
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            gauge.dec()
            sub.close()
            watcher.cancel()


def _sse(event: StreamEvent) -> bytes:
    head = f"id: {event.id}\n" if event.id else ""
    return f"{head}data: {event.text}\n\n".encode()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def openapi_document(endpoints: Iterable[Endpoint], server: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints`` (what ``GET /openapi.json`` serves)."""
    paths: dict[str, dict[str, Any]] = {}
    bodies: dict[str, Any] = {}
    for e in endpoints:
        op: dict[str, Any] = {"operationId": e.operation_id, "summary": e.summary, "tags": [e.tag]}
        if not e.auth:
            op["security"] = []
        if e.params:
            op["parameters"] = [
                {
                    "name": p.name,
                    "in": p.where,
                    "required": p.required,
                    "schema": p.schema,
                    **({"description": p.description} if p.description else {}),
                }
                for p in e.params
            ]
        if e.body is not None:
            bodies[e.body.name] = e.body.schema()
            op["requestBody"] = {
                "required": bool(e.body.fields),
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{e.body.name}"}}},
            }
        responses: dict[str, Any] = {}
        for status, (description, schema) in e.responses.items():
            answer: dict[str, Any] = {"description": description}
            if schema is not None:
                answer["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
            elif status.startswith("2"):
                answer["content"] = {e.media: {"schema": {"type": "string"}}}
            responses[status] = answer
        op["responses"] = responses
        paths.setdefault(e.path, {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "paycode bridge",
            "version": API_VERSION,
            "description": "Payments with wallet payment codes at a point-of-sale lane (docs/bridge.md). "
            'Every error is {"error": {"code", "message", "field"}}. Allowed CORS request headers: ' + ALLOW_HEADERS,
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**SCHEMAS, **bodies},
        },
    }


def create_app(bridge: Bridge, **options: Any) -> BridgeApp:
    """The ASGI application for ``bridge`` (options as :class:`BridgeApp`)."""
    return BridgeApp(bridge, **options)
