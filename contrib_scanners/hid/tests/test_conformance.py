"""paycode-hid against paycode's scanner conformance suite (paycode.testing).

The plugin is loaded through its entry point and its own factories build the scanners; the
devices behind them are the ones the other tests use (see conftest.py):

- ``hid://`` keyboard wedge and HID POS: hidapi's interface played by
  :class:`paycode_hid.ReplayBackend` (``load_hidapi`` points at it), with real report bytes;
- ``evdev://``: python-evdev's reader on a pipe carrying ``struct input_event`` records
  (``_load_evdev`` points at the pipe devices of the ``pipe_devices`` fixture).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import paycode_hid.evdev_scanner
import paycode_hid.hidapi_scanner
import pytest
from paycode.testing import ScannerConformance
from paycode_hid import ReplayBackend, ReplayDevice, hid_info, key_events, keyboard_reports, pos_reports

HONEYWELL, VOYAGER = 0x0C2E, 0x0B61
EVDEV_PATH = "/dev/input/by-id/usb-Honeywell_Imaging_1900-event-kbd"


class HidRig:
    """A keyboard-wedge (``mode=keyboard``) or HID POS (``mode=pos``) scanner on the replay backend."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
        usage = {"usage_page": 0x8C, "usage": 0x02} if mode == "pos" else {}
        self.mode = mode
        self.device = ReplayDevice(hid_info(HONEYWELL, VOYAGER, b"/dev/hidraw3", **usage))  # type: ignore[arg-type]
        backend = ReplayBackend([self.device])
        monkeypatch.setattr(paycode_hid.hidapi_scanner, "load_hidapi", lambda: backend)
        self.url = f"hid://0c2e:0b61?mode={mode}&gap=50"

    def feed(self, code: str) -> None:
        self.device.push(*(pos_reports(code) if self.mode == "pos" else keyboard_reports(code)))

    def feed_garbage(self) -> None:
        if self.mode == "pos":
            # a two-report scan whose first report is cut to 10 of its 64 bytes: the whole scan is
            # discarded, its second report is never delivered as a (truncated) scan of its own
            first, second = pos_reports("1" * 60, "]C0")
            self.device.push(first[:10], second)
        else:
            self.device.push(*keyboard_reports("13", end=None))  # keys that stop before the end key

    def unplug(self) -> None:
        self.device.unplug()

    def replug(self) -> None:
        self.device.plug()


class EvdevRig:
    """A keyboard-wedge scanner in the Linux input layer: each open gets a new pipe device at EVDEV_PATH."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, make_device: Callable[..., Any]) -> None:
        self._make_device = make_device
        self._device: Any = None
        self.plugged = True
        monkeypatch.setattr(paycode_hid.evdev_scanner, "_load_evdev", lambda: (self._open, self._list))
        self.url = f"evdev://{EVDEV_PATH}?gap=50"

    def _open(self, path: str) -> Any:
        if not self.plugged or path != EVDEV_PATH:
            raise OSError(errno.ENOENT, "No such file or directory", path)
        self._device = self._make_device(path)
        return self._device

    def _list(self) -> list[str]:
        return [EVDEV_PATH] if self.plugged else []

    def feed(self, code: str) -> None:
        assert self._device is not None, "no scanner opened the device"
        self._device.send(key_events(keyboard_reports(code)))

    def feed_garbage(self) -> None:
        assert self._device is not None, "no scanner opened the device"
        self._device.send(key_events(keyboard_reports("13", end=None)))

    def unplug(self) -> None:
        self.plugged = False
        if self._device is not None:
            self._device.unplug()

    def replug(self) -> None:
        self.plugged = True


class TestHidKeyboardConformance(ScannerConformance):
    entry_point = "hid"

    @pytest.fixture
    def rig(self, monkeypatch: pytest.MonkeyPatch) -> HidRig:
        return HidRig(monkeypatch, "keyboard")


class TestHidPosConformance(ScannerConformance):
    entry_point = "hid"

    @pytest.fixture
    def rig(self, monkeypatch: pytest.MonkeyPatch) -> HidRig:
        return HidRig(monkeypatch, "pos")


class TestEvdevConformance(ScannerConformance):
    entry_point = "hid"

    @pytest.fixture
    def rig(self, monkeypatch: pytest.MonkeyPatch, pipe_devices: Callable[..., Any]) -> EvdevRig:
        return EvdevRig(monkeypatch, pipe_devices)
