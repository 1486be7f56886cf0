"""The sandbox's fault switches, each over real HTTP: what the client sees, and that nobody is charged twice."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from paycode.errors import UsageError
from paycode.models import CodePattern, PollingPolicy, WalletType
from paycode.sandbox import FAULTS, Faults, FaultSwitch, SandboxServer, parse_fault
from paycode.sandbox.caller import V4Caller

WECHAT = WalletType("Wechat-Offline", [CodePattern([18], ["13"])], {"CNY"}, PollingPolicy(5, 30))
PAY, QUERY = "/v4/payment/unifiedPay", "/v4/payment/query"
SUCCESS_CODE = WECHAT.patterns[0].make("001")


def pay_biz(request: str = "req-1", scan: str = SUCCESS_CODE) -> dict[str, Any]:
    return {
        "captureDelayHours": 0,
        "amount": Decimal("8.80"),
        "currency": "CNY",
        "requestId": request,
        "merchantTransactionId": "order-1",
        "paymentMethod": {"type": "Wechat-Offline", "scanCodeId": scan},
    }


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(wallets=[WECHAT], notify_schedule=()) as server:
        yield server


@pytest.fixture
def caller(srv: SandboxServer) -> Iterator[V4Caller]:
    with V4Caller(srv.base_url, srv.credentials, timeout=2.0) as c:
        yield c


def charged(srv: SandboxServer) -> int:
    view = srv.order("order-1")
    return view.charged if view else 0


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def retry_gets_success(srv: SandboxServer) -> None:
    """The lane's recovery: the same requestId again gets the stored answer; still one charge."""
    with V4Caller(srv.base_url, srv.credentials) as c:
        answer = c.call(PAY, pay_biz())
    assert answer.verified and answer.biz["status"] == "SUCCESS"
    assert charged(srv) == 1 and srv.charges_for(SUCCESS_CODE) == 1


# ---------------------------------------------------------------------------- before the commit


def test_drop_before_commit_commits_nothing(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.drop_before_commit = FaultSwitch(times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        caller.call(PAY, pay_biz())
    assert srv.orders() == []
    assert srv.faults.drop_before_commit is None  # spent
    retry_gets_success(srv)


def test_drop_before_commit_can_hold_the_connection_until_the_client_times_out(srv: SandboxServer) -> None:
    srv.faults.drop_before_commit = FaultSwitch(seconds=1.0)
    with V4Caller(srv.base_url, srv.credentials, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.call(PAY, pay_biz())
    assert srv.orders() == []


def test_http_error_answers_5xx_without_committing(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.set("http_error", status=503, times=1)
    response = caller.post(PAY, caller.envelope(pay_biz()))
    assert response.status_code == 503 and "sandbox fault http_error" in response.text
    assert srv.orders() == []
    retry_gets_success(srv)


def test_delay_holds_the_request_before_processing_it(srv: SandboxServer) -> None:
    srv.faults.delay = FaultSwitch(seconds=0.5, times=1)
    with V4Caller(srv.base_url, srv.credentials, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.call(PAY, pay_biz())
    # the request reached the gateway: it is processed once the delay is over, client or no client
    assert wait_until(lambda: charged(srv) == 1)
    retry_gets_success(srv)


def test_refuse_closes_the_listening_socket_until_switched_back(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.refuse = True
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", srv.port)) != 0  # refused: nothing listens
    with pytest.raises(httpx.ConnectError):
        caller.call(PAY, pay_biz())
    assert srv.orders() == []
    srv.faults.refuse = None
    retry_gets_success(srv)


def test_refuse_with_seconds_switches_itself_back(srv: SandboxServer) -> None:
    srv.faults.set("refuse", seconds=0.2)

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", srv.port)) == 0

    assert not listening()
    assert wait_until(listening)
    assert srv.faults.refuse is None
    retry_gets_success(srv)


def test_refuse_set_before_start_is_honoured() -> None:
    server = SandboxServer(wallets=[WECHAT], notify_schedule=())
    server.faults.refuse = True
    with server:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", server.port)) != 0
        server.faults.refuse = None
        retry_gets_success(server)


# ---------------------------------------------------------------------------- after the commit


def test_drop_after_commit_charges_but_does_not_answer(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.drop_after_commit = FaultSwitch(path=PAY, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        caller.call(PAY, pay_biz())
    assert charged(srv) == 1
    retry_gets_success(srv)


def test_drop_after_commit_with_seconds_looks_like_a_timeout(srv: SandboxServer) -> None:
    srv.faults.drop_after_commit = FaultSwitch(seconds=1.0, times=1)
    with V4Caller(srv.base_url, srv.credentials, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.call(PAY, pay_biz())
    assert charged(srv) == 1
    retry_gets_success(srv)


def test_http_error_after_commit(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.http_error = FaultSwitch(status=502, after_commit=True, times=1)
    assert caller.post(PAY, caller.envelope(pay_biz())).status_code == 502
    assert charged(srv) == 1
    retry_gets_success(srv)


def test_delay_after_commit(srv: SandboxServer) -> None:
    srv.faults.delay = FaultSwitch(seconds=1.0, after_commit=True, times=1)
    with V4Caller(srv.base_url, srv.credentials, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.call(PAY, pay_biz())
    assert charged(srv) == 1
    retry_gets_success(srv)


def test_bad_signature(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.bad_signature = True
    answer = caller.call(PAY, pay_biz())
    assert not answer.verified and answer.biz["status"] == "SUCCESS"
    assert len(answer.envelope["sign"]) == 64
    assert not caller.call(QUERY, {"merchantTransactionId": "order-1"}).verified  # on until switched off
    srv.faults.clear()
    assert charged(srv) == 1
    retry_gets_success(srv)


def test_truncated_body(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.truncated_body = FaultSwitch(times=1)
    response = caller.post(PAY, caller.envelope(pay_biz()))
    assert response.status_code == 200 and response.text.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert charged(srv) == 1
    retry_gets_success(srv)


# ---------------------------------------------------------------------------- limits


def test_a_switch_limited_to_a_path_spares_the_others(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.drop_after_commit = FaultSwitch(path=QUERY)
    assert caller.call(PAY, pay_biz()).biz["status"] == "SUCCESS"
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            caller.call(QUERY, {"merchantTransactionId": "order-1"})
    assert srv.faults.drop_after_commit is not None
    assert charged(srv) == 1


def test_a_switch_limited_to_n_requests_turns_itself_off(srv: SandboxServer, caller: V4Caller) -> None:
    srv.faults.set("bad_signature", times=2)
    verified = [caller.call(QUERY, {"merchantTransactionId": "nope"}).verified for _ in range(4)]
    assert verified == [False, False, True, True]
    assert srv.faults.active() == {}


def test_setting_a_switch_again_restarts_its_count() -> None:
    faults = Faults()
    faults.set("delay", times=2)
    assert faults.take("delay", PAY) is not None
    faults.set("delay", times=2)
    assert faults.take("delay", PAY) is not None and faults.take("delay", PAY) is not None
    assert faults.take("delay", PAY) is None


def test_slow_seconds_is_settable_at_run_time(srv: SandboxServer) -> None:
    srv.slow_seconds = 1.0
    with V4Caller(srv.base_url, srv.credentials, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.call(PAY, pay_biz(scan=WECHAT.patterns[0].make("006")))
    view = srv.order("order-1")
    assert view is not None and view.status == "SUCCESS" and view.charged == 1


# ---------------------------------------------------------------------------- switch values and the CLI spec


def test_parse_fault_specs() -> None:
    assert parse_fault("drop_after_commit:path=/v4/payment/unifiedPay,times=1") == (
        "drop_after_commit",
        FaultSwitch(path="/v4/payment/unifiedPay", times=1),
    )
    assert parse_fault("http_error:status=503,after_commit=yes") == (
        "http_error",
        FaultSwitch(status=503, after_commit=True),
    )
    assert parse_fault("delay:seconds=0.5") == ("delay", FaultSwitch(seconds=0.5))
    assert parse_fault("bad_signature") == ("bad_signature", FaultSwitch())


@pytest.mark.parametrize(
    "spec, message",
    [
        ("bogus", "unknown fault 'bogus'; known: delay, refuse"),
        ("delay:seconds", "write key=value"),
        ("delay:colour=red", "key one of path, times, seconds, status, after_commit"),
        ("delay:times=two", "'two' is not a valid times"),
        ("delay:times=0", "times=0: give a whole number of requests, 1 or more"),
        ("delay:seconds=-1", "seconds=-1.0"),
        ("http_error:status=404", "give an HTTP 5xx status"),
        ("delay:path=v4/payment/query", "give a URL path"),
    ],
)
def test_bad_fault_specs(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_fault(spec)


def test_refuse_cannot_be_limited_to_requests() -> None:
    faults = Faults()
    with pytest.raises(UsageError, match="refuse cannot be limited to a path or a number of requests"):
        faults.refuse = FaultSwitch(times=1)
    with pytest.raises(UsageError, match="unknown fault"):
        faults.set("reboot")
    with pytest.raises(UsageError, match="None, True or a FaultSwitch"):
        faults.delay = 3  # type: ignore[assignment]


def test_every_fault_is_a_switch() -> None:
    faults = Faults()
    for name in FAULTS:
        setattr(faults, name, True)
    assert set(faults.active()) == set(FAULTS)
    faults.clear()
    assert faults.active() == {}
