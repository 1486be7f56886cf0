"""The files ``paycode new`` writes, as :class:`string.Template` texts (``$name`` placeholders, ``$$`` for ``$``).

Placeholders: ``name`` (entry point name and scanner scheme, ``acme``), ``package``
(``paycode_acme``), ``distribution`` (``paycode-acme``), ``Class`` (``Acme``), ``CONST``
(``ACME``), ``wallet_type`` (``Acme-Offline``). Every generated distribution installs and
passes its tests as written; tests/test_scaffold.py checks that.
"""

from __future__ import annotations

__all__ = ["SCANNER_FILES", "WALLET_FILES"]

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
dependencies = ["paycode>=0.1"]

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

Never log or print scanned data: it is a payment code.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Mapping

from paycode import Scan, ScannerConfigError, ScannerError, ScannerGone, ScannerURL

__all__ = ["PARAMS", "${Class}Scanner"]

#: URL parameters of this scanner, besides paycode's own (prefix, suffix, repeat_window, code_id)
PARAMS: Mapping[str, str] = {
    "max_length": "longest scan in bytes; longer input is discarded (default 256)",
    "connect_timeout": "seconds to wait for the connection (default 3)",
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
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._discarding = False

    def __repr__(self) -> str:
        return f"${Class}Scanner({self.url.raw!r})"

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

import $package
from paycode import PaymentStatus

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

#: relative path -> template, for ``paycode new scanner``
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

#: relative path -> template, for ``paycode new wallet``
WALLET_FILES: dict[str, str] = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _WALLET_README,
    "$package/__init__.py": _WALLET_INIT,
    "$package/py.typed": _PY_TYPED,
    "tests/test_conformance.py": _WALLET_CONFORMANCE,
    "tests/test_wallet.py": _WALLET_TESTS,
}
