"""The sandbox's HTTP layer and :class:`SandboxServer`, the object tests, the demo and the CLI start.

A stdlib ``ThreadingHTTPServer`` on loopback, HTTP/1.1 with keep-alive, one thread per
connection. The fault switches act here, around the dispatcher: before a request is
processed (nothing committed) or after (committed, but the client does not learn it).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError, UsageError
from ..models import WalletType
from ..netaddr import is_loopback
from ..plugin_types import SignerType
from ..plugins.signers import MD5, SHA256
from .dispatch import V4_PATHS, Dispatcher
from .faults import DEFAULT_SECONDS, Faults, FaultSwitch
from .ledger import Credentials, Ledger, OrderView
from .notifier import NOTIFY_SCHEDULE, DeliveryView, Notifier
from .scenarios import scenario_codes

__all__ = ["SandboxServer", "default_signers"]

log = logging.getLogger("paycode.sandbox")

#: largest request body accepted (a V4 request is a few hundred bytes)
MAX_BODY = 64 * 1024
#: seconds between the housekeeping passes (the gateway's own close of stale orders, timed faults)
HOUSEKEEPING_INTERVAL = 0.1


def default_signers() -> dict[str, SignerType]:
    """The built-in ``SHA256`` and ``MD5`` signers, for a sandbox built without a plugin host."""
    return {signer.sign_type: signer for signer in (SHA256, MD5)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "paycode-sandbox"
    timeout = 30  # an idle keep-alive connection is closed after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path not in V4_PATHS:
            self._send_text(HTTPStatus.NOT_FOUND, f"unknown path {path}; the sandbox serves {', '.join(V4_PATHS)}")
            return
        body = self._read_body()
        if body is not None:
            self.server.sandbox._answer(self, path, body)

    def do_GET(self) -> None:
        self._send_text(HTTPStatus.METHOD_NOT_ALLOWED, "the PingPong V4 API takes POST only")

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_text(HTTPStatus.LENGTH_REQUIRED, "chunked bodies are not accepted; send Content-Length")
            return None
        length_text = self.headers.get("Content-Length", "")
        if not length_text.isdigit():
            self._send_text(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            return None
        length = int(length_text)
        if length > MAX_BODY:
            self._send_text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY} bytes")
            return None
        body = self.rfile.read(length)
        if not self.headers.get("Content-Type", "").lower().startswith("application/json"):
            self._send_text(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/json")
            return None
        return body

    def send_body(self, status: int, body: bytes, content_type: str, *, close: bool = False) -> None:
        """Send one response; a client that went away (it timed out) is not an error."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _send_text(self, status: HTTPStatus, text: str) -> None:
        self.send_body(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8", close=True)

    def drop(self) -> None:
        """End the connection without an answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that stop() can end them and join their threads."""

    daemon_threads = True
    #: the listen backlog: socketserver's default of 5 refuses most of a burst of lanes connecting at once
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._live: dict[Any, threading.Thread] = {}
        self._live_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="paycode-sandbox-connection",
            daemon=True,
        )
        with self._live_lock:
            self._live[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._live_lock:
            self._live.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            # a client that gave up or was killed mid-request: expected in fault tests, one line is enough
            log.debug("sandbox: client %s went away: %s", client_address, error)
            return
        log.exception("sandbox: error while serving %s", client_address)

    def reopen(self) -> None:
        """Bind a fresh listening socket to the same address (after ``refuse`` closed it)."""
        self.socket = socket.socket(self.address_family, self.socket_type)
        self.server_bind()
        self.server_activate()

    def end_connections(self, timeout: float) -> None:
        with self._live_lock:
            live = list(self._live.items())
        for request, _ in live:
            try:
                request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in live:
            thread.join(timeout)


class SandboxServer:
    """A PingPong V4 gateway on loopback, with fault switches and inspection for tests.

    ``wallets`` are the wallet types it accepts (their names are ``paymentMethod.type``
    values, their currencies are checked); ``signers`` the signTypes it accepts (the
    built-in SHA256 and MD5 when not given). ``notify_schedule`` is the list of retry
    delays after a failed notification (PingPong's when None). Credentials are generated
    unless given. docs/sandbox.md describes the behaviour.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        wallets: Iterable[WalletType] = (),
        signers: Mapping[str, SignerType] | None = None,
        notify_schedule: Sequence[float] | None = None,
        *,
        acc_id: str | None = None,
        client_id: str | None = None,
        salt: str | None = None,
        slow_seconds: float = 3.0,
        processing_queries: int = 2,
        auto_close_seconds: float = 180.0,
        notify_timeout: float = 5.0,
        allow_remote: bool = False,
        password_seconds: float = 1.0,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ConfigError(
                f"sandbox host {host!r} is not a loopback address; use 127.0.0.1 (or allow_remote / --allow-remote "
                "to serve a test gateway to other machines)"
            )
        if not 0 <= port <= 65535:
            raise UsageError(f"sandbox port {port} is out of range; give 0 (any free port) to 65535")
        self.host = host
        self.port = port
        self.wallets: dict[str, WalletType] = {w.name: w for w in wallets}
        self.signers: dict[str, SignerType] = dict(signers) if signers else default_signers()
        self.credentials = Credentials.generate(acc_id, client_id, salt)
        self.faults = Faults()
        self._notifier = Notifier(
            self.signers, self.faults, NOTIFY_SCHEDULE if notify_schedule is None else notify_schedule, notify_timeout
        )
        self._ledger = Ledger(
            notify=self._notifier.submit,
            slow_seconds=slow_seconds,
            processing_queries=processing_queries,
            auto_close_seconds=auto_close_seconds,
            password_seconds=password_seconds,
        )
        self._ledger.add_merchant(self.credentials)
        self._dispatcher = Dispatcher(self._ledger, self.wallets, self.signers)
        self._stopping = threading.Event()
        self._listen_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._serving: threading.Thread | None = None
        self._housekeeping: threading.Thread | None = None
        self.faults.watch(self._fault_changed)

    # ------------------------------------------------------------------ life cycle

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def slow_seconds(self) -> float:
        """How long the slow_commit scenario holds its answer; settable at run time."""
        return self._ledger.slow_seconds

    @slow_seconds.setter
    def slow_seconds(self, seconds: float) -> None:
        self._ledger.slow_seconds = seconds

    @property
    def password_seconds(self) -> float:
        """How long after the request the shopper of a late_success payment confirms; settable at run time."""
        return self._ledger.password_seconds

    @password_seconds.setter
    def password_seconds(self, seconds: float) -> None:
        self._ledger.password_seconds = seconds

    def start(self) -> SandboxServer:
        """Bind, then serve in background threads; returns self."""
        if self._httpd is not None:
            raise UsageError("this sandbox server was already started")
        try:
            self._httpd = _HTTPServer((self.host, self.port), self)
        except OSError as exc:
            raise ConfigError(f"sandbox cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.port = self._httpd.server_address[1]
        if self.faults.refuse is None:
            self._serve(self._httpd)
        else:  # refuse was switched on before the start: bound (the port is known) but not listening
            self._httpd.socket.close()
        self._notifier.start()
        self._housekeeping = threading.Thread(target=self._housekeep, name="paycode-sandbox-housekeeping", daemon=True)
        self._housekeeping.start()
        log.info("sandbox serving at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and the notifier; pending notifications are dropped."""
        if self._httpd is None or self._stopping.is_set():
            return
        self._stopping.set()
        with self._listen_lock:
            self._stop_listening()
        self._httpd.end_connections(timeout=5.0)
        self._httpd.server_close()
        self._notifier.stop()
        if self._housekeeping is not None:
            self._housekeeping.join(5.0)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self, httpd: _HTTPServer) -> None:
        self._serving = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="paycode-sandbox", daemon=True
        )
        self._serving.start()

    def _stop_listening(self) -> None:
        if self._serving is None or self._httpd is None:
            return
        self._httpd.shutdown()
        self._serving.join()
        self._serving = None
        self._httpd.socket.close()

    def _fault_changed(self, name: str, switch: FaultSwitch | None) -> None:
        if name != "refuse":
            return
        with self._listen_lock:
            if self._httpd is None or self._stopping.is_set():
                return
            if switch is not None:
                self._stop_listening()
            elif self._serving is None:
                self._httpd.reopen()
                self._serve(self._httpd)

    def _housekeep(self) -> None:
        while not self._stopping.wait(HOUSEKEEPING_INTERVAL):
            self._ledger.sweep()
            if self.faults.expired("refuse"):
                self.faults.refuse = None

    # ------------------------------------------------------------------ one request

    def _answer(self, handler: _Handler, path: str, body: bytes) -> None:
        """Answer one V4 request, applying the fault switches that fire for it."""
        faults = self.faults
        if dropped := faults.take("drop_before_commit", path):
            self._stopping.wait(dropped.seconds_or(0.0))
            handler.drop()
            return
        delay = faults.take("delay", path)
        http_error = faults.take("http_error", path)
        if delay and not delay.after_commit:
            self._stopping.wait(delay.seconds_or(DEFAULT_SECONDS["delay"]))
        if http_error and not http_error.after_commit:
            self._send_status(handler, http_error.status)
            return
        reply = self._dispatcher.handle(path, body)
        log.debug("sandbox %s -> %s %s", path, reply.http_status, reply.envelope.get("code"))
        if reply.hold:
            self._stopping.wait(reply.hold)
        if dropped := faults.take("drop_after_commit", path):
            self._stopping.wait(dropped.seconds_or(0.0))
            handler.drop()
            return
        if delay and delay.after_commit:
            self._stopping.wait(delay.seconds_or(DEFAULT_SECONDS["delay"]))
        if http_error and http_error.after_commit:
            self._send_status(handler, http_error.status)
            return
        if faults.take("bad_signature", path):
            reply = reply.with_bad_signature()
        data = reply.body()
        if faults.take("truncated_body", path):
            data = data[: len(data) // 2]
        handler.send_body(reply.http_status, data, "application/json; charset=utf-8")

    @staticmethod
    def _send_status(handler: _Handler, status: int) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Server Error"
        text = f"{status} {phrase} (sandbox fault http_error)\n".encode()
        handler.send_body(status, text, "text/plain; charset=utf-8", close=True)

    # ------------------------------------------------------------------ merchants, wallets, inspection

    def add_merchant(
        self, acc_id: str | None = None, client_id: str | None = None, salt: str | None = None
    ) -> Credentials:
        """Accept one more merchant account (generated unless given); each has its own orders."""
        credentials = Credentials.generate(acc_id, client_id, salt)
        self._ledger.add_merchant(credentials)
        return credentials

    def add_wallet(self, wallet: WalletType) -> None:
        """Accept one more wallet type, e.g. one a plugin registered after the server was built."""
        self.wallets[wallet.name] = wallet

    def orders(self, acc_id: str | None = None) -> list[OrderView]:
        """Every order (of one merchant, or of all): status, charged count, refunded total, …"""
        return self._ledger.orders(acc_id)

    def order(self, merchant_transaction_id: str, acc_id: str | None = None) -> OrderView | None:
        """One order by merchantTransactionId (of the default merchant unless ``acc_id`` is given)."""
        acc_id = acc_id or self.credentials.acc_id
        found = [o for o in self.orders(acc_id) if o.merchant_transaction_id == merchant_transaction_id]
        return found[0] if found else None

    def charges_for(self, code: str) -> int:
        """How many payments the shopper code ``code`` made, over every order and merchant."""
        return self._ledger.charges_for(code)

    def notifications(self) -> list[DeliveryView]:
        """Every notification queued so far, with the outcome of each POST."""
        return self._notifier.deliveries()

    def scenarios(self) -> list[dict[str, str]]:
        """The test codes of every accepted wallet: one ``{scenario, wallet, code}`` per scenario."""
        return scenario_codes(self.wallets.values())
