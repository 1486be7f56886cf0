"""The core commands: plugins, classify, sign, verify, scan, devices (exit statuses, output, one-line errors)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paycode.cli
import paycode.gateway
import paycode.host
import pytest
from paycode import ScannerType, hookimpl
from paycode.cli import main
from paycode.errors import ScannerExhausted, ScannerGone
from paycode.plugins import BUILTINS

from .conftest import TEST_WALLETS

WECHAT = "130000000000000001"
ALIPAY = "280000000000000002"
SALT = "s3cret-salt"


class Run:
    """The outcome of one in-process ``paycode`` command."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


class FakeEntryPoint:
    def __init__(self, name: str, plugin: object) -> None:
        self.name, self.value, self.plugin = name, f"tests:{name}", plugin
        self.dist = types.SimpleNamespace(metadata={"Name": f"paycode-{name}"}, version="0.0.1")

    def load(self) -> object:
        return self.plugin


class WalletsPlugin:
    @hookimpl
    def paycode_register_wallets(self, register: Callable[[Any], None]) -> None:
        for wallet in TEST_WALLETS:
            register(wallet)


@pytest.fixture
def paycode_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    """Run ``paycode ARGS`` in this process with the test wallets as the only installed distribution."""
    for name in list(os.environ):
        if name.startswith("PAYCODE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paycode.host, "_entry_points", lambda: [FakeEntryPoint("wallets", WalletsPlugin())])

    def run(*args: str, stdin: bytes | None = None) -> Run:
        capsys.readouterr()
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main(list(args))
        out, err = capsys.readouterr()
        assert WECHAT not in out + err and ALIPAY not in out + err, "a payment code was printed unmasked"
        if code == 2:
            assert len(err.splitlines()) == 1 and err.startswith("paycode: error: "), err
        return Run(code, out, err)

    return run


Cli = Callable[..., Run]


# ---------------------------------------------------------------------------- plugins


def test_plugins_lists_name_distribution_version_hooks_and_registrations(paycode_cli: Cli) -> None:
    result = paycode_cli("plugins")
    assert result.code == 0
    assert "wallets  paycode-wallets 0.0.1  (entrypoint)" in result.out
    assert "  wallets: Wechat-Offline, AlipayCN-Offline, AlipayHK-Offline" in result.out
    assert "  signers: SHA256, MD5" in result.out
    assert "  hooks: paycode_register_scanners" in result.out


def test_plugins_json_includes_problems(paycode_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTINS, "ghost", "paycode.plugins.no_such_module")
    result = paycode_cli("plugins", "--json")
    assert result.code == 0
    lines = result.json_lines()
    plugins = {line["name"]: line for line in lines if "name" in line}
    assert plugins["wallets"]["distribution"] == "paycode-wallets"
    assert plugins["wallets"]["version"] == "0.0.1"
    assert plugins["wallets"]["hooks"] == ["paycode_register_wallets"]
    assert plugins["replay"]["registers"]["scanners"] == ["replay"]
    [problem] = [line for line in lines if "problem" in line]
    assert problem["plugin"] == "ghost" and problem["distribution"] == "paycode"
    assert "failed to import paycode.plugins.no_such_module" in problem["problem"]


def test_plugins_shows_a_refused_hook_wrapper(paycode_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    class Wrapping:
        @hookimpl(wrapper=True)
        def paycode_payment_event(self, event: Any) -> Any:
            return (yield)

    monkeypatch.setattr(paycode.host, "_entry_points", lambda: [FakeEntryPoint("wrapping", Wrapping())])
    result = paycode_cli("plugins", "--json")
    assert result.code == 0
    [problem] = [line for line in result.json_lines() if "problem" in line]
    assert (problem["plugin"], problem["distribution"]) == ("wrapping", "paycode-wrapping")
    assert problem["problem"].startswith("paycode_payment_event: hook wrappers (wrapper=True or hookwrapper=True)")
    assert "wrapping" not in [line.get("name") for line in result.json_lines()]


# ---------------------------------------------------------------------------- classify


def test_classify_one_wallet(paycode_cli: Cli) -> None:
    result = paycode_cli("classify", WECHAT)
    assert (result.code, result.out) == (0, "1300**********0001: Wechat-Offline (WeChat Pay)\n")
    hk = paycode_cli("classify", ALIPAY, "--currency", "hkd", "--json")
    assert hk.code == 0
    assert hk.json_lines() == [
        {
            "code": "2800**********0002",
            "length": 18,
            "status": "one",
            "wallet": "AlipayHK-Offline",
            "candidates": ["AlipayHK-Offline"],
            "reason": "AlipayHK-Offline, accepted by its patterns",
            "cause": "",
        }
    ]


def test_classify_ambiguous_and_none_exit_1(paycode_cli: Cli) -> None:
    ambiguous = paycode_cli("classify", ALIPAY)
    assert ambiguous.code == 1
    assert ambiguous.out.startswith("2800**********0002: ambiguous: AlipayCN-Offline and AlipayHK-Offline")
    assert "--currency CNY or HKD" in ambiguous.out
    letters = paycode_cli("classify", "13000000000000000A", "--json")
    assert letters.code == 1
    assert letters.json_lines()[0]["cause"] == "characters"
    short = paycode_cli("classify", "1300")
    assert short.code == 1
    assert "no wallet: no wallet accepts this code" in short.out
    assert "Wechat-Offline: length 4, expected 18 digits" in short.out


def test_classify_settings_from_the_environment(paycode_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYCODE_WALLETS", "Wechat-Offline,AlipayCN-Offline")
    assert paycode_cli("classify", ALIPAY).out == "2800**********0002: AlipayCN-Offline (Alipay)\n"


def test_classify_bad_currency_is_a_usage_error(paycode_cli: Cli) -> None:
    result = paycode_cli("classify", WECHAT, "--currency", "RMB")
    assert result.code == 2
    assert "currency 'RMB' is not an ISO 4217 code" in result.err


# ---------------------------------------------------------------------------- sign and verify


def reference(message: dict[str, str], algorithm: str = "sha256") -> str:
    content = SALT + "&".join(f"{k}={v}" for k, v in sorted(message.items()) if k != "sign" and v)
    return hashlib.new(algorithm, content.encode()).hexdigest().upper()


MESSAGE = {
    "accId": "2023042011040310224447",
    "clientId": "2023042011040310224",
    "signType": "SHA256",
    "version": "1.0",
    "bizContent": '{"amount":12.50,"currency":"CNY","requestId":"r-1"}',
}


@pytest.fixture
def salt_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_PAYCODE_SALT", SALT)
    return "TEST_PAYCODE_SALT"


def test_sign_prints_the_signature_alone(paycode_cli: Cli, salt_env: str, tmp_path: Path) -> None:
    path = tmp_path / "message.json"
    path.write_text(json.dumps(MESSAGE))
    from_file = paycode_cli("sign", "--salt-env", salt_env, str(path))
    assert (from_file.code, from_file.out, from_file.err) == (0, reference(MESSAGE) + "\n", "")
    from_stdin = paycode_cli("sign", "--salt-env", salt_env, stdin=json.dumps(MESSAGE).encode())
    assert from_stdin.out == from_file.out
    md5_message = {k: v for k, v in MESSAGE.items() if k != "signType"}
    md5 = paycode_cli("sign", "--sign-type", "MD5", "--salt-env", salt_env, "-", stdin=json.dumps(md5_message).encode())
    assert md5.out == reference(md5_message, "md5") + "\n"


def test_sign_with_a_salt_file(paycode_cli: Cli, tmp_path: Path) -> None:
    salt_file = tmp_path / "salt"
    salt_file.write_text(SALT + "\n")
    salt_file.chmod(0o600)
    message = tmp_path / "m.json"
    message.write_text(json.dumps(MESSAGE))
    assert paycode_cli("sign", "--salt-file", str(salt_file), str(message)).out == reference(MESSAGE) + "\n"
    salt_file.chmod(0o644)
    exposed = paycode_cli("sign", "--salt-file", str(salt_file), str(message))
    assert exposed.code == 2 and "chmod 600" in exposed.err


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        ((), b"{}", "one of the arguments --salt-env --salt-file is required"),
        (("--salt-env", "UNSET_PAYCODE_VAR"), b"{}", "UNSET_PAYCODE_VAR is not set or empty"),
        (("--salt-env", "TEST_PAYCODE_SALT", "/no/such/file.json"), None, "cannot be read: No such file"),
        (("--salt-env", "TEST_PAYCODE_SALT"), b"accId=1", "is not JSON (Expecting value at line 1 column 1)"),
        (("--salt-env", "TEST_PAYCODE_SALT"), b"[]", "is a JSON array, not an object"),
        (("--salt-env", "TEST_PAYCODE_SALT"), b'{"signType":"RSA"}', "signType 'RSA' is not installed; installed: MD5"),
        (("--salt-env", "TEST_PAYCODE_SALT", "--sign-type", "MD5"), b'{"signType":"SHA256"}', "disagrees"),
        (("--salt-env", "TEST_PAYCODE_SALT"), b'{"bizContent":{"a":1}}', "bizContent' is a JSON object"),
    ],
)
def test_sign_bad_input_exits_2_with_one_line(
    paycode_cli: Cli, salt_env: str, args: tuple[str, ...], stdin: bytes | None, fragment: str
) -> None:
    result = paycode_cli("sign", *args, stdin=stdin)
    assert result.code == 2
    assert fragment in result.err
    assert result.out == ""
    assert SALT not in result.err


def test_verify_valid_and_invalid(paycode_cli: Cli, salt_env: str) -> None:
    good = {**MESSAGE, "sign": reference(MESSAGE)}
    valid = paycode_cli("verify", "--salt-env", salt_env, stdin=json.dumps(good).encode())
    assert (valid.code, valid.out) == (0, "valid (SHA256)\n")
    lower = paycode_cli(
        "verify", "--salt-env", salt_env, stdin=json.dumps({**good, "sign": good["sign"].lower()}).encode()
    )
    assert lower.code == 0
    tampered = {**good, "bizContent": good["bizContent"].replace("12.50", "1250")}
    invalid = paycode_cli("verify", "--salt-env", salt_env, stdin=json.dumps(tampered).encode())
    assert invalid.code == 1 and invalid.out.startswith("invalid: the signature does not match")
    unsigned = paycode_cli("verify", "--salt-env", salt_env, stdin=json.dumps(MESSAGE).encode())
    assert (unsigned.code, unsigned.out) == (1, "invalid: the message has no sign field\n")
    md5 = {**MESSAGE, "signType": "MD5"}
    md5["sign"] = reference(md5, "md5")
    assert paycode_cli("verify", "--salt-env", salt_env, stdin=json.dumps(md5).encode()).out == "valid (MD5)\n"
    garbage = paycode_cli("verify", "--salt-env", salt_env, stdin=b"\xff")
    assert garbage.code == 2 and "not UTF-8" in garbage.err


# ---------------------------------------------------------------------------- scan and devices


@pytest.fixture
def scans_file(tmp_path: Path) -> Path:
    path = tmp_path / "scans.txt"
    path.write_text(f"]C0{WECHAT}\n]Q1{ALIPAY}\\x0d\n")
    return path


def test_scan_json_lines(paycode_cli: Cli, scans_file: Path) -> None:
    result = paycode_cli("scan", "--scanner", f"replay://{scans_file}", "--json")
    assert result.code == 0
    lines = result.json_lines()
    assert [{k: v for k, v in line.items() if k != "time"} for line in lines] == [
        {
            "text": "1300**********0001",
            "length": 18,
            "symbology": "code128",
            "aim": "]C0",
            "source": f"replay://{scans_file}",
        },
        {
            "text": "2800**********0002",
            "length": 18,
            "symbology": "qr",
            "aim": "]Q1",
            "source": f"replay://{scans_file}",
        },
    ]
    assert all(isinstance(line["time"], float) and line["time"] > 1.6e9 for line in lines)


def test_scan_count_human_output_and_scanner_setting(
    paycode_cli: Cli, scans_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYCODE_SCANNER", f"replay://{scans_file}")
    result = paycode_cli("scan", "--count", "1")
    assert (result.code, result.out) == (0, "1300**********0001  18 chars  code128 ]C0\n")
    short = paycode_cli("scan", "--count", "3")
    assert short.code == 0 and "input ended after 2 of 3 scans" in short.err


def test_scan_of_an_empty_input_says_so(paycode_cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = paycode_cli("scan", "--scanner", f"replay://{empty}")
    assert (result.code, result.out) == (0, "")
    assert f"the scanner's input ended before any scan (replay://{empty})" in result.err


def test_scan_timeout_exits_1(paycode_cli: Cli, scans_file: Path) -> None:
    result = paycode_cli("scan", "--scanner", f"replay://{scans_file}?delay=30", "--timeout", "0.05")
    assert result.code == 1
    assert result.out.count("\n") == 1
    assert result.err == f"paycode: error: no scan from replay://{scans_file}?delay=30 within 0.05 s\n"


def test_scan_reports_a_vanishing_scanner_on_stderr(paycode_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []

    class Flaky:
        def __init__(self, url: Any) -> None:
            pass

        def open(self) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                raise ScannerGone("device unplugged")

        def read(self, timeout: float | None) -> Any:
            raise ScannerExhausted("done")

        def close(self) -> None:
            pass

    class FlakyPlugin:
        @hookimpl
        def paycode_register_scanners(self, register: Callable[[ScannerType], None]) -> None:
            register(ScannerType("flaky", Flaky))

    monkeypatch.setattr(paycode.host, "_entry_points", lambda: [FakeEntryPoint("flaky", FlakyPlugin())])
    result = paycode_cli("scan", "--scanner", "flaky://", "--timeout", "5")
    assert result.code == 0
    assert result.err.splitlines() == [
        "paycode: scanner.gone flaky://: device unplugged (retrying in 0.2 s)",
        "paycode: scanner.reopened flaky://",
        "paycode: the scanner's input ended before any scan (flaky://)",
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--scanner", "usb://1"), "unknown scanner scheme usb://"),
        (("--scanner", "replay:///x?speed=1"), "does not take parameter speed; accepted: code_id, delay"),
        (("--scanner", "/dev/ttyACM0"), "is not a URL"),
        (("--scanner", "replay:///no/such/file"), "replay file '/no/such/file' cannot be read"),
        (("--scanner", "stdin://", "--count", "0"), "argument --count: '0' is not a whole number >= 1"),
        (("--scanner", "stdin://", "--timeout", "soon"), "argument --timeout: 'soon' is not a number of seconds > 0"),
        ((), "no scanner given"),
    ],
)
def test_scan_bad_input_exits_2(paycode_cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    result = paycode_cli("scan", *args)
    assert result.code == 2
    assert fragment in result.err


def test_devices_and_scan_list(paycode_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    class Listing:
        @hookimpl
        def paycode_register_scanners(self, register: Callable[[ScannerType], None]) -> None:
            def present() -> list[dict[str, Any]]:
                return [{"url": "fake:///dev/scanner0", "description": "Fake 2D scanner"}]

            def broken() -> list[dict[str, Any]]:
                raise OSError("permission denied")

            register(ScannerType("fake", factory=lambda url: None, list_devices=present))  # type: ignore[arg-type,return-value]
            register(ScannerType("broken", factory=lambda url: None, list_devices=broken))  # type: ignore[arg-type,return-value]

    monkeypatch.setattr(paycode.host, "_entry_points", lambda: [FakeEntryPoint("listing", Listing())])
    human = paycode_cli("devices")
    assert (human.code, human.out) == (0, "fake:///dev/scanner0  Fake 2D scanner\n")
    assert human.err == "paycode: broken:// could not list its devices: OSError: permission denied\n"
    listed = paycode_cli("scan", "--list", "--json")
    assert listed.json_lines() == [{"scheme": "fake", "url": "fake:///dev/scanner0", "description": "Fake 2D scanner"}]


def test_devices_when_nothing_can_list(paycode_cli: Cli) -> None:
    result = paycode_cli("devices")
    assert (result.code, result.out) == (
        0,
        "no scanner devices found (schemes that can list devices: none installed)\n",
    )


def test_scan_from_stdin_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCODE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "paycode", "scan", "--scanner", "stdin://", "--json"],
        input=f"]C0{WECHAT}\r\n\n{ALIPAY}".encode(),
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(line["text"], line["symbology"], line["source"]) for line in lines] == [
        ("1300**********0001", "code128", "stdin://"),
        ("2800**********0002", None, "stdin://"),
    ]
    # the blank line is reported as an empty scan on stderr, not printed
    assert proc.stderr.decode() == "paycode: scanner.error stdin://: a scan was empty after normalisation\n"


# ---------------------------------------------------------------------------- command modules that cannot load

BROKEN_MODULES = {
    "import_inside": "from paycode.gateway import no_such_name\n",
    "missing_dependency": "import paycode_no_such_dependency\n",
    "syntax": "HELP = 'x'\ndef run(args:\n",
    "raises": "raise RuntimeError('cannot start')\n",
    "incomplete": "HELP = 'half written'\n\ndef add_arguments(parser):\n    pass\n",
    "options_need_an_extra": "HELP = 'x'\nrun = print\n\ndef add_arguments(parser):\n    import paycode_no_extra\n",
}


@pytest.fixture
def command_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``register(name=source_or_None, ...)``: commands added to COMMANDS; None names a module that does not exist."""
    folder = tmp_path / "commands"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))

    def register(**commands: str | None) -> None:
        for name, source in commands.items():
            module = f"paycode_test_cmd_{name}"
            if source is not None:
                (folder / f"{module}.py").write_text(source, encoding="utf-8")
            monkeypatch.setitem(paycode.cli.COMMANDS, name, module)
            monkeypatch.delitem(sys.modules, module, raising=False)

    return register


@pytest.mark.parametrize("kind", sorted(BROKEN_MODULES))
def test_a_broken_command_module_is_an_error_that_names_it(
    paycode_cli: Cli, command_modules: Callable[..., None], kind: str
) -> None:
    command_modules(broken=BROKEN_MODULES[kind])
    result = paycode_cli("broken", "--anything", "x")
    assert result.code == paycode.cli.EXIT_UNAVAILABLE == 70
    assert result.out == ""
    assert result.err.startswith("paycode: error: command broken is unavailable: ")
    assert "paycode_test_cmd_broken" in result.err
    assert len(result.err.splitlines()) == 1 and "Traceback" not in result.err


def test_help_lists_a_broken_command_and_warns_the_other_commands_still_run(
    paycode_cli: Cli, command_modules: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    command_modules(broken=BROKEN_MODULES["import_inside"])
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    out, err = capsys.readouterr()
    assert exited.value.code == 0
    assert "unavailable (broken)" in out and "paycode_test_cmd_broken" in out
    assert err.splitlines() == [
        "paycode: warning: command broken is unavailable: importing paycode_test_cmd_broken failed: "
        "ImportError: cannot import name 'no_such_name' from 'paycode.gateway' "
        f"({Path(paycode.gateway.__file__)})"
    ]
    result = paycode_cli("plugins")
    assert (result.code, result.err) == (0, "")


def test_a_registered_module_that_does_not_exist_is_listed_and_refused_but_stays_quiet(
    paycode_cli: Cli, command_modules: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    command_modules(ghost=None)
    assert main([]) == 2  # no command: the listing, exit 2
    out, err = capsys.readouterr()
    assert "ghost        unavailable (missing)" in out
    assert err == ""
    result = paycode_cli("ghost")
    assert result.code == 70
    assert result.err == (
        "paycode: error: command ghost is registered but its module paycode_test_cmd_ghost is not installed "
        "(no module named 'paycode_test_cmd_ghost'); reinstall paycode or remove the command from "
        "paycode.cli.COMMANDS\n"
    )
    assert paycode_cli("--config", "paycode.toml", "ghost").code == 70
    assert paycode_cli("classify", WECHAT).code == 0


def test_every_registered_command_loads() -> None:
    for name, module in paycode.cli.COMMANDS.items():
        loaded = paycode.cli.load_command(name, module)
        assert not isinstance(loaded, paycode.cli.Unavailable) or loaded.state == "missing", loaded.message()
