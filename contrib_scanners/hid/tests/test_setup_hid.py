"""``paycode setup scanner`` on a USB HID scanner: replayed keyboard and HID POS reports, as hidapi returns them."""

from __future__ import annotations

import json
from typing import Any

import paycode_hid.hidapi_scanner
import pytest
from paycode.cli import main
from paycode.setup_assistant import TEST_TEXT, diagnose
from paycode_hid import ReplayBackend, ReplayDevice, hid_info, keyboard_reports, pos_reports

HONEYWELL, VOYAGER = 0x0C2E, 0x0B61


def keyboard(*reports: list[bytes]) -> ReplayBackend:
    flat = [r for batch in reports for r in batch]
    return ReplayBackend([ReplayDevice(hid_info(HONEYWELL, VOYAGER, b"/dev/hidraw3"), flat)])


def names(d: object) -> list[str]:
    return [p.name for p in d.problems]  # type: ignore[attr-defined]


@pytest.mark.parametrize("layout", ["us", "de", "fr", "be"])
def test_the_scanner_layout_is_found(layout: str) -> None:
    backend = keyboard(keyboard_reports(TEST_TEXT, layout))
    d = diagnose(f"hid://0c2e:0b61?mode=keyboard&layout={layout}", timeout=2, settle=0.2, hid_backend=backend)
    assert (d.mode, d.layout) == ("keyboard", layout)
    assert names(d) == ["focused-window"]  # hidraw does not keep the keys from the focused window
    assert d.url == f"hid://0c2e:0b61?mode=keyboard&layout={layout}"


def test_wrong_layout() -> None:
    backend = keyboard(keyboard_reports(TEST_TEXT, "de"))
    d = diagnose("hid://0c2e:0b61?mode=keyboard", timeout=2, settle=0.2, hid_backend=backend)  # layout us
    assert names(d) == ["wrong-layout", "focused-window"]
    assert d.url == "hid://0c2e:0b61?mode=keyboard&layout=de" and "layout=de" in d.problems[0].fix


def test_missing_suffix() -> None:
    backend = keyboard(keyboard_reports(TEST_TEXT, "us", end=None))
    d = diagnose("hid://0c2e:0b61?mode=keyboard", timeout=2, settle=0.2, hid_backend=backend)
    assert names(d) == ["missing-suffix", "focused-window"]
    assert d.url == "hid://0c2e:0b61?mode=keyboard&layout=us&end=gap"


def test_tab_suffix_and_duplicates() -> None:
    once = keyboard_reports(TEST_TEXT, "us", end="tab")
    d = diagnose("hid://0c2e:0b61?mode=keyboard", timeout=2, settle=0.2, hid_backend=keyboard(once, once))
    assert names(d) == ["duplicate-reads", "focused-window"] and d.reads == 2
    assert d.url == "hid://0c2e:0b61?mode=keyboard&layout=us&end=tab"


def pos_backend(*scans: list[bytes]) -> ReplayBackend:
    flat = [r for batch in scans for r in batch]
    info = hid_info(HONEYWELL, VOYAGER, b"/dev/hidraw4", usage_page=0x8C, usage=0x02)
    return ReplayBackend([ReplayDevice(info, flat)])


def test_hid_pos_needs_nothing() -> None:
    d = diagnose("hid://0c2e:0b61", timeout=2, settle=0.2, hid_backend=pos_backend(pos_reports(TEST_TEXT, "]Q1")))
    assert d.ok and (d.mode, d.aim, d.symbology) == ("pos", "]Q1", "qr")
    assert d.url == "hid://0c2e:0b61?mode=pos"


def test_hid_pos_duplicates() -> None:
    once = pos_reports(TEST_TEXT, "]C0")
    d = diagnose("hid://0c2e:0b61", timeout=2, settle=0.2, hid_backend=pos_backend(once, once, once))
    assert names(d) == ["duplicate-reads"] and d.reads == 3


def test_the_command_with_replayed_reports(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    backend = keyboard(keyboard_reports(TEST_TEXT, "fr"))
    monkeypatch.setattr(paycode_hid.hidapi_scanner, "load_hidapi", lambda: backend)
    png = f"{tmp_path}/code.png"
    args = ["setup", "scanner", "--device", "hid://0c2e:0b61?mode=keyboard", "--json", "--png", png]
    assert main([*args, "--timeout", "2", "--settle", "0.2"]) == 1
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert [p["name"] for p in data["problems"]] == ["wrong-layout", "focused-window"]
    assert data["url"] == "hid://0c2e:0b61?mode=keyboard&layout=fr"
    assert data["toml"] == ['scanner = "hid://0c2e:0b61?mode=keyboard&layout=fr"']
    assert any(c["url"].startswith("hid://0c2e:0b61") for c in data["candidates"])  # listed through the plugin
    assert "scan it now" in err


def test_the_command_in_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.setattr(paycode_hid.hidapi_scanner, "load_hidapi", lambda: pos_backend(pos_reports(TEST_TEXT, "]C0")))
    args = ["setup", "scanner", "--device", "hid://0c2e:0b61", "--png", f"{tmp_path}/code.png"]
    assert main([*args, "--timeout", "2", "--settle", "0.2"]) == 0
    out, _ = capsys.readouterr()
    assert "url         hid://0c2e:0b61?mode=pos" in out
    assert 'scanner = "hid://0c2e:0b61?mode=pos"' in out and "ok: the scanner is set up" in out


def test_another_code_and_nothing_are_named() -> None:
    other = keyboard(keyboard_reports("130000000000000001", "us"))
    d = diagnose("hid://0c2e:0b61?mode=keyboard", timeout=2, settle=0.2, hid_backend=other)
    assert names(d) == ["not-the-test-code"] and d.url is None
    d = diagnose("hid://0c2e:0b61", timeout=2, settle=0.2, hid_backend=pos_backend(pos_reports("130000000000000001")))
    assert names(d) == ["not-the-test-code"]
    d = diagnose("hid://0c2e:0b61?mode=keyboard", timeout=0.3, settle=0.1, hid_backend=keyboard())
    assert names(d) == ["nothing"]


EVDEV_PATH = "/dev/input/by-id/usb-Honeywell_Imaging_1900-event-kbd"


def evdev_device(monkeypatch: pytest.MonkeyPatch, pipe_devices: Any, *events: Any) -> Any:
    import paycode_hid.evdev_scanner

    device = pipe_devices(EVDEV_PATH)
    monkeypatch.setattr(paycode_hid.evdev_scanner, "_load_evdev", lambda: (lambda path: device, lambda: [EVDEV_PATH]))
    for batch in events:
        device.send(batch)
    return device


def test_evdev_grabbed_wrong_layout_and_no_focused_window(monkeypatch: pytest.MonkeyPatch, pipe_devices: Any) -> None:
    from paycode_hid import key_events

    device = evdev_device(monkeypatch, pipe_devices, key_events(keyboard_reports(TEST_TEXT, "de")))
    d = diagnose(f"evdev://{EVDEV_PATH}", timeout=2, settle=0.2)
    assert names(d) == ["wrong-layout"]  # grabbed: its keys reach no window
    assert d.url == f"evdev://{EVDEV_PATH}?layout=de" and d.transport == "evdev"
    assert device.closed  # released after the capture


def test_evdev_missing_suffix_and_duplicates(monkeypatch: pytest.MonkeyPatch, pipe_devices: Any) -> None:
    from paycode_hid import key_events

    once = key_events(keyboard_reports(TEST_TEXT, "us", end=None))
    evdev_device(monkeypatch, pipe_devices, once)
    d = diagnose(f"evdev://{EVDEV_PATH}", timeout=2, settle=0.2)
    assert names(d) == ["missing-suffix"] and d.url == f"evdev://{EVDEV_PATH}?layout=us&end=gap"
    twice = key_events(keyboard_reports(TEST_TEXT, "us") * 2)
    evdev_device(monkeypatch, pipe_devices, twice)
    d = diagnose(f"evdev://{EVDEV_PATH}", timeout=2, settle=0.2)
    assert names(d) == ["duplicate-reads"] and d.ok is False and d.reads == 2
