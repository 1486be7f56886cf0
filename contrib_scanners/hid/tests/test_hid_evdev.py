"""The evdev backend over real file descriptors (pipes carrying struct input_event, read by python-evdev).

This machine has no /dev/uinput, so no virtual keyboard can be made with evdev.UInput;
the PipeInputDevice of conftest.py presents InputDevice's interface instead.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from evdev import ecodes
from paycode.errors import ScannerConfigError, ScannerGone
from paycode_hid import DecodedScan, DiscardedScan, EvdevKeyDecoder, EvdevScanner, key_events, keyboard_reports
from paycode_hid.evdev_scanner import list_evdev_devices
from paycode_hid.usages import LINUX_KEY_TO_USAGE, LINUX_MODIFIER_BITS

CODE = "130000000000000001"
Make = Callable[..., Any]  # conftest.PipeInputDevice


@pytest.fixture
def scanners() -> Iterator[list[EvdevScanner]]:
    made: list[EvdevScanner] = []
    yield made
    for scanner in made:
        scanner.close()


def scanner_for(url: str, devices: dict[str, object], made: list[EvdevScanner]) -> EvdevScanner:
    def factory(path: str) -> object:
        if path not in devices:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return devices[path]

    scanner = EvdevScanner(url, device_factory=factory, list_paths=lambda: sorted(devices))  # type: ignore[arg-type]
    made.append(scanner)
    return scanner


def test_scan_read_through_a_grabbed_device(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    device = pipe_devices("/dev/input/event7")
    scanner = scanner_for("evdev:///dev/input/event7", {"/dev/input/event7": device}, scanners)
    scanner.open()
    assert device.grabbed
    device.send(key_events(keyboard_reports(CODE)))
    scan = scanner.read(2.0)
    assert scan is not None and scan.text == CODE
    assert scan.meta == {"mode": "keyboard", "layout": "us", "ending": "enter"}
    assert scanner.read(0.05) is None
    scanner.close()
    assert not device.grabbed and device.closed


def test_layout_applies_to_evdev_too(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    device = pipe_devices("/dev/input/event7")
    scanner = scanner_for("evdev:///dev/input/event7?layout=fr", {"/dev/input/event7": device}, scanners)
    scanner.open()
    device.send(key_events(keyboard_reports("0042 é@", "fr")))
    assert scanner.read(2.0).text == "0042 é@"  # type: ignore[union-attr]


def test_grab_false_leaves_the_device_shared(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    device = pipe_devices("/dev/input/event7")
    scanner = scanner_for("evdev:///dev/input/event7?grab=false", {"/dev/input/event7": device}, scanners)
    scanner.open()
    assert not device.grabbed
    scanner.close()
    assert device.closed


def test_unplug_enodev_is_scanner_gone_without_spinning(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    device = pipe_devices("/dev/input/event7")
    scanner = scanner_for("evdev:///dev/input/event7", {"/dev/input/event7": device}, scanners)
    scanner.open()
    device.unplug()
    with pytest.raises(ScannerGone, match="the device was unplugged"):
        scanner.read(2.0)
    assert device.reads == 1  # one failing read, then the descriptor was closed
    assert device.closed and not scanner.is_open


def test_end_of_file_is_scanner_gone(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    device = pipe_devices("/dev/input/event7")
    scanner = scanner_for("evdev:///dev/input/event7", {"/dev/input/event7": device}, scanners)
    scanner.open()
    device.close_writer()
    with pytest.raises(ScannerGone, match="end of file"):
        scanner.read(2.0)
    assert device.reads == 1 and device.closed


def test_a_missing_node_is_gone(scanners: list[EvdevScanner]) -> None:
    scanner = scanner_for("evdev:///dev/input/by-id/usb-scanner-event-kbd", {}, scanners)
    with pytest.raises(ScannerGone, match="cannot open /dev/input/by-id/usb-scanner-event-kbd"):
        scanner.open()


def test_permission_refusal_after_hot_plug_is_retried(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    device = pipe_devices("/dev/input/event7")
    attempts = []

    def factory(path: str) -> object:
        attempts.append(path)
        if len(attempts) < 3:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return device

    scanner = EvdevScanner("evdev:///dev/input/event7", device_factory=factory, list_paths=list)  # type: ignore[arg-type]
    scanners.append(scanner)
    scanner.open()
    assert len(attempts) == 3 and scanner.is_open


def test_a_device_grabbed_elsewhere_is_gone_and_closed(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    device = pipe_devices("/dev/input/event7", busy=True)
    scanner = scanner_for("evdev:///dev/input/event7", {"/dev/input/event7": device}, scanners)
    with pytest.raises(ScannerGone, match=r"cannot grab /dev/input/event7 .*another program holds it"):
        scanner.open()
    assert device.closed


def test_lookup_by_name_and_ids(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    scanner_dev = pipe_devices("/dev/input/event5", name="Honeywell Imaging 1900")
    keyboard = pipe_devices("/dev/input/event3", name="AT Translated Set 2 keyboard", vendor=1, product=1)
    mouse = pipe_devices("/dev/input/event4", name="Honeywell mouse", keys=[272, 273])  # no Enter: not a keyboard
    devices = {d.path: d for d in (scanner_dev, keyboard, mouse)}
    by_name = scanner_for("evdev://?name=HONEYWELL", devices, scanners)
    by_name.open()
    assert by_name.is_open and scanner_dev.grabbed
    assert keyboard.closed and mouse.closed  # looked at, not kept
    scanner_dev.send(key_events(keyboard_reports("77")))
    assert by_name.read(2.0).text == "77"  # type: ignore[union-attr]


def test_lookup_by_vid_pid(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    target = pipe_devices("/dev/input/event5")
    other = pipe_devices("/dev/input/event6", vendor=0x05E0, product=0x1200)
    scanner = scanner_for("evdev://0c2e:0b61", {d.path: d for d in (target, other)}, scanners)
    scanner.open()
    assert target.grabbed and other.closed


def test_lookup_finds_none_or_too_many(pipe_devices: Make, scanners: list[EvdevScanner]) -> None:
    a, b = pipe_devices("/dev/input/event5"), pipe_devices("/dev/input/event6")
    devices = {d.path: d for d in (a, b)}
    with pytest.raises(ScannerConfigError, match="2 input devices match name containing 'honeywell': /dev/input/ev"):
        scanner_for("evdev://?name=honeywell", devices, scanners).open()
    assert a.closed and b.closed
    with pytest.raises(ScannerGone, match="no keyboard input device matches name containing 'zebra'"):
        scanner_for("evdev://?name=zebra", {}, scanners).open()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("evdev://", "name the input device"),
        ("evdev://scanner", "'scanner' is not a device"),
        ("evdev:///dev/input/event3?grab=maybe", "grab='maybe' is not valid"),
        ("evdev:///dev/input/event3?layout=xx", "keyboard layout 'xx' is not known"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ScannerConfigError, match=message):
        EvdevScanner(url, device_factory=lambda p: None, list_paths=list)  # type: ignore[arg-type,return-value]


def test_listing(pipe_devices: Make) -> None:
    devices = {
        "/dev/input/event5": pipe_devices("/dev/input/event5"),
        "/dev/input/event4": pipe_devices("/dev/input/event4", name="mouse", keys=[272]),
    }
    listed = list_evdev_devices(devices.__getitem__, lambda: sorted(devices))
    assert listed == [
        {
            "url": "evdev:///dev/input/event5",
            "description": "Honeywell Imaging 1900 (input keyboard)",
            "vendor_id": 0x0C2E,
            "product_id": 0x0B61,
            "path": "/dev/input/event5",
            "name": "Honeywell Imaging 1900",
        }
    ]
    assert all(d.closed for d in devices.values())


# ---------------------------------------------------------------------------- the pure event decoder


def test_key_codes_agree_with_python_evdev() -> None:
    for code, usage in LINUX_KEY_TO_USAGE.items():
        assert code in ecodes.KEY, (code, hex(usage))
    assert ecodes.KEY_A in LINUX_KEY_TO_USAGE and LINUX_KEY_TO_USAGE[ecodes.KEY_A] == 0x04
    assert LINUX_KEY_TO_USAGE[ecodes.KEY_0] == 0x27 and LINUX_KEY_TO_USAGE[ecodes.KEY_KP0] == 0x62
    assert LINUX_KEY_TO_USAGE[ecodes.KEY_102ND] == 0x64 and LINUX_KEY_TO_USAGE[ecodes.KEY_KPENTER] == 0x58
    assert LINUX_MODIFIER_BITS[ecodes.KEY_RIGHTALT] == 0x40 and LINUX_MODIFIER_BITS[ecodes.KEY_LEFTSHIFT] == 0x02


def test_autorepeat_and_other_events_are_ignored() -> None:
    decoder = EvdevKeyDecoder("us")
    events = [
        (ecodes.EV_MSC, ecodes.MSC_SCAN, 0x7001E),
        (ecodes.EV_KEY, ecodes.KEY_1, 1),
        (ecodes.EV_KEY, ecodes.KEY_1, 2),  # autorepeat: still one press
        (ecodes.EV_KEY, ecodes.KEY_1, 0),
        (ecodes.EV_KEY, ecodes.KEY_ENTER, 1),
    ]
    assert [r for e in events for r in decoder.feed(*e)] == [DecodedScan(text="1", raw=b"1\r", ending="enter")]


def test_unknown_keys_discard_and_seven_keys_roll_over() -> None:
    decoder = EvdevKeyDecoder("us")
    unknown = [(ecodes.EV_KEY, ecodes.KEY_VOLUMEUP, 1), (ecodes.EV_KEY, ecodes.KEY_ENTER, 1)]
    assert [r for e in unknown for r in decoder.feed(*e)] == [
        DiscardedScan(f"Linux key code {ecodes.KEY_VOLUMEUP} is not a key a scanner types")
    ]
    decoder.reset()
    seven = [ecodes.KEY_1, ecodes.KEY_2, ecodes.KEY_3, ecodes.KEY_4, ecodes.KEY_5, ecodes.KEY_6, ecodes.KEY_7]
    results = [r for code in seven for r in decoder.feed(ecodes.EV_KEY, code, 1)]
    results += decoder.feed(ecodes.EV_KEY, ecodes.KEY_ENTER, 1)  # 8 keys down: still a rollover, Enter unseen
    assert results == [] and decoder.pending
    # once six keys are down again, 7 and the held Enter show as newly pressed, as a USB host would see them
    results = [r for code in seven[:2] for r in decoder.feed(ecodes.EV_KEY, code, 0)]
    assert results == [DecodedScan(text="1234567", raw=b"1234567\r", ending="enter")]
