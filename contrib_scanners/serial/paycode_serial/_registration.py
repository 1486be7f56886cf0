"""Scanner types for a serial scanner family: ``NAME``, ``NAME+socket``, ``NAME+rfc2217``, ``NAME+loop``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paycode.scanning import ScannerType, ScannerURL

from ._frames import Decoder
from ._line import LINE_PARAMS, TRANSPORTS
from ._scanner import SerialScanner

__all__ = ["serial_scanner_types"]


def serial_scanner_types(
    scheme: str,
    decoder: Callable[[ScannerURL], Decoder],
    *,
    params: Mapping[str, str] | None = None,
    description: str = "",
    list_devices: Callable[[], list[dict[str, Any]]] | None = None,
    poll: float | None = None,
) -> list[ScannerType]:
    """One :class:`~paycode.scanning.ScannerType` per transport, each building a :class:`SerialScanner`.

    ``decoder(url)`` builds the decoder for a URL (reading its own parameters, raising
    :class:`~paycode.errors.ScannerConfigError` for bad ones); ``params`` documents them.
    The line parameters (baudrate, bytesize, parity, stopbits, rtscts) are added.
    ``list_devices`` goes on the local-device scheme only.
    """
    accepted = {**LINE_PARAMS, **(params or {})}

    def factory(url: ScannerURL) -> SerialScanner:
        return SerialScanner(url, decoder(url), poll=poll)

    types = [ScannerType(scheme, factory, accepted, f"{description} on a local serial port", list_devices)]
    for transport in TRANSPORTS:
        where = "pyserial's loop-back port" if transport == "loop" else f"{transport}://host:port"
        types.append(ScannerType(f"{scheme}+{transport}", factory, accepted, f"{description} over {where}"))
    return types
