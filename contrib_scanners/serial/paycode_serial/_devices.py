"""The serial ports present now, as scanner URLs (``paycode devices``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from serial.tools import list_ports

__all__ = ["describe_port", "list_devices"]


def list_devices(scheme: str = "serial", usb_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every serial port the OS lists: url, port, description, hwid, vid:pid, serial number, maker.

    A vendor family lists its own: ``scheme`` names the URLs (``acme:///dev/ttyUSB0``), and
    ``usb_ids`` (``"0c2e:0b61"``, lower-case hex) keeps only the ports of those USB devices.
    """
    wanted = None if usb_ids is None else {i.lower() for i in usb_ids}
    ports = sorted(list_ports.comports(), key=lambda info: info.device)
    described = [describe_port(info, scheme) for info in ports]
    return [d for d in described if wanted is None or d["vid_pid"] in wanted]


def describe_port(info: Any, scheme: str = "serial") -> dict[str, Any]:
    """One ``serial.tools.list_ports`` entry as a JSON-able dict, its URL in ``scheme``."""
    vid_pid = f"{info.vid:04x}:{info.pid:04x}" if info.vid is not None and info.pid is not None else None
    device = info.device
    return {
        "url": f"{scheme}://{device}",  # serial:///dev/ttyACM0, serial://COM3
        "port": device,
        "description": info.description if info.description and info.description != "n/a" else device,
        "hwid": info.hwid,
        "vid_pid": vid_pid,
        "serial_number": info.serial_number,
        "manufacturer": info.manufacturer,
        "product": info.product,
    }
