"""Shared fixtures: plugin hosts built from in-memory plugins, isolated from installed distributions.

- ``make_plugin(name, paycode_hook=function, ...)``: a plugin module whose functions are hook implementations.
- ``make_host(*plugins, load_entrypoints=False, **settings)``: a :class:`PluginHost` with the built-ins, the
  given plugins and ``Settings(**settings)`` (journal in the test's temporary folder).
- ``install_plugins(work, *sources)``: plugin distributions installed with pip into ``work/site`` (never into the
  test environment), returning the environment a subprocess needs to see them.
- ``wallets_plugin``: an in-memory plugin registering WeChat-, AlipayCN- and AlipayHK-shaped test wallets
  (:data:`TEST_WALLETS`), for tests that must not depend on the wallet distributions.
- ``base_host``: one host per test session with the installed wallets and the built-in signers (read it, never
  change it), for building sandboxes and clients.
- ``sandbox``: a :class:`~paycode.sandbox.SandboxServer` on 127.0.0.1 for the test, accepting ``base_host``'s
  wallets and signers; its options come from the closest ``@pytest.mark.sandbox(**options)`` (a module's
  ``pytestmark``, a class or a test), e.g. ``pytest.mark.sandbox(slow_seconds=0.5, notify_schedule=[0.05])``.
- ``settings_for(srv, tmp_path, **overrides)`` (a function: import it from ``.conftest``): a lane's settings for
  a sandbox or a DocGateway, with its credentials, a journal in ``tmp_path`` and short timings.
- ``lane_environment(monkeypatch, srv, journal, folder)``: this process set up as a lane pointed at a sandbox
  (working directory, ``PAYCODE_*`` variables), for tests of commands run in-process.
- ``tutorial_files(folder)``, ``files_shown(doc)``, ``copy_tutorial(folder, target)``: a tutorial's worked example
  (a plugin distribution under tests/), the files its page shows, and a clean copy of it to install.
- Tests that take more than a few seconds are marked ``slow``: ``pytest -m "not slow"`` leaves them out while
  working; CI and ``dev.py test`` run everything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from paycode import CodePattern, PollingPolicy, Settings, WalletType, hookimpl
from paycode.host import PluginHost

# the journal's two backends (SQLite, a throwaway PostgreSQL) for the journal tests here and in tests/store
from .store.fixtures import backend_kind, journal_backend, journal_setting, open_backend, pg_dsn, pg_server  # noqa: F401

if TYPE_CHECKING:
    from paycode.sandbox import SandboxServer
    from paycode.testing.docgateway import DocGateway

_ALIPAY = CodePattern(range(16, 25), ("25", "26", "27", "28", "29", "30"))

TEST_WALLETS = (
    WalletType(
        "Wechat-Offline",
        [CodePattern([18], ("13", "10", "11", "12", "14", "15"))],
        {"CNY", "HKD"},
        PollingPolicy(5.0, 30.0),
        display_name="WeChat Pay",
    ),
    WalletType("AlipayCN-Offline", [_ALIPAY], {"CNY"}, PollingPolicy(3.0, 60.0), display_name="Alipay"),
    WalletType("AlipayHK-Offline", [_ALIPAY], {"HKD"}, PollingPolicy(3.0, 60.0), display_name="AlipayHK"),
)


def build_plugin(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    """A module named ``name`` holding each keyword as a hook implementation."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


@pytest.fixture
def make_plugin() -> Callable[..., types.ModuleType]:
    return build_plugin


@pytest.fixture
def make_host(tmp_path: Path) -> Callable[..., PluginHost]:
    def make(*plugins: object, load_entrypoints: bool = False, **settings: Any) -> PluginHost:
        settings.setdefault("journal", str(tmp_path / "journal.sqlite3"))
        return PluginHost(Settings(**settings), load_entrypoints=load_entrypoints, plugins=plugins)

    return make


@pytest.fixture
def wallets_plugin() -> types.ModuleType:
    def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
        for wallet in TEST_WALLETS:
            register(wallet)

    return build_plugin("test_wallets", paycode_register_wallets=paycode_register_wallets)


@pytest.fixture(scope="session")
def install_plugins() -> Callable[..., dict[str, str]]:
    """``install(work, *sources)``: pip-install distribution folders into ``work/site``; the environment to use them.

    Nothing is downloaded (no index, no dependencies, no build isolation: setuptools comes from the test
    environment). The environment has ``PYTHONPATH=work/site``, no user site, no ``PAYCODE_*`` or ``PYTHON*``
    variables of the caller, and its state (the default journal) under ``work/state``.
    """

    def install(work: Path, *sources: Path) -> dict[str, str]:
        site = work / "site"
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
             "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), *map(str, sources)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYCODE_", "PYTHON"))}
        env.update(PYTHONPATH=str(site), PYTHONNOUSERSITE="1", XDG_STATE_HOME=str(work / "state"))
        return env

    return install


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox(**options): SandboxServer options of the sandbox fixture")


@pytest.fixture(scope="session")
def base_host() -> PluginHost:
    """A host with the installed wallets and the built-in signers, shared by the session: never change it."""
    return PluginHost(Settings())


@pytest.fixture
def sandbox(base_host: PluginHost, request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """A sandbox gateway on 127.0.0.1 for this test; options from the closest ``@pytest.mark.sandbox(...)``."""
    from paycode.sandbox import SandboxServer

    marker = request.node.get_closest_marker("sandbox")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    with SandboxServer(wallets=base_host.wallets.values(), signers=base_host.signers, **options) as srv:
        yield srv


def settings_for(srv: SandboxServer | DocGateway, tmp_path: Path, **overrides: Any) -> Settings:
    """A lane's settings for the gateway ``srv`` (the sandbox, or the documented gateway of paycode.testing):
    its credentials, a journal in ``tmp_path``, short timings; ``overrides`` are any other Settings fields."""
    c = srv.credentials
    values: dict[str, Any] = {
        "gateway": srv.base_url if hasattr(srv, "base_url") else srv.url,
        "acc_id": c.acc_id,
        "client_id": c.client_id,
        "salt": c.salt,
        "journal": str(tmp_path / "journal.sqlite3"),
        "poll_interval": 0.05,
        "deadline": 0.6,
        "read_timeout": 0.4,
        "connect_timeout": 0.5,
        **overrides,
    }
    return Settings(**values)


def lane_environment(monkeypatch: pytest.MonkeyPatch, srv: SandboxServer, journal: str, folder: Path) -> SandboxServer:
    """This process set up as a lane pointed at the sandbox ``srv``, for commands run in it; returns ``srv``.

    The working directory is ``folder`` (no stray paycode.toml), ``PAYCODE_CONFIG`` is unset, and
    ``PAYCODE_JOURNAL``, ``PAYCODE_GATEWAY`` and the credentials (``PAYCODE_ACC_ID``, ``PAYCODE_CLIENT_ID``,
    ``PAYCODE_SALT``) are set. A module whose commands need it overrides the sandbox fixture with it::

        @pytest.fixture
        def sandbox(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
            return lane_environment(monkeypatch, sandbox, str(tmp_path / "journal.sqlite3"), tmp_path)
    """
    monkeypatch.chdir(folder)
    monkeypatch.delenv("PAYCODE_CONFIG", raising=False)
    creds = srv.credentials
    for name, value in {
        "PAYCODE_JOURNAL": journal,
        "PAYCODE_GATEWAY": srv.base_url,
        "PAYCODE_ACC_ID": creds.acc_id,
        "PAYCODE_CLIENT_ID": creds.client_id,
        "PAYCODE_SALT": creds.salt,
    }.items():
        monkeypatch.setenv(name, value)
    return srv


# ---------------------------------------------------------------------------- tutorials

#: the harness file that keeps the repository's own test run out of a tutorial plugin's tests
TUTORIAL_HARNESS = frozenset({"conftest.py"})
#: a doc block that shows a file: a line "File `path`:", a blank line, then a fenced block (which may be marked
#: not to be run by the docs test, when the plugin's own tests import the plugin, installed only by its test)
DOC_FILE = re.compile(
    r"^File `(?P<path>[^`]+)`:\n\n(?:<!-- not-run -->\n)?```[a-z]*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL
)


def tutorial_files(folder: Path) -> dict[str, str]:
    """The files of a tutorial's plugin under ``folder`` (relative path -> text), without the test harness."""
    skip = {"__pycache__", ".hypothesis", "build"}
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.name not in TUTORIAL_HARNESS
        and not skip.intersection(p.parts)
        and not any(part.endswith(".egg-info") for part in p.parts)
    }


def files_shown(doc: Path) -> dict[str, str]:
    """The files a tutorial page shows (``File `path`:`` blocks): path -> text."""
    return {m["path"]: m["body"] for m in DOC_FILE.finditer(doc.read_text(encoding="utf-8"))}


def copy_tutorial(folder: Path, target: Path) -> Path:
    """A clean copy of a tutorial's plugin (no harness, caches or build output) at ``target``, to install."""
    ignore = shutil.ignore_patterns(*TUTORIAL_HARNESS, "__pycache__", "*.egg-info", "build", ".*")
    return Path(shutil.copytree(folder, target, ignore=ignore))
