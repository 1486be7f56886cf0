"""Barcode format names of the ``formats=`` parameter, and the symbology names scans carry.

The names are paycode's own, so a scanner URL does not depend on the spelling of the
installed zxing-cpp version, and ``Scan.symbology`` matches what paycode's normaliser
derives from AIM identifiers and vendor code ids (``code128``, ``qr``, ``ean-13``,
``gs1-databar``, ...). In ``formats=`` case, ``-`` and ``_`` do not matter: ``ean13``,
``EAN-13`` and ``ean_13`` are one format.

This module imports nothing heavy: URLs are checked without loading zxing-cpp.
"""

from __future__ import annotations

from collections.abc import Mapping

from paycode.errors import ScannerConfigError

__all__ = ["DEFAULT_FORMATS", "FORMATS", "canonical_format", "parse_formats", "symbology_of"]

#: format / symbology name -> zxing-cpp ``BarcodeFormat`` member name
FORMATS: Mapping[str, str] = {
    "qr": "QRCode",
    "micro-qr": "MicroQRCode",
    "code128": "Code128",
    "code39": "Code39",
    "code93": "Code93",
    "codabar": "Codabar",
    "itf": "ITF",
    "ean-13": "EAN13",
    "ean-8": "EAN8",
    "upc-a": "UPCA",
    "upc-e": "UPCE",
    "datamatrix": "DataMatrix",
    "pdf417": "PDF417",
    "aztec": "Aztec",
    "gs1-databar": "DataBar",
    "maxicode": "MaxiCode",
}

#: The wallets' symbologies: a payment-code screen shows a Code 128 barcode and a QR code.
DEFAULT_FORMATS: tuple[str, ...] = ("qr", "code128")

# zxing-cpp reports some reads under a variant of the format asked for (zxing-cpp 3 names)
_VARIANTS: Mapping[str, str] = {
    "QRCodeModel1": "qr",
    "QRCodeModel2": "qr",
    "Code39Std": "code39",
    "Code39Ext": "code39",
    "Code32": "code39",
    "PZN": "code39",
    "ITF14": "itf",
    "ISBN": "ean-13",
    "AztecCode": "aztec",
    "AztecRune": "aztec",
    "CompactPDF417": "pdf417",
    "MicroPDF417": "pdf417",
    "DataBarOmni": "gs1-databar",
    "DataBarStk": "gs1-databar",
    "DataBarStkOmni": "gs1-databar",
    "DataBarLtd": "gs1-databar",
    "DataBarLimited": "gs1-databar",
    "DataBarExp": "gs1-databar",
    "DataBarExpStk": "gs1-databar",
    "DataBarExpanded": "gs1-databar",
}

_SYMBOLOGY: dict[str, str] = {**{member: name for name, member in FORMATS.items()}, **_VARIANTS}


def _key(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


_BY_KEY: dict[str, str] = {**{_key(name): name for name in FORMATS}, "qrcode": "qr", "databar": "gs1-databar"}


def canonical_format(name: str) -> str | None:
    """The format name for ``name`` as a person may write it (``EAN13`` -> ``ean-13``), or None."""
    return _BY_KEY.get(_key(name))


def parse_formats(text: str | None, *, scheme: str = "camera") -> tuple[str, ...]:
    """``"qr,code128"`` -> ``("qr", "code128")``; None gives :data:`DEFAULT_FORMATS`."""
    if text is None:
        return DEFAULT_FORMATS
    names: list[str] = []
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


def symbology_of(zxing_format_name: str) -> str:
    """The symbology name of a zxing-cpp format member name (``Code128`` -> ``code128``, ``EAN13`` -> ``ean-13``)."""
    known = _SYMBOLOGY.get(zxing_format_name)
    if known is not None:
        return known
    return "".join(c for c in zxing_format_name.lower() if c.isalnum())
