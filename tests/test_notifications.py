"""Notifications: verified, applied once, out-of-order and replayed ones change nothing; over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from paycode import Money, PaymentStatus, Settings, Terminal
from paycode.gateway import Credentials
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.notifications import NotificationReceiver, ReceiverResult
from paycode.plugins.signers import MD5, SHA256
from paycode.sandbox import FaultSwitch, SandboxServer
from paycode.signing import signed

CREDS = Credentials("acc-notify", "client-notify", "salt-notify-0123")
SIGNERS = {"SHA256": SHA256, "MD5": MD5}
ORDER = "order-n1"


def notification(
    status: str, *, order: str = ORDER, kind: str = "RECHARGE", salt: str = CREDS.salt, **biz: Any
) -> bytes:
    content = {
        "notifyType": kind,
        "merchantTransactionId": order,
        "transactionId": "TX-1",
        "amount": "10.000000",
        "currency": "CNY",
        "status": status,
        "paymentMethod": {"type": "Wechat-Offline"},
        **biz,
    }
    message = {"accId": CREDS.acc_id, "clientId": CREDS.client_id, "version": "1.0", "bizContent": json.dumps(content)}
    return json.dumps(signed(message, salt, SHA256)).encode()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as j:
        j.begin_order(
            ORDER,
            money=Money("10.00", "CNY"),
            wallet="Wechat-Offline",
            code_masked="1300**********0001",
            lane="lane-1",
            deadline_at=time.time() + 30,
        )
        j.set_state(ORDER, PaymentStatus.PROCESSING)
        yield j


@pytest.fixture
def receiver(journal: Journal) -> Iterator[tuple[NotificationReceiver, list[ReceiverResult]]]:
    seen: list[ReceiverResult] = []
    with NotificationReceiver(journal, credentials=CREDS, signers=SIGNERS, on_result=seen.append) as r:
        yield r, seen


def post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(url + "/notify", content=body, headers={"Content-Type": "application/json"}, timeout=5)


def test_applied_once_then_duplicates_and_stale_ones_change_nothing(receiver: Any, journal: Journal) -> None:
    r, seen = receiver
    success = notification("SUCCESS")
    answers = [post(r.url, success), post(r.url, success), post(r.url, notification("PROCESSING"))]
    answers.append(post(r.url, notification("FAILED")))
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert {a.text for a in answers} == {"SUCCESS"}
    assert [s.outcome for s in seen] == ["applied", "duplicate", "duplicate", "duplicate"]
    record = journal.order(ORDER)
    assert record is not None and record.status is PaymentStatus.SUCCESS and record.transaction_id == "TX-1"
    assert [t.status for t in journal.transitions(ORDER)].count(PaymentStatus.SUCCESS) == 1


def test_out_of_order_success_still_wins(receiver: Any, journal: Journal) -> None:
    r, seen = receiver
    assert post(r.url, notification("FAILED")).status_code == 200
    assert post(r.url, notification("SUCCESS")).status_code == 200  # a charge is never lost
    assert [s.outcome for s in seen] == ["applied", "applied"]
    record = journal.order(ORDER)
    assert record is not None and record.status is PaymentStatus.SUCCESS


@pytest.mark.parametrize(
    ("body", "status", "why"),
    [
        (notification("SUCCESS", salt="wrong-salt"), 401, "signature does not verify"),
        (notification("SUCCESS")[:-20], 400, "not JSON"),
        (notification("SUCCESS", order="someone-elses-order"), 404, "not in the journal"),
        (notification("SUCCESS", amount="99.000000"), 404, "says 99"),
        (notification("SUCCESS", kind="REFUND", merchantRefundId="rf-unknown"), 404, "rf-unknown"),
        (
            json.dumps({k: v for k, v in json.loads(notification("SUCCESS")).items() if k != "signType"}).encode(),
            401,
            "notification is unsigned (no signType or sign); accepted: signed with MD5, SHA256",
        ),
        (notification("SUCCESS", currency=156), 400, "has currency 156, which is not text; accepted: an ISO 4217"),
        (notification("SUCCESS", amount="1" * 5000), 400, "… (5002 characters), which is not a plain decimal amount"),
        (notification("SUCCESS", order="o" * 9000), 400, "9000 characters long; the gateway's ids are at most 64"),
    ],
    ids=[
        "bad-signature",
        "truncated",
        "unknown-order",
        "other-amount",
        "unknown-refund",
        "unsigned",
        "currency-not-text",
        "huge-amount-cut",
        "huge-order-id",
    ],
)
def test_rejected_notifications_get_a_non_2xx(
    receiver: Any, journal: Journal, body: bytes, status: int, why: str
) -> None:
    r, seen = receiver
    answer = post(r.url, body)
    assert answer.status_code == status and answer.text == "FAIL"
    assert why in seen[0].error and len(seen[0].error) < 400
    record = journal.order(ORDER)
    assert record is not None and record.status is PaymentStatus.PROCESSING


def test_tampered_body_is_rejected(receiver: Any, journal: Journal) -> None:
    r, _ = receiver
    message = json.loads(notification("FAILED"))
    message["bizContent"] = message["bizContent"].replace("FAILED", "SUCCESS")
    assert post(r.url, json.dumps(message).encode()).status_code == 401
    message = json.loads(notification("SUCCESS"))
    message["accId"] = "another-account"
    message = signed({k: v for k, v in message.items() if k != "sign"}, CREDS.salt, SHA256)
    assert post(r.url, json.dumps(message).encode()).status_code == 401


def test_refund_notifications_settle_the_refund_once(receiver: Any, journal: Journal) -> None:
    r, seen = receiver
    journal.set_state(ORDER, PaymentStatus.SUCCESS)
    journal.begin_refund(ORDER, "rf-1", Decimal("4.00"))
    refund = notification("SUCCESS", kind="REFUND", merchantRefundId="rf-1", amount="4.000000")
    assert [post(r.url, refund).status_code for _ in range(2)] == [200, 200]
    assert [s.outcome for s in seen] == ["applied", "duplicate"]
    record = journal.order(ORDER)
    assert record is not None and record.refunded == Decimal("4.00") and record.refunds_pending == 0


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sandbox_notifications_duplicated_and_out_of_order(tmp_path: Path) -> None:
    host = PluginHost(Settings())
    with SandboxServer(wallets=host.wallets.values(), signers=host.signers, notify_schedule=[0.05, 0.05]) as srv:
        c = srv.credentials
        srv.faults.duplicate_notifications = FaultSwitch()
        srv.faults.out_of_order_notifications = FaultSwitch(seconds=0.2)
        creds = Credentials(c.acc_id, c.client_id, c.salt)
        seen: list[ReceiverResult] = []
        with (
            Journal(tmp_path / "j.sqlite3") as journal,
            NotificationReceiver(journal, credentials=creds, signers=host.signers, on_result=seen.append) as receiver,
        ):
            s = Settings(
                gateway=srv.base_url,
                acc_id=c.acc_id,
                client_id=c.client_id,
                salt=c.salt,
                poll_interval=0.05,
                deadline=2.0,
                journal=str(tmp_path / "j.sqlite3"),
                notification_url=receiver.url + "/notify",
            )
            with Terminal(s, host=PluginHost(s), journal=journal) as t:
                paid = t.pay("10.00", "CNY", code=host.wallets["Wechat-Offline"].patterns[0].make("001"))
                declined = t.pay("3.00", "CNY", code=host.wallets["Wechat-Offline"].patterns[0].make("002"))
            wait_for(lambda: len(seen) >= 4)
            wait_for(lambda: all(d.delivered for d in srv.notifications()))
            assert {s.http_status for s in seen} == {200}
            outcomes = [s.outcome for s in seen]
            assert len(outcomes) == 4 and set(outcomes) <= {"applied", "duplicate"}
            assert outcomes.count("applied") <= 2  # at most once per order; usually the lane knew already
            assert journal.order(paid.merchant_transaction_id).status is PaymentStatus.SUCCESS  # type: ignore[union-attr]
            assert journal.order(declined.merchant_transaction_id).status is PaymentStatus.FAILED  # type: ignore[union-attr]


def test_paycode_notifications_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    env.update(
        PAYCODE_ACC_ID=CREDS.acc_id,
        PAYCODE_CLIENT_ID=CREDS.client_id,
        PAYCODE_SALT=CREDS.salt,
        PAYCODE_JOURNAL=str(tmp_path / "j.sqlite3"),
    )
    with Journal(tmp_path / "j.sqlite3") as j:
        j.begin_order(
            ORDER,
            money=Money("10.00", "CNY"),
            wallet="Wechat-Offline",
            code_masked="1300****0001",
            lane="lane-1",
            deadline_at=time.time(),
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "paycode", "notifications", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    killer = threading.Timer(20, proc.kill)
    killer.start()
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        assert url.startswith("http://127.0.0.1:")
        assert post(url, notification("SUCCESS", salt="wrong")).status_code == 401
        assert post(url, notification("SUCCESS")).status_code == 200
        lines = [json.loads(proc.stdout.readline()) for _ in range(2)]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        killer.cancel()
    assert [(e["event"], e["outcome"], e["http_status"]) for e in lines] == [
        ("notification", "rejected", 401),
        ("notification", "applied", 200),
    ]
    assert proc.returncode == 0, err
    assert CREDS.salt not in out + err + json.dumps(lines)
