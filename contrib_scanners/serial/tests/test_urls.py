"""Scanner URLs, line settings, the registered schemes and the device listing."""

from __future__ import annotations

import pluggy
import pytest
import serial
from paycode.errors import ScannerConfigError
from paycode.hookspecs import PROJECT
from paycode.scanning import CORE_PARAMS, Scanner, ScannerType, ScannerURL
from paycode_serial import FrameDecoder, Framing, LineSettings, SerialScanner, describe_port, list_devices, port_for_url
from paycode_serial import plugin as serial_plugin
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo


def parse(text: str) -> ScannerURL:
    return ScannerURL.parse(text)


@pytest.mark.parametrize(
    ("url", "port", "local"),
    [
        ("serial:///dev/ttyACM0?baudrate=9600&suffix=cr", "/dev/ttyACM0", True),
        ("serial:///dev/serial/by-id/usb-Honeywell_1900-if00", "/dev/serial/by-id/usb-Honeywell_1900-if00", True),
        ("serial://COM3", "COM3", True),
        ("serial+socket://127.0.0.1:7000", "socket://127.0.0.1:7000", False),
        ("serial+rfc2217://scanners.lan:4001", "rfc2217://scanners.lan:4001", False),
        ("rfc2217://10.0.0.5:2217", "rfc2217://10.0.0.5:2217", False),
        ("serial+socket://[::1]:7000", "socket://[::1]:7000", False),
        ("serial+loop://", "loop://", False),
        ("acme+socket://127.0.0.1:9", "socket://127.0.0.1:9", False),
    ],
)
def test_port_for_url(url: str, port: str, local: bool) -> None:
    assert port_for_url(parse(url)) == (port, local)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("serial://", "names no device; write serial:///dev/ttyACM0"),
        ("serial+socket://127.0.0.1", "'127.0.0.1' is not host:port; write serial+socket://127.0.0.1:7000"),
        ("serial+socket://:7000", "is not host:port"),
        ("serial+socket://host:99999", "is not host:port"),
        ("rfc2217://host:port", "is not host:port"),
        ("serial+loop://somewhere", "serial+loop:// takes no target"),
        ("serial+ssh://host:22", "unknown transport 'ssh'; accepted: serial+socket://, serial+rfc2217://"),
    ],
)
def test_bad_targets_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(ScannerConfigError, match=None) as caught:
        port_for_url(parse(url))
    assert message in str(caught.value)


def test_line_settings_from_url() -> None:
    assert LineSettings.from_url(parse("serial:///dev/ttyS0")) == LineSettings()
    line = LineSettings.from_url(
        parse("serial:///dev/ttyS0?baudrate=115200&bytesize=7&parity=Even&stopbits=1.5&rtscts=on")
    )
    assert line == LineSettings(baudrate=115200, bytesize=7, parity="even", stopbits="1.5", rtscts=True)
    assert line.pyserial_kwargs() == {
        "baudrate": 115200,
        "bytesize": 7,
        "parity": serial.PARITY_EVEN,
        "stopbits": serial.STOPBITS_ONE_POINT_FIVE,
        "rtscts": True,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("baudrate=fast", "baudrate='fast' is not valid; accepted: an integer >= 50 <= 4000000"),
        ("baudrate=10", "baudrate='10' is not valid"),
        ("bytesize=9", "bytesize='9' is not valid; accepted: 5, 6, 7, 8"),
        ("parity=x", "parity='x' is not valid; accepted: none, even, odd, mark, space"),
        ("stopbits=3", "stopbits='3' is not valid; accepted: 1, 1.5, 2"),
        ("rtscts=sometimes", "rtscts='sometimes' is not valid"),
    ],
)
def test_bad_line_settings_are_clear_errors(params: str, message: str) -> None:
    with pytest.raises(ScannerConfigError) as caught:
        SerialScanner(f"serial:///dev/ttyS0?{params}")  # checked when built, before any port is touched
    assert message in str(caught.value)


def test_gap_framing_polls_often_enough_to_notice_the_pause() -> None:
    assert SerialScanner("serial:///dev/ttyS0?suffix=none&gap=20")._poll == pytest.approx(0.01)
    assert SerialScanner("serial:///dev/ttyS0")._poll == pytest.approx(0.05)


def registered() -> dict[str, ScannerType]:
    pm = pluggy.PluginManager(PROJECT)
    from paycode import hookspecs

    pm.add_hookspecs(hookspecs)
    pm.register(serial_plugin)
    types: dict[str, ScannerType] = {}
    pm.hook.paycode_register_scanners(register=lambda t: types.setdefault(t.scheme, t))
    return types


def test_the_plugin_registers_the_serial_family() -> None:
    types = registered()
    assert sorted(types) == ["rfc2217", "serial", "serial+loop", "serial+rfc2217", "serial+socket"]
    for scanner_type in types.values():
        assert {"baudrate", "bytesize", "parity", "stopbits", "rtscts", "stx", "gap", "max_length"} <= set(
            scanner_type.params
        )
        assert scanner_type.description
    assert types["serial"].list_devices is list_devices
    assert all(t.list_devices is None for s, t in types.items() if s != "serial")
    scanner = types["serial"].factory(parse("serial:///dev/ttyACM0?suffix=cr"))
    assert isinstance(scanner, Scanner)
    assert isinstance(scanner, SerialScanner) and isinstance(scanner.decoder, FrameDecoder)
    assert scanner.decoder.framing == Framing(suffix="cr")
    with pytest.raises(ScannerConfigError, match="suffix"):
        types["serial+socket"].factory(parse("serial+socket://127.0.0.1:7000?suffix=%01"))


def test_suffix_and_prefix_mean_the_same_as_in_the_core() -> None:
    assert {"prefix", "suffix"} <= set(CORE_PARAMS)


def test_the_loop_port_reads_what_was_written_to_it() -> None:
    scanner = registered()["serial+loop"].factory(parse("serial+loop://?suffix=crlf"))
    assert isinstance(scanner, SerialScanner)
    with scanner:
        scanner.serial_port.write(b"130000000000000001\r\n")
        scan = scanner.read(5.0)
        assert scan is not None and scan.text == "130000000000000001"


def test_describe_port() -> None:
    info = ListPortInfo("/dev/ttyACM0", skip_link_detection=True)
    info.vid, info.pid, info.serial_number = 0x0C2E, 0x0B61, "17208B0123"
    info.manufacturer, info.product, info.description = "Honeywell", "Xenon 1900", "Honeywell Xenon 1900"
    info.hwid = info.usb_info()
    assert describe_port(info) == {
        "url": "serial:///dev/ttyACM0",
        "port": "/dev/ttyACM0",
        "description": "Honeywell Xenon 1900",
        "hwid": "USB VID:PID=0C2E:0B61 SER=17208B0123",
        "vid_pid": "0c2e:0b61",
        "serial_number": "17208B0123",
        "manufacturer": "Honeywell",
        "product": "Xenon 1900",
    }
    plain = ListPortInfo("/dev/ttyS0", skip_link_detection=True)
    assert describe_port(plain)["vid_pid"] is None
    assert describe_port(plain)["description"] == "/dev/ttyS0"  # pyserial's "n/a" is not shown


def test_list_devices_lists_what_the_os_lists() -> None:
    devices = list_devices()
    assert [d["port"] for d in devices] == sorted(p.device for p in list_ports.comports())
    assert all(d["url"] == f"serial://{d['port']}" and d["description"] for d in devices)
