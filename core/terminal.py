"""The object host applications embed: :class:`Terminal` (blocking) and :class:`AsyncTerminal` (asyncio).

Both check their input the same way and run the same flows (:mod:`paycode.payflow`);
they differ only in how they wait. Everything that can be refused is refused before
anything is written or sent: the order id, the amount and currency, the wallet of the
code, the gateway settings and credentials.

::

    from paycode import Settings, Terminal

    with Terminal(Settings.load()) as t:
        payment = t.pay(amount="12.50", currency="CNY", code="130000000000000001")
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from . import bizcontent
from .errors import ConfigError, MoneyError, OrderError, PaycodeError, ScanTimeout, UsageError
from .journal import JournalBackend, open_journal
from .masking import mask_code
from .models import Money, Payment, PaymentRequest, PollingPolicy, Scan, WalletType
from .payflow import (
    Flow,
    FlowContext,
    RefundResult,
    drive,
    drive_async,
    outcome,
    pay_flow,
    query_flow,
    refund_flow,
)
from .settings import Settings

if TYPE_CHECKING:
    from .gateway import AsyncGatewayClient, GatewayClient
    from .host import PluginHost
    from .supervisor import ScanSupervisor
    from .wake import Waker

__all__ = ["REFUND_POLLING", "AsyncTerminal", "PayFields", "Sale", "Terminal", "outcome"]

#: how a refund that answers PROCESSING is followed, unless poll_interval / deadline settings say otherwise
REFUND_POLLING = PollingPolicy(interval=2.0, deadline=30.0)
#: how long pay() waits for a scan when no code is given
DEFAULT_SCAN_TIMEOUT = 60.0
#: with a waker, how often a sleeping lane also looks whether its pay was cancelled
_CANCEL_SLICE = 0.25

Amount = Money | Decimal | str | int


@attrs.frozen
class PayFields:
    """The optional unifiedPay fields a merchant may send (docs/payment-flow.md, "Request fields")."""

    pay_result_url: str | None = None
    remark: str | None = None
    goods: Sequence[Mapping[str, Any]] | None = None
    customer: Mapping[str, Any] | None = None
    shopper_ip: str | None = None
    trade_country: str | None = None


@attrs.frozen
class Sale:
    """A checked sale, before its code is known: order id, money, and the settings that shape the flow."""

    order_id: str
    money: Money


def _scanned(scan: Scan | None, timeout: float) -> str:
    if scan is None:
        raise ScanTimeout(f"no code was scanned within {timeout:g} s")
    return scan.text


class _Flight:
    """One pay in flight on a terminal: whether the host cancelled it, and how its sleep is woken early."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.cancelled = False
        self.wake = threading.Event()
        self.loop = loop
        self.async_wake = asyncio.Event() if loop is not None else None

    def poke(self) -> None:
        """Wake the flight's current (or next) sleep once; safe from any thread."""
        self.wake.set()
        if self.loop is not None and self.async_wake is not None:
            try:
                self.loop.call_soon_threadsafe(self.async_wake.set)
            except RuntimeError:  # the loop is closed: the pay is over
                pass


def _refund_amount(amount: Amount, currency: str | None) -> tuple[Decimal | str | int, str | None]:
    """The refund's amount and the currency it names (None: the order's); MoneyError when they disagree."""
    if not isinstance(amount, Money):
        return amount, currency
    if currency is not None and currency.strip().upper() != amount.currency:
        raise MoneyError(
            f"refund amount {amount} is in {amount.currency} but currency {currency.strip().upper()} was given; "
            "give one currency: the order's"
        )
    return amount.amount, amount.currency


def _waker_from(settings: Settings) -> Waker | None:
    """The waker the settings call for (:func:`paycode.wake.waker_for`), or None for plain sleeping: ``wake = "off"``,
    or a waker that cannot be made here (the lane then polls, as it would without notifications)."""
    from .wake import SleepWaker, waker_for

    try:
        waker = waker_for(settings)
    except (PaycodeError, OSError):
        return None
    if isinstance(waker, SleepWaker):
        return None
    return waker


def _seconds(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} {value!r} must be a positive number of seconds")
    return float(value)


class _TerminalBase:
    """Settings, plugins, journal and the checks both terminals share."""

    def __init__(
        self,
        settings: Settings | None,
        host: PluginHost | None,
        journal: JournalBackend | None,
        waker: Waker | None = None,
    ) -> None:
        if settings is None:
            settings = host.settings if host is not None else Settings.load()
        if settings.notification_url:
            bizcontent.check_notification_url(settings.notification_url)
        self.settings = settings
        if host is None:
            from .host import PluginHost

            host = PluginHost(settings)
        self.host = host
        self._own_journal = journal is None
        # a lane never announces its own payment's answers (it is the one waiting on them): only the receiver,
        # recovery and reconciliation do (open_journal(announce=False); docs/store.md)
        self.journal = journal if journal is not None else open_journal(settings.journal, announce=False)
        self.recovered: list[Any] = []
        #: an optional waker (paycode.wake): news of an order ends its lane's sleep early. A terminal that opens
        #: its journal from the settings builds one from them when none is given (``wake = "off"``: none, plain
        #: sleeping) and closes it when it closes.
        self._own_waker = waker is None and self._own_journal
        self.waker = _waker_from(settings) if self._own_waker else waker
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()
        self.context = FlowContext(
            journal=self.journal,
            emit=host.emit,
            lane=settings.lane,
            notification_url=settings.notification_url,
            read_timeout=settings.read_timeout,
            close_grace=settings.close_grace,
            cancelled=self._is_cancelled,
            gateway="sandbox" if settings.gateway == "sandbox" else "pingpong",
            site="" if settings.gateway == "sandbox" else settings.gateway,
        )

    # -- pays in flight ----------------------------------------------------------------

    def cancel(self, order_id: str) -> bool:
        """Stop waiting for the shopper of the pay in flight for ``order_id`` (thread-safe).

        The pay goes to the documented closing path (it keeps asking until the gateway reports
        the order CLOSED at its timeExpire, or paid after all); its final state arrives as
        events and as the value ``pay`` returns. False when no such pay is in flight here.
        """
        with self._flights_lock:
            flight = self._flights.get(order_id)
        if flight is None:
            return False
        flight.cancelled = True
        flight.poke()
        return True

    def _is_cancelled(self, order_id: str) -> bool:
        flight = self._flights.get(order_id)
        return flight is not None and flight.cancelled

    @contextmanager
    def _in_flight(self, order_id: str, loop: asyncio.AbstractEventLoop | None = None) -> Iterator[_Flight]:
        with self._flights_lock:
            if order_id in self._flights:
                raise OrderError(f"order {order_id!r} is already being paid on this terminal")
            flight = self._flights[order_id] = _Flight(loop)
        try:
            yield flight
        finally:
            with self._flights_lock:
                self._flights.pop(order_id, None)

    def _sleep(self, seconds: float, order_id: str | None) -> bool:
        """The sync drivers' sleep: ends early on a cancel or on news of the order (True then).

        With a waker, it waits on the waker in slices of :data:`_CANCEL_SLICE` so that a cancel is seen
        too; a waker that returns early without news (a closed one) never makes the lane spin.
        """
        flight = self._flights.get(order_id) if order_id else None
        waker = self.waker if order_id is not None else None
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if flight is not None and flight.wake.is_set():
                flight.wake.clear()
                return True
            step = min(left, _CANCEL_SLICE) if flight is not None else left
            began = time.monotonic()
            if waker is not None and order_id is not None and waker.wait(order_id, step):
                return True
            rest = step - (time.monotonic() - began)
            if rest > 0:
                if flight is None:
                    time.sleep(rest)
                elif flight.wake.wait(rest):
                    flight.wake.clear()
                    return True
        return False

    async def _sleep_async(self, seconds: float, order_id: str | None) -> bool:
        """The asyncio drivers' sleep: ends early on a cancel or on news of the order (True then)."""
        flight = self._flights.get(order_id) if order_id else None
        cancel = flight.async_wake if flight is not None else None
        waker = self.waker if order_id is not None else None
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            if cancel is not None and cancel.is_set():
                cancel.clear()
                return True
            waits: list[asyncio.Future[Any]] = []
            if cancel is not None:
                waits.append(asyncio.ensure_future(cancel.wait()))
            news: asyncio.Future[Any] | None = None
            if waker is not None and order_id is not None:
                news = asyncio.ensure_future(waker.wait_async(order_id, left))
                waits.append(news)
            if not waits:
                await asyncio.sleep(left)
                return False
            done, pending = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if cancel is not None and cancel.is_set():
                cancel.clear()
                return True
            if news is not None and news in done:
                if not news.cancelled() and news.exception() is None and news.result():
                    return True
                waker = None  # it returned without news before its time (closed): sleep without it
        return False

    # -- checks before anything is sent ------------------------------------------------

    def sale(self, amount: Amount, currency: str | None = None, order_id: str | None = None) -> Sale:
        """Check the order id and the money, and that some installed wallet takes the currency."""
        order = bizcontent.check_id(order_id, "order id") if order_id is not None else bizcontent.new_order_id()
        if isinstance(amount, Money):
            money = amount
            if currency is not None and currency.strip().upper() != money.currency:
                raise MoneyError(
                    f"amount {money} is in {money.currency} but currency {currency.strip().upper()} was given; "
                    "give one currency (or leave currency out when the amount is Money)"
                )
        elif currency is None:
            raise MoneyError(f"amount {amount!r} has no currency; give one such as CNY or HKD")
        elif isinstance(amount, str):
            money = Money.parse(amount, currency)
        else:
            money = Money(amount, currency.strip().upper())
        takers = [w for w in self.host.wallets.values() if money.currency in w.currencies]
        if not takers:
            installed = "; ".join(f"{w.name} ({', '.join(sorted(w.currencies))})" for w in self.host.wallets.values())
            installed = installed or "none (install a wallet plugin)"
            raise MoneyError(f"no installed wallet accepts {money.currency}; installed: {installed}")
        return Sale(order, money)

    def wallet_for(self, sale: Sale, code: str) -> WalletType:
        """The one wallet of ``code`` for this sale's currency; raises CodeFormatError/NoWalletError/…"""
        wallet = self.host.wallet_for(code, sale.money.currency)
        self.host.emit("classified", sale.order_id, wallet=wallet.name, label=wallet.label, code=mask_code(code))
        return wallet

    def polling(self, wallet: WalletType, poll_interval: float | None, deadline: float | None) -> PollingPolicy:
        """Argument, else setting, else the wallet's own rule; a defaulted interval never exceeds the deadline."""
        interval = _seconds("poll interval", poll_interval) or self.settings.poll_interval
        limit = _seconds("deadline", deadline) or self.settings.deadline or wallet.polling.deadline
        if interval is None:
            interval = min(wallet.polling.interval, limit)
        return PollingPolicy(interval=interval, deadline=limit)

    def refund_polling(self, poll_interval: float | None, deadline: float | None) -> PollingPolicy:
        interval = _seconds("poll interval", poll_interval) or self.settings.poll_interval
        limit = _seconds("deadline", deadline) or self.settings.deadline or REFUND_POLLING.deadline
        return PollingPolicy(interval=interval or min(REFUND_POLLING.interval, limit), deadline=limit)

    def request(self, sale: Sale, wallet: WalletType, code: str, fields: PayFields | None = None) -> PaymentRequest:
        """The unifiedPay request; the optional fields (checked here: OrderError before anything is sent) come from
        ``fields`` (Terminal.pay's arguments), else from the settings ``pay_result_url`` and ``trade_country``."""
        given = fields or PayFields()
        return PaymentRequest(
            money=sale.money,
            wallet=wallet,
            code=code,
            merchant_transaction_id=sale.order_id,
            request_id=bizcontent.new_request_id("rq"),
            notification_url=self.settings.notification_url,
            order_terminal=self.settings.order_terminal,
            pay_result_url=given.pay_result_url or self.settings.pay_result_url,
            remark=given.remark,
            goods=given.goods,
            customer=given.customer,
            shopper_ip=given.shopper_ip,
            trade_country=given.trade_country or self.settings.trade_country,
        )

    def _pay_flow(
        self, sale: Sale, text: str, poll_interval: float | None, deadline: float | None, fields: PayFields
    ) -> Flow[Payment]:
        """The pay flow for a code read or given (both terminals): its wallet, polling and request checked."""
        wallet = self.wallet_for(sale, text)
        policy = self.polling(wallet, poll_interval, deadline)
        return pay_flow(self.context, self.request(sale, wallet, text, fields), policy)

    def _refund_flow(
        self,
        order_id: str,
        amount: Amount,
        currency: str | None,
        poll_interval: float | None,
        deadline: float | None,
    ) -> Flow[RefundResult]:
        value, asked = _refund_amount(amount, currency)
        policy = self.refund_polling(poll_interval, deadline)
        return refund_flow(self.context, order_id, value, policy, currency=asked)

    def given_code(self, sale: Sale, code: str) -> str:
        code = code.strip()
        self.host.emit("scan", sale.order_id, text=mask_code(code), length=len(code), source="given")
        return code

    def _client_for(self, order_id: str, default: Any, *, asynchronous: bool) -> tuple[Any, bool]:
        """The client for the gateway and site the order was sent to (journaled; ``default``, the lane's, when it
        went there or the journal does not say), and whether to close it after."""
        from .recovery import client_for_order

        bizcontent.check_id(order_id, "order id")
        return client_for_order(self.host, self.journal.order(order_id), default, asynchronous=asynchronous)

    def _recover(self, client: GatewayClient) -> list[Any]:
        if self.settings.gateway == "sandbox":
            return []  # the embedded sandbox is new in every process: it cannot know the journal's orders
        from .recovery import recover
        from .store.claims import can_claim
        from .store.recover_all import recover_claimed

        # only this lane's orders: another lane sharing the journal may be paying one of its own right now; each
        # under a claim, as `recover --all-lanes` takes them: an order another recoverer holds is skipped, unresolved
        late_success, lane = self.settings.late_success, self.settings.lane
        if can_claim(self.journal):
            return list(recover_claimed(self.journal, client, self.host, lane=lane, late_success=late_success))
        return list(recover(self.journal, client, self.host, late_success=late_success, lane=lane))

    @contextmanager
    def reporting(self, operation: str, order_id: str | None = None) -> Iterator[None]:
        """Emit ``payment.error`` for a paycode error raised inside, then let it go on."""
        try:
            yield
        except PaycodeError as exc:
            self.host.emit("payment.error", order_id, operation=operation, error=exc.message, type=type(exc).__name__)
            raise

    def _close_journal(self) -> None:
        """Close what the terminal opened itself: its waker, then its journal."""
        waker, self.waker = (self.waker, None) if self._own_waker else (None, self.waker)
        try:
            if waker is not None:
                waker.close()
        finally:
            if self._own_journal:
                self.journal.close()


class Terminal(_TerminalBase):
    """A point-of-sale lane: takes codes, charges them, follows them to a final state (blocking calls).

    ``host`` defaults to a new :class:`~paycode.host.PluginHost` for ``settings``;
    ``journal`` to the file ``settings.journal``; ``gateway`` to ``host.gateway()``.
    Unresolved journal entries are reconciled on start (``recover=False`` skips that).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        host: PluginHost | None = None,
        *,
        journal: JournalBackend | None = None,
        gateway: GatewayClient | None = None,
        recover: bool = True,
        waker: Waker | None = None,
    ) -> None:
        super().__init__(settings, host, journal, waker)
        self._own_gateway = gateway is None
        try:
            self.gateway = gateway if gateway is not None else self.host.gateway()
        except BaseException:
            self._close_journal()
            raise
        if recover:
            try:
                self.recover()
            except BaseException:
                self.close()
                raise

    def recover(self) -> list[Any]:
        """Reconcile the journal's unresolved orders with the gateway (:func:`paycode.recovery.recover`).

        Runs on start unless ``recover=False``; skipped for the embedded sandbox, which forgets
        its orders. Returns (and keeps in ``recovered``) one RecoveryResult per order.
        """
        self.recovered = self._recover(self.gateway)
        return self.recovered

    def pay(
        self,
        amount: Amount,
        currency: str | None = None,
        code: str | None = None,
        order_id: str | None = None,
        *,
        scanner: str | None = None,
        supervisor: ScanSupervisor | None = None,
        scan_timeout: float = DEFAULT_SCAN_TIMEOUT,
        poll_interval: float | None = None,
        deadline: float | None = None,
        pay_result_url: str | None = None,
        remark: str | None = None,
        goods: Sequence[Mapping[str, Any]] | None = None,
        customer: Mapping[str, Any] | None = None,
        shopper_ip: str | None = None,
        trade_country: str | None = None,
    ) -> Payment:
        """Charge one code: ``code``, else the next scan of ``supervisor`` (a scanner the caller keeps
        open between sales), else of ``scanner`` (a URL; default the configured scanner), opened for this sale.

        Returns the :class:`~paycode.models.Payment`; :func:`outcome` tells paid, not paid
        or unresolved. Bad input raises a UsageError before anything is sent.

        The optional unifiedPay fields: ``pay_result_url`` (``payResultUrl``; default: setting
        ``pay_result_url``), ``remark``, the risk fields ``goods`` (a list of objects), ``customer``
        (an object), ``shopper_ip`` (``shopperIP``) and ``trade_country`` (``tradeCountry``, ISO
        3166-1 alpha-2; default: setting ``trade_country``). Each is checked before anything is sent.
        """
        with self.reporting("pay", order_id):
            sale = self.sale(amount, currency, order_id)
            if code is not None:
                text = self.given_code(sale, code)
            elif supervisor is not None:
                text = _scanned(supervisor.read(timeout=scan_timeout), scan_timeout)
            else:
                text = self._scan(scanner, scan_timeout)
            fields = PayFields(pay_result_url, remark, goods, customer, shopper_ip, trade_country)
            flow = self._pay_flow(sale, text, poll_interval, deadline, fields)
            with self._in_flight(sale.order_id):
                return drive(flow, self.gateway, sleep=self._sleep)

    def _scan(self, url: str | None, timeout: float) -> str:
        with self.host.open_scanner(url) as supervisor:
            return _scanned(supervisor.read(timeout=timeout), timeout)

    def query(self, order_id: str) -> Payment:
        """The order's state at the gateway (the journal follows a verified answer)."""
        with self.reporting("query", order_id):
            client, owned = self._client_for(order_id, self.gateway, asynchronous=False)
            try:
                return drive(query_flow(self.context, order_id), client)
            finally:
                if owned:
                    client.close()

    def refund(
        self,
        order_id: str,
        amount: Amount,
        *,
        currency: str | None = None,
        poll_interval: float | None = None,
        deadline: float | None = None,
    ) -> RefundResult:
        """Refund part or all of a paid order; never more than was paid minus what is refunded or pending,
        and only in the order's currency: a ``Money`` amount or ``currency`` naming another is refused
        (OrderError naming both) before anything is sent. Errors are also emitted as ``payment.error``."""
        with self.reporting("refund", order_id):
            flow = self._refund_flow(order_id, amount, currency, poll_interval, deadline)
            return drive(flow, self.gateway, sleep=self._sleep)

    def close(self) -> None:
        """Close the gateway client and the journal this terminal opened (safe to call twice)."""
        try:
            if self._own_gateway:
                self._own_gateway = False
                self.gateway.close()
        finally:
            self._close_journal()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTerminal(_TerminalBase):
    """The asyncio terminal: the same flows as :class:`Terminal`, awaited.

    Use ``async with AsyncTerminal(...) as t`` (or ``await t.start()`` / ``await t.close()``).
    Recovery on start runs in a worker thread with a synchronous client from ``host.gateway()``.
    Journal writes are made by the journal's writer thread (:func:`paycode.drivers.drive_async`), never on the
    event loop: lanes in one loop flush in parallel, and each lane still waits for its own durable write.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        host: PluginHost | None = None,
        *,
        journal: JournalBackend | None = None,
        gateway: AsyncGatewayClient | None = None,
        recover: bool = True,
        waker: Waker | None = None,
    ) -> None:
        super().__init__(settings, host, journal, waker)
        self._gateway = gateway
        self._own_gateway = gateway is None
        self._recover_on_start = recover
        self._started = False

    @property
    def gateway(self) -> AsyncGatewayClient:
        if self._gateway is None:
            raise UsageError("AsyncTerminal is not started; use 'async with AsyncTerminal(...)' or await start()")
        return self._gateway

    async def start(self) -> AsyncTerminal:
        """Build the gateway client and reconcile the journal (once)."""
        if self._started:
            return self
        self._started = True
        try:
            if self._gateway is None:
                self._gateway = self.host.async_gateway()
            if self._recover_on_start:
                self.recovered = await asyncio.to_thread(self._recover_with_sync_client)
        except BaseException:
            await self.close()
            raise
        return self

    def _recover_with_sync_client(self) -> list[Any]:
        if self.settings.gateway == "sandbox":
            return []  # see Terminal.recover
        client = self.host.gateway()
        try:
            return self._recover(client)
        finally:
            client.close()

    async def pay(
        self,
        amount: Amount,
        currency: str | None = None,
        code: str | None = None,
        order_id: str | None = None,
        *,
        scanner: str | None = None,
        supervisor: ScanSupervisor | None = None,
        scan_timeout: float = DEFAULT_SCAN_TIMEOUT,
        poll_interval: float | None = None,
        deadline: float | None = None,
        pay_result_url: str | None = None,
        remark: str | None = None,
        goods: Sequence[Mapping[str, Any]] | None = None,
        customer: Mapping[str, Any] | None = None,
        shopper_ip: str | None = None,
        trade_country: str | None = None,
    ) -> Payment:
        """As :meth:`Terminal.pay`, awaited; the scan is read in a worker thread."""
        await self.start()
        with self.reporting("pay", order_id):
            sale = self.sale(amount, currency, order_id)
            if code is not None:
                text = self.given_code(sale, code)
            elif supervisor is not None:
                text = _scanned(await supervisor.aread(timeout=scan_timeout), scan_timeout)
            else:
                text = await self._scan(scanner, scan_timeout)
            fields = PayFields(pay_result_url, remark, goods, customer, shopper_ip, trade_country)
            flow = self._pay_flow(sale, text, poll_interval, deadline, fields)
            with self._in_flight(sale.order_id, asyncio.get_running_loop()):
                return await drive_async(flow, self.gateway, sleep=self._sleep_async)

    async def _scan(self, url: str | None, timeout: float) -> str:
        supervisor = self.host.open_scanner(url)
        try:
            return _scanned(await supervisor.aread(timeout=timeout), timeout)
        finally:
            supervisor.close()

    async def query(self, order_id: str) -> Payment:
        await self.start()
        with self.reporting("query", order_id):
            client, owned = self._client_for(order_id, self.gateway, asynchronous=True)
            try:
                return await drive_async(query_flow(self.context, order_id), client)
            finally:
                if owned:
                    await client.close()

    async def refund(
        self,
        order_id: str,
        amount: Amount,
        *,
        currency: str | None = None,
        poll_interval: float | None = None,
        deadline: float | None = None,
    ) -> RefundResult:
        """As :meth:`Terminal.refund`, awaited."""
        await self.start()
        with self.reporting("refund", order_id):
            flow = self._refund_flow(order_id, amount, currency, poll_interval, deadline)
            return await drive_async(flow, self.gateway, sleep=self._sleep_async)

    async def close(self) -> None:
        """Close the gateway client and the journal this terminal opened (safe to call twice)."""
        try:
            if self._own_gateway and self._gateway is not None:
                self._own_gateway = False
                await self._gateway.close()
        finally:
            self._close_journal()

    async def __aenter__(self) -> AsyncTerminal:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
