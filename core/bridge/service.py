"""The bridge's working part, without HTTP: lanes, payments, idempotency, refunds, the event hub, draining.

:class:`Bridge` builds one :class:`~paycode.terminal.Terminal` per lane on one journal and one
gateway client, runs each payment in its lane, and answers the API's questions. The HTTP layer
(:mod:`paycode.bridge.app`) only parses requests and turns :class:`~paycode.bridge.schema.ApiError`
into answers.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

import attrs

from ..errors import (
    ClassificationError,
    CodeFormatError,
    ConfigError,
    GatewayError,
    MoneyError,
    OrderError,
    OutcomeUnknown,
    PaycodeError,
    UsageError,
)
from ..journal import JournalBackend, OrderRecord, open_journal
from ..masking import mask_code
from ..models import Money, PaymentStatus
from ..settings import Settings
from .events import EventHub
from .lanes import FINAL_STATES, STATES, Lane, LaneObserver, PaymentView, iso, state_of
from .metrics import BridgeMetrics
from .schema import LANE_PATTERN, REFERENCE_PATTERN, ApiError

__all__ = ["Bridge", "record_json"]

#: how many payments the bridge keeps in memory (older ones are read from the journal)
MAX_VIEWS = 5000
MAX_IDEMPOTENCY_KEYS = 10000


def record_json(record: OrderRecord) -> dict[str, Any]:
    """A journal order in the API's payment shape."""
    state = state_of(record.status)
    if record.status is PaymentStatus.SUCCESS and record.abandoned and record.refunded < record.amount:
        state = "unresolved"
    money = record.money
    return {
        "reference": record.order_id,
        "lane": record.lane,
        "amount": str(money.wire()),
        "currency": record.currency,
        "state": state,
        "final": True,
        "status": record.status.value,
        "wallet": record.wallet or None,
        "wallet_label": None,
        "code": record.code_masked or None,
        "transaction_id": record.transaction_id,
        "refunded": str(record.refunded.quantize(money.wire())),
        "error": None,
        "cancel_requested": False,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "deadline_at": iso(record.deadline_at),
    }


@attrs.frozen
class _Idempotent:
    fingerprint: str
    reference: str


class Bridge:
    """Lanes, payments and events of one ``paycode serve``. Build with :meth:`build`; :meth:`close` at the end."""

    def __init__(self, settings: Settings, journal: JournalBackend, metrics: BridgeMetrics, hub: EventHub) -> None:
        self.settings = settings
        self.journal = journal
        self.metrics = metrics
        self.hub = hub
        self.lanes: dict[str, Lane] = {}
        self.gateway: Any = None
        #: wakes a lane waiting on an order when a notification about it is applied (paycode.wake)
        self.waker: Any = None
        self.draining = False
        self._views: OrderedDict[str, PaymentView] = OrderedDict()
        self._jobs: dict[str, Any] = {}
        self._idempotency: OrderedDict[str, _Idempotent] = OrderedDict()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        settings: Settings,
        lanes: Mapping[str, str | None] | None = None,
        *,
        plugins: Iterable[object] = (),
        scan_timeout: float = 60.0,
        recover: bool = True,
        hub: EventHub | None = None,
    ) -> Bridge:
        """A bridge with ``lanes`` (name -> scanner URL or None); default one lane, ``settings.lane``, with
        ``settings.scanner``. ``plugins`` are added to every lane's host (observers, test scanners)."""
        from ..host import PluginHost
        from ..terminal import Terminal

        lanes = dict(lanes) if lanes else {settings.lane: settings.scanner}
        for name in lanes:
            if not re.match(LANE_PATTERN, name):
                raise ConfigError(f"lane name {name!r}: use 1-32 of A-Z a-z 0-9 . _ - starting with a letter or digit")
        journal = open_journal(settings.journal)
        bridge = cls(settings, journal, BridgeMetrics(), hub or EventHub())
        extra = list(plugins)
        try:
            from ..wake import waker_for

            bridge.waker = waker_for(settings)
            base = PluginHost(settings, plugins=extra)
            bridge.gateway = base.gateway()
            for name, url in lanes.items():
                lane_settings = attrs.evolve(settings, lane=name)
                observer = LaneObserver(cast(Lane, None))
                host = PluginHost(lane_settings, plugins=[observer, *extra])
                lane = Lane(
                    name,
                    url,
                    host=host,
                    observer=observer,
                    publish=bridge.publish,
                    on_change=bridge._changed,
                    metrics=bridge.metrics,
                    scan_timeout=scan_timeout,
                )
                bridge.lanes[name] = lane
                terminal = Terminal(
                    lane_settings,
                    host=host,
                    journal=cast(Any, journal),
                    gateway=bridge.gateway,
                    recover=recover,
                    waker=bridge.waker,
                )
                lane.start(terminal)
        except BaseException:
            bridge.close()
            raise
        return bridge

    # ------------------------------------------------------------------ events

    def publish(self, data: dict[str, Any]) -> None:
        self.hub.publish(data)

    def _changed(self, view: PaymentView) -> None:
        self.hub.publish(
            {
                "event": "payment.updated",
                "order": view.reference,
                "time": round(time.time(), 3),
                "lane": view.lane,
                "payment": view.as_json(),
            }
        )

    # ------------------------------------------------------------------ payments

    def create_payment(self, body: Mapping[str, Any], idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Start a payment; ``(payment, replayed)``. Runs on the event loop's thread without awaiting, so a
        check and the registration that follows it cannot interleave with another request."""
        if idempotency_key is not None:
            fingerprint = _fingerprint(body)
            with self._lock:
                known = self._idempotency.get(idempotency_key)
            if known is not None:
                if known.fingerprint != fingerprint:
                    raise _key_reused()
                return self.payment(known.reference), True
            # not seen by this run of the bridge: the journal remembers it across restarts, because a payment
            # started with a key and no reference gets a reference made from the key
            body = {**body, "reference": body.get("reference") or key_reference(idempotency_key)}
            replay = self._journaled_replay(body)
            if replay is not None:
                with self._lock:
                    self._idempotency[idempotency_key] = _Idempotent(fingerprint, replay["reference"])
                return replay, True
        if self.draining:
            raise ApiError(
                503, "draining", "the bridge is shutting down and takes no new payments", headers={"Retry-After": "5"}
            )
        lane = self._lane_for(body.get("lane"))
        view = self._check(lane, body)
        with self._lock:
            if view.reference in self._views:
                raise ApiError(
                    409,
                    "reference_exists",
                    f"a payment with reference {view.reference!r} exists; GET it, or use a new reference",
                    "reference",
                )
            job = lane.claim(view, body.get("code"))
            if job is None:
                current = lane.current
                raise ApiError(
                    409,
                    "lane_busy",
                    f"lane {lane.name} is taking payment "
                    f"{current.view.reference if current else '?'}; wait for it or cancel it",
                    "lane",
                )
            self._remember(view)
            self._jobs[view.reference] = job
            if idempotency_key is not None:
                self._idempotency[idempotency_key] = _Idempotent(fingerprint, view.reference)
                while len(self._idempotency) > MAX_IDEMPOTENCY_KEYS:
                    self._idempotency.popitem(last=False)
        self._changed(view)
        lane.run(job)
        return view.as_json(), False

    def _journaled_replay(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """The journaled payment a repeated request (same key, same body) stands for; None when there is none.
        ApiError 422 when the journal's payment differs from the body (the key was used for another payment)."""
        reference = str(body["reference"])
        if not re.match(REFERENCE_PATTERN, reference):
            return None  # the body check refuses it next
        record = self._record(reference)
        if record is None:
            return None
        try:
            same_money = Money.parse(str(body["amount"]), str(body["currency"])).wire() == record.money.wire()
        except MoneyError:
            same_money = False
        code = body.get("code")
        same_code = code is None or mask_code(str(code)) == record.code_masked
        same_lane = body.get("lane") is None or body.get("lane") == record.lane
        if not (same_money and same_code and same_lane):
            raise _key_reused()
        return self.payment(reference)

    def _lane_for(self, name: str | None) -> Lane:
        if name is not None:
            lane = self.lanes.get(name)
            if lane is None:
                raise ApiError(422, "unknown_lane", f"no lane {name!r}; lanes: {', '.join(self.lanes)}", "lane")
            return lane
        if len(self.lanes) == 1:
            return next(iter(self.lanes.values()))
        for lane in self.lanes.values():
            if not lane.busy:
                return lane
        raise ApiError(409, "lane_busy", "every lane is taking a payment; wait, or name a lane", "lane")

    def _check(self, lane: Lane, body: Mapping[str, Any]) -> PaymentView:
        """Refuse what can be refused before anything is journaled or sent."""
        terminal = lane.terminal
        assert terminal is not None
        reference = body.get("reference")
        try:
            sale = terminal.sale(body["amount"], body["currency"], reference)
        except MoneyError as exc:
            field = "currency" if exc.message.startswith(("currency", "no installed wallet")) else "amount"
            raise ApiError(422, "invalid_money", exc.message, field) from None
        except OrderError as exc:
            raise ApiError(422, "invalid_reference", exc.message, "reference") from None
        if reference is not None:
            try:
                known = self.journal.order(sale.order_id)
            except PaycodeError as exc:
                raise ApiError(503, "journal_unavailable", exc.message) from None
            if known is not None:
                raise ApiError(
                    409,
                    "reference_exists",
                    f"reference {reference!r} is already in the journal ({known.status.value}); "
                    "GET it, or use a new reference",
                    "reference",
                )
        code = body.get("code")
        view = PaymentView(reference=sale.order_id, lane=lane.name, money=sale.money)
        if code is not None:
            try:
                wallet = lane.host.wallet_for(code, sale.money.currency)
            except (CodeFormatError, ClassificationError, MoneyError) as exc:
                raise ApiError(422, "invalid_code", exc.message, "code") from None
            view.code, view.wallet, view.wallet_label = mask_code(code), wallet.name, wallet.label
            view.state = "processing"  # no scan to wait for
        elif lane.supervisor is None:
            raise ApiError(422, "no_scanner", f"lane {lane.name} has no scanner; give the code in the request", "code")
        return view

    def _remember(self, view: PaymentView) -> None:
        self._views[view.reference] = view
        while len(self._views) > MAX_VIEWS:
            oldest, old = next(iter(self._views.items()))
            if old.state not in FINAL_STATES:
                break
            del self._views[oldest]
            self._jobs.pop(oldest, None)

    def payment(self, reference: str) -> dict[str, Any]:
        """The payment as the API shows it: the live view, brought up to date from the journal when final."""
        with self._lock:
            view = self._views.get(reference)
        record = self._record(reference)
        if view is None:
            if record is None:
                raise ApiError(404, "not_found", f"no payment with reference {reference!r}", "reference")
            return record_json(record)
        return self._merged(view, record)

    @staticmethod
    def _merged(view: PaymentView | None, record: OrderRecord | None) -> dict[str, Any]:
        """The live view, with what the journal knows better once the payment is final."""
        if view is None:
            assert record is not None
            return record_json(record)
        data = view.as_json()
        if record is not None and view.state in FINAL_STATES and view.state != "cancelled":
            from_journal = record_json(record)
            for key in ("status", "transaction_id", "refunded", "state"):
                data[key] = from_journal[key]
        return data

    def _record(self, reference: str) -> OrderRecord | None:
        try:
            return self.journal.order(reference)
        except PaycodeError as exc:
            raise ApiError(503, "journal_unavailable", exc.message) from None

    def payments(
        self, *, since: datetime | None, state: str | None, lane: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Payments newest first: the journal's orders and the live ones not journaled yet, filtered."""
        try:
            records = self.journal.orders()
        except PaycodeError as exc:
            raise ApiError(503, "journal_unavailable", exc.message) from None
        seen: set[str] = set()
        out: list[tuple[float, dict[str, Any]]] = []
        with self._lock:
            live = {ref: v for ref, v in self._views.items() if v.state not in FINAL_STATES}
        floor = since.timestamp() if since is not None else None
        for ref, view in live.items():
            seen.add(ref)
            out.append((view.created_at, view.as_json()))
        for record in records:
            if record.order_id in seen:
                continue
            with self._lock:
                known = self._views.get(record.order_id)
            out.append((record.created_at, self._merged(known, record)))
        out.sort(key=lambda item: item[0], reverse=True)
        chosen = [
            data
            for created, data in out
            if (floor is None or created >= floor)
            and (state is None or data["state"] == state)
            and (lane is None or data["lane"] == lane)
        ]
        return chosen[:limit]

    def cancel(self, reference: str) -> tuple[int, dict[str, Any]]:
        """``(http_status, payment)``: 200 cancelled at once, 202 closing; ApiError 404/409 otherwise."""
        with self._lock:
            job = self._jobs.get(reference)
        if job is None or job.view.state in FINAL_STATES:
            data = self.payment(reference)  # 404 when unknown
            if data["state"] == "paid":
                raise ApiError(
                    409,
                    "already_paid",
                    f"payment {reference} is paid; refund it instead (POST /v1/payments/{reference}/refunds)",
                    "reference",
                )
            raise ApiError(
                409, "already_final", f"payment {reference} has ended ({data['state']}); nothing to cancel", "reference"
            )
        lane = self.lanes[job.view.lane]
        result = lane.cancel(job)
        if result == "cancelled":
            job.done.wait(5)
            return 200, self.payment(reference)
        if result == "closing":
            return 202, self.payment(reference)
        job.done.wait(0.5)
        data = self.payment(reference)
        if data["state"] == "paid":
            raise ApiError(409, "already_paid", f"payment {reference} is paid; refund it instead", "reference")
        if data["final"]:
            raise ApiError(409, "already_final", f"payment {reference} has ended ({data['state']})", "reference")
        if result == "unsupported":
            raise ApiError(
                409,
                "cannot_cancel_now",
                f"payment {reference} is with the gateway and this paycode cannot close it early; it "
                "ends at its deadline (closed at the gateway, or paid)",
                "reference",
            )
        raise ApiError(
            409,
            "cannot_cancel_now",
            f"payment {reference} is being sent to the gateway; try again in a moment",
            "reference",
        )

    def refund(self, reference: str, amount: str, currency: str | None) -> dict[str, Any]:
        """Refund (blocking: call it in a worker thread); the refund as the API shows it."""
        record = self._record(reference)
        if record is None:
            raise ApiError(404, "not_found", f"no payment with reference {reference!r}", "reference")
        if currency is not None and currency.upper() != record.currency:
            raise ApiError(
                422,
                "invalid_money",
                f"currency {currency!r}: a refund is in the payment's currency, {record.currency}",
                "currency",
            )
        try:
            money = Money.parse(amount, record.currency)
        except MoneyError as exc:
            raise ApiError(422, "invalid_money", exc.message, "amount") from None
        lane = self.lanes.get(record.lane) or next(iter(self.lanes.values()))
        assert lane.terminal is not None
        try:
            result = lane.terminal.refund(reference, money)
        except OrderError as exc:
            raise ApiError(409, "not_refundable", exc.message, "amount") from None
        except UsageError as exc:
            raise ApiError(422, "invalid_money", exc.message, "amount") from None
        except OutcomeUnknown as exc:
            raise ApiError(
                502, "gateway_unknown", f"{exc.message}; the refund is journaled and recovery settles it", None
            ) from None
        except GatewayError as exc:
            raise ApiError(502, "gateway_error", exc.message) from None
        except PaycodeError as exc:
            raise ApiError(503, "unavailable", exc.message) from None
        with self._lock:
            view = self._views.get(reference)
            if view is not None:
                view.refunded = result.refunded
        if view is not None:
            self._changed(view)
        return {
            "reference": reference,
            "refund_id": result.refund_id,
            "amount": str(result.money.wire()),
            "currency": result.money.currency,
            "status": result.status.value,
            "refunded": str(result.refunded.quantize(result.money.wire())),
        }

    def lanes_json(self) -> list[dict[str, Any]]:
        return [lane.as_json() for lane in self.lanes.values()]

    # ------------------------------------------------------------------ stopping

    def in_flight(self) -> list[str]:
        return [lane.current.view.reference for lane in self.lanes.values() if lane.current is not None]

    def begin_drain(self) -> None:
        """Take no new payments; payments still waiting for a scan are cancelled (nothing was sent)."""
        self.draining = True
        for lane in self.lanes.values():
            job = lane.current
            if job is not None:
                lane.cancel_waiting(job)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no payment is in flight (each followed to a final or journaled state); False on timeout."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.in_flight():
            if end is not None and time.monotonic() >= end:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Stop the lanes, close the gateway client, the journal and the event streams (safe to call twice)."""
        self.hub.close()
        for lane in self.lanes.values():
            lane.stop()
            if lane.terminal is not None:
                lane.terminal.close()
        if self.gateway is not None:
            gateway, self.gateway = self.gateway, None
            gateway.close()
        if self.waker is not None:
            waker, self.waker = self.waker, None
            waker.close()
        self.journal.close()

    def notification_app(self) -> Any:
        """The notification receiver (paycode.notifications) on this bridge's journal and waker, reporting
        each notification as a ``notification`` event on the stream."""
        from ..notifications import receiver_app

        def report(result: Any) -> None:
            note = result.notification
            order = note.order_id if note is not None else None
            self.hub.publish(
                {"event": "notification", "order": order, "time": round(time.time(), 3), **result.as_json()}
            )

        return receiver_app(self.journal, self.settings, waker=self.waker, on_result=report)


def key_reference(key: str) -> str:
    """The reference of a payment started with Idempotency-Key ``key`` and no reference of its own."""
    return "ik" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:30]


def _key_reused() -> ApiError:
    return ApiError(
        422,
        "idempotency_key_reused",
        "this Idempotency-Key was used with another request body; use a new key for a new payment",
        "Idempotency-Key",
    )


def _fingerprint(body: Mapping[str, Any]) -> str:
    """What identifies a request body for idempotency (the code only as a hash)."""
    canonical = {k: v for k, v in body.items() if k != "code"}
    if "currency" in canonical and isinstance(canonical["currency"], str):
        canonical["currency"] = canonical["currency"].upper()
    if body.get("code") is not None:
        canonical["code_sha256"] = hashlib.sha256(str(body["code"]).encode()).hexdigest()
    return json.dumps(canonical, sort_keys=True)


def parse_since(text: str) -> datetime:
    """``since``: an ISO 8601 date or date-time (UTC when no offset is given)."""
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422,
            "invalid_field",
            f"since {text[:40]!r} is not an ISO 8601 date-time; e.g. 2026-12-03T08:00:00Z or 2026-12-03",
            "since",
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def check_state(text: str) -> str:
    if text not in STATES:
        raise ApiError(422, "invalid_field", f"status {text[:40]!r} is not one of {', '.join(STATES)}", "status")
    return text
