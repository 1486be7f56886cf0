"""Lanes with a real scanner path (a pseudo-terminal serial port): scans, cancels, a scanner unplugged, draining."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from paycode.journal import Journal

from tests.bridge.helpers import Running, wechat

pytest.importorskip("paycode_serial", reason="the serial scanner plugin (contrib_scanners/serial) is not installed")
from paycode_serial.testing import PtyScanner

Serve = Callable[..., Running]


@pytest.fixture
def pty() -> Iterator[PtyScanner]:
    scanner = PtyScanner()
    yield scanner
    scanner.close()


def lane_state(run: Running, name: str = "lane-1") -> dict[str, object]:
    lanes = run.http.get("/v1/lanes").json()["lanes"]
    return next(lane for lane in lanes if lane["name"] == name)  # type: ignore[no-any-return]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def test_the_lanes_scanner_supplies_the_code(serve: Serve, pty: PtyScanner) -> None:
    run = serve({"front": f"serial://{pty.path}?suffix=cr"})
    wait_for(lambda: lane_state(run, "front")["scanner_state"] == "open")
    answer = run.pay(reference="scan-1")
    assert answer.status_code == 202 and answer.json()["state"] == "waiting_for_scan"
    assert lane_state(run, "front")["busy"] is True
    pty.write(wechat("001").encode() + b"\r")
    paid = run.wait_state("scan-1")
    assert paid["state"] == "paid" and paid["code"] == "1300**********0001"
    front = lane_state(run, "front")
    assert front["busy"] is False and front["last_scan_at"] is not None
    assert front["counts"] == {"cancelled": 0, "closed": 0, "declined": 0, "failed": 0, "paid": 1, "unresolved": 0}
    metrics = httpx.get(f"{run.url}/metrics").text
    assert "paycode_bridge_scan_to_request_seconds_count 1.0" in metrics
    assert 'paycode_bridge_lane_busy{lane="front"} 0.0' in metrics


def test_a_scan_while_no_payment_waits_is_never_charged(serve: Serve, pty: PtyScanner) -> None:
    run = serve({"front": f"serial://{pty.path}?suffix=cr"})
    wait_for(lambda: lane_state(run, "front")["scanner_state"] == "open")
    pty.write(wechat("001").encode() + b"\r")
    wait_for(lambda: any(e.data["event"] == "scan.ignored" for e in run.bridge.hub.events()))
    assert run.http.get("/v1/payments").json() == {"payments": []}
    # the next payment waits for a new scan: the old one is not kept for it
    assert run.pay(reference="later-1").status_code == 202
    time.sleep(0.3)
    assert run.http.get("/v1/payments/later-1").json()["state"] == "waiting_for_scan"
    assert run.http.post("/v1/payments/later-1/cancel").status_code == 200


def test_cancel_while_waiting_for_the_scan_is_immediate(serve: Serve, pty: PtyScanner) -> None:
    run = serve({"front": f"serial://{pty.path}?suffix=cr"})
    assert run.pay(reference="c-1").status_code == 202
    started = time.monotonic()
    answer = run.http.post("/v1/payments/c-1/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "cancelled" and answer.json()["final"] is True
    assert time.monotonic() - started < 5  # not the scan timeout (30 s)
    assert error_code(run.http.post("/v1/payments/c-1/cancel")) == (409, "already_final")
    pty.write(wechat("001").encode() + b"\r")  # the shopper's code after the cancel charges nothing
    time.sleep(0.3)
    with Journal(run.bridge.settings.journal) as journal:
        assert journal.orders() == []
    assert lane_state(run, "front")["busy"] is False


def test_no_scan_in_time_fails_without_sending(serve: Serve, pty: PtyScanner) -> None:
    run = serve({"front": f"serial://{pty.path}?suffix=cr"}, scan_timeout=0.3)
    assert run.pay(reference="t-1").status_code == 202
    failed = run.wait_state("t-1")
    assert failed["state"] == "failed" and failed["error"]["code"] == "ScanTimeout"


def test_cancel_while_the_shopper_confirms_closes_the_order(serve: Serve) -> None:
    run = serve(deadline=6.0)
    assert run.pay(code=wechat("004"), reference="p-1").status_code == 202
    wait_for(lambda: run.http.get("/v1/payments/p-1").json()["status"] == "PROCESSING")
    answer = run.http.post("/v1/payments/p-1/cancel")
    assert answer.status_code == 202, answer.text
    assert answer.json()["cancel_requested"] is True and answer.json()["final"] is False

    def closing() -> bool:
        return any(
            e.data["event"] == "payment.close" and e.data.get("reason") == "cancelled" for e in run.bridge.hub.events()
        )

    wait_for(closing, timeout=3.0)  # the close path starts now, not at the 6 s deadline
    closed = run.wait_state("p-1", timeout=30)
    assert closed["state"] == "closed", closed


def test_a_scanner_unplugged_shows_as_gone(serve: Serve, pty: PtyScanner) -> None:
    run = serve({"front": f"serial://{pty.path}?suffix=cr"})
    wait_for(lambda: lane_state(run, "front")["scanner_state"] == "open")
    pty.unplug()
    wait_for(lambda: lane_state(run, "front")["scanner_state"] in ("gone", "reopening"))
    assert lane_state(run, "front")["scanner_error"]


def test_two_lanes_pay_side_by_side(serve: Serve) -> None:
    run = serve({"a": None, "b": None})
    assert run.pay(code=wechat("003"), reference="a-1", lane="a").status_code == 202
    assert run.pay(code=wechat("003"), reference="b-1").status_code == 202  # the first idle lane
    assert run.http.get("/v1/payments/b-1").json()["lane"] == "b"
    assert error_code(run.pay(code=wechat("001"))) == (409, "lane_busy")
    assert run.wait_state("a-1")["state"] == run.wait_state("b-1")["state"] == "paid"


def test_draining_refuses_new_payments_and_finishes_the_ones_under_way(serve: Serve, pty: PtyScanner) -> None:
    run = serve({"a": None, "b": f"serial://{pty.path}?suffix=cr"}, deadline=1.0)
    assert run.pay(code=wechat("004"), reference="d-1", lane="a").status_code == 202
    assert run.pay(reference="d-2", lane="b").status_code == 202  # waits for a scan
    run.wait_state("d-1", "processing")
    run.server.drain_in_background()
    assert error_code(run.pay(code=wechat("001"), lane="a")) == (503, "draining")
    assert run.http.get("/healthz").json()["draining"] is True
    run.server.stop()
    with pytest.raises(httpx.TransportError):
        run.http.get("/healthz", timeout=2)
    with Journal(run.bridge.settings.journal) as journal:
        order = journal.order("d-1")
        assert order is not None and order.status.value in ("CLOSED", "SUCCESS"), order
        assert journal.order("d-2") is None
    assert run.bridge.payment("d-2")["state"] == "cancelled"
    assert run.bridge.payment("d-1")["final"] is True


def error_code(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def test_lanes_show_the_scanners_health_and_statistics(serve: Serve, tmp_path: Path) -> None:
    # the port is a symlink to a pty, so the scanner can be unplugged and plugged in again at the same path
    port = tmp_path / "ttyScanner"
    first = PtyScanner()
    port.symlink_to(first.path)
    run = serve({"front": f"serial://{port}?suffix=cr&max_length=32", "kiosk": None})
    wait_for(lambda: lane_state(run, "front")["scanner_state"] == "open")
    assert lane_state(run, "kiosk")["scanner_stats"] is None
    stats = scanner_stats(run)
    assert (stats["state"], stats["healthy"], stats["scans"], stats["discarded_total"]) == ("open", True, 0, 0)
    assert stats["opened_at"] is not None and stats["last_scan"] is None

    assert run.pay(reference="h-1", lane="front").status_code == 202
    first.write(wechat("001").encode() + b"\r")
    assert run.wait_state("h-1")["state"] == "paid"
    stats = scanner_stats(run)
    assert stats["scans"] == 1 and stats["last_scan"] is not None
    assert stats["scanner"] == f"serial://{port}?suffix=cr&max_length=32"

    first.write(b"\x1b[A\r" + b"5" * 40 + b"\r")  # line noise and a frame above max_length: both discarded
    wait_for(lambda: scanner_stats(run)["discarded_total"] == 2)
    stats = scanner_stats(run)
    assert stats["discarded"] == {"garbage": 1, "overlong": 1} and stats["scans"] == 1
    assert "max_length=32" in stats["last_error"]

    first.unplug()
    wait_for(lambda: scanner_stats(run)["losses"] >= 1)
    assert scanner_stats(run)["state"] == "waiting" and scanner_stats(run)["healthy"] is False
    assert lane_state(run, "front")["scanner_state"] in ("gone", "reopening")
    second = PtyScanner()
    try:
        port.unlink()
        port.symlink_to(second.path)  # plugged in again
        wait_for(lambda: scanner_stats(run)["reconnects"] == 1)
        assert lane_state(run, "front")["scanner_state"] == "open" and scanner_stats(run)["healthy"] is True
        assert run.pay(reference="h-2", lane="front").status_code == 202
        second.write(wechat("002").encode() + b"\r")
        assert run.wait_state("h-2")["state"] == "declined"
        stats = scanner_stats(run)
        assert (stats["scans"], stats["discarded_total"], stats["reconnects"]) == (2, 2, 1)
        metrics = httpx.get(f"{run.url}/metrics").text
        assert 'paycode_bridge_scanner_reconnects_total{lane="front"} 1.0' in metrics
        # the answer is what /openapi.json promises (the schemathesis run has no lane with a scanner)
        document = httpx.get(f"{run.url}/openapi.json").json()
        lane_list = {"$ref": "#/components/schemas/LaneList", "components": document["components"]}
        jsonschema_rs.Draft202012Validator(lane_list).validate(run.http.get("/v1/lanes").json())
    finally:
        second.close()


def scanner_stats(run: Running, name: str = "front") -> dict[str, Any]:
    stats = lane_state(run, name)["scanner_stats"]
    assert isinstance(stats, dict)
    return stats
