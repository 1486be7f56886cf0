"""The scan supervisor: keeps one scanner reading, whatever the device does.

It builds the scanner from its URL, opens it, normalises every scan, suppresses a repeat
of the same code within ``repeat_window`` seconds (the window slides while the repeats
keep coming, as a camera holding a code in view does), reopens a scanner that vanished
with a bounded backoff (0.2 s doubling to 5 s), and reports every problem as an event
instead of raising. Only a configuration error (the scanner can never work) is raised.

It keeps the scanner's health and statistics, as UnifiedPOS's CheckHealth and
RetrieveStatistics do (:meth:`ScanSupervisor.stats`, a :class:`ScannerStats`), and passes
feedback to a scanner that supports it (:meth:`ScanSupervisor.feedback`);
:class:`LaneFeedback` signals a payment's success or decline to the scanner that read its code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ScannerConfigError, ScannerError, ScannerExhausted, ScannerGone, ScanTimeout
from .hookspecs import hookimpl
from .masking import mask_code
from .models import Scan
from .normalise import Normaliser
from .scanning import Feedback, FeedbackScanner, Scanner, ScannerType, ScannerURL
from .symbology import discard_kind

if TYPE_CHECKING:
    from .models import Event

__all__ = ["BACKOFF_INITIAL", "BACKOFF_MAX", "LaneFeedback", "ScanSupervisor", "ScannerStats"]

BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 5.0
_ASYNC_SLICE = 0.25  # seconds a worker thread blocks at most, so a cancelled aread() ends quickly

Emit = Callable[..., object]


def _no_emit(kind: str, order_id: str | None = None, **data: Any) -> None:
    return None


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.frozen
class ScannerStats:
    """Health and statistics of one supervised scanner (UnifiedPOS CheckHealth / RetrieveStatistics).

    ``state`` is ``open`` (reading), ``waiting`` (not open yet, or gone and being reopened),
    ``ended`` (its input ended for good) or ``closed``; ``healthy`` is True while it is open.
    Counts run from the supervisor's creation: ``scans`` delivered, ``repeats`` suppressed,
    ``discarded`` input by kind (:data:`paycode.symbology.DISCARD_KINDS`, or a plugin's own),
    ``errors`` other than discards (a plugin failing to read), ``losses`` (the device
    vanished or failed to reopen) and ``reconnects`` (it came back), ``feedback`` signals sent.
    Times are ``time.time()`` seconds: ``opened_at`` (last open), ``last_scan``, ``last_seen``
    (the device last gave a sign of life: opened, or sent a scan or discarded input).
    """

    scanner: str
    state: str
    healthy: bool
    scans: int = 0
    repeats: int = 0
    discarded: Mapping[str, int] = attrs.field(factory=dict)
    errors: int = 0
    losses: int = 0
    reconnects: int = 0
    feedback: int = 0
    feedback_kinds: tuple[str, ...] = ()
    last_error: str | None = None
    opened_at: float | None = None
    last_scan: float | None = None
    last_seen: float | None = None

    @property
    def discarded_total(self) -> int:
        return sum(self.discarded.values())

    def as_json(self) -> dict[str, Any]:
        """A JSON-able dict; times as ISO 8601 UTC text (``2026-12-03T07:00:00.000Z``) or None."""
        return {
            "scanner": self.scanner,
            "state": self.state,
            "healthy": self.healthy,
            "scans": self.scans,
            "repeats": self.repeats,
            "discarded": dict(sorted(self.discarded.items())),
            "discarded_total": self.discarded_total,
            "errors": self.errors,
            "losses": self.losses,
            "reconnects": self.reconnects,
            "feedback": self.feedback,
            "feedback_kinds": list(self.feedback_kinds),
            "last_error": self.last_error,
            "opened_at": _iso(self.opened_at),
            "last_scan": _iso(self.last_scan),
            "last_seen": _iso(self.last_seen),
        }


class ScanSupervisor:
    """Reads normalised, de-duplicated scans from one scanner URL; see the module docstring.

    ``emit(kind, **data)`` receives the events (``PluginHost.emit``). Use it as a context
    manager, or call :meth:`close`. :meth:`read` may be called from one thread at a time
    (calls are serialised); :meth:`close` may be called from any thread.
    """

    def __init__(
        self,
        scanner_type: ScannerType,
        url: ScannerURL,
        *,
        emit: Emit = _no_emit,
        repeat_window: float = 1.5,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
        lane_feedback: bool = True,
    ) -> None:
        self.url = url
        self.scanner_type = scanner_type
        self.repeat_window = url.get_float("repeat_window", repeat_window)
        self.normaliser = Normaliser.from_url(url)
        self._emit = emit
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = backoff_initial
        self._scanner: Scanner | None = None
        self._spare: Scanner | None = scanner_type.build(url)  # validates the URL's parameters now
        self._next_open = 0.0
        self._lost = False
        self._exhausted = False
        self._closed = False
        self._last_text: str | None = None
        self._last_time = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._counts = {"scans": 0, "repeats": 0, "errors": 0, "losses": 0, "reconnects": 0, "feedback": 0}
        self._discarded: dict[str, int] = {}
        self._last_error: str | None = None
        self._opened_at: float | None = None
        self._last_scan_at: float | None = None
        self._last_seen: float | None = None
        self._delivered: tuple[str, float] | None = None  # (text, time.time()) of the last scan delivered
        #: the observer giving this scanner its payments' outcomes (see LaneFeedback), when attached
        self.lane_feedback: LaneFeedback | None = None
        self._host: Any = None
        host = getattr(emit, "__self__", None)  # emit is PluginHost.emit when host.open_scanner built us
        spare = self._spare
        if lane_feedback and hasattr(host, "pm") and isinstance(spare, FeedbackScanner) and spare.feedback_kinds:
            LaneFeedback.attach(host, self)

    # ------------------------------------------------------------------ state

    @property
    def is_open(self) -> bool:
        """True while the device is open."""
        return self._scanner is not None

    @property
    def exhausted(self) -> bool:
        """True once the input ended for good (end of a replay file, stdin closed)."""
        return self._exhausted

    @property
    def closed(self) -> bool:
        return self._closed

    def _event(self, kind: str, **data: Any) -> None:
        self._emit(kind, scanner=self.url.display, **data)

    # ------------------------------------------------------------------ opening

    def open(self) -> bool:
        """Try to open the device now; False (and a ``scanner.gone`` event) when it is not there yet."""
        with self._lock:
            return self._try_open(0.0)

    def _try_open(self, remaining: float | None) -> bool:
        if self._scanner is not None:
            return True
        wait = self._next_open - time.monotonic()
        if wait > 0:
            self._wake.wait(wait if remaining is None else min(wait, remaining))
            if self._closed or time.monotonic() < self._next_open:
                return False
        scanner = self._spare or self.scanner_type.build(self.url)
        self._spare = None
        try:
            scanner.open()
        except ScannerConfigError:
            raise
        except ScannerExhausted as exc:
            self._exhaust(exc)
            return False
        except Exception as exc:  # ScannerGone, or a plugin bug: retry with backoff
            _safe_close(scanner)
            self._schedule_reopen(exc)
            return False
        self._scanner = scanner
        self._backoff = self._backoff_initial
        self._opened_at = self._last_seen = time.time()
        if self._lost:
            self._counts["reconnects"] += 1
        self._event("scanner.reopened" if self._lost else "scanner.opened")
        self._lost = False
        return True

    def _schedule_reopen(self, exc: BaseException) -> None:
        delay = self._backoff
        self._next_open = time.monotonic() + delay
        self._backoff = min(self._backoff * 2, self._backoff_max)
        kind = "scanner.error" if self._lost else "scanner.gone"
        self._lost = True
        self._counts["losses"] += 1
        self._last_error = _describe(exc)
        self._event(kind, error=self._last_error, retry_in=round(delay, 3))

    def _drop(self, exc: BaseException) -> None:
        if self._scanner is not None:
            _safe_close(self._scanner)
            self._scanner = None
        if not self._closed:
            self._schedule_reopen(exc)

    def _exhaust(self, exc: BaseException) -> None:
        if self._scanner is not None:
            _safe_close(self._scanner)
            self._scanner = None
        self._exhausted = True
        self._event("scanner.closed", reason=f"end of input: {_describe(exc)}")

    # ------------------------------------------------------------------ reading

    def read(self, timeout: float | None = None) -> Scan | None:
        """The next normalised scan that is not a repeat, or None after ``timeout`` seconds (None: no limit).

        Also None once the input is exhausted or the supervisor was closed meanwhile.
        """
        if self._closed:
            raise ScannerError(f"the scanner {self.url.display} was closed", scanner=self.url.display)
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self._lock:
            first = True
            while not (self._closed or self._exhausted):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0 and not first:
                    return None
                first = False
                remaining = None if remaining is None else max(remaining, 0.0)
                if not self._try_open(remaining):
                    continue
                scan = self._read_once(remaining)
                if scan is not None:
                    accepted = self._accept(scan)
                    if accepted is not None:
                        return accepted
            return None

    def _read_once(self, timeout: float | None) -> Scan | None:
        assert self._scanner is not None
        try:
            return self._scanner.read(timeout)
        except ScannerConfigError:
            raise
        except ScannerExhausted as exc:
            self._exhaust(exc)
        except ScannerGone as exc:
            self._drop(exc)
        except ScannerError as exc:
            if not self._closed:
                kind = discard_kind(exc.context.get("kind"))
                self._discarded[kind] = self._discarded.get(kind, 0) + 1
                self._last_seen = time.time()
                self._last_error = _describe(exc)
                self._event("scanner.error", error=self._last_error, discard=kind)
        except Exception as exc:  # a plugin bug: report it and reopen rather than die
            self._counts["errors"] += 1
            self._drop(exc)
        return None

    def _accept(self, scan: Scan) -> Scan | None:
        scan = self.normaliser(scan)
        self._last_seen = now = time.time()
        if not scan.text:
            self._discarded["empty"] = self._discarded.get("empty", 0) + 1
            self._event(
                "scanner.error", error="a scan was empty after normalisation", raw_length=len(scan.raw), discard="empty"
            )
            return None
        data = {"text": scan.masked(), "length": len(scan.text), "symbology": scan.symbology, "aim": scan.aim}
        if scan.text == self._last_text and scan.time - self._last_time < self.repeat_window:
            self._last_time = scan.time
            self._counts["repeats"] += 1
            self._event("scan.repeat_suppressed", **data)
            return None
        self._last_text, self._last_time = scan.text, scan.time
        self._counts["scans"] += 1
        self._last_scan_at = now
        self._delivered = (scan.text, now)
        self._event("scan", **data)
        return scan

    def scans(self, count: int | None = None, timeout: float | None = None) -> Iterator[Scan]:
        """Yield up to ``count`` scans (None: no limit) until the input ends.

        Raises :class:`~paycode.errors.ScanTimeout` when ``timeout`` seconds pass with no scan.
        """
        done = 0
        while count is None or done < count:
            scan = self.read(timeout)
            if scan is None:
                if self._exhausted or self._closed:
                    return
                raise ScanTimeout(f"no scan from {self.url.display} within {timeout:g} s", scanner=self.url.display)
            done += 1
            yield scan

    async def aread(self, timeout: float | None = None) -> Scan | None:
        """:meth:`read` for asyncio: blocks a worker thread for at most a quarter second at a time."""
        import asyncio  # only an asyncio host pays for importing it

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            piece = _ASYNC_SLICE if remaining is None else min(_ASYNC_SLICE, remaining)
            scan = await asyncio.to_thread(self.read, piece)
            if scan is not None or self._exhausted or self._closed:
                return scan
            if deadline is not None and time.monotonic() >= deadline:
                return None

    # ------------------------------------------------------------------ health, statistics, feedback

    def stats(self) -> ScannerStats:
        """The scanner's health and statistics now; safe to call from any thread at any time."""
        if self._closed:
            state = "closed"
        elif self._exhausted:
            state = "ended"
        else:
            state = "open" if self._scanner is not None else "waiting"
        return ScannerStats(
            scanner=self.url.display,
            state=state,
            healthy=state == "open",
            scans=self._counts["scans"],
            repeats=self._counts["repeats"],
            discarded=dict(self._discarded),
            errors=self._counts["errors"],
            losses=self._counts["losses"],
            reconnects=self._counts["reconnects"],
            feedback=self._counts["feedback"],
            feedback_kinds=tuple(sorted(self.feedback_kinds)),
            last_error=self._last_error,
            opened_at=self._opened_at,
            last_scan=self._last_scan_at,
            last_seen=self._last_seen,
        )

    def emit_stats(self) -> ScannerStats:
        """Report :meth:`stats` as a ``scanner.stats`` event (``paycode scan --stats`` does, and a host may)."""
        current = self.stats()
        data = current.as_json()
        data.pop("scanner")
        self._event("scanner.stats", **data)
        return current

    @property
    def feedback_kinds(self) -> frozenset[Feedback]:
        """The :class:`~paycode.scanning.Feedback` kinds the scanner can give (empty: no feedback capability)."""
        scanner = self._scanner or self._spare
        if isinstance(scanner, FeedbackScanner):
            try:
                return frozenset(scanner.feedback_kinds)
            except Exception:  # a plugin bug must not break a statistics call
                return frozenset()
        return frozenset()

    def feedback(self, kind: Feedback | str) -> bool:
        """Signal ``kind`` (good, bad, beep, led_on, led_off, trigger) to the scanner; True when it was sent.

        False when the scanner is not open, has no feedback capability or no way to give
        this kind. Never raises for the device (a failure is a ``scanner.error`` event);
        an unknown ``kind`` is a :class:`~paycode.errors.ScannerConfigError`. Safe to call
        from another thread while :meth:`read` blocks.
        """
        try:
            wanted = Feedback(kind)
        except ValueError:
            raise ScannerConfigError(
                f"feedback {kind!r} is not a feedback kind; accepted: {', '.join(f.value for f in Feedback)}",
                scanner=self.url.display,
            ) from None
        scanner = self._scanner
        if self._closed or not isinstance(scanner, FeedbackScanner):
            return False
        try:
            sent = bool(scanner.feedback(wanted))
        except Exception as exc:  # feedback is never worth stopping a lane
            self._counts["errors"] += 1
            self._event("scanner.error", error=f"feedback {wanted.value} failed: {_describe(exc)}")
            return False
        if sent:
            self._counts["feedback"] += 1
            self._event("scanner.feedback", feedback=wanted.value)
        return sent

    def delivered(self, within: float) -> tuple[str, float] | None:
        """``(text, time.time())`` of the last scan delivered, when at most ``within`` seconds ago (else None)."""
        last = self._delivered
        if last is None or time.time() - last[1] > within:
            return None
        return last

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Release the device; safe to call twice and from another thread."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        for scanner in (self._scanner, self._spare):
            if scanner is not None:
                _safe_close(scanner)
        self._scanner = self._spare = None
        if self.lane_feedback is not None and self._host is not None:
            self.lane_feedback.detach(self._host)
            self.lane_feedback = None
        if not self._exhausted:
            self._event("scanner.closed", reason="closed")

    def __enter__(self) -> ScanSupervisor:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> ScanSupervisor:
        import asyncio  # only an asyncio host pays for importing it

        await asyncio.to_thread(self.open)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._scanner else "waiting"
        return f"<ScanSupervisor {self.url.display} {state}>"


class LaneFeedback:
    """A ``paycode_payment_event`` observer: a payment's outcome goes to the scanner that read its code.

    ``host.open_scanner(url)`` attaches one by itself when the scanner offers feedback (its URL
    gives commands); :meth:`attach` does it for any supervisor and host. When an
    order is classified (the ``classified`` event) with the masked code of the scan this
    supervisor delivered in the last ``within`` seconds, the order is this lane's; its final
    state then gives ``good`` (SUCCESS) or ``bad`` (FAILED: declined) feedback. Orders of
    other lanes sharing the host, and codes given by hand, leave the scanner alone. A host
    that knows its lane (the bridge) may call :meth:`ScanSupervisor.feedback` directly instead.
    """

    OUTCOMES: Mapping[str, Feedback] = {"SUCCESS": Feedback.GOOD, "FAILED": Feedback.BAD}

    def __init__(self, supervisor: ScanSupervisor, *, within: float = 120.0) -> None:
        self.supervisor = supervisor
        self.within = within
        self._orders: dict[str, None] = {}  # this lane's orders awaiting their outcome, oldest first
        self._claimed: tuple[str, float] | None = None  # the scan the last order of this lane came from
        self._lock = threading.Lock()

    @classmethod
    def attach(cls, host: Any, supervisor: ScanSupervisor, *, within: float = 120.0) -> LaneFeedback:
        """Build one for ``supervisor`` and register it on ``host`` (a :class:`~paycode.host.PluginHost`).

        A supervisor has at most one: attaching again returns the one it has. The supervisor detaches
        it when it closes. A supervisor built by ``host.open_scanner`` for a scanner that offers
        feedback has one already.
        """
        if supervisor.lane_feedback is not None:
            return supervisor.lane_feedback
        observer = cls(supervisor, within=within)
        host.pm.register(observer, name=f"paycode-lane-feedback-{id(observer):x}")
        supervisor.lane_feedback, supervisor._host = observer, host
        return observer

    def detach(self, host: Any) -> None:
        """Unregister from ``host`` (the lane closed); safe to call twice."""
        if host.pm.is_registered(self):
            host.pm.unregister(self)

    @hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        order_id = event.order_id
        if order_id is None:
            return
        if event.kind == "classified":
            scan = self.supervisor.delivered(self.within)
            if scan is not None and scan != self._claimed and event.data.get("code") == mask_code(scan[0]):
                with self._lock:
                    self._claimed = scan  # one scan is one order: the same code typed in later is not ours
                    self._orders[order_id] = None
                    while len(self._orders) > 64:  # orders that never ended (a crash) do not pile up
                        del self._orders[next(iter(self._orders))]
            return
        if event.kind != "payment.state":
            return
        outcome = self.OUTCOMES.get(str(event.data.get("status")))
        if outcome is None and str(event.data.get("status")) not in {"CLOSED", "CANCEL"}:
            return
        with self._lock:
            if order_id not in self._orders:
                return
            del self._orders[order_id]
        if outcome is not None:
            self.supervisor.feedback(outcome)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ScannerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _safe_close(scanner: Scanner) -> None:
    try:
        scanner.close()
    except Exception:  # closing a dead device may fail; nothing to do about it
        pass
