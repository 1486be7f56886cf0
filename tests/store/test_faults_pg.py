"""The fault tests of tests/test_faults.py on the PostgreSQL journal: whatever goes wrong on the wire, after the
lane restarts (and recovers) the shopper is charged at most once and the journal agrees with the gateway.
The cases and checks are test_faults' own; only the lane's journal is a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from paycode.host import PluginHost
from paycode.sandbox import SandboxServer

from ..conftest import settings_for
from ..test_faults import (
    LaneFactory,
    test_after_a_fault_and_recovery_money_is_safe,
    test_many_orders_through_intermittent_faults,
)

__all__ = ["test_after_a_fault_and_recovery_money_is_safe", "test_many_orders_through_intermittent_faults"]

#: the sandbox fixture (tests/conftest.py) with test_faults' options
pytestmark = pytest.mark.sandbox(slow_seconds=0.5, notify_schedule=[0.05])


@pytest.fixture
def lanes(sandbox: SandboxServer, tmp_path: Path, pg_dsn: str) -> Iterator[LaneFactory]:
    settings = settings_for(sandbox, tmp_path, deadline=0.4, read_timeout=0.3, connect_timeout=0.3, journal=pg_dsn)
    assert settings.journal == pg_dsn
    factory = LaneFactory(sandbox, settings, PluginHost(settings))
    yield factory
    for t in factory.opened:
        t.close()
