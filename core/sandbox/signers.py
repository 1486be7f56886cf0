"""The two V4 ``signType`` digests, built with hashlib, so the sandbox works without any plugin host."""

from __future__ import annotations

import hashlib

from ..plugin_types import SignerType

__all__ = ["default_signers"]


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest().upper()


def _md5(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest().upper()


def default_signers() -> dict[str, SignerType]:
    """``SHA256`` and ``MD5`` signers by signType."""
    return {
        "SHA256": SignerType("SHA256", _sha256, "SHA-256 of salt + content (sandbox built-in)"),
        "MD5": SignerType("MD5", _md5, "MD5 of salt + content (sandbox built-in)"),
    }
