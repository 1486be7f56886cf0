"""The notification receiver mounted in the bridge at /notifications: the gateway's signed notifications are
verified and applied to the bridge's journal, reported on the event stream, and need no bridge token."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from paycode import Settings
from paycode.bridge import Bridge, BridgeServer
from paycode.host import PluginHost
from paycode.sandbox import SandboxServer

from tests.bridge.helpers import TOKEN, wechat


@pytest.fixture
def gateway() -> Iterator[SandboxServer]:
    host = PluginHost(Settings())
    with SandboxServer(wallets=host.wallets.values(), signers=host.signers, notify_schedule=[0.05]) as srv:
        yield srv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_notifications_reach_the_bridge_and_are_applied(gateway: SandboxServer, tmp_path: Path) -> None:
    port = free_port()
    c = gateway.credentials
    settings = Settings(
        gateway=gateway.base_url,
        acc_id=c.acc_id,
        client_id=c.client_id,
        salt=c.salt,
        journal=str(tmp_path / "journal.sqlite3"),
        notification_url=f"http://127.0.0.1:{port}/notifications",
        poll_interval=0.1,
        deadline=5.0,
    )
    bridge = Bridge.build(settings, {"lane-1": None})
    try:
        server = BridgeServer(bridge, token=TOKEN, port=port, notifications=bridge.notification_app()).start()
        try:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                answer = http.post(
                    "/v1/payments",
                    json={"amount": "6.00", "currency": "CNY", "code": wechat("001"), "reference": "n-1"},
                )
                assert answer.status_code == 202, answer.text
                end = time.monotonic() + 20
                while not any(e.data["event"] == "notification" for e in bridge.hub.events()):
                    assert time.monotonic() < end, f"no notification reached the bridge: {gateway.notifications()}"
                    time.sleep(0.05)
                note = next(e.data for e in bridge.hub.events() if e.data["event"] == "notification")
                assert note["order"] == "n-1" and note["outcome"] in ("applied", "duplicate"), note
                assert note["http_status"] == 200
                assert http.get("/v1/payments/n-1").json()["state"] == "paid"
            # no bridge token on the receiver: the gateway signs; a forged body is rejected by the receiver itself
            forged = httpx.post(f"{server.url}/notifications", json={"bizContent": "{}", "sign": "x"})
            assert 400 <= forged.status_code < 500
        finally:
            server.stop()
    finally:
        bridge.close()
