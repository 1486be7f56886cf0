"""Turn what a scanner sent into the bare code: strip framing, identifiers and whitespace.

Order of the steps, each optional: the configured suffix, control characters anywhere
(STX, ETX, EOT, CR, LF, …) except GS, surrounding whitespace and GS, the configured prefix, a
leading AIM symbology identifier (``]C0``, ``]Q1``, ``]E0``: ``]`` + letter + modifier),
and, only when asked for (``code_id=1``), a one-letter vendor code id such as
Honeywell's ``j`` (Code 128) or ``s`` (QR). The identifier is kept as ``Scan.aim`` and
mapped to a :class:`~paycode.symbology.Symbology` in ``Scan.symbology`` unless the scanner
already set one.

GS (0x1D, the GS1 field separator) is data: between two characters of the code it is
kept, on every path (a camera's decoder, a serial frame, a HID POS report, a keyboard
wedge's Ctrl+]), so a host reading GS1 data gets its fields; at either end of the code
it is framing and removed. A payment code never holds one: classification refuses a
code with a GS like any other non-digit, with a clear message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from .models import Scan
from .scanning import ScannerURL
from .symbology import AIM_LETTERS, CODE_IDS, Symbology, from_aim, from_code_id

__all__ = ["AIM_SYMBOLOGIES", "CODE_ID_SYMBOLOGIES", "GS", "SUFFIXES", "Normaliser", "normalise", "split_aim"]

#: AIM symbology identifier letter (ISO/IEC 15424) -> symbology (:data:`paycode.symbology.AIM_LETTERS`).
AIM_SYMBOLOGIES: Mapping[str, Symbology] = AIM_LETTERS

#: Honeywell code id -> symbology, stripped only with ``code_id=1`` (:data:`paycode.symbology.CODE_IDS`).
CODE_ID_SYMBOLOGIES: Mapping[str, Symbology] = CODE_IDS

#: Named suffixes of the ``suffix`` URL parameter; any other value is literal text.
SUFFIXES: dict[str, str] = {
    "cr": "\r",
    "lf": "\n",
    "crlf": "\r\n",
    "tab": "\t",
    "etx": "\x03",
    "eot": "\x04",
    "none": "",
}

_AIM = re.compile(r"\][A-Za-z][0-9A-Z]")
#: C0 controls (ETX, EOT, CR, LF, TAB…) but GS, DEL, C1; ``str.strip()`` removes a GS at either end
_CONTROL = re.compile(r"[\x00-\x1c\x1e-\x1f\x7f-\x9f]")
GS = "\x1d"


def split_aim(text: str) -> tuple[str | None, str]:
    """Split a leading AIM identifier off ``text``: ``("]C0", rest)`` or ``(None, text)``."""
    if _AIM.match(text):
        return text[:3], text[3:]
    return None, text


@attrs.frozen
class Normaliser:
    """The normalisation settings of one scanner (from its URL's ``prefix``/``suffix``/``code_id``)."""

    prefix: str = ""
    suffix: str = ""
    code_id: bool = False

    @classmethod
    def from_url(cls, url: ScannerURL) -> Normaliser:
        suffix = url.get_str("suffix") or ""
        return cls(
            prefix=url.get_str("prefix") or "",
            suffix=SUFFIXES.get(suffix.lower(), suffix),
            code_id=url.get_bool("code_id", False),
        )

    def text(self, text: str) -> tuple[str, str | None, str | None]:
        """Normalise a label: ``(code, aim, symbology)``; aim/symbology None when none was found."""
        if self.suffix and text.endswith(self.suffix):
            text = text[: -len(self.suffix)]
        text = _CONTROL.sub("", text).strip()
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix) :].lstrip()
        aim, text = split_aim(text)
        symbology: str | None = from_aim(aim)
        if self.code_id and text[:1] in CODE_IDS:
            symbology = symbology or from_code_id(text[0])
            text = text[1:]
        return text.strip(), aim, symbology

    def __call__(self, scan: Scan) -> Scan:
        code, aim, symbology = self.text(scan.text)
        return attrs.evolve(
            scan,
            text=code,
            aim=scan.aim or aim,
            symbology=scan.symbology or symbology,
        )


def normalise(scan: Scan, normaliser: Normaliser | None = None) -> Scan:
    """Normalise one scan with ``normaliser`` (default: no prefix/suffix, AIM ids stripped)."""
    return (normaliser or Normaliser())(scan)
