"""The sandbox's table of test codes: a payment's scenario comes from the last digits of its code.

The table is fixed (docs/sandbox.md lists it); every wallet type, a
third-party one included, gets test codes from its first code pattern.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..errors import CodeFormatError
from ..models import WalletType

__all__ = ["ALL_SCENARIOS", "EFFECTS", "RESULT_SCENARIOS", "SCENARIOS", "Scenario", "scenario_codes", "scenario_for"]


#: what a result-code scenario does: nothing committed, a declined order, or an unknown outcome behind the code
EFFECTS = ("refused", "declined", "unknown_paid", "unknown_open")


@attrs.frozen
class Scenario:
    """One row of the table: codes ending with ``ending`` behave as ``name`` says.

    A result-code scenario answers unifiedPay with ``result_code`` and does what ``effect`` says
    (one of :data:`EFFECTS`); the others have neither.
    """

    name: str
    ending: str
    behaviour: str
    result_code: str | None = None
    effect: str | None = None
    description: str = ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("success", "001", "unifiedPay answers SUCCESS (code 000000)"),
    Scenario("decline", "002", "unifiedPay answers code 301002, status FAILED"),
    Scenario(
        "password_then_success",
        "003",
        "unifiedPay answers PROCESSING (002000); the first 2 queries answer PROCESSING, then SUCCESS",
    ),
    Scenario(
        "password_timeout",
        "004",
        "PROCESSING until the request's timeExpire (or the sandbox's own close after 180 s), then CLOSED",
    ),
    Scenario("gateway_error", "005", "unifiedPay answers HTTP 500 (nothing committed)"),
    Scenario(
        "slow_commit",
        "006",
        "the payment commits SUCCESS at once, but the answer is sent only after slow_seconds (default 3 s)",
    ),
    Scenario(
        "late_success",
        "007",
        "PROCESSING; the shopper confirms password_seconds (default 1 s) after the request: SUCCESS then, "
        "unless the order's timeExpire came first (then CLOSED)",
    ),
)


def _result(code: str, effect: str, description: str) -> Scenario:
    status = {
        "refused": "status FAILED, nothing committed (a query answers 107001)",
        "declined": "status FAILED, the order FAILED (notified; a new attempt is allowed)",
        "unknown_paid": "no status; the payment went through behind the answer (queries answer SUCCESS)",
        "unknown_open": "no status; the order stays PROCESSING until its timeExpire (queries answer CLOSED then)",
    }[effect]
    return Scenario(
        f"code_{code}", "9" + code, f"unifiedPay answers {code} ({description}): {status}", code, effect, description
    )


#: one scenario per result-code family of the documentation's code list; the code ends with 9 and the result code
RESULT_SCENARIOS: tuple[Scenario, ...] = (
    _result("101000", "refused", "merchant or account state"),
    _result("102000", "refused", "bad parameter"),
    _result("103000", "refused", "authentication failed"),
    _result("104000", "refused", "invalid signature"),
    _result("105000", "refused", "transaction invalid or expired"),
    _result("106000", "refused", "currency or amount not accepted"),
    _result("107000", "unknown_paid", "duplicated transaction"),
    _result("107001", "refused", "transaction does not exist"),
    _result("108000", "refused", "refused by the gateway (108xxx)"),
    _result("109000", "refused", "refused by the gateway (109xxx)"),
    _result("200000", "declined", "risk control"),
    _result("301002", "declined", "declined by the bank or wallet"),
    _result("301099", "declined", "declined by the bank or wallet"),
    _result("400000", "refused", "refused by the gateway (4xxxxx)"),
    _result("500000", "unknown_paid", "system error"),
    _result("600002", "unknown_open", "upstream timeout"),
)

ALL_SCENARIOS: tuple[Scenario, ...] = SCENARIOS + RESULT_SCENARIOS

_BY_ENDING = {s.ending: s for s in SCENARIOS}
_BY_RESULT_ENDING = {s.ending: s for s in RESULT_SCENARIOS}
_SUCCESS = _BY_ENDING["001"]


def scenario_for(code: str) -> Scenario:
    """The scenario of a payment code: its last seven digits when they are 9 and a result code of the table,
    else its last three; a code whose ending is in neither table succeeds."""
    return _BY_RESULT_ENDING.get(code[-7:]) or _BY_ENDING.get(code[-3:], _SUCCESS)


def scenario_codes(wallets: Iterable[WalletType]) -> list[dict[str, str]]:
    """The test codes: one ``{scenario, wallet, code}`` per scenario per wallet (wallets in name order).

    A scenario whose ending does not fit a wallet's shortest code is left out for that wallet.
    """
    rows = []
    for wallet in sorted(wallets, key=lambda w: w.name):
        for scenario in ALL_SCENARIOS:
            try:
                code = wallet.patterns[0].make(scenario.ending)
            except CodeFormatError:
                continue
            rows.append({"scenario": scenario.name, "wallet": wallet.name, "code": code})
    return rows
