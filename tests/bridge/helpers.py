"""Helpers of the bridge tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import time
from typing import Any

import attrs
import httpx
from paycode.bridge import Bridge, BridgeServer

TOKEN = "test-token-0123456789abcdef"
FAST = {"poll_interval": 0.1, "deadline": 3.0}


@attrs.define
class Running:
    bridge: Bridge
    server: BridgeServer
    url: str
    token: str
    http: httpx.Client

    def wait_state(self, reference: str, *states: str, timeout: float = 15.0) -> dict[str, Any]:
        """GET the payment until its state is one of ``states`` (any final state when none given)."""
        end = time.monotonic() + timeout
        while True:
            answer = self.http.get(f"/v1/payments/{reference}")
            assert answer.status_code == 200, answer.text
            payment: dict[str, Any] = answer.json()
            if (payment["state"] in states) if states else payment["final"]:
                return payment
            if time.monotonic() > end:
                raise AssertionError(f"payment {reference} stayed {payment['state']}, wanted {states or 'final'}")
            time.sleep(0.02)

    def pay(self, **body: Any) -> httpx.Response:
        return self.http.post("/v1/payments", json={"amount": "12.50", "currency": "CNY", **body})

    def ticket(self) -> str:
        answer = self.http.post("/v1/tickets", json={})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["ticket"])


def wechat(ending: str) -> str:
    """The sandbox's WeChat test code for a scenario ending (001 success, 002 decline, 003 password, …)."""
    return "13" + "0" * (16 - len(ending)) + ending
