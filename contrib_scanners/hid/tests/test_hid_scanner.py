"""HidScanner through ReplayBackend (hidapi's interface): selection, modes, enable report, unplug, EACCES, gaps."""

from __future__ import annotations

import errno
import sys
import threading
import types
from collections.abc import Iterator

import pytest
from paycode.errors import ScannerConfigError, ScannerError, ScannerGone
from paycode_hid import (
    HidScanner,
    ReplayBackend,
    ReplayDevice,
    hid_info,
    keyboard_reports,
    list_hid_devices,
    load_hidapi,
    pos_reports,
)

CODE = "130000000000000001"
HONEYWELL, VOYAGER = 0x0C2E, 0x0B61


def keyboard_device(path: bytes = b"/dev/hidraw3", reports: list[bytes] | None = None, **info: object) -> ReplayDevice:
    return ReplayDevice(
        hid_info(HONEYWELL, VOYAGER, path, **info),  # type: ignore[arg-type]
        keyboard_reports(CODE) if reports is None else reports,
    )


def pos_device(path: bytes = b"/dev/hidraw4", reports: list[bytes] | None = None, **info: object) -> ReplayDevice:
    return ReplayDevice(
        hid_info(HONEYWELL, VOYAGER, path, usage_page=0x8C, usage=0x02, **info),  # type: ignore[arg-type]
        pos_reports(CODE, "]C0", code_id=0x6A) if reports is None else reports,
    )


@pytest.fixture
def opened() -> Iterator[list[HidScanner]]:
    """Scanners the test opened; closed afterwards."""
    scanners: list[HidScanner] = []
    yield scanners
    for scanner in scanners:
        scanner.close()


def open_scanner(url: str, backend: ReplayBackend, opened: list[HidScanner]) -> HidScanner:
    scanner = HidScanner(url, backend=backend)
    opened.append(scanner)
    scanner.open()
    return scanner


# ---------------------------------------------------------------------------- reading


def test_keyboard_scan_through_the_hidapi_interface(opened: list[HidScanner]) -> None:
    device = keyboard_device()
    scanner = open_scanner("hid://0c2e:0b61?mode=keyboard&layout=us", ReplayBackend([device]), opened)
    scan = scanner.read(2.0)
    assert scan is not None
    assert (scan.text, scan.raw, scan.source) == (
        CODE,
        CODE.encode() + b"\r",
        "hid://0c2e:0b61?mode=keyboard&layout=us",
    )
    assert scan.meta == {"mode": "keyboard", "layout": "us", "ending": "enter"}
    assert device.is_open and device.feature_reports == []
    assert scanner.read(0.05) is None


def test_pos_scan_sets_aim_symbology_and_code_id(opened: list[HidScanner]) -> None:
    scanner = open_scanner("hid://0c2e:0b61?mode=pos", ReplayBackend([pos_device()]), opened)
    scan = scanner.read(2.0)
    assert scan is not None
    assert (scan.text, scan.aim, scan.symbology) == (CODE, "]C0", "code128")
    assert scan.meta == {"mode": "pos", "code_id": "j"}


def test_read_with_no_time_left_still_takes_what_is_waiting(opened: list[HidScanner]) -> None:
    scanner = open_scanner("hid://0c2e:0b61", ReplayBackend([keyboard_device()]), opened)
    scan = scanner.read(0)
    assert scan is not None and scan.text == CODE
    assert scanner.read(0) is None


def test_reports_pushed_while_reading_arrive(opened: list[HidScanner]) -> None:
    device = keyboard_device(reports=[])
    scanner = open_scanner("hid://0c2e:0b61", ReplayBackend([device]), opened)
    timer = threading.Timer(0.05, device.push, keyboard_reports("4006381333931"))
    timer.start()
    try:
        scan = scanner.read(5.0)
    finally:
        timer.join()
    assert scan is not None and scan.text == "4006381333931"


def test_scans_from_one_read_slice_are_kept_for_the_next_read(opened: list[HidScanner]) -> None:
    device = keyboard_device(reports=keyboard_reports("1") + keyboard_reports("2"))
    scanner = open_scanner("hid://0c2e:0b61", ReplayBackend([device]), opened)
    assert [scanner.read(1.0).text, scanner.read(1.0).text] == ["1", "2"]  # type: ignore[union-attr]


def test_discarded_scan_is_a_scanner_error_and_reading_goes_on(opened: list[HidScanner]) -> None:
    f1 = bytes([0, 0, 0x3A, 0, 0, 0, 0, 0])
    reports = [f1, bytes(8), *keyboard_reports("5"), *keyboard_reports("6")]
    scanner = open_scanner("hid://0c2e:0b61", ReplayBackend([keyboard_device(reports=reports)]), opened)
    with pytest.raises(ScannerError, match=r"scan discarded: key 0x3A \(F1\) types nothing") as caught:
        scanner.read(1.0)
    assert not isinstance(caught.value, ScannerGone)
    assert scanner.read(1.0).text == "6"  # type: ignore[union-attr]


def test_a_scan_without_end_key_is_discarded_after_the_gap(opened: list[HidScanner]) -> None:
    device = keyboard_device(reports=keyboard_reports("12", end=None))
    scanner = open_scanner("hid://0c2e:0b61?gap=50", ReplayBackend([device]), opened)
    with pytest.raises(ScannerError, match="the keys stopped before the end key"):
        scanner.read(2.0)
    device.push(*keyboard_reports("34"))
    assert scanner.read(2.0).text == "34"  # type: ignore[union-attr]


def test_end_gap_ends_a_scan_on_silence(opened: list[HidScanner]) -> None:
    device = keyboard_device(reports=keyboard_reports("12", end=None))
    scanner = open_scanner("hid://0c2e:0b61?end=gap&gap=50", ReplayBackend([device]), opened)
    scan = scanner.read(2.0)
    assert scan is not None and (scan.text, scan.meta["ending"]) == ("12", "gap")


def test_a_continued_pos_scan_that_never_ends_is_discarded(opened: list[HidScanner]) -> None:
    device = pos_device(reports=pos_reports(b"8" * 80, "]Q1")[:1])
    scanner = open_scanner("hid://0c2e:0b61?gap=50", ReplayBackend([device]), opened)
    with pytest.raises(ScannerError, match="last part of a continued HID POS scan never came"):
        scanner.read(2.0)


# ---------------------------------------------------------------------------- selection


def test_select_by_serial_path_and_interface(opened: list[HidScanner]) -> None:
    a = keyboard_device(b"/dev/hidraw1", keyboard_reports("1"), serial_number="A1")
    b = keyboard_device(b"/dev/hidraw2", keyboard_reports("2"), serial_number="B2", interface_number=1)
    backend = ReplayBackend([a, b])
    assert open_scanner("hid://0c2e:0b61?serial=B2", backend, opened).read(1.0).text == "2"  # type: ignore[union-attr]
    a.push(*keyboard_reports("1"))
    assert open_scanner("hid:///dev/hidraw1", backend, opened).read(1.0).text == "1"  # type: ignore[union-attr]
    b.push(*keyboard_reports("2"))
    assert open_scanner("hid://?path=/dev/hidraw2", backend, opened).read(1.0).text == "2"  # type: ignore[union-attr]
    b.push(*keyboard_reports("2"))
    assert open_scanner("hid://0c2e:0b61?interface=1", backend, opened).read(1.0).text == "2"  # type: ignore[union-attr]


def test_two_matching_devices_must_be_told_apart() -> None:
    backend = ReplayBackend([keyboard_device(b"/dev/hidraw1"), keyboard_device(b"/dev/hidraw2")])
    with pytest.raises(ScannerConfigError, match=r"2 HID devices match 0c2e:0b61: /dev/hidraw1 .*serial=, interface="):
        HidScanner("hid://0c2e:0b61", backend=backend).open()


def test_absent_device_is_gone_not_misconfigured() -> None:
    with pytest.raises(ScannerGone, match="no HID device matches 0c2e:0b62"):
        HidScanner("hid://0c2e:0b62", backend=ReplayBackend([keyboard_device()])).open()


def test_without_a_selector_the_one_hid_pos_scanner_is_used(opened: list[HidScanner]) -> None:
    backend = ReplayBackend([keyboard_device(), pos_device()])
    scanner = open_scanner("hid://?mode=pos", backend, opened)
    assert scanner.read(1.0).aim == "]C0"  # type: ignore[union-attr]
    with pytest.raises(ScannerConfigError, match="name the keyboard-wedge scanner with hid://VID:PID"):
        HidScanner("hid://?mode=keyboard", backend=backend)


def test_auto_mode_prefers_the_hid_pos_interface_and_enables_honeywell(opened: list[HidScanner]) -> None:
    keyboard, pos = keyboard_device(), pos_device()
    scanner = open_scanner("hid://0c2e:0b61", ReplayBackend([keyboard, pos]), opened)
    assert scanner.meta["mode"] == "pos"
    assert pos.feature_reports == [bytes([0xFE, 0x01])] and not keyboard.is_open
    assert scanner.read(1.0).text == CODE  # type: ignore[union-attr]


def test_explicit_mode_without_such_an_interface_is_a_configuration_error() -> None:
    with pytest.raises(ScannerConfigError, match=r"has no HID POS .* interface; program the scanner"):
        HidScanner("hid://0c2e:0b61?mode=pos", backend=ReplayBackend([keyboard_device()])).open()


@pytest.mark.parametrize(
    ("url", "vendor", "sent"),
    [
        ("hid://0c2e:0b61?mode=pos&enable_report=none", HONEYWELL, []),
        ("hid://05e0:1200?mode=pos", 0x05E0, []),
        ("hid://05e0:1200?mode=pos&enable_report=04%2001", 0x05E0, [b"\x04\x01"]),
    ],
)
def test_enable_report(url: str, vendor: int, sent: list[bytes], opened: list[HidScanner]) -> None:
    device = ReplayDevice(hid_info(vendor, 0x1200 if vendor != HONEYWELL else VOYAGER, b"/x", usage_page=0x8C))
    open_scanner(url, ReplayBackend([device]), opened)
    assert device.feature_reports == sent


def test_a_refused_explicit_enable_report_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    device = pos_device()
    backend = ReplayBackend([device])
    original = backend.device

    def refusing_handle():  # type: ignore[no-untyped-def]
        handle = original()
        monkeypatch.setattr(handle, "send_feature_report", lambda data: -1)
        return handle

    monkeypatch.setattr(backend, "device", refusing_handle)
    with pytest.raises(ScannerConfigError, match="refused feature report fe01"):
        HidScanner("hid://0c2e:0b61?mode=pos&enable_report=fe01", backend=backend).open()
    assert not device.is_open
    scanner = HidScanner("hid://0c2e:0b61?mode=pos", backend=backend)  # auto: a refusal is tolerated
    scanner.open()
    try:
        assert scanner.read(1.0).text == CODE  # type: ignore[union-attr]
    finally:
        scanner.close()


# ---------------------------------------------------------------------------- unplug, permissions, closing


def test_unplug_is_scanner_gone_and_replug_reopens(opened: list[HidScanner]) -> None:
    device = keyboard_device(reports=keyboard_reports("11"))
    backend = ReplayBackend([device])
    scanner = open_scanner("hid://0c2e:0b61", backend, opened)
    device.unplug()
    assert scanner.read(1.0).text == "11"  # type: ignore[union-attr]  # what was sent before the unplug
    with pytest.raises(ScannerGone, match="the device went away"):
        scanner.read(1.0)
    assert not scanner.is_open and not device.is_open
    with pytest.raises(ScannerGone, match="no HID device matches"):
        scanner.open()
    device.plug(keyboard_reports("22"))
    scanner.open()
    assert scanner.read(1.0).text == "22"  # type: ignore[union-attr]


def test_reading_a_closed_scanner_is_scanner_gone() -> None:
    scanner = HidScanner("hid://0c2e:0b61", backend=ReplayBackend([keyboard_device()]))
    with pytest.raises(ScannerGone, match="not open"):
        scanner.read(0.1)
    scanner.close()
    scanner.close()


def test_permission_refusals_right_after_hot_plug_are_retried(opened: list[HidScanner]) -> None:
    device = keyboard_device()
    device.open_errors.extend([PermissionError(errno.EACCES, "Permission denied"), OSError("open failed")])
    scanner = open_scanner("hid://0c2e:0b61", ReplayBackend([device]), opened)
    assert device.open_attempts == 3
    assert scanner.read(1.0).text == CODE  # type: ignore[union-attr]


def test_a_lasting_permission_refusal_gives_up_with_a_hint() -> None:
    device = keyboard_device()
    device.open_errors.extend(PermissionError(errno.EACCES, "Permission denied") for _ in range(1000))
    with pytest.raises(ScannerGone, match=r"permission denied opening /dev/hidraw3; .*udev rule"):
        HidScanner("hid://0c2e:0b61?open_retry=0.15", backend=ReplayBackend([device])).open()
    assert 1 < device.open_attempts < 100


def test_a_vanished_node_is_not_retried() -> None:
    device = keyboard_device()
    device.open_errors.append(FileNotFoundError(errno.ENOENT, "No such file or directory"))
    with pytest.raises(ScannerGone, match="cannot open /dev/hidraw3: No such file or directory"):
        HidScanner("hid://0c2e:0b61", backend=ReplayBackend([device])).open()
    assert device.open_attempts == 1


def test_close_from_another_thread_ends_a_blocked_read() -> None:
    device = keyboard_device(reports=[])
    scanner = HidScanner("hid://0c2e:0b61", backend=ReplayBackend([device]))
    scanner.open()
    outcome: list[BaseException | object] = []

    def reader() -> None:
        try:
            outcome.append(scanner.read(10.0))
        except ScannerGone as exc:
            outcome.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    scanner.close()
    thread.join(5.0)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ScannerGone)
    assert not device.is_open


# ---------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("hid://0c2e:0b61?layout=dvorak", "keyboard layout 'dvorak' is not known"),
        ("hid://0c2e:0b61?end=space", "end='space' is not valid"),
        ("hid://0c2e:0b61?gap=0.5", "gap='0.5' is not valid; accepted: an integer >= 10 <= 60000"),
        ("hid://0c2e:0b61?mode=wedge", "mode='wedge' is not valid; accepted: auto, keyboard, pos"),
        ("hid://0c2e:0b61?enable_report=xyz", "enable_report='xyz' is not valid"),
        ("hid://0c2e:0b61?interface=one", "interface='one' is not valid"),
        ("hid://0c2e:0b61?report_id=300", "report_id='300' is not valid"),
        ("hid://honeywell", "'honeywell' is not a device; give VID:PID in hex"),
        ("hid:///dev/hidraw1?path=/dev/hidraw2", "two different paths given"),
    ],
)
def test_bad_parameters_are_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(ScannerConfigError, match=message) as caught:
        HidScanner(url, backend=ReplayBackend())
    assert "\n" not in str(caught.value)


def test_numbered_keyboard_reports(opened: list[HidScanner]) -> None:
    device = keyboard_device(reports=[b"\x01" + r for r in keyboard_reports("99")])
    scanner = open_scanner("hid://0c2e:0b61?report_id=1", ReplayBackend([device]), opened)
    assert scanner.read(1.0).text == "99"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- listing


def test_every_listed_url_opens_its_own_device(opened: list[HidScanner]) -> None:
    devices = [
        keyboard_device(b"/dev/hidraw1", serial_number="A1", product_string="Voyager 1450g"),
        keyboard_device(b"/dev/hidraw2", serial_number="B2"),
        keyboard_device(b"/dev/hidraw3", interface_number=0),  # composite: keyboard and HID POS, no serial
        pos_device(b"/dev/hidraw4", interface_number=1),
        ReplayDevice(hid_info(0x05E0, 0x1200, b"/dev/hidraw5")),
        ReplayDevice(hid_info(0x05E0, 0x1200, b"/dev/hidraw6")),  # twins without serial: told apart by path
        ReplayDevice(hid_info(0x046D, 0xC077, b"/dev/hidraw7", usage=0x02, manufacturer_string="Logitech")),  # mouse
    ]
    backend = ReplayBackend(devices)
    listed = list_hid_devices(backend)
    assert [d["path"] for d in listed] == [f"/dev/hidraw{i}" for i in range(1, 8)]
    assert [d["hid_pos"] for d in listed] == [False, False, False, True, False, False, False]
    assert listed[0]["url"] == "hid://0c2e:0b61?mode=keyboard&serial=A1"
    assert listed[0]["description"] == "Voyager 1450g (keyboard)"
    assert listed[2]["url"] == "hid://?mode=keyboard&path=/dev/hidraw3"
    assert listed[3]["url"] == "hid://0c2e:0b61?mode=pos"
    assert listed[4]["url"] == "hid://?mode=keyboard&path=/dev/hidraw5"
    assert listed[6]["url"] == "hid://046d:c077"
    assert set(listed[0]) >= {
        "url", "description", "vendor_id", "product_id", "serial_number", "usage_page", "usage",
        "interface_number", "path",
    }  # fmt: skip
    for entry in listed:
        scanner = open_scanner(entry["url"], backend, opened)
        assert scanner.device_info is not None and scanner.device_info["path"].decode() == entry["path"]


# ---------------------------------------------------------------------------- the hidapi module


def test_the_unrelated_hid_package_is_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    impostor = types.ModuleType("hid")
    impostor.Device = type("Device", (), {})  # type: ignore[attr-defined]
    impostor.enumerate = lambda *a: []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hid", impostor)
    with pytest.raises(ScannerConfigError, match=r"unrelated PyPI package 'hid', not hidapi; .*pip install hidapi"):
        load_hidapi()
    with pytest.raises(ScannerConfigError, match="not hidapi"):
        HidScanner("hid://0c2e:0b61")


def test_a_missing_hidapi_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hid", None)
    with pytest.raises(ScannerConfigError, match=r"hid:// needs the hidapi package \(pip install hidapi\)"):
        load_hidapi()


def test_the_real_hidapi_module_has_the_interface() -> None:
    api = load_hidapi()
    assert isinstance(api.enumerate(0xFFFF, 0xFFFF), list)
    handle = api.device()
    with pytest.raises((OSError, ValueError)):
        handle.read(64, 1)  # not open


# ---------------------------------------------------------------------------- feedback (issue 15)


def test_feedback_sends_the_output_reports_the_url_gives(opened: list[HidScanner]) -> None:
    from paycode.scanning import Feedback, FeedbackScanner

    device = pos_device()
    url = "hid://0c2e:0b61?mode=pos&good=0401&bad=0402&led_off=0500"
    scanner = HidScanner(url, backend=ReplayBackend([device]))
    assert isinstance(scanner, FeedbackScanner)
    assert scanner.feedback_kinds == {Feedback.GOOD, Feedback.BAD, Feedback.LED_OFF}
    assert not scanner.feedback(Feedback.GOOD)  # not open
    opened.append(scanner)
    scanner.open()
    assert scanner.read(2.0) is not None
    assert scanner.feedback(Feedback.GOOD) and scanner.feedback(Feedback.BAD)
    assert not scanner.feedback(Feedback.BEEP)  # none given
    assert device.output_reports == [b"\x04\x01", b"\x04\x02"]
    device.unplug()
    assert not scanner.feedback(Feedback.GOOD)  # gone: False, never an exception


def test_a_device_without_output_reports_refuses_feedback(opened: list[HidScanner]) -> None:
    from paycode.scanning import Feedback

    device = ReplayDevice(hid_info(HONEYWELL, VOYAGER, b"/dev/hidraw4", usage_page=0x8C, usage=0x02), output=False)
    scanner = open_scanner("hid://0c2e:0b61?mode=pos&good=0401", ReplayBackend([device]), opened)
    assert not scanner.feedback(Feedback.GOOD) and device.output_reports == []


@pytest.mark.parametrize("value", ["", "zz", "040"])
def test_a_bad_output_report_is_a_clear_error(value: str) -> None:
    with pytest.raises(ScannerConfigError, match=r"good=.*output report in hex, report id first"):
        HidScanner(f"hid://0c2e:0b61?mode=pos&good={value}", backend=ReplayBackend([]))


# a HID POS report descriptor: input report 2 (the scan data), output report 4 (the vendor's beeper/LED)
POS_DESCRIPTOR = bytes.fromhex("058c0902a10185027508953f091281028504950109ff9102c0")
# a boot keyboard's: no report ids, one output report (the keyboard LEDs), and a long item skipped
KEYBOARD_DESCRIPTOR = bytes.fromhex("05010906a101750195050508190129059102fe0100aac0")


def test_the_descriptor_says_which_output_reports_exist() -> None:
    from paycode_hid.descriptor import output_report_ids

    assert output_report_ids(POS_DESCRIPTOR) == {4}
    assert output_report_ids(KEYBOARD_DESCRIPTOR) == {0}
    assert output_report_ids(bytes.fromhex("058c0902a101850295018102c0")) == frozenset()  # input only
    assert output_report_ids(b"") == frozenset()
    # push/pop restore the report id in effect
    assert output_report_ids(bytes.fromhex("8503a485079102b49102")) == {3, 7}


def test_feedback_only_for_output_reports_the_device_declares(opened: list[HidScanner]) -> None:
    from paycode.scanning import Feedback

    info = hid_info(HONEYWELL, VOYAGER, b"/dev/hidraw4", usage_page=0x8C, usage=0x02)
    device = ReplayDevice(info, descriptor=POS_DESCRIPTOR)
    scanner = HidScanner("hid://0c2e:0b61?mode=pos&good=0401&bad=0502", backend=ReplayBackend([device]))
    assert scanner.feedback_kinds == {Feedback.GOOD, Feedback.BAD}  # not open: the device is not known yet
    opened.append(scanner)
    scanner.open()
    assert scanner.declared_outputs == {4}
    assert scanner.feedback_kinds == {Feedback.GOOD}  # report 5 is not in the descriptor
    assert scanner.feedback(Feedback.GOOD) and not scanner.feedback(Feedback.BAD)
    assert device.output_reports == [b"\x04\x01"]
