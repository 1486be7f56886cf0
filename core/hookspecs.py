"""The hook specifications of paycode (pluggy project name ``paycode``).

Plugins implement these with :data:`paycode.hookimpl`. Discovery hooks (``register_*``)
run once when a host is built; the per-scan path calls the resolved objects directly.
Implementations may accept fewer arguments than a spec names, so specs can grow.

No hook is ``firstresult``: :class:`paycode.host.PluginHost` calls every implementation,
one at a time and in loading order, so that one plugin that raises cannot stop the
others. That leaves a hook wrapper nothing to wrap, so a plugin holding one is refused
with a plugin problem (``paycode plugins`` shows it). docs/hooks.md has one section per hook,
headed by its exact signature; a test fails when one is missing or differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .models import Candidate, ClassifyContext, Event
    from .plugin_types import GatewayType, ScannerType, SignerType, WalletType

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "paycode"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------- discovery


@hookspec
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    """Register scanner factories, one per URL scheme.

    Called once per host, with a ``register`` bound to this plugin (registrations are
    attributed to it; if the implementation raises, none of them is kept).

    :param register: call it once per :class:`~paycode.plugin_types.ScannerType`; a scheme
        another plugin already registered is refused and reported, the rest still load.
    :returns: nothing; results are passed to ``register``.
    """


@hookspec
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    """Register wallet types: payment type name, code patterns, currencies, polling policy, payload.

    :param register: call it once per :class:`~paycode.plugin_types.WalletType`; a name
        already registered is refused and reported.
    :returns: nothing; results are passed to ``register``.
    """


@hookspec
def paycode_register_signers(register: Callable[[SignerType], None]) -> None:
    """Register request signers by ``signType`` (``SHA256``, ``MD5``).

    :param register: call it once per :class:`~paycode.plugin_types.SignerType`.
    :returns: nothing; results are passed to ``register``.
    """


@hookspec
def paycode_register_gateways(register: Callable[[GatewayType], None]) -> None:
    """Register gateway clients by name (``pingpong``, ``sandbox``).

    :param register: call it once per :class:`~paycode.plugin_types.GatewayType`.
    :returns: nothing; results are passed to ``register``.
    """


# ---------------------------------------------------------------------------- per scan


@hookspec
def paycode_classify(code: str, context: ClassifyContext) -> list[Candidate] | None:
    """Offer wallet candidates for a normalised code, beyond the registered wallets' patterns.

    Called for every code to classify; every implementation's answer is collected. A
    candidate with ``override=True`` replaces the pattern-based candidates (for example
    a server-side code lookup that knows the issuing wallet); others are added to them.
    Candidates are still filtered by the sale currency and the enabled wallets.

    :param code: the normalised code, ASCII digits (never log it unmasked).
    :param context: the sale currency, the merchant's enabled and preferred wallets.
    :returns: a list of :class:`~paycode.models.Candidate`, or None for no opinion.
    """


# ---------------------------------------------------------------------------- observers


@hookspec
def paycode_payment_event(event: Event) -> None:
    """Observe every scan, state change, poll and error: for host UIs, logs, receipts, metrics.

    Called synchronously on the thread that produced the event; keep it quick. An
    exception raised here is reported on stderr and never stops a payment.

    :param event: an :class:`~paycode.models.Event`; its data holds no secret and only masked codes.
    :returns: nothing.
    """
