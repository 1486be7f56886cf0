"""Issue 16 item 3 on both backends, end to end: the lane told the cashier "not paid" (CLOSED, FAILED), the
shopper's payment went through anyway, and the gateway's SUCCESS notification reaches the notification receiver.
The journal marks the order abandoned-and-paid in the same transaction (the one rule of paycode.journal_rules), and
``paycode recover`` refunds it; the gateway ends with the order charged once and refunded in full."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from paycode import PaymentRequest
from paycode.bizcontent import pay_biz
from paycode.cli import main
from paycode.gateway import PAY, Credentials
from paycode.host import PluginHost
from paycode.journal import JournalBackend, open_journal
from paycode.masking import mask_code
from paycode.models import Money, PaymentStatus
from paycode.notifications import NotificationReceiver, ReceiverResult
from paycode.sandbox import SandboxServer
from paycode.settings import Settings

from ..conftest import lane_environment


@pytest.fixture
def sandbox(
    sandbox: SandboxServer, journal_setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SandboxServer:
    """The sandbox gateway (tests/conftest.py), with the environment of a lane pointed at it and this journal."""
    return lane_environment(monkeypatch, sandbox, journal_setting, tmp_path)


@pytest.fixture
def journal(journal_setting: str) -> Iterator[JournalBackend]:
    with open_journal(journal_setting) as j:
        yield j


@pytest.mark.sandbox(notify_schedule=[0.05, 0.05])
@pytest.mark.parametrize("told", ["CLOSED", "FAILED"])
def test_a_success_notification_on_an_order_the_lane_said_was_not_paid_is_refunded_by_recover(
    sandbox: SandboxServer, journal: JournalBackend, capsys: pytest.CaptureFixture[str], told: str
) -> None:
    settings = Settings.load()
    host = PluginHost(settings)
    wechat = host.wallets["Wechat-Offline"]
    code = wechat.patterns[0].make("001")
    results: list[ReceiverResult] = []
    c = sandbox.credentials
    with NotificationReceiver(
        journal, credentials=Credentials(c.acc_id, c.client_id, c.salt), signers=host.signers, on_result=results.append
    ) as receiver:
        journal.begin_order(
            "told-not-paid",
            money=Money("30.00", "CNY"),
            wallet=wechat.name,
            code_masked=mask_code(code),
            lane="lane-1",
            deadline_at=time.time() - 1,
            gateway=settings.gateway,
        )
        journal.begin_attempt("told-not-paid", "tnp-rq", "pay")
        journal.end_attempt("told-not-paid", "tnp-rq", outcome="answered", status=told)
        journal.set_state("told-not-paid", told, note="the lane told the cashier: not paid")
        request = PaymentRequest(
            Money("30.00", "CNY"),
            wechat,
            code,
            "told-not-paid",
            "tnp-rq",
            notification_url=receiver.url + "/paycode/notify",
        )
        with host.gateway() as client:
            client.send(PAY, pay_biz(request))  # what the gateway did meanwhile: the payment went through
        end = time.monotonic() + 10
        while not results:
            assert time.monotonic() < end, sandbox.notifications()
            time.sleep(0.01)
    assert [(r.notification.status, r.outcome) for r in results if r.notification is not None] == [
        ("SUCCESS", "applied")
    ]
    record = journal.order("told-not-paid")
    assert record is not None and record.status is PaymentStatus.SUCCESS
    assert (record.abandoned, record.unresolved) == (True, True)
    assert record.abandon_reason == f"paid after the lane reported {told} (not paid)"

    assert main(["recover", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["order_id"], r["action"], r["refunded"], r["resolved"]) for r in rows] == [
        ("told-not-paid", "refunded", "30.00", True)
    ]
    view = sandbox.order("told-not-paid")
    assert view is not None and view.charged == 1 and view.refunded == Decimal("30.00")
    record = journal.order("told-not-paid")
    assert record is not None and record.refunded == Decimal("30.00") and not record.unresolved
