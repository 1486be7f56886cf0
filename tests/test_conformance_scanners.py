"""The scanner conformance suite: a well-behaved scanner passes it, and each check catches the scanner that breaks it.

The scanner under test reads a named pipe (FIFO), one scan per line: a real OS interface
with everything a device has. The rig holds the pipe's write end; unplugging closes it and
removes the pipe (the reader sees end of file), plugging back in makes a new pipe at the same
path. The scanner claims the pipe with an exclusive ``flock``, as serial ports are claimed.
Each broken variant changes one behaviour, and the check for it must fail with its reason.
"""

from __future__ import annotations

import fcntl
import os
import select
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from paycode import Scan, ScannerConfigError, ScannerError, ScannerGone, ScannerType, ScannerURL, hookimpl
from paycode.scanning import Scanner
from paycode.testing import EventRecorder, ScannerConformance, plugin_host
from paycode.testing.scanners import (
    check_closes_cleanly,
    check_garbage,
    check_registration,
    check_released_on_close,
    check_scans,
    check_supervised_unplug,
    check_timeout,
    check_unplug,
)

WITHIN = 1.0  # seconds the checks wait where the broken scanners make them wait in vain


class FifoScanner:
    """Reads lines from the named pipe at the URL's path; lines that are not printable ASCII are garbage."""

    def __init__(self, url: ScannerURL) -> None:
        self.url = url
        self._fd: int | None = None
        self._wake_r, self._wake_w = -1, -1
        self._buffer = b""

    def open(self) -> None:
        try:
            fd = os.open(self.url.target, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise ScannerGone(f"no pipe at {self.url.target}", scanner=self.url.raw) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ScannerGone(f"{self.url.target} is in use", scanner=self.url.raw) from None
        self._fd, self._buffer = fd, b""
        self._wake_r, self._wake_w = os.pipe()

    def wait(self, timeout: float | None) -> bool:
        assert self._fd is not None
        ready, _, _ = select.select([self._fd, self._wake_r], [], [], timeout)
        return self._fd in ready

    def read(self, timeout: float | None) -> Scan | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if self._fd is None:
                raise ScannerGone("the pipe is not open", scanner=self.url.raw)
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not self.wait(remaining):
                if self._fd is None:
                    raise ScannerGone("the pipe was closed", scanner=self.url.raw)
                return None
            chunk = os.read(self._fd, 4096)
            if not chunk:
                self.close()
                return self.at_end()
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return self.scan(line)

    def at_end(self) -> Scan | None:
        raise ScannerGone("the pipe's writer went away", scanner=self.url.raw)

    def scan(self, line: bytes) -> Scan:
        if not line or not all(0x20 <= b < 0x7F for b in line):
            raise ScannerError("a line that is not printable text was discarded", scanner=self.url.raw)
        return Scan(raw=line, text=line.decode("ascii"), source=self.url.raw)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
            os.write(self._wake_w, b"!")
            os.close(self._wake_w)
            os.close(self._wake_r)


class FifoRig:
    """The writing side of the pipe ``folder/scanner``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "scanner"
        self.url = f"fifo://{self.path}"
        self._fd: int | None = None
        self.replug()

    def _write(self, data: bytes) -> None:
        assert self._fd is not None, "unplugged"
        os.write(self._fd, data)

    def feed(self, code: str) -> None:
        self._write(code.encode("ascii") + b"\n")

    def feed_garbage(self) -> None:
        self._write(b"\x00\xff\x1b[3~\n")

    def unplug(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)

    def replug(self) -> None:
        self.unplug()
        os.mkfifo(self.path)
        self._fd = os.open(self.path, os.O_RDWR)  # a writer that needs no reader yet


def fifo_plugin(factory: Callable[[ScannerURL], Scanner] = FifoScanner, description: str = "a named pipe") -> object:
    module = types.ModuleType("paycode_fifo")

    def paycode_register_scanners(register: Callable[[ScannerType], None]) -> None:
        register(ScannerType("fifo", factory, {"mode": "an option"}, description))

    module.paycode_register_scanners = hookimpl(paycode_register_scanners)  # type: ignore[attr-defined]
    return module


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[FifoRig]:
    made = FifoRig(tmp_path)
    yield made
    made.unplug()


@pytest.fixture
def scanners() -> Iterator[Callable[[type[FifoScanner], FifoRig], Callable[[], Scanner]]]:
    """``scanners(cls, rig)``: a make_scanner for a scanner class; every scanner made is closed afterwards."""
    made: list[FifoScanner] = []

    def maker(cls: type[FifoScanner], rig: FifoRig) -> Callable[[], Scanner]:
        def make() -> Scanner:
            scanner = cls(ScannerURL.parse(rig.url))
            made.append(scanner)
            return scanner

        return make

    yield maker
    for scanner in made:
        FifoScanner.close(scanner)


# ---------------------------------------------------------------------------- the reference scanner passes


class TestReferenceScannerConformance(ScannerConformance):
    plugin = fifo_plugin()

    @pytest.fixture
    def rig(self, tmp_path: Path) -> Iterator[FifoRig]:
        made = FifoRig(tmp_path)
        yield made
        made.unplug()


def test_the_suite_without_a_rig_says_what_to_define() -> None:
    class TestNoRig(ScannerConformance):
        plugin = fifo_plugin()

    rig_fixture = TestNoRig.rig.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(pytest.fail.Exception, match="define a `rig` fixture"):
        rig_fixture(TestNoRig())


# ---------------------------------------------------------------------------- each broken scanner is caught


def test_registration_without_a_description_is_caught(rig: FifoRig) -> None:
    with pytest.raises(AssertionError, match="give ScannerType a description"):
        check_registration(plugin_host(fifo_plugin(description="")), rig)


def test_an_unregistered_scheme_is_caught(rig: FifoRig) -> None:
    with pytest.raises(AssertionError, match=r"scheme fifo:// is not registered"):
        check_registration(plugin_host(), rig)


def test_a_rig_url_with_an_undeclared_parameter_is_caught(rig: FifoRig) -> None:
    rig.url += "?speed=9"
    with pytest.raises(AssertionError, match=r"the rig's URL is refused: .*does not take parameter speed"):
        check_registration(plugin_host(fifo_plugin()), rig)


class CloseTwiceFails(FifoScanner):
    def close(self) -> None:
        if self._fd is None:
            raise OSError("already closed")
        super().close()


def test_closing_twice_failing_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match=r"close\(\) before open\(\) raised OSError: already closed"):
        check_closes_cleanly(scanners(CloseTwiceFails, rig))


class WallClock(FifoScanner):
    def scan(self, line: bytes) -> Scan:
        return Scan(raw=line, text=line.decode(), source=self.url.raw, time=time.time())


def test_wall_clock_scan_times_are_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match=r"Scan.time must be time.monotonic\(\)"):
        check_scans(rig, scanners(WallClock, rig), WITHIN)


class TextForRaw(FifoScanner):
    def scan(self, line: bytes) -> Scan:
        return Scan(raw=line.decode(), text=line.decode(), source=self.url.raw)  # type: ignore[arg-type]


def test_raw_text_instead_of_bytes_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match=r"Scan\.raw must be the non-empty bytes"):
        check_scans(rig, scanners(TextForRaw, rig), WITHIN)


class Truncating(FifoScanner):
    def scan(self, line: bytes) -> Scan:
        return super().scan(line[:-1])


def test_a_mangled_code_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match=r"fed 1300\*+0001, the scan normalises to 1300\*+0000"):
        check_scans(rig, scanners(Truncating, rig), WITHIN)


class GarbageAsScan(FifoScanner):
    def scan(self, line: bytes) -> Scan:
        return Scan(raw=line, text=line.decode("latin-1"), source=self.url.raw)


def test_garbage_delivered_as_a_scan_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match="garbage came out as a scan"):
        check_garbage(rig, scanners(GarbageAsScan, rig), WITHIN)


class GarbageIsGone(FifoScanner):
    def scan(self, line: bytes) -> Scan:
        try:
            return super().scan(line)
        except ScannerError:
            raise ScannerGone("confused by garbage", scanner=self.url.raw) from None


def test_garbage_reported_as_an_unplug_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match="garbage made the scanner raise ScannerGone"):
        check_garbage(rig, scanners(GarbageIsGone, rig), WITHIN)


class GarbageIgnored(FifoScanner):
    def read(self, timeout: float | None) -> Scan | None:
        while True:
            try:
                return super().read(timeout)
            except ScannerGone:
                raise
            except ScannerError:
                continue


def test_garbage_dropped_without_a_word_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match="no ScannerError within 1 s of garbage"):
        check_garbage(rig, scanners(GarbageIgnored, rig), WITHIN)
    check_garbage(rig, scanners(GarbageIgnored, rig), WITHIN, raises=False, watch=0.2)  # a camera may do so


def test_an_unplug_never_reported_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    class Forgetful(FifoScanner):
        def at_end(self) -> Scan | None:
            return None  # and read() after it says "not open" as ScannerError, never ScannerGone

        def read(self, timeout: float | None) -> Scan | None:
            if self._fd is None:
                time.sleep(timeout or 0)
                return None
            return super().read(timeout)

    with pytest.raises(AssertionError, match="no ScannerGone within 1 s of the unplug"):
        check_unplug(rig, scanners(Forgetful, rig), WITHIN)


class AbsentIsConfiguration(FifoScanner):
    def open(self) -> None:
        if not os.path.exists(self.url.target):
            raise ScannerConfigError(f"no pipe at {self.url.target}", scanner=self.url.raw)
        super().open()


def test_an_absent_device_called_a_configuration_error_is_caught(
    rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]
) -> None:
    with pytest.raises(AssertionError, match="raise ScannerGone so it is retried"):
        check_unplug(rig, scanners(AbsentIsConfiguration, rig), WITHIN)


class OpensWhatIsNotThere(FifoScanner):
    def open(self) -> None:
        if os.path.exists(self.url.target):
            super().open()  # else: "opened", and every read says it is not open


def test_opening_an_absent_device_without_error_is_caught(
    rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]
) -> None:
    with pytest.raises(AssertionError, match="opening an unplugged device succeeded; raise ScannerGone"):
        check_unplug(rig, scanners(OpensWhatIsNotThere, rig), WITHIN)


def test_a_device_that_is_absent_from_the_start_is_reported(
    rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]
) -> None:
    rig.unplug()
    with pytest.raises(AssertionError, match="open\\(\\) with the device present raised ScannerGone: no pipe at"):
        check_scans(rig, scanners(FifoScanner, rig), WITHIN)


class ZeroMeansForever(FifoScanner):
    def read(self, timeout: float | None) -> Scan | None:
        return super().read(timeout or None)


def test_a_read_that_ignores_a_zero_timeout_is_caught(
    rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]
) -> None:
    with pytest.raises(AssertionError, match=r"read\(0\) with no input did not return within 0.5 s"):
        check_timeout(scanners(ZeroMeansForever, rig), limit=0.5)


class TimeoutIsAnError(FifoScanner):
    def read(self, timeout: float | None) -> Scan | None:
        scan = super().read(timeout)
        if scan is None:
            raise ScannerError("nothing scanned", scanner=self.url.raw)
        return scan


def test_a_timeout_raised_as_an_error_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    with pytest.raises(AssertionError, match=r"read\(0\) with no input raised ScannerError: nothing scanned"):
        check_timeout(scanners(TimeoutIsAnError, rig))


class KeepsTheDevice(FifoScanner):
    leaked: ClassVar[list[int]] = []

    def close(self) -> None:
        if self._fd is not None:
            self.leaked.append(self._fd)  # "forgets" to close the claimed pipe
            self._fd = None
            os.close(self._wake_w)
            os.close(self._wake_r)


def test_a_device_kept_after_close_is_caught(rig: FifoRig, scanners: Callable[..., Callable[[], Scanner]]) -> None:
    make = scanners(KeepsTheDevice, rig)
    try:
        with pytest.raises(AssertionError, match="the device is still taken after close"):
            check_released_on_close(rig, make, WITHIN)
    finally:
        for fd in KeepsTheDevice.leaked:
            os.close(fd)
        KeepsTheDevice.leaked.clear()


class UnplugIsAnError(FifoScanner):
    def at_end(self) -> Scan | None:
        raise ScannerError("read failed", scanner=self.url.raw)


def test_an_unplug_reported_as_a_plain_error_is_caught_under_the_supervisor(rig: FifoRig) -> None:
    events = EventRecorder()
    host = plugin_host(fifo_plugin(UnplugIsAnError), extra=[events])
    with pytest.raises(AssertionError, match=r"the unplug was reported as scanner\.error before scanner\.gone"):
        check_supervised_unplug(host, events, rig, WITHIN)
