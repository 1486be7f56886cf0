"""What every conformance suite shares: the plugin under test, and hosts that hold it alone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import pytest

from ..host import PluginHost
from ._hosts import plugin_host

__all__ = ["PluginSuite"]


class PluginSuite:
    """Base of the conformance suites. A subclass names the plugin under test in one of two ways:

    - ``plugin = paycode_acme``: the plugin object (a module or an instance with hook implementations);
    - ``entry_point = "acme"``: its entry point in the group ``paycode``, loaded from the installed
      distribution (this also checks the distribution's ``pyproject.toml``);
    - ``builtin = "signers"``: a built-in plugin of paycode (paycode's own tests).
    """

    plugin: ClassVar[object | None] = None
    entry_point: ClassVar[str | None] = None
    builtin: ClassVar[str | None] = None

    @classmethod
    def names_its_plugin(cls) -> bool:
        return [cls.plugin, cls.entry_point, cls.builtin].count(None) == 2

    @classmethod
    def host(cls, *, extra: Iterable[object] = (), **settings: Any) -> PluginHost:
        """A new host with the built-in plugins, the plugin under test and ``extra`` plugin objects.

        ``settings`` are :class:`~paycode.settings.Settings` fields; the environment is not read.
        """
        if not cls.names_its_plugin():
            pytest.fail(
                f"{cls.__name__}: name the plugin under test: set `plugin = <your plugin module>` "
                '(or `entry_point = "<entry point name>"`), exactly one of them',
                pytrace=False,
            )
        return plugin_host(cls.plugin, entry_point=cls.entry_point, extra=extra, **settings)

    @classmethod
    def describe_problems(cls, host: PluginHost) -> str:
        return "; ".join(str(p) for p in host.problems) or "none"

    def test_the_plugin_loads_without_problems(self) -> None:
        host = self.host()
        assert not host.problems, f"loading the plugin recorded problems: {self.describe_problems(host)}"
        names = [info["name"] for info in host.plugin_info()]
        assert self.builtin is None or self.builtin in names, f"paycode has no built-in plugin {self.builtin!r}"
        if self.entry_point is not None:
            assert self.entry_point in names, (
                f"no installed distribution has an entry point {self.entry_point!r} in the group 'paycode' "
                f"(loaded plugins: {', '.join(names)}); is the distribution installed?"
            )
