"""Signed asynchronous notifications, posted to ``notificationUrl`` with PingPong's retry schedule.

One thread per server posts them in due order. A delivery fails on a connection error,
a non-2xx answer, or a 2xx whose body is ``FAIL``; it is retried after each delay of the
schedule in turn, then given up. The schedule is a constructor argument so that tests
can compress PingPong's hours into fractions of a second.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import attrs
import httpx

from ..errors import UsageError
from ..plugin_types import SignerType
from ..signing import signed
from .faults import DEFAULT_SECONDS, Faults
from .ledger import Notice

__all__ = ["NOTIFY_SCHEDULE", "DeliveryView", "Notifier"]

#: PingPong's retry delays in seconds after a failed delivery: 5 s, 5 s, 3 min, 10 min, 20 min,
#: 30 min x3, 60 min, 3 h x3.
NOTIFY_SCHEDULE: tuple[float, ...] = (5, 5, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800)


@attrs.frozen
class DeliveryView:
    """One notification as tests inspect it: ``outcomes`` holds one entry per POST (``"200"``, ``"FAIL"``, …)."""

    url: str
    notify_type: str
    merchant_transaction_id: str
    status: str
    outcomes: tuple[str, ...]
    delivered: bool
    gave_up: bool


@attrs.define(eq=False)
class _Job:
    notice: Notice
    body: bytes
    retries_used: int = 0
    duplicates_left: int = 0
    outcomes: list[str] = attrs.field(factory=list)
    delivered: bool = False
    gave_up: bool = False

    def view(self) -> DeliveryView:
        biz = self.notice.biz
        return DeliveryView(
            url=self.notice.url,
            notify_type=self.notice.notify_type,
            merchant_transaction_id=str(biz.get("merchantTransactionId", "")),
            status=str(biz.get("status", "")),
            outcomes=tuple(self.outcomes),
            delivered=self.delivered,
            gave_up=self.gave_up,
        )


class Notifier:
    """Posts notices on its own thread until stopped; pending ones are dropped at stop (state is in memory)."""

    def __init__(
        self,
        signers: Mapping[str, SignerType],
        faults: Faults,
        schedule: Sequence[float] = NOTIFY_SCHEDULE,
        timeout: float = 5.0,
    ) -> None:
        if any(not delay >= 0 for delay in schedule):
            raise UsageError(f"notification retry delays {list(schedule)}: give numbers of seconds, 0 or more")
        self.schedule = tuple(float(d) for d in schedule)
        self.timeout = timeout
        self._signers = signers
        self._faults = faults
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, _Job]] = []
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="paycode-sandbox-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(self.timeout + 1.0)
            self._thread = None

    def submit(self, notice: Notice) -> None:
        """Sign ``notice`` once and queue it (called under the ledger's lock: quick, no I/O)."""
        message = {
            "accId": notice.merchant.acc_id,
            "clientId": notice.merchant.client_id,
            "version": "1.0",
            "bizContent": json.dumps(notice.biz, ensure_ascii=False, separators=(",", ":")),
        }
        envelope = signed(message, notice.merchant.salt, self._signers[notice.sign_type])
        job = _Job(notice, json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
        path = urlsplit(notice.url).path or "/"
        delay = 0.0
        if self._faults.take("duplicate_notifications", path):
            job.duplicates_left = 1
        held = self._faults.take("out_of_order_notifications", path)
        if held:
            delay = held.seconds_or(DEFAULT_SECONDS["out_of_order_notifications"])
        with self._cond:
            self._jobs.append(job)
            self._push(job, delay)

    def deliveries(self) -> list[DeliveryView]:
        with self._cond:
            return [job.view() for job in self._jobs]

    def _push(self, job: _Job, delay: float) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), job))
        self._cond.notify_all()

    def _next(self) -> _Job | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._queue and self._queue[0][0] <= now:
                    return heapq.heappop(self._queue)[2]
                self._cond.wait(self._queue[0][0] - now if self._queue else None)
            return None

    def _run(self) -> None:
        client: httpx.Client | None = None  # built at the first delivery: most servers never notify
        try:
            while (job := self._next()) is not None:
                client = client or httpx.Client(timeout=self.timeout, follow_redirects=False)
                outcome = self._post(client, job)
                with self._cond:
                    job.outcomes.append(outcome)
                    self._settle(job, outcome)
        finally:
            if client is not None:
                client.close()

    def _settle(self, job: _Job, outcome: str) -> None:
        """After a POST: done, deliver the duplicate, retry on the schedule, or give up."""
        if outcome.isdigit() and outcome.startswith("2"):
            job.delivered = True
            if job.duplicates_left:
                job.duplicates_left -= 1
                self._push(job, 0.0)
        elif job.delivered:
            pass  # a failed duplicate is not retried: the notification was acknowledged
        elif job.retries_used < len(self.schedule):
            self._push(job, self.schedule[job.retries_used])
            job.retries_used += 1
        else:
            job.gave_up = True

    def _post(self, client: httpx.Client, job: _Job) -> str:
        """One POST; the outcome is the HTTP status, ``FAIL`` for a 2xx saying FAIL, or the error's name."""
        try:
            response = client.post(job.notice.url, content=job.body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.is_success and response.text.strip().upper() == "FAIL":
            return "FAIL"
        return str(response.status_code)
