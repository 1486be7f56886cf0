"""The result-code table against the sandbox's scenario table: the two are written by different hands and must agree.

Every result-code scenario of the sandbox (docs/sandbox.md) is paid through the real client: a refusal or a
decline comes back as a consistent, verified answer whose code means what the scenario says; an unknown outcome
never comes back as a verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paycode import Money, OutcomeUnknown, PaymentRequest, PaymentStatus
from paycode.bizcontent import new_order_id, new_request_id, pay_biz
from paycode.gateway import PAY, CodeMeaning, GatewayAnswer, answer_mismatch, code_meaning
from paycode.host import PluginHost
from paycode.sandbox import SandboxServer
from paycode.sandbox.scenarios import RESULT_SCENARIOS, Scenario

from .conftest import settings_for

EXPECTED = {
    "refused": {CodeMeaning.REFUSED, CodeMeaning.NOT_FOUND},
    "declined": {CodeMeaning.DECLINED},
    "unknown_paid": {CodeMeaning.UNKNOWN},
    "unknown_open": {CodeMeaning.UNKNOWN},
}


@pytest.mark.parametrize("scenario", RESULT_SCENARIOS, ids=lambda s: s.name)
def test_the_sandbox_scenarios_mean_what_the_code_table_says(scenario: Scenario) -> None:
    code, effect = scenario.result_code, scenario.effect
    assert code is not None and effect is not None
    assert code_meaning(code) in EXPECTED[effect], (code, effect)


@pytest.mark.parametrize("scenario", RESULT_SCENARIOS, ids=lambda s: s.name)
def test_each_result_code_through_the_client(scenario: Scenario, sandbox: SandboxServer, tmp_path: Path) -> None:
    settings = settings_for(sandbox, tmp_path)
    host = PluginHost(settings)
    wallet = host.wallets["Wechat-Offline"]
    money = Money("12.50", "CNY")
    request = PaymentRequest(
        money=money,
        wallet=wallet,
        code=wallet.patterns[0].make(scenario.ending),
        merchant_transaction_id=new_order_id(),
        request_id=new_request_id(),
    )
    effect = scenario.effect
    with host.gateway() as client:
        try:
            answer: GatewayAnswer | OutcomeUnknown = client.send(PAY, pay_biz(request))
        except OutcomeUnknown as exc:
            answer = exc
    if effect in ("refused", "declined"):
        assert isinstance(answer, GatewayAnswer), answer
        assert answer.code == scenario.result_code
        assert answer.status is PaymentStatus.FAILED
        assert code_meaning(answer.code) in EXPECTED[effect or ""]
        assert answer_mismatch(answer, order_id=request.merchant_transaction_id, money=money) is None
    else:  # never a verdict: either no answer to trust, or an answer whose code says "query"
        if isinstance(answer, GatewayAnswer):
            assert answer.status is None and code_meaning(answer.code) is CodeMeaning.UNKNOWN
        assert "mismatch" not in (answer.context if isinstance(answer, OutcomeUnknown) else {})
    assert request.code not in json.dumps(answer.as_json() if isinstance(answer, GatewayAnswer) else str(answer))
