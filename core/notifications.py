"""PingPong's asynchronous notifications: verified in constant time, applied to the journal idempotently.

A notification is POSTed with the request envelope and signature rule
(:mod:`paycode.signing`). :func:`parse_notification` verifies it (signature compared in
constant time, and the merchant account); :func:`apply_notification` records it in the
journal. Duplicates and notifications arriving out of order change nothing: a state only
moves forward (``INIT``/``UNKNOWN`` < ``PROCESSING`` < ``FAILED`` < ``CLOSED``/``CANCEL`` <
``SUCCESS``). A SUCCESS always wins, so a charge is never lost from the journal; if the lane
had given up on the order, recovery then refunds it. A notification for an order (or a
refund) the journal does not know is rejected.

:class:`NotificationReceiver` is the small HTTP server behind ``paycode notifications``:
2xx (body ``SUCCESS``) for applied or duplicate notifications, non-2xx (body ``FAIL``) for
anything else, so that PingPong retries.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from . import bizcontent
from .errors import JournalError, MessageError, OrderError, SignatureError, UsageError
from .gateway import Credentials
from .journal import JournalBackend
from .models import PaymentStatus
from .netaddr import is_loopback
from .plugin_types import SignerType
from .signing import verify_message

__all__ = [
    "MAX_BODY",
    "Notification",
    "NotificationReceiver",
    "ReceiverResult",
    "apply_notification",
    "parse_notification",
]

log = logging.getLogger("paycode.notifications")

#: the largest notification body read (a real one is well under 4 KiB)
MAX_BODY = 64 * 1024

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


def parse_notification(
    body: bytes | str | Mapping[str, Any], *, credentials: Credentials, signers: Mapping[str, SignerType]
) -> Notification:
    """Verify a notification body; SignatureError when it is not from the gateway, MessageError when unreadable."""
    if isinstance(body, Mapping):
        message: Any = dict(body)
    else:
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise MessageError("notification body is not JSON") from None
    if not isinstance(message, dict):
        raise MessageError("notification body is not a JSON object")
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
    amount = biz.get("amount")
    return Notification(
        notify_type=(_text(biz, "notifyType") or "RECHARGE").upper(),
        order_id=order_id,
        status=status.upper(),
        transaction_id=_text(biz, "transactionId"),
        amount=amount if isinstance(amount, Decimal) else None,
        currency=_text(biz, "currency"),
        refund_id=_text(biz, "merchantRefundId"),
        biz=biz,
    )


def apply_notification(journal: JournalBackend, note: Notification) -> str:
    """Record a verified notification: ``applied``, ``duplicate`` (nothing new, or older than what is known)
    or ``ignored`` (a kind the lane does not track, such as CAPTURE). OrderError for unknown orders/refunds."""
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
        try:
            status = PaymentStatus(note.status)
        except ValueError:
            return "ignored"
    if _ORDER_RANK.get(status, 0) <= _ORDER_RANK.get(record.status, 0):
        if note.transaction_id and not record.transaction_id:
            journal.set_state(note.order_id, record.status, transaction_id=note.transaction_id)
        return "duplicate"
    journal.set_state(note.order_id, status, transaction_id=note.transaction_id, note=f"notification {kind}")
    return "applied"


def _apply_refund(journal: JournalBackend, note: Notification) -> str:
    refunds = {r.refund_id: r for r in journal.refunds(note.order_id)}
    refund = refunds.get(note.refund_id or "")
    if refund is None:
        raise OrderError(f"refund notification for {note.refund_id!r} of order {note.order_id!r}, not in the journal")
    if note.status not in _REFUND_RANK:
        return "ignored"
    if _REFUND_RANK[note.status] <= _REFUND_RANK.get(refund.status, 0):
        return "duplicate"
    journal.end_refund(note.order_id, refund.refund_id, status=note.status, detail="notification")
    return "applied"


# ---------------------------------------------------------------------------- receiver


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


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._answer(ReceiverResult("rejected", 413, error=f"body length must be 0-{MAX_BODY} bytes"))
            return
        self._answer(self.server.receiver.handle(self.rfile.read(length)))

    def do_GET(self) -> None:
        self._answer(ReceiverResult("rejected", 405, error="notifications are POSTed"), report=False)

    def _answer(self, result: ReceiverResult, *, report: bool = True) -> None:
        if report:
            self.server.receiver.report(result)  # before answering: whoever sees the answer can see the report
        body = b"SUCCESS" if 200 <= result.http_status < 300 else b"FAIL"
        self.send_response(result.http_status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], receiver: NotificationReceiver) -> None:
        self.receiver = receiver
        super().__init__(address, _Handler)


class NotificationReceiver:
    """An HTTP server applying PingPong notifications to ``journal``; binds loopback unless ``allow_remote``.

    ``on_result`` is called (from the server's threads) with each :class:`ReceiverResult`.
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
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise UsageError(f"notification receiver host {host!r} is not loopback; pass allow_remote to serve it")
        if not 0 <= port <= 65535:
            raise UsageError(f"port {port} is out of range; give 0 (any free port) to 65535")
        self.journal = journal
        self.credentials = credentials
        self.signers = dict(signers)
        self.on_result = on_result
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The receiver's base URL; any path under it is accepted (``notificationUrl`` takes no query)."""
        if self._httpd is None:
            raise UsageError("the notification receiver is not started")
        address = self._httpd.server_address
        host, port = str(address[0]), address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def handle(self, body: bytes) -> ReceiverResult:
        """Verify and apply one notification body (what the HTTP handler calls)."""
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
        return ReceiverResult(outcome, 200, note)

    def report(self, result: ReceiverResult) -> None:
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:  # an observer never breaks the receiver
                log.exception("notification observer failed")

    def bind(self) -> NotificationReceiver:
        """Listen (``url`` is known from here on) without serving yet."""
        if self._httpd is not None:
            raise UsageError("this notification receiver is already listening")
        try:
            self._httpd = _HTTPServer(self._address, self)
        except OSError as exc:
            raise UsageError(f"cannot listen on {self._address[0]}:{self._address[1]}: {exc.strerror or exc}") from None
        return self

    def start(self) -> NotificationReceiver:
        """Listen and serve in a background thread."""
        self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="paycode-notifications", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (``paycode notifications``)."""
        if self._httpd is None:
            self.bind()
        assert self._httpd is not None
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            self._httpd.server_close()
            self._httpd = None

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> NotificationReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
