"""What a payment flow asks its driver to do: the effects, and the context they act on.

A flow (:mod:`paycode.payflow`) does no I/O itself. It *yields* an effect and is sent back its
result, or has its error raised at the ``yield``:

- :class:`Call`: send a gateway operation; answered with a :class:`~paycode.gateway.GatewayAnswer`, or
  :class:`Lost` when no trustworthy answer came back;
- :class:`Sleep`: wait; answered True when news of the order (a notification, a cancel) ended it early;
- :class:`Now`: read the clock (monotonic seconds for deadlines, or epoch seconds for timeExpire);
- :class:`Write`: make journal writes durable as one transaction; answered None once they are, or the
  :class:`~paycode.errors.JournalError` is raised into the flow (nothing of them was written);
- :class:`Read`: read the journal; :class:`Reopen`: open the journal again after a failure.

A :class:`Flow` is the generator together with its :class:`FlowContext`, whose journal and
clock the drivers (:mod:`paycode.drivers`) use to perform these effects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, Generic, TypeVar

import attrs

from .errors import OutcomeUnknown
from .journal import JournalBackend
from .models import Event

__all__ = [
    "CLOSE_GRACE",
    "NOW",
    "WALL",
    "Call",
    "Effect",
    "Flow",
    "FlowContext",
    "Lost",
    "Now",
    "Read",
    "Reopen",
    "Sleep",
    "Step",
    "Steps",
    "Write",
    "step",
]

T = TypeVar("T")

#: default seconds after timeExpire during which a PROCESSING order is still expected to turn CLOSED
CLOSE_GRACE = 10.0


@attrs.frozen
class Call:
    """Send gateway operation ``operation`` (``unified_pay``, ``query``, ``refund``, ``refund_query``) with ``biz``.

    ``budget``: the most seconds the call may take (None: the client's own timeouts); a call
    still unanswered then is answered :class:`Lost` (it may have been delivered). A call with
    no time left (``budget <= 0``) is not sent at all.
    """

    operation: str
    biz: Mapping[str, Any]
    budget: float | None = None


@attrs.frozen
class Sleep:
    """Wait ``seconds`` before going on; news of ``order_id`` (a notification, a cancel) may end it early."""

    seconds: float
    order_id: str | None = None


@attrs.frozen
class Now:
    """Read the clock: the context's monotonic ``clock`` (deadlines), or with ``wall`` its epoch ``wall``."""

    wall: bool = False


#: the two clock reads a flow makes
NOW = Now()
WALL = Now(wall=True)


@attrs.frozen
class Step:
    """One call of a :class:`~paycode.journal.JournalBackend` method: ``method(*args, **kwargs)``."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)

    def run(self, journal: JournalBackend) -> Any:
        return getattr(journal, self.method)(*self.args, **self.kwargs)


def step(method: str, *args: Any, **kwargs: Any) -> Step:
    """``step("set_state", order_id, status, note=...)``: a :class:`Step`, written the way the method is called."""
    return Step(method, args, kwargs)


@attrs.frozen
class Write:
    """Make ``steps`` durable in the journal, all or none, as one transaction (one flush)."""

    steps: tuple[Step, ...]


@attrs.frozen
class Read:
    """Read the journal: the flow is sent what ``step`` returns."""

    step: Step


@attrs.frozen
class Reopen:
    """Open the journal again after a failure (a lock released, space freed, a mount made writable again)."""


@attrs.frozen
class Lost:
    """What a :class:`Call` is answered with when no trustworthy answer came back."""

    error: OutcomeUnknown

    @property
    def delivered(self) -> bool:
        """False only when every try failed to connect: the request never left this machine."""
        return bool(self.error.context.get("delivered", True))


Effect = Call | Sleep | Now | Write | Read | Reopen
#: a flow's generator: yields effects, is sent their results, returns the flow's value
Steps = Generator[Effect, Any, T]


def _never_cancelled(order_id: str) -> bool:
    return False


@attrs.frozen
class FlowContext:
    """What a flow writes to and reports through.

    ``journal`` is where the drivers perform its :class:`Write` / :class:`Read` effects, ``clock``
    (monotonic seconds, for deadlines) and ``wall`` (epoch seconds, for timeExpire) answer its
    :class:`Now` effects. ``read_timeout`` bounds a call beyond the deadline (None: no bound but
    the client's own); ``close_grace`` is how long after timeExpire a PROCESSING order is still
    expected to close; ``cancelled(order_id)`` is True once the host asked to stop waiting for the
    shopper. ``emit`` reports each step as an event (after the journal has it).
    """

    journal: JournalBackend
    emit: Callable[..., Event | None]
    lane: str = "lane-1"
    notification_url: str | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    read_timeout: float | None = None
    close_grace: float = CLOSE_GRACE
    cancelled: Callable[[str], bool] = _never_cancelled
    gateway: str | None = None
    site: str | None = None


@attrs.frozen
class Flow(Generic[T]):
    """A flow ready to be driven: its ``steps`` and the ``context`` its journal and clock effects act on."""

    context: FlowContext
    steps: Steps[T]
