"""The plugin host: one pluggy manager per embedding object, and what its plugins registered.

Loading order: the entry points of group ``paycode`` (installed distributions), then the
built-in plugins of :data:`paycode.plugins.BUILTINS`, then the plugin objects the caller
passes. A plugin that fails to import, implements a hook that does not exist, or
registers a name another plugin already has is recorded in :attr:`PluginHost.problems`
with its name, distribution and reason; the others load regardless.

Discovery hooks are called once here, one implementation at a time, each with a
``register`` bound to that plugin: registrations are attributed, and one plugin that
raises loses only its own registrations. Built-in plugins register first, so an
installed plugin cannot silently take a built-in scheme, wallet, signType or gateway.

Hook wrappers (``@hookimpl(wrapper=True)`` or ``hookwrapper=True``) are refused: the host
calls each plugin's implementation on its own (so one plugin that raises cannot stop the
others), which leaves a wrapper nothing to wrap. A plugin holding one is not loaded and the
reason is a plugin problem (``paycode plugins`` shows it).

``PAYCODE_TRACE_PLUGINS=1`` prints loading and every hook call to stderr (codes masked). Calls
are traced through pluggy's ``add_hookcall_monitoring``: while a monitor is installed
(:meth:`PluginHost.add_hookcall_monitoring`, which tracing uses), each implementation is called
through pluggy's hook-calling path, where monitors see it; without one it is called directly.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from . import hookspecs
from .classify import character_problem, classify
from .currencies import minor_units
from .errors import (
    AmbiguousWalletError,
    CodeFormatError,
    ConfigError,
    CurrencyNotAccepted,
    MoneyError,
    NoWalletError,
    PluginError,
    RegistrationConflict,
    ScannerConfigError,
)
from .masking import mask_code
from .models import Candidate, Classification, ClassifyContext, Event
from .plugin_types import GatewayType, ScannerType, SignerType, WalletType
from .scanning import CORE_PARAMS, ScannerURL
from .settings import Settings
from .supervisor import ScanSupervisor

if TYPE_CHECKING:
    from .gateway import AsyncGatewayClient, GatewayClient

__all__ = ["PluginHost", "PluginProblem"]

_TRACE_ENV = "PAYCODE_TRACE_PLUGINS"
#: a run of digits as long as a payment code (16 to 24 digits; longer runs too): masked in trace lines
_CODE_LIKE = re.compile(r"(?<!\d)\d{16,}(?!\d)")
_SOURCE_ORDER = {"builtin": 0, "entrypoint": 1, "explicit": 2}


@attrs.frozen
class PluginProblem:
    """A plugin that did not load, or part of a plugin that was refused."""

    plugin: str
    distribution: str | None
    reason: str
    #: the error a strict host raises for it: RegistrationConflict for a name another plugin has
    error: type[PluginError] = PluginError

    def __str__(self) -> str:
        return f"{self.plugin} ({self.distribution or 'no distribution'}): {self.reason}"

    def as_json(self) -> dict[str, Any]:
        return {"problem": self.reason, "plugin": self.plugin, "distribution": self.distribution}


@attrs.define
class _Record:
    name: str
    plugin: object
    distribution: str | None
    version: str | None
    source: str
    registers: dict[str, list[str]] = attrs.field(factory=lambda: {k: [] for k in _KINDS})


@attrs.frozen
class _Kind:
    hook: str
    cls: type
    key: Callable[[Any], str]


_KINDS: dict[str, _Kind] = {
    "scanners": _Kind("paycode_register_scanners", ScannerType, lambda o: o.scheme),
    "wallets": _Kind("paycode_register_wallets", WalletType, lambda o: o.name),
    "signers": _Kind("paycode_register_signers", SignerType, lambda o: o.sign_type),
    "gateways": _Kind("paycode_register_gateways", GatewayType, lambda o: o.name),
}


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _paycode_version() -> str:
    try:
        return metadata.version("paycode")
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        from . import __version__

        return __version__


class PluginHost:
    """Loads the plugins once and gives the core what they registered. See the module docstring.

    :param settings: the settings; default ``Settings.load()`` (``paycode.toml`` and the environment).
    :param load_entrypoints: False to skip installed distributions (tests, sealed embeddings).
    :param plugins: extra plugin objects (modules, classes or instances), registered after the built-ins.
    :param trace: print loading and hook calls to stderr; default from ``PAYCODE_TRACE_PLUGINS``.
    :param strict: raise the first plugin problem instead of loading the others regardless
        (:meth:`check`): :class:`~paycode.errors.RegistrationConflict` for a name another plugin
        already has, :class:`~paycode.errors.PluginError` otherwise. For sealed embeddings and tests
        that would rather fail than run with a plugin missing.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        load_entrypoints: bool = True,
        plugins: Iterable[object] = (),
        trace: bool | None = None,
        strict: bool = False,
    ) -> None:
        self.settings = settings if settings is not None else Settings.load()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.problems: list[PluginProblem] = []
        self._trace = _trace_from_env() if trace is None else trace
        self._records: dict[str, _Record] = {}
        self._registries: dict[str, dict[str, Any]] = {kind: {} for kind in _KINDS}
        self._owners: dict[str, dict[str, str]] = {kind: {} for kind in _KINDS}
        allowed = self.settings.plugins
        self._allowed = None if allowed is None else {_canonical(n) for n in allowed}
        self._blocked = {_canonical(n) for n in self.settings.disable_plugins}

        if load_entrypoints:
            self._load_entrypoints()
        self._load_builtins()
        for plugin in plugins:
            self._load_explicit(plugin)
        self._reject_unknown_hooks()
        self._report_unknown_allowed()
        self._monitors = 0
        if self._trace:
            self.add_hookcall_monitoring(self._trace_before, self._trace_after)
        self._discover()

        self.scanners: Mapping[str, ScannerType] = MappingProxyType(self._registries["scanners"])
        self.wallets: Mapping[str, WalletType] = MappingProxyType(self._registries["wallets"])
        self.signers: Mapping[str, SignerType] = MappingProxyType(self._registries["signers"])
        self.gateways: Mapping[str, GatewayType] = MappingProxyType(self._registries["gateways"])
        if strict:
            self.check()

    def check(self) -> None:
        """Raise the first plugin problem, if any, as its error (RegistrationConflict or PluginError)."""
        if self.problems:
            first = self.problems[0]
            more = (
                f" (and {len(self.problems) - 1} more; `paycode plugins` lists them)" if len(self.problems) > 1 else ""
            )
            raise first.error(f"plugin problem: {first}{more}")

    # ================================================================== loading

    def _say(self, message: str) -> None:
        if self._trace:  # a code in an answer or a note (a plugin's repr) is masked too
            print(f"paycode trace: {_CODE_LIKE.sub(_mask_match, message)}", file=sys.stderr, flush=True)

    def _problem(
        self, plugin: str, distribution: str | None, reason: str, error: type[PluginError] = PluginError
    ) -> None:
        problem = PluginProblem(plugin, distribution, reason, error)
        self.problems.append(problem)
        self._say(f"problem: {problem}")

    def _is_blocked(self, *names: str | None) -> bool:
        return any(n is not None and _canonical(n) in self._blocked for n in names)

    def _is_allowed(self, *names: str | None) -> bool:
        return self._allowed is None or any(n is not None and _canonical(n) in self._allowed for n in names)

    def _load_entrypoints(self) -> None:
        builtin_names = {n for n in _builtins() if not self._is_blocked(n)}
        for ep in sorted(_entry_points(), key=lambda e: (e.name, e.value)):
            dist = ep.dist
            dist_name = dist.metadata["Name"] if dist is not None else None
            version = dist.version if dist is not None else None
            if self._is_blocked(ep.name, dist_name) or not self._is_allowed(ep.name, dist_name):
                self._say(f"skip plugin {ep.name} ({dist_name}): not allowed by the allow/block lists")
                continue
            if ep.name in builtin_names:
                self._problem(
                    ep.name,
                    dist_name,
                    f"plugin name {ep.name!r} belongs to a built-in plugin; give the entry point another name "
                    f"(to replace the built-in, also block it: PAYCODE_DISABLE_PLUGINS={ep.name})",
                    RegistrationConflict,
                )
                continue
            try:
                plugin = ep.load()
            except (Exception, SystemExit) as exc:
                self._problem(ep.name, dist_name, f"failed to import {ep.value}: {_one_line(exc)}")
                continue
            self._register(ep.name, plugin, dist_name, version, "entrypoint")

    def _load_builtins(self) -> None:
        version = _paycode_version()
        for name, module in _builtins().items():
            if self._is_blocked(name):
                self._say(f"skip built-in plugin {name}: blocked")
                continue
            try:
                plugin = importlib.import_module(module)
            except (Exception, SystemExit) as exc:
                self._problem(name, "paycode", f"failed to import {module}: {_one_line(exc)}")
                continue
            self._register(name, plugin, "paycode", version, "builtin")

    def _load_explicit(self, plugin: object) -> None:
        base = getattr(plugin, "__name__", None) or type(plugin).__name__
        name, n = base, 1
        while name in self._records:
            n += 1
            name = f"{base}-{n}"
        self._register(name, plugin, None, None, "explicit")

    def _register(self, name: str, plugin: object, dist: str | None, version: str | None, source: str) -> None:
        if name in self._records:
            owner = self._records[name]
            self._problem(
                name,
                dist,
                f"plugin name {name!r} is already taken by {owner.distribution or 'a plugin'}",
                RegistrationConflict,
            )
            return
        if self.pm.is_registered(plugin):
            self._problem(name, dist, f"the same plugin object is already registered as {self.pm.get_name(plugin)!r}")
            return
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            self._problem(name, dist, f"rejected: {_one_line(exc)}")
            return
        wrappers = self._wrappers(plugin)
        if wrappers:
            self.pm.unregister(plugin)
            self._problem(
                name,
                dist,
                f"{', '.join(wrappers)}: hook wrappers (wrapper=True or hookwrapper=True) are not supported; paycode "
                "calls each plugin's implementation on its own, so a wrapper would never run: make it a plain "
                "@paycode.hookimpl; the plugin is not loaded",
            )
            return
        self._records[name] = _Record(name, plugin, dist, version, source)
        self._say(f"loaded plugin {name} from {dist or 'the caller'} {version or ''} ({source})".replace("  ", " "))
        for attr in dir(plugin):
            if attr.startswith("paycode_") and callable(getattr(plugin, attr, None)):
                if self.pm.parse_hookimpl_opts(plugin, attr) is None:
                    self._problem(name, dist, f"{attr} is not marked with @paycode.hookimpl, so it is never called")

    def _wrappers(self, plugin: object) -> list[str]:
        """The hooks ``plugin`` implements as a wrapper."""
        found = set()
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper):
                    found.add(caller.name)
        return sorted(found)

    def _reject_unknown_hooks(self) -> None:
        """pluggy's check_pending, per plugin: a plugin implementing a misspelled hook is unregistered."""
        known = sorted(n for n in dir(hookspecs) if n.startswith("paycode_"))
        for _ in range(len(self._records) + 1):
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
                callers = self.pm.get_hookcallers(exc.plugin) or []
                unknown = sorted(hc.name for hc in callers if not hc.has_spec())
                hints = [m for u in unknown for m in difflib.get_close_matches(u, known, n=1)]
                hint = f" (did you mean {', '.join(hints)}?)" if hints else f"; known hooks: {', '.join(known)}"
                record = self._records.pop(name, None)
                self.pm.unregister(exc.plugin)
                self._problem(
                    name,
                    record.distribution if record else None,
                    f"implements unknown hook {', '.join(unknown)}{hint}; the plugin is not loaded",
                )

    def _report_unknown_allowed(self) -> None:
        if self._allowed is None:
            return
        present = {_canonical(n) for r in self._records.values() for n in (r.name, r.distribution) if n}
        present |= {_canonical(p.plugin) for p in self.problems} | {_canonical(n) for n in _builtins()}
        present |= {_canonical(p.distribution) for p in self.problems if p.distribution}
        for name in sorted(self._allowed - present):
            self._problem(name, None, "named in the allow-list (plugins / PAYCODE_PLUGINS) but not installed")

    # ================================================================== hook calls

    def _impls(self, hook: str) -> list[pluggy.HookImpl]:
        """The implementations of a hook in calling order (wrappers were refused when the plugin loaded)."""
        return getattr(self.pm.hook, hook).get_hookimpls()  # type: ignore[no-any-return]

    def _call(self, impl: pluggy.HookImpl, hook: str, kwargs: Mapping[str, Any]) -> Any:
        """One implementation's answer; through pluggy (seen by its monitors) while a monitor is installed."""
        if not self._monitors:
            return impl.function(*(kwargs[name] for name in impl.argnames))
        others = [p for p in self.pm.get_plugins() if p is not impl.plugin]
        results = self.pm.subset_hook_caller(hook, others)(**kwargs)
        return results[0] if results else None

    def add_hookcall_monitoring(
        self,
        before: Callable[[str, Sequence[pluggy.HookImpl], Mapping[str, Any]], None],
        after: Callable[[pluggy.Result[Any], str, Sequence[pluggy.HookImpl], Mapping[str, Any]], None],
    ) -> Callable[[], None]:
        """pluggy's ``add_hookcall_monitoring`` for this host's hook calls; returns the function that removes it.

        ``before(hook_name, impls, kwargs)`` and ``after(outcome, hook_name, impls, kwargs)`` see each
        implementation's call (``impls`` holds the one implementation called). Hook arguments hold
        unmasked payment codes (``paycode_classify``'s ``code``): a monitor must not log them as they are.
        """
        undo = self.pm.add_hookcall_monitoring(before, after)
        self._monitors += 1
        removed = [False]

        def remove() -> None:
            if not removed[0]:
                removed[0] = True
                self._monitors -= 1
                undo()

        return remove

    def _trace_before(self, hook: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        for impl in impls:
            shown = ", ".join(f"{k}={_trace_value(k, v)}" for k, v in kwargs.items() if k in impl.argnames)
            self._say(f"call {hook}({shown}) -> {impl.plugin_name}")

    def _trace_after(
        self, outcome: pluggy.Result[Any], hook: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        names = ", ".join(impl.plugin_name for impl in impls)
        if outcome.exception is not None:
            self._say(f"{hook} <- {names}: raised {_one_line(outcome.exception)}")
            return
        for result in outcome.get_result() or []:
            self._say(f"{hook} <- {names}: {result!r}")

    def _discover(self) -> None:
        records = sorted(self._records.values(), key=lambda r: _SOURCE_ORDER[r.source])
        for kind, spec in _KINDS.items():
            impls = {impl.plugin_name: impl for impl in self._impls(spec.hook)}
            for record in records:
                impl = impls.get(record.name)
                if impl is not None:
                    self._discover_one(kind, spec, record, impl)

    def _discover_one(self, kind: str, spec: _Kind, record: _Record, impl: pluggy.HookImpl) -> None:
        collected: list[Any] = []
        open_ = [True]

        def register(obj: Any) -> None:
            if not open_[0]:
                raise PluginError(f"{spec.hook}: register() was called after the hook returned")
            if not isinstance(obj, spec.cls):
                raise PluginError(f"register() takes a {spec.cls.__name__}, not a {type(obj).__name__}")
            collected.append(obj)

        try:
            self._call(impl, spec.hook, {"register": register})
        except Exception as exc:
            self._problem(record.name, record.distribution, f"{spec.hook} raised {_one_line(exc)}; ignored")
            return
        finally:
            open_[0] = False
        registry, owners = self._registries[kind], self._owners[kind]
        for obj in collected:
            key = spec.key(obj)
            if key in registry:
                owner = self._records[owners[key]]
                self._problem(
                    record.name,
                    record.distribution,
                    f"{kind[:-1]} {key!r} is already registered by plugin {owner.name} "
                    f"({owner.distribution or 'no distribution'}); this one is ignored",
                    RegistrationConflict,
                )
                continue
            registry[key] = obj
            owners[key] = record.name
            record.registers[kind].append(key)
            self._say(f"{record.name} registered {kind[:-1]} {key}")

    # ================================================================== public API

    def plugin_info(self) -> list[dict[str, Any]]:
        """Every loaded plugin: name, distribution, version, source, hooks, and what it registered."""
        info = []
        for record in self._records.values():
            callers = self.pm.get_hookcallers(record.plugin) or []
            info.append(
                {
                    "name": record.name,
                    "distribution": record.distribution,
                    "version": record.version,
                    "source": record.source,
                    "hooks": sorted(hc.name for hc in callers),
                    "registers": {kind: list(keys) for kind, keys in record.registers.items()},
                }
            )
        return info

    def emit(self, kind: str, order_id: str | None = None, **data: Any) -> Event:
        """Build an :class:`Event` and give it to every ``paycode_payment_event`` implementation; never raises.

        An observer that raises is reported on stderr; the other observers still see the event.
        """
        event = Event(kind=kind, data=data, order_id=order_id)
        for impl in self._impls("paycode_payment_event"):
            try:
                self._call(impl, "paycode_payment_event", {"event": event})
            except Exception as exc:
                print(
                    f"paycode: plugin {impl.plugin_name}: paycode_payment_event({kind}) raised {_one_line(exc)}",
                    file=sys.stderr,
                )
        return event

    def classify_context(self, currency: str | None = None) -> ClassifyContext:
        """The classification context of a sale in ``currency`` under these settings."""
        if currency is not None:
            currency = currency.strip().upper()
            if minor_units(currency) is None:
                raise MoneyError(
                    f"currency {currency!r} is not an ISO 4217 code; give three letters such as CNY, HKD or USD"
                )
        enabled = self.settings.wallets
        return ClassifyContext(
            currency=currency,
            enabled=None if enabled is None else frozenset(enabled),
            prefer=tuple(self.settings.prefer_wallets),
        )

    def classify(self, code: str, currency: str | None = None) -> Classification:
        """Which wallet ``code`` belongs to; never raises for a bad code (status ``none``/``ambiguous``).

        Raises :class:`~paycode.errors.MoneyError` for a currency that is not ISO 4217 and
        :class:`~paycode.errors.PluginError` when a ``paycode_classify`` implementation fails.
        """
        context = self.classify_context(currency)
        extra: list[Candidate] = []
        if character_problem(code) is None:
            for impl in self._impls("paycode_classify"):
                extra.extend(self._classify_answer(impl, code, context))
        return classify(code, self.wallets, context, extra)

    def _classify_answer(self, impl: pluggy.HookImpl, code: str, context: ClassifyContext) -> list[Candidate]:
        try:
            answer = self._call(impl, "paycode_classify", {"code": code, "context": context})
        except Exception as exc:
            raise PluginError(
                f"plugin {impl.plugin_name}: paycode_classify raised {_one_line(exc)}", plugin=impl.plugin_name
            ) from None
        if answer is None:
            return []
        if not isinstance(answer, (list, tuple)) or not all(isinstance(c, Candidate) for c in answer):
            raise PluginError(
                f"plugin {impl.plugin_name}: paycode_classify must return a list of Candidate or None, "
                f"not {type(answer).__name__}",
                plugin=impl.plugin_name,
            )
        return [attrs.evolve(c, source=impl.plugin_name) if c.source == "patterns" else c for c in answer]

    def wallet_for(self, code: str, currency: str | None = None) -> WalletType:
        """The one wallet of ``code``; raises CodeFormatError, NoWalletError or AmbiguousWalletError.

        A code whose wallets do not take ``currency`` raises CurrencyNotAccepted, a NoWalletError
        that is also a MoneyError: bad input, caught before anything is sent (exit 2).
        """
        result = self.classify(code, currency)
        if result.wallet is not None:
            return result.wallet
        message = f"code {mask_code(code)}: {result.reason}"
        if result.cause in ("characters", "empty"):
            raise CodeFormatError(message, code=mask_code(code))
        if result.status == "ambiguous":
            raise AmbiguousWalletError(message, code=mask_code(code), candidates=result.candidates)
        if result.cause == "currency":
            raise CurrencyNotAccepted(message, code=mask_code(code), cause=result.cause)
        raise NoWalletError(message, code=mask_code(code), cause=result.cause)

    def signer(self, sign_type: str | None = None) -> SignerType:
        """The signer for ``sign_type`` (default ``settings.sign_type``); ConfigError lists the installed ones."""
        name = sign_type or self.settings.sign_type
        found = self.signers.get(name) or self.signers.get(name.upper())
        if found is None:
            raise ConfigError(
                f"signType {name!r} is not installed; installed: {', '.join(sorted(self.signers)) or 'none'}"
                f"{self._problem_hint()}"
            )
        return found

    def scanner_type(self, url: ScannerURL) -> ScannerType:
        """The ScannerType for a parsed URL; rejects unknown schemes and parameters, listing what is accepted."""
        found = self.scanners.get(url.scheme)
        if found is None:
            raise ScannerConfigError(
                f"unknown scanner scheme {url.scheme}:// in {url.display!r}; installed: "
                f"{', '.join(s + '://' for s in sorted(self.scanners)) or 'none'}{self._problem_hint()}",
                scanner=url.display,
            )
        accepted = {**CORE_PARAMS, **found.params}
        unknown = sorted(set(url.params) - set(accepted))
        if unknown:
            raise ScannerConfigError(
                f"scanner {url.scheme}:// does not take parameter {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(accepted))}",
                scanner=url.display,
            )
        return found

    def open_scanner(self, url: str | None = None, **options: Any) -> ScanSupervisor:
        """A :class:`ScanSupervisor` for ``url`` (default ``settings.scanner``); the device opens on first use.

        ``options`` go to the supervisor (``repeat_window``, ``backoff_initial``, ``backoff_max``).
        """
        text = url or self.settings.scanner
        if not text:
            raise ScannerConfigError(
                "no scanner given; pass a scanner URL (--scanner URL) or set PAYCODE_SCANNER, "
                "e.g. stdin:// or replay:///path/scans.txt"
            )
        parsed = ScannerURL.parse(text)
        options.setdefault("repeat_window", self.settings.repeat_window)
        return ScanSupervisor(self.scanner_type(parsed), parsed, emit=self.emit, **options)

    def _gateway_type(self) -> GatewayType:
        name = "sandbox" if self.settings.gateway == "sandbox" else "pingpong"
        found = self.gateways.get(name)
        if found is None:
            raise ConfigError(
                f"gateway {name!r} is not installed; installed: {', '.join(sorted(self.gateways)) or 'none'}"
                f"{self._problem_hint()}"
            )
        return found

    def gateway(self) -> GatewayClient:
        """A new :class:`paycode.gateway.GatewayClient`: the sandbox one when ``settings.gateway`` is sandbox."""
        return self._gateway_type().factory(self.settings, self)

    def async_gateway(self) -> AsyncGatewayClient:
        """A new :class:`paycode.gateway.AsyncGatewayClient` (the gateway type needs an ``async_factory``)."""
        found = self._gateway_type()
        if found.async_factory is None:
            raise ConfigError(f"gateway {found.name!r} has no asyncio client; use the synchronous API")
        return found.async_factory(self.settings, self)

    def _problem_hint(self) -> str:
        if not self.problems:
            return ""
        return f" ({len(self.problems)} plugin problem(s); `paycode plugins` lists them)"

    def __repr__(self) -> str:
        return f"<PluginHost plugins={list(self._records)} problems={len(self.problems)}>"


def _entry_points() -> Iterable[metadata.EntryPoint]:
    """The installed entry points of group ``paycode`` (a seam for tests)."""
    return metadata.entry_points(group=hookspecs.PROJECT)


def _builtins() -> dict[str, str]:
    builtins: dict[str, str] = importlib.import_module("paycode.plugins").BUILTINS
    return builtins


def _trace_from_env() -> bool:
    return os.environ.get(_TRACE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def _mask_match(match: re.Match[str]) -> str:
    return mask_code(match.group())


def _trace_value(name: str, value: Any) -> str:
    if name == "code" and isinstance(value, str):
        return repr(mask_code(value))
    if isinstance(value, Event):
        return f"Event({value.kind})"
    if callable(value):
        return name
    return repr(value)
