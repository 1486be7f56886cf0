"""Feedback to a serial scanner: vendor command bytes from the URL, sent when the lane signals an outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from paycode import Money, ScannerConfigError, Settings
from paycode.host import PluginHost
from paycode.scanning import Feedback, FeedbackScanner, ScannerURL
from paycode.supervisor import LaneFeedback
from paycode.terminal import Terminal
from paycode_serial import FEEDBACK_PARAMS, SerialScanner, feedback_commands, serial_scanner_types
from paycode_serial.testing import PtyScanner


def test_commands_are_percent_encoded_bytes() -> None:
    url = ScannerURL.parse("serial:///dev/x?good=%16%07&bad=%16%07%07&beep=B%0D&trigger=%16T%0D")
    assert feedback_commands(url) == {
        Feedback.GOOD: b"\x16\x07",
        Feedback.BAD: b"\x16\x07\x07",
        Feedback.BEEP: b"B\r",
        Feedback.TRIGGER: b"\x16T\r",
    }
    assert set(FEEDBACK_PARAMS) == {f.value for f in Feedback}


@pytest.mark.parametrize("query", ["good=", "good=%C3%A9x&bad=\u00e9"])
def test_bad_commands_are_clear_errors(query: str) -> None:
    with pytest.raises(ScannerConfigError, match=r"accepted: .*%HH escapes"):
        SerialScanner(f"serial:///dev/x?{query}")


def test_a_scanner_without_commands_offers_no_feedback(pty_scanner: PtyScanner) -> None:
    with SerialScanner(f"serial://{pty_scanner.path}") as scanner:
        assert isinstance(scanner, FeedbackScanner)
        assert scanner.feedback_kinds == frozenset()
        assert not scanner.feedback(Feedback.GOOD)


def test_the_command_reaches_the_port(pty_scanner: PtyScanner) -> None:
    scanner = SerialScanner(f"serial://{pty_scanner.path}?good=%16%07&led_on=L1%0D")
    assert not scanner.feedback(Feedback.GOOD)  # not open yet
    with scanner:
        assert scanner.feedback_kinds == {Feedback.GOOD, Feedback.LED_ON}
        assert scanner.feedback(Feedback.GOOD) and scanner.feedback(Feedback.LED_ON)
        assert pty_scanner.sent(6) == b"\x16\x07L1\r"
        assert not scanner.feedback(Feedback.BAD)
        pty_scanner.unplug()
        assert not scanner.feedback(Feedback.GOOD)  # gone: False, never an exception


def test_family_defaults_apply_whichever_way_the_scanner_is_built(pty_scanner: PtyScanner) -> None:
    types = serial_scanner_types("acme", lambda url: SerialScanner(url).decoder, defaults={"baudrate": "115200"})
    local = types[0]
    assert local.defaults == {"baudrate": "115200"}
    built = local.build(ScannerURL.parse(f"acme://{pty_scanner.path}"))
    assert isinstance(built, SerialScanner) and built.line.baudrate == 115200
    direct = local.factory(ScannerURL.parse(f"acme://{pty_scanner.path}?baudrate=9600"))
    assert isinstance(direct, SerialScanner) and direct.line.baudrate == 9600
    with pytest.raises(ValueError, match="baud"):
        serial_scanner_types("acme", lambda url: SerialScanner(url).decoder, defaults={"baud": "1"})


@pytest.mark.parametrize(("ending", "command"), [("001", b"\x16\x07"), ("002", b"\x16\x07\x07")])
def test_a_payment_outcome_beeps_the_scanner_that_read_the_code(
    pty_scanner: PtyScanner, tmp_path: Path, ending: str, command: bytes
) -> None:
    """A real payment against the embedded sandbox: success sends `good`, a decline sends `bad`."""
    settings = Settings(gateway="sandbox", journal=str(tmp_path / "journal.sqlite3"), poll_interval=0.05, deadline=5.0)
    host = PluginHost(settings)
    wallet = next(w for w in host.wallets.values() if "CNY" in w.currencies)
    code = wallet.patterns[0].make(ending)
    url = f"serial://{pty_scanner.path}?suffix=cr&good=%16%07&bad=%16%07%07"
    with Terminal(settings, host=host) as terminal, host.open_scanner(url) as supervisor:
        observer = supervisor.lane_feedback
        assert observer is not None and host.pm.is_registered(observer)  # attached by itself: the URL gives commands
        assert LaneFeedback.attach(host, supervisor) is observer  # once only
        pty_scanner.write(f"{code}\r".encode())
        terminal.pay(Money("1.00", "CNY"), supervisor=supervisor, scan_timeout=5.0)
        assert pty_scanner.sent(len(command)) == command
        assert pty_scanner.sent(1, timeout=0.2) == b""  # one signal, no more
        assert supervisor.stats().feedback == 1
    assert not host.pm.is_registered(observer) and supervisor.lane_feedback is None  # detached when closed


def test_no_lane_feedback_when_asked_not_to(pty_scanner: PtyScanner, tmp_path: Path) -> None:
    settings = Settings(gateway="sandbox", journal=str(tmp_path / "journal.sqlite3"), poll_interval=0.05, deadline=5.0)
    host = PluginHost(settings)
    wallet = next(w for w in host.wallets.values() if "CNY" in w.currencies)
    url = f"serial://{pty_scanner.path}?suffix=cr&good=%16%07"
    with Terminal(settings, host=host) as terminal, host.open_scanner(url, lane_feedback=False) as supervisor:
        assert supervisor.lane_feedback is None
        pty_scanner.write(f"{wallet.patterns[0].make('001')}\r".encode())
        terminal.pay(Money("1.00", "CNY"), supervisor=supervisor, scan_timeout=5.0)
        assert pty_scanner.sent(1, timeout=0.3) == b""
