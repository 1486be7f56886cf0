"""The three wallet plugins installed together: who owns a code once currency and merchant settings decide.

AlipayCN and AlipayHK share one code space, so the answer for an Alipay code depends on the
sale currency, the merchant's enabled wallets (``wallets``) and preference (``prefer_wallets``);
anything still undecided must be "ambiguous", naming both. The property test checks the host's
answer against that rule for every combination; the command-line tests check ``paycode classify``
and ``paycode pay`` (embedded sandbox) end to end, and the last test installs the core with a single
wallet into a fresh virtual environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import paycode_alipaycn
import paycode_alipayhk
import paycode_wechat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode import AmbiguousWalletError, Settings, WalletType
from paycode.cli import main as paycode_main
from paycode.host import PluginHost

ROOT = Path(__file__).resolve().parents[1]
WECHAT, ALIPAYCN, ALIPAYHK = paycode_wechat.WECHAT, paycode_alipaycn.ALIPAYCN, paycode_alipayhk.ALIPAYHK
WALLETS = (WECHAT, ALIPAYCN, ALIPAYHK)
NAMES = tuple(w.name for w in WALLETS)
DIGITS = "0123456789"
ALIPAY_CODE = "281234567890123456"  # in the shared AlipayCN / AlipayHK space
WECHAT_CODE = "134567890123456781"


@cache
def host_for(enabled: tuple[str, ...] | None = None, prefer: tuple[str, ...] = ()) -> PluginHost:
    """One host per merchant configuration, with the three wallet plugins and nothing installed besides."""
    settings = Settings(wallets=enabled, prefer_wallets=prefer)
    return PluginHost(settings, load_entrypoints=False, plugins=[paycode_wechat, paycode_alipaycn, paycode_alipayhk])


def expected_owners(
    code: str, currency: str | None, enabled: tuple[str, ...] | None, prefer: tuple[str, ...]
) -> list[str]:
    """The rule, written independently of the core: the wallets left after currency, enabled, preference."""
    left = [
        w.name
        for w in WALLETS
        if w.accepts(code) and (currency is None or currency in w.currencies) and (enabled is None or w.name in enabled)
    ]
    if len(left) > 1:
        preferred = [name for name in prefer if name in left]
        if preferred:
            return preferred[:1]
    return left


# ---------------------------------------------------------------------------- strategies


def _codes_of(wallet: WalletType) -> st.SearchStrategy[str]:
    shapes = [(p, n) for pattern in wallet.patterns for p in pattern.prefixes for n in pattern.lengths]
    return st.sampled_from(shapes).flatmap(
        lambda pn: st.text(DIGITS, min_size=pn[1] - len(pn[0]), max_size=pn[1] - len(pn[0])).map(
            lambda rest: pn[0] + rest
        )
    )


any_wallet_code = st.one_of(*(_codes_of(w) for w in WALLETS))
#: any digit string of a length some wallet uses, whoever (if anyone) owns it
any_digits = st.integers(16, 24).flatmap(lambda n: st.text(DIGITS, min_size=n, max_size=n))
currencies = st.sampled_from([None, "CNY", "HKD", "USD"])
enabled_sets = st.one_of(st.none(), st.sets(st.sampled_from(NAMES)).map(lambda s: tuple(sorted(s))))
preferences = st.lists(st.sampled_from(NAMES), unique=True, max_size=2).map(tuple)


# ---------------------------------------------------------------------------- the rule, as a property


@given(code=st.one_of(any_wallet_code, any_digits), currency=currencies, enabled=enabled_sets, prefer=preferences)
def test_no_code_is_claimed_by_two_wallets_once_currency_and_settings_decide(
    code: str, currency: str | None, enabled: tuple[str, ...] | None, prefer: tuple[str, ...]
) -> None:
    owners = expected_owners(code, currency, enabled, prefer)
    result = host_for(enabled, prefer).classify(code, currency)
    if len(owners) == 1:
        assert result.status == "one"
        assert result.wallet is not None and result.wallet.name == owners[0]
    elif owners:
        assert result.status == "ambiguous"
        assert result.wallet is None
        assert sorted(result.candidates) == sorted(owners)
    else:
        assert (result.status, result.wallet) == ("none", None)


@given(code=any_wallet_code)
def test_with_the_currency_given_every_accepted_currency_has_exactly_one_owner(code: str) -> None:
    for currency in ("CNY", "HKD"):
        owners = expected_owners(code, currency, None, ())
        assert len(owners) <= 1, (code, currency, owners)
        result = host_for().classify(code, currency)
        assert ([result.wallet.name] if result.wallet else []) == owners


# ---------------------------------------------------------------------------- the ambiguity cases, spelled out


def test_alipay_code_without_currency_is_ambiguous_naming_both_and_what_decides() -> None:
    result = host_for().classify(ALIPAY_CODE)
    assert result.status == "ambiguous"
    assert set(result.candidates) == {"AlipayCN-Offline", "AlipayHK-Offline"}
    assert "AlipayCN-Offline" in result.reason and "AlipayHK-Offline" in result.reason
    assert "currency" in result.reason.lower()
    with pytest.raises(AmbiguousWalletError) as raised:
        host_for().wallet_for(ALIPAY_CODE)
    assert "AlipayCN-Offline" in str(raised.value) and "AlipayHK-Offline" in str(raised.value)
    assert ALIPAY_CODE not in str(raised.value)  # masked


@pytest.mark.parametrize(
    ("currency", "enabled", "prefer", "owner"),
    [
        ("CNY", None, (), "AlipayCN-Offline"),
        ("HKD", None, (), "AlipayHK-Offline"),
        (None, ("AlipayCN-Offline", "Wechat-Offline"), (), "AlipayCN-Offline"),
        (None, ("AlipayHK-Offline",), (), "AlipayHK-Offline"),
        (None, None, ("AlipayHK-Offline",), "AlipayHK-Offline"),
        (None, None, ("Wechat-Offline", "AlipayCN-Offline"), "AlipayCN-Offline"),
        ("HKD", None, ("AlipayCN-Offline",), "AlipayHK-Offline"),  # a preference never overrides the currency
        ("CNY", ("AlipayCN-Offline", "AlipayHK-Offline"), (), "AlipayCN-Offline"),
    ],
)
def test_what_decides_an_alipay_code(
    currency: str | None, enabled: tuple[str, ...] | None, prefer: tuple[str, ...], owner: str
) -> None:
    result = host_for(enabled, prefer).classify(ALIPAY_CODE, currency)
    assert result.status == "one"
    assert result.wallet is not None and result.wallet.name == owner


@pytest.mark.parametrize(
    ("code", "currency", "enabled"),
    [
        (ALIPAY_CODE, "USD", ("Wechat-Offline",)),  # both Alipays take USD, neither is enabled
        (ALIPAY_CODE, "HKD", ("AlipayCN-Offline",)),  # the only enabled Alipay does not take HKD
        (ALIPAY_CODE, None, ("Wechat-Offline",)),  # no Alipay enabled
        (WECHAT_CODE, "USD", None),
        (WECHAT_CODE, None, ("AlipayCN-Offline", "AlipayHK-Offline")),
    ],
)
def test_when_nothing_is_left_the_code_is_refused(code: str, currency: str | None, enabled: tuple[str, ...]) -> None:
    result = host_for(enabled).classify(code, currency)
    assert (result.status, result.wallet) == ("none", None)
    assert result.reason


SUBSETS = [None, *(tuple(n for i, n in enumerate(NAMES) if mask >> i & 1) for mask in range(8))]
ORDERS = [(), *((a,) for a in NAMES), *((a, b) for a in NAMES for b in NAMES if a != b)]


@pytest.mark.parametrize("prefer", ORDERS, ids=lambda p: "+".join(p) or "no-preference")
@pytest.mark.parametrize("enabled", SUBSETS, ids=lambda e: "all" if e is None else "+".join(e) or "none-enabled")
def test_a_usd_alipay_code_is_decided_by_enabled_and_preferred_wallets(
    enabled: tuple[str, ...] | None, prefer: tuple[str, ...]
) -> None:
    """Both Alipay wallets take USD (V4 docs): only the enabled list or a preference can decide."""
    result = host_for(enabled, prefer).classify(ALIPAY_CODE, "USD")
    alipays = [n for n in ("AlipayCN-Offline", "AlipayHK-Offline") if enabled is None or n in enabled]
    chosen = next((n for n in prefer if n in alipays), None) if len(alipays) == 2 else None
    if len(alipays) == 1 or chosen:
        assert result.status == "one" and result.wallet is not None
        assert result.wallet.name == (chosen or alipays[0])
    elif not alipays:
        assert result.status == "none" and "not enabled" in result.reason
    else:
        assert result.status == "ambiguous" and set(result.candidates) == set(alipays)
        reason = result.reason
        assert "AlipayCN-Offline and AlipayHK-Offline both accept this code in USD" in reason
        assert "the currency cannot decide" in reason
        assert "enable only one of" in reason and "prefer_wallets" in reason and "--currency" not in reason


@pytest.mark.parametrize("currency", [None, "CNY", "HKD"])
def test_wechat_codes_are_never_ambiguous(currency: str | None) -> None:
    for code in WECHAT.examples:
        assert host_for().classify(code, currency).wallet is WECHAT


# ---------------------------------------------------------------------------- paycode classify


def _classify_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str, **env: str
) -> tuple[int, dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PAYCODE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = paycode_main(["classify", *args, "--json"])
    out = capsys.readouterr().out
    (line,) = out.splitlines()
    return status, json.loads(line)


@pytest.mark.parametrize(
    ("code", "currency", "env", "exit_status", "wallet"),
    [
        (WECHAT_CODE, "CNY", {}, 0, "Wechat-Offline"),
        (WECHAT_CODE, "HKD", {}, 0, "Wechat-Offline"),
        ("151234567890123452", "HKD", {}, 0, "Wechat-Offline"),
        ("160123456789012343", "HKD", {}, 0, "Wechat-Offline"),
        (ALIPAY_CODE, "CNY", {}, 0, "AlipayCN-Offline"),
        (ALIPAY_CODE, "HKD", {}, 0, "AlipayHK-Offline"),
        (ALIPAY_CODE, None, {"PAYCODE_WALLETS": "Wechat-Offline,AlipayHK-Offline"}, 0, "AlipayHK-Offline"),
        (ALIPAY_CODE, None, {"PAYCODE_PREFER_WALLETS": "AlipayCN-Offline"}, 0, "AlipayCN-Offline"),
        (ALIPAY_CODE, "USD", {"PAYCODE_PREFER_WALLETS": "AlipayHK-Offline"}, 0, "AlipayHK-Offline"),
        (ALIPAY_CODE, "USD", {"PAYCODE_WALLETS": "AlipayCN-Offline"}, 0, "AlipayCN-Offline"),
        (WECHAT_CODE, "USD", {}, 1, None),
        (WECHAT_CODE, "EUR", {}, 1, None),
        ("170000000000000000", "CNY", {}, 1, None),
    ],
)
def test_paycode_classify(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    code: str,
    currency: str | None,
    env: dict[str, str],
    exit_status: int,
    wallet: str | None,
) -> None:
    args = [code, "--currency", currency] if currency else [code]
    status, answer = _classify_cli(capsys, monkeypatch, tmp_path, *args, **env)
    assert (status, answer["wallet"]) == (exit_status, wallet)
    assert answer["status"] == ("one" if wallet else "none")
    assert code not in json.dumps(answer)


def test_paycode_classify_ambiguous(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, answer = _classify_cli(capsys, monkeypatch, tmp_path, ALIPAY_CODE)
    assert status == 1
    assert answer["status"] == "ambiguous" and answer["wallet"] is None
    assert set(answer["candidates"]) == {"AlipayCN-Offline", "AlipayHK-Offline"}
    assert "currency" in str(answer["reason"]).lower()


# ---------------------------------------------------------------------------- paycode pay, embedded sandbox


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYCODE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONNOUSERSITE="1", XDG_STATE_HOME=str(tmp_path / "state"), **extra)
    return env


@pytest.mark.parametrize(
    ("wallet", "currency"), [(WECHAT, "CNY"), (WECHAT, "HKD"), (ALIPAYCN, "CNY"), (ALIPAYHK, "HKD")]
)
def test_paycode_pay_succeeds_in_the_sandbox_with_each_wallets_test_code(
    tmp_path: Path, wallet: WalletType, currency: str
) -> None:
    code = wallet.patterns[0].make("001")  # sandbox scenario "success"
    env = _clean_env(tmp_path, PAYCODE_GATEWAY="sandbox", PAYCODE_JOURNAL=str(tmp_path / "journal.sqlite3"))
    done = subprocess.run(
        [sys.executable, "-m", "paycode", "pay", "--amount", "12.50", "--currency", currency, "--code", code, "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])  # the last line is the outcome
    assert (result["result"], result["status"]) == ("paid", "SUCCESS")
    assert (result["wallet"], result["currency"], result["amount"]) == (wallet.name, currency, "12.50")
    assert code not in done.stdout + done.stderr  # masked everywhere


# ---------------------------------------------------------------------------- one wallet alone, isolated


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Wheels of the core, the three wallets and their dependencies (test extras included), built once per session.

    Sources are copied first, so the build's ``build/`` and ``*.egg-info`` never land in the
    checkout. ``--no-build-isolation`` reuses this environment's setuptools (no build download);
    the dependencies (pluggy, attrs, httpx, …) come from PyPI through pip's cache. Each isolated
    environment then installs with ``--no-index`` from this folder only.
    """
    src = tmp_path_factory.mktemp("sources")
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "tests", ".*")
    core = src / "paycode"
    for part in ("core", "plugins"):
        shutil.copytree(ROOT / part, core / part, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, core / name)
    wallets = []
    for folder in ("wechat", "alipaycn", "alipayhk"):
        shutil.copytree(ROOT / "contrib_wallets" / folder, src / folder, ignore=skip)
        wallets.append(f"{src / folder}[test]")
    house = tmp_path_factory.mktemp("wheelhouse")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-build-isolation", "-w", str(house), str(core), *wallets],
        check=True,
        capture_output=True,
        timeout=600,
    )
    yield house


@pytest.mark.slow
@pytest.mark.parametrize(("folder", "wallet"), [("wechat", WECHAT), ("alipaycn", ALIPAYCN), ("alipayhk", ALIPAYHK)])
def test_a_single_wallet_installs_and_works_alone(
    wheelhouse: Path, tmp_path: Path, folder: str, wallet: WalletType
) -> None:
    """A fresh venv (no system site-packages, no pip of its own: this environment's pip installs into it
    with ``--python``) gets the core and ONE wallet, with its test extra, from the session wheelhouse.
    There, the wallet's own tests pass, ``paycode plugins --json`` lists that wallet only, and
    ``paycode classify`` gives it its example code."""
    distribution = f"paycode-{folder}"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "--python", str(python), "install",
         "--no-compile", "--no-index", "--find-links", str(wheelhouse), f"{distribution}[test]"],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    env = _clean_env(tmp_path)

    def paycode(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "-m", "paycode", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    tests = shutil.copytree(ROOT / "contrib_wallets" / folder / "tests", tmp_path / "tests")
    own_tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", str(tests)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr

    listing = paycode("plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    lines = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    assert [line for line in lines if "problem" in line] == []
    plugins = [line for line in lines if "problem" not in line]
    registered = sorted(name for p in plugins for name in p["registers"]["wallets"])
    assert registered == [wallet.name]
    assert distribution in {p["distribution"] for p in plugins}

    code, currency = wallet.examples[0], sorted(wallet.currencies)[0]
    classified = paycode("classify", code, "--currency", currency, "--json")
    assert classified.returncode == 0, classified.stderr
    assert json.loads(classified.stdout)["wallet"] == wallet.name
