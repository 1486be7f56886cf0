"""The cashier message catalogue: complete in every language, placeholders alike, language negotiation."""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st
from paycode.messages import CATALOGUE, CLI_SHARES, LANGUAGES, catalogue, message, negotiate


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_has_every_language_with_the_same_placeholders() -> None:
    for key, texts in CATALOGUE.items():
        assert set(texts) == set(LANGUAGES), key
        assert all(t.strip() for t in texts.values()), key
        assert len({frozenset(placeholders(t)) for t in texts.values()}) == 1, key


def test_the_chinese_texts_are_in_their_scripts() -> None:
    # a few characters that differ between the scripts: none of the simplified ones in zh-Hant and back
    simplified, traditional = "币额请码扫钱订单枪连断笔据", "幣額請碼掃錢訂單槍連斷筆據"
    for key, texts in CATALOGUE.items():
        assert not set(texts["zh-Hant"]) & set(simplified), key
        assert not set(texts["zh-Hans"]) & set(traditional), key
        assert re.search(r"[A-Za-z]", texts["en"]), key


def test_lookup_and_export() -> None:
    assert message("paid", "zh-Hans", amount="12.50 CNY") == "已付款 12.50 CNY"
    assert message("password", "en", seconds=12) == "Waiting for the shopper's password (12 s left)"
    assert message("cancel", "fr") == "Cancel"
    exported = catalogue()
    assert set(exported) == set(LANGUAGES)
    assert exported["zh-Hant"]["scan"] == "請掃描顧客的付款碼"


def test_negotiation() -> None:
    assert negotiate("zh-TW,zh;q=0.9,en;q=0.5") == "zh-Hant"
    assert negotiate("zh-HK") == "zh-Hant"
    assert negotiate("zh-Hant-TW") == "zh-Hant"
    assert negotiate("zh-CN,zh;q=0.9") == "zh-Hans"
    assert negotiate("zh") == "zh-Hans"
    assert negotiate("en-GB,en;q=0.8") == "en"
    assert negotiate("fr-FR,zh-TW;q=0.5") == "zh-Hant"
    assert negotiate("de,en;q=0.1,zh;q=0.2") == "zh-Hans"
    assert negotiate("zh;q=0,en") == "en"
    assert negotiate(None) == negotiate("") == negotiate("fr") == "en"


@given(st.text(max_size=80))
def test_negotiation_never_fails(header: str) -> None:
    assert negotiate(header) in LANGUAGES


def test_the_command_lines_texts_share_the_pages_wording() -> None:
    # a cli_* key's Chinese opens with the page's text of the same moment; its English is the CLI's own text
    values = {"amount": "12.50 CNY", "order": "o-1", "transaction": "T1", "status": "FAILED", "reason": "deadline"}
    values |= {"currency": "CNY", "error": "x", "seconds": 3}
    for key, page_key in CLI_SHARES.items():
        assert key in CATALOGUE and page_key in CATALOGUE, key
        for language in ("zh-Hans", "zh-Hant"):
            page = message(page_key, language, **values).rstrip("…")
            cli = message(key, language, **values)
            if page_key == "refunded":
                page = message(page_key, language, amount="12.50 CNY")
                cli = message(key, language, **{**values, "amount": "12.50"})
            assert cli.startswith(page), (key, language, cli, page)
    assert (
        message("cli_paid", "en", amount="12.50 CNY", order="o", transaction="T")
        == "PAID 12.50 CNY order o transaction T"
    )
