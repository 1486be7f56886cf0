"""Benchmark 2, hook dispatch: one ``paycode_payment_event`` through ``PluginHost.emit``.

paycode calls :meth:`PluginHost.emit` for every step of a payment; it builds the
:class:`~paycode.Event` and hands it to each implementation of ``paycode_payment_event``
(isolating failures). Measured with 0, 1 and 3 implementations registered (counting
observers), against the direct call a hand-written program would make: build the same
Event, call each observer function in a loop. pluggy's own ``pm.hook`` call is reported
beside it (extra ``pluggy_hook_ns``), for comparison.
"""

from __future__ import annotations

from paycode import Event
from paycode.host import PluginHost

from ._fixtures import Observer, bench_settings
from ._measure import Check, Figure, Stats, sample_interleaved
from ._run import Config

__all__ = ["run"]

_KIND = "payment.poll"
_ORDER = "pc20250101120000abcdef0123"


def _figure(cfg: Config, observers: int) -> Figure:
    folder = cfg.folder("hook_dispatch")
    plugged = [Observer() for _ in range(observers)]
    host = PluginHost(bench_settings(folder), plugins=plugged)
    direct = [o.see for o in plugged]
    hook = host.pm.hook.paycode_payment_event

    def via_paycode() -> None:
        host.emit(_KIND, _ORDER, poll=3, seconds_left=12.5)

    def by_hand() -> None:
        event = Event(kind=_KIND, data={"poll": 3, "seconds_left": 12.5}, order_id=_ORDER)
        for see in direct:
            see(event)

    def via_pluggy() -> None:
        hook(event=Event(kind=_KIND, data={"poll": 3, "seconds_left": 12.5}, order_id=_ORDER))

    batches = cfg.pick(2000, 100)
    samples = sample_interleaved(
        {"paycode": via_paycode, "baseline": by_hand, "pluggy": via_pluggy},
        batch=100,
        batches=batches,
        warmup=1000,
    )
    expected = sum(len(s) * 100 + 1000 for s in samples.values())  # every candidate reaches every observer
    if any(o.seen != expected for o in plugged):
        raise AssertionError(f"observers saw {[o.seen for o in plugged]} events, expected {expected} each")
    pluggy = Stats.of(samples["pluggy"])
    return Figure(
        id=f"hook_dispatch_{observers}",
        title=f"hook dispatch: emit() with {observers} implementation{'s' if observers != 1 else ''}",
        value=Stats.of(samples["paycode"]),
        baseline=Stats.of(samples["baseline"]),
        baseline_label=f"Event + {observers} direct call{'s' if observers != 1 else ''}",
        goal="reported",
        met=None,
        notes="per event; includes building the Event",
        extra={"pluggy_hook_ns": pluggy.median, "pluggy_hook_p99_ns": pluggy.p99},
    )


def run(cfg: Config) -> list[Figure | Check]:
    return [_figure(cfg, n) for n in (0, 1, 3)]
