"""``paycode reconcile`` on both backends against the sandbox gateway: differences listed (journal says X, gateway
says Y), the safe ones repaired in the gateway's direction, the rest left for a person; totals by day, wallet and
currency; queries rate-limited; an unreachable gateway leaves orders unchecked (exit 3)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from paycode import PaymentRequest
from paycode.bizcontent import pay_biz, refund_biz
from paycode.cli import main
from paycode.gateway import PAY, REFUND
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.masking import mask_code
from paycode.models import Money, PaymentStatus
from paycode.sandbox.server import SandboxServer
from paycode.settings import Settings
from paycode.store.reconcile import _Pacer

from ..conftest import lane_environment

TODAY = date.today().isoformat()


@pytest.fixture
def sandbox(
    sandbox: SandboxServer, journal_setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SandboxServer:
    """The sandbox gateway (tests/conftest.py), with the environment of a lane pointed at it and this journal."""
    return lane_environment(monkeypatch, sandbox, journal_setting, tmp_path)


class Shop:
    """Writes orders into the journal and (when asked) sends them to the sandbox, to make the journal and the
    gateway agree or differ on purpose."""

    def __init__(self, journal_setting: str) -> None:
        self.settings = Settings.load()
        self.host = PluginHost(self.settings)
        self.journal = open_journal(journal_setting)
        self.client = self.host.gateway()

    def order(
        self,
        order_id: str,
        amount: str,
        *,
        ending: str = "001",
        send: bool = True,
        wallet: str = "Wechat-Offline",
        currency: str = "CNY",
    ) -> None:
        w = self.host.wallets[wallet]
        code = w.patterns[0].make(ending)
        money = Money(amount, currency)
        self.journal.begin_order(
            order_id, money=money, wallet=w.name, code_masked=mask_code(code), lane="lane-1",
            deadline_at=time.time() - 1, gateway=self.settings.gateway,
        )  # fmt: skip
        self.journal.begin_attempt(order_id, f"{order_id}-rq", "pay")
        if send:
            self.client.send(PAY, pay_biz(PaymentRequest(money, w, code, order_id, f"{order_id}-rq")))

    def refund(self, order_id: str, refund_id: str, amount: str, *, send: bool = True) -> None:
        record = self.journal.order(order_id)
        assert record is not None
        self.journal.begin_refund(order_id, refund_id, Decimal(amount))
        if send:
            money = Money(amount, record.currency)
            self.client.send(
                REFUND, refund_biz(merchant_transaction_id=order_id, merchant_refund_id=refund_id, amount=money)
            )

    def close(self) -> None:
        self.client.close()
        self.journal.close()


@pytest.fixture
def shop(sandbox: SandboxServer, journal_setting: str) -> Iterator[Shop]:
    s = Shop(journal_setting)
    yield s
    s.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status = main(["reconcile", "--from", TODAY, "--rate", "200", *argv])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_differences_are_listed_and_the_safe_ones_repaired(shop: Shop, capsys: pytest.CaptureFixture[str]) -> None:
    j = shop.journal
    shop.order("agree", "10.00")
    j.set_state("agree", "SUCCESS")
    shop.order("open", "8.80")  # the lane died: the journal has INIT, the gateway SUCCESS
    shop.order("declined", "3.00", ending="002")  # INIT here, FAILED there
    shop.order("late", "5.00")  # the lane said not paid (CLOSED); the gateway took the money
    j.set_state("late", "CLOSED")
    shop.order("phantom", "7.00", send=False)  # the journal says paid; the gateway never heard of it
    j.set_state("phantom", "SUCCESS")
    shop.order("refunded", "20.00")
    j.set_state("refunded", "SUCCESS")
    shop.refund("refunded", "rf-1", "4.00")  # PENDING here, SUCCESS there
    shop.order("unsent", "1.00", send=False)  # FAILED here, unknown there: agrees (never charged)
    j.set_state("unsent", "FAILED")

    status, rows, err = run(capsys, "--json")
    assert (status, err) == (1, "")
    diffs = {(r["order_id"], r["refund_id"]): r for r in rows if r["kind"] == "difference"}
    got = {k: (r["journal"], r["gateway"], r["repaired"]) for k, r in diffs.items()}
    assert got == {
        ("open", None): ("INIT", "SUCCESS", True),
        ("declined", None): ("INIT", "FAILED", True),
        ("late", None): ("CLOSED", "SUCCESS", True),
        ("phantom", None): ("SUCCESS", "no such order", False),
        ("refunded", "rf-1"): ("PENDING", "SUCCESS", True),
    }
    assert "paycode recover refunds it" in diffs[("late", None)]["detail"]
    assert "check the order at PingPong" in diffs[("phantom", None)]["detail"]
    summary = rows[-1]
    assert summary == {"kind": "summary", "from": TODAY, "to": TODAY, "orders": 7, "refunds": 1, "differences": 5,
                       "repaired": 4, "unrepaired": 1, "unchecked": 0}  # fmt: skip

    # the journal now follows the gateway, and the late success waits for recovery's refund
    assert [j.order(o).status for o in ("open", "declined", "late")] == [  # type: ignore[union-attr]
        PaymentStatus.SUCCESS,
        PaymentStatus.FAILED,
        PaymentStatus.SUCCESS,
    ]
    late = j.order("late")
    assert late is not None and late.abandoned and late.unresolved
    assert "reconciliation" in j.transitions("open")[-1].note
    assert j.refunds("refunded")[0].status == "SUCCESS"

    totals = [r for r in rows if r["kind"] == "total"]
    assert totals == [
        {"kind": "total", "day": TODAY, "wallet": "Wechat-Offline", "currency": "CNY", "orders": 7,
         "paid_orders": 5, "paid": "50.80", "refunded": "4.00", "net": "46.80"},
    ]  # fmt: skip

    status, rows, _ = run(capsys, "--json")  # a second run: only what a person must look at is left
    assert status == 1
    assert [(r["order_id"], r["repaired"]) for r in rows if r["kind"] == "difference"] == [("phantom", False)]


def test_totals_by_wallet_and_currency_as_csv(shop: Shop, capsys: pytest.CaptureFixture[str]) -> None:
    sales = [
        ("1.00", "CNY", "Wechat-Offline"),
        ("2.50", "CNY", "Wechat-Offline"),
        ("3.00", "HKD", "Wechat-Offline"),
        ("4.00", "HKD", "AlipayHK-Offline"),
    ]
    for n, (amount, currency, wallet) in enumerate(sales):
        shop.order(f"o-{n}", amount, currency=currency, wallet=wallet)
        shop.journal.set_state(f"o-{n}", "SUCCESS")
    status = main(["reconcile", "--from", TODAY, "--to", TODAY, "--csv", "--rate", "200"])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["wallet"], r["currency"], r["orders"], r["paid"], r["net"]) for r in rows] == [
        ("AlipayHK-Offline", "HKD", "1", "4.00", "4.00"),
        ("Wechat-Offline", "CNY", "2", "3.50", "3.50"),
        ("Wechat-Offline", "HKD", "1", "3.00", "3.00"),
    ]
    status = main(["reconcile", "--from", "2001-01-01", "--to", "2001-01-31", "--rate", "200"])
    out, _ = capsys.readouterr()
    assert status == 0 and "0 order(s)" in out  # another range: nothing of today's


def test_an_unreachable_gateway_leaves_orders_unchecked(
    shop: Shop, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    shop.order("o-1", "1.00")
    sandbox.faults.refuse = True
    status, rows, _ = run(capsys, "--json")
    assert status == 3
    assert [(r["kind"], r["order_id"]) for r in rows if r["kind"] == "unchecked"] == [("unchecked", "o-1")]
    record = shop.journal.order("o-1")
    assert record is not None and record.status is PaymentStatus.INIT  # nothing assumed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "yesterday"], "is not a date YYYY-MM-DD"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "is before --from"),
        (["--from", "2026-03-01", "--rate", "0"], "queries a second > 0"),
        (["--from", "2026-03-01", "--json", "--csv"], "not allowed with argument"),
        ([], "--from"),
    ],
)
def test_bad_options_exit_2(
    sandbox: SandboxServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["reconcile", *argv]) == 2
    assert message in capsys.readouterr().err


def test_queries_are_paced() -> None:
    now = [100.0]
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    pacer = _Pacer(4.0, sleep=sleep, clock=lambda: now[0])
    for _ in range(9):
        pacer.wait()
        calls.append(now[0])
        now[0] += 0.01  # the query itself
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(g >= 0.25 - 1e-9 for g in gaps)  # never more than 4 a second
    assert calls[-1] - calls[0] == pytest.approx(2.0)  # and no slower than that
