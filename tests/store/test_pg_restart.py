"""PostgreSQL stopped and restarted in the middle of a payment: while it is down a lane refuses to start a new
payment (a clear error, nothing sent to the gateway); the payment already in flight is followed to its end and
journaled once the database is back; the waker reconnects; afterwards lanes pay as before."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from paycode import Settings, Terminal
from paycode.errors import JournalError
from paycode.host import PluginHost
from paycode.journal import open_journal
from paycode.models import PaymentStatus
from paycode.sandbox import SandboxServer
from paycode.store.pg_journal import PostgresJournal
from paycode.store.tempserver import TempPostgres, find_bin
from paycode.store.wake import PostgresWaker
from paycode.testing import EventRecorder


@pytest.fixture
def own_server() -> Iterator[TempPostgres]:
    """A PostgreSQL server of this test's own (it is stopped and started again)."""
    if find_bin() is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (Debian package: postgresql)")
    with TempPostgres(max_connections=30) as server:
        yield server


def wait_for(predicate: Any, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_a_database_restart_mid_payment(own_server: TempPostgres, base_host: PluginHost, tmp_path: Path) -> None:
    dsn = own_server.create_database("shop")
    with SandboxServer(wallets=base_host.wallets.values(), signers=base_host.signers, password_seconds=3.0) as srv:
        c = srv.credentials
        settings = Settings(
            gateway=srv.base_url, acc_id=c.acc_id, client_id=c.client_id, salt=c.salt, journal=dsn,
            poll_interval=0.3, deadline=40, read_timeout=5, lane="lane-1",
        )  # fmt: skip
        pattern = base_host.wallets["Wechat-Offline"].patterns[0]
        events = EventRecorder()
        host = PluginHost(settings, plugins=[events])
        waker = PostgresWaker(dsn)
        assert waker.connected.wait(10)
        terminal = Terminal(settings, host, waker=waker)
        other_lane = Terminal(attrs.evolve(settings, lane="lane-2"), recover=False)
        result: dict[str, Any] = {}

        def pay() -> None:
            try:
                result["payment"] = terminal.pay("12.50", "CNY", code=pattern.make("1007"), order_id="inflight")
            except BaseException as exc:  # reported by the assertion below
                result["error"] = exc

        payer = threading.Thread(target=pay)
        payer.start()
        with open_journal(dsn) as journal:
            assert wait_for(
                lambda: (r := journal.order("inflight")) is not None and r.status is PaymentStatus.PROCESSING
            )

        own_server.stop("fast")  # the shopper is typing the password; the database goes away
        assert wait_for(lambda: not waker.connected.is_set(), 10)
        with pytest.raises(JournalError) as refused:
            other_lane.pay("3.00", "CNY", code=pattern.make("2001"), order_id="while-down")
        assert str(refused.value).startswith(f"PostgreSQL at 127.0.0.1:{own_server.port} is unreachable")
        assert srv.order("while-down") is None  # nothing was sent

        time.sleep(3.5)  # the shopper confirms meanwhile: the gateway has SUCCESS, the journal is away
        own_server.start()
        payer.join(timeout=60)
        assert not payer.is_alive() and "error" not in result, result
        payment = result["payment"]
        assert payment.status is PaymentStatus.SUCCESS and not payment.unrecorded
        assert waker.connected.wait(15)  # the LISTEN connection is back too

        with open_journal(dsn) as journal:
            record = journal.order("inflight")
            assert record is not None and record.status is PaymentStatus.SUCCESS and not record.unresolved
            assert journal.order("while-down") is None
        assert any(e.data.get("step") == "failed" for e in events.of_kind("payment.journal"))
        assert srv.order("inflight").charged == 1  # type: ignore[union-attr]

        after = other_lane.pay("3.00", "CNY", code=pattern.make("3001"), order_id="after")
        assert after.status is PaymentStatus.SUCCESS
        terminal.close()
        other_lane.close()
        waker.close()


def test_an_unreachable_database_refuses_to_open(own_server: TempPostgres) -> None:
    dsn = own_server.create_database("gone")
    PostgresJournal(dsn).close()
    own_server.stop("fast")
    with pytest.raises(JournalError, match=f"PostgreSQL at 127.0.0.1:{own_server.port} is unreachable"):
        PostgresJournal(dsn, timeout=2)
