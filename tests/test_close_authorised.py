"""Void only where the documentation allows it: an AUTH_SUCCESS order (a pre-authorisation), with the mandatory
notificationUrl (issue 11 item 1). Against the documented gateway, which refuses any other void."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paycode import Settings, Terminal
from paycode.recovery import recover
from paycode.terminal import outcome
from paycode.testing.docgateway import VOID, DocGateway

CODE = "130000000000000001"


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway(notify_schedule=(0.05,), notify_timeout=0.2) as gateway:
        yield gateway


def settings_for(gw: DocGateway, tmp_path: Path, **overrides: Any) -> Settings:
    c = gw.credentials
    values: dict[str, Any] = {
        "gateway": gw.url,
        "acc_id": c.acc_id,
        "client_id": c.client_id,
        "salt": c.salt,
        "journal": str(tmp_path / "journal.sqlite3"),
        "poll_interval": 0.1,
        "deadline": 0.5,
        "read_timeout": 1.0,
        "connect_timeout": 0.5,
        "close_grace": 0.5,
        **overrides,
    }
    return Settings(**values)


def test_an_authorised_order_is_never_paid_and_recovery_voids_it(gw: DocGateway, tmp_path: Path) -> None:
    gw.script(outcome="AUTH_SUCCESS")  # not a barcode sale: a pre-authorisation the lane never asked for
    url = "http://127.0.0.1:9/paycode/notify"
    with Terminal(settings_for(gw, tmp_path), recover=False) as t:
        p = t.pay("5.00", "CNY", code=CODE, order_id="auth-1")
        assert outcome(p) != "paid"  # AUTH_SUCCESS is not a payment
        record = t.journal.order("auth-1")
        assert record is not None and record.unresolved and gw.requests(VOID) == []
        # without a notification URL the documented void cannot be made: said, not attempted
        (refused,) = recover(t.journal, t.gateway, t.host, now=record.deadline_at + 60)
        assert refused.action == "failed" and "notificationUrl" in refused.reason and gw.requests(VOID) == []
    with Terminal(settings_for(gw, tmp_path, notification_url=url), recover=False) as t:
        (result,) = recover(t.journal, t.gateway, t.host, now=record.deadline_at + 60)
    assert (result.action, result.after, result.resolved) == ("voided", "CANCEL", True)
    ((_, void),) = gw.requests(VOID)
    assert void["merchantTransactionId"] == "auth-1" and void["notificationUrl"] == url
    view = gw.order("auth-1")
    assert view is not None and view.charged == 0
