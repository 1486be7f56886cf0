"""Sans-IO decoder of boot keyboard reports (keyboard-wedge scanners) into scans.

Rules, in the order they apply to each 8-byte report:

- A report whose key slots hold 0x01-0x03 (ErrorRollOver, POSTFail, ErrorUndefined)
  says nothing about the keys: it is ignored and the previous report stays the
  reference.
- A key is *pressed* when its usage appears and was absent from the previous report.
  A repeated character therefore needs a release report in between; a scanner that
  sends ``1 1`` without one delivers a single ``1``, as any USB host would see it.
- Shift is tested as a bitmask (``modifier & 0x22``). Right Alt is AltGr on layouts
  that have AltGr characters; Ctrl + left Alt is AltGr too, as on Windows.
- Ctrl + a key that types ``@ A-Z [ \\ ] ^ _`` gives the control character
  (Ctrl+] is GS, 0x1D, the GS1 separator). Ctrl with any other key discards the scan.
- Alt (left Alt, or right Alt on layouts without AltGr) held over keypad digits is a
  Windows Alt code, typed when Alt is released: ``Alt+0029`` (leading zero: code page
  1252) or ``Alt+29`` (no leading zero: code page 437).
- A dead key puts its accent on the next character (``^`` then ``e`` = ``ê``; then
  space = ``^``).
- Enter (0x28), keypad Enter (0x58) or Tab (0x2B) ends the scan, as chosen by ``end``.
- Anything that types no character (F-keys, arrows, Backspace, the GUI key, a level
  the layout leaves empty) discards the whole scan, reported when the scan ends: a code
  with a character missing is never delivered.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from paycode.errors import ScannerConfigError

from .layouts import LEVEL_NAMES, Layout, compose, get_layout
from .results import DecodedScan, DiscardedScan
from .usages import (
    CTRL,
    ENTER,
    ERROR_USAGES,
    GUI,
    KEYPAD_DIGITS,
    KEYPAD_ENTER,
    LEFT_ALT,
    RIGHT_ALT,
    SHIFT,
    TAB,
    usage_name,
)

__all__ = ["END_KEYS", "KeyboardDecoder"]

Result = DecodedScan | DiscardedScan

#: what may end a scan: name -> usages (``gap`` has none: the scanner backends end it on silence)
END_KEYS: dict[str, frozenset[int]] = {
    "enter": frozenset({ENTER, KEYPAD_ENTER}),
    "tab": frozenset({TAB}),
    "gap": frozenset(),
}
_ENDING_CHARS = {"enter": "\r", "tab": "\t", "gap": ""}
_CONTROL_BASES = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"
_NOTHING: tuple[Result, ...] = ()


class KeyboardDecoder:
    """Feed boot keyboard reports, get finished scans.

    ``layout`` is the keyboard country the scanner is programmed for. ``end`` names the
    keys that end a scan (``enter``, ``tab``; ``gap`` leaves it to the caller's
    :meth:`flush`). ``report_id``, when the device numbers its reports, is checked and
    stripped from each report first. Scans longer than ``max_length`` are discarded.
    """

    def __init__(
        self,
        layout: Layout | str = "us",
        *,
        end: Collection[str] = ("enter", "tab"),
        max_length: int = 1024,
        report_id: int | None = None,
    ) -> None:
        self.layout = get_layout(layout) if isinstance(layout, str) else layout
        unknown = set(end) - set(END_KEYS)
        if unknown or not end:
            raise ScannerConfigError(
                f"end={','.join(sorted(end))!r} is not valid; accepted: a comma-separated choice of "
                f"{', '.join(END_KEYS)}"
            )
        self.end = frozenset(end)
        self._end_usages: dict[int, str] = {u: name for name in end for u in END_KEYS[name]}
        self.max_length = max_length
        self.report_id = report_id
        has_altgr = self.layout.has_altgr
        self._altgr_bits = RIGHT_ALT if has_altgr else 0
        self._alt_bits = LEFT_ALT if has_altgr else LEFT_ALT | RIGHT_ALT
        self._previous = b""
        self._chars: list[str] = []
        self._length = 0
        self._dead: str | None = None
        self._alt_digits: str | None = None
        self._error: str | None = None
        self._error_kind = "garbage"

    # ---------------------------------------------------------------- public

    @property
    def pending(self) -> bool:
        """True while a scan is under way: characters, a dead key or an Alt code are waiting for the end key."""
        return bool(self._chars) or self._dead is not None or self._alt_digits is not None or self._error is not None

    def reset(self) -> None:
        """Forget the scan under way and the key state (after reopening the device)."""
        self._previous = b""
        self._clear_scan()

    def feed(self, report: bytes | Sequence[int]) -> Sequence[Result]:
        """Decode one report; return the scans it finished (usually none, at most a few)."""
        data = report if isinstance(report, bytes) else bytes(report)
        if self.report_id is not None:
            if not data or data[0] != self.report_id:
                return _NOTHING
            data = data[1:]
        if len(data) < 8:
            self._poison(f"keyboard report of {len(data)} bytes; expected 8", "malformed")
            return _NOTHING
        keys = data[2:8]
        if any(k in ERROR_USAGES for k in keys):
            return _NOTHING
        modifier = data[0]
        if self._alt_digits is not None and not modifier & self._alt_bits:
            self._type_alt_code()
        previous, self._previous = self._previous, keys
        results: list[Result] | None = None
        for usage in keys:
            if usage and usage not in previous:
                result = self._press(usage, modifier)
                if result is not None:
                    results = results or []
                    results.append(result)
        return results or _NOTHING

    def flush(self) -> Result | None:
        """End the scan under way now, the keys having stopped: None when nothing is waiting.

        With ``gap`` among the end keys this is the scan; otherwise the scan is
        incomplete (its end key never came) and is discarded.
        """
        if not self.pending:
            return None
        result = self._finish("gap")
        if isinstance(result, DecodedScan) and "gap" not in self.end:
            ends = "/".join(sorted(self.end))
            return DiscardedScan(f"the keys stopped before the end key ({ends}) of the scan", "incomplete")
        return result

    def reject(self, reason: str) -> None:
        """Discard the scan under way for ``reason`` (reported when it ends)."""
        self._poison(reason)

    # ---------------------------------------------------------------- keys

    def _press(self, usage: int, modifier: int) -> Result | None:
        ending = self._end_usages.get(usage)
        if ending is not None:
            return self._finish(ending)
        if modifier & GUI:
            self._poison(f"key {usage_name(usage)} was pressed with the GUI (Windows) key")
            return None
        ctrl = bool(modifier & CTRL)
        alt = bool(modifier & self._alt_bits)
        altgr = bool(modifier & self._altgr_bits)
        if ctrl and alt and self._altgr_bits:
            ctrl, alt, altgr = False, False, True  # Ctrl+Alt is AltGr, as on Windows
        if alt:
            digit = KEYPAD_DIGITS.get(usage)
            if digit is None or ctrl:
                self._poison(f"Alt with key {usage_name(usage)} is not an Alt code (only keypad digits are)")
            else:
                self._alt_digits = (self._alt_digits or "") + digit
            return None
        level = (1 if modifier & SHIFT else 0) + (2 if altgr else 0)
        char = self.layout.char(usage, level)
        if ctrl:
            control = _control_char(char) if not altgr else None
            if control is None:
                self._poison(f"Ctrl with key {usage_name(usage)} is not a control character")
            else:
                self._type(control)
            return None
        if not char:
            self._poison(f"key {LEVEL_NAMES[level]}{usage_name(usage)} types nothing on layout {self.layout.name}")
            return None
        if self.layout.is_dead(usage, level):
            if self._dead is not None:
                self._append(self._dead)
            self._dead = char
            return None
        self._type(char)
        return None

    def _type(self, char: str) -> None:
        if self._dead is not None:
            char = compose(self._dead, char)
            self._dead = None
        self._append(char)

    def _type_alt_code(self) -> None:
        digits, self._alt_digits = self._alt_digits or "", None
        if not digits:
            return
        value = int(digits)
        codec = "cp1252" if digits.startswith("0") else "cp437"
        try:
            char = bytes([value]).decode(codec) if value < 256 else ""
        except UnicodeDecodeError:
            char = ""
        if not char:
            self._poison(f"Alt code {digits} is not a character of code page {codec[2:]}")
        else:
            self._type(char)

    # ---------------------------------------------------------------- scan state

    def _append(self, text: str) -> None:
        if self._error is not None:
            return
        self._chars.append(text)
        self._length += len(text)
        if self._length > self.max_length:
            self._poison(f"scan longer than {self.max_length} characters", "overlong")

    def _poison(self, reason: str, kind: str = "garbage") -> None:
        if self._error is None:
            self._error = reason
            self._error_kind = kind
        self._chars.clear()
        self._length = 0

    def _finish(self, ending: str) -> Result | None:
        if self._alt_digits is not None:
            self._poison("the scan ended inside an Alt code", "incomplete")
        if self._dead is not None:
            self._append(self._dead)
        error, kind, text = self._error, self._error_kind, "".join(self._chars)
        self._clear_scan()
        if error is not None:
            return DiscardedScan(error, kind)
        if not text:
            return None
        return DecodedScan(text=text, raw=(text + _ENDING_CHARS[ending]).encode("utf-8"), ending=ending)

    def _clear_scan(self) -> None:
        self._chars = []
        self._length = 0
        self._dead = None
        self._alt_digits = None
        self._error = None
        self._error_kind = "garbage"


def _control_char(char: str) -> str | None:
    base = char.upper() if len(char) == 1 else ""
    if base and base in _CONTROL_BASES:
        return chr(ord(base) - 0x40)
    return None
