"""Value objects: validation with clear messages, masking in repr and JSON, payment history."""

from __future__ import annotations

import pytest
from paycode import (
    Candidate,
    Classification,
    CodeFormatError,
    CodePattern,
    ConfigError,
    Event,
    Money,
    Payment,
    PaymentStatus,
    PollingPolicy,
    Scan,
    WalletType,
)

CODE = "130000000000001234"


def wallet(**overrides: object) -> WalletType:
    fields: dict[str, object] = {
        "name": "Test-Offline",
        "patterns": [CodePattern([18], ["13"])],
        "currencies": {"CNY"},
        "polling": PollingPolicy(1.0, 10.0),
    }
    fields.update(overrides)
    return WalletType(**fields)  # type: ignore[arg-type]


def test_scan_repr_and_masked_hide_the_code() -> None:
    scan = Scan(raw=CODE.encode() + b"\r", text=CODE, source="replay:///x")
    assert CODE not in repr(scan)
    assert scan.masked() == "1300**********1234"
    assert scan.time > 0


def test_code_pattern_mismatch_names_the_problem() -> None:
    pattern = CodePattern([18, 16, 18], ["13", "160"])
    assert pattern.lengths == (16, 18)
    assert pattern.mismatch(CODE) is None
    assert pattern.mismatch("1300") == "length 4, expected 16 or 18 digits"
    assert pattern.mismatch("990000000000000000") == "prefix 990…, expected 13/160"
    assert pattern.mismatch("13000000000000000a") == "characters: only ASCII digits 0-9 are accepted"
    assert CodePattern(range(16, 25), ["25"]).mismatch("25") == "length 2, expected 16-24 digits"


def test_code_pattern_make_builds_codes_with_an_ending() -> None:
    pattern = CodePattern([18], ["13"])
    assert pattern.make("001") == "130000000000000001"
    assert pattern.mismatch(pattern.make("42")) is None
    with pytest.raises(CodeFormatError, match="does not fit"):
        pattern.make("1" * 17)


@pytest.mark.parametrize(
    ("lengths", "prefixes", "fragment"),
    [([], ["13"], "lengths"), ([0], ["13"], "lengths"), ([18], [], "prefixes"), ([18], ["1a"], "prefixes")],
)
def test_code_pattern_rejects_bad_definitions(lengths: list[int], prefixes: list[str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        CodePattern(lengths, prefixes)


def test_wallet_type_validation_and_payload() -> None:
    test_wallet = wallet(display_name="Test Pay")
    assert test_wallet.label == "Test Pay"
    assert test_wallet.payment_method(CODE) == {"type": "Test-Offline", "scanCodeId": CODE}
    assert test_wallet.accepts(CODE)
    assert test_wallet.mismatch("1300") == "length 4, expected 18 digits"
    with pytest.raises(ConfigError, match="wallet name"):
        wallet(name="Test Offline")
    with pytest.raises(ConfigError, match="no code pattern"):
        wallet(patterns=[])
    with pytest.raises(ConfigError, match="ISO 4217"):
        wallet(currencies={"CNY", "yuan"})


def test_wallet_mismatch_prefers_the_prefix_complaint() -> None:
    two = wallet(patterns=[CodePattern([16], ["13"]), CodePattern([18], ["15"])])
    assert two.mismatch(CODE) == "prefix 13…, expected 15"


def test_polling_policy_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="positive"):
        PollingPolicy(0, 10)
    with pytest.raises(ConfigError, match="must not exceed"):
        PollingPolicy(20, 10)


def test_classification_json_masks_the_code() -> None:
    result = Classification(CODE, "none", reason="x", cause="pattern")
    data = result.as_json()
    assert data["code"] == "1300**********1234"
    assert data["length"] == 18
    assert CODE not in repr(result)
    assert data["cause"] == "pattern"


def test_candidate_defaults() -> None:
    assert Candidate("Wechat-Offline") == Candidate("Wechat-Offline", source="patterns", override=False)


def test_payment_status_is_text_and_knows_final_states() -> None:
    assert str(PaymentStatus.SUCCESS) == "SUCCESS"
    assert PaymentStatus("PROCESSING") is PaymentStatus.PROCESSING
    assert {s for s in PaymentStatus if s.final} == {PaymentStatus.SUCCESS, PaymentStatus.CLOSED, PaymentStatus.CANCEL}


def test_payment_history_records_every_move() -> None:
    payment = Payment("order-1", Money("1.00", "CNY"), "Wechat-Offline", "1300**********1234")
    payment.move(PaymentStatus.PROCESSING, "password")
    payment.move(PaymentStatus.SUCCESS)
    assert payment.status is PaymentStatus.SUCCESS
    assert [t.status for t in payment.history] == [PaymentStatus.PROCESSING, PaymentStatus.SUCCESS]
    assert payment.history[0].note == "password"


def test_event_json() -> None:
    event = Event("scan", {"text": "1300**********1234"}, order_id="o-1")
    data = event.as_json()
    assert data["event"] == "scan"
    assert data["order"] == "o-1"
    assert data["text"] == "1300**********1234"


def test_a_wallet_names_every_prefix_of_the_right_length() -> None:
    wallet = WalletType(
        "Split-Offline",
        [CodePattern([18], ("13", "10")), CodePattern([18], ("160",)), CodePattern([19], ("62",))],
        {"CNY"},
        PollingPolicy(5.0, 30.0),
    )
    assert wallet.mismatch("990000000000000001") == "prefix 990…, expected 10/13/160"
    assert wallet.mismatch("99000000000000000") == "length 17, expected 18 or 19 digits"
    assert wallet.mismatch("13000000000000000a") == "characters: only ASCII digits 0-9 are accepted"
    assert wallet.mismatch("160000000000000001") is None
