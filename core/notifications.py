"""PingPong's asynchronous notifications: verified in constant time, checked, applied to the journal idempotently.

A notification is POSTed with the request envelope and signature rule
(:mod:`paycode.signing`). :func:`parse_notification` verifies it (signature compared in
constant time, and the merchant account) and checks what it says: a known ``notifyType`` and
``status``, an ``amount`` that is a plain decimal (never missing, never ``1e1``) and a
``currency``. :func:`apply_notification` checks it against the journal (the order or refund
must be there, in the same amount and currency) and records it. Duplicates and notifications
arriving out of order change nothing: a state only moves forward (``INIT``/``UNKNOWN`` <
``PROCESSING`` < ``FAILED`` < ``CLOSED``/``CANCEL`` < ``SUCCESS``). A SUCCESS always wins, so a
charge is never lost from the journal; on an order the lane reported "not paid" the journal
marks it abandoned-and-paid (:func:`paycode.journal.late_success_reason`), and recovery refunds it.

The receiver is an ASGI application (Starlette), :func:`receiver_app`, answering 2xx (body
``SUCCESS``) for applied or duplicate notifications and non-2xx (body ``FAIL``) for anything
else, so that PingPong retries. The bridge mounts it; :class:`NotificationReceiver` serves it
with uvicorn for ``paycode notifications``: per-connection read timeouts (a client that does
not send its whole request in time is disconnected), a connection limit, journal writes in a
bounded worker pool, and quiet logging of clients that go away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread
import attrs
import h11
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import bizcontent
from .errors import ConfigError, JournalError, MessageError, OrderError, SignatureError, UsageError
from .gateway import Credentials
from .journal import JournalBackend
from .models import PaymentStatus
from .netaddr import is_loopback
from .plugin_types import SignerType
from .receiver_limits import DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_TIMEOUT, DEFAULT_WORKERS
from .signing import verify_message

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_WORKERS",
    "MAX_BODY",
    "NOTIFY_STATUSES",
    "Notification",
    "NotificationHandler",
    "NotificationReceiver",
    "ReceiverResult",
    "apply_notification",
    "parse_notification",
    "receiver_app",
    "server_config",
]

log = logging.getLogger("paycode.notifications")

#: the largest notification body read (a real one is well under 4 KiB)
MAX_BODY = 64 * 1024
#: the largest request head (request line and headers) accepted
MAX_HEAD = 16 * 1024

#: the statuses each ``notifyType`` may carry; any other is refused. ``CAPTURE`` (pre-authorisations) is not
#: tracked by a barcode lane: it is acknowledged and ignored whatever it says.
NOTIFY_STATUSES: Mapping[str, frozenset[str]] = {
    "RECHARGE": frozenset({"PROCESSING", "SUCCESS", "FAILED", "CLOSED", "CANCEL"}),
    "VOID": frozenset({"PROCESSING", "SUCCESS", "FAILED"}),
    "REFUND": frozenset({"PROCESSING", "SUCCESS", "FAILED"}),
}
_IGNORED_TYPES = frozenset({"CAPTURE"})

_ORDER_RANK = {
    PaymentStatus.INIT: 0,
    PaymentStatus.UNKNOWN: 0,
    PaymentStatus.PROCESSING: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CLOSED: 3,
    PaymentStatus.CANCEL: 3,
    PaymentStatus.SUCCESS: 4,
}
_REFUND_RANK = {"PENDING": 0, "UNKNOWN": 1, "PROCESSING": 1, "FAILED": 2, "SUCCESS": 3}
#: payment states whose arrival wakes the lane waiting on the order
_WAKING = frozenset({PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.CANCEL})


@attrs.frozen
class Notification:
    """A verified notification: what it is about and the status it reports."""

    notify_type: str
    order_id: str
    status: str
    transaction_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    refund_id: str | None = None
    biz: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def as_json(self) -> dict[str, Any]:
        """JSON-able summary; no payment code (``paymentMethod`` is left out)."""
        return {
            "notify_type": self.notify_type,
            "order": self.order_id,
            "status": self.status,
            "transaction_id": self.transaction_id,
            "amount": None if self.amount is None else str(self.amount),
            "currency": self.currency,
            "refund_id": self.refund_id,
        }


def _text(biz: Mapping[str, Any], key: str) -> str | None:
    value = biz.get(key)
    return value if isinstance(value, str) and value else None


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: a sender's junk never floods a log line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _amount(biz: Mapping[str, Any], order_id: str) -> Decimal:
    """The notification's amount: required, and a plain decimal (``10.00``, ``"10.000000"``), never ``1e1``."""
    if "amount" not in biz or biz["amount"] in (None, ""):
        raise MessageError(
            f"notification for order {order_id!r} has no amount; a notification must state the amount it is about"
        )
    amount = biz["amount"]
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise MessageError(
            f"notification for order {_shown(order_id)} has amount {_shown(amount)}, which is not a plain decimal "
            "amount "
            '(accepted: digits with an optional fraction, such as 10.00 or "10.000000"; no exponent)'
        )
    amount = Decimal(amount)
    if not amount.is_finite() or amount < 0:
        raise MessageError(f"notification for order {order_id!r} has amount {amount}, which is not an amount")
    return amount


def parse_notification(
    body: bytes | str | Mapping[str, Any], *, credentials: Credentials, signers: Mapping[str, SignerType]
) -> Notification:
    """Verify a notification body and check its fields.

    SignatureError when it is not from the gateway (signature, merchant account); MessageError
    when it is unreadable or says something paycode does not accept: no order id, an unknown
    ``notifyType`` or ``status``, no amount or one that is not a plain decimal, no currency.
    """
    if isinstance(body, Mapping):
        message: Any = dict(body)
    else:
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise MessageError("notification body is not JSON") from None
    if not isinstance(message, dict):
        raise MessageError("notification body is not a JSON object")
    if message.get("signType") in (None, "") or message.get("sign") in (None, ""):
        raise SignatureError(
            f"notification is unsigned (no signType or sign); accepted: signed with {', '.join(sorted(signers))}"
        )
    sign_type = str(message.get("signType"))
    signer = signers.get(sign_type)
    if signer is None:
        raise SignatureError(f"notification signType {sign_type!r} is not installed ({', '.join(sorted(signers))})")
    try:
        verified = verify_message(message, credentials.salt, signer)  # constant-time comparison
    except MessageError:
        verified = False
    if not verified:
        raise SignatureError("notification signature does not verify")
    if message.get("accId") != credentials.acc_id or message.get("clientId") != credentials.client_id:
        raise SignatureError("notification is for another merchant account (accId/clientId differ)")
    text = message.get("bizContent")
    if not isinstance(text, str):
        raise MessageError("notification has no bizContent text")
    biz = bizcontent.parse(text)
    order_id = _text(biz, "merchantTransactionId")
    status = _text(biz, "status")
    if order_id is None or status is None:
        raise MessageError("notification bizContent lacks merchantTransactionId or status")
    for name, value in (("merchantTransactionId", order_id), ("merchantRefundId", _text(biz, "merchantRefundId"))):
        if value is not None and len(value) > 64:
            raise MessageError(
                f"notification {name} {_shown(value)} is {len(value)} characters long; the gateway's ids are at most 64"
            )
    status = status.upper()
    kind = (_text(biz, "notifyType") or "RECHARGE").upper()
    if kind not in NOTIFY_STATUSES and kind not in _IGNORED_TYPES:
        known = ", ".join(sorted({*NOTIFY_STATUSES, *_IGNORED_TYPES}))
        raise MessageError(f"notification for order {order_id!r} has notifyType {kind!r}, unknown; accepted: {known}")
    amount: Decimal | None = None
    currency = _text(biz, "currency")
    if kind in NOTIFY_STATUSES:
        accepted = NOTIFY_STATUSES[kind]
        if status not in accepted:
            raise MessageError(
                f"notification {kind} for order {order_id!r} has status {status!r}, which paycode does not know "
                f"for it; accepted: {', '.join(sorted(accepted))}"
            )
        amount = _amount(biz, order_id)
        if currency is None:
            given = biz.get("currency")
            if given not in (None, ""):
                raise MessageError(
                    f"notification for order {order_id!r} has currency {_shown(given)}, which is not text; "
                    "accepted: an ISO 4217 code such as CNY"
                )
            raise MessageError(f"notification for order {order_id!r} has no currency; it must name the amount's")
    return Notification(
        notify_type=kind,
        order_id=order_id,
        status=status,
        transaction_id=_text(biz, "transactionId"),
        amount=amount,
        currency=currency,
        refund_id=_text(biz, "merchantRefundId"),
        biz=biz,
    )


def apply_notification(journal: JournalBackend, note: Notification) -> str:
    """Record a verified notification: ``applied``, ``duplicate`` (nothing new, or older than what is known)
    or ``ignored`` (a kind the lane does not track, such as CAPTURE). OrderError for unknown orders/refunds
    and for an amount or currency that differs from the journal's."""
    record = journal.order(note.order_id)
    if record is None:
        raise OrderError(f"notification for order {note.order_id!r}, which is not in the journal", order=note.order_id)
    if note.currency and note.currency != record.currency:
        raise OrderError(
            f"notification for order {note.order_id!r} is in {note.currency}, the order in {record.currency}"
        )
    kind = note.notify_type
    if kind == "REFUND":
        return _apply_refund(journal, note)
    if kind not in ("RECHARGE", "VOID"):
        return "ignored"
    if note.amount is not None and note.amount != record.amount:
        raise OrderError(f"notification for order {note.order_id!r} says {note.amount}, the order is {record.amount}")
    if kind == "VOID":
        if note.status != "SUCCESS":
            return "ignored"
        status = PaymentStatus.CLOSED
    else:
        status = PaymentStatus(note.status)
    if _ORDER_RANK.get(status, 0) <= _ORDER_RANK.get(record.status, 0):
        if note.transaction_id and not record.transaction_id:
            journal.set_state(note.order_id, record.status, transaction_id=note.transaction_id)
        return "duplicate"
    # on an order the lane reported "not paid", the journal marks a SUCCESS abandoned-and-paid (same transaction)
    journal.set_state(note.order_id, status, transaction_id=note.transaction_id, note=f"notification {kind}")
    return "applied"


def _apply_refund(journal: JournalBackend, note: Notification) -> str:
    refunds = {r.refund_id: r for r in journal.refunds(note.order_id)}
    refund = refunds.get(note.refund_id or "")
    if refund is None:
        raise OrderError(f"refund notification for {note.refund_id!r} of order {note.order_id!r}, not in the journal")
    if note.amount is not None and note.amount != refund.amount:
        raise OrderError(
            f"refund notification for {refund.refund_id!r} of order {note.order_id!r} says {note.amount}, "
            f"the refund is {refund.amount}"
        )
    if _REFUND_RANK[note.status] <= _REFUND_RANK.get(refund.status, 0):
        return "duplicate"
    journal.end_refund(note.order_id, refund.refund_id, status=note.status, detail="notification")
    return "applied"


# ---------------------------------------------------------------------------- handling one POST


@attrs.frozen
class ReceiverResult:
    """What the receiver did with one POST: ``outcome`` applied/duplicate/ignored/rejected, and the HTTP status."""

    outcome: str
    http_status: int
    notification: Notification | None = None
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"outcome": self.outcome, "http_status": self.http_status}
        if self.notification is not None:
            data.update(self.notification.as_json())
        if self.error:
            data["error"] = self.error
        return data


class _Notifiable(Protocol):
    def notify(self, order_id: str) -> None: ...


class NotificationHandler:
    """Verifies, checks and applies one notification body; reports the result; wakes the waiting lane.

    Thread-safe: the receiver calls :meth:`handle` from its worker threads. ``waker`` is any
    object with ``notify(order_id)`` (:class:`paycode.wake.Waker`); it is told after a payment
    state is applied, so a lane sleeping between polls of that order queries at once.
    ``on_result`` sees every :class:`ReceiverResult` before the answer is sent (calls are
    serialised, so an observer printing lines never interleaves them).
    """

    def __init__(
        self,
        journal: JournalBackend,
        *,
        credentials: Credentials,
        signers: Mapping[str, SignerType],
        waker: _Notifiable | None = None,
        on_result: Callable[[ReceiverResult], None] | None = None,
    ) -> None:
        self.journal = journal
        self.credentials = credentials
        self.signers = dict(signers)
        self.waker = waker
        self.on_result = on_result
        self._report_lock = threading.Lock()

    def handle(self, body: bytes) -> ReceiverResult:
        """Verify and apply one notification body."""
        try:
            note = parse_notification(body, credentials=self.credentials, signers=self.signers)
        except SignatureError as exc:
            return ReceiverResult("rejected", 401, error=str(exc))
        except MessageError as exc:
            return ReceiverResult("rejected", 400, error=str(exc))
        try:
            outcome = apply_notification(self.journal, note)
        except OrderError as exc:
            return ReceiverResult("rejected", 404, note, error=str(exc))
        except JournalError as exc:
            return ReceiverResult("rejected", 503, note, error=str(exc))
        if outcome == "applied" and note.notify_type != "REFUND" and self.waker is not None:
            status = PaymentStatus.CLOSED if note.notify_type == "VOID" else PaymentStatus(note.status)
            if status in _WAKING:
                try:
                    self.waker.notify(note.order_id)
                except Exception as exc:  # a wake-up is a courtesy: polling still finds the state
                    log.warning("could not wake the lane of order %s: %s", note.order_id, exc)
        return ReceiverResult(outcome, 200, note)

    def report(self, result: ReceiverResult) -> None:
        if self.on_result is None:
            return
        with self._report_lock:
            try:
                self.on_result(result)
            except Exception:  # an observer never breaks the receiver
                log.exception("notification observer failed")

    def handle_and_report(self, body: bytes) -> ReceiverResult:
        result = self.handle(body)
        self.report(result)  # before answering: whoever sees the answer can see the report
        return result


# ---------------------------------------------------------------------------- the ASGI application


def _answer(result: ReceiverResult) -> Response:
    return PlainTextResponse(b"SUCCESS" if 200 <= result.http_status < 300 else b"FAIL", result.http_status)


def handler_app(handler: NotificationHandler, *, workers: int = DEFAULT_WORKERS) -> Starlette:
    """The receiver as an ASGI application around ``handler``: POST to any path under it.

    Verifying and journaling run in at most ``workers`` threads at once (the event loop only
    reads and answers); a body over :data:`MAX_BODY` is refused (413) before it is read.
    """
    if workers < 1:
        raise UsageError(f"the receiver needs at least one worker thread, not {workers}")
    limiter = anyio.CapacityLimiter(workers)

    async def notify(request: Request) -> Response:
        if request.method != "POST":
            result = ReceiverResult("rejected", 405, error="notifications are POSTed")
            return _answer(result)
        length_text = request.headers.get("content-length")
        if length_text is not None and (not length_text.isdigit() or int(length_text) > MAX_BODY):
            result = ReceiverResult("rejected", 413, error=f"body length must be 0-{MAX_BODY} bytes")
            await anyio.to_thread.run_sync(handler.report, result, limiter=limiter)
            return _answer(result)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    result = ReceiverResult("rejected", 413, error=f"body length must be 0-{MAX_BODY} bytes")
                    await anyio.to_thread.run_sync(handler.report, result, limiter=limiter)
                    return _answer(result)
                chunks.append(chunk)
        except ClientDisconnect:
            log.debug("a client went away before sending its whole notification")
            return Response(status_code=400)  # nobody reads it
        result = await anyio.to_thread.run_sync(handler.handle_and_report, b"".join(chunks), limiter=limiter)
        return _answer(result)

    methods = ["POST", "GET", "PUT", "DELETE", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", notify, methods=methods)])


def _credentials(settings: Settings) -> Credentials:
    if not (settings.acc_id and settings.client_id and settings.salt):
        from .settings import ENV

        raise ConfigError(
            f"the notification receiver verifies with the merchant's credentials: set {ENV['acc_id']}, "
            f"{ENV['client_id']} and {ENV['salt']} (or {ENV['salt_file']})"
        )
    return Credentials(settings.acc_id, settings.client_id, settings.salt)


def receiver_app(
    journal: JournalBackend,
    settings: Settings,
    *,
    waker: _Notifiable | None = None,
    on_result: Callable[[ReceiverResult], None] | None = None,
    signers: Mapping[str, SignerType] | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Starlette:
    """The notification receiver as an ASGI app (the bridge mounts it; ``paycode notifications`` serves it).

    Credentials come from ``settings`` (ConfigError when missing); ``signers`` default to the
    installed signer plugins. ``waker.notify(order_id)`` is called after a payment state is applied.
    """
    credentials = _credentials(settings)
    if signers is None:
        from .host import PluginHost

        signers = PluginHost(settings).signers
    handler = NotificationHandler(journal, credentials=credentials, signers=signers, waker=waker, on_result=on_result)
    return handler_app(handler, workers=workers)


# ---------------------------------------------------------------------------- serving it


class _ReadTimeoutProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a read timeout: the whole request must arrive within ``read_timeout``
    of the connection (or of its first byte, on a kept-alive connection); a client that sends too slowly or
    not at all is disconnected. uvicorn itself only times out idle kept-alive connections.

    At the connection limit, a new connection makes room by closing the connection that has waited longest
    without a whole request (a slow or silent client, or an idle kept-alive one), so slow clients can never
    crowd out the gateway; only when every connection is busy with a request does uvicorn answer 503.
    """

    read_timeout = DEFAULT_READ_TIMEOUT
    _read_timer: asyncio.TimerHandle | None = None
    _waiting_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._waiting_since = self.loop.time()
        self._arm()
        limit = self.limit_concurrency
        if limit is not None and len(self.connections) >= limit:
            self._make_room()

    def _waiting(self) -> bool:
        """True while this connection has no whole request: (the rest of) a head or a body is awaited, or it is
        idle. Nothing has been handled for it (the app reads the whole body before it acts)."""
        if self.transport.is_closing():
            return False
        if self.conn.their_state is h11.SEND_BODY:
            return True
        busy = self.cycle is not None and not self.cycle.response_complete
        return not busy and self.conn.their_state is h11.IDLE

    def _make_room(self) -> None:
        others = [c for c in self.connections if c is not self and isinstance(c, _ReadTimeoutProtocol)]
        waiting = [c for c in others if c._waiting()]
        if not waiting:
            return  # every connection is busy with a request: uvicorn answers this one 503
        oldest = min(waiting, key=lambda c: c._waiting_since)
        log.debug("connection limit reached: closing the connection longest without a whole request")
        oldest._drop()
        self.connections.discard(oldest)

    def on_response_complete(self) -> None:
        self._waiting_since = self.loop.time()
        super().on_response_complete()

    def data_received(self, data: bytes) -> None:
        if self._read_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # a new request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()  # the request is in (or the connection is over)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing() and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            log.debug("closing a connection that sent no whole request within %g s", self.read_timeout)
            self._drop()

    def _drop(self) -> None:
        """Close a connection that has no whole request; an app waiting for its body learns it went away."""
        self._disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def _quiet_uvicorn() -> None:
    """uvicorn's own loggers go to ours at DEBUG: a client that goes away is not news, and never a traceback."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not any(isinstance(h, _ToDebug) for h in logger.handlers):
            logger.addHandler(_ToDebug())


class _ToDebug(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("uvicorn: %s", record.getMessage())


def server_config(
    app: Any,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    keep_alive: float = 5.0,
) -> uvicorn.Config:
    """A uvicorn configuration for the receiver (or any small ASGI app facing the internet):
    the read timeout above, at most ``max_connections`` at once (503 beyond), a 16 KiB request
    head, idle kept-alive connections closed after ``keep_alive`` seconds, quiet logs."""
    if not read_timeout > 0:
        raise UsageError(f"read timeout {read_timeout!r} must be a positive number of seconds")
    if max_connections < 1:
        raise UsageError(f"connection limit {max_connections!r} must be 1 or more")
    protocol = type("ReadTimeoutProtocol", (_ReadTimeoutProtocol,), {"read_timeout": float(read_timeout)})
    _quiet_uvicorn()
    return uvicorn.Config(
        app,
        http=protocol,
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        limit_concurrency=max_connections,
        timeout_keep_alive=max(1, round(keep_alive)),
        h11_max_incomplete_event_size=MAX_HEAD,
        backlog=2048,
        server_header=False,
    )


class NotificationReceiver:
    """The receiver served with uvicorn on its own socket; binds loopback unless ``allow_remote``.

    ``on_result`` is called (from the worker threads, one at a time) with each :class:`ReceiverResult`;
    ``waker.notify(order_id)`` after each payment state applied. ``read_timeout``,
    ``max_connections`` and ``workers`` bound what slow or many clients can hold.
    """

    def __init__(
        self,
        journal: JournalBackend,
        *,
        credentials: Credentials,
        signers: Mapping[str, SignerType],
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        on_result: Callable[[ReceiverResult], None] | None = None,
        waker: _Notifiable | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise UsageError(
                f"notification receiver host {host!r} is not a loopback address (127.0.0.1, ::1, localhost); "
                "to listen on another address give --allow-remote (allow_remote=True in Python)"
            )
        if not 0 <= port <= 65535:
            raise UsageError(f"port {port} is out of range; give 0 (any free port) to 65535")
        self.handler = NotificationHandler(
            journal, credentials=credentials, signers=signers, waker=waker, on_result=on_result
        )
        self.journal = journal
        self.app = handler_app(self.handler, workers=workers)
        self._config = server_config(self.app, read_timeout=read_timeout, max_connections=max_connections)
        self._address = (host, port)
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The receiver's base URL; any path under it is accepted (``notificationUrl`` takes no query)."""
        if self._sock is None:
            raise UsageError("the notification receiver is not started")
        address = self._sock.getsockname()
        host, port = str(address[0]), address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    @property
    def connections(self) -> int:
        """Connections open now (0 when not serving)."""
        return 0 if self._server is None else len(self._server.server_state.connections)

    @property
    def in_flight(self) -> int:
        """Requests being handled now (0 when not serving)."""
        return 0 if self._server is None else len(self._server.server_state.tasks)

    def handle(self, body: bytes) -> ReceiverResult:
        """Verify and apply one notification body (what the HTTP endpoint calls, in a worker thread)."""
        return self.handler.handle(body)

    def report(self, result: ReceiverResult) -> None:
        self.handler.report(result)

    def bind(self) -> NotificationReceiver:
        """Listen (``url`` is known from here on) without serving yet."""
        if self._sock is not None:
            raise UsageError("this notification receiver is already listening")
        host, port = self._address
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(2048)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._sock = sock
        return self

    def _serve(self) -> None:
        assert self._sock is not None and self._server is not None
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> NotificationReceiver:
        """Listen and serve in a background thread; returns when connections are accepted."""
        if self._sock is None:
            self.bind()
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._serve, name="paycode-notifications", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                self._close_socket()
                raise UsageError(f"the notification receiver on {self._address[0]} stopped while starting")
            self._thread.join(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (``paycode notifications``: SIGINT, SIGTERM)."""
        if self._sock is None:
            self.bind()
        self._server = uvicorn.Server(self._config)
        try:
            self._serve()
        finally:
            self._close_socket()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._close_socket()

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> NotificationReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
