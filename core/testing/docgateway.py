"""A PingPong V4 gateway written from the documentation, for tests: not paycode's sandbox.

The sandbox (:mod:`paycode.sandbox`) is paycode's own model of the gateway, so a test that only
pays against it can hide a difference between paycode and PingPong. This small gateway is written
from the documented facts alone (the shared reference ``pingpong-v4.md``): the V4 envelope and
signing rule (:mod:`paycode.signing`), unifiedPay, query, refund, refund query, void and void query,
an unpaid order closed by the gateway at its ``timeExpire`` with a close notification to
``closeNotificationUrl``, void only of an ``AUTH_SUCCESS`` order, ``bizContent`` as JSON text or as
an object. On top of that it has the switches money tests need: answers that are correctly signed
but do not match the request, stalls, and any result code::

    from paycode.testing.docgateway import DocGateway

    with DocGateway() as gw:                          # or DocGateway(credentials): any acc_id/client_id/salt
        gw.url, gw.credentials                        # base URL on 127.0.0.1, the merchant account it accepts
        gw.script(outcome="PROCESSING", paid_after=1.5)      # the next payment: the shopper pays after 1.5 s
        gw.script(path=QUERY, amount="0.01", times=1)        # the next query answer: SUCCESS for 0.01, signed
        gw.script(stall=math.inf)                            # every call: read, never answered
        gw.requests(PAY)                              # what was received: [(path, bizContent dict), ...]
        gw.order("order-1")                           # an order's status, charges, refunds
        gw.notifications()                            # every notification posted, with its HTTP outcome
        gw.notify(url, {"status": "SUCCESS", ...})    # post any correctly signed notification

A payment's outcome comes from the script, never from the code (the sandbox's test-code endings mean
nothing here): by default it succeeds. Everything is in memory and ends with :meth:`DocGateway.stop`.
docs/sandbox.md, section "Testing against the documented gateway", lists every switch.
"""

from __future__ import annotations

import json
import math
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol

import attrs
import httpx

from ..bizcontent import serialise
from ..errors import UsageError
from ..plugin_types import SignerType
from ..plugins.signers import MD5, SHA256
from ..signing import sign_message, signed, verify_message

__all__ = [
    "PATHS",
    "PAY",
    "QUERY",
    "REFUND",
    "REFUND_QUERY",
    "UNSET",
    "VOID",
    "VOID_QUERY",
    "Account",
    "DocGateway",
    "DocOrder",
    "Notification",
    "Rule",
]

PAY = "/v4/payment/unifiedPay"
QUERY = "/v4/payment/query"
REFUND = "/v4/payment/refund"
REFUND_QUERY = "/v4/refund/query"
VOID = "/v4/payment/void"
VOID_QUERY = "/v4/void/query"
PATHS = (PAY, QUERY, REFUND, REFUND_QUERY, VOID, VOID_QUERY)

#: the documentation's payment-method table (paymentMethods.js): type -> currencies
WALLET_CURRENCIES: dict[str, frozenset[str]] = {
    "Wechat-Offline": frozenset({"CNY", "HKD"}),
    "AlipayCN-Offline": frozenset({"CNY", "USD"}),
    "AlipayHK-Offline": frozenset({"HKD", "USD"}),
}
OUTCOMES = ("SUCCESS", "FAILED", "PROCESSING", "AUTH_SUCCESS", "REJECTED")
_DEFAULT_CODES = {
    "SUCCESS": ("000000", "transaction succeeded"),
    "FAILED": ("301002", "declined by the bank or wallet"),
    "PROCESSING": ("002000", "transaction processing"),
    "AUTH_SUCCESS": ("000000", "transaction succeeded"),
    "REJECTED": ("102000", "bad parameter"),
}
_MAX_ID = 64


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: a switch left as it is (``None`` means "leave the field out" for the answer switches)
UNSET: Any = _Unset()


class Account(Protocol):
    """A merchant account: :class:`paycode.gateway.Credentials` and the sandbox's credentials both are."""

    @property
    def acc_id(self) -> str: ...

    @property
    def client_id(self) -> str: ...

    @property
    def salt(self) -> str: ...


@attrs.frozen
class _Account:
    acc_id: str
    client_id: str
    salt: str = attrs.field(repr=lambda _: "<hidden>")


@attrs.define
class Rule:
    """One switch set by :meth:`DocGateway.script`. ``times`` counts down per matching request."""

    path: str | None
    times: int | None
    outcome: str | None = None
    paid_after: float | None = None
    code: str | None = None
    description: str | None = None
    status: Any = UNSET
    amount: Any = UNSET
    currency: Any = UNSET
    request_id: Any = UNSET
    merchant_transaction_id: Any = UNSET
    stall: float | None = None
    http_status: int = 200

    def matches(self, path: str) -> bool:
        return (self.path is None or self.path == path) and (self.times is None or self.times > 0)


@attrs.frozen
class Notification:
    """A notification the gateway posted: where, what, and the outcome of each POST (``"200"``, ``"ConnectError"``)."""

    url: str
    biz: Mapping[str, Any]
    outcomes: tuple[str, ...]


@attrs.frozen
class DocOrder:
    """An order as a test inspects it; ``charged`` counts moves to SUCCESS (never above 1)."""

    merchant_transaction_id: str
    transaction_id: str
    status: str
    amount: Decimal
    currency: str
    charged: int
    refunded: Decimal
    request_ids: tuple[str, ...]
    time_expire: int | None


@attrs.define
class _Order:
    mtid: str
    tid: str
    amount: Decimal
    currency: str
    method: str
    status: str
    time_ms: int
    request_ids: list[str]
    fingerprints: dict[str, tuple[Any, ...]]
    answers: dict[str, dict[str, Any]]  # stored unifiedPay answer per requestId
    sign_type: str = "SHA256"  # of the latest attempt: notifications are signed with it
    notification_url: str | None = None
    close_notification_url: str | None = None
    time_expire: int | None = None
    paid_at: float | None = None
    charged: int = 0
    refunds: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    voids: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    @property
    def refunded(self) -> Decimal:
        return sum((Decimal(r["amount"]) for r in self.refunds.values()), Decimal(0))


class _Refusal(Exception):
    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _bad(description: str) -> _Refusal:
    return _Refusal("102000", f"bad parameter: {description}")


def _wire(amount: Decimal) -> str:
    return f"{amount:.6f}"


class _Number:
    """A JSON number kept as written, so a ``bizContent`` object is re-written with its numbers as sent."""

    def __init__(self, text: str) -> None:
        self.text = text


def _canonical(value: Any) -> str:
    """An object ``bizContent`` as the text its signature covers: compact, keys as received, numbers as written."""
    if isinstance(value, _Number):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


class DocGateway:
    """The documented gateway on ``127.0.0.1`` and a free port; a context manager (:meth:`start`/:meth:`stop`)."""

    def __init__(
        self,
        credentials: Account | None = None,
        *,
        signers: Mapping[str, SignerType] | None = None,
        notify_schedule: tuple[float, ...] = (0.2, 0.5),
        notify_timeout: float = 2.0,
    ) -> None:
        self.credentials: Account = credentials or _Account(
            "".join(secrets.choice("0123456789") for _ in range(22)),
            "".join(secrets.choice("0123456789") for _ in range(19)),
            secrets.token_hex(16).upper(),
        )
        self.signers = dict(signers) if signers is not None else {s.sign_type: s for s in (SHA256, MD5)}
        self.notify_schedule = notify_schedule
        self.notify_timeout = notify_timeout
        self._lock = threading.RLock()
        self._rules: list[Rule] = []
        self._orders: dict[str, _Order] = {}
        self._by_tid: dict[str, _Order] = {}
        self._by_request: dict[str, _Order] = {}
        self._requests: list[tuple[str, dict[str, Any]]] = []
        self._notifications: list[dict[str, Any]] = []
        self._serial = 0
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._http: httpx.Client | None = None

    # ------------------------------------------------------------------ life cycle

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``), for the gateway setting."""
        if self._httpd is None:
            raise UsageError("the documented gateway is not started; use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> DocGateway:
        if self._httpd is not None:
            raise UsageError("this documented gateway was already started")
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._http = httpx.Client(timeout=self.notify_timeout, verify=False)
        for target, name in ((self._serve, "serve"), (self._housekeep, "housekeeping")):
            thread = threading.Thread(target=target, name=f"paycode-docgateway-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _serve(self) -> None:
        if self._httpd is not None:
            self._httpd.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop serving; stalled calls and open connections are closed without an answer."""
        if self._httpd is None or self._stopping.is_set():
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(5.0)
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> DocGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ switches and inspection

    def script(
        self,
        *,
        path: str | None = None,
        times: int | None = None,
        outcome: str | None = None,
        paid_after: float | None = None,
        code: str | None = None,
        description: str | None = None,
        status: Any = UNSET,
        amount: Any = UNSET,
        currency: Any = UNSET,
        request_id: Any = UNSET,
        merchant_transaction_id: Any = UNSET,
        stall: float | None = None,
        http_status: int = 200,
    ) -> Rule:
        """Switch behaviour on for requests to ``path`` (every path when None), ``times`` times (until cleared).

        - ``outcome`` (unifiedPay): what the payment does: ``SUCCESS`` (the default without a rule), ``FAILED``
          (declined), ``PROCESSING`` (the shopper never confirms: CLOSED at ``timeExpire``), ``AUTH_SUCCESS``
          (a pre-authorisation, the only state void accepts) or ``REJECTED`` (refused, nothing is created).
        - ``paid_after`` (PROCESSING, implied): the shopper confirms this many seconds after the request; it is
          paid when that is before the order's ``timeExpire``, else it closes. A rule with ``outcome`` or
          ``paid_after`` and no ``path`` is for unifiedPay.
        - ``code``, ``description``: the top-level code (and ``resultCode``) of the answer; ``status``: the
          ``bizContent.status`` beside it (None leaves it out).
        - ``amount`` (text as written in the answer), ``currency``, ``request_id``, ``merchant_transaction_id``:
          replace that field of the answer's ``bizContent`` (None leaves it out). What the gateway records is
          unchanged: only the answer differs, correctly signed.
        - ``stall``: hold the request this many seconds before processing it (``math.inf``: never answered,
          never processed; the connection ends when the gateway stops).
        - ``http_status``: the answer's HTTP status.

        Rules are looked at in the order they were set; the first one matching a request applies.
        """
        if path is None and (outcome is not None or paid_after is not None):
            path = PAY  # what a payment does is only a unifiedPay's business
        if path is not None and path not in PATHS:
            raise UsageError(f"path {path!r} is not a V4 path this gateway serves; accepted: {', '.join(PATHS)}")
        if outcome is not None and outcome not in OUTCOMES:
            raise UsageError(f"outcome {outcome!r} is not known; accepted: {', '.join(OUTCOMES)}")
        if times is not None and times < 1:
            raise UsageError(f"times={times}: give 1 or more, or None for every request until cleared")
        if code is not None and not (len(code) == 6 and code.isdigit()):
            raise UsageError(f"code {code!r} is not a six-digit V4 result code such as 301002")
        if stall is not None and not stall >= 0:
            raise UsageError(f"stall={stall}: give seconds, 0 or more (math.inf: never answer)")
        if paid_after is not None and not paid_after >= 0:
            raise UsageError(f"paid_after={paid_after}: give seconds, 0 or more")
        rule = Rule(
            path,
            times,
            outcome,
            paid_after,
            code,
            description,
            status,
            amount,
            currency,
            request_id,
            merchant_transaction_id,
            stall,
            http_status,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Every switch off."""
        with self._lock:
            self._rules.clear()

    def requests(self, path: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Every request received (to ``path``), as ``(path, bizContent parsed)``, in order; unreadable ones too."""
        with self._lock:
            return [(p, biz) for p, biz in self._requests if path is None or p == path]

    def order(self, merchant_transaction_id: str) -> DocOrder | None:
        with self._lock:
            self._sweep_locked()
            found = self._orders.get(merchant_transaction_id)
            if found is None:
                return None
            return DocOrder(
                found.mtid,
                found.tid,
                found.status,
                found.amount,
                found.currency,
                found.charged,
                found.refunded,
                tuple(found.request_ids),
                found.time_expire,
            )

    def orders(self) -> list[DocOrder]:
        with self._lock:
            names = list(self._orders)
        return [o for o in (self.order(name) for name in names) if o is not None]

    def notifications(self) -> list[Notification]:
        with self._lock:
            return [Notification(n["url"], n["biz"], tuple(n["outcomes"])) for n in self._notifications]

    def notify(self, url: str, biz: Mapping[str, Any] | str, sign_type: str = "SHA256") -> None:
        """Post a correctly signed notification with any ``bizContent`` to ``url``, retried like the gateway's own.

        ``biz`` is a mapping (Decimals written as exact numbers) or the ``bizContent`` text itself, sent and
        signed verbatim (``'{"amount":1e1,…}'``); :meth:`notifications` shows the outcome of each POST.
        """
        if sign_type not in self.signers:
            raise UsageError(f"signType {sign_type!r} is not one this gateway has; accepted: {', '.join(self.signers)}")
        if self._http is None:
            raise UsageError("the documented gateway is not started; use it as a context manager or call start()")
        text = biz if isinstance(biz, str) else serialise(biz)
        with self._lock:
            self._notify(url, text, sign_type)

    # ------------------------------------------------------------------ one request

    def _rule_for(self, path: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(path):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def handle(self, path: str, body: bytes) -> tuple[int, bytes] | None:
        """The HTTP status and body answering ``body`` POSTed to ``path``; None: never answer (a stall)."""
        rule = self._rule_for(path)
        message, problem = _read(body)
        biz: Any = None
        if not problem:
            try:
                biz = json.loads(message["bizContent"], parse_float=Decimal)
            except (ValueError, RecursionError):
                pass
        with self._lock:
            self._requests.append((path, biz if isinstance(biz, dict) else {}))
        if rule is not None and rule.stall is not None:  # read and recorded, then held
            if self._stopping.wait(rule.stall if math.isfinite(rule.stall) else None):
                return None
        if problem:
            return 200, self._unsigned("102000", f"bad parameter: {problem}")
        signer = self.signers.get(message["signType"])
        if signer is None:
            return 200, self._unsigned("102000", f"bad parameter: signType {message['signType']!r} is not supported")
        if message["accId"] != self.credentials.acc_id or message["clientId"] != self.credentials.client_id:
            return 200, self._unsigned("103000", "authentication failed")
        if not verify_message(message, self.credentials.salt, signer):
            return 200, self._signed(signer, "104000", "invalid signature", {})
        if message["version"] != "1.0":
            return 200, self._signed(signer, "102000", "bad parameter: version must be 1.0", {})
        if not isinstance(biz, dict):
            return 200, self._signed(signer, "102000", "bad parameter: bizContent is not a JSON object", {})
        try:
            code, description, answer = self._operate(path, biz, message["signType"], rule)
        except _Refusal as refusal:
            code, description = refusal.code, refusal.description
            answer = {k: biz[k] for k in ("requestId", "merchantTransactionId") if isinstance(biz.get(k), str)}
        if rule is not None:
            code, description, answer = _tampered(rule, code, description, answer)
        return (rule.http_status if rule else 200), self._signed(signer, code, description, answer)

    def _signed(self, signer: SignerType, code: str, description: str, biz: Mapping[str, Any]) -> bytes:
        envelope: dict[str, Any] = {
            "accId": self.credentials.acc_id,
            "clientId": self.credentials.client_id,
            "code": code,
            "description": description,
            "signType": signer.sign_type,
            "bizContent": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        envelope["sign"] = sign_message(envelope, self.credentials.salt, signer)
        return json.dumps(envelope, ensure_ascii=False).encode("utf-8")

    def _unsigned(self, code: str, description: str) -> bytes:
        envelope = {"code": code, "description": description, "sign": "", "bizContent": "{}"}
        return json.dumps(envelope).encode("utf-8")

    # ------------------------------------------------------------------ the operations

    def _operate(
        self, path: str, biz: dict[str, Any], sign_type: str, rule: Rule | None
    ) -> tuple[str, str, dict[str, Any]]:
        with self._lock:
            self._sweep_locked()
            if path == PAY:
                return self._pay(biz, sign_type, rule)
            if path == QUERY:
                return self._query(biz)
            if path == REFUND:
                return self._refund(biz, sign_type)
            if path == REFUND_QUERY:
                return self._refund_query(biz)
            if path == VOID:
                return self._void(biz, sign_type)
            return self._void_query(biz)

    def _pay(self, biz: dict[str, Any], sign_type: str, rule: Rule | None) -> tuple[str, str, dict[str, Any]]:
        request_id, mtid = _id(biz, "requestId"), _id(biz, "merchantTransactionId")
        amount, currency = _money(biz)
        if biz.get("captureDelayHours") not in (0, "0"):
            raise _bad("captureDelayHours must be 0 for payment codes")
        method = biz.get("paymentMethod")
        if not isinstance(method, dict) or method.get("type") not in WALLET_CURRENCIES:
            raise _bad(f"paymentMethod.type must be one of {', '.join(WALLET_CURRENCIES)}")
        scan = method.get("scanCodeId")
        if not isinstance(scan, str) or not scan.isascii() or not scan.isdigit():
            raise _bad("paymentMethod.scanCodeId must be the scanned code, digits only")
        if currency not in WALLET_CURRENCIES[method["type"]]:
            raise _bad(f"currency {currency} is not offered for {method['type']}")
        time_expire = biz.get("timeExpire")
        if time_expire is not None and (isinstance(time_expire, bool) or not isinstance(time_expire, (int, str))):
            raise _bad("timeExpire must be epoch seconds")
        if isinstance(time_expire, str):
            if not time_expire.isdigit():
                raise _bad("timeExpire must be epoch seconds")
            time_expire = int(time_expire)
        fingerprint = (mtid, amount, currency, method["type"], scan)
        known = self._by_request.get(request_id)
        if known is not None:
            if known.fingerprints[request_id] != fingerprint:
                raise _Refusal("107000", f"duplicated transaction: requestId {request_id} was used for another payment")
            stored = known.answers[request_id]
            return stored["code"], stored["description"], dict(stored["biz"])
        order = self._orders.get(mtid)
        if order is not None:
            if order.status in ("SUCCESS", "PROCESSING", "AUTH_SUCCESS"):
                raise _Refusal("107000", f"duplicated transaction: {mtid} is {order.status}")
            if order.status in ("CLOSED", "CANCEL"):
                raise _Refusal("105000", f"transaction invalid or expired: {mtid} is {order.status}")
        outcome = "SUCCESS"
        if rule is not None:
            outcome = rule.outcome or ("PROCESSING" if rule.paid_after is not None else "SUCCESS")
        if outcome == "REJECTED":
            code = rule.code if rule and rule.code else "102000"
            raise _Refusal(code, (rule.description if rule else None) or "refused before execution")
        now = time.time()
        if order is None:
            self._serial += 1
            tid = f"DG{int(now * 1000)}{self._serial:05d}"
            order = _Order(mtid, tid, amount, currency, method["type"], "INIT", int(now * 1000), [], {}, {})
            self._orders[mtid] = order
            self._by_tid[order.tid] = order
        order.request_ids.append(request_id)
        order.fingerprints[request_id] = fingerprint
        self._by_request[request_id] = order
        order.notification_url = _url(biz, "notificationUrl")
        order.close_notification_url = _url(biz, "closeNotificationUrl")
        order.time_expire = time_expire
        order.sign_type = sign_type
        if outcome == "PROCESSING":
            order.status = "PROCESSING"
            order.paid_at = now + rule.paid_after if rule and rule.paid_after is not None else None
        else:
            self._move(order, outcome)
        code, description = _DEFAULT_CODES[outcome]
        answer = self._payment_biz(order, request_id)
        order.answers[request_id] = {"code": code, "description": description, "biz": answer}
        return code, description, dict(answer)

    def _query(self, biz: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        mtid, tid = biz.get("merchantTransactionId"), biz.get("transactionId")
        if not mtid and not tid:
            raise _bad("transactionId or merchantTransactionId is required")
        order = self._orders.get(mtid) if isinstance(mtid, str) and mtid else self._by_tid.get(str(tid))
        if order is None or (tid and order.tid != tid):
            raise _Refusal("107001", "transaction does not exist")
        request_id = biz.get("requestId")
        if request_id and request_id not in order.request_ids:
            raise _Refusal("107001", f"transaction does not exist: requestId {request_id}")
        return "001000", "request succeeded", self._payment_biz(order, request_id or order.request_ids[-1])

    def _refund(self, biz: dict[str, Any], sign_type: str) -> tuple[str, str, dict[str, Any]]:
        mtid, refund_id = _id(biz, "merchantTransactionId"), _id(biz, "merchantRefundId")
        amount, currency = _money(biz)
        remark = biz.get("remark")
        if remark is not None and (not isinstance(remark, str) or len(remark) > 32):
            raise _bad("remark must be text of at most 32 characters")
        order = self._orders.get(mtid)
        if order is None:
            raise _Refusal("107001", "transaction does not exist")
        earlier = order.refunds.get(refund_id)
        if earlier is not None:
            if Decimal(earlier["amount"]) != amount or earlier["currency"] != currency:
                raise _Refusal("107000", f"duplicated transaction: merchantRefundId {refund_id} was used")
            return "000000", "refund succeeded", dict(earlier)
        if order.status != "SUCCESS":
            raise _Refusal("105000", f"transaction invalid or expired: {mtid} is {order.status}, not paid")
        if currency != order.currency:
            raise _bad(f"refund currency {currency} differs from the payment's {order.currency}")
        if amount > order.amount - order.refunded:
            raise _bad(f"refund amount exceeds what remains refundable ({order.amount - order.refunded})")
        self._serial += 1
        refund = {
            "transactionId": order.tid,
            "merchantTransactionId": mtid,
            "merchantRefundId": refund_id,
            "refundId": f"DR{self._serial:08d}",
            "amount": _wire(amount),
            "currency": currency,
            "status": "SUCCESS",
            "refundTime": str(int(time.time() * 1000)),
        }
        order.refunds[refund_id] = refund
        if url := _url(biz, "notificationUrl"):
            self._notify(url, {"notifyType": "REFUND", **refund}, sign_type)
        return "000000", "refund succeeded", dict(refund)

    def _refund_query(self, biz: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        order = self._orders.get(_id(biz, "merchantTransactionId"))
        wanted = biz.get("merchantRefundId"), biz.get("refundId")
        if not any(wanted):
            raise _bad("refundId or merchantRefundId is required")
        for refund in order.refunds.values() if order else ():
            if refund["merchantRefundId"] == wanted[0] or refund["refundId"] == wanted[1]:
                return "001000", "request succeeded", dict(refund)
        raise _Refusal("107001", "transaction does not exist")

    def _void(self, biz: dict[str, Any], sign_type: str) -> tuple[str, str, dict[str, Any]]:
        mtid, void_id = _id(biz, "merchantTransactionId"), _id(biz, "merchantVoidId")
        amount, currency = _money(biz)
        url = _url(biz, "notificationUrl")
        if url is None:
            raise _bad("notificationUrl is required for a void")
        order = self._orders.get(mtid)
        if order is None:
            raise _Refusal("107001", "transaction does not exist")
        if void_id in order.voids:
            return "000000", "void succeeded", dict(order.voids[void_id])
        if order.status != "AUTH_SUCCESS":
            raise _Refusal(
                "105000", f"transaction invalid or expired: {mtid} is {order.status}; void is for AUTH_SUCCESS only"
            )
        if (amount, currency) != (order.amount, order.currency):
            raise _bad("void amount and currency must be the order's")
        self._serial += 1
        order.status = "CANCEL"
        void = {
            "transactionId": order.tid,
            "merchantTransactionId": mtid,
            "merchantVoidId": void_id,
            "voidId": f"DV{self._serial:08d}",
            "amount": _wire(amount),
            "currency": currency,
            "status": "SUCCESS",
        }
        order.voids[void_id] = void
        self._notify(url, {"notifyType": "VOID", **void}, sign_type)
        return "000000", "void succeeded", dict(void)

    def _void_query(self, biz: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        order = self._orders.get(_id(biz, "merchantTransactionId"))
        void = order.voids.get(_id(biz, "merchantVoidId")) if order else None
        if void is None:
            raise _Refusal("107001", "transaction does not exist")
        return "001000", "request succeeded", dict(void)

    # ------------------------------------------------------------------ state, closing, notifications

    def _move(self, order: _Order, status: str) -> None:
        order.status = status
        order.time_ms = int(time.time() * 1000)
        if status == "SUCCESS":
            order.charged += 1
        if status in ("SUCCESS", "FAILED") and order.notification_url:
            self._notify(
                order.notification_url, {"notifyType": "RECHARGE", **self._payment_biz(order)}, order.sign_type
            )
        if status == "CLOSED" and order.close_notification_url:
            biz = {"notifyType": "RECHARGE", **self._payment_biz(order)}
            self._notify(order.close_notification_url, biz, order.sign_type)

    def _payment_biz(self, order: _Order, request_id: str | None = None) -> dict[str, Any]:
        code = _DEFAULT_CODES.get(order.status, ("001000", ""))[0]
        return {
            "transactionId": order.tid,
            "merchantTransactionId": order.mtid,
            "requestId": request_id or order.request_ids[-1],
            "amount": _wire(order.amount),
            "currency": order.currency,
            "status": order.status,
            "resultCode": code,
            "resultDescription": order.status.lower(),
            "transactionTime": str(order.time_ms),
            "paymentMethod": {"type": order.method},
        }

    def _sweep_locked(self) -> None:
        """The gateway's own moves: a confirmed password pays, an order past its timeExpire closes."""
        now = time.time()
        for order in self._orders.values():
            if order.status != "PROCESSING":
                continue
            closes_at = order.time_expire
            if order.paid_at is not None and now >= order.paid_at and (closes_at is None or order.paid_at < closes_at):
                self._move(order, "SUCCESS")
            elif closes_at is not None and now >= closes_at:
                self._move(order, "CLOSED")

    def _housekeep(self) -> None:
        while not self._stopping.wait(0.05):
            with self._lock:
                self._sweep_locked()

    def _notify(self, url: str, biz: dict[str, Any] | str, sign_type: str) -> None:
        text = biz if isinstance(biz, str) else json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
        try:
            shown = biz if isinstance(biz, dict) else json.loads(text, parse_float=Decimal)
        except (ValueError, RecursionError):
            shown = {}
        record: dict[str, Any] = {"url": url, "biz": shown if isinstance(shown, dict) else {}, "outcomes": []}
        self._notifications.append(record)
        signer = self.signers.get(sign_type, SHA256)
        message = {
            "accId": self.credentials.acc_id,
            "clientId": self.credentials.client_id,
            "version": "1.0",
            "bizContent": text,
        }
        body = json.dumps(signed(message, self.credentials.salt, signer)).encode("utf-8")
        thread = threading.Thread(target=self._deliver, args=(record, body), name="paycode-docgateway-notify")
        thread.daemon = True
        thread.start()

    def _deliver(self, record: dict[str, Any], body: bytes) -> None:
        """POST, retried after each delay of the schedule until a 2xx that is not ``FAIL``."""
        for delay in (0.0, *self.notify_schedule):
            if self._stopping.wait(delay) or self._http is None:
                return
            try:
                response = self._http.post(record["url"], content=body, headers={"Content-Type": "application/json"})
                outcome = str(response.status_code)
                if response.is_success and response.text.strip().upper() == "FAIL":
                    outcome = "FAIL"
            except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the client closed at stop
                outcome = type(exc).__name__
            with self._lock:
                record["outcomes"].append(outcome)
            if outcome.startswith("2"):
                return


# ---------------------------------------------------------------------------- field readers


def _read(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The request envelope with ``bizContent`` as text (an object becomes its canonical text), or a problem."""
    try:
        message = json.loads(body.decode("utf-8"), parse_float=_Number, parse_int=_Number)
    except (ValueError, RecursionError):
        return {}, "the body is not UTF-8 JSON text"
    if not isinstance(message, dict):
        return {}, "the body must be a JSON object (the V4 envelope)"
    if isinstance(message.get("bizContent"), dict):
        try:
            message["bizContent"] = _canonical(message["bizContent"])
        except RecursionError:
            return {}, "bizContent is nested too deeply"
    for key in ("accId", "clientId", "signType", "sign", "version", "bizContent"):
        if not isinstance(message.get(key), str) or not message[key]:
            return {}, f"{key} is missing or not text (bizContent: JSON text or a JSON object)"
    return message, None


def _id(biz: Mapping[str, Any], key: str) -> str:
    value = biz.get(key)
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise _bad(f"{key} is required: text of 1 to {_MAX_ID} characters")
    return value


def _money(biz: Mapping[str, Any]) -> tuple[Decimal, str]:
    amount, currency = biz.get("amount"), biz.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int, str)):
        raise _bad("amount is required: a positive decimal number")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise _bad(f"amount {amount!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise _bad(f"amount {amount!r} must be greater than zero")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        raise _bad("currency is required: an ISO 4217 code such as CNY")
    return value, currency


def _url(biz: Mapping[str, Any], key: str) -> str | None:
    value = biz.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or "?" in value:
        raise _bad(f"{key} must be an http(s) URL without query parameters")
    return value


def _tampered(rule: Rule, code: str, description: str, biz: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The answer as the rule changes it (still signed afterwards: a correctly signed but different answer)."""
    if rule.code is not None:
        code = rule.code
        description = rule.description or f"result code {rule.code}"
        if "resultCode" in biz:
            biz["resultCode"] = rule.code
    elif rule.description is not None:
        description = rule.description
    for field, value in (
        ("status", rule.status),
        ("amount", rule.amount),
        ("currency", rule.currency),
        ("requestId", rule.request_id),
        ("merchantTransactionId", rule.merchant_transaction_id),
    ):
        if value is UNSET:
            continue
        if value is None:
            biz.pop(field, None)
        else:
            biz[field] = value
    return code, description, biz


# ---------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], gateway: DocGateway) -> None:
        self.gateway = gateway
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "paycode-docgateway"
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > 64 * 1024:
            self._send(411, b"Content-Length (at most 65536) is required", "text/plain")
            return
        body = self.rfile.read(int(length))
        if path not in PATHS:
            self._send(404, f"unknown path {path}".encode(), "text/plain")
            return
        answer = self.server.gateway.handle(path, body)
        if answer is None:  # a stall that outlived the gateway: close without answering
            self.close_connection = True
            return
        self._send(answer[0], answer[1], "application/json; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client went away
