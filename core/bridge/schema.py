"""The API's request bodies and answers, declared once: the checks run on requests and the OpenAPI 3.1 schemas.

A request body is a :class:`Body`: its fields, each with a JSON schema. :meth:`Body.parse`
checks a request against exactly those schemas (with errors naming the field and what is
accepted) and :meth:`Body.schema` is what ``/openapi.json`` publishes, so the document and
the checks cannot drift apart. Answers are JSON schemas in :data:`SCHEMAS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["SCHEMAS", "ApiError", "Body", "Field", "REFERENCE_PATTERN"]

REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,6})?$"
CURRENCY_PATTERN = r"^[A-Za-z]{3}$"
LANE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
IDEMPOTENCY_PATTERN = r"^[\x21-\x7e]{1,255}$"


class ApiError(Exception):
    """An answer that is not a success: HTTP ``status``, a short ``code``, a message, the ``field`` at fault."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


@attrs.frozen
class Field:
    name: str
    schema: Mapping[str, Any]
    required: bool = False
    accepted: str = ""

    def check(self, value: Any) -> Any:
        if isinstance(value, _JsonNumber):
            raise self.error(
                f"{self.name} is a JSON number ({value.text}); {self.accepted} "
                '(amounts are decimal text such as "12.50", never numbers)'
            )
        schema = self.schema
        kind = schema.get("type")
        if kind == "string":
            if not isinstance(value, str):
                raise self.error(f"{self.name} must be a string ({self.accepted}), not {_json_type(value)}")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                raise self.error(f"{self.name} is {len(value)} characters long; at most {schema['maxLength']}")
            if "minLength" in schema and len(value) < schema["minLength"]:
                raise self.error(f"{self.name} is empty; {self.accepted}")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                raise self.error(f"{self.name} {_shown(self.name, value)} is not accepted; {self.accepted}")
            if "enum" in schema and value not in schema["enum"]:
                raise self.error(f"{self.name} {value!r} is not one of {', '.join(schema['enum'])}")
        return value

    def error(self, message: str) -> ApiError:
        return ApiError(422, "invalid_field", message, self.name)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(name: str, value: str) -> str:
    if name == "code":
        return f"({len(value)} characters)"  # never echo a code
    return repr(value[:40] + ("…" if len(value) > 40 else ""))


@attrs.frozen
class Body:
    """A JSON object request body: its fields; unknown fields are refused."""

    name: str
    description: str
    fields: tuple[Field, ...]

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "description": self.description,
            "properties": {f.name: dict(f.schema) for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": False,
        }

    def parse(self, raw: bytes, content_type: str | None) -> dict[str, Any]:
        """The checked fields of a request body; ApiError (4xx) naming what was wrong and what is accepted."""
        media = (content_type or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise ApiError(
                415,
                "unsupported_media_type",
                f"the request body must be JSON with Content-Type: application/json, not {media or 'none'!r}",
            )
        try:
            data = json.loads(
                raw.decode("utf-8"),
                parse_float=_no_float,
                parse_int=_small_int,
                parse_constant=_no_constant,
                object_pairs_hook=_no_duplicate_keys,
            )
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_json", "the request body is not UTF-8 text") from None
        except _DuplicateKey as exc:
            raise ApiError(400, "duplicate_field", str(exc), exc.key) from None
        except RecursionError:
            raise ApiError(
                400, "invalid_json", "the request body is nested too deeply; a request is one flat JSON object"
            ) from None
        except ValueError as exc:
            raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", f"the request body must be a JSON object, not {_json_type(data)}")
        known = {f.name: f for f in self.fields}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ApiError(
                422,
                "unknown_field",
                f"unknown field {unknown[0]!r}; accepted: {', '.join(known)}",
                unknown[0][:64],
            )
        out: dict[str, Any] = {}
        for field in self.fields:
            if field.name not in data:
                if field.required:
                    raise field.error(f"{field.name} is required; {field.accepted}")
                continue
            out[field.name] = field.check(data[field.name])
        return out


@attrs.frozen
class _JsonNumber:
    """A JSON number with a fraction or exponent, kept as its text so the field it stood in can be named."""

    text: str


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"field {key[:64]!r} is given twice; give each field once (which one counts would be a guess, "
            "and for an amount a guess is money)"
        )
        self.key = key[:64]


def _no_float(text: str) -> _JsonNumber:
    return _JsonNumber(text[:20])


def _small_int(text: str) -> int:
    if len(text.lstrip("-")) > 18:
        raise ValueError(f"a JSON number of {len(text)} digits was given; numbers here have at most 18 digits")
    return int(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


PAYMENT_CREATE = Body(
    "PaymentCreate",
    "A payment to take on a lane. Without `code`, the lane's scanner supplies it.",
    (
        Field(
            "amount",
            {
                "type": "string",
                "pattern": AMOUNT_PATTERN,
                "maxLength": 22,
                "examples": ["12.50"],
                "description": "decimal text, no more decimals than the currency has",
            },
            True,
            'give decimal text such as "12.50"',
        ),
        Field(
            "currency",
            {
                "type": "string",
                "pattern": CURRENCY_PATTERN,
                "examples": ["CNY"],
                "description": "ISO 4217 code accepted by an installed wallet",
            },
            True,
            "give an ISO 4217 code such as CNY or HKD",
        ),
        Field(
            "reference",
            {
                "type": "string",
                "pattern": REFERENCE_PATTERN,
                "description": "your order reference: the gateway's merchantTransactionId (generated "
                "when absent); 1-64 of A-Z a-z 0-9 . _ : -",
            },
            False,
            "1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit",
        ),
        Field(
            "code",
            {
                "type": "string",
                "pattern": r"^[0-9]{10,32}$",
                "writeOnly": True,
                "description": "the shopper's payment code, when it was read elsewhere",
            },
            False,
            "the payment code's digits (10-32)",
        ),
        Field(
            "lane",
            {
                "type": "string",
                "pattern": LANE_PATTERN,
                "description": "the lane to pay on; default: the only lane, else the first idle one",
            },
            False,
            "a lane name from GET /v1/lanes",
        ),
    ),
)

REFUND_CREATE = Body(
    "RefundCreate",
    "A refund of part or all of a paid payment, in its currency.",
    (
        Field(
            "amount",
            {"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": 22, "examples": ["2.50"]},
            True,
            'give decimal text such as "2.50"',
        ),
        Field(
            "currency",
            {
                "type": "string",
                "pattern": CURRENCY_PATTERN,
                "description": "when given, must be the payment's currency",
            },
            False,
            "the payment's ISO 4217 currency",
        ),
    ),
)

TICKET_CREATE = Body("TicketCreate", "No fields: an empty object.", ())

_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "field"],
                "properties": {
                    "code": {"type": "string", "description": "a short machine-readable code"},
                    "message": {"type": "string", "description": "what was wrong and what is accepted"},
                    "field": {**_NULLABLE_STRING, "description": "the field at fault, or null"},
                },
            }
        },
    },
    "Payment": {
        "type": "object",
        "required": [
            "reference",
            "lane",
            "amount",
            "currency",
            "state",
            "final",
            "status",
            "wallet",
            "code",
            "transaction_id",
            "refunded",
            "error",
            "cancel_requested",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "reference": {"type": "string"},
            "lane": {"type": "string"},
            "amount": {"type": "string"},
            "currency": {"type": "string"},
            "state": {
                "type": "string",
                "enum": [
                    "waiting_for_scan",
                    "processing",
                    "paid",
                    "declined",
                    "closed",
                    "cancelled",
                    "unresolved",
                    "failed",
                ],
            },
            "final": {"type": "boolean"},
            "status": {**_NULLABLE_STRING, "description": "the gateway status (SUCCESS, PROCESSING, …)"},
            "wallet": _NULLABLE_STRING,
            "wallet_label": _NULLABLE_STRING,
            "code": {**_NULLABLE_STRING, "description": "the payment code, masked"},
            "transaction_id": _NULLABLE_STRING,
            "refunded": {"type": "string"},
            "error": {
                "type": ["object", "null"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "cancel_requested": {"type": "boolean"},
            "created_at": _TIME,
            "updated_at": _TIME,
            "deadline_at": _TIME,
        },
    },
    "PaymentList": {
        "type": "object",
        "required": ["payments"],
        "properties": {"payments": {"type": "array", "items": {"$ref": "#/components/schemas/Payment"}}},
    },
    "Refund": {
        "type": "object",
        "required": ["reference", "refund_id", "amount", "currency", "status", "refunded"],
        "properties": {
            "reference": {"type": "string"},
            "refund_id": _NULLABLE_STRING,
            "amount": {"type": "string"},
            "currency": {"type": "string"},
            "status": {"type": "string"},
            "refunded": {"type": "string", "description": "total refunded on the payment"},
        },
    },
    "Lane": {
        "type": "object",
        "required": ["name", "scanner", "scanner_state", "last_scan_at", "busy", "payment", "counts", "scanner_stats"],
        "properties": {
            "name": {"type": "string"},
            "scanner": _NULLABLE_STRING,
            "scanner_state": {"type": "string", "enum": ["none", "open", "gone", "reopening", "closed"]},
            "scanner_error": _NULLABLE_STRING,
            "last_scan_at": _TIME,
            "busy": {"type": "boolean"},
            "payment": _NULLABLE_STRING,
            "counts": {
                "type": "object",
                "description": "payments this lane ended, by final state, since the bridge started",
                "additionalProperties": {"type": "integer"},
            },
            "scanner_stats": {
                "description": "the scanner's health and statistics (null for a lane without a scanner)",
                "oneOf": [{"$ref": "#/components/schemas/ScannerStats"}, {"type": "null"}],
            },
        },
    },
    "ScannerStats": {
        "type": "object",
        "description": (
            "Health and statistics of a lane's scanner since the bridge started (UnifiedPOS CheckHealth / "
            "RetrieveStatistics): paycode.supervisor.ScannerStats"
        ),
        "required": [
            "scanner",
            "state",
            "healthy",
            "scans",
            "repeats",
            "discarded",
            "discarded_total",
            "errors",
            "losses",
            "reconnects",
            "feedback",
            "feedback_kinds",
            "last_error",
            "opened_at",
            "last_scan",
            "last_seen",
        ],
        "properties": {
            "scanner": {"type": "string", "description": "the scanner URL, passwords hidden"},
            "state": {"type": "string", "enum": ["open", "waiting", "ended", "closed"]},
            "healthy": {"type": "boolean", "description": "true while the scanner is open"},
            "scans": {"type": "integer", "description": "scans delivered"},
            "repeats": {"type": "integer", "description": "repeats of the same code suppressed"},
            "discarded": {
                "type": "object",
                "description": "input discarded, by kind (garbage, overlong, empty, …: docs/scanners.md)",
                "additionalProperties": {"type": "integer"},
            },
            "discarded_total": {"type": "integer"},
            "errors": {"type": "integer", "description": "plugin failures other than discards"},
            "losses": {"type": "integer", "description": "times the device vanished or failed to reopen"},
            "reconnects": {"type": "integer", "description": "times it came back"},
            "feedback": {"type": "integer", "description": "feedback signals sent (good read, bad read, …)"},
            "feedback_kinds": {"type": "array", "items": {"type": "string"}},
            "last_error": _NULLABLE_STRING,
            "opened_at": _TIME,
            "last_scan": _TIME,
            "last_seen": _TIME,
        },
    },
    "LaneList": {
        "type": "object",
        "required": ["lanes"],
        "properties": {"lanes": {"type": "array", "items": {"$ref": "#/components/schemas/Lane"}}},
    },
    "Ticket": {
        "type": "object",
        "required": ["ticket", "expires_in"],
        "properties": {"ticket": {"type": "string"}, "expires_in": {"type": "integer"}},
    },
    "Health": {
        "type": "object",
        "required": ["status", "lanes", "draining"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "lanes": {"type": "integer"},
            "draining": {"type": "boolean"},
        },
    },
    "Messages": {
        "type": "object",
        "description": "language -> message key -> text",
        "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
