"""Keyboard layouts as data: which character each key usage types at each shift level.

A keyboard-wedge scanner is programmed for a keyboard country and sends the key
positions that type the label on a host of that layout. The decoder maps usage codes
through the table of the layout the *scanner* is programmed for, whatever layout the
host uses, so a Belgian host no longer turns ``0013748911`` into ``àà&"è'!ç&&``
(odoo/odoo#214407).

Adding a layout is adding a table: call :func:`build_layout` with four rows of the
main keyboard block and register the result in :data:`LAYOUTS`. Rows list the
characters of each physical key from left to right at each level (plain, Shift, AltGr,
Shift+AltGr); a space means "this key types nothing at this level". The tables follow
the Windows layouts of the same name, the host scanners are programmed against.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import attrs
from paycode.errors import ConfigError, ScannerConfigError

from .usages import LEFT_SHIFT, RIGHT_ALT, SPACE

__all__ = [
    "DEAD_ACCENTS",
    "LAYOUTS",
    "Keystroke",
    "Layout",
    "build_layout",
    "compose",
    "get_layout",
]

# ---------------------------------------------------------------------------- physical rows

#: usages of the main block, row by row, left to right (ISO key positions)
ROW_E = (0x35, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2D, 0x2E)  # `1234567890-=
ROW_D = (0x14, 0x1A, 0x08, 0x15, 0x17, 0x1C, 0x18, 0x0C, 0x12, 0x13, 0x2F, 0x30, 0x31)  # qwertyuiop[]\
ROW_C = (0x04, 0x16, 0x07, 0x09, 0x0A, 0x0B, 0x0D, 0x0E, 0x0F, 0x33, 0x34, 0x32)  # asdfghjkl;' and ISO #
ROW_B = (0x64, 0x1D, 0x1B, 0x06, 0x19, 0x05, 0x11, 0x10, 0x36, 0x37, 0x38)  # ISO \ and zxcvbnm,./

#: the keypad with NumLock on; the same on every layout but for the decimal key (0x63)
KEYPAD: Mapping[int, str] = {
    0x54: "/",
    0x55: "*",
    0x56: "-",
    0x57: "+",
    **{0x59 + i: str(i + 1) for i in range(9)},
    0x62: "0",
    0x63: ".",
    0x67: "=",
}

#: spacing accent -> combining mark, for dead keys
DEAD_ACCENTS: Mapping[str, str] = {
    "^": "\u0302",
    "´": "\u0301",  # noqa: RUF001 - the acute accent is meant
    "`": "\u0300",
    "~": "\u0303",
    "¨": "\u0308",
}

#: modifier byte that selects each level
LEVEL_MODIFIERS = (0, LEFT_SHIFT, RIGHT_ALT, RIGHT_ALT | LEFT_SHIFT)
LEVEL_NAMES = ("", "Shift+", "AltGr+", "Shift+AltGr+")


@attrs.frozen
class Keystroke:
    """One key at one level: what to press to type a character."""

    usage: int
    level: int

    @property
    def modifier(self) -> int:
        """The modifier byte of a boot report for this level."""
        return LEVEL_MODIFIERS[self.level]


def compose(accent: str, char: str) -> str:
    """What a dead key ``accent`` followed by ``char`` types.

    Space gives the accent itself; a letter that takes the accent gives the composed
    letter (``^`` + ``e`` = ``ê``); anything else gives both, as Windows does.
    """
    if char == " ":
        return accent
    composed = unicodedata.normalize("NFC", char + DEAD_ACCENTS[accent])
    return composed if len(composed) == 1 else accent + char


@attrs.frozen
class Layout:
    """One keyboard country: usage -> characters at the four levels, and which of them are dead keys."""

    name: str
    description: str
    keys: Mapping[int, tuple[str, str, str, str]] = attrs.field(repr=False)
    dead: frozenset[tuple[int, int]] = attrs.field(default=frozenset(), repr=False)
    _typing: dict[str, Keystroke] = attrs.field(init=False, repr=False, eq=False)
    _dead_typing: dict[str, Keystroke] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        typing: dict[str, Keystroke] = {}
        dead_typing: dict[str, Keystroke] = {}
        for usage, chars in self.keys.items():
            for level, char in enumerate(chars):
                if not char:
                    continue
                target = dead_typing if (usage, level) in self.dead else typing
                target.setdefault(char, Keystroke(usage, level))
        object.__setattr__(self, "_typing", typing)
        object.__setattr__(self, "_dead_typing", dead_typing)

    @property
    def has_altgr(self) -> bool:
        """True when some key types a character with AltGr (right Alt is then AltGr, not Alt)."""
        return any(chars[2] or chars[3] for chars in self.keys.values())

    def char(self, usage: int, level: int) -> str:
        """The character ``usage`` types at ``level`` (0 plain, 1 Shift, 2 AltGr, 3 Shift+AltGr); "" for none."""
        chars = self.keys.get(usage)
        return chars[level] if chars else ""

    def is_dead(self, usage: int, level: int) -> bool:
        return (usage, level) in self.dead

    def keystroke(self, char: str) -> Keystroke | None:
        """The first key (main block before keypad, lowest level first) that types ``char`` directly."""
        return self._typing.get(char)

    def dead_keystroke(self, accent: str) -> Keystroke | None:
        """The dead key that puts ``accent`` on the next character, if the layout has one."""
        return self._dead_typing.get(accent)

    def characters(self) -> frozenset[str]:
        """Every character one keystroke types (dead keys excluded)."""
        return frozenset(self._typing)

    def accents(self) -> frozenset[str]:
        """Every accent a dead key of this layout puts on the next character."""
        return frozenset(self._dead_typing)


def build_layout(
    name: str,
    description: str,
    *,
    e: Sequence[str],
    d: Sequence[str],
    c: Sequence[str],
    b: Sequence[str],
    dead: Mapping[int, str] | None = None,
    keypad_decimal: str = ".",
) -> Layout:
    """Build a layout from the four rows of the main block.

    Each row is a sequence of up to four strings (plain, Shift, AltGr, Shift+AltGr),
    one character per key of :data:`ROW_E` / :data:`ROW_D` / :data:`ROW_C` /
    :data:`ROW_B`, a space for none. ``dead`` names, per usage, the characters of that
    key that are dead keys. Space and the keypad are added.
    """
    keys: dict[int, list[str]] = {}
    for row_name, usages, levels in (("e", ROW_E, e), ("d", ROW_D, d), ("c", ROW_C, c), ("b", ROW_B, b)):
        if not 1 <= len(levels) <= 4:
            raise ConfigError(f"layout {name!r}: row {row_name} has {len(levels)} levels; give 1 to 4 strings")
        for level, text in enumerate(levels):
            if len(text) != len(usages):
                raise ConfigError(
                    f"layout {name!r}: row {row_name} level {level} has {len(text)} characters, "
                    f"expected {len(usages)} (a space for a key that types nothing)"
                )
            for usage, char in zip(usages, text, strict=True):
                keys.setdefault(usage, ["", "", "", ""])[level] = "" if char == " " else char
    keys[SPACE] = [" ", " ", "", ""]
    for usage, char in KEYPAD.items():
        keys[usage] = [keypad_decimal if usage == 0x63 else char, "", "", ""]
    dead_keys: set[tuple[int, int]] = set()
    for usage, accents in (dead or {}).items():
        for accent in accents:
            if accent not in DEAD_ACCENTS:
                raise ConfigError(f"layout {name!r}: dead key {accent!r} is not one of {''.join(DEAD_ACCENTS)}")
            levels_of_key = keys.get(usage, [])
            if accent not in levels_of_key:
                raise ConfigError(f"layout {name!r}: dead key {accent!r} is not on key 0x{usage:02X}")
            dead_keys.add((usage, levels_of_key.index(accent)))
    return Layout(
        name=name,
        description=description,
        keys={usage: (v[0], v[1], v[2], v[3]) for usage, v in keys.items()},
        dead=frozenset(dead_keys),
    )


# ---------------------------------------------------------------------------- the tables

US = build_layout(
    "us",
    "United States, QWERTY (most scanners leave the factory set to it)",
    e=("`1234567890-=", "~!@#$%^&*()_+"),
    d=("qwertyuiop[]\\", "QWERTYUIOP{}|"),
    c=("asdfghjkl;'\\", 'ASDFGHJKL:"|'),
    b=("\\zxcvbnm,./", "|ZXCVBNM<>?"),
)

DE = build_layout(
    "de",
    "German, QWERTZ",
    e=("^1234567890ß´", '°!"§$%&/()=?`', "  ²³   {[]}\\ "),  # noqa: RUF001
    d=("qwertzuiopü+#", "QWERTZUIOPÜ*'", "@ €        ~ "),
    c=("asdfghjklöä#", "ASDFGHJKLÖÄ'"),
    b=("<yxcvbnm,.-", ">YXCVBNM;:_", "|      µ   "),
    dead={0x35: "^", 0x2E: "´`"},  # noqa: RUF001
    keypad_decimal=",",
)

FR = build_layout(
    "fr",
    "French, AZERTY (digits need Shift)",
    e=("²&é\"'(-è_çà)=", " 1234567890°+", "  ~#{[|`\\^@]}"),
    d=("azertyuiop^$*", "AZERTYUIOP¨£µ", "  €        ¤ "),
    c=("qsdfghjklmù*", "QSDFGHJKLM%µ"),
    b=("<wxcvbn,;:!", ">WXCVBN?./§"),
    dead={0x2F: "^¨", 0x1F: "~", 0x24: "`"},
)

BE = build_layout(
    "be",
    "Belgian, AZERTY (digits need Shift)",
    e=("²&é\"'(§è!çà)-", "³1234567890°_", " |@#  ^  {}  "),
    d=("azertyuiop^$µ", "AZERTYUIOP¨*£", "  €       []`"),
    c=("qsdfghjklmùµ", "QSDFGHJKLM%£", "          ´`"),  # noqa: RUF001
    b=("<wxcvbn,;:=", ">WXCVBN?./+", "\\         ~"),
    dead={0x2F: "^¨", 0x31: "`", 0x32: "`", 0x34: "´", 0x38: "~"},  # noqa: RUF001
)

#: every layout by name; the ``layout=`` URL parameter picks one
LAYOUTS: Mapping[str, Layout] = {layout.name: layout for layout in (US, DE, FR, BE)}


def get_layout(name: str) -> Layout:
    """The layout called ``name`` (case-insensitive); ScannerConfigError lists the others."""
    layout = LAYOUTS.get(name.lower())
    if layout is None:
        raise ScannerConfigError(f"keyboard layout {name!r} is not known; accepted: {', '.join(LAYOUTS)}")
    return layout
