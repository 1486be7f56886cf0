"""The PingPong Checkout V4 client: one sans-IO core, driven by a sync and an asyncio client on httpx.

:class:`PingPongProtocol` builds every request (``bizContent`` serialised once, signed,
that same text sent) and turns every HTTP answer into a verified :class:`GatewayAnswer`
or an :class:`~paycode.errors.OutcomeUnknown`. :class:`Exchange` decides the retries of
one call. :class:`PingPongClient` and :class:`AsyncPingPongClient` only move bytes, through
one method: ``send(operation, biz)``. The six V4 operations are data (:class:`Operation`:
:data:`PAY`, :data:`QUERY`, :data:`REFUND`, :data:`REFUND_QUERY`, :data:`VOID`,
:data:`VOID_QUERY`), their ``bizContent`` built by :mod:`paycode.bizcontent`.

An answer that did not arrive, is not JSON, is a 5xx, fails signature verification, or
does not match its request (:func:`answer_mismatch`) is never read as "failed": the call is
retried with the very same body (same ``requestId``) a bounded number of times, then
:class:`OutcomeUnknown` is raised and the caller queries. :func:`code_meaning` says what a
top-level result code means.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import attrs
import certifi
import httpx

from . import bizcontent
from .errors import ConfigError, MessageError, OrderError, OutcomeUnknown, PaycodeError
from .models import Money, PaymentStatus
from .netaddr import is_loopback
from .plugin_types import SignerType
from .signing import signed, verify_message

__all__ = [
    "OPERATIONS",
    "PATHS",
    "PAY",
    "QUERY",
    "REFUND",
    "REFUND_QUERY",
    "VOID",
    "VOID_QUERY",
    "RESULT_CODES",
    "AsyncGatewayClient",
    "AsyncPingPongClient",
    "CodeFamily",
    "CodeMeaning",
    "Credentials",
    "Exchange",
    "GatewayAnswer",
    "GatewayClient",
    "Operation",
    "PingPongClient",
    "PingPongProtocol",
    "PreparedCall",
    "answer_mismatch",
    "check_base_url",
    "code_family",
    "code_meaning",
    "is_loopback",
]

log = logging.getLogger("paycode.gateway")


# ---------------------------------------------------------------------------- operations


@attrs.frozen
class Operation:
    """One V4 operation as data: its path, the ``bizContent`` fields it needs, and what its answer must echo.

    ``required`` fields must all be present, ``one_of`` at least one of them (a query names the
    order by ``merchantTransactionId`` or ``transactionId``). ``attempt_field`` names the id of the
    attempt (``requestId``, ``merchantRefundId``, …): when the request carries it, the answer must
    not name another. ``money``: the request carries ``amount`` and ``currency`` and a successful
    answer must carry the same.
    """

    name: str
    path: str
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    attempt_field: str | None = None
    money: bool = False

    def missing(self, biz: Mapping[str, Any]) -> str | None:
        """None when ``biz`` has the fields this operation needs; else which are missing."""
        absent = [f for f in self.required if biz.get(f) in (None, "")]
        if self.one_of and all(biz.get(f) in (None, "") for f in self.one_of):
            absent.append(" or ".join(self.one_of))
        if absent:
            return f"{self.name} ({self.path}) needs bizContent field(s) {', '.join(absent)}"
        return None


PAY = Operation(
    "unified_pay",
    "/v4/payment/unifiedPay",
    required=(
        "captureDelayHours",
        "amount",
        "currency",
        "requestId",
        "merchantTransactionId",
        "paymentMethod",
        "device",
    ),
    attempt_field="requestId",
    money=True,
)
QUERY = Operation(
    "query", "/v4/payment/query", one_of=("merchantTransactionId", "transactionId"), attempt_field="requestId"
)
REFUND = Operation(
    "refund",
    "/v4/payment/refund",
    required=("merchantTransactionId", "merchantRefundId", "amount", "currency"),
    attempt_field="merchantRefundId",
    money=True,
)
REFUND_QUERY = Operation(
    "refund_query",
    "/v4/refund/query",
    required=("merchantTransactionId",),
    one_of=("merchantRefundId", "refundId"),
    attempt_field="merchantRefundId",
)
VOID = Operation(
    "void",
    "/v4/payment/void",
    required=("merchantTransactionId", "merchantVoidId", "amount", "currency", "notificationUrl"),
    attempt_field="merchantVoidId",
    money=True,
)
VOID_QUERY = Operation(
    "void_query", "/v4/void/query", required=("merchantVoidId", "merchantTransactionId"), attempt_field="merchantVoidId"
)

#: every operation by name (``unified_pay``, ``query``, …)
OPERATIONS: Mapping[str, Operation] = {op.name: op for op in (PAY, QUERY, REFUND, REFUND_QUERY, VOID, VOID_QUERY)}

#: operation name -> V4 path
PATHS: Mapping[str, str] = {name: op.path for name, op in OPERATIONS.items()}

#: codes of answers that say our request was not authenticated (wrong credentials or salt)
AUTH_CODES = frozenset({"103000", "104000"})


# ---------------------------------------------------------------------------- result codes


class CodeMeaning(enum.StrEnum):
    """What a top-level ``code`` says about a request, on its own (``bizContent.status`` decides when present).

    ``REFUSED``: the request was refused before anything was executed (bad parameter, credentials,
    merchant state, currency or amount): not paid, FAILED at once. ``DECLINED``: risk control or the
    wallet/bank said no: not paid, FAILED at once. ``UNKNOWN``: no decision can be read from the code
    (system error, upstream timeout, duplicate, an undocumented shape): query before deciding.
    ``NOT_FOUND``: the gateway has no such transaction.
    """

    SUCCESS = "success"
    PROCESSING = "processing"
    REFUSED = "refused"
    DECLINED = "declined"
    UNKNOWN = "unknown"
    NOT_FOUND = "not_found"


@attrs.frozen
class CodeFamily:
    """One row of the result-code table: codes matching ``pattern`` (``x`` any digit) and what they mean."""

    pattern: str
    meaning: CodeMeaning
    description: str

    def matches(self, code: str) -> bool:
        return len(code) == len(self.pattern) and all(p in ("x", c) for p, c in zip(self.pattern, code, strict=True))


#: The documented code families, most specific first (docs/payment-flow.md "Result codes" gives each its source).
RESULT_CODES: tuple[CodeFamily, ...] = (
    CodeFamily("000000", CodeMeaning.SUCCESS, "transaction succeeded"),
    CodeFamily("001000", CodeMeaning.UNKNOWN, "request succeeded: bizContent.status says what happened"),
    CodeFamily("002000", CodeMeaning.PROCESSING, "transaction processing"),
    CodeFamily("101xxx", CodeMeaning.REFUSED, "merchant or account state"),
    CodeFamily("102xxx", CodeMeaning.REFUSED, "bad parameter"),
    CodeFamily("103xxx", CodeMeaning.REFUSED, "authentication failed"),
    CodeFamily("104xxx", CodeMeaning.REFUSED, "invalid signature"),
    CodeFamily("105xxx", CodeMeaning.REFUSED, "transaction invalid or expired"),
    CodeFamily("106xxx", CodeMeaning.REFUSED, "currency or amount"),
    CodeFamily("107000", CodeMeaning.UNKNOWN, "duplicated transaction: the order exists, its state is unknown"),
    CodeFamily("107001", CodeMeaning.NOT_FOUND, "transaction does not exist"),
    CodeFamily("108xxx", CodeMeaning.REFUSED, "refused (108xxx)"),
    CodeFamily("109xxx", CodeMeaning.REFUSED, "refused (109xxx)"),
    CodeFamily("2xxxxx", CodeMeaning.DECLINED, "risk control"),
    CodeFamily("3xxxxx", CodeMeaning.DECLINED, "bank or wallet decline"),
    CodeFamily("4xxxxx", CodeMeaning.REFUSED, "refused (4xxxxx)"),
    CodeFamily("5xxxxx", CodeMeaning.UNKNOWN, "system error"),
    CodeFamily("600002", CodeMeaning.UNKNOWN, "upstream timeout"),
)


def code_family(code: str) -> CodeFamily | None:
    """The documented family of ``code``, or None for a shape the documentation does not list."""
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    return next((family for family in RESULT_CODES if family.matches(code)), None)


def code_meaning(code: str) -> CodeMeaning:
    """What a top-level ``code`` means (:class:`CodeMeaning`); UNKNOWN for any shape the documentation does not list."""
    family = code_family(code) if isinstance(code, str) else None
    return family.meaning if family is not None else CodeMeaning.UNKNOWN


# ---------------------------------------------------------------------------- values


def _status(biz: Mapping[str, Any]) -> PaymentStatus | None:
    value = biz.get("status")
    try:
        return PaymentStatus(value) if isinstance(value, str) else None
    except ValueError:
        return None


@attrs.frozen
class GatewayAnswer:
    """A verified answer (its signature checked): top-level code, description, parsed bizContent."""

    code: str
    description: str
    biz: Mapping[str, Any]
    status: PaymentStatus | None
    http_status: int

    @classmethod
    def from_parts(cls, code: str, description: str, biz: Mapping[str, Any], http_status: int) -> GatewayAnswer:
        return cls(code=code, description=description, biz=biz, status=_status(biz), http_status=http_status)

    def as_json(self) -> dict[str, Any]:
        """JSON-able summary for events (amounts as text; no payment code: paymentMethod is left out)."""
        keep = ("transactionId", "status", "resultCode", "resultDescription", "refundId", "amount", "currency")
        biz = {k: str(v) if k == "amount" else v for k, v in self.biz.items() if k in keep}
        return {"code": self.code, "description": self.description, **biz}


#: the payment statuses the V4 documentation lists (``AUTH_SUCCESS`` is a pre-authorisation's)
DOCUMENTED_STATUSES = frozenset({"INIT", "PROCESSING", "SUCCESS", "FAILED", "CLOSED", "CANCEL", "AUTH_SUCCESS"})
_NOT_PAID_STATUSES = frozenset({"FAILED", "CLOSED", "CANCEL"})
#: code meanings that do not say "not paid": beside FAILED, CLOSED or CANCEL they make the answer inconsistent
_UNDECIDED = frozenset({CodeMeaning.SUCCESS, CodeMeaning.PROCESSING, CodeMeaning.UNKNOWN})
#: the top-level codes that may stand beside status SUCCESS ("transaction succeeded", "request succeeded")
_SUCCESS_CODES = frozenset({"000000", "001000"})


def _amount_problem(amount: object) -> str | None:
    """None when an answer's ``amount`` is a plain, non-negative decimal (bizcontent.parse made it a Decimal)."""
    if isinstance(amount, Decimal) and amount.is_finite() and amount >= 0:
        return None
    return f"amount {amount!r} is not a plain decimal number (digits, optional '.' and decimals; no exponent)"


def _mismatch(
    answer: GatewayAnswer,
    *,
    order_id: str | None,
    attempt_field: str | None,
    attempt_id: str | None,
    money: Money | None,
) -> str | None:
    biz = answer.biz
    problems: list[str] = []
    status = biz.get("status")
    if status is not None and status not in DOCUMENTED_STATUSES:
        problems.append(
            f"status {status!r} is not one the gateway documents ({', '.join(sorted(DOCUMENTED_STATUSES))})"
        )
    success = status == "SUCCESS" or (status is None and answer.code == "000000")
    got_order = biz.get("merchantTransactionId")
    if order_id is not None:
        if got_order is not None and got_order != order_id:
            problems.append(f"merchantTransactionId {got_order!r} where {order_id!r} was asked")
        elif got_order is None and success:
            problems.append(f"a success that names no order (merchantTransactionId missing; asked {order_id!r})")
    if attempt_field is not None and attempt_id is not None:
        got_attempt = biz.get(attempt_field)
        if got_attempt is not None and got_attempt != attempt_id:
            problems.append(f"{attempt_field} {got_attempt!r} where {attempt_id!r} was asked")
    if money is not None:
        amount, currency = biz.get("amount"), biz.get("currency")
        if amount is None:
            if success:
                problems.append(f"a success with no amount (asked {money})")
        elif (problem := _amount_problem(amount)) is not None:
            problems.append(problem)
        elif amount != money.amount:
            problems.append(f"amount {amount} where {money.wire()} was asked")
        if currency is None:
            if success:
                problems.append(f"a success with no currency (asked {money.currency})")
        elif currency != money.currency:
            problems.append(f"currency {currency!r} where {money.currency} was asked")
    code = answer.code
    if status == "SUCCESS" and code not in _SUCCESS_CODES:
        problems.append(f"code {code} ({answer.description or 'no description'}) beside status SUCCESS")
    elif code == "000000" and status is not None and status != "SUCCESS":
        problems.append(f"code 000000 (transaction succeeded) beside status {status}")
    elif status in _NOT_PAID_STATUSES and code != "001000" and code_meaning(code) in _UNDECIDED:
        # "not paid" is only believed beside a code that says so (a refusal, a decline, no such order)
        meaning = code_meaning(code).value
        problems.append(f"code {code} ({meaning}: {answer.description or 'no description'}) beside status {status}")
    return "; ".join(problems) or None


def answer_mismatch(
    answer: GatewayAnswer,
    *,
    order_id: str,
    request_id: str | None = None,
    money: Money | None = None,
    refund_id: str | None = None,
) -> str | None:
    """What in a verified ``answer`` differs from what was asked, or None when it is consistent.

    Checked: the order id (``merchantTransactionId``; a success must name it), the attempt
    (``requestId`` when ``request_id`` is given, ``merchantRefundId`` when ``refund_id`` is), the
    money when given (a success must carry ``amount`` and ``currency``; the amount must be a
    plain decimal equal to ``money`` in the currency's exponent: ``"100.000000"`` is 100.00 CNY),
    a status the documentation lists, and a code consistent with the status (no decline code
    such as ``301002`` beside ``SUCCESS``, no ``000000`` beside another status). An answer that
    does not match is untrustworthy: the outcome stays unknown and the order is queried.
    """
    field, attempt = ("merchantRefundId", refund_id) if refund_id is not None else ("requestId", request_id)
    return _mismatch(answer, order_id=order_id, attempt_field=field, attempt_id=attempt, money=money)


@attrs.frozen
class Credentials:
    """The merchant's account: ``accId``, ``clientId`` and the secret (*salt*), never shown."""

    acc_id: str
    client_id: str
    salt: str = attrs.field(repr=lambda _: "<hidden>")


@attrs.frozen
class PreparedCall:
    """One request ready to send: the exact body whose signature covers ``biz_text``."""

    operation: Operation
    url: str
    body: bytes = attrs.field(repr=False)
    biz_text: str = attrs.field(repr=False)
    order_id: str | None
    request: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The operation's name (``unified_pay``, ``query``, …), as errors and logs show it."""
        return self.operation.name

    def expected_money(self) -> Money | None:
        """The amount and currency the request carries (operations that move money), else None."""
        if not self.operation.money:
            return None
        try:
            return Money(self.request["amount"], self.request["currency"])
        except (KeyError, PaycodeError):
            return None


# ---------------------------------------------------------------------------- protocols


@runtime_checkable
class GatewayClient(Protocol):
    """A gateway client: one operation, ``send``, returning a verified answer or raising OutcomeUnknown.

    ``send(operation, biz)`` posts one :class:`Operation` (``PAY``, ``QUERY``, ``REFUND``, …) with its
    ``bizContent`` (built by :mod:`paycode.bizcontent`); it is the one method a gateway plugin implements.
    """

    @property
    def base_url(self) -> str: ...

    def send(self, operation: Operation, biz: Mapping[str, Any]) -> GatewayAnswer: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncGatewayClient(Protocol):
    """The asyncio twin of :class:`GatewayClient`."""

    @property
    def base_url(self) -> str: ...

    async def send(self, operation: Operation, biz: Mapping[str, Any]) -> GatewayAnswer: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------- base URL


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, when it is https://, or http:// to a loopback address; else ConfigError."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # a bracketed host that is not an IPv6 address, or its bracket never closed
        raise ConfigError(
            f"gateway URL {url!r} is not a URL ({exc}); give https://host[:port], an IPv6 host as https://[::1]:PORT"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"gateway URL {url!r} is not an https:// URL with a host")
    if parts.query or parts.fragment:
        raise ConfigError(f"gateway URL {url!r} must not carry a query or fragment; give only scheme://host[:port]")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"gateway URL {url!r} uses plain http:// to a host that is not loopback; "
            "use https://, or http:// only to 127.0.0.1, ::1 or localhost"
        )
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise ConfigError(f"gateway URL {url!r} has an invalid port") from None
    return url.rstrip("/")


# ---------------------------------------------------------------------------- sans-IO core


class PingPongProtocol:
    """Builds signed requests and verifies answers; no I/O.

    ``signer`` signs our requests; ``signers`` (by signType) verify answers, whose
    ``signType`` may differ from ours.
    """

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        signer: SignerType,
        signers: Mapping[str, SignerType],
        retries: int = 2,
        backoff: float = 0.3,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.credentials = credentials
        self.signer = signer
        self.signers = dict(signers)
        self.signers.setdefault(signer.sign_type, signer)
        self.retries = retries
        self.backoff = backoff

    def prepare(self, operation: Operation | str, biz: Mapping[str, Any]) -> PreparedCall:
        """Serialise ``biz`` once, sign that text, and build the body that carries it.

        OrderError when ``biz`` lacks a field the operation needs (nothing is sent).
        """
        if isinstance(operation, str):
            try:
                operation = OPERATIONS[operation]
            except KeyError:
                raise OrderError(
                    f"gateway operation {operation!r} is unknown; known: {', '.join(OPERATIONS)}"
                ) from None
        missing = operation.missing(biz)
        if missing is not None:
            raise OrderError(missing)
        text = bizcontent.serialise(biz)
        envelope = {
            "accId": self.credentials.acc_id,
            "clientId": self.credentials.client_id,
            "version": "1.0",
            "bizContent": text,
        }
        message = signed(envelope, self.credentials.salt, self.signer)
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        order = biz.get("merchantTransactionId")
        return PreparedCall(
            operation=operation,
            url=self.base_url + operation.path,
            body=body,
            biz_text=text,
            order_id=order if isinstance(order, str) else None,
            request=biz,
        )

    def interpret(self, call: PreparedCall, http_status: int, content: bytes) -> GatewayAnswer:
        """A verified answer, or OutcomeUnknown saying why the answer cannot be trusted."""

        def unknown(why: str, **context: Any) -> OutcomeUnknown:
            return OutcomeUnknown(
                f"{call.name}: {why}; outcome unknown", operation=call.name, order=call.order_id, **context
            )

        if http_status >= 500:
            raise unknown(f"the gateway answered HTTP {http_status}", http_status=http_status)
        try:
            message = json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise unknown(f"the answer (HTTP {http_status}, {len(content)} bytes) is not JSON") from None
        if not isinstance(message, dict):
            raise unknown("the answer is not a JSON object")
        code = message.get("code")
        code_text = code if isinstance(code, str) else None
        signer = self.signers.get(str(message.get("signType")))
        try:
            verified = signer is not None and verify_message(message, self.credentials.salt, signer)
        except MessageError:
            verified = False
        if not verified:
            if code_text in AUTH_CODES:
                raise unknown(
                    f"the gateway rejected our request with code {code_text} ({message.get('description', '')}) "
                    "in an answer we cannot verify: check accId, clientId and the salt",
                    code=code_text,
                )
            raise unknown("the answer's signature does not verify", code=code_text)
        if message.get("accId") != self.credentials.acc_id or message.get("clientId") != self.credentials.client_id:
            raise unknown("the answer is for another merchant account (accId/clientId differ)")
        if code_text is None:
            raise unknown("the answer has no code")
        biz_text = message.get("bizContent")
        biz: dict[str, Any] = {}
        if isinstance(biz_text, str) and biz_text:
            try:
                biz = bizcontent.parse(biz_text)
            except MessageError as exc:
                raise unknown(f"the answer's {exc}") from None
        order = biz.get("merchantTransactionId")
        if call.order_id and order is not None and order != call.order_id:
            raise unknown(
                "the answer names another order (merchantTransactionId differs)",
                mismatch=f"merchantTransactionId {order!r} where {call.order_id!r} was asked",
            )
        answer = GatewayAnswer.from_parts(code_text, str(message.get("description") or ""), biz, http_status)
        field = call.operation.attempt_field
        attempt = call.request.get(field) if field else None
        mismatch = _mismatch(
            answer,
            order_id=call.order_id,
            attempt_field=field,
            attempt_id=attempt if isinstance(attempt, str) else None,
            money=call.expected_money(),
        )
        if mismatch is not None:
            raise unknown(f"the answer does not match the request ({mismatch})", code=code_text, mismatch=mismatch)
        return answer

    def exchange(self, call: PreparedCall) -> Exchange:
        return Exchange(self, call)


class Exchange:
    """One call and its retries, sans-IO: the driver asks for the next delay, sends, and reports back.

    ::

        ex = protocol.exchange(call)
        while (delay := ex.next_delay()) is not None:
            sleep(delay); try: send … except transport error: ex.transport_failed(exc); continue
            if (answer := ex.answered(status, content)) is not None: return answer
        raise ex.failure()
    """

    def __init__(self, protocol: PingPongProtocol, call: PreparedCall) -> None:
        self.protocol = protocol
        self.call = call
        self.tries = 0
        self.delivered = False  # may the gateway have received at least one copy?
        self.last: OutcomeUnknown | None = None

    def next_delay(self) -> float | None:
        """Seconds to wait before the next try, or None when the tries are used up."""
        if self.tries > self.protocol.retries:
            return None
        self.tries += 1
        return 0.0 if self.tries == 1 else self.protocol.backoff * (self.tries - 1)

    def transport_failed(self, exc: httpx.TransportError) -> None:
        # A refused or unfinished connection never carried the request; anything later may have.
        if not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            self.delivered = True
        log.info("%s try %d: %s: %s", self.call.name, self.tries, type(exc).__name__, exc)
        self.last = OutcomeUnknown(
            f"{self.call.name}: no answer from the gateway ({type(exc).__name__}: {exc}); outcome unknown",
            operation=self.call.name,
            order=self.call.order_id,
        )

    def answered(self, http_status: int, content: bytes) -> GatewayAnswer | None:
        """The verified answer, or None to try again."""
        self.delivered = True
        try:
            return self.protocol.interpret(self.call, http_status, content)
        except OutcomeUnknown as exc:
            log.info("%s try %d: %s", self.call.name, self.tries, exc)
            self.last = exc
            return None

    def failure(self) -> OutcomeUnknown:
        """The error to raise once the tries are used up; ``context['delivered']`` says if it may have arrived."""
        last = self.last or OutcomeUnknown(f"{self.call.name}: no answer; outcome unknown")
        context = {**last.context, "delivered": self.delivered, "tries": self.tries}
        return OutcomeUnknown(last.message, **context)


# ---------------------------------------------------------------------------- drivers


_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (what httpx builds by default: certifi's CA bundle).

    Loading the bundle costs about 20 ms and 3 MB; without this every client would load it again.
    """
    return ssl.create_default_context(cafile=certifi.where())


def _timeout(connect: float, read: float) -> httpx.Timeout:
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


class PingPongClient:
    """Synchronous client. ``on_close`` runs after the HTTP pool closes (the sandbox plugin stops its server)."""

    def __init__(
        self,
        protocol: PingPongProtocol,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        on_close: Callable[[], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.protocol = protocol
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._on_close = on_close
        self._http = httpx.Client(
            timeout=_timeout(connect_timeout, read_timeout),
            headers=_HEADERS,
            verify=_tls_context(),
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return self.protocol.base_url

    def send(self, operation: Operation, biz: Mapping[str, Any]) -> GatewayAnswer:
        """Send one operation: a verified answer consistent with the request, or OutcomeUnknown.

        OrderError when ``biz`` lacks a field the operation needs (nothing is sent).
        """
        call = self.protocol.prepare(operation, biz)
        ex = self.protocol.exchange(call)
        while (delay := ex.next_delay()) is not None:
            if delay:
                time.sleep(delay)
            try:
                response = self._http.post(call.url, content=call.body)
            except httpx.TransportError as exc:
                ex.transport_failed(exc)
                continue
            answer = ex.answered(response.status_code, response.content)
            if answer is not None:
                return answer
        raise ex.failure()

    def close(self) -> None:
        self._http.close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __enter__(self) -> PingPongClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncPingPongClient:
    """asyncio client: the same operations as :class:`PingPongClient`, awaited."""

    def __init__(
        self,
        protocol: PingPongProtocol,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        on_close: Callable[[], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.protocol = protocol
        self._on_close = on_close
        self._http = httpx.AsyncClient(
            timeout=_timeout(connect_timeout, read_timeout),
            headers=_HEADERS,
            verify=_tls_context(),
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return self.protocol.base_url

    async def send(self, operation: Operation, biz: Mapping[str, Any]) -> GatewayAnswer:
        """Send one operation: a verified answer consistent with the request, or OutcomeUnknown."""
        call = self.protocol.prepare(operation, biz)
        ex = self.protocol.exchange(call)
        while (delay := ex.next_delay()) is not None:
            if delay:
                await asyncio.sleep(delay)
            try:
                response = await self._http.post(call.url, content=call.body)
            except httpx.TransportError as exc:
                ex.transport_failed(exc)
                continue
            answer = ex.answered(response.status_code, response.content)
            if answer is not None:
                return answer
        raise ex.failure()

    async def close(self) -> None:
        await self._http.aclose()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    async def __aenter__(self) -> AsyncPingPongClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
