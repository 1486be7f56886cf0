"""The pytest fixtures of the ``paycode`` pytest plugin. paycode's heavier modules load inside them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..host import PluginHost
    from ..terminal import Terminal
    from ._hosts import EventRecorder

__all__ = ["paycode_events", "paycode_host", "paycode_sandbox_terminal"]


def _settings(tmp_path: Path, settings: dict[str, Any]) -> Any:
    from ..settings import Settings

    settings.setdefault("journal", str(tmp_path / "paycode-journal.sqlite3"))
    return Settings(**settings)


@pytest.fixture
def paycode_host(tmp_path: Path) -> Callable[..., PluginHost]:
    """``paycode_host(*plugins, entry_points=False, **settings)``: a new PluginHost.

    It holds the built-in plugins and ``plugins`` (plugin objects), plus the installed
    distributions when ``entry_points`` is true; ``settings`` are Settings fields (the
    journal defaults to a file in the test's temporary folder; the environment is not read).
    """

    def make(*plugins: object, entry_points: bool = False, **settings: Any) -> PluginHost:
        from ..host import PluginHost

        return PluginHost(_settings(tmp_path, settings), load_entrypoints=entry_points, plugins=plugins)

    return make


@pytest.fixture
def paycode_events() -> EventRecorder:
    """An EventRecorder: pass it among a host's plugins, then read ``.events`` / ``.kinds()``."""
    from ._hosts import EventRecorder

    return EventRecorder()


@pytest.fixture
def paycode_sandbox_terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """``paycode_sandbox_terminal(*plugins, entry_points=False, **settings)``: a Terminal on the embedded sandbox.

    The gateway is the sandbox (docs/sandbox.md: the code's last three digits pick the
    scenario), the journal a file in the test's temporary folder. Every terminal made is
    closed after the test.
    """
    from ..host import PluginHost
    from ..terminal import Terminal

    made: list[Terminal] = []

    def make(*plugins: object, entry_points: bool = False, **settings: Any) -> Terminal:
        settings["gateway"] = "sandbox"
        host = PluginHost(_settings(tmp_path, settings), load_entrypoints=entry_points, plugins=plugins)
        terminal = Terminal(host=host)
        made.append(terminal)
        return terminal

    yield make
    for terminal in made:
        terminal.close()
