"""One symbology vocabulary for every scanner, and the kinds of input a scanner may discard.

:class:`Symbology` names the bar code symbologies: ``Scan.symbology`` always holds one of
its values (a plain ``str``, since it is a :class:`enum.StrEnum`), whether a camera's
decoder, a HID POS report, a serial frame or the normaliser's AIM mapping set it. A
plugin that reads a symbology of its own (an AIM letter with no member, a vendor format)
sets ``Symbology.OTHER``, or ``None`` when it cannot tell.

:data:`AIM_LETTERS` maps the AIM identifier (ISO/IEC 15424, ``]`` + letter + modifier)
to a member; :func:`from_aim` applies the modifiers that tell EAN-8 from EAN-13.
:data:`CODE_IDS` maps Honeywell's one-letter code ids.

:data:`DISCARD_KINDS` documents the ``kind`` a scanner gives the
:class:`~paycode.errors.ScannerError` of input it discarded
(``ScannerError(reason, kind="overlong")``); the supervisor counts discarded input by
kind in its statistics. A plugin may use a kind of its own (a short lowercase tag such
as ``checksum``, see :func:`discard_kind`); an error without a kind counts as ``other``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

__all__ = [
    "AIM_LETTERS",
    "CODE_IDS",
    "DISCARD_KINDS",
    "Symbology",
    "discard_kind",
    "from_aim",
    "from_code_id",
    "parse_symbology",
]


class Symbology(enum.StrEnum):
    """A bar code symbology; the value is the name paycode prints, accepts and stores."""

    QR = "qr"
    MICRO_QR = "micro-qr"
    CODE128 = "code128"
    CODE39 = "code39"
    CODE93 = "code93"
    CODABAR = "codabar"
    ITF = "itf"
    EAN13 = "ean-13"
    EAN8 = "ean-8"
    UPC_A = "upc-a"
    UPC_E = "upc-e"
    DATAMATRIX = "datamatrix"
    PDF417 = "pdf417"
    AZTEC = "aztec"
    GS1_DATABAR = "gs1-databar"
    MAXICODE = "maxicode"
    OTHER = "other"


#: AIM identifier letter -> symbology. ``]E`` is the EAN/UPC family: EAN-13 (UPC-A and UPC-E
#: are sent as their 13-digit EAN form under ``]E0``), EAN-8 under ``]E4`` (see :func:`from_aim`).
AIM_LETTERS: Mapping[str, Symbology] = {
    "A": Symbology.CODE39,
    "C": Symbology.CODE128,
    "d": Symbology.DATAMATRIX,
    "E": Symbology.EAN13,
    "e": Symbology.GS1_DATABAR,
    "F": Symbology.CODABAR,
    "G": Symbology.CODE93,
    "I": Symbology.ITF,
    "L": Symbology.PDF417,
    "Q": Symbology.QR,
    "U": Symbology.MAXICODE,
    "X": Symbology.OTHER,
    "z": Symbology.AZTEC,
}

#: Honeywell code id -> symbology (the normaliser strips one only with ``code_id=1``).
CODE_IDS: Mapping[str, Symbology] = {
    "a": Symbology.CODABAR,
    "b": Symbology.CODE39,
    "c": Symbology.UPC_A,
    "d": Symbology.EAN13,
    "D": Symbology.EAN8,
    "E": Symbology.UPC_E,
    "e": Symbology.ITF,
    "i": Symbology.CODE93,
    "j": Symbology.CODE128,
    "r": Symbology.PDF417,
    "s": Symbology.QR,
    "w": Symbology.DATAMATRIX,
    "z": Symbology.AZTEC,
}

#: The documented kinds of discarded input (``ScannerError(..., kind=KIND)``).
DISCARD_KINDS: Mapping[str, str] = {
    "garbage": "bytes or keys a scan may not hold (line noise, a wrong baud rate, an unexpected control character)",
    "overlong": "a scan longer than the scanner's max_length",
    "outside": "data outside the framing (text between STX frames)",
    "interrupted": "a frame cut short (a new STX in the middle of one)",
    "incomplete": "a scan whose end never came (no end key, no last HID POS report)",
    "malformed": "a report or frame of the wrong shape (a HID POS report of the wrong size or length)",
    "empty": "a scan that was empty once the core had normalised it",
    "other": "a discard whose scanner named no kind",
}

_KIND = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_BY_KEY: dict[str, Symbology] = {
    **{member.value.replace("-", ""): member for member in Symbology},
    "qrcode": Symbology.QR,
    "microqrcode": Symbology.MICRO_QR,
    "databar": Symbology.GS1_DATABAR,
    "ean13": Symbology.EAN13,
    "ean8": Symbology.EAN8,
    "upca": Symbology.UPC_A,
    "upce": Symbology.UPC_E,
}


def parse_symbology(name: str) -> Symbology | None:
    """The symbology ``name`` means, as a person may write it (``EAN13``, ``ean_13``, ``QRCode``), or None."""
    key = "".join(c for c in name.lower() if c.isalnum())
    return _BY_KEY.get(key)


def from_aim(aim: str | None) -> Symbology | None:
    """``]Q1`` -> ``qr``, ``]E4`` -> ``ean-8``; None for no identifier or an unknown letter."""
    if not aim or len(aim) != 3 or aim[0] != "]":
        return None
    if aim[1] == "E" and aim[2] == "4":
        return Symbology.EAN8
    return AIM_LETTERS.get(aim[1])


def from_code_id(code_id: str | None) -> Symbology | None:
    """Honeywell's code id (``j`` -> ``code128``, ``s`` -> ``qr``), or None."""
    return CODE_IDS.get(code_id or "")


def discard_kind(kind: object) -> str:
    """The statistics key of a discard's ``kind``: a documented one, a plugin's own tag, else ``other``.

    A plugin's own kind must be a short lowercase tag (``[a-z][a-z0-9-]*``, at most 32
    characters), so a message or scanned data can never become a key.
    """
    if isinstance(kind, str) and _KIND.match(kind):
        return kind
    return "other"
