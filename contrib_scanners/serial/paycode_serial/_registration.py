"""Scanner types for a serial scanner family: ``NAME``, ``NAME+socket``, ``NAME+rfc2217``, ``NAME+loop``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paycode.scanning import ScannerType, ScannerURL

from ._feedback import FEEDBACK_PARAMS
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
    defaults: Mapping[str, str] | None = None,
) -> list[ScannerType]:
    """One :class:`~paycode.scanning.ScannerType` per transport, each building a :class:`SerialScanner`.

    ``decoder(url)`` builds the decoder for a URL (reading its own parameters, raising
    :class:`~paycode.errors.ScannerConfigError` for bad ones); ``params`` documents them.
    The line parameters (baudrate, bytesize, parity, stopbits, rtscts) and the feedback
    commands (good, bad, beep, led_on, led_off, trigger) are added. ``list_devices`` goes on
    the local-device scheme only, so ``paycode devices`` lists the family's ports once.
    ``defaults`` are the family's own URL defaults (``{"baudrate": "115200"}``): a URL that
    does not give one of them gets it, whichever way the scanner is built.
    """
    accepted = {**LINE_PARAMS, **FEEDBACK_PARAMS, **(params or {})}
    own = dict(defaults or {})
    unknown = sorted(set(own) - set(accepted))
    if unknown:
        raise ValueError(f"defaults for parameters the family does not take: {', '.join(unknown)}")

    def factory(url: ScannerURL) -> SerialScanner:
        url = url.with_defaults(own)
        return SerialScanner(url, decoder(url), poll=poll)

    types = [
        ScannerType(scheme, factory, accepted, f"{description} on a local serial port", list_devices, defaults=own)
    ]
    for transport in TRANSPORTS:
        where = "pyserial's loop-back port" if transport == "loop" else f"{transport}://host:port"
        types.append(
            ScannerType(f"{scheme}+{transport}", factory, accepted, f"{description} over {where}", defaults=own)
        )
    return types
