"""argparse value types shared by the commands: one home for each, so every command words its errors alike.

Each raises ``argparse.ArgumentTypeError``, which the ``paycode`` parser turns into one line on stderr and
exit 2: ``paycode: error: paycode scan: argument --count: '0' is not a whole number >= 1``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["MAX_SECONDS", "positive_int", "seconds"]

#: the longest wait any option or setting of seconds takes: a week. Beyond it a clock overflows (``1e300``
#: seconds is past what the platform's timeouts can hold) and no till waits that long anyway.
MAX_SECONDS = 7 * 24 * 3600


def positive_int(unit: str | None = None) -> Callable[[str], int]:
    """An argparse type for a whole number, 1 or more; ``unit`` ("orders") names what is counted in its error."""
    wanted = "a whole number >= 1" if unit is None else f"a whole number of {unit}, 1 or more"

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}")
        return value

    parse.__name__ = "positive_int"  # argparse names the type in some messages
    return parse


def seconds(text: str) -> float:
    """An argparse type for a positive, finite number of seconds, at most :data:`MAX_SECONDS` (a week)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} seconds is too long; at most {MAX_SECONDS} (a week)")
    return value
