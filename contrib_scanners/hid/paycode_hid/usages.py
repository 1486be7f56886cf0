"""HID keyboard usage codes (usage page 0x07) and the Linux key codes that carry them.

A boot keyboard report is 8 bytes: byte 0 the modifier bitmap, byte 1 reserved,
bytes 2-7 up to six usage codes of the keys held down. The Linux input layer turns
the same reports into ``EV_KEY`` events with its own ``KEY_*`` numbers;
:data:`LINUX_KEY_TO_USAGE` maps them back (the numbers are the kernel's stable ABI,
``linux/input-event-codes.h``) so both backends decode with the same layout tables.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ALT_MODIFIERS",
    "CTRL",
    "ENTER",
    "ERROR_USAGES",
    "GUI",
    "KEYPAD_DIGITS",
    "KEYPAD_ENTER",
    "LEFT_ALT",
    "LINUX_KEY_TO_USAGE",
    "LINUX_MODIFIER_BITS",
    "RIGHT_ALT",
    "SHIFT",
    "SPACE",
    "TAB",
    "USAGE_NAMES",
    "usage_name",
]

# ---------------------------------------------------------------------------- modifier bits (byte 0)

LEFT_CTRL, LEFT_SHIFT, LEFT_ALT, LEFT_GUI = 0x01, 0x02, 0x04, 0x08
RIGHT_CTRL, RIGHT_SHIFT, RIGHT_ALT, RIGHT_GUI = 0x10, 0x20, 0x40, 0x80
#: either shift key: always test as a bitmask, never ``modifier == 2``
SHIFT = LEFT_SHIFT | RIGHT_SHIFT
CTRL = LEFT_CTRL | RIGHT_CTRL
GUI = LEFT_GUI | RIGHT_GUI
ALT_MODIFIERS = LEFT_ALT | RIGHT_ALT

# ---------------------------------------------------------------------------- usages that are not characters

ENTER = 0x28
TAB = 0x2B
SPACE = 0x2C
KEYPAD_ENTER = 0x58
#: keypad 0-9 (0x62 is keypad 0), the digits of Windows Alt codes
KEYPAD_DIGITS: Mapping[int, str] = {**{0x59 + i: str(i + 1) for i in range(9)}, 0x62: "0"}
#: ErrorRollOver, POSTFail, ErrorUndefined: the keyboard reports a state it cannot describe
ERROR_USAGES = frozenset({0x01, 0x02, 0x03})

USAGE_NAMES: Mapping[int, str] = {
    0x28: "Enter",
    0x29: "Escape",
    0x2A: "Backspace",
    0x2B: "Tab",
    0x2C: "Space",
    0x39: "CapsLock",
    **{0x3A + i: f"F{i + 1}" for i in range(12)},
    0x46: "PrintScreen",
    0x47: "ScrollLock",
    0x48: "Pause",
    0x49: "Insert",
    0x4A: "Home",
    0x4B: "PageUp",
    0x4C: "Delete",
    0x4D: "End",
    0x4E: "PageDown",
    0x4F: "Right",
    0x50: "Left",
    0x51: "Down",
    0x52: "Up",
    0x53: "NumLock",
    0x58: "Keypad Enter",
}


def usage_name(usage: int) -> str:
    """``0x2A (Backspace)`` for messages; unnamed usages show as hex only."""
    name = USAGE_NAMES.get(usage)
    return f"0x{usage:02X} ({name})" if name else f"0x{usage:02X}"


# ---------------------------------------------------------------------------- Linux KEY_* -> usage

#: modifier keys: Linux key code -> bit of the boot report's modifier byte
LINUX_MODIFIER_BITS: Mapping[int, int] = {
    29: LEFT_CTRL,  # KEY_LEFTCTRL
    42: LEFT_SHIFT,  # KEY_LEFTSHIFT
    56: LEFT_ALT,  # KEY_LEFTALT
    125: LEFT_GUI,  # KEY_LEFTMETA
    97: RIGHT_CTRL,  # KEY_RIGHTCTRL
    54: RIGHT_SHIFT,  # KEY_RIGHTSHIFT
    100: RIGHT_ALT,  # KEY_RIGHTALT
    126: RIGHT_GUI,  # KEY_RIGHTMETA
}

_LETTER_KEYS = (30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44)
_KEYPAD_KEYS = (79, 80, 81, 75, 76, 77, 71, 72, 73, 82)  # KEY_KP1 .. KEY_KP9, KEY_KP0

#: non-modifier keys: Linux key code -> HID usage. The kernel gives HID 0x31 and 0x32
#: (ANSI backslash, ISO hash) the same KEY_BACKSLASH; every layout table here gives
#: them the same characters, so mapping it to 0x31 loses nothing.
LINUX_KEY_TO_USAGE: Mapping[int, int] = {
    **{code: 0x04 + i for i, code in enumerate(_LETTER_KEYS)},  # KEY_A .. KEY_Z
    **{2 + i: 0x1E + i for i in range(10)},  # KEY_1 .. KEY_9, KEY_0
    28: 0x28,  # KEY_ENTER
    1: 0x29,  # KEY_ESC
    14: 0x2A,  # KEY_BACKSPACE
    15: 0x2B,  # KEY_TAB
    57: 0x2C,  # KEY_SPACE
    12: 0x2D,  # KEY_MINUS
    13: 0x2E,  # KEY_EQUAL
    26: 0x2F,  # KEY_LEFTBRACE
    27: 0x30,  # KEY_RIGHTBRACE
    43: 0x31,  # KEY_BACKSLASH
    39: 0x33,  # KEY_SEMICOLON
    40: 0x34,  # KEY_APOSTROPHE
    41: 0x35,  # KEY_GRAVE
    51: 0x36,  # KEY_COMMA
    52: 0x37,  # KEY_DOT
    53: 0x38,  # KEY_SLASH
    58: 0x39,  # KEY_CAPSLOCK
    **{59 + i: 0x3A + i for i in range(10)},  # KEY_F1 .. KEY_F10
    87: 0x44,  # KEY_F11
    88: 0x45,  # KEY_F12
    110: 0x49,  # KEY_INSERT
    102: 0x4A,  # KEY_HOME
    104: 0x4B,  # KEY_PAGEUP
    111: 0x4C,  # KEY_DELETE
    107: 0x4D,  # KEY_END
    109: 0x4E,  # KEY_PAGEDOWN
    106: 0x4F,  # KEY_RIGHT
    105: 0x50,  # KEY_LEFT
    108: 0x51,  # KEY_DOWN
    103: 0x52,  # KEY_UP
    69: 0x53,  # KEY_NUMLOCK
    98: 0x54,  # KEY_KPSLASH
    55: 0x55,  # KEY_KPASTERISK
    74: 0x56,  # KEY_KPMINUS
    78: 0x57,  # KEY_KPPLUS
    96: 0x58,  # KEY_KPENTER
    **{code: 0x59 + i for i, code in enumerate(_KEYPAD_KEYS)},  # KEY_KP1 .. KEY_KP0
    83: 0x63,  # KEY_KPDOT
    86: 0x64,  # KEY_102ND
    117: 0x67,  # KEY_KPEQUAL
}
