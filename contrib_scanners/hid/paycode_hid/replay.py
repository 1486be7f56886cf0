"""Recorded HID devices behind the same interface hidapi's ``hid`` module presents.

:class:`~paycode_hid.hidapi_scanner.HidScanner` talks to hidapi only through a
*backend*: an object with ``enumerate()`` and ``device()``, which the ``hid`` module
itself is. :class:`ReplayBackend` is another one: it lists :class:`ReplayDevice`
objects and hands out handles with hidapi's ``hid.device`` methods (``open_path``,
``read(max_length, timeout_ms)``, ``send_feature_report``, ``close``) that play back
recorded reports. Tests, demos and benchmarks use it where no USB device is present::

    from paycode_hid import HidScanner, ReplayBackend, ReplayDevice, hid_info, keyboard_reports

    device = ReplayDevice(hid_info(0x0C2E, 0x0B61, b"/dev/hidraw3"), keyboard_reports("130000000000000001"))
    with HidScanner("hid://0c2e:0b61?mode=keyboard", backend=ReplayBackend([device])) as scanner:
        assert scanner.read(1.0).text == "130000000000000001"

A device can be unplugged and plugged again, and its opening can be made to fail a
few times (the permission race after hot-plug), like a real one.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["ReplayBackend", "ReplayDevice", "ReplayHandle", "hid_info"]


def hid_info(
    vendor_id: int,
    product_id: int,
    path: bytes,
    *,
    usage_page: int = 0x01,
    usage: int = 0x06,
    serial_number: str = "",
    interface_number: int = 0,
    manufacturer_string: str = "",
    product_string: str = "",
) -> dict[str, Any]:
    """A device description as ``hid.enumerate()`` returns it (defaults: a boot keyboard interface)."""
    return {
        "path": path,
        "vendor_id": vendor_id,
        "product_id": product_id,
        "serial_number": serial_number,
        "release_number": 0x0100,
        "manufacturer_string": manufacturer_string,
        "product_string": product_string,
        "usage_page": usage_page,
        "usage": usage,
        "interface_number": interface_number,
    }


class ReplayDevice:
    """One recorded device: its enumeration entry, the reports it will send, and its plug state.

    ``open_errors`` are raised by the next opens, one each, before opening succeeds.
    Reports can be added while a reader waits (:meth:`push`); after :meth:`unplug`
    the remaining reports are still read, then reads raise ``OSError`` as hidapi does.
    """

    def __init__(
        self,
        info: Mapping[str, Any],
        reports: Iterable[bytes | Sequence[int]] = (),
        *,
        open_errors: Iterable[BaseException] = (),
        output: bool = True,
        descriptor: bytes | None = None,
    ) -> None:
        self.info = dict(info)
        self.open_errors = deque(open_errors)
        self.open_attempts = 0
        self.feature_reports: list[bytes] = []
        self.output = output  # False: the device declares no output report (hidapi's write returns -1)
        self.output_reports: list[bytes] = []
        self.descriptor = descriptor  # the report descriptor, or None: hidapi cannot give it
        self.plugged = True
        self.is_open = False
        self._reports = deque(bytes(r) for r in reports)
        self._changed = threading.Condition()

    @property
    def path(self) -> bytes:
        return bytes(self.info["path"])

    def push(self, *reports: bytes | Sequence[int]) -> None:
        """Send more reports (wakes a waiting reader)."""
        with self._changed:
            self._reports.extend(bytes(r) for r in reports)
            self._changed.notify_all()

    def unplug(self) -> None:
        with self._changed:
            self.plugged = False
            self._changed.notify_all()

    def plug(self, reports: Iterable[bytes | Sequence[int]] = ()) -> None:
        """Plug back in, optionally with new reports to send."""
        with self._changed:
            self.plugged = True
            self._reports.extend(bytes(r) for r in reports)
            self._changed.notify_all()

    def _read(self, max_length: int, timeout_ms: int) -> list[int]:
        with self._changed:
            if not self._reports and self.plugged:
                self._changed.wait(timeout_ms / 1000 if timeout_ms > 0 else None)
            if self._reports:
                return list(self._reports.popleft()[:max_length])
            if not self.plugged:
                raise OSError("read error")
            return []


class ReplayHandle:
    """What ``hid.device()`` returns: unopened until :meth:`open_path`."""

    def __init__(self, backend: ReplayBackend) -> None:
        self._backend = backend
        self._device: ReplayDevice | None = None

    def open_path(self, path: bytes) -> None:
        device = self._backend.find(path)
        if device is None:
            raise OSError("open failed")
        device.open_attempts += 1
        if device.open_errors:
            raise device.open_errors.popleft()
        device.is_open = True
        self._device = device

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]:
        if self._device is None:
            raise ValueError("not open")
        return self._device._read(max_length, timeout_ms)

    def send_feature_report(self, data: bytes | Sequence[int]) -> int:
        if self._device is None:
            raise ValueError("not open")
        self._device.feature_reports.append(bytes(data))
        return len(data)

    def get_report_descriptor(self) -> list[int]:
        if self._device is None:
            raise ValueError("not open")
        if self._device.descriptor is None:
            raise OSError("cannot read the report descriptor")
        return list(self._device.descriptor)

    def write(self, data: bytes | Sequence[int]) -> int:
        if self._device is None:
            raise ValueError("not open")
        if not self._device.plugged:
            raise OSError("write error")
        if not self._device.output:
            return -1
        self._device.output_reports.append(bytes(data))
        return len(data)

    def close(self) -> None:
        if self._device is not None:
            self._device.is_open = False
            self._device = None


class ReplayBackend:
    """Stands in for the ``hid`` module: ``enumerate()`` lists the plugged devices, ``device()`` makes a handle."""

    def __init__(self, devices: Iterable[ReplayDevice] = ()) -> None:
        self.devices = list(devices)

    def enumerate(self, vendor_id: int = 0, product_id: int = 0) -> list[dict[str, Any]]:
        return [
            dict(d.info)
            for d in self.devices
            if d.plugged
            and (not vendor_id or d.info["vendor_id"] == vendor_id)
            and (not product_id or d.info["product_id"] == product_id)
        ]

    def device(self) -> ReplayHandle:
        return ReplayHandle(self)

    def find(self, path: bytes) -> ReplayDevice | None:
        """The plugged device at ``path``."""
        for device in self.devices:
            if device.plugged and device.path == path:
                return device
        return None
