"""A lane of the bridge: one Terminal, its scanner kept open and read all the time, one payment at a time.

A reader thread reads the lane's scanner continuously (so the bridge knows at once when it is
unplugged or back) and hands a scan to the payment waiting for one; a scan that arrives while
no payment waits is reported (``scan.ignored``) and never charged. Each payment runs in a worker
thread of its own: it waits for the scan (a cancel ends that wait at once), then runs
``Terminal.pay`` with the code, which journals and follows the payment to its final state.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import OutcomeUnknown, PaycodeError, ScanTimeout
from ..hookspecs import hookimpl
from ..models import Event, Money, Payment, PaymentStatus, Scan

if TYPE_CHECKING:
    from ..host import PluginHost
    from ..supervisor import ScanSupervisor
    from ..terminal import Terminal
    from .metrics import BridgeMetrics

__all__ = ["FINAL_STATES", "Job", "Lane", "PaymentView", "state_of"]

#: the states of a payment the API reports (docs/bridge.md)
STATES = ("waiting_for_scan", "processing", "paid", "declined", "closed", "cancelled", "unresolved", "failed")
FINAL_STATES = frozenset({"paid", "declined", "closed", "cancelled", "unresolved", "failed"})
_SCAN_SLICE = 0.2  # seconds the reader blocks at most, so closing the lane is quick
CANCEL_WAIT = 2.0  # seconds a cancel waits for a pay that has its code but is not under way yet


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def state_of(status: PaymentStatus) -> str:
    """The API state of a payment whose flow ended in gateway status ``status``."""
    if status is PaymentStatus.SUCCESS:
        return "paid"
    if status is PaymentStatus.FAILED:
        return "declined"
    if status in (PaymentStatus.CLOSED, PaymentStatus.CANCEL):
        return "closed"
    return "unresolved"


@attrs.define
class PaymentView:
    """What the API shows of one payment (never a whole code)."""

    reference: str
    lane: str
    money: Money
    state: str = "waiting_for_scan"
    status: str | None = None
    wallet: str | None = None
    wallet_label: str | None = None
    code: str | None = None
    transaction_id: str | None = None
    refunded: Decimal = Decimal(0)
    error: dict[str, str] | None = None
    cancel_requested: bool = False
    created_at: float = attrs.field(factory=time.time)
    updated_at: float = attrs.field(factory=time.time)
    scanned_at: float | None = None
    requested_at: float | None = None
    deadline_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "lane": self.lane,
            "amount": str(self.money.wire()),
            "currency": self.money.currency,
            "state": self.state,
            "final": self.state in FINAL_STATES,
            "status": self.status,
            "wallet": self.wallet,
            "wallet_label": self.wallet_label,
            "code": self.code,
            "transaction_id": self.transaction_id,
            "refunded": str(self.refunded.quantize(self.money.wire())),
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "deadline_at": iso(self.deadline_at),
        }


class Job:
    """One payment in flight on a lane: its view, the scan it waits for, and whether it was cancelled."""

    def __init__(self, view: PaymentView, code: str | None, scan_timeout: float) -> None:
        self.view = view
        self.code = code
        self.scan_timeout = scan_timeout
        self.phase = "scan" if code is None else "pay"  # scan -> pay -> done, or scan -> cancelled
        self._lock = threading.Lock()
        self._scan: Scan | None = None
        self._arrived = threading.Event()
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def offer(self, scan: Scan) -> bool:
        """Give the scan to this payment; False when it no longer waits for one."""
        with self._lock:
            if self.phase != "scan":
                return False
            self.phase = "pay"
            self._scan = scan
        self._arrived.set()
        return True

    def cancel_scan(self) -> bool:
        """Stop waiting for the scan; False when the code is already known (the payment is under way)."""
        with self._lock:
            if self.phase != "scan":
                return False
            self.phase = "cancelled"
        self._arrived.set()
        return True

    def wait_scan(self) -> Scan | None:
        """The scan, or None after the scan timeout or a cancel (``phase`` tells which)."""
        self._arrived.wait(self.scan_timeout)
        with self._lock:
            if self.phase == "scan":  # timed out: take no later scan
                self.phase = "timeout"
            return self._scan


Publish = Callable[[dict[str, Any]], None]


class LaneObserver:
    """The lane's ``paycode_payment_event`` plugin: publishes every event and keeps the views current."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane

    @hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        self.lane.on_event(event)


class Lane:
    """One lane: a Terminal, an optional scanner, and at most one payment at a time. See the module docstring."""

    def __init__(
        self,
        name: str,
        scanner_url: str | None,
        *,
        host: PluginHost,
        observer: LaneObserver | None,
        publish: Publish,
        on_change: Callable[[PaymentView], None],
        metrics: BridgeMetrics,
        scan_timeout: float,
    ) -> None:
        self.name = name
        self.scanner_url = scanner_url
        self.host = host
        self.publish = publish
        self.on_change = on_change
        self.metrics = metrics
        self.scan_timeout = scan_timeout
        self.terminal: Terminal | None = None
        self.supervisor: ScanSupervisor | None = None
        self.scanner_state = "none" if scanner_url is None else "closed"
        self.scanner_error: str | None = None
        self.last_scan_at: float | None = None
        self.counts: dict[str, int] = {s: 0 for s in sorted(FINAL_STATES)}
        self.current: Job | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._pending_scan: dict[str, float] = {}
        if observer is not None:
            observer.lane = self

    # ------------------------------------------------------------------ life

    def start(self, terminal: Terminal) -> None:
        """Adopt the terminal, open the scanner and start reading it."""
        self.terminal = terminal
        if self.scanner_url is not None:
            self.supervisor = self.host.open_scanner(self.scanner_url)
            self.supervisor.open()
            self._reader = threading.Thread(target=self._read_scans, name=f"paycode-bridge-{self.name}", daemon=True)
            self._reader.start()

    def stop(self) -> None:
        """Stop reading the scanner and close it (the payments must be finished first: see Bridge.drain)."""
        self._stopping.set()
        if self.supervisor is not None:
            self.supervisor.close()
        if self._reader is not None:
            self._reader.join(5)
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join(5)

    def _read_scans(self) -> None:
        supervisor = self.supervisor
        assert supervisor is not None
        while not self._stopping.is_set():
            try:
                scan = supervisor.read(timeout=_SCAN_SLICE)
            except PaycodeError:
                return  # closed
            if scan is None:
                if supervisor.exhausted:
                    self._stopping.wait(_SCAN_SLICE)
                continue
            self.last_scan_at = time.time()
            with self._lock:
                job = self.current
            if job is None or not job.offer(scan):
                reason = "no payment waits for a scan"
                self.host.emit("scan.ignored", None, scanner=supervisor.url.display, reason=reason)

    # ------------------------------------------------------------------ state

    @property
    def busy(self) -> bool:
        return self.current is not None

    def as_json(self) -> dict[str, Any]:
        job = self.current
        return {
            "name": self.name,
            "scanner": self.supervisor.url.display if self.supervisor is not None else None,
            "scanner_state": self.scanner_state,
            "scanner_error": self.scanner_error,
            "last_scan_at": iso(self.last_scan_at),
            "busy": job is not None,
            "payment": job.view.reference if job is not None else None,
            "counts": dict(self.counts),
            "scanner_stats": self.supervisor.stats().as_json() if self.supervisor is not None else None,
        }

    # ------------------------------------------------------------------ payments

    def claim(self, view: PaymentView, code: str | None) -> Job | None:
        """Reserve the lane for a payment; None when it is busy. The caller then calls :meth:`run`."""
        with self._lock:
            if self.current is not None:
                return None
            job = Job(view, code, self.scan_timeout)
            self.current = job
            self.metrics.lane_busy.labels(self.name).set(1)
            return job

    def run(self, job: Job) -> None:
        """Hand the claimed job to the lane's worker thread (one per lane, started on first use)."""
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work_loop, name=f"paycode-pay-{self.name}", daemon=True)
                self._worker.start()
        job.thread = self._worker
        self._jobs.put(job)

    def _work_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._work(job)

    def _work(self, job: Job) -> None:
        view = job.view
        try:
            code = job.code
            if code is None:
                scan = job.wait_scan()
                if job.phase == "cancelled" or scan is None:
                    if job.phase == "cancelled":
                        self._finish(job, "cancelled")
                    else:
                        error = ScanTimeout(f"no code was scanned within {job.scan_timeout:g} s")
                        self.host.emit(
                            "payment.error", view.reference, operation="pay", error=error.message, type="ScanTimeout"
                        )
                        self._finish(job, "failed", error=_error_json(error))
                    return
                code = scan.text
            self._update(view, state="processing")
            assert self.terminal is not None
            payment = self.terminal.pay(view.money, code=code, order_id=view.reference)
            self._finish_payment(job, payment)
        except OutcomeUnknown as exc:
            self._finish(job, "unresolved", error=_error_json(exc))
        except PaycodeError as exc:
            self._finish(job, self._journal_state(view.reference, "failed"), error=_error_json(exc))
        except Exception as exc:  # a bug or a plugin failure: the journal keeps what was sent
            internal = {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}
            self._finish(job, self._journal_state(view.reference, "failed"), error=internal)

    def _journal_state(self, reference: str, otherwise: str) -> str:
        """After an error: what the journal knows (an order that reached the journal is never "failed")."""
        if self.terminal is None:
            return otherwise
        try:
            record = self.terminal.journal.order(reference)
        except PaycodeError:
            return "unresolved"
        if record is None:
            return otherwise
        return state_of(record.status)

    def _finish_payment(self, job: Job, payment: Payment) -> None:
        view = job.view
        with self._lock:
            view.status = payment.status.value
            view.transaction_id = payment.transaction_id
            view.refunded = payment.refunded
        self._finish(job, state_of(payment.status))

    def _finish(self, job: Job, state: str, error: dict[str, str] | None = None) -> None:
        view = job.view
        now = time.time()
        self.metrics.payments.labels(view.wallet or "none", state).inc()
        if view.requested_at is not None:
            self.metrics.request_to_final.observe(max(now - view.requested_at, 0.0))
        with self._lock:
            self.counts[state] = self.counts.get(state, 0) + 1
            job.phase = "done"
            if self.current is job:
                self.current = None
            self.metrics.lane_busy.labels(self.name).set(0)
        self._update(view, state=state, error=error)
        job.done.set()

    def cancel_waiting(self, job: Job) -> bool:
        """Cancel ``job`` only if it still waits for its scan (nothing was sent); True when it did."""
        if job.cancel_scan():
            job.view.cancel_requested = True
            return True
        return False

    def cancel(self, job: Job) -> str:
        """``cancelled`` (it was waiting for the scan), ``closing`` (the close path started) or ``too_late``."""
        if job.cancel_scan():
            job.view.cancel_requested = True
            return "cancelled"
        if job.phase != "pay" or self.terminal is None:
            return "too_late"
        cancel = getattr(self.terminal, "cancel", None)
        if cancel is None:
            return "unsupported"
        self._update(job.view, cancel_requested=True)
        # the code may have arrived a moment ago and the pay not be registered with the terminal yet
        end = time.monotonic() + CANCEL_WAIT
        while not job.done.is_set():
            if cancel(job.view.reference):
                return "closing"
            if time.monotonic() >= end:
                break
            job.done.wait(0.02)
        self._update(job.view, cancel_requested=False)
        return "too_late"

    # ------------------------------------------------------------------ events

    def _update(self, view: PaymentView, **changes: Any) -> None:
        """Apply ``changes`` and publish the payment, unless they change nothing (no ``payment.updated`` then)."""
        with self._lock:
            if all(getattr(view, name) == value for name, value in changes.items()):
                return
            for name, value in changes.items():
                setattr(view, name, value)
            view.updated_at = time.time()
        self.on_change(view)

    def on_event(self, event: Event) -> None:
        data = event.as_json()
        data["lane"] = self.name
        self.publish(data)
        kind = event.kind
        if kind.startswith("scanner."):
            self._scanner_event(kind, event)
            return
        job = self.current
        if job is None or event.order_id != job.view.reference:
            return
        view = job.view
        d = event.data
        if kind == "scan":
            view.scanned_at = event.time
            view.code = str(d.get("text") or "") or None
        elif kind == "classified":
            self._update(view, wallet=d.get("wallet"), wallet_label=d.get("label"), code=d.get("code"))
        elif kind == "payment.request":
            if view.requested_at is None:
                view.requested_at = event.time
                if view.scanned_at is not None:
                    self.metrics.scan_to_request.observe(max(event.time - view.scanned_at, 0.0))
        elif kind == "payment.state":
            status = str(d.get("status"))
            changes: dict[str, Any] = {"status": status}
            if status == "PROCESSING" and view.deadline_at is None:
                changes["deadline_at"] = self._deadline(view, event.time)
            self._update(view, **changes)
        elif kind == "payment.poll":
            left = d.get("seconds_left")
            if isinstance(left, (int, float)):
                self._update(view, deadline_at=event.time + float(left))
        elif kind == "payment.unknown":
            self.metrics.gateway_errors.labels(str(d.get("operation", "")), "unknown").inc()
        elif kind == "payment.error" and d.get("type") in ("GatewayError", "GatewayRejected", "OutcomeUnknown"):
            self.metrics.gateway_errors.labels(str(d.get("operation", "")), str(d.get("type"))).inc()

    def _deadline(self, view: PaymentView, now: float) -> float | None:
        if self.terminal is None or view.wallet is None or view.wallet not in self.host.wallets:
            return None
        policy = self.terminal.polling(self.host.wallets[view.wallet], None, None)
        return (view.requested_at or now) + policy.deadline

    def _scanner_event(self, kind: str, event: Event) -> None:
        if kind in ("scanner.opened", "scanner.reopened"):
            self.scanner_state, self.scanner_error = "open", None
            if kind == "scanner.reopened":
                self.metrics.scanner_reconnects.labels(self.name).inc()
        elif kind == "scanner.gone":
            self.scanner_state, self.scanner_error = "gone", str(event.data.get("error", ""))
        elif kind == "scanner.error" and "retry_in" in event.data:
            self.scanner_state, self.scanner_error = "reopening", str(event.data.get("error", ""))
        elif kind == "scanner.closed":
            self.scanner_state = "closed"


def _error_json(exc: PaycodeError) -> dict[str, str]:
    return {"code": type(exc).__name__, "message": exc.message}
