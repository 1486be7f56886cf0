"""Which port a scanner URL names, and the line settings to open it with.

Scheme forms (``NAME`` is ``serial`` for this plugin, or a vendor plugin's own scheme):

- ``NAME:///dev/ttyACM0``, ``NAME://COM3``: a local device, opened exclusively;
- ``NAME+socket://host:port``: raw TCP (pyserial ``socket://``);
- ``NAME+rfc2217://host:port`` (and plain ``rfc2217://host:port``): a network serial server;
- ``NAME+loop://``: pyserial's loop-back port, for experiments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import serial
from paycode.errors import ScannerConfigError
from paycode.scanning import ScannerURL

__all__ = ["LINE_PARAMS", "TRANSPORTS", "LineSettings", "port_for_url"]

#: scheme suffix after "+" -> pyserial URL scheme
TRANSPORTS: dict[str, str] = {"socket": "socket", "rfc2217": "rfc2217", "loop": "loop"}

#: URL parameters the line settings understand
LINE_PARAMS: dict[str, str] = {
    "baudrate": "bits per second (default 9600; USB CDC-ACM ports ignore it)",
    "bytesize": "data bits: 5, 6, 7 or 8 (default 8)",
    "parity": "none, even, odd, mark or space (default none)",
    "stopbits": "1, 1.5 or 2 (default 1)",
    "rtscts": "yes: RTS/CTS hardware flow control (default no)",
}

_PARITY = {
    "none": serial.PARITY_NONE,
    "even": serial.PARITY_EVEN,
    "odd": serial.PARITY_ODD,
    "mark": serial.PARITY_MARK,
    "space": serial.PARITY_SPACE,
}
_STOPBITS = {"1": serial.STOPBITS_ONE, "1.5": serial.STOPBITS_ONE_POINT_FIVE, "2": serial.STOPBITS_TWO}


@attrs.frozen
class LineSettings:
    """Serial line settings: 9600 8N1 without flow control unless the URL says otherwise."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "none"
    stopbits: str = "1"
    rtscts: bool = False

    @classmethod
    def from_url(cls, url: ScannerURL) -> LineSettings:
        return cls(
            baudrate=url.get_int("baudrate", 9600, minimum=50, maximum=4_000_000),
            bytesize=int(url.get_choice("bytesize", ["5", "6", "7", "8"], "8")),
            parity=url.get_choice("parity", _PARITY, "none"),
            stopbits=url.get_choice("stopbits", _STOPBITS, "1"),
            rtscts=url.get_bool("rtscts", False),
        )

    def pyserial_kwargs(self) -> Mapping[str, Any]:
        """Keyword arguments for ``serial.serial_for_url``."""
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": _PARITY[self.parity],
            "stopbits": _STOPBITS[self.stopbits],
            "rtscts": self.rtscts,
        }


def port_for_url(url: ScannerURL) -> tuple[str, bool]:
    """The pyserial port (device path or pyserial URL) a scanner URL names, and whether it is a local device.

    Raises :class:`~paycode.errors.ScannerConfigError` when the target does not fit the scheme.
    """
    base, plus, transport = url.scheme.partition("+")
    if not plus and base == "rfc2217":
        transport = base  # plain rfc2217://host:port, as design.md writes it
    if transport:
        if transport not in TRANSPORTS:
            raise ScannerConfigError(
                f"scanner URL {url.raw!r}: unknown transport {transport!r}; "
                f"accepted: {', '.join(f'{base}+{t}://' for t in TRANSPORTS)}",
                scanner=url.raw,
            )
        if transport == "loop":
            if url.target:
                raise ScannerConfigError(f"scanner URL {url.raw!r}: {url.scheme}:// takes no target", scanner=url.raw)
            return "loop://", False
        return f"{TRANSPORTS[transport]}://{_host_port(url)}", False
    if not url.target:
        raise ScannerConfigError(
            f"scanner URL {url.raw!r} names no device; write {url.scheme}:///dev/ttyACM0 "
            f"(or {url.scheme}:///dev/serial/by-id/…, {url.scheme}://COM3 on Windows)",
            scanner=url.raw,
        )
    return url.target, True


def _host_port(url: ScannerURL) -> str:
    host, colon, port = url.target.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    valid = bool(colon and host and port.isdigit() and 0 < int(port) < 65536 and "/" not in host)
    if not valid:
        raise ScannerConfigError(
            f"scanner URL {url.raw!r}: {url.target!r} is not host:port; write {url.scheme}://127.0.0.1:7000",
            scanner=url.raw,
        )
    return url.target
