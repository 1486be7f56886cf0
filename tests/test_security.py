"""Security: secrets never leave, codes are masked everywhere, servers bind loopback, notifications are verified
in constant time and refused for unknown orders.

The flows below run against a real sandbox gateway whose salt is a distinctive string, with every log record
captured at DEBUG, every event recorded and every command's output kept; then all of it, and the journal's
bytes, are searched for the salt and for the whole payment codes.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import paycode
import pytest
from paycode import PaycodeError, Settings, Terminal
from paycode.cli import main
from paycode.gateway import Credentials, PingPongClient, PingPongProtocol
from paycode.host import PluginHost
from paycode.journal import Journal
from paycode.masking import mask_code
from paycode.models import Money
from paycode.notifications import NotificationReceiver
from paycode.sandbox import FaultSwitch, SandboxServer
from paycode.settings import Settings as SettingsClass
from paycode.signing import signed
from paycode.testing import EventRecorder

from .conftest import settings_for

SALT = "S4LT-never-to-be-seen-0123456789"
WRONG_SALT = "WR0NG-salt-also-never-seen-98765"
ENDINGS = ("001", "002", "003", "004", "006")


Recorder = EventRecorder  # the shared recorder of paycode.testing

#: the sandbox fixture (tests/conftest.py): its salt is the distinctive SALT searched for below
pytestmark = pytest.mark.sandbox(salt=SALT, slow_seconds=0.5)


@attrs.define
class Evidence:
    """Everything paycode said, wrote or raised during a test."""

    texts: list[str] = attrs.field(factory=list)

    def add(self, *texts: Any) -> None:
        self.texts.extend(str(t) for t in texts)

    def assert_clean(self, codes: list[str], *secrets: str) -> None:
        blob = "\n".join(self.texts)
        assert blob, "nothing was captured"
        for secret in secrets:
            assert secret not in blob
        for code in codes:
            assert code not in blob, code
        assert any(mask_code(code) in blob for code in codes)  # the masked form is what shows


def lane_settings(srv: SandboxServer, tmp_path: Path, **overrides: Any) -> Settings:
    return settings_for(srv, tmp_path, **{"deadline": 0.5, "read_timeout": 0.3, "connect_timeout": 0.3, **overrides})


def codes_for(host: PluginHost) -> list[str]:
    """A test code of every scenario for every wallet, WeChat first (Alipay CN and HK share their codes)."""
    wallets = sorted(host.wallets.values(), key=lambda w: w.name != "Wechat-Offline")
    return list(dict.fromkeys(w.patterns[0].make(e) for w in wallets for e in ENDINGS))


# ---------------------------------------------------------------------------- secrets and codes


def test_nothing_leaks_from_a_terminal(
    sandbox: SandboxServer, tmp_path: Path, base_host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    evidence = Evidence()
    recorder = Recorder()
    settings = lane_settings(sandbox, tmp_path)
    host = PluginHost(settings, plugins=[recorder])
    codes = [base_host.wallets["Wechat-Offline"].patterns[0].make(e) for e in ENDINGS]
    with Terminal(settings, host=host) as terminal:
        for i, code in enumerate(codes):
            if i % 2:
                sandbox.faults.bad_signature = FaultSwitch(path="/v4/payment/unifiedPay", times=1)
            payment = terminal.pay("9.99", "CNY", code=code, order_id=f"o-{i}")
            evidence.add(payment, repr(payment))
            if payment.status.value == "SUCCESS":
                evidence.add(terminal.refund(f"o-{i}", "1.00").as_json())
        evidence.add(repr(settings), repr(host), repr(terminal.journal))
    # a lane with the wrong salt: every answer fails verification
    wrong = lane_settings(sandbox, tmp_path, salt=WRONG_SALT, journal=str(tmp_path / "wrong.sqlite3"))
    wrong_host = PluginHost(wrong, plugins=[recorder])
    proto = PingPongProtocol(
        base_url=sandbox.base_url,
        credentials=Credentials(wrong.acc_id or "", wrong.client_id or "", WRONG_SALT),
        signer=wrong_host.signer(),
        signers=wrong_host.signers,
        backoff=0.01,
    )
    with (
        PingPongClient(proto, read_timeout=0.3) as client,
        Terminal(wrong, host=wrong_host, gateway=client) as terminal,
    ):
        payment = terminal.pay("9.99", "CNY", code=codes[0], order_id="wrong-1")
        evidence.add(payment)
        try:
            terminal.query("wrong-1")
        except PaycodeError as exc:
            evidence.add(exc, repr(exc), exc.context)
    evidence.add(*(json.dumps(e.as_json()) for e in recorder.events), *(repr(e) for e in recorder.events))
    evidence.add(caplog.text, *(r.getMessage() for r in caplog.records))
    evidence.add(*(p.read_bytes().decode("latin-1") for p in tmp_path.iterdir() if p.is_file()))
    evidence.assert_clean(codes, SALT, WRONG_SALT)
    assert any(e.kind == "payment.unknown" for e in recorder.events)  # the faults were there to be logged


def test_nothing_leaks_from_the_command_line(
    sandbox: SandboxServer,
    tmp_path: Path,
    base_host: PluginHost,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    c = sandbox.credentials
    for name, value in {
        "PAYCODE_GATEWAY": sandbox.base_url,
        "PAYCODE_ACC_ID": c.acc_id,
        "PAYCODE_CLIENT_ID": c.client_id,
        "PAYCODE_SALT": SALT,
        "PAYCODE_JOURNAL": str(tmp_path / "journal.sqlite3"),
        "PAYCODE_DEADLINE": "0.5",
        "PAYCODE_POLL_INTERVAL": "0.05",
        "PAYCODE_READ_TIMEOUT": "0.3",
        "PAYCODE_TRACE_PLUGINS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    codes = codes_for(base_host)
    (tmp_path / "scans.txt").write_text("\n".join(codes) + "\n")
    evidence = Evidence()
    commands: list[list[str]] = [["plugins", "--json"], ["scan", "--scanner", f"replay://{tmp_path}/scans.txt",
                                 "--count", str(len(codes)), "--timeout", "5", "--json"]]  # fmt: skip
    for i, code in enumerate(codes[:5]):
        commands += [
            ["classify", code, "--json"],
            ["pay", "--amount", "3.00", "--currency", "CNY", "--code", code, "--order", f"c-{i}", "--json"],
            ["query", "--order", f"c-{i}", "--json"],
        ]
    commands += [["refund", "--order", "c-0", "--amount", "1.00", "--json"], ["history", "--json"], ["recover"]]
    commands += [["history", "--order", "c-3", "--json"], ["history", "--csv", "-"], ["recover", "--json"]]
    for argv in commands:
        main(argv)
        out, err = capsys.readouterr()
        evidence.add(out, err)
    monkeypatch.setenv("PAYCODE_SALT", WRONG_SALT)
    assert main(["query", "--order", "c-0", "--json"]) == 3  # answers signed with another salt are never trusted
    out, err = capsys.readouterr()
    evidence.add(out, err)
    evidence.add(caplog.text)
    evidence.add(*(p.read_bytes().decode("latin-1") for p in tmp_path.iterdir() if p.suffix != ".txt"))
    evidence.assert_clean(codes, SALT, WRONG_SALT)


def test_secrets_are_hidden_in_reprs_and_errors(tmp_path: Path) -> None:
    settings = SettingsClass(salt=SALT, acc_id="1", client_id="2", journal=str(tmp_path / "j.sqlite3"))
    assert SALT not in repr(settings) and "<hidden>" in repr(settings)
    assert SALT not in repr(Credentials("1", "2", SALT))
    secret = tmp_path / "salt"
    secret.write_text(SALT + "\n")
    secret.chmod(0o640)
    with pytest.raises(paycode.ConfigError) as info:
        SettingsClass.load(env={"PAYCODE_SALT_FILE": str(secret)})
    assert SALT not in str(info.value) and "chmod 600" in str(info.value)
    secret.chmod(0o600)
    loaded = SettingsClass.load(env={"PAYCODE_SALT_FILE": str(secret)})
    assert loaded.salt == SALT and SALT not in repr(loaded)


def test_the_journal_holds_no_whole_code_and_is_owner_only(tmp_path: Path, base_host: PluginHost) -> None:
    path = tmp_path / "state" / "journal.sqlite3"
    with Journal(path) as journal:
        for i, code in enumerate(codes_for(base_host)):
            with pytest.raises(paycode.JournalError, match="not masked"):
                journal.begin_order(
                    f"x-{i}", money=Money("1", "CNY"), wallet="W", code_masked=code, lane="l", deadline_at=0
                )
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)


# ---------------------------------------------------------------------------- loopback only


def _listening_host(address: tuple[Any, ...]) -> str:
    return str(address[0])


def test_sandbox_binds_loopback_unless_told_otherwise(base_host: PluginHost) -> None:
    with SandboxServer(wallets=base_host.wallets.values()) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        with socket.create_connection(("127.0.0.1", srv.port), timeout=2):
            pass
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(paycode.ConfigError, match="is not a loopback address"):
            SandboxServer(host=host)
    SandboxServer(host="0.0.0.0", allow_remote=True)  # told otherwise: accepted (not started here)


def test_notification_receiver_binds_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        creds = Credentials("1", "2", SALT)
        with NotificationReceiver(journal, credentials=creds, signers=PluginHost(Settings()).signers) as receiver:
            assert receiver.url.startswith("http://127.0.0.1:")
        for host in ("0.0.0.0", "10.1.2.3", "::"):
            with pytest.raises(paycode.UsageError, match="is not a loopback address"):
                NotificationReceiver(journal, credentials=creds, signers={}, host=host)
        NotificationReceiver(journal, credentials=creds, signers={}, host="0.0.0.0", allow_remote=True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sandbox", "--host", "0.0.0.0"], "sandbox host '0.0.0.0' is not a loopback address"),
        (["notifications", "--host", "0.0.0.0"], "is not a loopback address"),
    ],
)
def test_servers_on_the_command_line_refuse_other_hosts(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {"PAYCODE_ACC_ID": "1", "PAYCODE_CLIENT_ID": "2", "PAYCODE_SALT": SALT,
                        "PAYCODE_JOURNAL": str(tmp_path / "j.sqlite3")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and SALT not in err


# ---------------------------------------------------------------------------- notifications


@attrs.define
class Receiving:
    receiver: NotificationReceiver
    journal: Journal
    creds: Credentials
    signer: Any

    def notification(self, **biz: Any) -> bytes:
        body = {"notifyType": "RECHARGE", "currency": "CNY", "amount": "5.000000", "status": "SUCCESS", **biz}
        message = {"accId": self.creds.acc_id, "clientId": self.creds.client_id, "bizContent": json.dumps(body)}
        return json.dumps(signed(message, self.creds.salt, self.signer)).encode()


@pytest.fixture
def receiving(tmp_path: Path) -> Iterator[Receiving]:
    host = PluginHost(Settings())
    creds = Credentials("2023042011040310224447", "2023042011040310224", SALT)
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.begin_order(
            "known",
            money=Money("5.00", "CNY"),
            wallet="Wechat-Offline",
            code_masked="1300**0001",
            lane="l",
            deadline_at=time.time() + 30,
        )
        receiver = NotificationReceiver(journal, credentials=creds, signers=host.signers)
        yield Receiving(receiver, journal, creds, host.signer("SHA256"))


def test_notification_signatures_are_compared_in_constant_time(
    receiving: Receiving, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("paycode.signing.hmac.compare_digest", spy)
    good = receiving.notification(merchantTransactionId="known", transactionId="TX1")
    assert receiving.receiver.handle(good).outcome == "applied"
    message = json.loads(good)
    message["sign"] = message["sign"][:-1] + ("0" if message["sign"][-1] != "0" else "1")
    tampered = json.dumps(message).encode()
    result = receiving.receiver.handle(tampered)
    assert (result.outcome, result.http_status) == ("rejected", 401)
    assert len(calls) == 2  # both went through hmac.compare_digest
    assert receiving.journal.order("known").status.value == "SUCCESS"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"merchantTransactionId": "unknown-order"}, 404, "not in the journal"),
        ({"merchantTransactionId": "known", "notifyType": "REFUND", "merchantRefundId": "rf-x"}, 404, "not in the"),
        ({"merchantTransactionId": "known", "amount": "500.000000"}, 404, "says 500"),
        ({"merchantTransactionId": "known", "currency": "HKD"}, 404, "is in HKD"),
    ],
)
def test_notifications_for_what_the_journal_does_not_know_are_rejected(
    receiving: Receiving, change: dict[str, str], status: int, error: str
) -> None:
    result = receiving.receiver.handle(receiving.notification(**change))
    assert (result.outcome, result.http_status) == ("rejected", status)
    assert error in result.error
    record = receiving.journal.order("known")
    assert record is not None and record.status.value == "INIT"  # nothing was applied


def test_notifications_from_another_merchant_or_salt_are_rejected(receiving: Receiving) -> None:
    other = Receiving(receiving.receiver, receiving.journal, Credentials("9", "9", SALT), receiving.signer)
    assert receiving.receiver.handle(other.notification(merchantTransactionId="known")).http_status == 401
    forged = Receiving(
        receiving.receiver, receiving.journal, attrs.evolve(receiving.creds, salt=WRONG_SALT), receiving.signer
    )
    result = receiving.receiver.handle(forged.notification(merchantTransactionId="known"))
    assert (result.outcome, result.http_status) == ("rejected", 401)
    assert SALT not in result.error and WRONG_SALT not in result.error
    assert receiving.receiver.handle(b"not json").http_status == 400
    assert receiving.journal.order("known").status.value == "INIT"  # type: ignore[union-attr]
