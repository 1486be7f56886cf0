"""paycode-hid: USB HID barcode scanners for paycode.

``hid://VID:PID?mode=keyboard&layout=us`` reads a keyboard-wedge scanner's boot
keyboard reports through hidapi, ``hid://VID:PID?mode=pos`` a HID POS scanner (usage
page 0x8C), and ``evdev:///dev/input/by-id/…`` a keyboard-wedge scanner from the Linux
input layer, grabbed. The decoders are pure (:class:`KeyboardDecoder`,
:class:`PosDecoder`, :class:`EvdevKeyDecoder`); :mod:`paycode_hid.replay` and
:mod:`paycode_hid.emulate` stand in for devices in tests and benchmarks.
"""

from __future__ import annotations

from .emulate import key_events, keyboard_reports, pos_reports
from .evdev_scanner import EvdevKeyDecoder, EvdevScanner, list_evdev_devices
from .hidapi_scanner import HidScanner, list_hid_devices, load_hidapi, select_device
from .keyboard import KeyboardDecoder
from .layouts import LAYOUTS, Layout, build_layout, get_layout
from .pos import PosDecoder, symbology_of
from .replay import ReplayBackend, ReplayDevice, hid_info
from .results import DecodedScan, DiscardedScan

__version__ = "0.1.0"

__all__ = [
    "LAYOUTS",
    "DecodedScan",
    "DiscardedScan",
    "EvdevKeyDecoder",
    "EvdevScanner",
    "HidScanner",
    "KeyboardDecoder",
    "Layout",
    "PosDecoder",
    "ReplayBackend",
    "ReplayDevice",
    "build_layout",
    "get_layout",
    "hid_info",
    "key_events",
    "keyboard_reports",
    "list_evdev_devices",
    "list_hid_devices",
    "load_hidapi",
    "pos_reports",
    "select_device",
    "symbology_of",
]
