"""paycode-serial: serial barcode scanners (RS-232, USB CDC-ACM, network serial servers) for paycode.

Scanner URLs: ``serial:///dev/ttyACM0?baudrate=9600&suffix=cr``, ``serial+socket://127.0.0.1:7000``,
``rfc2217://host:port``, ``serial+loop://``. docs/scanners/serial.md lists every option.

The pieces are reusable by vendor plugins with their own framing: a sans-IO
:class:`Decoder` produces :class:`Frame` / :class:`FrameError` values,
:class:`SerialScanner` drives it on any pyserial port, and :func:`serial_scanner_types`
registers the whole scheme family (docs/tutorial-scanner.md).
"""

from __future__ import annotations

from ._devices import describe_port, list_devices
from ._feedback import FEEDBACK_PARAMS, feedback_commands
from ._frames import Decoder, Frame, FrameError, describe_byte, first_unprintable
from ._framing import FRAMING_PARAMS, SUFFIXES, FrameDecoder, Framing
from ._line import LINE_PARAMS, TRANSPORTS, LineSettings, port_for_url
from ._registration import serial_scanner_types
from ._scanner import SerialScanner

__version__ = "0.1.0"

__all__ = [
    "FEEDBACK_PARAMS",
    "FRAMING_PARAMS",
    "LINE_PARAMS",
    "SUFFIXES",
    "TRANSPORTS",
    "Decoder",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Framing",
    "LineSettings",
    "SerialScanner",
    "describe_byte",
    "describe_port",
    "feedback_commands",
    "first_unprintable",
    "list_devices",
    "port_for_url",
    "serial_scanner_types",
]
