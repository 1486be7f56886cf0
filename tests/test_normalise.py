"""Normalisation: whatever framing a scanner adds, the bare code comes out and the symbology is kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import Scan, ScannerURL
from paycode.normalise import AIM_SYMBOLOGIES, SUFFIXES, Normaliser, normalise, split_aim

codes = st.text(alphabet="0123456789", min_size=1, max_size=32)
aims = st.sampled_from([None, "]C0", "]C1", "]Q1", "]Q2", "]E0", "]d2", "]e0", "]X0", "]L2"])
named_suffixes = st.sampled_from(sorted(SUFFIXES))
noise = st.text(alphabet="\x02\x03\x04\x1d\r\n\t ", max_size=4)


def scan(text: str) -> Scan:
    return Scan(raw=text.encode("utf-8", "surrogatepass"), text=text, source="test://")


@given(code=codes, aim=aims, suffix=named_suffixes, lead=noise, trail=noise)
@settings(max_examples=300, deadline=None)
def test_framing_is_stripped_and_the_aim_id_kept(
    code: str, aim: str | None, suffix: str, lead: str, trail: str
) -> None:
    normaliser = Normaliser.from_url(ScannerURL.parse(f"x://?suffix={suffix}"))
    result = normaliser(scan(lead + (aim or "") + code + trail + SUFFIXES[suffix]))
    assert result.text == code
    assert result.aim == aim
    assert result.symbology == (AIM_SYMBOLOGIES[aim[1]] if aim else None)


@given(code=codes, aim=aims, prefix=st.text(alphabet="ABCXYZ#*", min_size=1, max_size=4))
@settings(max_examples=150, deadline=None)
def test_configured_prefix_then_aim_id(code: str, aim: str | None, prefix: str) -> None:
    normaliser = Normaliser(prefix=prefix, suffix="\r")
    result = normaliser(scan(prefix + (aim or "") + code + "\r"))
    assert (result.text, result.aim) == (code, aim)


@given(code=codes, separators=st.lists(st.sampled_from(["\x03", "\x04", "\x00", "\x7f", "\x1c", "\x1e"]), max_size=3))
@settings(max_examples=100, deadline=None)
def test_control_characters_inside_are_removed(code: str, separators: list[str]) -> None:
    cut = len(code) // 2
    assert normalise(scan(code[:cut] + "".join(separators) + code[cut:])).text == code


@given(
    fields=st.lists(codes, min_size=2, max_size=4),
    aim=aims,
    suffix=named_suffixes,
    lead=noise,
    trail=noise,
)
@settings(max_examples=200, deadline=None)
def test_gs_between_fields_is_kept_and_at_the_ends_removed(
    fields: list[str], aim: str | None, suffix: str, lead: str, trail: str
) -> None:
    """Issue 15: GS (0x1D) is data inside a code (GS1 fields), framing at its ends; every path agrees."""
    normaliser = Normaliser.from_url(ScannerURL.parse(f"x://?suffix={suffix}"))
    gs1 = "\x1d".join(fields)
    result = normaliser(scan(lead + (aim or "") + "\x1d" + gs1 + "\x1d" + trail + SUFFIXES[suffix]))
    assert result.text == gs1
    assert result.aim == aim


def test_literal_suffix() -> None:
    normaliser = Normaliser.from_url(ScannerURL.parse("x://?suffix=END"))
    assert normaliser(scan("130000000000000001END")).text == "130000000000000001"


def test_honeywell_code_id_is_kept_unless_asked_for() -> None:
    assert normalise(scan("j130000000000000001")).text == "j130000000000000001"
    stripped = Normaliser(code_id=True)(scan("j130000000000000001\r"))
    assert (stripped.text, stripped.symbology, stripped.aim) == ("130000000000000001", "code128", None)
    qr = Normaliser.from_url(ScannerURL.parse("x://?code_id=1"))(scan("s280000000000000001"))
    assert (qr.text, qr.symbology) == ("280000000000000001", "qr")


def test_scanner_supplied_metadata_wins() -> None:
    given_scan = Scan(raw=b"]C0123", text="]C0123", source="hid://", symbology="code128-hidpos", aim="]C0")
    result = normalise(given_scan)
    assert (result.text, result.symbology, result.aim) == ("123", "code128-hidpos", "]C0")
    assert result.raw == b"]C0123"


@pytest.mark.parametrize("text", ["\uff11\uff13\uff10\uff10", "13 00", "13a0"])
def test_non_digits_are_left_for_classification_to_reject(text: str) -> None:
    assert normalise(scan(text)).text == text


def test_split_aim() -> None:
    assert split_aim("]Q1123") == ("]Q1", "123")
    assert split_aim("]q1123") == ("]q1", "123")
    assert split_aim("]1123") == (None, "]1123")
    assert split_aim("123") == (None, "123")


def test_unknown_aim_letter_keeps_the_id_without_a_symbology() -> None:
    result = normalise(scan("]Y0123"))
    assert (result.text, result.aim, result.symbology) == ("123", "]Y0", None)


def test_a_camera_scan_and_a_serial_frame_with_gs_come_out_alike() -> None:
    """The camera keeps GS in Scan.text (zxing-cpp TextMode.Plain); the host path keeps it too."""
    camera = Scan(raw=b"01\x1d17", text="01\x1d17", source="camera://0", symbology="qr", aim="]Q1")
    serial = scan("]Q101\x1d17\r\n")
    assert normalise(camera).text == normalise(serial).text == "01\x1d17"
