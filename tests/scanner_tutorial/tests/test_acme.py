"""The AX-200 decoder, and scans through paycode over a pseudo-terminal (the plugin found by its entry point)."""

from hypothesis import given
from hypothesis import strategies as st
from paycode.host import PluginHost
from paycode_acme import AcmeDecoder, encode
from paycode_serial import Frame, FrameError
from paycode_serial.testing import PtyScanner

CODES = st.lists(st.text("0123456789]CQ", min_size=1, max_size=40).map(str.encode), min_size=1, max_size=5)


@given(codes=CODES, data=st.data())
def test_any_chunking_gives_the_codes_once_each(codes: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode(code) for code in codes)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1))))
    decoder, out = AcmeDecoder(), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += decoder.feed(stream[start:end], now=0.0)
    assert out == [Frame(data=code, raw=encode(code)) for code in codes]


def test_a_bad_checksum_is_an_error_and_the_next_frame_reads() -> None:
    bad = bytearray(encode(b"130000000000000001"))
    bad[-2] ^= 0x01
    out = AcmeDecoder().feed(bytes(bad) + encode(b"130000000000000002"), now=0.0)
    assert out[0] == FrameError("checksum mismatch; frame discarded", "checksum")
    assert out[1] == Frame(data=b"130000000000000002", raw=encode(b"130000000000000002"))


def test_an_incomplete_frame_is_dropped_after_the_frame_timeout() -> None:
    decoder = AcmeDecoder(frame_timeout=0.2)
    assert decoder.feed(encode(b"1234")[:4], now=10.0) == []
    assert decoder.deadline() == 10.2
    assert [e.kind for e in decoder.expire(now=10.2)] == ["interrupted"]
    assert decoder.feed(encode(b"1234"), now=11.0) == [Frame(data=b"1234", raw=encode(b"1234"))]


def test_scans_through_paycode_over_a_pty() -> None:
    host = PluginHost()  # every installed plugin, found through the "paycode" entry points
    with PtyScanner() as fake, host.open_scanner(f"acme://{fake.path}") as scanner:
        fake.write(encode(b"]C0130000000000000001"))
        scan = scanner.read(timeout=5.0)
        assert scanner.stats().scans == 1
    assert scan is not None
    assert (scan.text, scan.symbology) == ("130000000000000001", "code128")


def test_feedback_beeps_the_scanner() -> None:
    host = PluginHost()
    with PtyScanner() as fake, host.open_scanner(f"acme://{fake.path}?good=%16%07&bad=%16%07%07") as scanner:
        assert scanner.open()
        assert scanner.feedback("good")  # what paycode sends when a payment read from this scanner succeeds
        assert fake.sent(2) == b"\x16\x07"
