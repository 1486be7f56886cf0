"""The sandbox's table of test codes: a payment's scenario comes from the last three digits of its code.

The table is fixed (docs/sandbox.md lists it); every wallet type, a
third-party one included, gets test codes from its first code pattern.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..models import WalletType

__all__ = ["SCENARIOS", "Scenario", "scenario_codes", "scenario_for"]


@attrs.frozen
class Scenario:
    """One row of the table: codes ending with ``ending`` behave as ``name`` says."""

    name: str
    ending: str
    behaviour: str


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
)

_BY_ENDING = {s.ending: s for s in SCENARIOS}
_SUCCESS = _BY_ENDING["001"]


def scenario_for(code: str) -> Scenario:
    """The scenario of a payment code; a code whose ending is not in the table succeeds."""
    return _BY_ENDING.get(code[-3:], _SUCCESS)


def scenario_codes(wallets: Iterable[WalletType]) -> list[dict[str, str]]:
    """The test codes: one ``{scenario, wallet, code}`` per scenario per wallet (wallets in name order)."""
    rows = []
    for wallet in sorted(wallets, key=lambda w: w.name):
        for scenario in SCENARIOS:
            code = wallet.patterns[0].make(scenario.ending)
            rows.append({"scenario": scenario.name, "wallet": wallet.name, "code": code})
    return rows
