"""Fault switches: how a test makes the sandbox misbehave, one switch per kind of failure.

Each switch is off (``None``) or a :class:`FaultSwitch`, settable at run time from any
thread::

    srv.faults.drop_after_commit = FaultSwitch(path="/v4/payment/unifiedPay", times=1)
    srv.faults.bad_signature = True          # same as FaultSwitch(): every request until switched off
    srv.faults.set("delay", seconds=2.0, times=3)
    srv.faults.clear()                       # everything off

A switch limited to ``times`` requests turns itself off after the last one; one limited
to ``path`` only fires for requests to that path (for the notification switches: to
that notification URL path). docs/sandbox.md describes every switch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import UsageError

__all__ = ["FAULTS", "FaultSwitch", "Faults", "parse_fault"]

#: switch name -> what it does (the CLI's --fault help and docs/sandbox.md use these)
FAULTS: dict[str, str] = {
    "delay": "hold the request `seconds` (default 1) before processing it; after_commit: before answering",
    "refuse": "close the listening socket (connection refused); reopen after `seconds` if given",
    "drop_before_commit": "read the request, commit nothing, close the connection unanswered (after `seconds`)",
    "drop_after_commit": "process the request (commit), then close the connection unanswered (after `seconds`)",
    "http_error": "answer HTTP `status` (default 500) without processing; after_commit: after processing",
    "bad_signature": "process the request, answer with a wrong signature",
    "truncated_body": "process the request, answer with the JSON body cut in half",
    "duplicate_notifications": "deliver each notification twice",
    "out_of_order_notifications": "hold each notification `seconds` (default 1) so later ones overtake it",
}

#: default ``seconds`` where a switch has one
DEFAULT_SECONDS = {"delay": 1.0, "out_of_order_notifications": 1.0}


def _check_times(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UsageError(f"fault times={value!r}: give a whole number of requests, 1 or more")


def _check_seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 86400:
        raise UsageError(f"fault seconds={value!r}: give a number of seconds from 0 to 86400")


def _check_path(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.startswith("/")):
        raise UsageError(f"fault path={value!r}: give a URL path such as /v4/payment/unifiedPay")


def _check_status(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 500 <= value <= 599:
        raise UsageError(f"fault status={value!r}: give an HTTP 5xx status such as 500, 502 or 503")


@attrs.frozen
class FaultSwitch:
    """One fault, on: limited to ``path`` and to the next ``times`` requests when those are given.

    ``seconds`` is the delay / hold time where the fault has one, ``status`` the HTTP
    status of ``http_error``, ``after_commit`` moves ``delay`` and ``http_error`` after the
    request was processed (so the payment is committed but the client sees the fault).
    """

    path: str | None = attrs.field(default=None, validator=_check_path)
    times: int | None = attrs.field(default=None, validator=_check_times)
    seconds: float | None = attrs.field(default=None, validator=_check_seconds)
    status: int = attrs.field(default=500, validator=_check_status)
    after_commit: bool = False

    def seconds_or(self, default: float) -> float:
        return default if self.seconds is None else float(self.seconds)


def _to_switch(value: Any) -> FaultSwitch | None:
    if value is None or value is False:
        return None
    if value is True:
        return FaultSwitch()
    if isinstance(value, FaultSwitch):
        return value
    raise UsageError(f"a fault switch is None, True or a FaultSwitch, not {value!r}")


def _on_set(instance: Faults, attribute: attrs.Attribute[Any], value: Any) -> Any:
    if attribute.name not in FAULTS:
        return value
    value = _to_switch(value)
    if attribute.name == "refuse" and value is not None and (value.path or value.times):
        raise UsageError(
            "fault refuse cannot be limited to a path or a number of requests (no request is read while "
            "connections are refused); limit it with seconds, or switch it off"
        )
    with instance._lock:
        instance._left.pop(attribute.name, None)
        instance._since[attribute.name] = time.monotonic()
        object.__setattr__(instance, attribute.name, value)  # now, so that watchers see the new state
    for watcher in list(instance._watchers):
        watcher(attribute.name, value)
    return value


@attrs.define(on_setattr=_on_set)
class Faults:
    """Every fault switch of one sandbox server; all off by default."""

    delay: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    refuse: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    drop_before_commit: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    drop_after_commit: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    http_error: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    bad_signature: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    truncated_body: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    duplicate_notifications: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    out_of_order_notifications: FaultSwitch | None = attrs.field(default=None, converter=_to_switch)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False, eq=False)
    _left: dict[str, int] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    _since: dict[str, float] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    _watchers: list[Callable[[str, FaultSwitch | None], None]] = attrs.field(
        factory=list, init=False, repr=False, eq=False
    )

    def set(self, name: str, **options: Any) -> FaultSwitch:
        """Switch ``name`` on with :class:`FaultSwitch` options; returns the switch."""
        _check_name(name)
        switch = FaultSwitch(**options)
        setattr(self, name, switch)
        return switch

    def clear(self, name: str | None = None) -> None:
        """Switch one fault off, or all of them."""
        for each in [name] if name else FAULTS:
            _check_name(each)
            setattr(self, each, None)

    def take(self, name: str, path: str) -> FaultSwitch | None:
        """The switch ``name`` if it fires for a request to ``path``; counts it against ``times``."""
        with self._lock:
            switch: FaultSwitch | None = getattr(self, name)
            if switch is None or (switch.path is not None and switch.path != path):
                return None
            if switch.times is not None:
                left = self._left.get(name, switch.times) - 1
                self._left[name] = left
                if left <= 0:
                    object.__setattr__(self, name, None)  # quietly: no watcher, the count is spent
                    self._left.pop(name, None)
            return switch

    def expired(self, name: str, now: float | None = None) -> bool:
        """True when switch ``name`` has ``seconds`` and has been on longer than that (used for ``refuse``)."""
        with self._lock:
            switch: FaultSwitch | None = getattr(self, name)
            if switch is None or switch.seconds is None:
                return False
            since = self._since.get(name, 0.0)
        return (time.monotonic() if now is None else now) - since >= switch.seconds

    def active(self) -> dict[str, FaultSwitch]:
        """The switches that are on, by name."""
        return {name: sw for name in FAULTS if (sw := getattr(self, name)) is not None}

    def watch(self, watcher: Callable[[str, FaultSwitch | None], None]) -> None:
        """Call ``watcher(name, switch)`` on the setting thread whenever a switch is set or cleared."""
        self._watchers.append(watcher)


def _check_name(name: str) -> None:
    if name not in FAULTS:
        raise UsageError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")


_OPTION_TYPES: dict[str, Callable[[str], Any]] = {
    "path": str,
    "times": int,
    "seconds": float,
    "status": int,
    "after_commit": lambda text: text.lower() in ("1", "true", "yes", "on"),
}


def parse_fault(spec: str) -> tuple[str, FaultSwitch]:
    """Parse the CLI's ``--fault NAME[:key=value,...]``.

    Example: ``drop_after_commit:path=/v4/payment/unifiedPay,times=1``.
    """
    name, _, rest = spec.partition(":")
    name = name.strip()
    _check_name(name)
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or key not in _OPTION_TYPES:
            raise UsageError(
                f"fault option {item!r} in {spec!r}: write key=value with key one of {', '.join(_OPTION_TYPES)}"
            )
        try:
            options[key] = _OPTION_TYPES[key](text.strip())
        except ValueError:
            raise UsageError(f"fault option {item!r} in {spec!r}: {text!r} is not a valid {key}") from None
    return name, FaultSwitch(**options)
