"""Plugin hosts that hold one plugin under test, and a recorder of the events a host emits."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from ..hookspecs import hookimpl
from ..host import PluginHost
from ..models import Event
from ..settings import Settings

__all__ = ["EventRecorder", "plugin_host"]


class EventRecorder:
    """A plugin that keeps every event a host emits (``paycode_payment_event``), in order.

    Events may come from any thread (a scanner's supervisor, asyncio lanes); :meth:`wait_for` lets a
    test wait until one of a kind has arrived.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = threading.Condition()

    @hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    def kinds(self, order_id: str | None = None) -> list[str]:
        """The kinds of the events so far, in order; only those of ``order_id`` when it is given."""
        return [event.kind for event in self.events if order_id is None or event.order_id == order_id]

    def of_kind(self, kind: str) -> list[Event]:
        """The events of one kind, in order."""
        return [event for event in self.events if event.kind == kind]

    def wait_for(self, kind: str, timeout: float) -> Event | None:
        """The first event of ``kind``, waiting up to ``timeout`` seconds for it to arrive; None when none came."""
        with self._arrived:
            self._arrived.wait_for(lambda: any(event.kind == kind for event in self.events), timeout)
            return next((event for event in self.events if event.kind == kind), None)

    def clear(self) -> None:
        with self._arrived:
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
