"""Feedback to a serial scanner: vendor command strings given as URL parameters.

``serial:///dev/ttyACM0?good=%16%07&bad=%16%07%07`` makes the scanner's ``good`` and ``bad``
feedback (a payment accepted, declined) write those bytes to the port. Each value is the
command as the scanner's programming manual gives it, percent-encoded byte by byte
(``%16`` is SYN, ``%07`` BEL, ``%0D`` CR; printable ASCII may be written as itself, and
``+`` is a space). A kind without a parameter is not offered.
"""

from __future__ import annotations

from collections.abc import Mapping

from paycode.scanning import Feedback, ScannerURL

__all__ = ["FEEDBACK_PARAMS", "feedback_commands"]

#: one URL parameter per feedback kind; the value is the command's bytes, percent-encoded
FEEDBACK_PARAMS: Mapping[str, str] = {
    Feedback.GOOD.value: "bytes to send when a payment succeeds (good read), percent-encoded, e.g. %16%07",
    Feedback.BAD.value: "bytes to send when a payment is declined (bad read), percent-encoded",
    Feedback.BEEP.value: "bytes that make the scanner beep, percent-encoded",
    Feedback.LED_ON.value: "bytes that turn the scanner's LED on, percent-encoded",
    Feedback.LED_OFF.value: "bytes that turn the scanner's LED off, percent-encoded",
    Feedback.TRIGGER.value: "bytes that start a scan (host-triggered mode), percent-encoded",
}


def feedback_commands(url: ScannerURL) -> dict[Feedback, bytes]:
    """The command bytes of every feedback kind the URL gives; ScannerConfigError for a bad value."""
    commands: dict[Feedback, bytes] = {}
    for kind in Feedback:
        data = url.get_bytes(kind.value)
        if data is not None:
            commands[kind] = data
    return commands
