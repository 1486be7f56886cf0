"""The scan supervisor: normalise, suppress repeats, reopen with backoff, report errors as events."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from paycode import Scan, ScannerConfigError, ScannerError, ScannerGone, ScannerType, ScannerURL, ScanTimeout
from paycode.errors import ScannerExhausted
from paycode.host import PluginHost
from paycode.scanning import Feedback
from paycode.supervisor import ScanSupervisor
from paycode.testing import EventRecorder

WECHAT = "130000000000000001"
ALIPAY = "280000000000000002"


class Script:
    """What the scanners a factory builds do, in order: shared so a reopened scanner continues the script."""

    def __init__(self, reads: list[Any], opens: list[BaseException | None] | None = None, idle: bool = False) -> None:
        self.reads = list(reads)
        self.opens = list(opens or [])
        self.idle = idle  # after the reads: nothing scanned, forever (instead of end of input)
        self.built = 0
        self.closed = 0


class ScriptedScanner:
    def __init__(self, script: Script) -> None:
        self.script = script
        script.built += 1

    def open(self) -> None:
        action = self.script.opens.pop(0) if self.script.opens else None
        if action is not None:
            raise action

    def read(self, timeout: float | None) -> Scan | None:
        if not self.script.reads:
            if self.script.idle:
                time.sleep(min(timeout if timeout is not None else 0.01, 0.01))
                return None
            raise ScannerExhausted("end of script")
        item = self.script.reads.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.script.closed += 1


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, order_id: str | None = None, **data: Any) -> None:
        self.seen.append((kind, data))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.seen]


def at(text: str, time: float) -> Scan:
    return Scan(raw=text.encode(), text=text, source="script://", time=time)


def supervise(script: Script, events: Events, url: str = "script://", **options: Any) -> ScanSupervisor:
    scanner_type = ScannerType("script", factory=lambda _url: ScriptedScanner(script))
    options.setdefault("backoff_initial", 0.01)
    options.setdefault("backoff_max", 0.04)
    return ScanSupervisor(scanner_type, ScannerURL.parse(url), emit=events, **options)


def test_scans_are_normalised_and_reported_masked() -> None:
    events = Events()
    with supervise(Script([at(f"]C0{WECHAT}\r", 1.0)]), events) as sup:
        scan = sup.read(timeout=1.0)
    assert scan is not None
    assert (scan.text, scan.aim, scan.symbology) == (WECHAT, "]C0", "code128")
    assert events.kinds() == ["scanner.opened", "scan", "scanner.closed"]
    data = events.seen[1][1]
    assert data == {
        "scanner": "script://",
        "text": "1300**********0001",
        "length": 18,
        "symbology": "code128",
        "aim": "]C0",
    }
    assert WECHAT not in repr(events.seen)


def test_repeats_within_the_window_are_suppressed_and_the_window_slides() -> None:
    events = Events()
    reads = [at(WECHAT, 10.0), at(WECHAT, 11.0), at(WECHAT, 12.0), at(ALIPAY, 12.1), at(WECHAT, 12.2), at(WECHAT, 20.0)]
    with supervise(Script(reads), events, repeat_window=1.5) as sup:
        texts = [s.text for s in sup.scans()]
    assert texts == [WECHAT, ALIPAY, WECHAT, WECHAT]
    assert events.kinds().count("scan.repeat_suppressed") == 2


def test_repeat_window_from_the_url_wins() -> None:
    events = Events()
    with supervise(Script([at(WECHAT, 1.0), at(WECHAT, 1.2)]), events, url="script://?repeat_window=0.1") as sup:
        assert sup.repeat_window == 0.1
        assert len(list(sup.scans())) == 2


def test_a_vanished_scanner_is_reopened_with_backoff() -> None:
    script = Script(
        [at(WECHAT, 1.0), ScannerGone("unplugged"), at(ALIPAY, 2.0)],
        opens=[None, ScannerGone("still gone"), ScannerGone("still gone"), ScannerGone("still gone"), None],
    )
    events = Events()
    with supervise(script, events) as sup:
        assert [s.text for s in sup.scans(timeout=5.0)] == [WECHAT, ALIPAY]
    assert events.kinds() == [
        "scanner.opened",
        "scan",
        "scanner.gone",
        "scanner.error",
        "scanner.error",
        "scanner.error",
        "scanner.reopened",
        "scan",
        "scanner.closed",
    ]
    delays = [data["retry_in"] for kind, data in events.seen if "retry_in" in data]
    assert delays == [0.01, 0.02, 0.04, 0.04]  # doubling, bounded by backoff_max
    assert events.seen[2][1]["error"] == "unplugged"
    assert script.built == 5  # a fresh scanner object for every attempt after a loss


def test_read_errors_are_events_and_reading_goes_on() -> None:
    events = Events()
    script = Script([ScannerError("overlong frame discarded"), at("\r\n", 1.0), at(WECHAT, 2.0)])
    with supervise(script, events) as sup:
        assert sup.read(timeout=1.0) == at(WECHAT, 2.0)
    errors = [data["error"] for kind, data in events.seen if kind == "scanner.error"]
    assert errors == ["overlong frame discarded", "a scan was empty after normalisation"]
    assert script.built == 1


def test_a_plugin_bug_is_reported_and_the_scanner_reopened() -> None:
    events = Events()
    script = Script([RuntimeError("boom"), at(WECHAT, 1.0)])
    with supervise(script, events) as sup:
        assert sup.read(timeout=2.0) is not None
    assert ("scanner.gone", {"scanner": "script://", "error": "RuntimeError: boom", "retry_in": 0.01}) in events.seen
    assert "scanner.reopened" in events.kinds()


def test_configuration_errors_are_raised() -> None:
    events = Events()
    sup = supervise(Script([], opens=[ScannerConfigError("port needs a baud rate")]), events)
    with pytest.raises(ScannerConfigError, match="baud rate"):
        sup.read(timeout=1.0)
    sup.close()


def test_end_of_input_stops_reading() -> None:
    events = Events()
    with supervise(Script([at(WECHAT, 1.0)]), events) as sup:
        assert len(list(sup.scans(count=5))) == 1
        assert sup.exhausted
        assert sup.read(timeout=0.01) is None
    assert events.kinds()[-1] == "scanner.closed"
    assert events.kinds().count("scanner.closed") == 1
    assert "end of input" in events.seen[-1][1]["reason"]


def test_timeouts() -> None:
    events = Events()
    with supervise(Script([], idle=True), events) as sup:
        assert sup.read(timeout=0.0) is None
        with pytest.raises(ScanTimeout, match=r"no scan from script:// within 0\.05 s"):
            next(sup.scans(timeout=0.05))


def test_close_wakes_a_reader_waiting_for_the_device() -> None:
    events = Events()
    sup = supervise(Script([], opens=[ScannerGone("absent")] * 3), events, backoff_initial=30.0, backoff_max=30.0)
    sup.open()
    result: list[Scan | None] = []
    reader = threading.Thread(target=lambda: result.append(sup.read(timeout=30.0)))
    reader.start()
    for _ in range(5000):  # until the reader holds the read lock and waits for the device
        if sup._lock.locked():
            break
        time.sleep(0.001)
    sup.close()
    reader.join(timeout=5.0)
    assert not reader.is_alive()
    assert result == [None]
    with pytest.raises(ScannerError, match="was closed"):
        sup.read(timeout=0.1)
    sup.close()  # twice is fine


def test_aread_in_asyncio() -> None:
    events = Events()

    async def main() -> tuple[Scan | None, Scan | None]:
        async with supervise(Script([None, at(WECHAT, 1.0)], idle=True), events) as sup:
            first = await sup.aread(timeout=2.0)
            second = await sup.aread(timeout=0.05)
            return first, second

    first, second = asyncio.run(main())
    assert first is not None and first.text == WECHAT
    assert second is None


# ---------------------------------------------------------------------------- built-in scanners


def test_replay_scanner_through_the_host(
    tmp_path: Path, make_host: Callable[..., PluginHost], make_plugin: Callable[..., Any]
) -> None:
    scans = tmp_path / "scans.txt"
    scans.write_text(f"# lane 1\n\n]C0{WECHAT}\\x0d\n{ALIPAY}\r\n]Q1{ALIPAY}\n\\x1d{WECHAT}\\x04\n", encoding="utf-8")
    recorder = EventRecorder()
    host = make_host(recorder)
    with host.open_scanner(f"replay://{scans}") as sup:
        got = [(s.text, s.symbology) for s in sup.scans(timeout=2.0)]
    assert got == [(WECHAT, "code128"), (ALIPAY, None), (WECHAT, None)]
    seen = recorder.kinds()
    assert seen.count("scan") == 3 and seen.count("scan.repeat_suppressed") == 1


def test_replay_delay_loop_and_escapes_off(tmp_path: Path, make_host: Callable[..., PluginHost]) -> None:
    scans = tmp_path / "scans.txt"
    scans.write_text(f"{WECHAT}\\x0d\n{ALIPAY}\n", encoding="utf-8")
    host = make_host()
    url = f"replay://{scans}?delay=0.01&loop=1&escapes=0&repeat_window=0"
    with host.open_scanner(url) as sup:
        got = [s.text for s in sup.scans(count=5, timeout=2.0)]
    assert got == [WECHAT + "\\x0d", ALIPAY] * 2 + [WECHAT + "\\x0d"]


def test_replay_errors(tmp_path: Path, make_host: Callable[..., PluginHost]) -> None:
    host = make_host()
    with pytest.raises(ScannerConfigError, match="loop=1 needs delay > 0"):
        host.open_scanner(f"replay://{tmp_path}/x.txt?loop=1")
    with pytest.raises(ScannerConfigError, match="names no file"):
        host.open_scanner("replay://")
    missing = host.open_scanner(f"replay://{tmp_path}/missing.txt")
    with pytest.raises(ScannerConfigError, match=r"missing\.txt' cannot be read: No such file"):
        missing.read(timeout=0.1)
    missing.close()


def test_replay_waits_between_lines_and_times_out(tmp_path: Path, make_host: Callable[..., PluginHost]) -> None:
    scans = tmp_path / "scans.txt"
    scans.write_text(f"{WECHAT}\n{ALIPAY}\n", encoding="utf-8")
    with make_host().open_scanner(f"replay://{scans}?delay=30") as sup:
        assert sup.read(timeout=1.0) is not None
        assert sup.read(timeout=0.05) is None


@pytest.fixture
def stdin_pipe(monkeypatch: pytest.MonkeyPatch) -> Any:
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "r")
    monkeypatch.setattr(sys, "stdin", reader)
    writer = os.fdopen(write_fd, "wb", buffering=0)
    yield writer
    if not writer.closed:
        writer.close()
    reader.close()


def test_stdin_scanner_reads_lines(stdin_pipe: Any, make_host: Callable[..., PluginHost]) -> None:
    with make_host().open_scanner("stdin://") as sup:
        assert sup.read(timeout=0.05) is None
        stdin_pipe.write(f"]E0{WECHAT}\r\n{ALIPAY}".encode())
        first = sup.read(timeout=1.0)
        assert first is not None and (first.text, first.symbology) == (WECHAT, "ean-13")
        assert sup.read(timeout=0.05) is None  # the second line is not finished yet
        stdin_pipe.close()
        second = sup.read(timeout=1.0)
        assert second is not None and second.text == ALIPAY
        assert sup.read(timeout=1.0) is None
        assert sup.exhausted


def test_stdin_scanner_takes_no_target(make_host: Callable[..., PluginHost]) -> None:
    with pytest.raises(ScannerConfigError, match="takes no target"):
        make_host().open_scanner("stdin://tty")


def test_scanner_events_never_show_a_stream_password() -> None:
    script = Script([ScannerGone("stream stopped"), at(WECHAT, 1.0)])
    events = Events()
    url = "script://?url=rtsp%3A%2F%2Fcashier%3Ahunter2%40cam.local%2Fstream"
    with supervise(script, events, url=url) as sup:
        assert [s.text for s in sup.scans(timeout=5.0)] == [WECHAT]
    shown = [data["scanner"] for _, data in events.seen]
    assert shown and all("hunter2" not in s and "cashier:***@cam.local" in s for s in shown)
    assert "hunter2" not in repr(sup)


# ---------------------------------------------------------------------------- health and statistics (issue 15)


def test_stats_count_scans_repeats_discards_by_kind_losses_and_reconnects() -> None:
    script = Script(
        [
            at(WECHAT, 1.0),
            at(WECHAT, 1.1),  # a repeat
            ScannerError("frame too long", kind="overlong"),
            ScannerError("noise", kind="garbage"),
            ScannerError("noise", kind="garbage"),
            ScannerError("bad checksum", kind="checksum"),  # a plugin's own kind
            ScannerError("no kind given"),
            ScannerError("not a tag", kind="Not A Tag!"),
            ScannerGone("unplugged"),
            at(ALIPAY, 5.0),
            at("\r\n", 6.0),  # empty after normalisation
        ],
        opens=[None, ScannerGone("still gone"), None],
        idle=True,
    )
    events = Events()
    before = time.time()
    with supervise(script, events) as supervisor:
        assert supervisor.stats().state == "open"
        assert [scan.text for scan in supervisor.scans(count=2, timeout=5)] == [WECHAT, ALIPAY]
        assert supervisor.read(timeout=0.1) is None
        stats = supervisor.stats()
    assert (stats.scans, stats.repeats, stats.losses, stats.reconnects, stats.errors) == (2, 1, 2, 1, 0)
    assert stats.discarded == {"overlong": 1, "garbage": 2, "checksum": 1, "other": 2, "empty": 1}
    assert stats.discarded_total == 7 and stats.healthy and stats.state == "open"
    assert stats.last_seen is not None and stats.last_seen >= before
    assert stats.last_scan is not None and stats.opened_at is not None and stats.last_error is not None
    assert supervisor.stats().state == "closed" and not supervisor.stats().healthy
    data = stats.as_json()
    assert data["scanner"] == "script://" and data["discarded"]["garbage"] == 2
    assert data["last_seen"].endswith("Z") and data["feedback_kinds"] == []
    assert ("scanner.error", {"scanner": "script://", "error": "frame too long", "discard": "overlong"}) in events.seen


def test_emit_stats_reports_an_event_and_a_new_supervisor_waits() -> None:
    events = Events()
    supervisor = supervise(Script([], opens=[ScannerGone("absent")], idle=True), events)
    assert supervisor.stats().state == "waiting"
    assert not supervisor.open()
    stats = supervisor.emit_stats()
    kind, data = events.seen[-1]
    assert kind == "scanner.stats" and data["state"] == "waiting" and data["losses"] == 1 == stats.losses
    supervisor.close()


def test_stats_of_an_exhausted_scanner_say_ended() -> None:
    with supervise(Script([at(WECHAT, 1.0)]), Events()) as supervisor:
        assert list(supervisor.scans()) and supervisor.stats().state == "ended"


# ---------------------------------------------------------------------------- feedback (issue 15)


class FeedbackScript(Script):
    def __init__(self, reads: list[Any], kinds: frozenset[str], fail: bool = False) -> None:
        super().__init__(reads, idle=True)
        self.kinds = kinds
        self.fail = fail
        self.signals: list[str] = []


class FeedbackScanner(ScriptedScanner):
    script: FeedbackScript

    @property
    def feedback_kinds(self) -> frozenset[Feedback]:
        return frozenset(Feedback(k) for k in self.script.kinds)

    def feedback(self, kind: Feedback) -> bool:
        if self.script.fail:
            raise OSError("write failed")
        if kind not in self.script.kinds:
            return False
        self.script.signals.append(kind.value)
        return True


def supervise_feedback(script: FeedbackScript, events: Events | Callable[..., Any]) -> ScanSupervisor:
    scanner_type = ScannerType("fb", factory=lambda _url: FeedbackScanner(script))
    return ScanSupervisor(scanner_type, ScannerURL.parse("fb://"), emit=events)


def test_feedback_goes_to_a_scanner_that_supports_it() -> None:
    script = FeedbackScript([], frozenset({"good", "bad"}))
    events = Events()
    with supervise_feedback(script, events) as supervisor:
        assert supervisor.feedback_kinds == {Feedback.GOOD, Feedback.BAD}
        assert supervisor.feedback("good") and supervisor.feedback(Feedback.BAD)
        assert not supervisor.feedback("beep")  # no command for it
        with pytest.raises(ScannerConfigError, match="accepted: good, bad, beep, led_on, led_off, trigger"):
            supervisor.feedback("blink")
        assert supervisor.stats().feedback == 2 and supervisor.stats().feedback_kinds == ("bad", "good")
    assert script.signals == ["good", "bad"]
    assert [d["feedback"] for k, d in events.seen if k == "scanner.feedback"] == ["good", "bad"]
    assert not supervisor.feedback("good")  # closed


def test_feedback_failure_is_an_event_never_an_exception() -> None:
    events = Events()
    with supervise_feedback(FeedbackScript([], frozenset({"good"}), fail=True), events) as supervisor:
        assert not supervisor.feedback("good")
    assert any(k == "scanner.error" and "feedback good failed" in d["error"] for k, d in events.seen)


def test_a_scanner_without_the_capability_gets_none() -> None:
    with supervise(Script([], idle=True), Events()) as supervisor:
        assert supervisor.feedback_kinds == frozenset() and not supervisor.feedback("good")


@pytest.mark.parametrize(("ending", "signal"), [("001", "good"), ("002", "bad")])
def test_a_payment_outcome_reaches_the_scanner_that_read_its_code(tmp_path: Path, ending: str, signal: str) -> None:
    """Through the real Terminal and the embedded sandbox gateway: success beeps good, a decline bad."""
    from paycode import Money, Settings
    from paycode.supervisor import LaneFeedback
    from paycode.terminal import Terminal

    settings = Settings(gateway="sandbox", journal=str(tmp_path / "journal.sqlite3"), poll_interval=0.05, deadline=5.0)
    host = PluginHost(settings)
    wallet = next(w for w in host.wallets.values() if "CNY" in w.currencies)
    code = wallet.patterns[0].make(ending)
    script = FeedbackScript([at(code, time.monotonic())], frozenset({"good", "bad"}))
    other = FeedbackScript([], frozenset({"good", "bad"}))  # another lane on the same host
    with Terminal(settings, host=host) as terminal:
        with supervise_feedback(script, host.emit) as supervisor, supervise_feedback(other, host.emit) as idle:
            observer = LaneFeedback.attach(host, supervisor)
            LaneFeedback.attach(host, idle)
            terminal.pay(Money("1.00", "CNY"), supervisor=supervisor, scan_timeout=5.0)
            terminal.pay(Money("1.00", "CNY"), code=wallet.patterns[0].make("001"))  # typed in: no scanner
            observer.detach(host)
            observer.detach(host)
    assert script.signals == [signal]
    assert other.signals == []


@pytest.mark.parametrize("json_lines", [False, True])
def test_paycode_scan_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str], json_lines: bool) -> None:
    import json

    from paycode.cli import main

    scans = tmp_path / "scans.txt"
    scans.write_text(f"]C0{WECHAT}\\x0d\n]C0{WECHAT}\n\\x04\n]Q1{ALIPAY}\n", encoding="utf-8")
    args = ["scan", "--scanner", f"replay://{scans}", "--stats"] + (["--json"] if json_lines else [])
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert WECHAT not in out + err and ALIPAY not in out + err
    if json_lines:
        stats = json.loads(out.splitlines()[-1])["stats"]
        assert (stats["scans"], stats["repeats"], stats["discarded"], stats["state"]) == (2, 1, {"empty": 1}, "ended")
    else:
        assert "scans       2 (repeats suppressed 1)" in out and "discarded   1 (empty 1)" in out
