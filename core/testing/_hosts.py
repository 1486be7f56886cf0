"""Plugin hosts that hold one plugin under test, and a recorder of the events a host emits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..hookspecs import hookimpl
from ..host import PluginHost
from ..models import Event
from ..settings import Settings

__all__ = ["EventRecorder", "plugin_host"]


class EventRecorder:
    """A plugin that keeps every event a host emits (``paycode_payment_event``), in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        """The kinds of the events so far, in order."""
        return [event.kind for event in self.events]

    def of_kind(self, kind: str) -> list[Event]:
        """The events of one kind, in order."""
        return [event for event in self.events if event.kind == kind]

    def clear(self) -> None:
        self.events.clear()


def plugin_host(
    plugin: object | None = None,
    *,
    entry_point: str | None = None,
    extra: Iterable[object] = (),
    **settings: Any,
) -> PluginHost:
    """A host with the built-in plugins and one plugin under test, and nothing else installed.

    Give the plugin object itself (a module or an instance holding ``@paycode.hookimpl``
    functions), or ``entry_point``: the name of its entry point in the group ``paycode``,
    loaded from the installed distribution as a merchant's paycode loads it (this also
    checks the ``pyproject.toml``); neither gives the built-in plugins alone. ``extra``
    plugin objects (an :class:`EventRecorder`) are registered after it; ``settings`` are
    :class:`~paycode.settings.Settings` fields (the environment is not read).
    """
    if plugin is not None and entry_point is not None:
        raise TypeError("plugin_host() takes the plugin object or its entry_point name, not both")
    if entry_point is not None:
        settings.setdefault("plugins", (entry_point,))
    plugins = [*([] if plugin is None else [plugin]), *extra]
    return PluginHost(Settings(**settings), load_entrypoints=entry_point is not None, plugins=plugins)
