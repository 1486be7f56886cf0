"""The serial ports present now, as scanner URLs (``paycode devices``)."""

from __future__ import annotations

from typing import Any

from serial.tools import list_ports

__all__ = ["describe_port", "list_devices"]


def list_devices() -> list[dict[str, Any]]:
    """Every serial port the OS lists: url, port, description, hwid, vid:pid, serial number, maker."""
    return [describe_port(info) for info in sorted(list_ports.comports(), key=lambda info: info.device)]


def describe_port(info: Any) -> dict[str, Any]:
    """One ``serial.tools.list_ports`` entry as a JSON-able dict."""
    vid_pid = f"{info.vid:04x}:{info.pid:04x}" if info.vid is not None and info.pid is not None else None
    device = info.device
    return {
        "url": f"serial://{device}",  # serial:///dev/ttyACM0, serial://COM3
        "port": device,
        "description": info.description if info.description and info.description != "n/a" else device,
        "hwid": info.hwid,
        "vid_pid": vid_pid,
        "serial_number": info.serial_number,
        "manufacturer": info.manufacturer,
        "product": info.product,
    }
