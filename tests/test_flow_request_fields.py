"""The optional unifiedPay fields from Terminal.pay and the settings (issue 11 item 6, Terminal side), against the
documented gateway, which records exactly what it received."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import paycode
import pytest
from paycode import Event, OrderError, Settings, Terminal
from paycode.host import PluginHost
from paycode.terminal import outcome
from paycode.testing.docgateway import PAY, DocGateway

CODE = "130000000000000001"


@pytest.fixture
def gw() -> Iterator[DocGateway]:
    with DocGateway() as gateway:
        yield gateway


def settings_for(gw: DocGateway, tmp_path: Path, **overrides: Any) -> Settings:
    c = gw.credentials
    values: dict[str, Any] = {
        "gateway": gw.url,
        "acc_id": c.acc_id,
        "client_id": c.client_id,
        "salt": c.salt,
        "journal": str(tmp_path / "journal.sqlite3"),
        "read_timeout": 1.0,
        **overrides,
    }
    return Settings(**values)


def test_the_fields_given_to_pay_are_sent(gw: DocGateway, tmp_path: Path) -> None:
    with Terminal(settings_for(gw, tmp_path), recover=False) as t:
        p = t.pay(
            "12.00",
            "CNY",
            code=CODE,
            pay_result_url="https://shop.example/paid",
            remark="table 7",
            goods=[{"name": "tea", "quantity": 2, "price": Decimal("6.00")}],
            customer={"id": "c-42"},
            shopper_ip="192.0.2.10",
            trade_country="HK",
        )
    assert outcome(p) == "paid"
    ((_, biz),) = gw.requests(PAY)
    assert biz["payResultUrl"] == "https://shop.example/paid" and biz["remark"] == "table 7"
    assert biz["goods"] == [{"name": "tea", "quantity": 2, "price": Decimal("6.00")}]
    assert biz["customer"] == {"id": "c-42"} and biz["shopperIP"] == "192.0.2.10" and biz["tradeCountry"] == "HK"


def test_settings_give_defaults_and_arguments_win(gw: DocGateway, tmp_path: Path) -> None:
    s = settings_for(gw, tmp_path, pay_result_url="https://shop.example/result", trade_country="CN")
    with Terminal(s, recover=False) as t:
        t.pay("1.00", "CNY", code=CODE)
        t.pay("1.00", "CNY", code=CODE, trade_country="HK")
    (_, first), (_, second) = gw.requests(PAY)
    assert (first["payResultUrl"], first["tradeCountry"]) == ("https://shop.example/result", "CN")
    assert (second["payResultUrl"], second["tradeCountry"]) == ("https://shop.example/result", "HK")
    assert "remark" not in first and "goods" not in first and "shopperIP" not in first  # never invented


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("trade_country", "hk", "two capital letters"),
        ("shopper_ip", "not-an-ip", "IPv4 or IPv6"),
        ("remark", "a<b>", "<"),
        ("pay_result_url", "ftp://shop.example/x", "payResultUrl"),
        ("pay_result_url", "http://[::1/paid", r"payResultUrl 'http://\[::1/paid' is not a URL \(Invalid IPv6 URL\)"),
        ("goods", [], "non-empty list"),
    ],
)
def test_a_bad_field_is_refused_before_anything_is_sent(
    gw: DocGateway, tmp_path: Path, field: str, value: Any, why: str
) -> None:
    events: list[Event] = []

    class Recorder:
        @paycode.hookimpl
        def paycode_payment_event(self, event: Event) -> None:
            events.append(event)

    s = settings_for(gw, tmp_path)
    with Terminal(s, host=PluginHost(s, plugins=[Recorder()]), recover=False) as t:
        with pytest.raises(OrderError, match=why):
            t.pay("1.00", "CNY", code=CODE, **{field: value})
        assert t.journal.orders() == []
    assert gw.requests() == []
    assert [e.data["operation"] for e in events if e.kind == "payment.error"] == ["pay"]
