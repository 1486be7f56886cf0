"""The ``paycode`` entry point of paycode-serial: registers the ``serial`` scanner family."""

from __future__ import annotations

from collections.abc import Callable

from paycode.hookspecs import hookimpl
from paycode.scanning import ScannerType, ScannerURL

from ._devices import list_devices
from ._frames import Decoder
from ._framing import FRAMING_PARAMS, FrameDecoder, Framing
from ._registration import serial_scanner_types

__all__ = ["paycode_register_scanners"]

DESCRIPTION = "serial barcode scanner (RS-232, USB CDC-ACM)"


def _decoder(url: ScannerURL) -> Decoder:
    return FrameDecoder(Framing.from_url(url))


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    """``serial``, ``serial+socket``, ``serial+rfc2217``, ``serial+loop``, and ``rfc2217`` as a short form."""
    types = serial_scanner_types(
        "serial", _decoder, params=FRAMING_PARAMS, description=DESCRIPTION, list_devices=list_devices
    )
    for scanner_type in types:
        register(scanner_type)
    rfc2217 = next(t for t in types if t.scheme == "serial+rfc2217")
    register(ScannerType("rfc2217", rfc2217.factory, rfc2217.params, rfc2217.description))
