"""A bare V4 caller: signs one request, posts it, verifies and parses the answer. Nothing else.

For the sandbox's own tests, its docs example and manual probing. It is deliberately not
the payment client (:mod:`paycode.gateway` is): no retries, no state, no interpretation
of what an answer means for the money.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any

import attrs
import httpx

from ..bizcontent import serialise
from ..plugin_types import SignerType
from ..plugins.signers import SHA256
from ..signing import signed, verify_message
from .ledger import Credentials

__all__ = ["V4Answer", "V4Caller"]


@attrs.frozen
class V4Answer:
    """A parsed answer: ``biz`` is the parsed ``bizContent``; ``verified`` says whether its signature checked."""

    http_status: int
    code: str
    description: str
    biz: Mapping[str, Any]
    envelope: Mapping[str, Any]
    verified: bool


class V4Caller:
    """Posts signed V4 requests for one merchant to one base URL."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        signer: SignerType | None = None,
        *,
        timeout: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.signer = signer or SHA256
        # Plain http:// has no TLS to verify; skipping the CA bundle load makes a caller cheap to build.
        self.http = httpx.Client(timeout=timeout, verify=not self.base_url.startswith("http://"))

    def envelope(self, biz: Mapping[str, Any] | str) -> dict[str, Any]:
        """The signed request envelope for ``biz`` (a mapping, or ``bizContent`` text used verbatim)."""
        message = {
            "accId": self.credentials.acc_id,
            "clientId": self.credentials.client_id,
            "version": "1.0",
            "bizContent": biz if isinstance(biz, str) else serialise(biz),
        }
        return signed(message, self.credentials.salt, self.signer)

    def post(self, path: str, body: Mapping[str, Any] | bytes) -> httpx.Response:
        """POST an envelope (or raw bytes) to ``path``."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        return self.http.post(self.base_url + path, content=content, headers={"Content-Type": "application/json"})

    def call(self, path: str, biz: Mapping[str, Any] | str) -> V4Answer:
        """Sign ``biz``, post it to ``path`` and parse the answer (raises on a non-JSON body)."""
        return self.parse(self.post(path, self.envelope(biz)))

    def parse(self, response: httpx.Response) -> V4Answer:
        envelope = response.json()
        text = envelope.get("bizContent") or "{}"
        return V4Answer(
            http_status=response.status_code,
            code=envelope.get("code", ""),
            description=envelope.get("description", ""),
            biz=json.loads(text, parse_float=Decimal),
            envelope=envelope,
            verified=verify_message(envelope, self.credentials.salt, self.signer),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> V4Caller:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
