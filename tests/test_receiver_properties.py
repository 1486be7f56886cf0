"""Properties of the notification parser and handler (hypothesis): whatever arrives, the answer is a verdict with
a reason, never an exception; only a plain decimal amount, a known notifyType and a status known for it pass."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paycode import Money, PaymentStatus
from paycode.errors import MessageError, SignatureError
from paycode.gateway import Credentials
from paycode.journal import Journal
from paycode.notifications import NOTIFY_STATUSES, NotificationHandler, parse_notification
from paycode.plugins.signers import SHA256
from paycode.signing import signed

CREDS = Credentials("acc-prop", "client-prop", "salt-prop-0123")
SIGNERS = {"SHA256": SHA256}
PLAIN = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def envelope(text: str) -> bytes:
    message = {"accId": CREDS.acc_id, "clientId": CREDS.client_id, "version": "1.0", "bizContent": text}
    return json.dumps(signed(message, CREDS.salt, SHA256)).encode()


def biz_text(amount_json: str, *, status: str = "SUCCESS", kind: str = "RECHARGE") -> str:
    head = json.dumps({"notifyType": kind, "merchantTransactionId": "o-1", "currency": "CNY", "status": status})
    return head[:-1] + f', "amount": {amount_json}}}'


json_numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(lambda d: f"{d:f}"),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999), st.integers(-30, 30)),
    st.builds(lambda m, e: f"{m}.5E{e}", st.integers(0, 999), st.integers(-5, 5)),
)
amount_texts = st.one_of(
    st.text(alphabet="0123456789.eE+- ,", max_size=14),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(lambda d: f"{d:f}"),
    st.sampled_from(["10.000000", "10", "0.01", "1e1", "1E1", "NaN", "Infinity", "-0", "", " 10", "10 "]),
)
amount_values = st.one_of(
    json_numbers,
    amount_texts.map(json.dumps),
    st.sampled_from(["null", "true", "false", "[]", "{}", '["10"]', '{"value": 10}']),
)


@given(amount=amount_values)
@settings(max_examples=300, deadline=None)
def test_an_amount_passes_only_as_a_plain_non_negative_decimal(amount: str) -> None:
    try:
        note = parse_notification(envelope(biz_text(amount)), credentials=CREDS, signers=SIGNERS)
    except MessageError as exc:
        assert "amount" in str(exc)
        return
    raw = json.loads(amount) if amount.startswith('"') else amount
    assert isinstance(raw, str) and PLAIN.match(raw.strip() if isinstance(raw, str) else ""), amount
    assert note.amount == Decimal(raw) and note.amount >= 0


@given(kind=st.sampled_from(sorted(NOTIFY_STATUSES)), status=st.text(min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_a_status_passes_only_when_known_for_its_kind(kind: str, status: str) -> None:
    text = biz_text('"10.00"', status=status, kind=kind)
    try:
        note = parse_notification(envelope(text), credentials=CREDS, signers=SIGNERS)
    except MessageError as exc:
        assert status.upper() not in NOTIFY_STATUSES[kind] or not status.strip(), (kind, status)
        assert "status" in str(exc) or "lacks" in str(exc)
        return
    assert note.status in NOTIFY_STATUSES[kind]


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("prop") / "journal.sqlite3"
    journal = Journal(path)
    journal.begin_order(
        "o-1",
        money=Money("10.00", "CNY"),
        wallet="Wechat-Offline",
        code_masked="1300**********0001",
        lane="lane-1",
        deadline_at=time.time() + 60,
    )
    journal.set_state("o-1", PaymentStatus.PROCESSING)
    yield NotificationHandler(journal, credentials=CREDS, signers=SIGNERS)
    journal.close()


bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=8)), max_size=6).map(
        lambda d: json.dumps(d).encode()
    ),
    st.text(max_size=200).map(lambda t: envelope(t)),  # signed, but any bizContent text at all
)


@given(body=bodies)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_body_gets_a_verdict_with_a_reason_and_changes_nothing(handler: NotificationHandler, body: bytes) -> None:
    result = handler.handle(body)
    assert result.http_status in (400, 401, 404), result
    assert result.outcome == "rejected" and result.error
    record = handler.journal.order("o-1")
    assert record is not None and record.status is PaymentStatus.PROCESSING


def test_the_signature_is_checked_before_anything_else() -> None:
    message = json.loads(envelope(biz_text('"10.00"')))
    message["sign"] = "0" * 64
    with pytest.raises(SignatureError, match="does not verify"):
        parse_notification(json.dumps(message).encode(), credentials=CREDS, signers=SIGNERS)
