"""Query and recovery ask the gateway an order was sent to, as journaled, not the lane's current one
(issue 11 item 7, flow side): two documented gateways on loopback; the lane moves from the first to the second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paycode import AsyncTerminal, PaymentStatus, Settings, Terminal
from paycode.terminal import outcome
from paycode.testing.docgateway import PAY, DocGateway

from .conftest import settings_for as shared_settings_for

CODE = "130000000000000001"


@pytest.fixture
def gateways() -> Iterator[tuple[DocGateway, DocGateway]]:
    with DocGateway() as first:
        # the second gateway accepts the same merchant account: the lane's credentials do not change, its site does
        with DocGateway(first.credentials) as second:
            yield first, second


def settings_for(gw: DocGateway, tmp_path: Path, **overrides: Any) -> Settings:
    """The shared settings_for (tests/conftest.py) with this module's timings."""
    return shared_settings_for(
        gw, tmp_path, **{"poll_interval": 0.1, "deadline": 0.5, "read_timeout": 1.0, "close_grace": 0.5, **overrides}
    )


def test_the_journal_says_where_each_order_went(gateways: tuple[DocGateway, DocGateway], tmp_path: Path) -> None:
    first, _ = gateways
    with Terminal(settings_for(first, tmp_path), recover=False) as t:
        t.pay("4.00", "CNY", code=CODE, order_id="where-1")
        record = t.journal.order("where-1")
    assert record is not None and (record.gateway, record.site) == ("pingpong", first.url)


def test_query_asks_the_orders_own_gateway(gateways: tuple[DocGateway, DocGateway], tmp_path: Path) -> None:
    first, second = gateways
    with Terminal(settings_for(first, tmp_path), recover=False) as t:
        assert outcome(t.pay("4.00", "CNY", code=CODE, order_id="where-2")) == "paid"
    with Terminal(settings_for(second, tmp_path), recover=False) as moved:  # the lane now sends to the second
        q = moved.query("where-2")

        async def ask() -> PaymentStatus:
            async with AsyncTerminal(settings_for(second, tmp_path), recover=False) as t:
                return (await t.query("where-2")).status

        assert asyncio.run(ask()) is PaymentStatus.SUCCESS
    assert q.status is PaymentStatus.SUCCESS
    assert second.requests() == []  # never asked the gateway the order did not go to


def test_recovery_asks_the_orders_own_gateway(gateways: tuple[DocGateway, DocGateway], tmp_path: Path) -> None:
    first, second = gateways
    first.script(path=PAY, stall=1.5)  # the pay's answer is lost (held past the lane's bound), then executed
    with Terminal(settings_for(first, tmp_path), recover=False) as t:
        p = t.pay("4.00", "CNY", code=CODE, order_id="where-3")
    assert outcome(p) == "unresolved"
    while (view := first.order("where-3")) is None or view.status != "SUCCESS":
        time.sleep(0.05)
    first.clear()
    with Terminal(settings_for(second, tmp_path)) as moved:  # recovery on start, configured for the second
        (result,) = moved.recovered
    assert (result.order_id, result.after, result.action) == ("where-3", "SUCCESS", "refunded")
    view = first.order("where-3")
    assert view is not None and view.refunded == view.amount
    assert second.requests() == []
