"""A lane's own recovery at start takes claims as ``paycode recover --all-lanes`` does, on both backends: an order
of its lane that another recoverer (another process) holds is skipped and reported unresolved; the lane's other
orders are settled, and the skipped one is settled once the claim is released."""

from __future__ import annotations

from pathlib import Path

import pytest
from paycode import Terminal
from paycode.sandbox.server import SandboxServer
from paycode.settings import Settings

from ..conftest import lane_environment
from .test_recover_all_lanes import crashed_lanes, held


@pytest.fixture
def sandbox(
    sandbox: SandboxServer, journal_setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SandboxServer:
    """The sandbox gateway (tests/conftest.py), with the environment of a lane pointed at it and this journal."""
    return lane_environment(monkeypatch, sandbox, journal_setting, tmp_path)


def test_a_lane_recovering_at_start_skips_an_order_another_recoverer_holds(
    sandbox: SandboxServer, journal_setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed_lanes(journal_setting, {"a-1": "lane-1", "a-2": "lane-1", "b-1": "lane-2"})
    monkeypatch.setenv("PAYCODE_LANE", "lane-1")
    with held(journal_setting, "a-2"), Terminal(Settings.load()) as terminal:
        first = [(r.order_id, r.action, r.resolved) for r in terminal.recovered]
    assert first == [("a-1", "recorded", True), ("a-2", "skipped", False)]  # b-1 is lane-2's: not touched
    skipped = next(r for r in terminal.recovered if r.order_id == "a-2")
    assert "another recoverer" in skipped.reason

    with Terminal(Settings.load()) as terminal:  # the claim is released: the next start settles it
        assert [(r.order_id, r.action, r.resolved) for r in terminal.recovered] == [("a-2", "recorded", True)]
    assert sorted(o.charged for o in sandbox.orders()) == [1, 1, 1]
