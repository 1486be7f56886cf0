"""The drivers: they perform the effects a flow yields (:mod:`paycode.effects`) and send back the results.

:func:`drive` performs them on the calling thread with a synchronous gateway client;
:func:`drive_async` in an asyncio event loop with an asyncio client. Both run the one loop of
:func:`_drive`; they differ only in how an effect is performed:

- a gateway call: bounded by the call's budget (the sync driver runs a bounded call on a kept
  worker thread and leaves it behind when it stalls; the asyncio driver uses ``wait_for``);
- a sleep: through the terminal's sleeper (a waker, a cancel);
- the journal: the sync driver writes on its own thread; the asyncio driver hands every journal
  effect to a writer thread (:class:`_Writer`, a few shared by every journal, a journal always
  on the same one), so a durable commit never holds up the event loop and the lanes' flushes
  overlap. Writes of several lanes sharing a journal that wait at the same time are made as one
  transaction. Every flow waits for its own write: its intent
  is durable before its request leaves, and its events (emitted by the flow after the ``yield``)
  follow the durable write;
- the clock, a zero sleep and a call with no time left need no waiting: answered in the loop itself.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .effects import Call, Effect, Flow, Lost, Now, Read, Reopen, Sleep, Write
from .errors import OutcomeUnknown
from .gateway import OPERATIONS
from .journal import JournalBackend

__all__ = ["AsyncSleeper", "Sleeper", "drive", "drive_async"]

T = TypeVar("T")

#: how a driver sleeps: (seconds, order id) -> True when woken early by news of that order
Sleeper = Callable[[float, str | None], bool]
AsyncSleeper = Callable[[float, str | None], Awaitable[bool]]
#: how one driver performs an effect that needs waiting
_Perform = Callable[[Effect], Awaitable[Any]]


def _plain_sleep(seconds: float, order_id: str | None) -> bool:
    time.sleep(seconds)
    return False


async def _plain_async_sleep(seconds: float, order_id: str | None) -> bool:
    await asyncio.sleep(seconds)
    return False


def _stalled(call: Call) -> OutcomeUnknown:
    return OutcomeUnknown(
        f"{call.operation}: no answer within {call.budget:g} s, the lane's bound (deadline plus one read "
        "timeout); outcome unknown",
        operation=call.operation,
        delivered=True,
        stalled=True,
    )


# ---------------------------------------------------------------------------- the one loop


async def _drive(flow: Flow[T], perform: _Perform) -> T:
    """Run ``flow`` to its end: each effect ``perform`` awaits is answered with its result, or its error is
    raised into the flow at its ``yield``. Clock reads, zero sleeps and calls with no time left are answered here.
    """
    steps, ctx = flow.steps, flow.context
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                effect = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            if isinstance(effect, Now):
                value = ctx.wall() if effect.wall else ctx.clock()
            elif isinstance(effect, Sleep) and effect.seconds <= 0:
                value = False
            elif isinstance(effect, Call) and effect.budget is not None and effect.budget <= 0:
                value = Lost(_stalled(effect))  # no time left: not sent at all (a re-send's twin may have been)
            else:
                try:
                    value = await perform(effect)
                except Exception as exc:  # the flow decides: a journal error after the request left is followed
                    error = exc
    finally:
        steps.close()


def drive(flow: Flow[T], client: Any, *, sleep: Sleeper | None = None) -> T:
    """Run ``flow`` on this thread with a synchronous gateway client (anything with ``send(operation, biz)``).

    ``sleep(seconds, order_id)`` waits for a :class:`Sleep` (default: plain ``time.sleep``) and
    returns True when news of the order ended it early. The journal is written on this thread.
    """
    pause = sleep or _plain_sleep
    journal = flow.context.journal

    async def perform(effect: Effect) -> Any:  # never suspends: the coroutine below runs in one send()
        if isinstance(effect, Sleep):
            return pause(effect.seconds, effect.order_id)
        if isinstance(effect, Call):
            return _call(client, effect)
        return _journal(journal, effect)

    return _run_at_once(_drive(flow, perform))


async def drive_async(flow: Flow[T], client: Any, *, sleep: AsyncSleeper | None = None) -> T:
    """Run ``flow`` with an asyncio gateway client (``await send(operation, biz)``); journal effects are
    performed by the journal's writer thread, off the event loop."""
    pause = sleep or _plain_async_sleep
    journal = flow.context.journal

    async def perform(effect: Effect) -> Any:
        if isinstance(effect, Sleep):
            return await pause(effect.seconds, effect.order_id)
        if isinstance(effect, Call):
            return await _call_async(client, effect)
        return await _submit(journal, effect)

    return await _drive(flow, perform)


def _run_at_once(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (every await in it is of a coroutine that returns at once)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("the synchronous driver was handed an effect that waits for an event loop")


# ---------------------------------------------------------------------------- the journal


def _journal(journal: JournalBackend, effect: Effect) -> Any:
    """Perform a journal effect on this thread."""
    if isinstance(effect, Read):
        return effect.step.run(journal)
    if isinstance(effect, Reopen):
        journal.reopen()
        return None
    if not isinstance(effect, Write):
        raise TypeError(f"a flow yielded {effect!r}, which is not an effect")
    if len(effect.steps) == 1:
        effect.steps[0].run(journal)
        return None
    with journal.batch():
        for one in effect.steps:
            one.run(journal)
    return None


#: writer threads of the asyncio drivers, shared by every journal of the process: enough to keep several durable
#: commits in flight (their flushes overlap), few enough that they do not fight the event loop for the GIL
#: (one thread per journal made 100 lanes spend about twice the CPU per payment)
WRITER_THREADS = 4
#: a writer thread with nothing to do for this long ends (a new one starts with the next effect)
_WRITER_IDLE = 2.0
_Queued = tuple[JournalBackend, Effect, "asyncio.Future[Any]"]
_Settled = tuple["asyncio.Future[Any]", bool, Any]


class _Writer:
    """A thread that performs the asyncio drivers' journal effects; a journal's effects always go to the same one.

    Effects that queue up while it works are taken together: the writes of each journal among them (several
    lanes sharing it) are made as one transaction, one flush. When that transaction fails, each write is made
    again on its own, so every flow learns its own outcome and no write depends on another flow's. Waiting
    flows are answered on their event loop, once their own write is durable: one wake-up of the loop for all.
    Effects of different flows may be reordered (they were concurrent); a flow has one effect out at a time.
    """

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.jobs: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="paycode-journal", daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                jobs = [self.jobs.get(timeout=_WRITER_IDLE)]
            except queue.Empty:
                with _WRITERS_LOCK:
                    if self.jobs.empty():  # _submit puts under the same lock: nothing can be left behind
                        del _WRITERS[self.slot]
                        return
                continue
            while True:
                try:
                    jobs.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            _settle(_work(jobs))


def _work(jobs: list[_Queued]) -> list[_Settled]:
    settled: list[_Settled] = []
    writes: dict[int, list[_Queued]] = {}
    for job in jobs:
        if isinstance(job[1], Write):
            writes.setdefault(id(job[0]), []).append(job)
        else:
            settled.append(_one(job))
    for group in writes.values():
        settled += _writes(group)
    return settled


def _writes(jobs: list[_Queued]) -> list[_Settled]:
    """The writes of one journal: one transaction when there are several, each alone when that fails."""
    if len(jobs) < 2:
        return [_one(job) for job in jobs]
    journal = jobs[0][0]
    try:
        with journal.batch():
            for _, effect, _ in jobs:
                assert isinstance(effect, Write)
                for one in effect.steps:
                    one.run(journal)
    except Exception:
        return [_one(job) for job in jobs]  # rolled back: each on its own, with its own outcome
    return [(future, True, None) for _, _, future in jobs]


def _one(job: _Queued) -> _Settled:
    journal, effect, future = job
    try:
        return future, True, _journal(journal, effect)
    except Exception as exc:
        return future, False, exc


_WRITERS: dict[int, _Writer] = {}
_WRITERS_LOCK = threading.Lock()


def _submit(journal: JournalBackend, effect: Effect) -> asyncio.Future[Any]:
    """Hand a journal effect to its journal's writer thread (started when there is none); its future."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    slot = hash((id(journal),)) % WRITER_THREADS
    with _WRITERS_LOCK:
        writer = _WRITERS.get(slot)
        if writer is None:
            writer = _WRITERS[slot] = _Writer(slot)
            writer.thread.start()
        writer.jobs.put((journal, effect, future))
    return future


def _settle(settled: list[_Settled]) -> None:
    """Answer the waiting flows: one wake-up of each event loop for all of its flows."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
    for item in settled:
        by_loop.setdefault(item[0].get_loop(), []).append(item)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass


def _resolve(settled: list[_Settled]) -> None:
    for future, ok, value in settled:
        if future.done():  # the waiting task was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


# ---------------------------------------------------------------------------- gateway calls


class _Job:
    """One bounded call handed to a worker thread."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None

    def run(self) -> None:
        try:
            self.value = self.work()
            self.ok = True
        except BaseException as exc:  # handed to the flow's thread
            self.value = exc
        finally:
            self.done.set()


class _Workers:
    """Daemon threads that run bounded calls, kept between calls (starting a thread per call costs ~0.1-0.3 ms).

    A call that stalls past its budget keeps its worker until the client's own timeouts end it; the flow has
    moved on, and another worker takes the next call. Daemon threads never hold up the end of the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[_Job]] = []

    def run(self, job: _Job) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name="paycode-call", daemon=True).start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[_Job]) -> None:
        while True:
            job = inbox.get()
            job.run()
            with self._lock:
                if len(self._idle) >= 8:
                    return  # enough idle workers: this one ends
                self._idle.append(inbox)


_WORKERS = _Workers()


def _call(client: Any, call: Call) -> Any:
    """One call, bounded by its budget: the client works in a worker thread that is left behind when it stalls."""
    operation = OPERATIONS[call.operation]
    try:
        if call.budget is None:
            return client.send(operation, call.biz)
        job = _Job(lambda: client.send(operation, call.biz))
        _WORKERS.run(job)
        if not job.done.wait(call.budget):
            raise _stalled(call)
        if not job.ok:
            raise job.value
        return job.value
    except OutcomeUnknown as exc:
        return Lost(exc)


async def _call_async(client: Any, call: Call) -> Any:
    operation = OPERATIONS[call.operation]
    try:
        if call.budget is None:
            return await client.send(operation, call.biz)
        try:
            async with asyncio.timeout(call.budget):  # no task of its own, unlike wait_for
                return await client.send(operation, call.biz)
        except TimeoutError:
            raise _stalled(call) from None
    except OutcomeUnknown as exc:
        return Lost(exc)
