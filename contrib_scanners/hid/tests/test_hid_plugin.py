"""The installed plugin: registration, the core's supervisor (normalise, unplug, reopen) and a payment from a scan.

The entry point's own factory is used; only ``load_hidapi`` is pointed at a ReplayBackend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import paycode_hid.hidapi_scanner
import pytest
from paycode.cli import main
from paycode.errors import ScannerConfigError
from paycode.host import PluginHost
from paycode.scanning import ScannerURL
from paycode.settings import Settings
from paycode.terminal import Terminal, outcome
from paycode.testing import EventRecorder
from paycode_hid import ReplayBackend, ReplayDevice, hid_info, keyboard_reports, pos_reports

WECHAT_SUCCESS = "130000000000000001"  # sandbox: ends with 001 = success


Recorder = EventRecorder  # the shared recorder of paycode.testing


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayDevice]:
    """A keyboard-wedge scanner 0c2e:0b61 behind the real plugin's factory."""
    replay = ReplayDevice(hid_info(0x0C2E, 0x0B61, b"/dev/hidraw3"))
    monkeypatch.setattr(paycode_hid.hidapi_scanner, "load_hidapi", lambda: ReplayBackend([replay]))
    yield replay


def test_the_distribution_registers_hid_and_evdev() -> None:
    host = PluginHost(Settings())
    assert {"hid", "evdev"} <= set(host.scanners)
    assert host.scanners["hid"].list_devices is not None and host.scanners["evdev"].list_devices is not None
    (info,) = [p for p in host.plugin_info() if p["distribution"] == "paycode-hid"]
    assert info["registers"]["scanners"] == ["hid", "evdev"]
    assert {"mode", "layout", "serial", "path", "interface", "enable_report"} <= set(host.scanners["hid"].params)
    assert {"name", "grab", "layout"} <= set(host.scanners["evdev"].params)


def test_unknown_parameters_are_refused_with_the_accepted_list() -> None:
    host = PluginHost(Settings())
    host.scanner_type(ScannerURL.parse("hid://0c2e:0b61?mode=pos&layout=de&repeat_window=1&suffix=cr"))
    with pytest.raises(ScannerConfigError, match=r"does not take parameter baudrate; accepted: .*enable_report"):
        host.scanner_type(ScannerURL.parse("hid://0c2e:0b61?baudrate=9600"))


def test_supervisor_normalises_and_survives_unplug(device: ReplayDevice) -> None:
    recorder = Recorder()
    host = PluginHost(Settings(), plugins=[recorder])
    device.push(*keyboard_reports("]C0" + WECHAT_SUCCESS))  # AIM identifier typed as keys
    with host.open_scanner("hid://0c2e:0b61?mode=keyboard", backoff_initial=0.01, backoff_max=0.05) as supervisor:
        scan = supervisor.read(timeout=2.0)
        assert scan is not None
        assert (scan.text, scan.aim, scan.symbology) == (WECHAT_SUCCESS, "]C0", "code128")
        device.unplug()
        assert supervisor.read(timeout=0.2) is None
        device.plug(keyboard_reports("4006381333931"))
        scan = supervisor.read(timeout=2.0)
        assert scan is not None and scan.text == "4006381333931"
    kinds = recorder.kinds()
    assert kinds[0] == "scanner.opened" and "scanner.gone" in kinds and "scanner.reopened" in kinds
    gone = next(e for e in recorder.events if e.kind == "scanner.gone")
    assert "the device went away" in gone.data["error"]
    assert WECHAT_SUCCESS not in repr([e.data for e in recorder.events])  # codes are masked in events


def test_a_discarded_scan_is_an_error_event(device: ReplayDevice) -> None:
    recorder = Recorder()
    host = PluginHost(Settings(), plugins=[recorder])
    device.push(bytes([0, 0, 0x3A, 0, 0, 0, 0, 0]), bytes(8), *keyboard_reports("1"), *keyboard_reports("2"))
    with host.open_scanner("hid://0c2e:0b61") as supervisor:
        assert supervisor.read(timeout=2.0).text == "2"  # type: ignore[union-attr]
    errors = [e.data["error"] for e in recorder.events if e.kind == "scanner.error"]
    assert errors == ["scan discarded: key 0x3A (F1) types nothing on layout us"]


def test_pay_from_a_hid_pos_scan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pos = ReplayDevice(
        hid_info(0x0C2E, 0x0B61, b"/dev/hidraw4", usage_page=0x8C, usage=0x02),
        pos_reports(WECHAT_SUCCESS, "]C0", code_id=0x6A),
    )
    monkeypatch.setattr(paycode_hid.hidapi_scanner, "load_hidapi", lambda: ReplayBackend([pos]))
    settings = Settings(
        gateway="sandbox",
        scanner="hid://0c2e:0b61?mode=pos",
        journal=str(tmp_path / "journal.sqlite3"),
        poll_interval=0.05,
        deadline=2.0,
    )
    with Terminal(settings) as terminal:
        payment = terminal.pay("12.50", "CNY", scan_timeout=5.0)
    assert outcome(payment) == "paid"
    assert payment.wallet == "Wechat-Offline" and payment.code_masked == "1300**********0001"
    assert pos.feature_reports == [bytes([0xFE, 0x01])]  # Honeywell HID POS enabled


def test_paycode_scan_and_devices_commands(
    device: ReplayDevice, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no paycode.toml
    device.push(*keyboard_reports(WECHAT_SUCCESS, "de"))
    assert main(["scan", "--scanner", "hid://0c2e:0b61?layout=de", "--count", "1", "--timeout", "5", "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["text"], line["length"], line["source"]) == ("1300**********0001", 18, "hid://0c2e:0b61?layout=de")
    assert main(["devices", "--json"]) == 0
    listed = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    hid = [d for d in listed if d["scheme"] == "hid"]
    assert hid == [
        {
            "scheme": "hid",
            "url": "hid://0c2e:0b61?mode=keyboard",
            "description": "HID device (keyboard)",
            "vendor_id": 0x0C2E,
            "product_id": 0x0B61,
            "serial_number": "",
            "usage_page": 1,
            "usage": 6,
            "interface_number": 0,
            "path": "/dev/hidraw3",
            "hid_pos": False,
        }
    ]
