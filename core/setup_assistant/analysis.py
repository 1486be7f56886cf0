"""From what a scanner sent for the known test barcode to its scanner URL, and the field failures seen.

Sans-IO: :func:`analyse_bytes` takes the bytes a serial port or a terminal received (with
the time each chunk arrived), :func:`analyse_keyboard_reports` the boot keyboard reports of a
keyboard-wedge scanner, :func:`analyse_pos_reports` the reports of a HID POS scanner. Each
returns a :class:`Diagnosis`: the transport and mode, the framing (STX/ETX, suffix, AIM
identifier, vendor code id, prefix), the keyboard layout, the scanner URL and the
``paycode.toml`` lines to use, and every :class:`Problem` found with its name and fix.

Keyboard layouts come from paycode-hid's tables (:data:`paycode_hid.LAYOUTS`); without
paycode-hid installed the layout is not inferred (said in the diagnosis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from ..symbology import from_aim, from_code_id

__all__ = [
    "PROBLEMS",
    "TEST_TEXT",
    "Diagnosis",
    "Problem",
    "analyse_bytes",
    "analyse_keyboard_reports",
    "analyse_pos_reports",
    "layout_tables",
]

#: the text of the test barcode: letters and digits every supported layout types, placed where
#: QWERTY, QWERTZ and AZERTY differ (Q/A, Z/W, Y, M, digits shifted on AZERTY)
TEST_TEXT = "PAYCODE-Qa1zWy7m"

#: every field failure the assistant names: name -> what it is
PROBLEMS: Mapping[str, str] = {
    "wrong-layout": "the scanner types for another keyboard layout than the one its keystrokes are decoded with",
    "focused-window": "a keyboard-wedge scanner types into whichever window has focus",
    "missing-suffix": "the scanner ends a scan with no terminator (no CR, LF or Tab)",
    "duplicate-reads": "the scanner sent the same code more than once for one scan",
    "not-the-test-code": "what arrived is not the test barcode",
    "nothing": "nothing arrived",
}

_GAP = 0.25  # seconds of silence that separate two transmissions in a byte stream
_SUFFIXES = (("crlf", b"\r\n"), ("cr", b"\r"), ("lf", b"\n"), ("tab", b"\t"), ("eot", b"\x04"))


@attrs.frozen
class Problem:
    """One field failure: its ``name`` (a key of :data:`PROBLEMS`), what was seen, and the fix."""

    name: str
    message: str
    fix: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "message": self.message, "fix": self.fix}


@attrs.frozen
class Diagnosis:
    """What the assistant worked out. ``url`` is None when no URL can be given (nothing usable arrived)."""

    transport: str
    mode: str | None = None
    url: str | None = None
    suffix: str | None = None
    stx: bool = False
    aim: str | None = None
    symbology: str | None = None
    code_id: str | None = None
    prefix: str | None = None
    layout: str | None = None
    reads: int = 0
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the test code was read and no field failure was found."""
        return self.url is not None and not self.problems

    def toml_lines(self) -> list[str]:
        """The ``paycode.toml`` lines to use (empty without a URL)."""
        if self.url is None:
            return []
        lines = [f'scanner = "{self.url}"']
        if any(p.name == "duplicate-reads" for p in self.problems):
            lines.append("repeat_window = 2.0  # seconds: a repeat of the same code within it is dropped")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transport": self.transport,
            "mode": self.mode,
            "url": self.url,
            "toml": self.toml_lines(),
            "framing": {
                "stx": self.stx,
                "suffix": self.suffix,
                "aim": self.aim,
                "symbology": self.symbology,
                "code_id": self.code_id,
                "prefix": self.prefix,
            },
            "layout": self.layout,
            "reads": self.reads,
            "problems": [p.as_json() for p in self.problems],
            "notes": list(self.notes),
            "alternatives": list(self.alternatives),
        }


def layout_tables() -> Mapping[str, Any] | None:
    """paycode-hid's keyboard layouts (name -> Layout), or None when paycode-hid is not installed."""
    try:
        from paycode_hid import LAYOUTS
    except ImportError:
        return None
    return LAYOUTS


def _with_params(base: str, params: Mapping[str, str]) -> str:
    if not params:
        return base
    joiner = "&" if "?" in base else "?"
    return base + joiner + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def _duplicates(count: int, expected: str) -> Problem:
    return Problem(
        "duplicate-reads",
        f"the test code arrived {count} times for one scan",
        "paycode suppresses a repeat of the same code within repeat_window seconds (default 1.5; raise it with "
        "repeat_window= in the URL or paycode.toml); at the source, turn off the scanner's continuous or "
        "presentation mode, or lengthen its same-code delay (its manual's 'reread delay')",
    )


def _nothing(transport: str) -> Diagnosis:
    return Diagnosis(
        transport=transport,
        problems=(
            Problem(
                "nothing",
                "no byte arrived while waiting for the scan",
                "check the cable and the device chosen (paycode setup scanner --list shows the candidates); a USB "
                "scanner in keyboard mode types into the focused window: choose stdin:// or its hid:// device; a "
                "serial scanner may be set to another interface (USB keyboard, HID POS)",
            ),
        ),
    )


# ---------------------------------------------------------------------------- layouts


def _retyped(text: str, typed_for: Any, decoded_with: Any) -> str | None:
    """``text`` as it arrives when a scanner types it for one layout and the host decodes with another."""
    out = []
    for char in text:
        stroke = typed_for.keystroke(char)
        if stroke is None:
            return None
        arrived = decoded_with.char(stroke.usage, stroke.level)
        if not arrived:
            return None
        out.append(arrived)
    return "".join(out)


def _layout_pairs(received: str, expected: str) -> list[tuple[str, str]]:
    """Every (scanner layout, host layout) pair under which ``expected`` arrives as ``received``."""
    tables = layout_tables()
    if tables is None:
        return []
    return [
        (typed, decoded)
        for typed, typed_layout in tables.items()
        for decoded, decoded_layout in tables.items()
        if typed != decoded and _retyped(expected, typed_layout, decoded_layout) == received
    ]


# ---------------------------------------------------------------------------- bytes (serial, terminal)


def _burst_ends(chunks: Sequence[tuple[float, bytes]]) -> list[int]:
    """The stream offsets where transmissions end: chunks closer together than the gap belong to one."""
    ends: list[int] = []
    offset, last = 0, None
    for at, data in chunks:
        if not data:
            continue
        if last is not None and at - last > _GAP:
            ends.append(offset)
        offset += len(data)
        last = at
    ends.append(offset)
    return ends


def _find(stream: bytes, expected: str) -> tuple[str, int, list[int]]:
    """The text the expected code arrived as (itself, or mangled by a layout), its length in bytes, and where it
    starts each time (byte offsets); ``("", 0, [])`` when it is not there."""
    candidates = [expected]
    tables = layout_tables()
    if tables is not None:
        for typed in tables.values():
            for decoded in tables.values():
                if typed is not decoded:
                    mangled = _retyped(expected, typed, decoded)
                    if mangled and mangled not in candidates:
                        candidates.append(mangled)
    for form in candidates:
        for encoding in ("utf-8", "latin-1"):
            try:
                needle = form.encode(encoding)
            except UnicodeEncodeError:
                continue
            starts = [i for i in range(len(stream)) if stream.startswith(needle, i)]
            if starts:
                return form, len(needle), starts
    return "", 0, []


def analyse_bytes(
    chunks: Sequence[tuple[float, bytes]],
    *,
    transport: str,
    base_url: str,
    expected: str = TEST_TEXT,
) -> Diagnosis:
    """What a serial scanner (``transport="serial"``) or a keyboard wedge typing into a terminal (``"stdin"``) sent.

    ``chunks`` are (``time.monotonic()``, bytes) as read; ``base_url`` is the URL of the
    device read (``serial:///dev/ttyACM0?baudrate=9600``, ``stdin://``).
    """
    stream = b"".join(data for _, data in chunks)
    if not stream:
        return _nothing(transport)
    form, length, starts = _find(stream, expected)
    ends = _burst_ends(chunks)
    if not starts:
        return Diagnosis(
            transport=transport,
            reads=len(ends),
            problems=(
                Problem(
                    "not-the-test-code",
                    f"{len(stream)} bytes arrived in {len(ends)} transmission(s), but not the test code",
                    "scan the test barcode shown (or its PNG file); if the scanner's baud rate differs from the "
                    "port's (line noise), set baudrate= in the URL; if it has a keyboard layout setting, try US",
                ),
            ),
        )
    first = starts[0]
    leader = stream[:first]
    end_of_code = first + length
    following = starts[1] if len(starts) > 1 else len(stream)
    burst_end = next((end for end in ends if end > first), len(stream))
    trailer = stream[end_of_code : min(following, burst_end)]
    stx = leader.startswith(b"\x02")
    if stx:
        leader = leader[1:]
    aim = None
    if len(leader) >= 3 and leader[-3:-2] == b"]" and from_aim(leader[-3:].decode("latin-1")) is not None:
        aim = leader[-3:].decode("latin-1")
        leader = leader[:-3]
    code_id = None
    if len(leader) == 1 and from_code_id(leader.decode("latin-1")) is not None and not stx:
        code_id = leader.decode("latin-1")
        leader = b""
    prefix = leader.decode("latin-1") if leader else None
    etx = stx and trailer.startswith(b"\x03")
    if etx:
        trailer = trailer[1:]
    suffix = None
    for name, data in _SUFFIXES:
        if trailer.startswith(data):
            suffix = name
            break
    problems: list[Problem] = []
    notes: list[str] = []
    alternatives: list[str] = []
    params: dict[str, str] = {}
    layout = None
    if form != expected:
        pairs = _layout_pairs(form, expected)
        typed = pairs[0][0] if pairs else "?"
        decoded = " or ".join(d for t, d in pairs if t == typed) or "?"
        layout = typed
        problems.append(
            Problem(
                "wrong-layout",
                f"the test code arrived as {form!r}: the scanner types for a {typed} keyboard and this computer "
                f"decodes the keys as {decoded}",
                f"program the scanner's keyboard country to {decoded} (its manual's country codes), or read the "
                f"scanner's keys yourself with its keyboard layout: evdev://<device>?layout={typed} or "
                f"hid://VID:PID?mode=keyboard&layout={typed} (paycode devices lists them)",
            )
        )
    if transport == "stdin":
        problems.append(
            Problem(
                "focused-window",
                "the scanner is a keyboard wedge: it typed the code into this terminal, and types into whichever "
                "window has focus (a browser, a text field) when paycode is not in front",
                "read it with evdev:// (Linux; paycode grabs the device, so its keys reach no window) or switch the "
                "scanner to HID POS mode (its manual's 'USB HID POS' code) and use hid://VID:PID?mode=pos",
            )
        )
        alternatives += [
            f"evdev:///dev/input/by-id/<the scanner>-event-kbd?layout={layout or 'us'}",
            "hid://VID:PID?mode=pos",
        ]
    if suffix is None and not etx:
        problems.append(
            Problem(
                "missing-suffix",
                "the scan ended with no terminator (no CR, LF or Tab after the code)",
                "program the scanner to send a CR suffix (its manual's 'add CR suffix' code); if it cannot, "
                "a serial scanner can be read with suffix=none&gap=50 (a pause ends a scan: the least robust framing)"
                if transport == "serial"
                else "program the scanner to send a CR suffix (its manual's 'add CR suffix' code)",
            )
        )
        if transport == "serial":
            params["suffix"] = "none"
            params["gap"] = "50"
    elif transport == "serial":
        if stx:
            params["stx"] = "yes"
            if suffix is not None and not etx:
                params["suffix"] = suffix
        elif suffix is not None:
            params["suffix"] = suffix
    if prefix:
        params["prefix"] = prefix
    if code_id:
        params["code_id"] = "1"
        notes.append(f"the scanner sends Honeywell's code id {code_id!r} before the data: code_id=1 strips it")
    if aim:
        notes.append(f"the scanner sends the AIM identifier {aim}: paycode strips it and keeps the symbology")
    if len(starts) > 1:
        problems.append(_duplicates(len(starts), expected))
    if transport == "stdin" and suffix == "tab":
        notes.append("stdin:// reads lines: a Tab suffix does not end one; program a CR suffix")
    url = _with_params(base_url, params) if transport == "serial" else base_url
    symbology = from_aim(aim) or from_code_id(code_id)
    return Diagnosis(
        transport=transport,
        mode="keyboard" if transport == "stdin" else None,
        url=url,
        suffix=suffix if not etx else (suffix or "etx"),
        stx=stx,
        aim=aim,
        symbology=symbology,
        code_id=code_id,
        prefix=prefix,
        layout=layout,
        reads=len(starts),
        problems=tuple(problems),
        notes=tuple(notes),
        alternatives=tuple(alternatives),
    )


# ---------------------------------------------------------------------------- HID reports


def analyse_keyboard_reports(
    reports: Sequence[tuple[float, bytes]],
    *,
    base_url: str,
    layout: str = "us",
    expected: str = TEST_TEXT,
    transport: str = "hid",
) -> Diagnosis:
    """Boot keyboard reports of a keyboard-wedge scanner: read through hidapi (``hid://VID:PID?mode=keyboard``),
    or made from its key events in the Linux input layer (``transport="evdev"``, the device grabbed).

    The reports are decoded under every layout table; the one giving the test code is the
    scanner's layout. ``layout`` is the one the URL gives now (default us).
    """
    if not reports:
        return _nothing(transport)
    tables = layout_tables()
    if tables is None:
        return Diagnosis(
            transport=transport, mode="keyboard", notes=("paycode-hid is not installed: pip install paycode-hid",)
        )
    from paycode_hid import DecodedScan, KeyboardDecoder

    found: dict[str, list[Any]] = {}
    for name in tables:
        decoder = KeyboardDecoder(name, end=("enter", "tab", "gap"))
        scans = [r for _, report in reports for r in decoder.feed(report)]
        tail = decoder.flush()
        if tail is not None:
            scans.append(tail)
        found[name] = [s for s in scans if isinstance(s, DecodedScan)]
    matching = [name for name, scans in found.items() if any(s.text == expected for s in scans)]
    if not matching:
        return Diagnosis(
            transport=transport,
            mode="keyboard",
            reads=len(found.get(layout, [])),
            problems=(
                Problem(
                    "not-the-test-code",
                    f"{len(reports)} keyboard reports arrived; under no layout do they type the test code",
                    "scan the test barcode shown (or its PNG file); set the scanner's keyboard country to one paycode "
                    f"knows ({', '.join(tables)})",
                ),
            ),
        )
    chosen = layout if layout in matching else matching[0]
    read = [s for s in found[chosen] if s.text == expected]
    endings = {s.ending for s in read}
    problems: list[Problem] = []
    params = {"layout": chosen} if transport == "evdev" else {"mode": "keyboard", "layout": chosen}
    if chosen != layout:
        problems.append(
            Problem(
                "wrong-layout",
                f"decoded with layout={layout} the keys do not type the test code; with layout={chosen} they do: the "
                f"scanner is programmed for a {chosen} keyboard",
                f"give layout={chosen} in the URL (paycode decodes the keys itself, whatever this computer's layout)",
            )
        )
    if endings == {"gap"}:
        problems.append(
            Problem(
                "missing-suffix",
                "the keys stopped after the code with no Enter or Tab",
                "program the scanner to send an Enter (CR) suffix; until then end=gap ends a scan after a pause",
            )
        )
        params["end"] = "gap"
    elif endings == {"tab"}:
        params["end"] = "tab"
    if len(read) > 1:
        problems.append(_duplicates(len(read), expected))
    if transport != "evdev":  # evdev grabs the device: its keys reach no window
        problems.append(
            Problem(
                "focused-window",
                "a keyboard-wedge scanner read through hidapi: on Linux the kernel's keyboard driver still types the "
                "same keys into whichever window has focus",
                f"read it with evdev://<its /dev/input/by-id/ device>?layout={chosen} (paycode grabs it: its keys "
                "reach no window) or switch the scanner to HID POS mode (its manual's 'USB HID POS' code) and use "
                f"{base_url}?mode=pos",
            )
        )
    return Diagnosis(
        transport=transport,
        mode="keyboard",
        url=_with_params(base_url, params),
        suffix="tab" if endings == {"tab"} else ("cr" if "enter" in endings else None),
        layout=chosen,
        reads=len(read),
        problems=tuple(problems),
        notes=(f"the keys are decoded with the scanner's own layout ({chosen}), whatever this computer's is",),
        alternatives=()
        if transport == "evdev"
        else (f"evdev:///dev/input/by-id/<the scanner>-event-kbd?layout={chosen}", f"{base_url}?mode=pos"),
    )


def analyse_pos_reports(
    reports: Sequence[tuple[float, bytes]], *, base_url: str, expected: str = TEST_TEXT
) -> Diagnosis:
    """64-byte HID POS reports (``hid://VID:PID?mode=pos``): no layout, no suffix; AIM identifier from the report."""
    if not reports:
        return _nothing("hid")
    try:
        from paycode_hid import DecodedScan, PosDecoder
    except ImportError:
        return Diagnosis(transport="hid", mode="pos", notes=("paycode-hid is not installed: pip install paycode-hid",))
    decoder = PosDecoder()
    scans = [r for _, report in reports for r in decoder.feed(report)]
    decoded = [s for s in scans if isinstance(s, DecodedScan)]
    matching = [s for s in decoded if s.text == expected]
    if not matching:
        return Diagnosis(
            transport="hid",
            mode="pos",
            reads=len(decoded),
            problems=(
                Problem(
                    "not-the-test-code",
                    f"{len(decoded)} HID POS scan(s) arrived, none of them the test code",
                    "scan the test barcode shown (or its PNG file)",
                ),
            ),
        )
    first = matching[0]
    problems = [_duplicates(len(matching), expected)] if len(matching) > 1 else []
    return Diagnosis(
        transport="hid",
        mode="pos",
        url=_with_params(base_url, {"mode": "pos"}),
        aim=first.aim,
        symbology=from_aim(first.aim) or from_code_id(first.code_id),
        code_id=first.code_id,
        reads=len(matching),
        problems=tuple(problems),
        notes=("HID POS: the data arrives as data, with its AIM identifier; no layout or suffix to configure",),
    )
