"""``paycode setup scanner``: find out how a scanner is wired and configured, and what URL reads it.

It lists the candidate devices, shows a known test barcode (:mod:`.testcode`), reads the raw
input of one scan (:mod:`.capture`) and works out the transport, framing, AIM identifier and
keyboard layout, naming each common field failure with its fix (:mod:`.analysis`).
"""

from __future__ import annotations

from .analysis import (
    PROBLEMS,
    TEST_TEXT,
    Diagnosis,
    Problem,
    analyse_bytes,
    analyse_keyboard_reports,
    analyse_pos_reports,
)
from .assistant import CAPTURED_SCHEMES, STDIN_CANDIDATE, candidates, diagnose, diagnose_any

__all__ = [
    "CAPTURED_SCHEMES",
    "PROBLEMS",
    "STDIN_CANDIDATE",
    "TEST_TEXT",
    "Diagnosis",
    "Problem",
    "analyse_bytes",
    "analyse_keyboard_reports",
    "analyse_pos_reports",
    "candidates",
    "diagnose",
    "diagnose_any",
]
