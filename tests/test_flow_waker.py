"""The lane sleeps through a waker (paycode.wake): news of its order ends the sleep between two polls early.

Against the documented gateway on loopback; the poll interval is far longer than the test, so only a wake-up
can finish the payment in time (the join below would give up first).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paycode import AsyncTerminal, PaymentStatus, Settings, Terminal
from paycode.terminal import outcome
from paycode.testing.docgateway import QUERY, DocGateway
from paycode.wake import LocalWaker

from .conftest import settings_for as shared_settings_for

CODE = "130000000000000001"


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway() as gateway:
        yield gateway


def settings_for(gw: DocGateway, tmp_path: Path, **overrides: Any) -> Settings:
    """The shared settings_for (tests/conftest.py) with this module's timings."""
    return shared_settings_for(
        gw, tmp_path, **{"poll_interval": 60.0, "deadline": 120.0, "read_timeout": 1.0, **overrides}
    )


def paid_at_the_gateway(gw: DocGateway, order_id: str) -> None:
    while (view := gw.order(order_id)) is None or view.status != "SUCCESS":
        time.sleep(0.02)


def test_news_of_the_order_wakes_the_lane(gw: DocGateway, tmp_path: Path) -> None:
    gw.script(outcome="PROCESSING", paid_after=0.3)
    waker = LocalWaker()
    with Terminal(settings_for(gw, tmp_path), recover=False, waker=waker) as t:
        result: list[Any] = []
        worker = threading.Thread(target=lambda: result.append(t.pay("6.00", "CNY", code=CODE, order_id="wake-1")))
        worker.start()
        paid_at_the_gateway(gw, "wake-1")
        waker.notify("wake-1")  # what the notification receiver does after applying the SUCCESS
        worker.join(30)
        assert not worker.is_alive(), "the lane was not woken: it is still sleeping through its 60 s poll interval"
    (p,) = result
    assert outcome(p) == "paid" and p.status is PaymentStatus.SUCCESS
    assert len(gw.requests(QUERY)) == 1  # one query, right after the wake-up


def test_news_wakes_an_asyncio_lane(gw: DocGateway, tmp_path: Path) -> None:
    gw.script(outcome="PROCESSING", paid_after=0.3)
    waker = LocalWaker()
    s = settings_for(gw, tmp_path)

    async def main() -> Any:
        async with AsyncTerminal(s, recover=False, waker=waker) as t:
            task = asyncio.create_task(t.pay("6.00", "CNY", code=CODE, order_id="wake-2"))
            await asyncio.to_thread(paid_at_the_gateway, gw, "wake-2")
            waker.notify("wake-2")
            return await asyncio.wait_for(task, 30)

    p = asyncio.run(main())
    assert outcome(p) == "paid" and len(gw.requests(QUERY)) == 1


def test_a_closed_waker_never_makes_the_lane_spin(gw: DocGateway, tmp_path: Path) -> None:
    gw.script(outcome="PROCESSING")  # never confirmed: the lane polls to its deadline, then closes
    waker = LocalWaker()
    waker.close()  # a closed waker answers at once, "no news"
    s = settings_for(gw, tmp_path, poll_interval=0.2, deadline=1.0, close_grace=0.5)
    with Terminal(s, recover=False, waker=waker) as t:
        p = t.pay("6.00", "CNY", code=CODE, order_id="wake-3")
    assert p.status is PaymentStatus.CLOSED
    assert len(gw.requests(QUERY)) <= 20  # about one per 0.2 s interval up to timeExpire, never a busy loop
