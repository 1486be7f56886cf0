"""The sans-IO frame decoder: every framing, garbage, overlong input, pauses; hypothesis on random chunking."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode.errors import ScannerConfigError
from paycode.scanning import ScannerURL
from paycode_serial import SUFFIXES, Frame, FrameDecoder, FrameError, Framing

CODE = b"130000000000000001"
OTHER = b"280000000000000002"


def feed_all(decoder: FrameDecoder, *chunks: bytes, now: float = 0.0) -> list[Frame | FrameError]:
    out: list[Frame | FrameError] = []
    for chunk in chunks:
        out += decoder.feed(chunk, now)
    return out


def texts(items: list[Frame | FrameError]) -> list[str]:
    return [i.data.decode() if isinstance(i, Frame) else f"!{i.kind}" for i in items]


# ---------------------------------------------------------------------------- terminators


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_default_framing_accepts_cr_lf_and_crlf_alike(ending: bytes) -> None:
    decoder = FrameDecoder()
    assert texts(decoder.feed(CODE + ending + OTHER + ending, 0.0)) == [CODE.decode(), OTHER.decode()]
    assert decoder.buffered == 0


def test_crlf_split_across_reads_is_one_terminator() -> None:
    decoder = FrameDecoder()
    assert texts(decoder.feed(CODE + b"\r", 0.0)) == [CODE.decode()]  # delivered at once, not held for the LF
    assert decoder.feed(b"\n", 0.0) == []
    assert texts(decoder.feed(OTHER + b"\r", 0.0)) == [OTHER.decode()]


def test_explicit_crlf_waits_for_the_lf_across_reads() -> None:
    decoder = FrameDecoder(Framing(suffix="crlf"))
    assert decoder.feed(CODE + b"\r", 0.0) == []
    frames = decoder.feed(b"\n", 0.0)
    assert frames == [Frame(data=CODE, raw=CODE + b"\r\n")]


@pytest.mark.parametrize(("suffix", "ending"), [(n, t) for n, t in SUFFIXES.items() if t] + [("#!", b"#!")])
def test_each_suffix_ends_frames(suffix: str, ending: bytes) -> None:
    decoder = FrameDecoder(Framing(suffix=suffix))
    stream = CODE + ending + OTHER + ending
    out = [item for byte in range(len(stream)) for item in decoder.feed(stream[byte : byte + 1], 0.0)]
    assert out == [Frame(data=CODE, raw=CODE + ending), Frame(data=OTHER, raw=OTHER + ending)]


def test_a_terminator_of_another_framing_is_garbage() -> None:
    decoder = FrameDecoder(Framing(suffix="tab"))
    out = decoder.feed(CODE + b"\r\n" + OTHER + b"\t", 0.0)
    assert texts(out) == ["!garbage"]
    assert "0x0d (CR)" in out[0].reason and "TAB" in out[0].reason  # type: ignore[union-attr]


def test_aim_identifier_and_gs_are_kept_for_the_normaliser() -> None:
    decoder = FrameDecoder()
    assert texts(decoder.feed(b"]C0" + CODE + b"\r]Q1" + OTHER + b"\r01\x1d17\r", 0.0)) == [
        "]C0" + CODE.decode(),
        "]Q1" + OTHER.decode(),
        "01\x1d17",
    ]


def test_empty_frames_are_dropped_silently() -> None:
    assert FrameDecoder().feed(b"\r\n\r\n\n\r", 0.0) == []


# ---------------------------------------------------------------------------- STX framing


def test_stx_etx_frames_and_what_follows_etx_is_dropped() -> None:
    decoder = FrameDecoder(Framing(stx=True))
    out = feed_all(decoder, b"\x02" + CODE[:5], CODE[5:] + b"\x03\r\n", b"\x02" + OTHER + b"\x03")
    assert out == [Frame(data=CODE, raw=b"\x02" + CODE + b"\x03"), Frame(data=OTHER, raw=b"\x02" + OTHER + b"\x03")]


def test_stx_with_a_cr_suffix() -> None:
    decoder = FrameDecoder(Framing(stx=True, suffix="cr"))
    assert texts(decoder.feed(b"\x02" + CODE + b"\r\n\x02" + OTHER + b"\r", 0.0)) == [CODE.decode(), OTHER.decode()]


def test_text_outside_stx_framing_is_reported_once_then_skipped() -> None:
    decoder = FrameDecoder(Framing(stx=True))
    out = feed_all(decoder, b"noise", b" more noise ", b"\x02" + CODE + b"\x03")
    assert texts(out) == ["!outside", CODE.decode()]


def test_a_new_stx_cuts_a_frame_short() -> None:
    decoder = FrameDecoder(Framing(stx=True))
    assert texts(decoder.feed(b"\x02" + CODE[:6] + b"\x02" + OTHER + b"\x03", 0.0)) == ["!interrupted", OTHER.decode()]


# ---------------------------------------------------------------------------- bad input


def test_garbage_is_reported_when_seen_then_the_next_frame_decodes() -> None:
    decoder = FrameDecoder()
    assert texts(decoder.feed(b"12\x07\xff", 0.0)) == ["!garbage"]
    assert decoder.feed(b"34\x00\x01" * 100, 0.0) == []  # the rest of the bad frame: skipped, not kept
    assert decoder.buffered == 0
    assert texts(decoder.feed(b"\r" + CODE + b"\r", 0.0)) == [CODE.decode()]


def test_overlong_input_is_discarded_without_buffering_then_the_next_frame_decodes() -> None:
    decoder = FrameDecoder(Framing(max_length=32))
    out = feed_all(decoder, b"9" * 20, b"9" * 20, b"9" * 10_000)
    assert texts(out) == ["!overlong"]
    assert "max_length=32" in out[0].reason  # type: ignore[union-attr]
    assert decoder.buffered == 0
    assert texts(decoder.feed(b"\n" + CODE + b"\n", 0.0)) == [CODE.decode()]


def test_a_frame_of_exactly_max_length_is_accepted() -> None:
    decoder = FrameDecoder(Framing(max_length=len(CODE)))
    assert texts(decoder.feed(CODE + b"\r" + CODE + b"0\r", 0.0)) == [CODE.decode(), "!overlong"]


def test_reset_forgets_a_partial_frame() -> None:
    decoder = FrameDecoder(Framing(suffix="crlf"))
    decoder.feed(b"1234\r", 0.0)
    decoder.reset()
    assert decoder.buffered == 0
    assert texts(decoder.feed(b"\n" + CODE + b"\r\n", 0.0)) == ["!garbage"]  # the LF now starts a frame: garbage
    assert texts(decoder.feed(CODE + b"\r\n", 0.0)) == [CODE.decode()]


# ---------------------------------------------------------------------------- pause framing


def test_a_pause_ends_a_frame_with_suffix_none() -> None:
    decoder = FrameDecoder(Framing(suffix="none", gap=0.05))
    assert decoder.deadline() is None
    assert decoder.feed(CODE[:9], 1.00) == []
    assert decoder.feed(CODE[9:], 1.04) == []  # 40 ms later: same frame
    assert decoder.deadline() == pytest.approx(1.09)
    assert decoder.expire(1.08) == []
    assert decoder.expire(1.09) == [Frame(data=CODE, raw=CODE)]
    assert decoder.deadline() is None
    # data after a pause ends the previous frame even before expire() is called
    decoder.feed(CODE, 2.0)
    assert texts(decoder.feed(OTHER, 2.2)) == [CODE.decode()]
    assert texts(decoder.expire(2.3)) == [OTHER.decode()]


def test_pause_framing_with_stx() -> None:
    decoder = FrameDecoder(Framing(suffix="none", stx=True))
    decoder.feed(b"\r\n\x02" + CODE, 0.0)
    assert decoder.expire(1.0) == [Frame(data=CODE, raw=b"\x02" + CODE)]


def test_terminated_framings_have_no_deadline() -> None:
    decoder = FrameDecoder()
    decoder.feed(CODE[:5], 0.0)
    assert decoder.deadline() is None
    assert decoder.expire(100.0) == []
    assert texts(decoder.feed(CODE[5:] + b"\r", 200.0)) == [CODE.decode()]


# ---------------------------------------------------------------------------- settings from the URL


def url(params: str) -> ScannerURL:
    return ScannerURL.parse(f"serial:///dev/ttyACM0?{params}" if params else "serial:///dev/ttyACM0")


def test_framing_from_url() -> None:
    assert Framing.from_url(url("")) == Framing()
    assert Framing.from_url(url("suffix=CR")) == Framing(suffix="cr")
    assert Framing.from_url(url("suffix=none&gap=20")) == Framing(suffix="none", gap=0.02)
    assert Framing.from_url(url("stx=yes&max_length=64")) == Framing(stx=True, max_length=64)
    assert Framing.from_url(url("suffix=%23%23")).terminators == (b"##",)
    assert Framing(stx=True).terminators == (b"\x03",)
    assert Framing(suffix="none").terminators == ()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("suffix=%07", "suffix '\\x07' is not valid; accepted: cr, lf, crlf, tab, etx, eot, none"),
        ("suffix=abcdefghij", "literal printable text of 1-8 characters"),
        ("gap=20", "gap= applies only with suffix=none"),
        ("suffix=none&gap=0", "gap='0' is not valid"),
        ("suffix=none&gap=soon", "gap='soon' is not valid"),
        ("max_length=0", "max_length='0' is not valid"),
        ("max_length=100000", "max_length='100000' is not valid"),
        ("stx=maybe", "stx='maybe' is not valid; accepted: 1/0, true/false"),
    ],
)
def test_bad_framing_parameters_are_clear_errors(params: str, message: str) -> None:
    with pytest.raises(ScannerConfigError) as caught:
        Framing.from_url(url(params))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------- properties

CODE_TEXT = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ]-./", min_size=1, max_size=40).map(str.encode)
FRAMINGS = st.sampled_from([None, "cr", "lf", "crlf", "tab", "etx", "eot", "#!", "~~"])


@st.composite
def chunked(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    """``stream`` cut at random places."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=len(stream))))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in pairwise(bounds) if a < b]


@settings(max_examples=200)
@given(codes=st.lists(CODE_TEXT, min_size=1, max_size=8), suffix=FRAMINGS, stx=st.booleans(), data=st.data())
def test_any_chunking_of_framed_codes_gives_exactly_the_codes_once_each(
    codes: list[bytes], suffix: str | None, stx: bool, data: st.DataObject
) -> None:
    framing = Framing(suffix=suffix, stx=stx)
    decoder = FrameDecoder(framing)
    ends = framing.terminators
    if suffix is None and not stx:
        ends = (b"\r", b"\n", b"\r\n")
    stream = b"".join((b"\x02" if stx else b"") + code + data.draw(st.sampled_from(ends)) for code in codes)
    out = feed_all(decoder, *data.draw(chunked(stream)))
    assert [item.data if isinstance(item, Frame) else item for item in out] == codes


@settings(max_examples=200)
@given(codes=st.lists(CODE_TEXT, min_size=1, max_size=6), stx=st.booleans(), data=st.data())
def test_pause_framing_gives_exactly_the_codes_whatever_the_chunking(
    codes: list[bytes], stx: bool, data: st.DataObject
) -> None:
    decoder = FrameDecoder(Framing(suffix="none", gap=0.05, stx=stx))
    out: list[Frame | FrameError] = []
    now = 0.0
    for code in codes:
        for chunk in data.draw(chunked((b"\x02" if stx else b"") + code)):
            now += data.draw(st.floats(0.0, 0.04))  # within a frame: shorter than the gap
            out += decoder.feed(chunk, now)
        now += data.draw(st.floats(0.06, 5.0))  # between frames: a pause
        if data.draw(st.booleans()):
            out += decoder.expire(now)
    out += decoder.expire(now + 0.05)
    assert [item.data if isinstance(item, Frame) else item for item in out] == codes


@settings(max_examples=300)
@given(
    noise=st.binary(max_size=400),
    suffix=st.sampled_from([None, "cr", "crlf", "etx", "none", "#!"]),
    stx=st.booleans(),
    max_length=st.integers(1, 64),
    data=st.data(),
)
def test_arbitrary_input_is_bounded_and_the_decoder_recovers(
    noise: bytes, suffix: str | None, stx: bool, max_length: int, data: st.DataObject
) -> None:
    framing = Framing(suffix=suffix, stx=stx, max_length=max_length)
    decoder = FrameDecoder(framing)
    longest_terminator = max((len(t) for t in framing.terminators), default=0)
    now = 0.0
    for chunk in data.draw(chunked(noise)):
        now += 0.001
        for item in decoder.feed(chunk, now):
            if isinstance(item, Frame):
                assert 0 < len(item.data) <= max_length
                assert all(b == 0x1D or 0x20 <= b < 0x7F for b in item.data)
        assert decoder.buffered <= max_length + longest_terminator
    # then: end whatever was in progress, and a good frame comes through
    code = CODE[:max_length]
    end = framing.terminators[0] if framing.terminators else b""
    now += 1.0
    decoder.expire(now)
    decoder.feed(end, now)
    out = decoder.feed((b"\x02" if stx else b"") + code + end, now + 1.0)
    if not end:
        out += decoder.expire(now + 2.0)
    assert out and out[-1] == Frame(data=code, raw=(b"\x02" if stx else b"") + code + end)
