"""Built-in signers: PingPong V4 ``SHA256`` and ``MD5`` (salt prepended, uppercase hex; no HMAC)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from paycode.hookspecs import hookimpl
from paycode.plugin_types import SignerType

__all__ = ["MD5", "SHA256"]


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest().upper()


def _md5(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest().upper()


SHA256 = SignerType("SHA256", _sha256, "uppercase hex SHA-256 of salt + sorted key=value pairs (PingPong V4)")
MD5 = SignerType("MD5", _md5, "uppercase hex MD5 of salt + sorted key=value pairs (PingPong V4, legacy)")


@hookimpl
def paycode_register_signers(register: Callable[[SignerType], None]) -> None:
    register(SHA256)
    register(MD5)
