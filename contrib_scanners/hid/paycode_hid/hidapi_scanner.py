"""``hid://`` scanners on hidapi: keyboard-wedge (boot keyboard reports) and HID POS (usage page 0x8C).

Device selection: ``hid://VID:PID``, ``serial=``, ``hid:///dev/hidraw3`` or ``path=``,
and ``interface=`` where a device has several. hidapi is reached only through a
*backend* (the ``hid`` module by default; :class:`paycode_hid.replay.ReplayBackend` in
tests), so recorded reports go through exactly the code a USB device does.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast
from urllib.parse import quote

import attrs
from paycode.errors import ScannerConfigError, ScannerGone
from paycode.scanning import Feedback, ScannerURL

from .base import Decoder, DecodingScanner, Result
from .descriptor import output_report_ids
from .keyboard import KeyboardDecoder
from .options import KEYBOARD_PARAMS, KeyboardOptions, open_with_retry, parse_vid_pid
from .pos import REPORT_SIZE, PosDecoder

__all__ = [
    "HID_PARAMS",
    "HID_POS_USAGE_PAGE",
    "HONEYWELL_ENABLE_REPORT",
    "HidBackend",
    "HidDevice",
    "HidScanner",
    "HidSelector",
    "list_hid_devices",
    "load_hidapi",
    "select_device",
]

HID_POS_USAGE_PAGE = 0x8C
HONEYWELL_VENDOR_ID = 0x0C2E
#: feature report 0xFE = 0x01: Honeywell scanners send HID POS input reports only after it
HONEYWELL_ENABLE_REPORT = bytes([0xFE, 0x01])
READ_SIZE = REPORT_SIZE

HID_PARAMS: Mapping[str, str] = {
    "mode": "keyboard (boot keyboard reports), pos (HID POS, usage page 0x8C), or auto: pos when the "
    "device has a HID POS interface, else keyboard (default auto)",
    "serial": "the device's USB serial number",
    "path": "hidapi device path (/dev/hidrawN on Linux), as `paycode devices` lists it",
    "interface": "USB interface number, for a device with several",
    "enable_report": "mode=pos: feature report sent after opening, in hex (e.g. fe01); auto sends fe01 to "
    "Honeywell devices (default auto); none sends nothing",
    "report_id": "mode=keyboard: id byte that starts every report, for devices that number them (default none)",
    **{
        kind.value: f"feedback {kind.value}: the output report to send, in hex, report id first "
        "(from the scanner's manual; sent only where the device declares output reports)"
        for kind in Feedback
    },
    **KEYBOARD_PARAMS,
}


class HidDevice(Protocol):
    """The methods of hidapi's ``hid.device`` the scanner uses."""

    def open_path(self, path: bytes) -> None: ...

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]: ...

    def send_feature_report(self, data: bytes) -> int: ...

    def write(self, data: bytes) -> int: ...

    def close(self) -> None: ...


class HidBackend(Protocol):
    """What the scanner needs of the ``hid`` module: ``enumerate()`` and ``device()``."""

    def enumerate(self, vendor_id: int = 0, product_id: int = 0) -> list[dict[str, Any]]: ...

    def device(self) -> HidDevice: ...


def load_hidapi() -> HidBackend:
    """The ``hid`` module of the ``hidapi`` package; ScannerConfigError when it is missing or the wrong one.

    The unrelated PyPI package ``hid`` installs a module of the same name with another
    API (``hid.Device``); it is recognised and named in the error.
    """
    try:
        module = importlib.import_module("hid")
    except ImportError as exc:
        raise ScannerConfigError(
            f"hid:// needs the hidapi package (pip install hidapi); importing module 'hid' failed: {exc}. "
            "If the unrelated package 'hid' is installed, remove it first (pip uninstall hid)"
        ) from None
    if not (callable(getattr(module, "device", None)) and callable(getattr(module, "enumerate", None))):
        origin = "the unrelated PyPI package 'hid'" if hasattr(module, "Device") else "an unknown package"
        raise ScannerConfigError(
            f"module 'hid' ({getattr(module, '__file__', '?')}) comes from {origin}, not hidapi; "
            "replace it: pip uninstall hid && pip install hidapi"
        )
    return cast(HidBackend, module)


# ---------------------------------------------------------------------------- selection


def _kind(entry: Mapping[str, Any]) -> str:
    if entry.get("usage_page") == HID_POS_USAGE_PAGE:
        return "pos"
    if entry.get("usage_page") == 0x01 and entry.get("usage") == 0x06:
        return "keyboard"
    return "other"


def _path_text(path: object) -> str:
    return path.decode("utf-8", "replace") if isinstance(path, bytes) else str(path)


@attrs.frozen
class HidSelector:
    """Which device a ``hid://`` URL names; every given field must match."""

    vendor_id: int | None = None
    product_id: int | None = None
    serial: str | None = None
    path: str | None = None
    interface: int | None = None

    @property
    def names_a_device(self) -> bool:
        return self.vendor_id is not None or self.serial is not None or self.path is not None

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return (
            (self.vendor_id is None or entry.get("vendor_id") == self.vendor_id)
            and (self.product_id is None or entry.get("product_id") == self.product_id)
            and (self.serial is None or entry.get("serial_number") == self.serial)
            and (self.path is None or _path_text(entry.get("path")) == self.path)
            and (self.interface is None or entry.get("interface_number") == self.interface)
        )

    def describe(self) -> str:
        parts = []
        if self.vendor_id is not None:
            parts.append(f"{self.vendor_id:04x}:{self.product_id:04x}")
        if self.serial is not None:
            parts.append(f"serial {self.serial}")
        if self.path is not None:
            parts.append(f"path {self.path}")
        if self.interface is not None:
            parts.append(f"interface {self.interface}")
        return ", ".join(parts) or "a HID POS scanner"


def select_device(entries: Sequence[Mapping[str, Any]], selector: HidSelector, mode: str) -> dict[str, Any]:
    """The one enumeration entry ``selector`` and ``mode`` (keyboard, pos, auto) pick.

    ScannerGone when none matches (the device may come back); ScannerConfigError when
    several distinct devices match, or an explicit mode finds no interface of its kind.
    """
    matches = [dict(e) for e in entries if selector.matches(e)]
    if not selector.names_a_device:
        matches = [e for e in matches if _kind(e) == "pos"]
    if not matches:
        raise ScannerGone(f"no HID device matches {selector.describe()}")
    wanted = ("pos", "keyboard") if mode == "auto" else (mode,)
    for kind in wanted:
        preferred = [e for e in matches if _kind(e) == kind]
        if preferred:
            break
    else:
        if mode != "auto":
            kinds = {"pos": "HID POS (usage page 0x8C)", "keyboard": "boot keyboard"}
            raise ScannerConfigError(
                f"HID device {selector.describe()} has no {kinds[mode]} interface; program the scanner for it "
                f"or choose mode={'keyboard' if mode == 'pos' else 'pos'}"
            )
        preferred = matches
    by_path: dict[str, dict[str, Any]] = {}
    for entry in preferred:
        by_path.setdefault(_path_text(entry.get("path")), entry)
    if len(by_path) > 1:
        listing = "; ".join(
            f"{p} (interface {e.get('interface_number')}, serial {e.get('serial_number') or '-'})"
            for p, e in by_path.items()
        )
        raise ScannerConfigError(
            f"{len(by_path)} HID devices match {selector.describe()}: {listing}; "
            "choose one with serial=, interface= or path="
        )
    return next(iter(by_path.values()))


# ---------------------------------------------------------------------------- the scanner


def _parse_enable_report(url: ScannerURL) -> bytes | str | None:
    text = (url.get_str("enable_report", "auto") or "auto").strip().lower()
    if text in {"auto", "none"}:
        return None if text == "none" else "auto"
    try:
        data = bytes.fromhex(text)
    except ValueError:
        data = b""
    if not data:
        raise ScannerConfigError(
            f"scanner hid://: parameter enable_report={text!r} is not valid; accepted: auto, none, "
            "or the report in hex, report id first (e.g. fe01)",
            scanner=url.raw,
        )
    return data


def _parse_output_reports(url: ScannerURL) -> dict[Feedback, bytes]:
    reports: dict[Feedback, bytes] = {}
    for kind in Feedback:
        text = url.get_str(kind.value)
        if text is None:
            continue
        try:
            data = bytes.fromhex(text)
        except ValueError:
            data = b""
        if not data:
            raise ScannerConfigError(
                f"scanner hid://: parameter {kind.value}={text!r} is not valid; accepted: the output report in "
                "hex, report id first (e.g. 0401 for report 4 with one byte 01)",
                scanner=url.raw,
            )
        reports[kind] = data
    return reports


class HidScanner(DecodingScanner):
    """A USB HID scanner read through hidapi. Implements :class:`paycode.scanning.Scanner`.

    ``backend`` replaces the ``hid`` module (see :mod:`paycode_hid.replay`). It has the
    feedback capability (:class:`paycode.scanning.FeedbackScanner`): the URL's ``good``,
    ``bad``, ``beep``, ``led_on``, ``led_off`` and ``trigger`` parameters give output reports
    in hex; a device that declares no output report refuses them (feedback then returns False).
    """

    def __init__(self, url: ScannerURL | str, *, backend: HidBackend | None = None) -> None:
        parsed = url if isinstance(url, ScannerURL) else ScannerURL.parse(url)
        self.keyboard = KeyboardOptions.from_url(parsed)
        super().__init__(parsed.raw, gap=self.keyboard.gap)
        self.url = parsed
        self.mode = parsed.get_choice("mode", ("auto", "keyboard", "pos"), "auto")
        self.selector = self._selector(parsed)
        if not self.selector.names_a_device and self.mode == "keyboard":
            raise ScannerConfigError(
                "scanner hid://: name the keyboard-wedge scanner with hid://VID:PID, serial= or path= "
                "(`paycode devices` lists them); without one only a HID POS scanner is looked for",
                scanner=parsed.raw,
            )
        self.enable_report = _parse_enable_report(parsed)
        self.output_reports = _parse_output_reports(parsed)
        report_id = parsed.get_str("report_id")
        self.report_id = None if report_id in (None, "none") else parsed.get_int("report_id", 0, minimum=1, maximum=255)
        self.backend = backend if backend is not None else load_hidapi()
        self.device_info: dict[str, Any] | None = None
        self._device: HidDevice | None = None
        self._decoder: KeyboardDecoder | PosDecoder = KeyboardDecoder(self.keyboard.layout)
        #: the output report ids the open device declares; None when it cannot tell (no descriptor)
        self.declared_outputs: frozenset[int] | None = None

    @staticmethod
    def _selector(url: ScannerURL) -> HidSelector:
        target, path_param = url.target, url.get_str("path")
        vendor_id = product_id = None
        path = None
        if target.startswith("/"):
            path = target
        elif target:
            vendor_id, product_id = parse_vid_pid(target, url)
        if path_param is not None:
            if path is not None and path != path_param:
                raise ScannerConfigError(
                    f"scanner hid://: two different paths given ({path} and path={path_param})", scanner=url.raw
                )
            path = path_param
        interface = url.get_int("interface", -1, minimum=0, maximum=255) if "interface" in url.params else None
        return HidSelector(vendor_id, product_id, url.get_str("serial"), path, interface)

    # ---------------------------------------------------------------- DecodingScanner

    @property
    def decoder(self) -> Decoder:
        return self._decoder

    @property
    def is_open(self) -> bool:
        return self._device is not None

    def open(self) -> None:
        if self._device is not None:
            return
        try:
            entries = self.backend.enumerate()
        except OSError as exc:
            raise ScannerGone(f"cannot list HID devices: {exc}", scanner=self.source) from None
        try:
            entry = select_device(entries, self.selector, self.mode)
        except (ScannerGone, ScannerConfigError) as exc:
            raise type(exc)(str(exc), scanner=self.source) from None
        path = entry["path"].encode() if isinstance(entry["path"], str) else bytes(entry["path"])
        handle = self.backend.device()
        open_with_retry(
            lambda: handle.open_path(path), retry=self.keyboard.open_retry, source=self.source, path=_path_text(path)
        )
        mode = self.mode if self.mode != "auto" else ("pos" if _kind(entry) == "pos" else "keyboard")
        if mode == "pos":
            self._enable_pos(handle, entry)
            decoder: KeyboardDecoder | PosDecoder = PosDecoder(max_length=self.keyboard.max_length)
        else:
            decoder = KeyboardDecoder(
                self.keyboard.layout,
                end=self.keyboard.end,
                max_length=self.keyboard.max_length,
                report_id=self.report_id,
            )
        declared = _declared_outputs(handle)
        with self._lock:
            self._device, self._decoder, self.device_info = handle, decoder, entry
            self.declared_outputs = declared
            self.meta = {"mode": mode} | ({"layout": self.keyboard.layout.name} if mode == "keyboard" else {})
        self._ready.clear()
        self._input_arrived()

    def _enable_pos(self, handle: HidDevice, entry: Mapping[str, Any]) -> None:
        report = self.enable_report
        explicit = isinstance(report, bytes)
        if report == "auto":
            report = HONEYWELL_ENABLE_REPORT if entry.get("vendor_id") == HONEYWELL_VENDOR_ID else None
        if not isinstance(report, bytes):
            return
        try:
            sent = handle.send_feature_report(report)
        except (OSError, ValueError):
            sent = -1
        if sent < 0 and explicit:
            handle.close()
            raise ScannerConfigError(
                f"the device refused feature report {report.hex()} (enable_report=); "
                "check the value in the scanner's manual or use enable_report=none",
                scanner=self.source,
            )

    def _poll(self, wait: float) -> list[Result]:
        device = self._device
        if device is None:
            return []
        try:
            data = device.read(READ_SIZE, max(1, int(wait * 1000)))
        except (OSError, ValueError) as exc:
            raise self._gone(f"the device went away ({exc})") from None
        if not data:
            return []
        self._input_arrived()
        return list(self._decoder.feed(bytes(data)))

    @property
    def feedback_kinds(self) -> frozenset[Feedback]:
        """The kinds the URL gives an output report for that the open device declares (all of them when it
        cannot tell, or before it is open)."""
        declared = self.declared_outputs
        return frozenset(k for k, report in self.output_reports.items() if declared is None or report[0] in declared)

    def feedback(self, kind: Feedback) -> bool:
        """Send the output report of ``kind``; False without one, for a report the device does not declare,
        when closed, or when the device refuses it."""
        report = self.output_reports.get(kind)
        if report is None or kind not in self.feedback_kinds:
            return False
        with self._lock:
            device = self._device
            if device is None:
                return False
            try:
                return device.write(report) >= 0
            except (OSError, ValueError):
                return False  # gone: the next read reports it

    def _release(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except (OSError, ValueError):
                pass
        self._decoder.reset()


def _declared_outputs(handle: HidDevice) -> frozenset[int] | None:
    """The output report ids in the device's report descriptor; None when hidapi cannot give the descriptor."""
    getter = getattr(handle, "get_report_descriptor", None)
    if getter is None:
        return None
    try:
        return output_report_ids(bytes(getter()))
    except (OSError, ValueError, TypeError):
        return None


# ---------------------------------------------------------------------------- listing


def _url_of(selector: HidSelector, mode: str | None) -> str:
    params = [f"mode={mode}"] if mode else []
    if selector.serial is not None:
        params.append(f"serial={quote(selector.serial, safe='')}")
    if selector.interface is not None:
        params.append(f"interface={selector.interface}")
    if selector.vendor_id is None:
        params.append(f"path={quote(selector.path or '', safe='/')}")
        return f"hid://?{'&'.join(params)}"
    query = f"?{'&'.join(params)}" if params else ""
    return f"hid://{selector.vendor_id:04x}:{selector.product_id:04x}{query}"


def _device_url(entry: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]) -> str:
    """The shortest URL that selects exactly ``entry`` among ``entries``: VID:PID, then serial=, interface=, path=."""
    kind = _kind(entry)
    mode = kind if kind != "other" else None
    vendor_id, product_id = entry["vendor_id"], entry["product_id"]
    serial = entry.get("serial_number") or None
    interface = entry.get("interface_number")
    choices = [HidSelector(vendor_id, product_id)]
    if serial is not None:
        choices.append(HidSelector(vendor_id, product_id, serial=serial))
    if isinstance(interface, int) and interface >= 0:
        choices.append(HidSelector(vendor_id, product_id, serial=serial, interface=interface))
    path = _path_text(entry.get("path"))
    for selector in choices:
        try:
            chosen = select_device(entries, selector, mode or "auto")
        except (ScannerGone, ScannerConfigError):
            continue
        if _path_text(chosen.get("path")) == path:
            return _url_of(selector, mode)
    return _url_of(HidSelector(path=path), mode)


def list_hid_devices(backend: HidBackend | None = None) -> list[dict[str, Any]]:
    """Every HID device present, each with a ``url`` that opens it; ``hid_pos`` marks usage page 0x8C."""
    api = backend if backend is not None else load_hidapi()
    entries = api.enumerate()
    devices = []
    for entry in entries:
        names = " ".join(filter(None, (entry.get("manufacturer_string"), entry.get("product_string"))))
        kind = _kind(entry)
        devices.append(
            {
                "url": _device_url(entry, entries),
                "description": (names or "HID device") + {"pos": " (HID POS)", "keyboard": " (keyboard)"}.get(kind, ""),
                "vendor_id": entry.get("vendor_id"),
                "product_id": entry.get("product_id"),
                "serial_number": entry.get("serial_number") or "",
                "usage_page": entry.get("usage_page"),
                "usage": entry.get("usage"),
                "interface_number": entry.get("interface_number"),
                "path": _path_text(entry.get("path")),
                "hid_pos": kind == "pos",
            }
        )
    return devices
