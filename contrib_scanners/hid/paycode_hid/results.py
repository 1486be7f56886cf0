"""What the sans-IO decoders hand back: a finished scan, or a scan they discarded and why."""

from __future__ import annotations

import attrs
from paycode.masking import mask_code

__all__ = ["DecodedScan", "DiscardedScan"]


def _masked(value: object) -> str:
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return repr(mask_code(text))


@attrs.frozen
class DecodedScan:
    """One complete scan.

    ``text`` is the label as decoded; ``raw`` what the device sent for it (keyboard
    mode: the typed characters and the end key's character; HID POS: the AIM
    identifier and the data bytes). ``ending`` says what ended a keyboard scan
    (``enter``, ``tab`` or ``gap``); ``code_id`` is the vendor's symbology code of a
    HID POS report (byte 61, Honeywell), when it sent one.
    """

    text: str = attrs.field(repr=_masked)
    raw: bytes = attrs.field(repr=_masked)
    aim: str | None = None
    ending: str | None = None
    code_id: str | None = None


@attrs.frozen
class DiscardedScan:
    """Input the decoder threw away; ``reason`` says why and never contains the scanned text.

    ``kind`` is the discard's kind in :data:`paycode.symbology.DISCARD_KINDS` (``garbage``,
    ``overlong``, ``incomplete``, ``malformed``); the supervisor's statistics count by it.
    """

    reason: str
    kind: str = attrs.field(default="garbage", eq=False)
