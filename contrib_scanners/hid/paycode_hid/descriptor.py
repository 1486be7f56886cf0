"""Which output reports a HID device declares, read from its report descriptor (HID 1.11, section 6.2.2).

A report descriptor is a sequence of short items: a prefix byte (size in bits 0-1: 0, 1, 2 or 4
data bytes; type in bits 2-3: main, global, local; tag in bits 4-7) and its data. Output main
items (tag 0x9) declare output report fields; the global Report ID item (tag 0x8) in effect then
names the report. A device without Report ID items has one report of each kind, id 0. Long items
(prefix 0xFE) are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["output_report_ids"]

_MAIN, _GLOBAL = 0, 1
_OUTPUT, _REPORT_ID = 0x9, 0x8
_PUSH, _POP = 0xA, 0xB


def output_report_ids(descriptor: bytes | Sequence[int]) -> frozenset[int]:
    """The report ids of the output reports ``descriptor`` declares (``{0}`` for a device without ids)."""
    data = bytes(descriptor)
    found: set[int] = set()
    report_id = 0
    stack: list[int] = []
    i = 0
    while i < len(data):
        prefix = data[i]
        if prefix == 0xFE:  # a long item: its data size is the next byte, its tag the one after
            if i + 1 >= len(data):
                break
            i += 3 + data[i + 1]
            continue
        size = (0, 1, 2, 4)[prefix & 0x3]
        kind, tag = (prefix >> 2) & 0x3, prefix >> 4
        value = int.from_bytes(data[i + 1 : i + 1 + size], "little")
        if kind == _GLOBAL and tag == _REPORT_ID:
            report_id = value
        elif kind == _GLOBAL and tag == _PUSH:
            stack.append(report_id)
        elif kind == _GLOBAL and tag == _POP and stack:
            report_id = stack.pop()
        elif kind == _MAIN and tag == _OUTPUT:
            found.add(report_id)
        i += 1 + size
    return frozenset(found)
