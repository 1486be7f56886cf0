"""Barcode format names of the ``formats=`` parameter, and the symbology names scans carry.

The names are paycode's one vocabulary, :class:`paycode.symbology.Symbology`, so a
scanner URL does not depend on the spelling of the installed zxing-cpp version, and
``Scan.symbology`` matches what paycode's normaliser derives from AIM identifiers and
vendor code ids (``code128``, ``qr``, ``ean-13``, ``gs1-databar``, ...). In ``formats=``
case, ``-`` and ``_`` do not matter: ``ean13``, ``EAN-13`` and ``ean_13`` are one format.

This module imports nothing heavy: URLs are checked without loading zxing-cpp.
"""

from __future__ import annotations

from collections.abc import Mapping

from paycode.errors import ScannerConfigError
from paycode.symbology import Symbology, parse_symbology

__all__ = ["DEFAULT_FORMATS", "FORMATS", "canonical_format", "parse_formats", "symbology_of"]

#: format / symbology name -> zxing-cpp ``BarcodeFormat`` member name
FORMATS: Mapping[Symbology, str] = {
    Symbology.QR: "QRCode",
    Symbology.MICRO_QR: "MicroQRCode",
    Symbology.CODE128: "Code128",
    Symbology.CODE39: "Code39",
    Symbology.CODE93: "Code93",
    Symbology.CODABAR: "Codabar",
    Symbology.ITF: "ITF",
    Symbology.EAN13: "EAN13",
    Symbology.EAN8: "EAN8",
    Symbology.UPC_A: "UPCA",
    Symbology.UPC_E: "UPCE",
    Symbology.DATAMATRIX: "DataMatrix",
    Symbology.PDF417: "PDF417",
    Symbology.AZTEC: "Aztec",
    Symbology.GS1_DATABAR: "DataBar",
    Symbology.MAXICODE: "MaxiCode",
}

#: The wallets' symbologies: a payment-code screen shows a Code 128 barcode and a QR code.
DEFAULT_FORMATS: tuple[Symbology, ...] = (Symbology.QR, Symbology.CODE128)

# zxing-cpp reports some reads under a variant of the format asked for (zxing-cpp 3 names)
_VARIANTS: Mapping[str, Symbology] = {
    "QRCodeModel1": Symbology.QR,
    "QRCodeModel2": Symbology.QR,
    "Code39Std": Symbology.CODE39,
    "Code39Ext": Symbology.CODE39,
    "Code32": Symbology.CODE39,
    "PZN": Symbology.CODE39,
    "ITF14": Symbology.ITF,
    "ISBN": Symbology.EAN13,
    "AztecCode": Symbology.AZTEC,
    "AztecRune": Symbology.AZTEC,
    "CompactPDF417": Symbology.PDF417,
    "MicroPDF417": Symbology.PDF417,
    "DataBarOmni": Symbology.GS1_DATABAR,
    "DataBarStk": Symbology.GS1_DATABAR,
    "DataBarStkOmni": Symbology.GS1_DATABAR,
    "DataBarLtd": Symbology.GS1_DATABAR,
    "DataBarLimited": Symbology.GS1_DATABAR,
    "DataBarExp": Symbology.GS1_DATABAR,
    "DataBarExpStk": Symbology.GS1_DATABAR,
    "DataBarExpanded": Symbology.GS1_DATABAR,
}

_SYMBOLOGY: dict[str, Symbology] = {**{member: name for name, member in FORMATS.items()}, **_VARIANTS}


def canonical_format(name: str) -> Symbology | None:
    """The format name for ``name`` as a person may write it (``EAN13`` -> ``ean-13``), or None."""
    found = parse_symbology(name)
    return found if found in FORMATS else None


def parse_formats(text: str | None, *, scheme: str = "camera") -> tuple[Symbology, ...]:
    """``"qr,code128"`` -> ``("qr", "code128")``; None gives :data:`DEFAULT_FORMATS`."""
    if text is None:
        return DEFAULT_FORMATS
    names: list[Symbology] = []
    for item in text.split(","):
        name = canonical_format(item)
        if name is None:
            raise ScannerConfigError(
                f"scanner {scheme}://: parameter formats={text!r} names an unknown format {item.strip()!r}; "
                f"accepted: {', '.join(FORMATS)} (comma-separated)"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def symbology_of(zxing_format_name: str) -> Symbology:
    """The symbology of a zxing-cpp format member name (``Code128`` -> ``code128``); ``other`` for one unknown."""
    return _SYMBOLOGY.get(zxing_format_name) or parse_symbology(zxing_format_name) or Symbology.OTHER
