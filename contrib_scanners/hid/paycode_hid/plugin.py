"""The paycode plugin: registers the ``hid`` and ``evdev`` scanner schemes (entry point ``paycode``/``hid``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycode.hookspecs import hookimpl
from paycode.scanning import Scanner, ScannerType, ScannerURL

from .evdev_scanner import EVDEV_PARAMS, EvdevScanner, list_evdev_devices
from .hidapi_scanner import HID_PARAMS, HidScanner, list_hid_devices

__all__ = ["paycode_register_scanners"]


def _hid_scanner(url: ScannerURL) -> Scanner:
    return HidScanner(url)


def _evdev_scanner(url: ScannerURL) -> Scanner:
    return EvdevScanner(url)


def _list_hid() -> list[dict[str, Any]]:
    return list_hid_devices()


def _list_evdev() -> list[dict[str, Any]]:
    return list_evdev_devices()


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    """``hid://`` (hidapi: keyboard wedge and HID POS) and ``evdev://`` (Linux input layer, grabbed)."""
    register(
        ScannerType(
            scheme="hid",
            factory=_hid_scanner,
            params=HID_PARAMS,
            description="USB HID barcode scanner through hidapi: keyboard wedge (mode=keyboard) or HID POS (mode=pos)",
            list_devices=_list_hid,
        )
    )
    register(
        ScannerType(
            scheme="evdev",
            factory=_evdev_scanner,
            params=EVDEV_PARAMS,
            description="keyboard-wedge scanner read from the Linux input layer, grabbed from other windows",
            list_devices=_list_evdev,
        )
    )
