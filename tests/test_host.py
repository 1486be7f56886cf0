"""The plugin host: loading, attribution, conflicts, broken plugins, allow/block lists, tracing, events."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import paycode.host
import pytest
from paycode import (
    Candidate,
    ConfigError,
    Event,
    GatewayType,
    ScannerType,
    Settings,
    SignerType,
    WalletType,
    hookimpl,
)
from paycode.host import PluginHost, PluginProblem
from paycode.plugins import BUILTINS
from paycode.testing import EventRecorder

from .conftest import TEST_WALLETS

MakeHost = Callable[..., PluginHost]
MakePlugin = Callable[..., types.ModuleType]


def registering(kind: str, *objects: Any) -> Callable[..., None]:
    def register_all(register: Callable[[Any], None]) -> None:
        for obj in objects:
            register(obj)

    register_all.__name__ = f"paycode_register_{kind}"
    return register_all


def reasons(host: PluginHost, plugin: str) -> list[str]:
    return [p.reason for p in host.problems if p.plugin == plugin]


def test_builtins_load_and_are_attributed(make_host: MakeHost) -> None:
    host = make_host()
    info = {p["name"]: p for p in host.plugin_info()}
    assert info["signers"]["distribution"] == "paycode"
    assert info["signers"]["source"] == "builtin"
    assert info["signers"]["hooks"] == ["paycode_register_signers"]
    assert info["signers"]["registers"]["signers"] == ["SHA256", "MD5"]
    assert info["replay"]["registers"]["scanners"] == ["replay"]
    assert {"stdin", "replay"} <= set(host.scanners)
    assert {"SHA256", "MD5"} <= set(host.signers)


def test_two_hosts_do_not_share_plugins(make_host: MakeHost, wallets_plugin: types.ModuleType) -> None:
    with_wallets = make_host(wallets_plugin)
    without = make_host()
    assert set(with_wallets.wallets) == {w.name for w in TEST_WALLETS}
    assert dict(without.wallets) == {}
    assert with_wallets.pm is not without.pm


def test_a_taken_name_is_refused_and_reported(make_host: MakeHost, make_plugin: MakePlugin) -> None:
    first = make_plugin("first", paycode_register_wallets=registering("wallets", *TEST_WALLETS[:2]))
    second = make_plugin("second", paycode_register_wallets=registering("wallets", TEST_WALLETS[0], TEST_WALLETS[2]))
    greedy = make_plugin("greedy", paycode_register_signers=registering("signers", SignerType("SHA256", str.upper)))
    host = make_host(first, second, greedy)
    assert set(host.wallets) == {w.name for w in TEST_WALLETS}
    assert host.wallets["Wechat-Offline"] is TEST_WALLETS[0]
    assert reasons(host, "second") == [
        "wallet 'Wechat-Offline' is already registered by plugin first (no distribution); this one is ignored"
    ]
    assert reasons(host, "greedy") == [
        "signer 'SHA256' is already registered by plugin signers (paycode); this one is ignored"
    ]
    assert host.signer("SHA256").description.startswith("uppercase hex SHA-256")
    info = {p["name"]: p for p in host.plugin_info()}
    assert info["second"]["registers"]["wallets"] == ["AlipayHK-Offline"]


def test_a_raising_discovery_hook_loses_only_its_own_registrations(
    make_host: MakeHost, make_plugin: MakePlugin, wallets_plugin: types.ModuleType
) -> None:
    def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
        register(ScannerType("half", factory=lambda url: None))  # type: ignore[arg-type,return-value]
        raise RuntimeError("driver library missing")

    def paycode_register_wallets(register: Callable[[Any], None]) -> None:
        register("Wechat-Offline")

    broken = make_plugin("broken", paycode_register_scanners=paycode_register_scanners)
    wrong = make_plugin("wrong", paycode_register_wallets=paycode_register_wallets)
    host = make_host(broken, wrong, wallets_plugin)
    assert "half" not in host.scanners
    assert reasons(host, "broken") == ["paycode_register_scanners raised RuntimeError: driver library missing; ignored"]
    assert reasons(host, "wrong") == [
        "paycode_register_wallets raised PluginError: register() takes a WalletType, not a str; ignored"
    ]
    assert len(host.wallets) == 3 and "replay" in host.scanners


def test_register_after_the_hook_returned_is_refused(make_host: MakeHost, make_plugin: MakePlugin) -> None:
    kept: list[Callable[[Any], None]] = []

    def paycode_register_wallets(register: Callable[[Any], None]) -> None:
        kept.append(register)

    host = make_host(make_plugin("late", paycode_register_wallets=paycode_register_wallets))
    with pytest.raises(paycode.PluginError, match="after the hook returned"):
        kept[0](TEST_WALLETS[0])
    assert dict(host.wallets) == {}


def test_misspelled_hook_unloads_the_plugin(make_host: MakeHost, make_plugin: MakePlugin) -> None:
    typo = make_plugin(
        "typo",
        paycode_register_scaners=registering("scaners"),
        paycode_register_wallets=registering("wallets", TEST_WALLETS[0]),
    )
    host = make_host(typo)
    assert reasons(host, "typo") == [
        "implements unknown hook paycode_register_scaners (did you mean paycode_register_scanners?); "
        "the plugin is not loaded"
    ]
    assert "typo" not in {p["name"] for p in host.plugin_info()}
    assert dict(host.wallets) == {}
    assert "replay" in host.scanners


def test_wrong_hook_arguments_are_rejected(make_host: MakeHost, make_plugin: MakePlugin) -> None:
    def paycode_register_wallets(registry: Any) -> None:
        raise AssertionError("never called")

    host = make_host(make_plugin("badargs", paycode_register_wallets=paycode_register_wallets))
    [reason] = reasons(host, "badargs")
    assert reason.startswith("rejected: PluginValidationError:") and "registry" in reason
    assert "\n" not in reason


def test_unmarked_hook_functions_are_reported(make_host: MakeHost) -> None:
    module = types.ModuleType("forgetful")
    module.paycode_register_wallets = registering("wallets", TEST_WALLETS[0])  # type: ignore[attr-defined]
    host = make_host(module)
    assert reasons(host, "forgetful") == [
        "paycode_register_wallets is not marked with @paycode.hookimpl, so it is never called"
    ]


def test_a_builtin_that_fails_to_import_is_reported(make_host: MakeHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTINS, "ghost", "paycode.plugins.no_such_module")
    host = make_host()
    assert [p for p in host.problems if p.plugin == "ghost"] == [
        PluginProblem(
            "ghost",
            "paycode",
            "failed to import paycode.plugins.no_such_module: "
            "ModuleNotFoundError: No module named 'paycode.plugins.no_such_module'",
        )
    ]
    assert "SHA256" in host.signers


def test_block_list_and_explicit_names(make_host: MakeHost, wallets_plugin: types.ModuleType) -> None:
    host = make_host(wallets_plugin, wallets_plugin, disable_plugins=("replay",))
    assert "replay" not in host.scanners and "stdin" in host.scanners
    assert reasons(host, "test_wallets-2") == ["the same plugin object is already registered as 'test_wallets'"]


# ---------------------------------------------------------------------------- entry points


class FakeDist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.version = version


class FakeEntryPoint:
    """What the host uses of an importlib.metadata.EntryPoint: name, value, dist, load()."""

    def __init__(self, name: str, plugin: Any, dist: FakeDist | None) -> None:
        self.name, self.value, self.dist = name, f"fake_plugin_{name}", dist
        self._plugin = plugin

    def load(self) -> Any:
        if isinstance(self._plugin, BaseException):
            raise self._plugin
        return self._plugin


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Install fake entry points: (name, plugin or the exception its import raises, distribution name)."""

    def install(*specs: tuple[str, Any, str | None]) -> None:
        points = [
            FakeEntryPoint(name, plugin, FakeDist(dist, "1.2.3") if dist else None) for name, plugin, dist in specs
        ]
        monkeypatch.setattr(paycode.host, "_entry_points", lambda: points)

    return install


def test_entry_points_load_with_their_distribution(
    make_host: MakeHost, entry_points: Callable[..., None], wallets_plugin: types.ModuleType
) -> None:
    entry_points(("wallets", wallets_plugin, "paycode-test-wallets"))
    host = make_host(load_entrypoints=True)
    [info] = [p for p in host.plugin_info() if p["name"] == "wallets"]
    assert (info["distribution"], info["version"], info["source"]) == ("paycode-test-wallets", "1.2.3", "entrypoint")
    assert len(host.wallets) == 3
    assert make_host(load_entrypoints=False).wallets == {}


def test_broken_entry_point_does_not_stop_the_rest(
    make_host: MakeHost, entry_points: Callable[..., None], wallets_plugin: types.ModuleType
) -> None:
    entry_points(
        ("broken", ImportError("No module named 'usb'"), "paycode-broken"),
        ("exits", SystemExit(3), "paycode-exits"),
        ("wallets", wallets_plugin, "paycode-test-wallets"),
    )
    host = make_host(load_entrypoints=True)
    assert reasons(host, "broken") == ["failed to import fake_plugin_broken: ImportError: No module named 'usb'"]
    assert reasons(host, "exits") == ["failed to import fake_plugin_exits: SystemExit: 3"]
    assert [p.distribution for p in host.problems] == ["paycode-broken", "paycode-exits"]
    assert len(host.wallets) == 3


def test_allow_list_applies_to_entry_points_by_name_or_distribution(
    make_host: MakeHost, entry_points: Callable[..., None], make_plugin: MakePlugin
) -> None:
    one = make_plugin("one", paycode_register_wallets=registering("wallets", TEST_WALLETS[0]))
    two = make_plugin("two", paycode_register_wallets=registering("wallets", TEST_WALLETS[1]))
    three = make_plugin("three", paycode_register_wallets=registering("wallets", TEST_WALLETS[2]))
    entry_points(("one", one, "paycode-one"), ("two", two, "paycode_two"), ("three", three, "paycode-three"))
    host = make_host(load_entrypoints=True, plugins=("one", "Paycode-Two", "nonesuch"))
    assert set(host.wallets) == {"Wechat-Offline", "AlipayCN-Offline"}
    assert "replay" in host.scanners  # built-ins are not subject to the allow-list
    assert reasons(host, "nonesuch") == ["named in the allow-list (plugins / PAYCODE_PLUGINS) but not installed"]
    blocked = make_host(load_entrypoints=True, disable_plugins=("paycode-one", "two"))
    assert set(blocked.wallets) == {"AlipayHK-Offline"}


def test_entry_point_cannot_take_a_builtin_name(
    make_host: MakeHost, entry_points: Callable[..., None], make_plugin: MakePlugin
) -> None:
    replay = ScannerType("replay", factory=lambda url: None, description="vendor replay")  # type: ignore[arg-type,return-value]
    impostor = make_plugin("replay", paycode_register_scanners=registering("scanners", replay))
    entry_points(("replay", impostor, "paycode-impostor"), ("myreplay", impostor, "paycode-myreplay"))
    host = make_host(load_entrypoints=True)
    [reason] = reasons(host, "replay")
    assert "belongs to a built-in plugin" in reason and "PAYCODE_DISABLE_PLUGINS=replay" in reason
    assert reasons(host, "myreplay") == [
        "scanner 'replay' is already registered by plugin replay (paycode); this one is ignored"
    ]
    assert host.scanners["replay"].description.startswith("plays back")
    replaced = make_host(load_entrypoints=True, disable_plugins=("replay",))
    assert replaced.scanners["replay"] is replay
    assert replaced.problems == []


def test_settings_load_reads_the_plugin_lists_from_the_environment(tmp_path: Any) -> None:
    env = {"PAYCODE_PLUGINS": "wechat, alipaycn", "PAYCODE_DISABLE_PLUGINS": "replay"}
    settings = Settings.load(config=None, env=env, journal=str(tmp_path / "j.sqlite3"))
    assert settings.plugins == ("wechat", "alipaycn")
    host = PluginHost(settings, load_entrypoints=False)
    assert "replay" not in host.scanners


# ---------------------------------------------------------------------------- tracing and events


def test_tracing_shows_loading_and_calls_with_codes_masked(
    make_host: MakeHost,
    make_plugin: MakePlugin,
    wallets_plugin: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def paycode_classify(code: str) -> None:
        return None

    monkeypatch.setenv("PAYCODE_TRACE_PLUGINS", "1")
    host = make_host(wallets_plugin, make_plugin("lookup", paycode_classify=paycode_classify))
    host.classify("130000000000004321")
    host.emit("scan", text="1300**********4321")
    err = capsys.readouterr().err
    assert "paycode trace: loaded plugin signers from paycode" in err
    assert "paycode trace: test_wallets registered wallet Wechat-Offline" in err
    assert "paycode trace: call paycode_classify(code='1300**********4321') -> lookup" in err
    assert "130000000000004321" not in err
    monkeypatch.setenv("PAYCODE_TRACE_PLUGINS", "0")
    make_host()
    assert capsys.readouterr().err == ""


def test_emit_reaches_every_observer_even_when_one_raises(
    make_host: MakeHost, make_plugin: MakePlugin, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(event: Event) -> None:
        raise ValueError("display unplugged")

    recorder = EventRecorder()
    host = make_host(make_plugin("failing", paycode_payment_event=failing), recorder)
    event = host.emit("payment.state", order_id="o-1", status="SUCCESS")
    assert recorder.events == [event]
    assert (event.kind, event.order_id, dict(event.data)) == ("payment.state", "o-1", {"status": "SUCCESS"})
    assert "plugin failing: paycode_payment_event(payment.state) raised ValueError: display unplugged" in (
        capsys.readouterr().err
    )


def test_wrapper_implementations_are_not_called_for_per_plugin_hooks(make_host: MakeHost) -> None:
    called: list[Event] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def paycode_payment_event(self, event: Event) -> Any:
            called.append(event)
            return (yield)

    make_host(Wrapper()).emit("scan")
    assert called == []


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def paycode_payment_event(self, event: Event) -> Any:
        return (yield)

    @hookimpl
    def paycode_register_signers(self, register: Callable[[SignerType], None]) -> None:
        register(SignerType("WRAPPED", lambda content: "0" * 64))


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def paycode_classify(self, code: str) -> Any:
        yield


@pytest.mark.parametrize(
    ("plugin", "hooks"), [(NewStyleWrapper, "paycode_payment_event"), (OldStyleWrapper, "paycode_classify")]
)
def test_a_hook_wrapper_is_refused_with_a_problem_and_its_plugin_not_loaded(
    make_host: MakeHost, plugin: type, hooks: str
) -> None:
    host = make_host(plugin())
    [reason] = reasons(host, plugin.__name__)
    assert reason.startswith(f"{hooks}: hook wrappers (wrapper=True or hookwrapper=True) are not supported; ")
    assert reason.endswith("make it a plain @paycode.hookimpl; the plugin is not loaded")
    assert plugin.__name__ not in [info["name"] for info in host.plugin_info()]
    assert "WRAPPED" not in host.signers  # its plain hooks are not called either
    assert host.classify("130000000000000001").status == "none"  # no wallets here; and no wrapper ran


def test_hook_calls_are_seen_by_pluggy_hookcall_monitoring(make_host: MakeHost, make_plugin: MakePlugin) -> None:
    def lookup(code: str) -> None:
        return None

    def observer(event: Event) -> None:
        raise ValueError("screen off")

    host = make_host(
        make_plugin("lookup", paycode_classify=lookup), make_plugin("screen", paycode_payment_event=observer)
    )
    seen: list[tuple[str, str, list[str]]] = []
    undo = host.add_hookcall_monitoring(
        lambda hook, impls, kwargs: seen.append(("before", hook, [i.plugin_name for i in impls])),
        lambda outcome, hook, impls, kwargs: seen.append(
            ("after", hook, [type(outcome.exception).__name__ if outcome.exception else "ok"])
        ),
    )
    host.classify("130000000000000001")
    host.emit("scan")
    assert seen == [
        ("before", "paycode_classify", ["lookup"]),
        ("after", "paycode_classify", ["ok"]),
        ("before", "paycode_payment_event", ["screen"]),
        ("after", "paycode_payment_event", ["ValueError"]),
    ]
    undo()
    undo()  # twice is harmless
    host.emit("scan")
    assert len(seen) == 4


def test_tracing_shows_answers_and_failures_of_each_call(
    make_host: MakeHost, make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def lookup(code: str) -> list[Any]:
        return [Candidate(wallet="Wechat-Offline", note=f"server lookup of {code}")]

    def observer(event: Event) -> None:
        raise ValueError("screen off")

    monkeypatch.setenv("PAYCODE_TRACE_PLUGINS", "1")
    host = make_host(
        make_plugin("lookup", paycode_classify=lookup), make_plugin("screen", paycode_payment_event=observer)
    )
    host.classify("280000000000001234")
    host.emit("payment.state", order_id="o-1")
    err = capsys.readouterr().err
    assert "paycode trace: call paycode_classify(code='2800**********1234') -> lookup\n" in err
    assert "paycode trace: paycode_classify <- lookup: [Candidate(wallet='Wechat-Offline', " in err
    assert "note='server lookup of 2800**********1234')]\n" in err
    assert "paycode trace: call paycode_payment_event(event=Event(payment.state)) -> screen\n" in err
    assert "paycode trace: paycode_payment_event <- screen: raised ValueError: screen off\n" in err
    assert "280000000000001234" not in err


# ---------------------------------------------------------------------------- lookups


def test_signer_lookup(make_host: MakeHost) -> None:
    host = make_host(sign_type="MD5")
    assert host.signer().sign_type == "MD5"
    assert host.signer("sha256").sign_type == "SHA256"
    with pytest.raises(ConfigError, match="signType 'RSA' is not installed; installed: MD5, SHA256"):
        host.signer("RSA")


def test_gateway_choice(make_host: MakeHost, make_plugin: MakePlugin) -> None:
    made: list[tuple[str, Settings, PluginHost]] = []

    def gateway(name: str, asynchronous: bool = False) -> GatewayType:
        def factory(settings: Settings, host: PluginHost) -> str:
            made.append((name, settings, host))
            return f"{name} client"

        return GatewayType(name, factory, async_factory=factory if asynchronous else None)

    plugin = make_plugin(
        "gateways", paycode_register_gateways=registering("gateways", gateway("sandbox", True), gateway("pingpong"))
    )
    sandbox_host = make_host(plugin, disable_plugins=("sandbox", "pingpong"))
    assert sandbox_host.gateway() == "sandbox client"
    assert sandbox_host.async_gateway() == "sandbox client"
    assert made[0][2] is sandbox_host
    pingpong_host = make_host(plugin, gateway="sg", disable_plugins=("sandbox", "pingpong"))
    assert pingpong_host.gateway() == "pingpong client"
    with pytest.raises(ConfigError, match="gateway 'pingpong' has no asyncio client"):
        pingpong_host.async_gateway()
    bare = make_host(disable_plugins=("sandbox", "pingpong"))
    with pytest.raises(ConfigError, match="gateway 'sandbox' is not installed; installed: none"):
        bare.gateway()


def test_lookup_errors_point_at_plugin_problems(make_host: MakeHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTINS, "ghost", "paycode.plugins.no_such_module")
    with pytest.raises(ConfigError, match=r"\(1 plugin problem\(s\); `paycode plugins` lists them\)"):
        make_host().signer("RSA")


def test_plugin_classes_and_instances(make_host: MakeHost) -> None:
    class Wallets:
        @hookimpl
        def paycode_register_wallets(self, register: Callable[[WalletType], None]) -> None:
            register(TEST_WALLETS[0])

    host = make_host(Wallets(), Wallets())
    assert [p["name"] for p in host.plugin_info() if p["source"] == "explicit"] == ["Wallets", "Wallets-2"]
    assert reasons(host, "Wallets-2") == [
        "wallet 'Wechat-Offline' is already registered by plugin Wallets (no distribution); this one is ignored"
    ]
    assert "Wallets" in repr(host)


def test_default_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYCODE_SIGN_TYPE", "MD5")
    monkeypatch.setenv("PAYCODE_JOURNAL", str(tmp_path / "j.sqlite3"))
    host = PluginHost(load_entrypoints=False)
    assert host.settings.sign_type == "MD5"
    assert host.signer().sign_type == "MD5"


# ---------------------------------------------------------------------------- plugin types


def _imported_modules(module: types.ModuleType) -> set[str]:
    """The paycode modules a module imports, at run time or for type checking only (``from .x import y``)."""
    import ast
    import inspect

    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("paycode."):
            names.add(node.module.removeprefix("paycode."))
    return names


def test_the_plugin_types_live_in_one_module_and_keep_their_old_names() -> None:
    import paycode.models
    import paycode.plugin_types
    import paycode.scanning

    kinds = {kind: spec.cls for kind, spec in paycode.host._KINDS.items()}
    assert {cls.__module__ for cls in kinds.values()} == {"paycode.plugin_types"}
    assert paycode.scanning.ScannerType is paycode.plugin_types.ScannerType is ScannerType
    assert paycode.scanning.Scanner is paycode.plugin_types.Scanner
    assert paycode.models.WalletType is paycode.plugin_types.WalletType is WalletType
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchType'"):
        paycode.models.NoSuchType  # noqa: B018


def test_imports_go_one_way_models_plugin_types_hookspecs_host() -> None:
    import paycode.hookspecs
    import paycode.plugin_types

    assert not {"host", "hookspecs"} & _imported_modules(paycode.plugin_types)
    assert "host" not in _imported_modules(paycode.hookspecs)


def test_importing_the_plugin_types_does_not_load_the_host(tmp_path: Any) -> None:
    import subprocess
    import sys

    probe = "import sys, paycode.plugin_types; print('paycode.host' in sys.modules, 'paycode.gateway' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "False False\n"), done.stderr


def test_a_strict_host_raises_a_taken_name_as_registration_conflict(
    make_host: MakeHost, make_plugin: MakePlugin
) -> None:
    from paycode.errors import PluginError, RegistrationConflict

    first = make_plugin("first", paycode_register_wallets=registering("wallets", TEST_WALLETS[0]))
    second = make_plugin("second", paycode_register_wallets=registering("wallets", TEST_WALLETS[0]))
    host = make_host(first, second)  # the default: the conflict is a problem, the others load
    assert [p.error for p in host.problems] == [RegistrationConflict]
    with pytest.raises(RegistrationConflict, match="wallet 'Wechat-Offline' is already registered by plugin first"):
        host.check()
    broken = make_plugin("broken", paycode_register_wallets=lambda register: 1 / 0)
    with pytest.raises(PluginError, match="raised ZeroDivisionError") as caught:
        make_host(broken).check()
    assert not isinstance(caught.value, RegistrationConflict)
