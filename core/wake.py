"""Wake-ups: a lane waiting between polls of an order returns at once when news of that order arrives.

While a payment is ``PROCESSING`` (the shopper is typing a password) the lane polls the gateway on the
wallet's schedule, every 3 to 5 s. When the store's notification receiver applies the gateway's answer
(``SUCCESS``, ``FAILED``, ``CLOSED``) it calls :meth:`Waker.notify` with the order id; the lane sleeping
in :meth:`Waker.wait` on that order wakes, queries once and finishes. Polling stays the fallback: a lane is
never worse off than without a waker, and a wake-up is only ever a reason to query early, never a verdict.

- :class:`SleepWaker`: plain sleep, never woken (``wake = "off"``).
- :class:`LocalWaker`: the receiver and the lane in one process (the bridge), through threading.
- ``paycode.store.wake.DatagramWaker``: lanes on one machine sharing a SQLite journal; a UDP datagram on
  127.0.0.1 to each waiting process (their ports are files in a folder beside the journal).
- ``paycode.store.wake.PostgresWaker``: lanes anywhere sharing a PostgreSQL journal; LISTEN/NOTIFY on
  ``paycode_orders`` (the journal announces each final state once the transaction applying it commits).

:func:`waker_for` builds the right one from the settings.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["WAKE_MODES", "LocalWaker", "SleepWaker", "Waker", "waker_for"]

#: accepted values of the ``wake`` setting
WAKE_MODES = ("auto", "off")


@runtime_checkable
class Waker(Protocol):
    """Sleeps a lane between polls of an order, and wakes it early when news of that order arrives."""

    def wait(self, order_id: str, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when woken by news of ``order_id`` (then query it now)."""
        ...

    async def wait_async(self, order_id: str, seconds: float) -> bool:
        """:meth:`wait` for an event loop (other tasks run meanwhile)."""
        ...

    def notify(self, order_id: str) -> None:
        """News of ``order_id`` arrived (the receiver applied a final state): wake whoever waits on it."""
        ...

    def close(self) -> None:
        """Stop listening and wake every waiter (they go back to polling). Closing twice is harmless."""
        ...


class SleepWaker:
    """Plain sleep: never woken early (notifications off, or nothing to be woken by)."""

    def wait(self, order_id: str, seconds: float) -> bool:
        if seconds > 0:
            time.sleep(seconds)
        return False

    async def wait_async(self, order_id: str, seconds: float) -> bool:
        if seconds > 0:
            await asyncio.sleep(seconds)
        return False

    def notify(self, order_id: str) -> None:
        return None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "SleepWaker()"


class _Waiter:
    """One sleeping lane: a thread's Event, or an event loop's Future."""

    __slots__ = ("event", "future", "loop")

    def __init__(
        self,
        event: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[bool] | None = None,
    ) -> None:
        self.event = event
        self.loop = loop
        self.future = future

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()
        elif self.loop is not None and self.future is not None:
            try:
                self.loop.call_soon_threadsafe(_resolve, self.future)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more


def _resolve(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(True)


class LocalWaker:
    """Wakes waiters of this process (thread-safe; sync and asyncio waiters alike).

    News of an order that nobody waits on yet is kept for ``memory`` seconds (at most ``keep`` orders), so a
    notification that arrives between the lane's query and its next wait is not lost: that wait returns True
    at once.
    """

    def __init__(self, *, memory: float = 60.0, keep: int = 4096) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, list[_Waiter]] = {}
        self._news: dict[str, float] = {}
        self._memory = memory
        self._keep = keep
        self._closed = False

    # -- waiting ---------------------------------------------------------------------

    def _register(self, order_id: str, waiter: _Waiter) -> bool:
        """Add ``waiter``; False (not added) when news of the order is already here, or the waker is closed."""
        with self._lock:
            if self._closed:
                return False
            seen = self._news.pop(order_id, None)
            if seen is not None and time.monotonic() - seen < self._memory:
                return False
            self._waiters.setdefault(order_id, []).append(waiter)
            return True

    def _unregister(self, order_id: str, waiter: _Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(order_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[order_id]

    def wait(self, order_id: str, seconds: float) -> bool:
        waiter = _Waiter(event=threading.Event())
        if not self._register(order_id, waiter):
            return not self._closed
        try:
            assert waiter.event is not None
            return waiter.event.wait(max(seconds, 0.0)) and not self._closed
        finally:
            self._unregister(order_id, waiter)

    async def wait_async(self, order_id: str, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        waiter = _Waiter(loop=loop, future=future)
        if not self._register(order_id, waiter):
            return not self._closed
        try:
            await asyncio.wait_for(future, max(seconds, 0.0))
            return not self._closed
        except TimeoutError:
            return False
        finally:
            self._unregister(order_id, waiter)

    # -- news ------------------------------------------------------------------------

    def notify(self, order_id: str) -> None:
        self._wake_local(order_id)

    def _wake_local(self, order_id: str) -> None:
        """Wake this process's waiters of ``order_id``, or keep the news for a wait that starts soon."""
        with self._lock:
            waiters = self._waiters.pop(order_id, None)
            if not waiters:
                now = time.monotonic()
                self._news[order_id] = now
                if len(self._news) > self._keep:
                    old = [k for k, t in self._news.items() if now - t >= self._memory]
                    for key in old or list(self._news)[: len(self._news) - self._keep]:
                        del self._news[key]
                return
        for waiter in waiters:
            waiter.wake()

    def _wake_everyone(self) -> None:
        """Wake every waiter (news may have been missed: each queries once, then polls on)."""
        with self._lock:
            everyone = [w for waiters in self._waiters.values() for w in waiters]
            self._waiters.clear()
        for waiter in everyone:
            waiter.wake()

    @property
    def waiting(self) -> int:
        """How many waits are in progress (for tests and metrics)."""
        with self._lock:
            return sum(len(w) for w in self._waiters.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake_everyone()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(waiting={self.waiting})"


def waker_for(settings: Settings, *, listen: bool = True) -> Waker:
    """The waker the settings call for: ``wake = "off"`` sleeps plainly; otherwise a PostgreSQL journal wakes
    through LISTEN/NOTIFY and a SQLite journal through datagrams on 127.0.0.1 between its processes.

    ``listen=False`` builds one that only sends news (the notification receiver), never waits.
    """
    mode = getattr(settings, "wake", "auto")
    if mode == "off":
        return SleepWaker()
    from .journal import journal_file
    from .store.wake import DatagramWaker, PostgresWaker

    path = journal_file(settings.journal)
    if path is None:
        return PostgresWaker(settings.journal, listen=listen)
    return DatagramWaker(path, listen=listen)
