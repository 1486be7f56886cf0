"""Masking of payment codes for every output and log line."""

from __future__ import annotations

import re

__all__ = ["mask_code", "redact_url"]

_USERINFO = re.compile(r"(?P<head>//[^/?#@:]*):[^/?#@]*@")


def mask_code(code: str) -> str:
    """Keep the first and last four characters of a code, star the rest: ``1328********1501``.

    Codes shorter than 12 keep two at each end; four or fewer are starred whole, so
    a masked value never reveals more than a third of the code.
    """
    n = len(code)
    if n <= 4:
        return "*" * n
    keep = 4 if n >= 12 else 2 if n >= 6 else 1
    return code[:keep] + "*" * (n - 2 * keep) + code[-keep:]


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (``rtsp://user:***@host/…``)."""
    return _USERINFO.sub(r"\g<head>:***@", url)
