"""The files ``paycode new`` writes, as :class:`string.Template` texts (``$name`` placeholders, ``$$`` for ``$``).

Placeholders: ``name`` (entry point name and scanner scheme, ``acme``), ``package``
(``paycode_acme``), ``distribution`` (``paycode-acme``), ``Class`` (``Acme``), ``CONST``
(``ACME``), ``wallet_type`` (``Acme-Offline``). Every generated distribution installs and
passes its tests as written; tests/test_scaffold.py checks that.
"""

from __future__ import annotations

__all__ = ["HID_SCANNER_FILES", "SCANNER_FILES", "SERIAL_SCANNER_FILES", "WALLET_FILES"]

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "$description"
readme = "README.md"
requires-python = ">=3.11"
dependencies = [$dependencies]

[project.optional-dependencies]
test = ["pytest>=8.0", "hypothesis>=6.100"]

# the plugin: paycode loads every entry point of the group "paycode"
[project.entry-points.paycode]
$name = "$entry_module"

[tool.setuptools]
packages = ["$package"]

[tool.setuptools.package-data]
$package = ["py.typed"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "--import-mode=importlib"
filterwarnings = ["error"]

[tool.ruff]
line-length = 120
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "RUF"]

[tool.ruff.lint.isort]
known-first-party = ["$package"]

# mypy --strict, from this folder: `mypy`. It reads paycode's types from an installed paycode
# (a wheel, or `pip install paycode`). An editable paycode (a source checkout installed with
# `pip install -e`) is an import hook mypy cannot follow: reinstall it without -e while you
# type-check, or point MYPYPATH at a folder where `import paycode` finds the package.
[tool.mypy]
python_version = "3.11"
strict = true
files = ["$package", "tests"]

# device libraries without type information, imported by paycode's scanner plugins
[[tool.mypy.overrides]]
module = ["serial", "serial.*", "hid", "evdev", "evdev.*", "cv2", "zxingcpp"]
ignore_missing_imports = true

# paycode and its plugins are checked where they are developed: here only their types are used
[[tool.mypy.overrides]]
module = ["paycode", "paycode.*", "paycode_serial", "paycode_serial.*", "paycode_hid", "paycode_hid.*"]
follow_imports = "silent"
"""

# ============================================================================ scanner

_SCANNER_INIT = '''\
"""$distribution: $Class barcode scanners for paycode.

Scanner URL: ``$name://host:port?max_length=256``: a scanner that sends one scan per line
(ending with CR, LF or CR LF) over a TCP connection. paycode finds the plugin through the
entry point ``$name`` in the group ``paycode`` (pyproject.toml).
"""

from __future__ import annotations

from .plugin import paycode_register_scanners
from .scanner import PARAMS, ${Class}Scanner

__version__ = "0.1.0"

__all__ = ["PARAMS", "${Class}Scanner", "paycode_register_scanners"]
'''

_SCANNER_PLUGIN = '''\
"""The paycode entry point of $distribution: registers the ``$name://`` scanner scheme."""

from __future__ import annotations

from collections.abc import Callable

from paycode import ScannerType, hookimpl

from .scanner import PARAMS, ${Class}Scanner

__all__ = ["paycode_register_scanners"]

DESCRIPTION = "$Class barcode scanner on a TCP connection, one scan per line"


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    """Register ``$name://host:port``; parameters not in PARAMS are refused before the factory runs."""
    register(ScannerType(scheme="$name", factory=${Class}Scanner, params=PARAMS, description=DESCRIPTION))
'''

_SCANNER_MODULE = '''\
"""``${Class}Scanner``: scans from a $Class scanner that sends one scan per line over TCP.

Adapt the transport (``open``, ``_receive``, ``close``) and the framing (``_next_line``) to
your device, and keep what paycode's conformance suite checks (tests/test_conformance.py):

- ``open()`` raises ScannerGone while the device is absent (paycode retries with backoff) and
  ScannerConfigError when it can never work;
- ``read(timeout)`` returns the next Scan, or None after ``timeout`` seconds (None: no limit);
  it raises ScannerGone when the device goes away and ScannerError for input it discards;
- ``close()`` releases the device; it is safe to call twice, and from another thread.

It also has the optional feedback capability (``paycode.scanning.FeedbackScanner``): the URL's
``good``, ``bad``, ``beep``, ``led_on``, ``led_off`` and ``trigger`` give the scanner's command
bytes, percent-encoded, sent over the connection when the lane signals that kind (``good`` when
a payment paid with a code it read succeeds, ``bad`` when it is declined).

Never log or print scanned data: it is a payment code.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Mapping

from paycode import Scan, ScannerConfigError, ScannerError, ScannerGone, ScannerURL
from paycode.scanning import Feedback

__all__ = ["PARAMS", "${Class}Scanner"]

#: URL parameters of this scanner, besides paycode's own (prefix, suffix, repeat_window, code_id)
PARAMS: Mapping[str, str] = {
    "max_length": "longest scan in bytes; longer input is discarded (default 256)",
    "connect_timeout": "seconds to wait for the connection (default 3)",
    **{kind.value: f"feedback: the bytes to send for {kind.value}, percent-encoded (e.g. %16%07)" for kind in Feedback},
}
_POLL = 0.1  # longest single wait: a close() from another thread is noticed this soon
_CHUNK = 4096


class ${Class}Scanner:
    """A paycode Scanner for ``$name://host:port``."""

    def __init__(self, url: ScannerURL) -> None:
        host, sep, port = url.target.rpartition(":")
        if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
            raise ScannerConfigError(
                f"scanner {url.raw!r}: write $name://host:port, e.g. $name://192.0.2.10:9100", scanner=url.raw
            )
        self.url = url
        self.address = (host.strip("[]"), int(port))
        self.max_length = url.get_int("max_length", 256, minimum=1, maximum=65536)
        self.connect_timeout = url.get_float("connect_timeout", 3.0, minimum=0.1, maximum=60.0)
        self.commands = {kind: data for kind in Feedback if (data := url.get_bytes(kind.value)) is not None}
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._discarding = False

    def __repr__(self) -> str:
        return f"${Class}Scanner({self.url.raw!r})"

    # -- feedback (optional) ---------------------------------------------------------

    @property
    def feedback_kinds(self) -> frozenset[Feedback]:
        return frozenset(self.commands)

    def feedback(self, kind: Feedback) -> bool:
        """Send the command of ``kind``; False without one, when closed, or when the connection failed."""
        command, sock = self.commands.get(kind), self._sock
        if command is None or sock is None:
            return False
        try:
            sock.sendall(command)
        except OSError:
            return False  # gone: the next read reports it
        return True

    # -- the Scanner protocol ------------------------------------------------------

    def open(self) -> None:
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        except OSError as exc:
            raise ScannerGone(f"{self.url.raw}: cannot connect ({exc.strerror or exc})", scanner=self.url.raw) from None
        self._sock, self._buffer, self._discarding = sock, b"", False

    def read(self, timeout: float | None) -> Scan | None:
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            line = self._next_line()
            if line is not None:
                return Scan(raw=line, text=line.decode("ascii"), source=self.url.raw)
            wait = _POLL if deadline is None else min(_POLL, max(deadline - time.monotonic(), 0.0))
            if not self._receive(wait) and deadline is not None and time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._buffer = b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass  # already gone: nothing left to release

    # -- transport and framing -------------------------------------------------------

    def _receive(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for bytes and buffer them; False when none came."""
        sock = self._sock
        if sock is None:
            raise ScannerGone(f"{self.url.raw}: the scanner is not open", scanner=self.url.raw)
        try:
            ready, _, _ = select.select([sock], [], [], wait)
            chunk = sock.recv(_CHUNK) if ready else None
        except (OSError, ValueError) as exc:  # reset, or closed from another thread
            self.close()
            raise ScannerGone(f"{self.url.raw}: the connection failed ({exc})", scanner=self.url.raw) from None
        if chunk is None:
            return False
        if not chunk:
            self.close()
            raise ScannerGone(f"{self.url.raw}: the scanner closed the connection", scanner=self.url.raw)
        self._buffer += chunk
        return True

    def _next_line(self) -> bytes | None:
        """The next complete line; None when none is complete; ScannerError for a line it discards."""
        while True:
            ends = [i for i in (self._buffer.find(b"\\r"), self._buffer.find(b"\\n")) if i >= 0]
            if not ends:
                if len(self._buffer) > self.max_length:
                    self._buffer, self._discarding = b"", True
                    raise self._discarded(f"a scan longer than max_length={self.max_length}")
                return None
            end = min(ends)
            line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if self._discarding:  # the end of an overlong scan, already reported
                self._discarding = False
                continue
            if not line:  # the LF of a CR LF, or an empty line
                continue
            if len(line) > self.max_length:
                raise self._discarded(f"a scan longer than max_length={self.max_length}")
            if not all(0x20 <= byte < 0x7F for byte in line):
                raise self._discarded("a scan that is not printable text")
            return line

    def _discarded(self, what: str) -> ScannerError:
        return ScannerError(f"{what} was discarded", scanner=self.url.raw)
'''

_SCANNER_CONFTEST = '''\
"""The test's side of a $Class scanner: a TCP server on loopback that sends each scan as a line."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest


class TcpScannerRig:
    """A paycode.testing.ScannerRig: ``url``, ``feed(code)``, ``feed_garbage()``, ``unplug()``, ``replug()``.

    Sends to every connected reader; unplugging closes the server and its connections, plugging
    back in listens on the same port again.
    """

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self.port = 0
        self.replug()
        self.url = f"$name://127.0.0.1:{self.port}"

    def _connected(self) -> list[socket.socket]:
        """Accept waiting connections and drop closed ones; waits up to 5 s for a first reader."""
        assert self._listener is not None, "the scanner is unplugged"
        for client in list(self._clients):
            if select.select([client], [], [], 0)[0] and not client.recv(1, socket.MSG_PEEK):
                client.close()
                self._clients.remove(client)
        wait = 0.0 if self._clients else 5.0
        while select.select([self._listener], [], [], wait)[0]:
            self._clients.append(self._listener.accept()[0])
            wait = 0.0
        assert self._clients, "no scanner connected"
        return self._clients

    def send(self, data: bytes) -> None:
        for client in self._connected():
            client.sendall(data)

    def received(self, size: int, timeout: float = 5.0) -> bytes:
        """Up to ``size`` bytes the scanner was sent (feedback commands), waiting up to ``timeout`` s."""
        client = self._connected()[0]
        data = b""
        while len(data) < size and select.select([client], [], [], timeout)[0]:
            chunk = client.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def feed(self, code: str) -> None:
        self.send(code.encode("ascii") + b"\\r\\n")

    def feed_garbage(self) -> None:
        self.send(b"\\x00\\xff\\x1b[3~\\r\\n")

    def unplug(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def replug(self) -> None:
        self.unplug()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]


@pytest.fixture
def tcp_rig() -> Iterator[TcpScannerRig]:
    rig = TcpScannerRig()
    yield rig
    rig.unplug()
'''

_SCANNER_CONFORMANCE = '''\
"""$distribution against paycode's scanner conformance suite, loaded through its entry point."""

from __future__ import annotations

import pytest
from paycode.testing import ScannerConformance, ScannerRig


class Test${Class}Conformance(ScannerConformance):
    entry_point = "$name"

    @pytest.fixture
    def rig(self, tcp_rig: ScannerRig) -> ScannerRig:
        return tcp_rig
'''

_SCANNER_TESTS = '''\
"""$Class scanner behaviour beyond the conformance suite: its URL, its limits, and paycode reading through it."""

from __future__ import annotations

from typing import Any

import pytest
from paycode import ScannerConfigError, ScannerError, ScannerURL

from $package import ${Class}Scanner

CODE = "130000000000000001"


def test_a_url_without_a_port_is_refused() -> None:
    with pytest.raises(ScannerConfigError, match="write $name://host:port"):
        ${Class}Scanner(ScannerURL.parse("$name://localhost"))


def test_an_overlong_scan_is_discarded_then_the_next_one_reads(tcp_rig: Any) -> None:
    scanner = ${Class}Scanner(ScannerURL.parse(f"{tcp_rig.url}?max_length=20"))
    scanner.open()
    try:
        tcp_rig.send(b"7" * 100 + b"\\r" + CODE.encode() + b"\\r")
        with pytest.raises(ScannerError, match="longer than max_length=20"):
            scanner.read(5.0)
        scan = scanner.read(5.0)
        assert scan is not None and scan.text == CODE
    finally:
        scanner.close()


def test_paycode_reads_through_the_installed_plugin(paycode_host: Any, tcp_rig: Any) -> None:
    host = paycode_host(entry_points=True, plugins=("$name",))  # this distribution alone
    with host.open_scanner(tcp_rig.url) as supervisor:
        tcp_rig.feed("]C0" + CODE)  # with an AIM identifier, which paycode strips
        scan = supervisor.read(timeout=5.0)
    assert scan is not None
    assert (scan.text, scan.symbology) == (CODE, "code128")


def test_feedback_sends_the_command_bytes_of_the_url(paycode_host: Any, tcp_rig: Any) -> None:
    """A payment's success (``good``) or decline (``bad``) reaches the scanner as its command bytes."""
    host = paycode_host(entry_points=True, plugins=("$name",))
    with host.open_scanner(f"{tcp_rig.url}?good=%16%07&bad=%16%07%07") as supervisor:
        assert supervisor.open()
        assert supervisor.feedback("good") and not supervisor.feedback("beep")
        assert tcp_rig.received(2) == b"\\x16\\x07"
'''

_SCANNER_README = """\
# $distribution

A [paycode](https://pypi.org/project/paycode/) scanner plugin for $Class barcode scanners that send one scan per
line over TCP. It registers the scanner URL scheme `$name://`.

```
pip install $distribution
paycode plugins                                  # lists "$name" and the scheme $name://
paycode scan --scanner "$name://192.0.2.10:9100" --count 1
paycode pay --amount 12.50 --currency CNY --scanner "$name://192.0.2.10:9100"
```

## URL

`$name://HOST:PORT?option=value&…`

| option | default | does |
|---|---|---|
| `max_length` | 256 | longest scan in bytes; longer input is discarded (reported as a `scanner.error` event) |
| `connect_timeout` | 3 | seconds to wait for the connection |
| `good`, `bad`, `beep`, `led_on`, `led_off`, `trigger` | none | feedback: the scanner's command, percent-encoded |

Feedback: `good=%16%07` is the bytes 0x16 0x07, sent over the connection. paycode sends `good` when a payment paid
with a code this scanner read succeeds and `bad` when it is declined (`paycode.supervisor.LaneFeedback`).

paycode's own options apply too: `prefix`, `suffix`, `repeat_window`, `code_id`. An unplugged scanner (the
connection fails or closes) is reported as `scanner.gone` and reopened with backoff.

## Develop

```
pip install -e '.[test]'
python -m pytest
```

`$package/scanner.py` holds the scanner: adapt its transport (`open`, `_receive`, `close`) and framing
(`_next_line`) to your device. `tests/test_conformance.py` runs paycode's scanner conformance suite
(`paycode.testing.ScannerConformance`) against it, driving a TCP server on loopback that stands in for the
scanner (`tests/conftest.py`); for another transport, give the suite a rig of your own with `url`,
`feed(code)`, `feed_garbage()`, `unplug()` and `replug()`.
"""

# ============================================================================ scanner, serial transport

_SERIAL_INIT = '''\
"""$distribution: $Class serial barcode scanners for paycode.

Scanner URLs: ``$name:///dev/ttyUSB0``, ``$name+socket://host:port``, ``$name+rfc2217://host:port``
(paycode-serial's transports), with its line settings (``baudrate``, default 115200 for this
family), ``frame_timeout``, and feedback commands (``good=%16%07``). paycode finds the plugin
through the entry point ``$name`` in the group ``paycode`` (pyproject.toml).
"""

from __future__ import annotations

from .decoder import MAX_DATA, ${Class}Decoder, checksum, encode
from .plugin import DEFAULTS, PARAMS, decoder_for, list_devices, paycode_register_scanners

__version__ = "0.1.0"

__all__ = [
    "DEFAULTS",
    "MAX_DATA",
    "PARAMS",
    "${Class}Decoder",
    "checksum",
    "decoder_for",
    "encode",
    "list_devices",
    "paycode_register_scanners",
]
'''

_SERIAL_DECODER = '''\
"""The $Class framing, sans-IO: bytes in, frames and errors out (a ``paycode_serial.Decoder``).

A frame is ``STX, LEN, DATA (LEN bytes), SUM, ETX``: LEN is the number of data bytes (1-250),
SUM the XOR of LEN and every data byte. Replace it with your scanner's framing, keeping the
rules paycode-serial's tutorial gives (docs/tutorial-scanner.md): bounded, resynchronises after
garbage, drops a half frame after ``frame_timeout``, printable data only, and never puts
scanned data in a message (it is a payment code).
"""

from __future__ import annotations

from paycode_serial import Frame, FrameError, describe_byte, first_unprintable

__all__ = ["ETX", "MAX_DATA", "STX", "${Class}Decoder", "checksum", "encode"]

STX, ETX = 0x02, 0x03
MAX_DATA = 250


def checksum(data: bytes) -> int:
    """XOR of the length byte and every data byte."""
    value = len(data)
    for byte in data:
        value ^= byte
    return value


def encode(data: bytes) -> bytes:
    """One frame around ``data``: what the scanner sends (for tests)."""
    return bytes([STX, len(data), *data, checksum(data), ETX])


class ${Class}Decoder:
    """Bytes and the time they arrived go in (``feed``), frames and errors come out."""

    def __init__(self, frame_timeout: float = 0.2) -> None:
        self.frame_timeout = frame_timeout
        self.reset()

    def reset(self) -> None:
        self._frame: bytearray | None = None  # STX seen: LEN, DATA and SUM so far
        self._started = 0.0
        self._skipped = False

    def deadline(self) -> float | None:
        return None if self._frame is None else self._started + self.frame_timeout

    def expire(self, now: float) -> list[Frame | FrameError]:
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        self._frame = None
        return [FrameError("frame not complete within frame_timeout; discarded", "interrupted")]

    def feed(self, data: bytes, now: float) -> list[Frame | FrameError]:
        out = self.expire(now)
        for byte in data:
            frame = self._frame
            if frame is None:  # between frames: wait for STX
                if byte == STX:
                    self._frame, self._started, self._skipped = bytearray(), now, False
                elif not self._skipped:
                    self._skipped = True
                    out.append(FrameError(f"byte {describe_byte(byte)} outside a frame; skipped to STX", "outside"))
            elif not frame:  # the length byte
                if 1 <= byte <= MAX_DATA:
                    frame.append(byte)
                else:
                    self._frame = None
                    out.append(FrameError(f"length {byte} is not 1-{MAX_DATA}; frame discarded", "garbage"))
            elif len(frame) < frame[0] + 2:  # the data bytes, then the checksum
                frame.append(byte)
            else:  # the byte after the checksum
                out.append(self._finish(frame, byte))
        return out

    def _finish(self, frame: bytearray, end: int) -> Frame | FrameError:
        self._frame = None
        data, total = bytes(frame[1:-1]), frame[-1]
        if end != ETX:
            return FrameError(f"expected ETX after {len(data)} data bytes, got {describe_byte(end)}", "garbage")
        if checksum(data) != total:
            return FrameError("checksum mismatch; frame discarded", "checksum")
        bad = first_unprintable(data)
        if bad is not None:
            return FrameError(f"data holds byte {describe_byte(bad)}; frame discarded", "garbage")
        return Frame(data=data, raw=bytes([STX, *frame, end]))
'''

_SERIAL_PLUGIN = '''\
"""The paycode entry point of $distribution: the ``$name`` scheme family on paycode-serial.

``serial_scanner_types`` registers ``$name://`` (a local port), ``$name+socket://``,
``$name+rfc2217://`` and ``$name+loop://``, each with paycode-serial's line settings and
feedback commands (``good``, ``bad``, ``beep``, ``led_on``, ``led_off``, ``trigger``: the
scanner's command bytes, percent-encoded) plus this plugin's own PARAMS and DEFAULTS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paycode import ScannerType, ScannerURL, hookimpl
from paycode_serial import list_devices as list_serial_ports
from paycode_serial import serial_scanner_types

from .decoder import ${Class}Decoder

__all__ = ["DEFAULTS", "PARAMS", "USB_IDS", "decoder_for", "list_devices", "paycode_register_scanners"]

#: this plugin's own URL parameters, besides paycode-serial's and paycode's
PARAMS: Mapping[str, str] = {
    "frame_timeout": "milliseconds within which a started frame must be complete (default 200)",
}
#: the family's URL defaults: a URL that does not give one gets it
DEFAULTS: Mapping[str, str] = {"baudrate": "115200"}
#: USB vendor:product ids of the scanner's virtual COM port, for `paycode devices` (replace with yours)
USB_IDS: frozenset[str] = frozenset({"0c2e:0b61"})


def decoder_for(url: ScannerURL) -> ${Class}Decoder:
    """The decoder for one scanner URL; a bad frame_timeout is a clear configuration error."""
    timeout_ms = url.get_float("frame_timeout", 200, minimum=10, maximum=10_000)
    return ${Class}Decoder(frame_timeout=timeout_ms / 1000)


def list_devices() -> list[dict[str, Any]]:
    """The serial ports of $Class scanners present now (by USB id), each with its ``$name://`` URL."""
    return list_serial_ports(scheme="$name", usb_ids=USB_IDS)


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    types = serial_scanner_types(
        "$name",
        decoder_for,
        params=PARAMS,
        description="$Class serial scanner",
        list_devices=list_devices,
        defaults=DEFAULTS,
    )
    for scanner_type in types:
        register(scanner_type)
'''

_SERIAL_CONFTEST = '''\
"""The test's side of a $Class scanner: a pseudo-terminal behind a symbolic link (unplug, replug)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from paycode_serial.testing import PtyScanner

from $package import encode


class PtyRig:
    """A paycode.testing.ScannerRig: ``url``, ``feed(code)``, ``feed_garbage()``, ``unplug()``, ``replug()``.

    The URL names a symbolic link to the pty; unplugging closes the pty (a reader sees the port
    vanish), plugging back in opens a new one behind the same link.
    """

    def __init__(self, folder: Path) -> None:
        self.link = folder / "ttyS-$name"
        self.pty: PtyScanner | None = None
        self.replug()
        self.url = f"$name://{self.link}?frame_timeout=200"

    def send(self, data: bytes) -> None:
        assert self.pty is not None, "the scanner is unplugged"
        self.pty.write(data)

    def feed(self, code: str) -> None:
        self.send(encode(code.encode("ascii")))

    def feed_garbage(self) -> None:
        broken = bytearray(encode(b"130000000000000001"))
        broken[-2] ^= 0x01  # a wrong checksum
        self.send(bytes(broken))

    def unplug(self) -> None:
        if self.pty is not None:
            self.pty.close()
            self.pty = None
        self.link.unlink(missing_ok=True)

    def replug(self) -> None:
        self.unplug()
        self.pty = PtyScanner()
        os.symlink(self.pty.path, self.link)


@pytest.fixture
def pty_rig() -> Iterator[PtyRig]:
    with tempfile.TemporaryDirectory() as folder:
        rig = PtyRig(Path(folder))
        yield rig
        rig.unplug()
'''

_SERIAL_CONFORMANCE = '''\
"""$distribution against paycode's scanner conformance suite, loaded through its entry point."""

from __future__ import annotations

import pytest
from paycode.testing import ScannerConformance, ScannerRig


class Test${Class}Conformance(ScannerConformance):
    entry_point = "$name"

    @pytest.fixture
    def rig(self, pty_rig: ScannerRig) -> ScannerRig:
        return pty_rig
'''

_SERIAL_DECODER_TESTS = '''\
"""The $Class decoder: any chunking gives the codes once each; bad frames are errors; half frames are dropped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from paycode_serial import Frame, FrameError

from $package import ${Class}Decoder, encode

CODES = st.lists(st.text("0123456789]CQ", min_size=1, max_size=40).map(str.encode), min_size=1, max_size=5)


@given(codes=CODES, data=st.data())
def test_any_chunking_gives_the_codes_once_each(codes: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode(code) for code in codes)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1))))
    decoder, out = ${Class}Decoder(), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += decoder.feed(stream[start:end], now=0.0)
    assert out == [Frame(data=code, raw=encode(code)) for code in codes]


@given(noise=st.binary(max_size=40), code=st.text("0123456789", min_size=1, max_size=30).map(str.encode))
def test_after_garbage_the_next_frame_reads(noise: bytes, code: bytes) -> None:
    decoder = ${Class}Decoder()
    out = decoder.feed(noise, now=0.0)
    out += decoder.expire(now=1.0)  # a half frame the noise started is dropped
    frames = [item for item in decoder.feed(encode(code), now=2.0) if isinstance(item, Frame)]
    assert frames[-1:] == [Frame(data=code, raw=encode(code))]
    assert all(isinstance(item, FrameError | Frame) for item in out)


def test_a_bad_checksum_is_an_error_and_the_next_frame_reads() -> None:
    bad = bytearray(encode(b"130000000000000001"))
    bad[-2] ^= 0x01
    out = ${Class}Decoder().feed(bytes(bad) + encode(b"130000000000000002"), now=0.0)
    assert out == [
        FrameError("checksum mismatch; frame discarded", "checksum"),
        Frame(data=b"130000000000000002", raw=encode(b"130000000000000002")),
    ]


def test_an_incomplete_frame_is_dropped_after_the_frame_timeout() -> None:
    decoder = ${Class}Decoder(frame_timeout=0.2)
    assert decoder.feed(encode(b"1234")[:4], now=10.0) == []
    assert decoder.deadline() == 10.2
    assert decoder.expire(now=10.2) == [FrameError("frame not complete within frame_timeout; discarded", "interrupted")]
    assert decoder.feed(encode(b"1234"), now=11.0) == [Frame(data=b"1234", raw=encode(b"1234"))]
'''

_SERIAL_SCANNER_TESTS = '''\
"""The plugin as paycode loads it: scans over a pty, the family's defaults, feedback to the scanner, its devices."""

from __future__ import annotations

from typing import Any

from paycode import ScannerURL
from paycode_serial import SerialScanner

from $package import DEFAULTS, encode, list_devices

CODE = "130000000000000001"


def test_scans_through_paycode_over_a_pty(paycode_host: Any, pty_rig: Any) -> None:
    host = paycode_host(entry_points=True, plugins=("$name",))  # this distribution alone
    with host.open_scanner(pty_rig.url) as supervisor:
        pty_rig.send(encode(f"]C0{CODE}".encode()))  # with an AIM identifier, which paycode strips
        scan = supervisor.read(timeout=5.0)
    assert scan is not None
    assert (scan.text, scan.symbology) == (CODE, "code128")


def test_the_family_defaults_apply(paycode_host: Any, pty_rig: Any) -> None:
    host = paycode_host(entry_points=True, plugins=("$name",))
    scanner = host.scanner_type(ScannerURL.parse(pty_rig.url)).build(ScannerURL.parse(pty_rig.url))
    assert isinstance(scanner, SerialScanner)
    assert scanner.line.baudrate == int(DEFAULTS["baudrate"])


def test_feedback_sends_the_command_bytes_of_the_url(paycode_host: Any, pty_rig: Any) -> None:
    """A payment's success (``good``) or decline (``bad``) reaches the scanner as its vendor command."""
    host = paycode_host(entry_points=True, plugins=("$name",))
    with host.open_scanner(f"{pty_rig.url}&good=%16%07&bad=%16%07%07") as supervisor:
        assert supervisor.open()
        assert supervisor.feedback("good")
        assert pty_rig.pty.sent(2) == b"\\x16\\x07"
        assert not supervisor.feedback("beep")  # no command given for it


def test_list_devices_never_fails() -> None:
    for device in list_devices():  # none on a machine without the scanner
        assert device["url"].startswith("$name://")
'''

_SERIAL_README = """\
# $distribution

A [paycode](https://pypi.org/project/paycode/) scanner plugin for $Class serial barcode scanners with a binary
framing of their own (`STX, LEN, DATA, SUM, ETX`). It registers the scheme family `$name://` on
[paycode-serial](https://pypi.org/project/paycode-serial/).

```
pip install $distribution
paycode plugins                                  # lists "$name" and its schemes
paycode devices                                  # the $Class scanners plugged in, with their URLs
paycode scan --scanner "$name:///dev/ttyUSB0" --count 1
paycode pay --amount 12.50 --currency CNY --scanner "$name:///dev/ttyUSB0?good=%16%07&bad=%16%07%07"
```

## URLs

| URL | port |
|---|---|
| `$name:///dev/ttyUSB0` | a local device, opened exclusively |
| `$name+socket://host:port` | raw TCP |
| `$name+rfc2217://host:port` | an RFC 2217 network serial server |
| `$name+loop://` | pyserial's loop-back port |

| option | default | does |
|---|---|---|
| `frame_timeout` | 200 | milliseconds within which a started frame must be complete |
| `baudrate` | 115200 | this family's default; paycode-serial's `bytesize`, `parity`, `stopbits`, `rtscts` too |
| `good`, `bad`, `beep`, `led_on`, `led_off`, `trigger` | none | feedback: the scanner's command, percent-encoded |

Feedback: `good=%16%07` is the bytes 0x16 0x07. paycode sends `good` when a payment paid with a code this scanner
read succeeds and `bad` when it is declined (`paycode.supervisor.LaneFeedback`).

paycode's own options apply too: `prefix`, `suffix`, `repeat_window`, `code_id`.

## Develop

```
pip install -e '.[test]'
python -m pytest
ruff check . && mypy                             # both configured in pyproject.toml
```

`$package/decoder.py` holds the framing (sans-IO: test it with any chunking), `$package/plugin.py` the
registration, its defaults (`DEFAULTS`) and the USB ids `paycode devices` lists (`USB_IDS`): replace them with your
scanner's. `tests/test_conformance.py` runs paycode's scanner conformance suite against a pseudo-terminal standing
in for the port (`tests/conftest.py`). mypy reads paycode's types from an installed paycode; with an editable
(`pip install -e`) paycode it cannot follow the install: reinstall paycode without `-e` to type-check, or set
`MYPYPATH` to a folder where `import paycode` finds it.
"""

# ============================================================================ scanner, HID transport

_HID_INIT = '''\
"""$distribution: $Class USB HID POS barcode scanners for paycode.

Scanner URL: ``$name://`` (the $Class scanner plugged in, by its USB id), ``$name://?serial=…``
when several are, with paycode-hid's parameters (``mode``, default pos for this family) and
feedback output reports (``good=0401``). paycode finds the plugin through the entry point
``$name`` in the group ``paycode`` (pyproject.toml).
"""

from __future__ import annotations

from .plugin import DEFAULTS, PARAMS, PRODUCT_ID, VENDOR_ID, list_devices, make_scanner, paycode_register_scanners

__version__ = "0.1.0"

__all__ = ["DEFAULTS", "PARAMS", "PRODUCT_ID", "VENDOR_ID", "list_devices", "make_scanner", "paycode_register_scanners"]
'''

_HID_PLUGIN = '''\
"""The paycode entry point of $distribution: the ``$name://`` scheme on paycode-hid.

The scanner is paycode-hid's ``HidScanner`` (HID POS reports, or boot keyboard reports with
``mode=keyboard``), preset to this vendor's USB id: ``$name://`` finds it without VID:PID.
Feedback: the URL's ``good``, ``bad``, ``beep``, ``led_on``, ``led_off``, ``trigger`` give the
output report for each, in hex, report id first (from the scanner's manual).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paycode import ScannerType, ScannerURL, hookimpl
from paycode_hid import HidScanner, list_hid_devices
from paycode_hid.hidapi_scanner import HID_PARAMS

__all__ = ["DEFAULTS", "PARAMS", "PRODUCT_ID", "VENDOR_ID", "list_devices", "make_scanner", "paycode_register_scanners"]

#: the scanner's USB vendor and product id (replace with yours: `paycode devices` lists them)
VENDOR_ID, PRODUCT_ID = 0x0C2E, 0x0B61
#: the URL parameters: paycode-hid's (mode, serial, path, interface, enable_report, feedback reports, ...)
PARAMS: Mapping[str, str] = HID_PARAMS
#: the family's URL defaults: a URL that does not give one gets it
DEFAULTS: Mapping[str, str] = {"mode": "pos"}
_ID = f"{VENDOR_ID:04x}:{PRODUCT_ID:04x}"


def make_scanner(url: ScannerURL) -> HidScanner:
    """A HidScanner for ``$name://[VID:PID]?…``: this vendor's id unless the URL names another device."""
    target = url.target or ("" if url.get_str("path") else _ID)
    return HidScanner(ScannerURL(raw=url.raw, scheme="hid", target=target, params=dict(url.params)))


def list_devices() -> list[dict[str, Any]]:
    """The $Class scanners present now (by USB id), each with its ``$name://`` URL."""
    found = []
    for device in list_hid_devices():
        if (device["vendor_id"], device["product_id"]) == (VENDOR_ID, PRODUCT_ID):
            found.append({**device, "url": "$name://" + device["url"].removeprefix("hid://")})
    return found


@hookimpl
def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
    register(
        ScannerType(
            scheme="$name",
            factory=make_scanner,
            params=PARAMS,
            description="$Class USB HID POS scanner",
            list_devices=list_devices,
            defaults=DEFAULTS,
        )
    )
'''

_HID_CONFTEST = '''\
"""The test's side of a $Class scanner: paycode-hid's replay backend in place of hidapi, with real report bytes."""

from __future__ import annotations

import paycode_hid.hidapi_scanner
import pytest
from paycode_hid import ReplayBackend, ReplayDevice, hid_info, pos_reports

from $package import PRODUCT_ID, VENDOR_ID


class HidRig:
    """A paycode.testing.ScannerRig: ``url``, ``feed(code)``, ``feed_garbage()``, ``unplug()``, ``replug()``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.device = ReplayDevice(hid_info(VENDOR_ID, PRODUCT_ID, b"/dev/hidraw7", usage_page=0x8C, usage=0x02))
        self.backend = ReplayBackend([self.device])
        monkeypatch.setattr(paycode_hid.hidapi_scanner, "load_hidapi", lambda: self.backend)
        self.url = "$name://?gap=50"

    def feed(self, code: str) -> None:
        self.device.push(*pos_reports(code, "]C0"))

    def feed_garbage(self) -> None:
        first, second = pos_reports("1" * 60, "]C0")
        self.device.push(first[:10], second)  # a scan whose first report was cut short: discarded whole

    def unplug(self) -> None:
        self.device.unplug()

    def replug(self) -> None:
        self.device.plug()


@pytest.fixture
def hid_rig(monkeypatch: pytest.MonkeyPatch) -> HidRig:
    return HidRig(monkeypatch)
'''

_HID_CONFORMANCE = '''\
"""$distribution against paycode's scanner conformance suite, loaded through its entry point."""

from __future__ import annotations

import pytest
from paycode.testing import ScannerConformance, ScannerRig


class Test${Class}Conformance(ScannerConformance):
    entry_point = "$name"

    @pytest.fixture
    def rig(self, hid_rig: ScannerRig) -> ScannerRig:
        return hid_rig
'''

_HID_TESTS = '''\
"""The plugin as paycode loads it: HID POS scans, the family's defaults, feedback output reports, its devices."""

from __future__ import annotations

from typing import Any

from paycode import ScannerURL
from paycode_hid import HidScanner

from $package import list_devices

CODE = "130000000000000001"


def test_scans_through_paycode(paycode_host: Any, hid_rig: Any) -> None:
    host = paycode_host(entry_points=True, plugins=("$name",))  # this distribution alone
    with host.open_scanner(hid_rig.url) as supervisor:
        hid_rig.feed(CODE)
        scan = supervisor.read(timeout=5.0)
    assert scan is not None
    assert (scan.text, scan.symbology, scan.aim) == (CODE, "code128", "]C0")


def test_the_family_defaults_apply(paycode_host: Any, hid_rig: Any) -> None:
    host = paycode_host(entry_points=True, plugins=("$name",))
    scanner = host.scanner_type(ScannerURL.parse(hid_rig.url)).build(ScannerURL.parse(hid_rig.url))
    assert isinstance(scanner, HidScanner) and scanner.mode == "pos"


def test_feedback_sends_the_output_reports_of_the_url(paycode_host: Any, hid_rig: Any) -> None:
    """A payment's success (``good``) or decline (``bad``) reaches the scanner as an output report."""
    host = paycode_host(entry_points=True, plugins=("$name",))
    with host.open_scanner(f"{hid_rig.url}&good=0401&bad=0402") as supervisor:
        assert supervisor.open()
        assert supervisor.feedback("good") and supervisor.feedback("bad")
        assert not supervisor.feedback("beep")  # none given
    assert hid_rig.device.output_reports == [bytes([4, 1]), bytes([4, 2])]


def test_its_devices_are_listed_with_their_urls(hid_rig: Any) -> None:
    assert [device["url"] for device in list_devices()] == ["$name://0c2e:0b61?mode=pos"]
'''

_HID_README = """\
# $distribution

A [paycode](https://pypi.org/project/paycode/) scanner plugin for $Class USB scanners in HID POS mode (usage page
0x8C). It registers the scheme `$name://` on [paycode-hid](https://pypi.org/project/paycode-hid/), preset to the
scanner's USB id.

```
pip install $distribution
paycode plugins                                  # lists "$name" and the scheme $name://
paycode devices                                  # the $Class scanners plugged in, with their URLs
paycode scan --scanner "$name://" --count 1
paycode pay --amount 12.50 --currency CNY --scanner "$name://?good=0401&bad=0402"
```

## URL

`$name://[VID:PID]?option=value&…`: without VID:PID, the scanner with this plugin's USB id.

| option | default | does |
|---|---|---|
| `mode` | `pos` (this family's) | `pos` (HID POS reports) or `keyboard` (boot keyboard reports, with `layout=`) |
| `serial`, `path`, `interface` | none | which device, when several are plugged in |
| `good`, `bad`, `beep`, `led_on`, `led_off`, `trigger` | none | feedback: an output report in hex, report id first |

Feedback: `good=0401` sends report 4 with the byte 01 (the reports are in the scanner's manual). paycode sends
`good` when a payment paid with a code this scanner read succeeds and `bad` when it is declined.

and paycode-hid's other options (`enable_report`, `gap`, `max_length`, …), and paycode's own: `prefix`, `suffix`,
`repeat_window`, `code_id`.

## Develop

```
pip install -e '.[test]'
python -m pytest
ruff check . && mypy                             # both configured in pyproject.toml
```

`$package/plugin.py` holds the USB id (`VENDOR_ID`, `PRODUCT_ID`) and the defaults (`DEFAULTS`): replace them with
your scanner's. The tests replace hidapi with paycode-hid's replay backend, so recorded report bytes go through
exactly the code a USB device does (`tests/conftest.py`); `tests/test_conformance.py` runs paycode's scanner
conformance suite. mypy reads paycode's types from an installed paycode; with an editable (`pip install -e`)
paycode it cannot follow the install: reinstall paycode without `-e` to type-check, or set `MYPYPATH` to a folder
where `import paycode` finds it.
"""

# ============================================================================ wallet

_WALLET_INIT = '''\
"""$distribution: $Class payment codes for paycode, charged as ``$wallet_type``.

The rules (replace them with the wallet's published ones, and note where each comes from):

- a code is 18 ASCII digits starting ``99``;
- the gateway takes ``$wallet_type`` in CNY;
- while the shopper confirms, query every 5 s and give up after 60 s.
"""

from __future__ import annotations

from collections.abc import Callable

from paycode import CodePattern, PollingPolicy, WalletType, hookimpl

__version__ = "0.1.0"

__all__ = ["$CONST", "paycode_register_wallets"]

$CONST = WalletType(
    name="$wallet_type",  # the gateway's paymentMethod.type, exactly as it documents it
    display_name="$Class",
    description="$Class payment code",
    patterns=(CodePattern(lengths=(18,), prefixes=("99",), note="every code"),),
    currencies=frozenset({"CNY"}),
    polling=PollingPolicy(interval=5.0, deadline=60.0),
    # real codes of every shape, including the shortest and the longest length
    examples=("991234567890123456",),
)


@hookimpl
def paycode_register_wallets(register: Callable[[WalletType], None]) -> None:
    register($CONST)
'''

_WALLET_CONFORMANCE = '''\
"""$distribution against paycode's wallet conformance suite, loaded through its entry point."""

from __future__ import annotations

from paycode.testing import WalletConformance


class Test${Class}Conformance(WalletConformance):
    entry_point = "$name"
'''

_WALLET_TESTS = '''\
"""$Class rules beyond the conformance suite, and payments in paycode's embedded sandbox."""

from __future__ import annotations

from typing import Any

from paycode import PaymentStatus

import $package

CODE = "991234567890123456"


def test_other_currencies_are_refused(paycode_host: Any) -> None:
    host = paycode_host($package)
    assert host.classify(CODE, "CNY").wallet is $package.$CONST
    assert host.classify(CODE, "USD").status == "none"


def test_the_sandbox_pays_and_declines(paycode_sandbox_terminal: Any) -> None:
    """The sandbox picks the outcome from the code's last three digits: 001 success, 002 decline."""
    terminal = paycode_sandbox_terminal($package)
    make = $package.$CONST.patterns[0].make
    assert terminal.pay(amount="12.50", currency="CNY", code=make("001")).status is PaymentStatus.SUCCESS
    assert terminal.pay(amount="12.50", currency="CNY", code=make("002")).status is PaymentStatus.FAILED
'''

_WALLET_README = """\
# $distribution

A [paycode](https://pypi.org/project/paycode/) wallet plugin: $Class payment codes, charged as the payment type
`$wallet_type`.

```
pip install $distribution
paycode plugins                                  # lists "$name" and the wallet $wallet_type
paycode classify 991234567890123456 --currency CNY
paycode pay --amount 12.50 --currency CNY --code 990000000000000001 --json     # the sandbox: 001 succeeds
```

## Rules

| | |
|---|---|
| payment type | `$wallet_type` |
| codes | 18 ASCII digits starting `99` |
| currencies | CNY |
| polling | every 5 s, give up after 60 s |

Replace these with the wallet's published rules in `$package/__init__.py`, and list the example codes the wallet
documents (`examples`): paycode's conformance suite checks that they are accepted and that codes one step away
from them (one digit shorter or longer, another first digit, a letter or a full-width digit) are refused.

## Develop

```
pip install -e '.[test]'
python -m pytest
```

`tests/test_conformance.py` runs paycode's wallet conformance suite (`paycode.testing.WalletConformance`),
including payments in paycode's embedded sandbox gateway.
"""

_PY_TYPED = ""

#: relative path -> template, for ``paycode new scanner`` (``--transport tcp``, the default)
SCANNER_FILES: dict[str, str] = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _SCANNER_README,
    "$package/__init__.py": _SCANNER_INIT,
    "$package/plugin.py": _SCANNER_PLUGIN,
    "$package/scanner.py": _SCANNER_MODULE,
    "$package/py.typed": _PY_TYPED,
    "tests/conftest.py": _SCANNER_CONFTEST,
    "tests/test_conformance.py": _SCANNER_CONFORMANCE,
    "tests/test_scanner.py": _SCANNER_TESTS,
}

#: relative path -> template, for ``paycode new scanner --transport serial``
SERIAL_SCANNER_FILES: dict[str, str] = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _SERIAL_README,
    "$package/__init__.py": _SERIAL_INIT,
    "$package/decoder.py": _SERIAL_DECODER,
    "$package/plugin.py": _SERIAL_PLUGIN,
    "$package/py.typed": _PY_TYPED,
    "tests/conftest.py": _SERIAL_CONFTEST,
    "tests/test_conformance.py": _SERIAL_CONFORMANCE,
    "tests/test_decoder.py": _SERIAL_DECODER_TESTS,
    "tests/test_scanner.py": _SERIAL_SCANNER_TESTS,
}

#: relative path -> template, for ``paycode new scanner --transport hid``
HID_SCANNER_FILES: dict[str, str] = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _HID_README,
    "$package/__init__.py": _HID_INIT,
    "$package/plugin.py": _HID_PLUGIN,
    "$package/py.typed": _PY_TYPED,
    "tests/conftest.py": _HID_CONFTEST,
    "tests/test_conformance.py": _HID_CONFORMANCE,
    "tests/test_scanner.py": _HID_TESTS,
}

#: relative path -> template, for ``paycode new wallet``
WALLET_FILES: dict[str, str] = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _WALLET_README,
    "$package/__init__.py": _WALLET_INIT,
    "$package/py.typed": _PY_TYPED,
    "tests/test_conformance.py": _WALLET_CONFORMANCE,
    "tests/test_wallet.py": _WALLET_TESTS,
}
