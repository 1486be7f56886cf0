# ruff: noqa: RUF001  (the expected lines hold Chinese text with full-width punctuation)
"""The command line's cashier lines come from the page's catalogue, in the language of the environment.

``paycode pay`` against a sandbox on loopback with ``LANG=zh_CN.UTF-8`` (a real subprocess), the other
languages and outcomes in process; English stays the text the CLI always printed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode.cli import main
from paycode.cli._steps import StepPrinter, describe
from paycode.errors import ConfigError
from paycode.messages import LANGUAGE_VARIABLES, LANGUAGES, cli_language, message
from paycode.models import Event
from paycode.sandbox import SandboxServer

WECHAT = "13000000000000"  # + 4 digits: an 18-digit WeChat test code of the sandbox

pytestmark = pytest.mark.sandbox()


@pytest.fixture
def env(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in [k for k in os.environ if k.startswith("PAYCODE_") or k in LANGUAGE_VARIABLES]:
        monkeypatch.delenv(name)
    values = {
        "PAYCODE_GATEWAY": sandbox.base_url,
        "PAYCODE_ACC_ID": sandbox.credentials.acc_id,
        "PAYCODE_CLIENT_ID": sandbox.credentials.client_id,
        "PAYCODE_SALT": sandbox.credentials.salt,
        "PAYCODE_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "PAYCODE_READ_TIMEOUT": "0.4",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return values


def pay_lines(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    status = main(["pay", "--amount", "12.50", "--currency", "CNY", "--poll-interval", "0.05", *args])
    return status, capsys.readouterr().out.splitlines()


def test_a_chinese_run_of_paycode_pay(env: dict[str, str], tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in LANGUAGE_VARIABLES}
    run = subprocess.run(
        [sys.executable, "-m", "paycode", "pay", "--amount", "12.50", "--currency", "CNY", "--code", WECHAT + "0001"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env={**clean, **env, "LANG": "zh_CN.UTF-8"},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("scan      1300**********0001")  # the operator's trace is unchanged
    assert lines[-1].startswith("已付款 12.50 CNY，订单号 pc") and "，交易号 " in lines[-1], lines[-1]
    assert env["PAYCODE_SALT"] not in run.stdout + run.stderr


def test_english_is_the_default_and_keeps_its_text(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, lines = pay_lines(capsys, "--code", WECHAT + "0001")
    assert status == 0 and lines[-1].startswith("PAID 12.50 CNY order pc") and " transaction " in lines[-1]
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")  # a language paycode does not speak: English
    status, lines = pay_lines(capsys, "--code", WECHAT + "0002")
    assert status == 1 and lines[-1].startswith("NOT PAID (FAILED) order pc") and lines[-1].endswith("fresh code")


def test_declined_in_traditional_chinese(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("LC_MESSAGES", "zh_TW.UTF-8")  # LC_MESSAGES before LANG
    status, lines = pay_lines(capsys, "--code", WECHAT + "0002")
    assert status == 1
    assert lines[-1].startswith("支付被拒絕，請顧客換一個付款碼（FAILED，訂單號 pc"), lines[-1]


def test_closing_and_closed_in_simplified_chinese(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYCODE_LANG", "zh-Hans")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # PAYCODE_LANG comes first
    status, lines = pay_lines(capsys, "--code", WECHAT + "0004", "--deadline", "0.6")
    assert status == 1
    assert "close     正在关闭订单…（deadline）" in lines, lines
    assert lines[-1].startswith("订单已关闭，未扣款（CLOSED，订单号 pc"), lines[-1]


def test_the_scan_prompt_in_the_cashiers_language(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scans = tmp_path / "scans.txt"
    scans.write_text(WECHAT + "0001\n")
    monkeypatch.setenv("LANG", "zh_HK.UTF-8")
    status, lines = pay_lines(capsys, "--scanner", f"replay://{scans}")
    assert status == 0
    assert lines[0] == "請掃描顧客的付款碼" == message("scan", "zh-Hant")
    assert lines[-1].startswith("已付款 12.50 CNY，訂單號 pc")


def test_an_unknown_paycode_lang_is_a_clear_error(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    monkeypatch.setenv("PAYCODE_LANG", "klingon")
    before = len(sandbox.orders())
    assert main(["pay", "--amount", "1", "--currency", "CNY", "--code", WECHAT + "0001"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("paycode: error: PAYCODE_LANG 'klingon' is not a language of paycode's messages")
    assert "accepted: zh-Hans, zh-Hant, en" in captured.err and captured.err.count("\n") == 1
    assert len(sandbox.orders()) == before


def test_the_progress_line_shows_the_seconds_left_then_closing() -> None:
    printer = StepPrinter(language="zh-Hans", progress=False, out=io.StringIO())
    request = Event("payment.request", {"time_expire": 1000, "amount": "1.00", "currency": "CNY"}, "o-1", 970.0)
    printer.paycode_payment_event(request)
    assert printer.progress_text(now=975.2) == "等待顾客输入密码（剩余 25 秒）"
    printer.paycode_payment_event(Event("payment.poll", {"poll": 1, "seconds_left": 12.4}, "o-1", 980.0))
    assert printer.progress_text(now=981.0) == "等待顾客输入密码（剩余 11 秒）"
    assert printer.progress_text(now=2000.0) == "等待顾客输入密码（剩余 0 秒）"
    printer.paycode_payment_event(Event("payment.close", {"step": "closing", "reason": "cancelled"}, "o-1"))
    assert printer.progress_text() == message("cancelling", "zh-Hans") == "正在关闭订单…"
    english = StepPrinter(language="en", progress=False, out=io.StringIO())
    english.paycode_payment_event(Event("payment.poll", {"poll": 1, "seconds_left": 30}, "o-2", 100.0))
    assert english.progress_text(now=100.0) == "Waiting for the shopper's password (30 s left)"


def test_refunded_and_closing_lines() -> None:
    done = Event("payment.refund", {"step": "done", "amount": "2.50", "currency": "CNY", "status": "SUCCESS"}, "o-1")
    assert describe(done) == "refund    done 2.50 CNY SUCCESS"  # the English the CLI always printed
    assert describe(done, "zh-Hans") == "refund    已退款 2.50 CNY（SUCCESS）"
    assert describe(done, "zh-Hant") == "refund    已退款 2.50 CNY（SUCCESS）"
    pending = Event("payment.refund", {"step": "done", "amount": "2.50", "currency": "CNY", "status": "PROCESSING"})
    assert describe(pending, "zh-Hans") == "refund    done 2.50 CNY PROCESSING"  # not refunded yet: the trace
    closing = Event("payment.close", {"step": "closing", "reason": "deadline", "time_expire": 1}, "o-1")
    assert describe(closing) == "close     closing: deadline"
    assert describe(closing, "zh-Hant") == "close     正在關閉訂單…（deadline）"


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh-Hans"),
        ({"LANG": "zh_SG.GB18030"}, "zh-Hans"),
        ({"LANG": "zh"}, "zh-Hans"),
        ({"LANG": "zh_TW.UTF-8"}, "zh-Hant"),
        ({"LANG": "zh_HK.Big5-HKSCS"}, "zh-Hant"),
        ({"LANG": "zh_MO"}, "zh-Hant"),
        ({"LANG": "zh_TW.UTF-8@radical"}, "zh-Hant"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "ja_JP.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}, "zh-Hant"),
        ({"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8", "LC_ALL": "zh_HK.UTF-8"}, "zh-Hant"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": ""}, "zh-Hans"),  # an empty variable is not set
        ({"PAYCODE_LANG": "zh-Hant", "LC_ALL": "zh_CN.UTF-8"}, "zh-Hant"),
        ({"PAYCODE_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"PAYCODE_LANG": "zh_CN.UTF-8"}, "zh-Hans"),
        ({"PAYCODE_LANG": " zh-hans "}, "zh-Hans"),
    ],
)
def test_the_language_from_the_environment(environ: dict[str, str], language: str) -> None:
    assert cli_language(environ) == language


@pytest.mark.parametrize("value", ["fr", "klingon", "C", "de_DE.UTF-8"])
def test_paycode_lang_must_name_a_language_it_speaks(value: str) -> None:
    with pytest.raises(ConfigError, match="accepted: zh-Hans, zh-Hant, en"):
        cli_language({"PAYCODE_LANG": value})


@given(st.dictionaries(st.sampled_from(LANGUAGE_VARIABLES[1:]), st.text(max_size=30)))
def test_the_locale_never_fails(environ: dict[str, str]) -> None:
    assert cli_language(environ) in LANGUAGES
