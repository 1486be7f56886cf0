"""Fixtures for the bridge tests: a real bridge served by uvicorn on a free loopback port, in this process.

``serve(lanes=..., **settings)`` builds a :class:`paycode.bridge.Bridge` on the embedded sandbox with a journal in
the test's folder and serves it; the answer (:class:`tests.bridge.helpers.Running`) has ``url``, ``token``, ``http``
(an httpx client sending the token), ``bridge`` and ``server``. Everything is drained and closed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from paycode import Settings
from paycode.bridge import Bridge, BridgeServer

from tests.bridge.helpers import FAST, TOKEN, Running


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(
        lanes: dict[str, str | None] | None = None,
        *,
        origins: tuple[str, ...] = (),
        hosts: tuple[str, ...] = (),
        scan_timeout: float = 30.0,
        plugins: tuple[object, ...] = (),
        **settings: Any,
    ) -> Running:
        values = {"journal": str(tmp_path / f"journal{len(started)}.sqlite3"), "gateway": "sandbox", **FAST}
        values.update(settings)
        bridge = Bridge.build(Settings(**values), lanes or {"lane-1": None}, scan_timeout=scan_timeout, plugins=plugins)
        try:
            server = BridgeServer(bridge, token=TOKEN, port=0, origins=origins, hosts=hosts).start()
        except BaseException:
            bridge.close()
            raise
        http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        running = Running(bridge, server, server.url, TOKEN, http)
        started.append(running)
        return running

    yield start
    for running in started:
        running.http.close()
        running.server.stop()
        running.bridge.close()
