"""Scanner URLs, and the ``Scanner`` protocol and ``ScannerType`` (defined in :mod:`paycode.plugin_types`).

A scanner is named by one URL string, as pyserial names ports:
``serial:///dev/ttyACM0?baudrate=9600&suffix=cr``, ``hid://0c2e:0b61?mode=pos``,
``camera+file:///clip.mp4``, ``replay:///path/scans.txt``, ``stdin://``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote

import attrs

from .errors import ScannerConfigError
from .masking import redact_url
from .plugin_types import Scanner as Scanner  # defined with the other plugin types; importable from here too
from .plugin_types import ScannerType as ScannerType

__all__ = ["CORE_PARAMS", "Feedback", "FeedbackScanner", "Scanner", "ScannerType", "ScannerURL"]

#: Parameters every scanner URL may carry; the core's normaliser and supervisor use them.
CORE_PARAMS: Mapping[str, str] = {
    "prefix": "literal text to strip from the start of every scan",
    "suffix": "terminator to strip: cr, lf, crlf, tab, etx, eot, none, or literal text",
    "repeat_window": "seconds during which a repeat of the same code is suppressed (default 1.5)",
    "code_id": "1 when the scanner sends a one-letter vendor code id (Honeywell j, s) before the data: "
    "strip it and keep the symbology (default 0)",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@attrs.frozen
class ScannerURL:
    """A parsed scanner URL: ``scheme://target?name=value&…``.

    ``target`` is everything between ``scheme://`` and ``?`` (a path such as
    ``/dev/ttyACM0``, ``host:port``, ``VID:PID`` or a device index), percent-decoded.
    """

    raw: str
    scheme: str
    target: str
    params: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, text: str) -> ScannerURL:
        if isinstance(text, str) and any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise ScannerConfigError(f"scanner URL {text!r} holds control characters; write scheme://target?options")
        if not isinstance(text, str) or "://" not in text:
            raise ScannerConfigError(
                f"scanner {text!r} is not a URL; write scheme://target?options, "
                "e.g. serial:///dev/ttyACM0?baudrate=9600 or replay:///path/scans.txt"
            )
        scheme, _, rest = text.partition("://")
        scheme = scheme.lower()
        if not scheme or not all(c.isalnum() or c in "+-." for c in scheme) or not scheme[0].isalpha():
            raise ScannerConfigError(f"scanner URL {text!r} has a malformed scheme {scheme!r}")
        target, _, query = rest.partition("?")
        if "#" in query or "#" in target:
            raise ScannerConfigError(f"scanner URL {text!r} must not contain '#'")
        params: dict[str, str] = {}
        if query:
            try:
                pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
            except ValueError:
                raise ScannerConfigError(
                    f"scanner URL {text!r} has a malformed query {query!r}; write name=value&name=value"
                ) from None
            for name, value in pairs:
                if name in params:
                    raise ScannerConfigError(f"scanner URL {text!r} gives parameter {name!r} twice")
                params[name] = value
        return cls(raw=text, scheme=scheme, target=unquote(target), params=params)

    def __str__(self) -> str:
        return self.raw

    @property
    def display(self) -> str:
        """The URL for messages and events: decoded, with any password (``//user:pw@``) shown as ``***``.

        A camera stream given as ``camera://?url=rtsp%3A%2F%2Fuser%3Apw%40cam`` must not
        leak its password into a ``scanner.gone`` event.
        """
        text = redact_url(f"{self.scheme}://{self.target}")
        if self.params:
            text += "?" + "&".join(f"{name}={redact_url(value)}" for name, value in self.params.items())
        return text

    # -- typed parameter access, each failing with a clear message ------------------

    def _bad(self, name: str, value: str, accepted: str) -> ScannerConfigError:
        return ScannerConfigError(
            f"scanner {self.scheme}://: parameter {name}={value!r} is not valid; accepted: {accepted}",
            scanner=self.display,
        )

    def get_str(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)

    def get_int(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.params.get(name)
        if value is None:
            return default
        lo = "" if minimum is None else f" >= {minimum}"
        hi = "" if maximum is None else f" <= {maximum}"
        try:
            number = int(value, 10)
        except ValueError:
            raise self._bad(name, value, f"an integer{lo}{hi}") from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise self._bad(name, value, f"an integer{lo}{hi}")
        return number

    def get_float(self, name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
        value = self.params.get(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not (number >= minimum) or (maximum is not None and number > maximum) or number != number:
            hi = "" if maximum is None else f" and <= {maximum}"
            raise self._bad(name, value, f"a number >= {minimum}{hi}")
        return number

    def get_bool(self, name: str, default: bool) -> bool:
        value = self.params.get(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise self._bad(name, value, "1/0, true/false, yes/no, on/off")

    def get_bytes(self, name: str) -> bytes | None:
        """A parameter as the bytes it percent-encodes (``good=%16%07`` -> ``b"\\x16\\x07"``), or None when absent.

        Each ``%HH`` is one byte and any other character stands for its own (ASCII) byte;
        a character outside ASCII is refused, since it names no single byte.
        """
        if name not in self.params:
            return None
        query = self.raw.partition("?")[2]
        for key, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):  # noqa: B007
            if key == name:
                break
        else:  # pragma: no cover - the name is in params, so it is in the query
            return None
        written = [part.partition("=")[2] for part in query.split("&") if unquote(part.partition("=")[0]) == name]
        if not written or not written[0].isascii():
            raise self._bad(name, self.params[name], "bytes written as ASCII text and %HH escapes, e.g. %16%07")
        if not value:
            raise self._bad(name, value, "at least one byte, written as ASCII text and %HH escapes, e.g. %16%07")
        return value.encode("latin-1")

    def with_defaults(self, defaults: Mapping[str, str]) -> ScannerURL:
        """This URL with ``defaults`` for the parameters it does not give (a plugin's defaults, e.g. a baud rate)."""
        missing = {name: value for name, value in defaults.items() if name not in self.params}
        if not missing:
            return self
        return attrs.evolve(self, params={**self.params, **missing})

    def get_choice(self, name: str, choices: Iterable[str], default: str) -> str:
        value = self.params.get(name)
        if value is None:
            return default
        options = list(choices)
        if value.lower() not in options:
            raise self._bad(name, value, ", ".join(options))
        return value.lower()


class Feedback(enum.StrEnum):
    """What the lane can tell a scanner that supports feedback (:class:`FeedbackScanner`).

    The scan supervisor sends ``good`` when a payment it read the code for succeeded and
    ``bad`` when it was declined (see :class:`paycode.supervisor.LaneFeedback`); a host
    may send any of them with :meth:`paycode.supervisor.ScanSupervisor.feedback`.
    """

    GOOD = "good"  # good read / payment accepted: the scanner's success beep and green LED
    BAD = "bad"  # bad read / payment declined: the error beep and red LED
    BEEP = "beep"  # a plain beep (attention)
    LED_ON = "led_on"
    LED_OFF = "led_off"
    TRIGGER = "trigger"  # start a scan (a scanner in host-triggered mode)


@runtime_checkable
class FeedbackScanner(Protocol):
    """The optional feedback capability of a :class:`Scanner`.

    - ``feedback_kinds``: the :class:`Feedback` kinds this scanner, as configured, can give
      (for a serial scanner: those its URL gives a command for); empty when none.
    - ``feedback(kind)`` sends it; True when sent, False when this scanner has no way to
      give that kind. It may be called from another thread while ``read()`` blocks, and
      must not raise for a device that is gone (False then): feedback is never worth an error.
    """

    @property
    def feedback_kinds(self) -> frozenset[Feedback]: ...

    def feedback(self, kind: Feedback) -> bool: ...
