"""What a scanner sends for a label: report and key-event sequences, for tests, demos and benchmarks.

The inverse of the decoders: :func:`keyboard_reports` types a text the way a scanner
programmed for a layout does (Shift/AltGr levels, dead key + space for a bare accent,
dead key + letter for an accented letter, Ctrl for control characters, and a Windows
Alt code for anything else in code page 1252); :func:`pos_reports` splits data into
64-byte HID POS reports with the continuation bit; :func:`key_events` turns keyboard
reports into the Linux ``EV_KEY`` events the kernel makes of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from paycode.errors import UsageError

from .layouts import DEAD_ACCENTS, Layout, get_layout
from .pos import CODE_ID_OFFSET, CONTINUED, DATA_CAPACITY, DATA_OFFSET, REPORT_ID, REPORT_SIZE
from .usages import ENTER, LEFT_ALT, LEFT_CTRL, LINUX_KEY_TO_USAGE, LINUX_MODIFIER_BITS, SPACE, TAB

__all__ = ["EV_KEY", "EV_SYN", "key_events", "keyboard_reports", "pos_reports"]

RELEASE = bytes(8)
_END_USAGES = {"enter": ENTER, "tab": TAB}
_COMBINING_TO_ACCENT = {mark: accent for accent, mark in DEAD_ACCENTS.items()}
_KEYPAD_USAGE = {str(i + 1): 0x59 + i for i in range(9)} | {"0": 0x62}

EV_SYN, EV_KEY = 0x00, 0x01
# the kernel reports ISO hash (0x32) as KEY_BACKSLASH, like ANSI backslash (0x31)
_USAGE_TO_LINUX_KEY = {usage: code for code, usage in LINUX_KEY_TO_USAGE.items()} | {0x32: 43}
_BIT_TO_LINUX_KEY = {bit: code for code, bit in LINUX_MODIFIER_BITS.items()}


def _report(modifier: int, usage: int = 0) -> bytes:
    return bytes((modifier, 0, usage, 0, 0, 0, 0, 0))


def _strokes(char: str, layout: Layout) -> list[tuple[int, int]] | None:
    """(modifier, usage) presses that type ``char``; None when only an Alt code can."""
    direct = layout.keystroke(char)
    if direct is not None:
        return [(direct.modifier, direct.usage)]
    dead = layout.dead_keystroke(char)
    if dead is not None:  # a bare accent: dead key, then space
        return [(dead.modifier, dead.usage), (0, SPACE)]
    decomposed = unicodedata.normalize("NFD", char)
    if len(decomposed) == 2 and decomposed[1] in _COMBINING_TO_ACCENT:
        dead = layout.dead_keystroke(_COMBINING_TO_ACCENT[decomposed[1]])
        base = layout.keystroke(decomposed[0])
        if dead is not None and base is not None:
            return [(dead.modifier, dead.usage), (base.modifier, base.usage)]
    if ord(char) < 0x20:  # control character: Ctrl + the key of @ A-Z [ \\ ] ^ _
        base_char = chr(ord(char) + 0x40)
        base = layout.keystroke(base_char.lower()) or layout.keystroke(base_char)
        if base is not None and base.level < 2:
            return [(LEFT_CTRL | base.modifier, base.usage)]
    return None


def _alt_code(char: str, layout: Layout) -> list[bytes]:
    try:
        code = char.encode("cp1252")
    except UnicodeEncodeError:
        raise UsageError(
            f"character {char!r} cannot be typed on layout {layout.name}, not even as an Alt code"
        ) from None
    reports = [_report(LEFT_ALT)]
    for digit in f"0{code[0]}":
        reports += [_report(LEFT_ALT, _KEYPAD_USAGE[digit]), _report(LEFT_ALT)]
    reports.append(RELEASE)
    return reports


def keyboard_reports(
    text: str, layout: Layout | str = "us", *, release: bool = True, end: str | None = "enter"
) -> list[bytes]:
    """The boot keyboard reports a scanner programmed for ``layout`` sends for ``text``, then ``end``.

    ``release=False`` leaves out the all-zero report after each key, as some scanners
    do: a repeated character then arrives as one (the key never went up). Alt codes
    and dead-key pairs always release between keys.
    """
    chosen = get_layout(layout) if isinstance(layout, str) else layout
    reports: list[bytes] = []
    for char in text:
        strokes = _strokes(char, chosen)
        if strokes is None:
            reports += _alt_code(char, chosen)
            continue
        for index, (modifier, usage) in enumerate(strokes):
            reports.append(_report(modifier, usage))
            if release or index < len(strokes) - 1:
                reports.append(RELEASE)
    if end is not None:
        reports += [_report(0, _END_USAGES[end]), RELEASE]
    return reports


def pos_reports(data: bytes | str, aim: str | None = "]C0", *, code_id: int = 0) -> list[bytes]:
    """The 64-byte HID POS reports that carry ``data`` (split into 56-byte parts with the continuation bit)."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    aim_bytes = aim.encode("ascii") if aim else bytes(3)
    parts = [body[i : i + DATA_CAPACITY] for i in range(0, len(body), DATA_CAPACITY)] or [b""]
    reports = []
    for index, part in enumerate(parts):
        report = bytearray(REPORT_SIZE)
        report[0] = REPORT_ID
        report[1] = len(part)
        report[2:DATA_OFFSET] = aim_bytes
        report[DATA_OFFSET : DATA_OFFSET + len(part)] = part
        report[CODE_ID_OFFSET] = code_id
        report[REPORT_SIZE - 1] = CONTINUED if index < len(parts) - 1 else 0
        reports.append(bytes(report))
    return reports


def key_events(reports: Iterable[bytes | Sequence[int]]) -> list[tuple[int, int, int]]:
    """The Linux input events (type, code, value) the kernel makes of boot keyboard reports.

    Modifier changes come first, then releases, then presses, each report closed by
    ``SYN_REPORT``; reports with rollover errors are skipped, as the kernel does.
    """
    events: list[tuple[int, int, int]] = []
    modifier, keys = 0, set[int]()
    for report in reports:
        data = bytes(report)
        new_keys = {k for k in data[2:8] if k}
        if new_keys & {0x01, 0x02, 0x03}:
            continue
        for bit in (1 << i for i in range(8)):
            if (data[0] ^ modifier) & bit:
                events.append((EV_KEY, _BIT_TO_LINUX_KEY[bit], 1 if data[0] & bit else 0))
        for usage in sorted(keys - new_keys):
            events.append((EV_KEY, _USAGE_TO_LINUX_KEY[usage], 0))
        for usage in data[2:8]:
            if usage and usage not in keys:
                events.append((EV_KEY, _USAGE_TO_LINUX_KEY[usage], 1))
        events.append((EV_SYN, 0, 0))
        modifier, keys = data[0], new_keys
    return events
