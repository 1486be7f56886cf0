"""The bridge's event stream: every event numbered, kept in a replay buffer, fanned out to subscribers.

Events arrive from lane threads (``publish`` is thread-safe) and leave through asyncio queues
that the WebSocket and Server-Sent-Events endpoints read. An event id is ``BOOT-N``: ``BOOT``
names this run of the bridge, ``N`` counts from 1. A client that reconnects with the last id
it saw gets every buffered event after it; when that is not possible (the bridge restarted,
or the client fell further behind than the buffer holds) it first gets one ``stream.reset``
or ``stream.gap`` event (without an id) and then everything buffered, so it knows to fetch
the state of its payments again.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["CLOSED", "EventHub", "StreamEvent", "Subscription"]

#: how many events the replay buffer keeps
DEFAULT_CAPACITY = 4096
#: how many events may wait for one slow subscriber before it is disconnected (it then resumes by id)
SUBSCRIBER_BACKLOG = 8192


@attrs.frozen
class StreamEvent:
    """One event of the stream: its id, its sequence number in this run, its JSON object and text."""

    id: str | None
    seq: int
    data: Mapping[str, Any]
    text: str


#: what a subscription's queue receives when the hub closes or the subscriber fell too far behind
CLOSED = StreamEvent(id=None, seq=-1, data={}, text="")


def _control(kind: str, reason: str) -> StreamEvent:
    data = {"event": kind, "order": None, "id": None, "reason": reason}
    return StreamEvent(id=None, seq=0, data=data, text=json.dumps(data))


class Subscription:
    """What one connected client reads: ``backlog`` first, then ``await next()`` until :data:`CLOSED`."""

    def __init__(self, hub: EventHub, loop: asyncio.AbstractEventLoop, backlog: list[StreamEvent]) -> None:
        self.hub = hub
        self.loop = loop
        self.backlog = backlog
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG + 1)
        self.overflowed = False
        self._pending: list[StreamEvent] = []
        self._scheduled = False
        self._pending_lock = threading.Lock()

    def _deliver_threadsafe(self, event: StreamEvent) -> None:
        """From any thread: events published in a burst wake the loop once, not once each."""
        with self._pending_lock:
            self._pending.append(event)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: the subscriber is gone
            pass

    def _drain(self) -> None:  # on the loop's thread
        with self._pending_lock:
            pending, self._pending = self._pending, []
            self._scheduled = False
        for event in pending:
            self._deliver(event)

    def _deliver(self, event: StreamEvent) -> None:  # on the loop's thread
        if self.overflowed:
            return
        if self.queue.qsize() >= SUBSCRIBER_BACKLOG and event is not CLOSED:
            self.overflowed = True
            event = CLOSED
        self.queue.put_nowait(event)

    async def next(self) -> StreamEvent:
        return await self.queue.get()

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    """Numbers events, keeps the last ``capacity`` of them, and hands each to every subscriber."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, boot: str | None = None) -> None:
        self.boot = boot or secrets.token_hex(4)
        self._lock = threading.Lock()
        self._buffer: deque[StreamEvent] = deque(maxlen=capacity)
        self._seq = 0
        self._subscribers: set[Subscription] = set()
        self._closed = False

    @property
    def last_id(self) -> str | None:
        with self._lock:
            return f"{self.boot}-{self._seq}" if self._seq else None

    def publish(self, data: Mapping[str, Any]) -> StreamEvent:
        """Number ``data`` (a JSON object: codes already masked), buffer it, and send it to every subscriber."""
        with self._lock:
            self._seq += 1
            event_id = f"{self.boot}-{self._seq}"
            body = {"id": event_id, **data}
            event = StreamEvent(event_id, self._seq, body, json.dumps(body, ensure_ascii=False, default=str))
            self._buffer.append(event)
            targets = list(self._subscribers)
        for sub in targets:
            _hand_over(sub, event)
        return event

    def subscribe(self, last_id: str | None = None) -> Subscription:
        """A subscription on the running loop; its backlog replays what came after ``last_id``.

        ``last_id`` None: no backlog (a new client wants what happens from now on).
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            backlog = self._backlog(last_id)
            sub = Subscription(self, loop, backlog)
            if self._closed:
                sub.queue.put_nowait(CLOSED)
            else:
                self._subscribers.add(sub)
        return sub

    def _backlog(self, last_id: str | None) -> list[StreamEvent]:
        if last_id is None:
            return []
        boot, _, number = last_id.rpartition("-")
        buffered = list(self._buffer)
        if boot != self.boot or not number.isdigit():
            reset = _control(
                "stream.reset",
                "the bridge restarted (or the id is not one of its ids): the events before it are gone; "
                "GET /v1/payments/{reference} tells each payment's state",
            )
            return [reset, *buffered]
        seq = int(number)
        if seq > self._seq:
            return [_control("stream.reset", f"event id {last_id} was never sent by this bridge"), *buffered]
        first = buffered[0].seq if buffered else self._seq + 1
        if seq + 1 < first:
            gap = _control(
                "stream.gap",
                f"events {seq + 1} to {first - 1} are no longer buffered; GET /v1/payments/{{reference}} for state",
            )
            return [gap, *buffered]
        return [e for e in buffered if e.seq > seq]

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """End every subscription (the bridge is stopping); later subscriptions end at once."""
        with self._lock:
            self._closed = True
            targets = list(self._subscribers)
            self._subscribers.clear()
        for sub in targets:
            _hand_over(sub, CLOSED)

    def events(self) -> list[StreamEvent]:
        """The buffered events, oldest first."""
        with self._lock:
            return list(self._buffer)


def _hand_over(sub: Subscription, event: StreamEvent) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is sub.loop:
        sub._drain()  # keep the order of anything another thread queued first
        sub._deliver(event)
    else:
        sub._deliver_threadsafe(event)
