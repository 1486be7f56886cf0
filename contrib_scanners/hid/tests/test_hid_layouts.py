"""Layout tables: every key of every layout, shifted characters, dead keys, and building a new layout."""

from __future__ import annotations

import pytest
from paycode.errors import ConfigError, ScannerConfigError
from paycode_hid import LAYOUTS, DecodedScan, KeyboardDecoder, build_layout, get_layout, keyboard_reports
from paycode_hid.layouts import LEVEL_MODIFIERS, ROW_B, ROW_C, ROW_D, ROW_E

RELEASE = bytes(8)
ENTER = bytes([0, 0, 0x28, 0, 0, 0, 0, 0])


def report(modifier: int, *usages: int) -> bytes:
    return bytes([modifier, 0, *usages]).ljust(8, b"\0")


def decode(layout: str, reports: list[bytes]) -> list[object]:
    decoder = KeyboardDecoder(layout)
    results: list[object] = []
    for r in reports:
        results += decoder.feed(r)
    return results


def texts(layout: str, reports: list[bytes]) -> list[str]:
    results = decode(layout, reports)
    assert all(isinstance(r, DecodedScan) for r in results), results
    return [r.text for r in results]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_key_of_every_layout_types_its_character(name: str) -> None:
    layout = LAYOUTS[name]
    checked = 0
    for usage, chars in layout.keys.items():
        for level, char in enumerate(chars):
            if not char:
                continue
            press = report(LEVEL_MODIFIERS[level], usage)
            if layout.is_dead(usage, level):  # a dead key followed by space types the accent itself
                sequence = [press, RELEASE, report(0, 0x2C), RELEASE, ENTER, RELEASE]
            else:
                sequence = [press, RELEASE, ENTER, RELEASE]
            assert texts(name, sequence) == [char], (name, hex(usage), level)
            checked += 1
    assert checked >= 95  # letters twice, digits, punctuation, space, keypad


def test_us_letters_digits_and_shift_by_hand() -> None:
    reports = [
        report(0, 0x04),  # a
        report(0x02, 0x05),  # left shift: B
        report(0x20, 0x06),  # right shift: C
        report(0x22, 0x1F),  # both shifts: @
        report(0, 0x27),  # 0
        report(0x20, 0x2D),  # _
        ENTER,
    ]
    with_releases = [r for pair in zip(reports, [RELEASE] * len(reports), strict=True) for r in pair]
    assert texts("us", with_releases) == ["aBC@0_"]


def test_shift_is_a_bitmask_with_other_bits_set() -> None:
    # right shift together with a GUI-free, Ctrl-free bit pattern: modifier 0x20 is Shift, not "modifier == 2"
    assert texts("us", [report(0x20, 0x1E), RELEASE, ENTER]) == ["!"]
    assert texts("de", [report(0x20, 0x24), RELEASE, ENTER]) == ["/"]


def test_a_scanner_programmed_for_belgium_sends_shifted_digits() -> None:
    # digits on a Belgian AZERTY need Shift; decoding with the scanner's layout gives digits on any host
    reports = keyboard_reports("0013748911", "be")
    assert reports[0] == report(0x02, 0x27)
    assert texts("be", reports) == ["0013748911"]


def test_us_key_positions_read_as_belgian_show_the_odoo_mangling() -> None:
    # a US-programmed scanner on a host with a Belgian layout types àà&"è'!ç&& (odoo/odoo#214407);
    # paycode decodes with the layout the scanner is programmed for, so layout=us gives the digits
    us_positions = keyboard_reports("0013748911", "us")
    assert texts("be", us_positions) == ["àà&\"è'!ç&&"]
    assert texts("us", us_positions) == ["0013748911"]


def test_german_and_french_letters_sit_on_other_keys() -> None:
    assert texts("de", [report(0, 0x1C), RELEASE, report(0, 0x1D), RELEASE, ENTER]) == ["zy"]
    assert texts("fr", [report(0, 0x14), RELEASE, report(0, 0x04), RELEASE, report(0, 0x33), RELEASE, ENTER]) == ["aqm"]


def test_altgr_characters() -> None:
    assert texts("de", [report(0x40, 0x14), RELEASE, report(0x40, 0x08), RELEASE, ENTER]) == ["@€"]
    # Ctrl + left Alt is AltGr, as on Windows
    assert texts("de", [report(0x05, 0x14), RELEASE, ENTER]) == ["@"]
    assert texts("fr", [report(0x40, 0x27), RELEASE, ENTER]) == ["@"]


@pytest.mark.parametrize(
    ("layout", "accent_key", "base", "expected"),
    [
        ("de", report(0, 0x35), report(0, 0x08), "ê"),  # ^ then e
        ("de", report(0, 0x2E), report(0x02, 0x08), "É"),  # acute then E
        ("fr", report(0x02, 0x2F), report(0, 0x18), "ü"),  # ¨ then u
        ("fr", report(0x40, 0x1F), report(0, 0x11), "ñ"),  # AltGr ~ then n
        ("de", report(0, 0x35), report(0, 0x1B), "^x"),  # no x with a circumflex: both, as Windows does
        ("be", report(0x40, 0x34), report(0, 0x2C), "´"),  # acute then space  # noqa: RUF001
    ],
)
def test_dead_keys_compose_with_the_next_character(layout: str, accent_key: bytes, base: bytes, expected: str) -> None:
    assert texts(layout, [accent_key, RELEASE, base, RELEASE, ENTER]) == [expected]


def test_two_dead_keys_in_a_row_type_the_first_accent() -> None:
    dead = report(0, 0x35)
    assert texts("de", [dead, RELEASE, dead, RELEASE, report(0, 0x08), RELEASE, ENTER]) == ["^ê"]


def test_a_dead_key_at_the_end_of_a_scan_types_its_accent() -> None:
    assert texts("de", [report(0, 0x1E), RELEASE, report(0, 0x35), RELEASE, ENTER]) == ["1^"]


def test_iso_hash_and_ansi_backslash_agree_in_every_layout() -> None:
    # Linux reports both as KEY_BACKSLASH; the evdev backend relies on the tables agreeing
    for layout in LAYOUTS.values():
        assert layout.keys[0x31] == layout.keys[0x32], layout.name
        assert layout.is_dead(0x31, 2) == layout.is_dead(0x32, 2)


def test_rows_cover_the_main_block_once() -> None:
    usages = ROW_E + ROW_D + ROW_C + ROW_B
    assert len(usages) == len(set(usages)) == 49


def test_a_new_layout_is_a_table() -> None:
    uk = build_layout(
        "uk",
        "United Kingdom",
        e=("`1234567890-=", '¬!"£$%^&*()_+', "    €        "),
        d=("qwertyuiop[]#", "QWERTYUIOP{}~"),
        c=("asdfghjkl;'#", "ASDFGHJKL:@~"),
        b=("\\zxcvbnm,./", "|ZXCVBNM<>?"),
    )
    decoder = KeyboardDecoder(uk)
    results = [r for rep in keyboard_reports('£"@€#', uk) for r in decoder.feed(rep)]
    assert results == [DecodedScan(text='£"@€#', raw='£"@€#\r'.encode(), ending="enter")]
    assert uk.has_altgr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"e": ("`1234567890-",)}, "row e level 0 has 12 characters, expected 13"),
        ({"dead": {0x35: "x"}}, "dead key 'x' is not one of"),
        ({"dead": {0x35: "~"}}, "dead key '~' is not on key 0x35"),
        ({"e": ()}, "row e has 0 levels"),
    ],
)
def test_malformed_tables_are_refused(kwargs: dict[str, object], message: str) -> None:
    rows: dict[str, object] = {
        "e": ("^1234567890-=",),
        "d": ("qwertyuiop[]\\",),
        "c": ("asdfghjkl;'\\",),
        "b": ("\\zxcvbnm,./",),
    }
    rows.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        build_layout("xx", "broken", **rows)  # type: ignore[arg-type]


def test_unknown_layout_lists_the_known_ones() -> None:
    with pytest.raises(ScannerConfigError, match="'dvorak' is not known; accepted: us, de, fr, be"):
        get_layout("dvorak")
    assert get_layout("DE") is LAYOUTS["de"]
