"""``paycode recover --all-lanes``: the store server settles every lane's unresolved orders, one claim at a time.

Each unresolved order is claimed first (:func:`paycode.store.claims.claim`); one another recoverer holds (a lane
recovering at start, a second store server) is skipped and reported as ``skipped``, unresolved, for the next
run. A claimed order is read again (another recoverer may have settled it meanwhile) and settled by
:func:`paycode.recovery.recover` under the usual rules (docs/journal.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ..recovery import RecoveryResult, recover
from .claims import claim

if TYPE_CHECKING:
    from ..gateway import GatewayClient
    from ..host import PluginHost
    from ..journal import JournalBackend, OrderRecord

__all__ = ["SKIPPED", "recover_all_lanes", "recover_claimed"]

#: the action of an order another recoverer was handling
SKIPPED = "skipped"


class _OneOrder:
    """The journal, except that its only unresolved order is the one claimed."""

    def __init__(self, journal: JournalBackend, record: OrderRecord) -> None:
        self._journal = journal
        self._record = record

    def unresolved(self, lane: str | None = None) -> list[OrderRecord]:
        return [self._record]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


def recover_all_lanes(
    journal: JournalBackend,
    client: GatewayClient,
    host: PluginHost | None = None,
    *,
    late_success: str | None = None,
    on_result: Callable[[RecoveryResult], None] | None = None,
    **kw: Any,
) -> list[RecoveryResult]:
    """Settle every lane's unresolved orders, each under a claim; ``on_result`` sees each result as it is made.

    ``kw`` (``now``, ``grace``) goes to :func:`paycode.recovery.recover`.
    """
    return recover_claimed(journal, client, host, late_success=late_success, on_result=on_result, **kw)


def recover_claimed(
    journal: JournalBackend,
    client: GatewayClient,
    host: PluginHost | None = None,
    *,
    lane: str | None = None,
    late_success: str | None = None,
    on_result: Callable[[RecoveryResult], None] | None = None,
    **kw: Any,
) -> list[RecoveryResult]:
    """Settle the unresolved orders of ``lane`` (None: every lane), each under a claim, as
    :func:`paycode.recovery.recover` does; an order another recoverer holds is skipped and reported unresolved
    (action ``skipped``). A lane's own recovery at start (``paycode.Terminal``) and ``recover --all-lanes`` both
    use it, so they never act on one order together.
    """
    results: list[RecoveryResult] = []
    for listed in journal.unresolved(lane):
        with claim(journal, listed.order_id) as mine:
            if not mine:
                result = RecoveryResult(
                    order_id=listed.order_id,
                    lane=listed.lane,
                    before=listed.status.value,
                    after=listed.status.value,
                    action=SKIPPED,
                    resolved=False,
                    reason="another recoverer is handling it (claimed); the next run settles it if still needed",
                    amount=listed.amount,
                    currency=listed.currency,
                )
                if host is not None:  # as recover() reports each order it settles
                    data = result.as_json()
                    data.pop("order_id")
                    host.emit("recovery.order", listed.order_id, **data)
            else:
                record = journal.order(listed.order_id)
                if record is None or not record.unresolved:
                    continue  # settled by someone else since it was listed
                one = cast("JournalBackend", _OneOrder(journal, record))
                done = recover(one, client, host, late_success=late_success, **kw)
                if not done:
                    continue
                result = done[0]
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
