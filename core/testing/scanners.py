"""The scanner conformance suite: what every registered scanner must do, checked against its device.

The suite cannot reach a plugin's device by itself, so the plugin's test provides a *rig*
(:class:`ScannerRig`): the test's side of the device, which can send a scan, send garbage,
unplug the device and plug it back. Rigs drive the device through real OS interfaces (a
pseudo-terminal for a serial port, a TCP server, an HTTP video stream, the plugin's own
replay seam for USB)::

    import paycode_acme
    import pytest
    from paycode.testing import ScannerConformance

    class TestAcmeConformance(ScannerConformance):
        plugin = paycode_acme                  # or: entry_point = "acme"

        @pytest.fixture
        def rig(self, tmp_path):
            with AcmeRig(tmp_path) as rig:     # yours: url, feed(), feed_garbage(), unplug(), replug()
                yield rig

The checks: the scheme is registered and takes the rig's URL; a scanner opens and closes
cleanly (closing twice, or before opening, is safe); it yields well-formed
:class:`~paycode.models.Scan` objects in order; garbage is discarded (a
:class:`~paycode.errors.ScannerError`) and scanning goes on; an unplug is reported as
:class:`~paycode.errors.ScannerGone` (and by the supervisor as ``scanner.gone``, then
``scanner.reopened`` after the replug); ``read(timeout)`` returns None when nothing comes; a
closed scanner releases its device; and a scanner with the feedback capability never raises
from ``feedback()`` (skipped for one without it). Each check is also a plain function taking a rig and a
``make_scanner`` callable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol, runtime_checkable

import pytest

from ..errors import ScannerConfigError, ScannerError, ScannerGone
from ..host import PluginHost
from ..masking import mask_code
from ..models import Scan
from ..normalise import Normaliser
from ..scanning import Feedback, FeedbackScanner, Scanner, ScannerURL
from ._hosts import EventRecorder
from ._suite import PluginSuite

__all__ = [
    "CODES",
    "ScannerConformance",
    "ScannerRig",
    "check_closes_cleanly",
    "check_feedback",
    "check_garbage",
    "check_registration",
    "check_released_on_close",
    "check_scans",
    "check_supervised_unplug",
    "check_timeout",
    "check_unplug",
    "read_scan",
]

#: the codes the suite scans: digits only, so any scanner can send them
CODES = ("130000000000000001", "280000000000000002", "151234567890123452")

MakeScanner = Callable[[], Scanner]


@runtime_checkable
class ScannerRig(Protocol):
    """The test's side of a scanner's device. A plugin's test provides one through a ``rig`` fixture.

    - ``url``: the scanner URL that reaches the device (the same after a replug);
    - ``feed(code)``: make the device send one scan of ``code`` (digits), framed as the device frames it;
    - ``feed_garbage()``: make the device send input the scanner must discard (noise, a broken frame);
    - ``unplug()``: the device disappears (cable pulled, port closed, stream stopped);
    - ``replug()``: it comes back under the same URL.
    """

    url: str

    def feed(self, code: str) -> None: ...

    def feed_garbage(self) -> None: ...

    def unplug(self) -> None: ...

    def replug(self) -> None: ...


# ---------------------------------------------------------------------------- helpers


def _bounded(what: str, call: Callable[[], Any], limit: float, on_timeout: Callable[[], None]) -> Any:
    """``call()`` in a worker thread; AssertionError when it has not returned after ``limit`` s (a hang)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name=f"paycode-conformance: {what}", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        on_timeout()  # e.g. close the scanner, so the stuck read ends
        worker.join(limit)
        raise AssertionError(f"{what} did not return within {limit:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def read_scan(scanner: Scanner, within: float, what: str = "a scan") -> Scan:
    """The next Scan, reading until ``within`` seconds passed; AssertionError for none, or a ScannerError."""
    deadline = time.monotonic() + within
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no scan within {within:g} s after the device sent {what}")
        try:
            scan = scanner.read(min(remaining, 0.5))
        except ScannerError as exc:
            raise AssertionError(f"reading {what} raised {type(exc).__name__}: {exc}") from None
        if scan is not None:
            return scan


def _code_of(scan: Scan, url: ScannerURL) -> str:
    return Normaliser.from_url(url)(scan).text


def _step(what: str, call: Callable[[], Any]) -> Any:
    """``call()``; an exception becomes an AssertionError naming the step."""
    try:
        return call()
    except Exception as exc:
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def _opened(make_scanner: MakeScanner) -> Scanner:
    scanner = make_scanner()
    _step("open() with the device present", scanner.open)
    return scanner


# ---------------------------------------------------------------------------- checks


def check_registration(host: PluginHost, rig: ScannerRig) -> None:
    """The rig URL's scheme is registered with a description, and the URL's parameters are accepted."""
    url = ScannerURL.parse(rig.url)
    registered = host.scanners.get(url.scheme)
    assert registered is not None, (
        f"scheme {url.scheme}:// is not registered (registered: {', '.join(sorted(host.scanners))}; "
        f"problems: {'; '.join(str(p) for p in host.problems) or 'none'})"
    )
    assert registered.description, f"scanner {url.scheme}://: give ScannerType a description (paycode plugins shows it)"
    undocumented = sorted(name for name, text in registered.params.items() if not text)
    assert not undocumented, f"scanner {url.scheme}://: describe the parameters {', '.join(undocumented)}"
    try:
        host.scanner_type(url)
    except ScannerConfigError as exc:
        raise AssertionError(f"the rig's URL is refused: {exc}") from None


def check_closes_cleanly(make_scanner: MakeScanner) -> None:
    """close() before open() and twice after it is safe; reading a closed scanner is a ScannerError, not a crash."""
    _step("close() before open()", make_scanner().close)
    scanner = _opened(make_scanner)
    _step("close()", scanner.close)
    _step("a second close()", scanner.close)
    try:
        result = _bounded("read() after close()", lambda: scanner.read(0.05), 10.0, lambda: None)
    except ScannerError:
        return
    except Exception as exc:
        raise AssertionError(f"read() after close() raised {type(exc).__name__}: {exc}; raise ScannerGone") from exc
    assert result is None, "read() after close() returned a scan"


def check_scans(rig: ScannerRig, make_scanner: MakeScanner, within: float) -> None:
    """Each fed code comes out once, in order, as a well-formed Scan."""
    url = ScannerURL.parse(rig.url)
    scanner = _opened(make_scanner)
    try:
        for code in CODES[:2]:
            before = time.monotonic()
            rig.feed(code)
            scan = read_scan(scanner, within, f"code {mask_code(code)}")
            after = time.monotonic()
            assert isinstance(scan, Scan), f"read() returned a {type(scan).__name__}, not a paycode Scan"
            assert isinstance(scan.raw, bytes) and scan.raw, "Scan.raw must be the non-empty bytes the device sent"
            assert isinstance(scan.text, str), f"Scan.text must be str, not {type(scan.text).__name__}"
            assert isinstance(scan.source, str) and scan.source, "Scan.source must name the scanner (its URL)"
            assert isinstance(scan.time, float) and before <= scan.time <= after, (
                "Scan.time must be time.monotonic() when the scan was read "
                f"(got {scan.time!r}, expected between {before:.3f} and {after:.3f})"
            )
            assert scan.symbology is None or isinstance(scan.symbology, str), "Scan.symbology must be str or None"
            got = _code_of(scan, url)
            assert got == code, f"fed {mask_code(code)}, the scan normalises to {mask_code(got)}"
    finally:
        scanner.close()


def check_garbage(
    rig: ScannerRig, make_scanner: MakeScanner, within: float, *, raises: bool = True, watch: float = 1.0
) -> None:
    """Garbage is discarded with a ScannerError, and the next scan reads.

    With ``raises=False`` (a scanner that sees garbage as nothing, like a camera) the scanner is
    watched for ``watch`` seconds after the garbage: no scan and no error other than a ScannerError.
    """
    url = ScannerURL.parse(rig.url)
    scanner = _opened(make_scanner)
    try:
        rig.feed_garbage()
        deadline = time.monotonic() + (within if raises else watch)
        error: ScannerError | None = None
        while error is None and (remaining := deadline - time.monotonic()) > 0:
            try:
                scan = scanner.read(min(0.2, remaining))
            except ScannerGone as exc:
                raise AssertionError(
                    f"garbage made the scanner raise ScannerGone ({exc}); garbage is no unplug"
                ) from None
            except ScannerError as exc:
                error = exc
            else:
                assert scan is None, f"garbage came out as a scan ({scan.masked()!r}); discard it with a ScannerError"
        if raises:
            assert error is not None, f"no ScannerError within {within:g} s of garbage; report discarded input"
        code = CODES[0]
        rig.feed(code)
        scan = read_scan(scanner, within, f"code {mask_code(code)} after garbage")
        assert _code_of(scan, url) == code, "after garbage, the next scan is not the code that was sent"
    finally:
        scanner.close()


def check_unplug(rig: ScannerRig, make_scanner: MakeScanner, within: float) -> None:
    """An unplug is ScannerGone; opening while unplugged is ScannerGone; after the replug a new scanner reads."""
    url = ScannerURL.parse(rig.url)
    scanner = _opened(make_scanner)
    try:
        rig.feed(CODES[0])
        assert _code_of(read_scan(scanner, within, "a code before the unplug"), url) == CODES[0]
        rig.unplug()
        deadline = time.monotonic() + within
        gone: ScannerGone | None = None
        while gone is None:
            assert time.monotonic() < deadline, f"no ScannerGone within {within:g} s of the unplug"
            try:
                scan = scanner.read(0.2)
            except ScannerGone as exc:
                gone = exc
            except ScannerError:
                continue  # a frame cut short by the unplug may be reported first
            else:
                assert scan is None, "a scan came after the unplug"
        assert str(gone), "ScannerGone must say what happened"
    finally:
        scanner.close()
    scanner.close()
    absent = make_scanner()
    try:
        absent.open()
    except ScannerGone:
        pass
    except ScannerConfigError as exc:
        raise AssertionError(
            f"opening an unplugged device raised ScannerConfigError ({exc}); raise ScannerGone so it is retried"
        ) from None
    else:
        raise AssertionError("opening an unplugged device succeeded; raise ScannerGone while it is absent")
    finally:
        absent.close()
    rig.replug()
    again = _opened(make_scanner)
    try:
        rig.feed(CODES[1])
        assert _code_of(read_scan(again, within, "a code after the replug"), url) == CODES[1]
    finally:
        again.close()


def check_supervised_unplug(host: PluginHost, events: EventRecorder, rig: ScannerRig, within: float) -> None:
    """Under the core's supervisor an unplug is the event ``scanner.gone``, the replug ``scanner.reopened``."""
    supervisor = host.open_scanner(rig.url, backoff_initial=0.01, backoff_max=0.1)

    def wait_for(kind: str, why: str) -> None:
        deadline = time.monotonic() + within
        while kind not in events.kinds():
            assert time.monotonic() < deadline, f"no {kind} event within {within:g} s {why} (events: {events.kinds()})"
            scan = supervisor.read(0.1)
            assert scan is None, f"a scan came while waiting for {kind}"

    with supervisor:
        rig.feed(CODES[0])
        scan = supervisor.read(within)
        assert scan is not None and scan.text == CODES[0], "the supervisor did not deliver the code fed"
        rig.unplug()
        wait_for("scanner.gone", "after the unplug")
        rig.replug()
        wait_for("scanner.reopened", "after the replug")
        rig.feed(CODES[1])
        scan = supervisor.read(within)
        assert scan is not None and scan.text == CODES[1], "after the replug the supervisor delivered no scan"
    assert "scanner.error" not in events.kinds()[: events.kinds().index("scanner.gone")], (
        "the unplug was reported as scanner.error before scanner.gone"
    )


def check_timeout(make_scanner: MakeScanner, *, limit: float = 10.0) -> None:
    """With nothing to read, read(timeout) returns None: for 0 s and for a short wait (a hang fails after ``limit``)."""
    scanner = _opened(make_scanner)
    try:
        for timeout in (0.0, 0.05):

            def read(timeout: float = timeout) -> Scan | None:
                return scanner.read(timeout)

            what = f"read({timeout:g}) with no input"
            try:
                result = _bounded(what, read, limit, scanner.close)
            except ScannerError as exc:
                raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}; return None") from exc
            assert result is None, f"{what} returned {result!r}, not None"
    finally:
        scanner.close()


def check_released_on_close(rig: ScannerRig, make_scanner: MakeScanner, within: float) -> None:
    """After close(), a new scanner for the same URL opens and reads: the device was released."""
    url = ScannerURL.parse(rig.url)
    first = _opened(make_scanner)
    first.close()
    second = make_scanner()
    try:
        try:
            second.open()
        except ScannerError as exc:
            raise AssertionError(f"the device is still taken after close(): {type(exc).__name__}: {exc}") from None
        rig.feed(CODES[2])
        assert _code_of(read_scan(second, within, "a code"), url) == CODES[2]
    finally:
        second.close()


def _feedback(scanner: FeedbackScanner, kind: Feedback, when: str) -> bool:
    try:
        return scanner.feedback(kind)
    except Exception as exc:
        raise AssertionError(f"feedback({kind.value}) {when} raised {type(exc).__name__}: {exc}") from None


def check_feedback(rig: ScannerRig, make_scanner: MakeScanner) -> None:
    """A scanner with the feedback capability: ``feedback()`` never raises; False when closed, for a kind it
    cannot give, and after an unplug; True for a kind it offers while open."""
    scanner = make_scanner()
    if not isinstance(scanner, FeedbackScanner):
        pytest.skip("this scanner has no feedback capability (paycode.scanning.FeedbackScanner)")
    kinds = frozenset(scanner.feedback_kinds)
    for kind in Feedback:
        assert _feedback(scanner, kind, "before open()") is False, f"feedback({kind.value}) before open(): not False"
    try:
        _step("open()", scanner.open)
        for kind in Feedback:
            sent = _feedback(scanner, kind, "while open")
            assert sent is (kind in kinds), f"feedback({kind.value}) returned {sent!r}; offered: {sorted(kinds)}"
        rig.unplug()
        for kind in kinds:
            _feedback(scanner, kind, "after an unplug")
    finally:
        scanner.close()
        rig.replug()
    for kind in Feedback:
        assert _feedback(scanner, kind, "after close()") is False, f"feedback({kind.value}) after close(): not False"


# ---------------------------------------------------------------------------- the suite


class ScannerConformance(PluginSuite):
    """Subclass it in a scanner plugin's tests; set ``plugin`` (or ``entry_point``) and define a ``rig`` fixture."""

    #: seconds a check waits for a scan, an error or an event the device was made to cause
    read_within: ClassVar[float] = 5.0
    #: False for scanners that see garbage as nothing at all (a camera looking at noise)
    garbage_raises: ClassVar[bool] = True
    #: with garbage_raises False: seconds the scanner is watched after the garbage
    garbage_watch: ClassVar[float] = 1.0

    @pytest.fixture
    def rig(self) -> ScannerRig:
        pytest.fail(
            f"{type(self).__name__}: define a `rig` fixture returning a paycode.testing.ScannerRig "
            "(url, feed(code), feed_garbage(), unplug(), replug())",
            pytrace=False,
        )

    @pytest.fixture
    def make_scanner(self, rig: ScannerRig) -> Iterator[MakeScanner]:
        """New scanners for the rig's URL, built by the plugin's registered factory; all closed afterwards."""
        assert isinstance(rig, ScannerRig), f"the rig {rig!r} lacks part of ScannerRig (url, feed, …)"
        host = self.host()
        url = ScannerURL.parse(rig.url)
        made: list[Scanner] = []

        def make() -> Scanner:
            scanner = host.scanner_type(url).build(url)
            made.append(scanner)
            return scanner

        yield make
        for scanner in made:
            try:
                scanner.close()
            except Exception:  # the check already failed on it; do not hide that failure
                pass

    def test_registers_the_scheme(self, rig: ScannerRig) -> None:
        check_registration(self.host(), rig)

    def test_opens_and_closes_cleanly(self, make_scanner: MakeScanner) -> None:
        check_closes_cleanly(make_scanner)

    def test_yields_well_formed_scans(self, rig: ScannerRig, make_scanner: MakeScanner) -> None:
        check_scans(rig, make_scanner, self.read_within)

    def test_survives_garbage(self, rig: ScannerRig, make_scanner: MakeScanner) -> None:
        check_garbage(rig, make_scanner, self.read_within, raises=self.garbage_raises, watch=self.garbage_watch)

    def test_reports_unplug_as_scanner_gone(self, rig: ScannerRig, make_scanner: MakeScanner) -> None:
        check_unplug(rig, make_scanner, self.read_within)

    def test_supervisor_reports_unplug_and_reopens(self, rig: ScannerRig) -> None:
        events = EventRecorder()
        check_supervised_unplug(self.host(extra=[events]), events, rig, self.read_within)

    def test_read_honours_its_timeout(self, make_scanner: MakeScanner) -> None:
        check_timeout(make_scanner)

    def test_releases_the_device_on_close(self, rig: ScannerRig, make_scanner: MakeScanner) -> None:
        check_released_on_close(rig, make_scanner, self.read_within)

    def test_feedback_never_raises(self, rig: ScannerRig, make_scanner: MakeScanner) -> None:
        check_feedback(rig, make_scanner)
