"""The documented close of an unpaid barcode order (issue 11 item 1), against a gateway written from the docs.

paycode.testing.docgateway is not paycode's sandbox: it closes an order at its ``timeExpire``, accepts void
only for AUTH_SUCCESS, and records every request, so these tests see exactly what paycode sends.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paycode import AsyncTerminal, PaymentStatus, Settings, Terminal
from paycode.host import PluginHost
from paycode.terminal import outcome
from paycode.testing import EventRecorder
from paycode.testing.docgateway import PAY, QUERY, VOID, DocGateway

from .conftest import settings_for as shared_settings_for

DEADLINE = 1.0
CODE = "130000000000000001"  # a WeChat-shaped code; the documented gateway decides outcomes by its script


class Recorder(EventRecorder):
    """The shared recorder of paycode.testing, giving the data of the events of a kind."""

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [dict(e.data) for e in self.of_kind(kind)]


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway(notify_schedule=(0.05,), notify_timeout=0.2) as gateway:
        yield gateway


def settings_for(gw: DocGateway, tmp_path: Path, **overrides: Any) -> Settings:
    """The shared settings_for (tests/conftest.py) with this module's timings."""
    return shared_settings_for(
        gw,
        tmp_path,
        **{"poll_interval": 0.1, "deadline": DEADLINE, "read_timeout": 1.0, "close_grace": 2.0, **overrides},
    )


def terminal(gw: DocGateway, tmp_path: Path, recorder: Recorder, **overrides: Any) -> Terminal:
    s = settings_for(gw, tmp_path, **overrides)
    return Terminal(s, host=PluginHost(s, plugins=[recorder]), recover=False)


def early_in_a_second() -> None:
    """Start just after a whole second, so that timeExpire (whole seconds) ends ~1 s after the deadline."""
    time.sleep(1.02 - time.time() % 1)


def test_every_pay_carries_time_expire_and_the_close_notification_url(gw: DocGateway, tmp_path: Path) -> None:
    recorder = Recorder()
    url = "http://127.0.0.1:9/paycode/notify"
    with terminal(gw, tmp_path, recorder, notification_url=url) as t:
        started = time.time()
        p = t.pay("3.00", "CNY", code=CODE)
    assert outcome(p) == "paid"
    ((_, biz),) = gw.requests(PAY)
    assert biz["timeExpire"] == math.ceil(biz["timeExpire"])  # epoch seconds, a whole number
    assert started + DEADLINE <= biz["timeExpire"] <= time.time() + DEADLINE + 1
    assert biz["closeNotificationUrl"] == url and biz["notificationUrl"] == url


def test_an_unpaid_order_is_closed_by_the_gateway_never_voided(gw: DocGateway, tmp_path: Path) -> None:
    recorder = Recorder()
    gw.script(outcome="PROCESSING")  # the shopper never confirms
    with terminal(gw, tmp_path, recorder) as t:
        p = t.pay("8.80", "CNY", code=CODE, order_id="close-1")
        record = t.journal.order("close-1")
    assert outcome(p) == "not_paid" and p.status is PaymentStatus.CLOSED
    assert gw.requests(VOID) == []
    view = gw.order("close-1")
    assert view is not None and view.status == "CLOSED" and view.charged == 0
    assert record is not None and record.status is PaymentStatus.CLOSED and not record.unresolved
    steps = [d["step"] for d in recorder.of("payment.close")]
    assert steps == ["closing"]
    # the lane kept asking while closing: queries after the deadline until CLOSED
    assert len(gw.requests(QUERY)) >= 2


def test_a_success_while_closing_is_a_payment_counted_once(gw: DocGateway, tmp_path: Path) -> None:
    recorder = Recorder()
    early_in_a_second()
    gw.script(outcome="PROCESSING", paid_after=DEADLINE + 0.4)  # after the deadline, before timeExpire
    with terminal(gw, tmp_path, recorder) as t:
        p = t.pay("8.80", "CNY", code=CODE, order_id="close-2")
        record = t.journal.order("close-2")
    assert outcome(p) == "paid" and p.status is PaymentStatus.SUCCESS
    view = gw.order("close-2")
    assert view is not None and view.charged == 1 and view.status == "SUCCESS"
    assert record is not None and record.status is PaymentStatus.SUCCESS and not record.abandoned
    kinds = [e.kind for e in recorder.events if e.kind in ("payment.close", "payment.state")]
    assert kinds.index("payment.close") < len(kinds) - 1  # the SUCCESS came while closing
    assert [d["status"] for d in recorder.of("payment.state")].count("SUCCESS") == 1
    assert gw.requests(VOID) == []


def test_still_processing_after_the_grace_is_abandoned_then_recovery_follows_it(gw: DocGateway, tmp_path: Path) -> None:
    recorder = Recorder()
    gw.script(outcome="PROCESSING")
    gw.script(path=QUERY, status="PROCESSING")  # every query still says PROCESSING, past timeExpire
    with terminal(gw, tmp_path, recorder, close_grace=0.5) as t:
        p = t.pay("8.80", "CNY", code=CODE, order_id="close-3")
        record = t.journal.order("close-3")
    assert outcome(p) == "unresolved" and p.status is PaymentStatus.PROCESSING  # paycode pay exits 3
    assert record is not None and record.abandoned and record.unresolved
    assert [d["step"] for d in recorder.of("payment.close")] == ["closing", "abandoned"]
    assert gw.requests(VOID) == []
    gw.clear()  # the gateway answers truthfully again: it closed the order at its timeExpire
    with Terminal(settings_for(gw, tmp_path)) as restarted:
        (result,) = restarted.recovered
        after = restarted.journal.order("close-3")
    assert (result.after, result.resolved) == ("CLOSED", True)
    assert after is not None and after.status is PaymentStatus.CLOSED and not after.unresolved
    assert gw.requests(VOID) == []


def test_cancel_stops_waiting_and_follows_the_close(gw: DocGateway, tmp_path: Path) -> None:
    recorder = Recorder()
    gw.script(outcome="PROCESSING")
    with terminal(gw, tmp_path, recorder, deadline=2.0, poll_interval=2.0) as t:
        assert t.cancel("close-4") is False  # nothing in flight yet
        result: list[Any] = []
        worker = threading.Thread(target=lambda: result.append(t.pay("8.80", "CNY", code=CODE, order_id="close-4")))
        worker.start()
        while not recorder.of("payment.state") or recorder.of("payment.state")[-1]["status"] != "PROCESSING":
            time.sleep(0.01)
        assert t.cancel("close-4") is True
        worker.join(15)
        assert t.cancel("close-4") is False  # no longer in flight
    (p,) = result
    assert p.status is PaymentStatus.CLOSED and outcome(p) == "not_paid"
    closing = recorder.of("payment.close")
    assert closing[0]["step"] == "closing" and closing[0]["reason"] == "cancelled"
    assert gw.requests(VOID) == []


def test_async_cancel_from_another_thread(gw: DocGateway, tmp_path: Path) -> None:
    recorder = Recorder()
    gw.script(outcome="PROCESSING")
    s = settings_for(gw, tmp_path, deadline=2.0, poll_interval=2.0)

    async def main() -> Any:
        async with AsyncTerminal(s, host=PluginHost(s, plugins=[recorder]), recover=False) as t:
            task = asyncio.create_task(t.pay("8.80", "CNY", code=CODE, order_id="close-5"))
            while not any(d.get("status") == "PROCESSING" for d in recorder.of("payment.state")):
                await asyncio.sleep(0.01)
            cancelled = await asyncio.to_thread(t.cancel, "close-5")
            return cancelled, await task

    cancelled, p = asyncio.run(main())
    assert cancelled is True and p.status is PaymentStatus.CLOSED
    assert recorder.of("payment.close")[0]["reason"] == "cancelled"
