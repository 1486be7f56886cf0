"""Scanner URLs: parsing, typed parameters, and resolution to the registered scanner type."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode import ScannerConfigError, ScannerURL
from paycode.host import PluginHost

schemes = st.from_regex(r"[a-z][a-z0-9+.\-]{0,10}", fullmatch=True)
targets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/_.:-", max_size=30)
param_names = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)
param_values = st.text(max_size=20).filter(lambda v: all(ord(c) >= 0x20 and ord(c) != 0x7F for c in v))


@given(schemes, targets, st.dictionaries(param_names, param_values, max_size=4))
@settings(max_examples=150, deadline=None)
def test_parse_round_trips(scheme: str, target: str, params: dict[str, str]) -> None:
    text = f"{scheme}://{quote(target, safe='/:')}"
    if params:
        text += "?" + urlencode(params)
    url = ScannerURL.parse(text)
    assert url.scheme == scheme
    assert url.target == target
    assert dict(url.params) == params
    assert str(url) == text


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_fails_with_one_clear_line(text: str) -> None:
    try:
        ScannerURL.parse(text)
    except ScannerConfigError as exc:
        assert "\n" not in str(exc)


def test_scheme_is_case_insensitive() -> None:
    assert ScannerURL.parse("SERIAL:///dev/ttyACM0").scheme == "serial"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/dev/ttyACM0", "is not a URL"),
        ("://x", "malformed scheme"),
        ("1serial://x", "malformed scheme"),
        ("se rial://x", "malformed scheme"),
        ("serial:///dev/x#frag", "must not contain '#'"),
        ("serial:///dev/x?baudrate", "malformed query"),
        ("serial:///dev/x?a=1&a=2", "gives parameter 'a' twice"),
        ("serial:///dev/x\n", "control characters"),
    ],
)
def test_malformed_urls(text: str, fragment: str) -> None:
    with pytest.raises(ScannerConfigError, match=fragment):
        ScannerURL.parse(text)


def test_typed_parameters() -> None:
    url = ScannerURL.parse("x://t?n=7&f=0.5&b=yes&c=QR&bad=z&neg=-1")
    assert url.get_int("n", 1, minimum=1) == 7
    assert url.get_int("missing", 3) == 3
    assert url.get_float("f", 1.0) == 0.5
    assert url.get_bool("b", False) is True
    assert url.get_choice("c", ["qr", "code128"], "qr") == "qr"
    assert url.get_str("missing") is None
    with pytest.raises(ScannerConfigError, match=r"bad='z' is not valid; accepted: an integer"):
        url.get_int("bad", 1)
    with pytest.raises(ScannerConfigError, match=r"accepted: an integer >= 0"):
        url.get_int("neg", 1, minimum=0)
    with pytest.raises(ScannerConfigError, match=r"accepted: a number >= 0"):
        url.get_float("neg", 1.0)
    with pytest.raises(ScannerConfigError, match=r"accepted: 1/0, true/false"):
        url.get_bool("bad", True)
    with pytest.raises(ScannerConfigError, match=r"accepted: qr, code128"):
        url.get_choice("bad", ["qr", "code128"], "qr")
    with pytest.raises(ScannerConfigError, match="a number"):
        ScannerURL.parse("x://t?f=nan").get_float("f", 1.0)


def test_unknown_scheme_lists_the_installed_ones(make_host: Callable[..., PluginHost]) -> None:
    host = make_host()
    with pytest.raises(ScannerConfigError) as caught:
        host.open_scanner("nope:///x")
    message = str(caught.value)
    assert "unknown scanner scheme nope://" in message
    assert "replay://" in message and "stdin://" in message


def test_unknown_parameter_lists_accepted_ones(make_host: Callable[..., PluginHost]) -> None:
    host = make_host()
    with pytest.raises(ScannerConfigError) as caught:
        host.open_scanner("replay:///tmp/x.txt?speed=2")
    message = str(caught.value)
    assert "does not take parameter speed" in message
    for accepted in ("delay", "loop", "escapes", "prefix", "suffix", "repeat_window", "code_id"):
        assert accepted in message


def test_bad_parameter_value_is_reported_when_the_scanner_is_built(make_host: Callable[..., PluginHost]) -> None:
    host = make_host()
    with pytest.raises(ScannerConfigError, match="delay='soon'"):
        host.open_scanner("replay:///tmp/x.txt?delay=soon")
    with pytest.raises(ScannerConfigError, match="repeat_window='-1'"):
        host.open_scanner("replay:///tmp/x.txt?repeat_window=-1")


def test_no_scanner_configured(make_host: Callable[..., PluginHost]) -> None:
    with pytest.raises(ScannerConfigError, match="PAYCODE_SCANNER"):
        make_host().open_scanner()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("camera://?url=rtsp%3A%2F%2Fu%3Asecret%40cam%2Fs", "camera://?url=rtsp://u:***@cam/s"),
        ("serial+rfc2217://u:secret@host:7000", "serial+rfc2217://u:***@host:7000"),
        ("serial:///dev/ttyACM0?baudrate=9600", "serial:///dev/ttyACM0?baudrate=9600"),
    ],
)
def test_display_hides_passwords(url: str, shown: str) -> None:
    assert ScannerURL.parse(url).display == shown
