# ruff: noqa: RUF001  (the catalogue holds Chinese text with full-width punctuation on purpose)
"""The cashier-facing message catalogue: every text a cashier reads, in 简体中文, 繁體中文 and English.

One catalogue serves the bridge's cashier page (exported as JSON at ``/v1/messages``) and
the command line where their texts overlap (the ``cli_*`` keys and the page's ``scan``,
``password`` and ``cancelling``; the command line's language: :func:`cli_language`). A
message is looked up by key and language; ``{name}`` placeholders are filled from keyword arguments::

    from paycode.messages import message, negotiate

    lang = negotiate("zh-TW,zh;q=0.9,en;q=0.5")      # "zh-Hant"
    message("paid", lang, amount="12.50 CNY")        # "已付款 12.50 CNY"

An unknown key raises KeyError (a programming error, found by the tests); an unknown
language falls back to English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CATALOGUE",
    "CLI_SHARES",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_VARIABLES",
    "catalogue",
    "cli_language",
    "message",
    "negotiate",
]

#: the languages of the catalogue, as BCP 47 tags
LANGUAGES: tuple[str, ...] = ("zh-Hans", "zh-Hant", "en")
DEFAULT_LANGUAGE = "en"

#: key -> language -> text. Every key has every language (tests/bridge/test_messages.py checks it).
CATALOGUE: Mapping[str, Mapping[str, str]] = {
    "title": {"zh-Hans": "扫码收款", "zh-Hant": "掃碼收款", "en": "Payment code checkout"},
    "lane": {"zh-Hans": "收银台", "zh-Hant": "收銀台", "en": "Lane"},
    "token": {"zh-Hans": "访问令牌", "zh-Hant": "存取權杖", "en": "Access token"},
    "amount": {"zh-Hans": "金额", "zh-Hant": "金額", "en": "Amount"},
    "currency": {"zh-Hans": "币种", "zh-Hant": "幣種", "en": "Currency"},
    "start": {"zh-Hans": "收款", "zh-Hant": "收款", "en": "Take payment"},
    "cancel": {"zh-Hans": "取消", "zh-Hant": "取消", "en": "Cancel"},
    "refund": {"zh-Hans": "退款", "zh-Hant": "退款", "en": "Refund"},
    "new_sale": {"zh-Hans": "下一笔", "zh-Hant": "下一筆", "en": "Next sale"},
    "idle": {"zh-Hans": "请输入金额", "zh-Hant": "請輸入金額", "en": "Enter the amount"},
    "scan": {
        "zh-Hans": "请扫描顾客的付款码",
        "zh-Hant": "請掃描顧客的付款碼",
        "en": "Scan the shopper's payment code",
    },
    "scanned": {"zh-Hans": "已扫码：{wallet}", "zh-Hant": "已掃碼：{wallet}", "en": "Scanned: {wallet}"},
    "sending": {"zh-Hans": "正在提交支付…", "zh-Hant": "正在提交支付…", "en": "Sending the payment…"},
    "password": {
        "zh-Hans": "等待顾客输入密码（剩余 {seconds} 秒）",
        "zh-Hant": "等待顧客輸入密碼（剩餘 {seconds} 秒）",
        "en": "Waiting for the shopper's password ({seconds} s left)",
    },
    "paid": {"zh-Hans": "已付款 {amount}", "zh-Hant": "已付款 {amount}", "en": "Paid {amount}"},
    "declined": {
        "zh-Hans": "支付被拒绝，请顾客换一个付款码",
        "zh-Hant": "支付被拒絕，請顧客換一個付款碼",
        "en": "Declined: ask the shopper for a fresh code",
    },
    "closed": {
        "zh-Hans": "订单已关闭，未扣款",
        "zh-Hant": "訂單已關閉，未扣款",
        "en": "Closed: the shopper was not charged",
    },
    "cancelled": {"zh-Hans": "已取消", "zh-Hant": "已取消", "en": "Cancelled"},
    "cancelling": {
        "zh-Hans": "正在关闭订单…",
        "zh-Hant": "正在關閉訂單…",
        "en": "Closing the order…",
    },
    "unresolved": {
        "zh-Hans": "结果未确认，已记录，稍后自动核对",
        "zh-Hant": "結果未確認，已記錄，稍後自動核對",
        "en": "Outcome not known yet: journaled, it will be settled automatically",
    },
    "failed": {"zh-Hans": "未能收款：{error}", "zh-Hant": "未能收款：{error}", "en": "Not charged: {error}"},
    "refunded": {"zh-Hans": "已退款 {amount}", "zh-Hant": "已退款 {amount}", "en": "Refunded {amount}"},
    "refund_failed": {
        "zh-Hans": "退款失败：{error}",
        "zh-Hant": "退款失敗：{error}",
        "en": "Refund failed: {error}",
    },
    "receipt": {"zh-Hans": "收据", "zh-Hant": "收據", "en": "Receipt"},
    "order": {"zh-Hans": "订单号", "zh-Hant": "訂單號", "en": "Order"},
    "wallet": {"zh-Hans": "钱包", "zh-Hant": "錢包", "en": "Wallet"},
    "code": {"zh-Hans": "付款码", "zh-Hant": "付款碼", "en": "Code"},
    "transaction": {"zh-Hans": "交易号", "zh-Hant": "交易號", "en": "Transaction"},
    "connection_lost": {
        "zh-Hans": "与收款服务的连接中断，正在重连…",
        "zh-Hant": "與收款服務的連接中斷，正在重連…",
        "en": "Connection to the payment service lost; reconnecting…",
    },
    "scanner_open": {"zh-Hans": "扫码枪已连接", "zh-Hant": "掃碼槍已連接", "en": "Scanner connected"},
    "scanner_gone": {
        "zh-Hans": "扫码枪已断开，正在重连",
        "zh-Hant": "掃碼槍已斷開，正在重連",
        "en": "Scanner disconnected; reconnecting",
    },
    "busy": {
        "zh-Hans": "此收银台正在收款",
        "zh-Hant": "此收銀台正在收款",
        "en": "This lane is already taking a payment",
    },
    "bad_amount": {
        "zh-Hans": "金额格式不正确，例如 12.50",
        "zh-Hant": "金額格式不正確，例如 12.50",
        "en": "The amount is not valid; write it like 12.50",
    },
    # the command line's cashier lines (paycode pay / demo / refund step lines). Their English is the text the
    # CLI always printed (scripts and docs rely on it); the Chinese opens with the page's text of the same moment
    # (cli_paid with "paid", cli_declined with "declined", …: tests/bridge/test_messages.py checks it)
    "cli_paid": {
        "zh-Hans": "已付款 {amount}，订单号 {order}，交易号 {transaction}",
        "zh-Hant": "已付款 {amount}，訂單號 {order}，交易號 {transaction}",
        "en": "PAID {amount} order {order} transaction {transaction}",
    },
    "cli_declined": {
        "zh-Hans": "支付被拒绝，请顾客换一个付款码（{status}，订单号 {order}）",
        "zh-Hant": "支付被拒絕，請顧客換一個付款碼（{status}，訂單號 {order}）",
        "en": "NOT PAID ({status}) order {order}; ask for a fresh code",
    },
    "cli_closed": {
        "zh-Hans": "订单已关闭，未扣款（{status}，订单号 {order}）；请顾客换一个付款码",
        "zh-Hant": "訂單已關閉，未扣款（{status}，訂單號 {order}）；請顧客換一個付款碼",
        "en": "NOT PAID ({status}) order {order}; ask for a fresh code",
    },
    "cli_unresolved": {
        "zh-Hans": "结果未确认，已记录，稍后自动核对（{status}，订单号 {order}）；若顾客其实已付款，将自动退款",
        "zh-Hant": "結果未確認，已記錄，稍後自動核對（{status}，訂單號 {order}）；若顧客其實已付款，將自動退款",
        "en": "UNRESOLVED ({status}) order {order}: journaled; recovery will settle it (a late success is refunded)",
    },
    "cli_closing": {
        "zh-Hans": "正在关闭订单…（{reason}）",
        "zh-Hant": "正在關閉訂單…（{reason}）",
        "en": "closing: {reason}",
    },
    "cli_refunded": {
        "zh-Hans": "已退款 {amount} {currency}（{status}）",
        "zh-Hant": "已退款 {amount} {currency}（{status}）",
        "en": "done {amount} {currency} {status}",
    },
}

#: the command line's keys and the page's key each one shares its wording with (in Chinese; see above)
CLI_SHARES: Mapping[str, str] = {
    "cli_paid": "paid",
    "cli_declined": "declined",
    "cli_closed": "closed",
    "cli_unresolved": "unresolved",
    "cli_closing": "cancelling",
    "cli_refunded": "refunded",
}


def negotiate(accept_language: str | None) -> str:
    """The catalogue language for an ``Accept-Language`` header (or one tag such as ``zh-TW``).

    Traditional Chinese for ``zh-Hant``, ``zh-TW``, ``zh-HK`` and ``zh-MO``; Simplified for any other
    ``zh``; English for ``en`` and anything else. Quality values order the choices.
    """
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            choices.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(choices):
        found = _language_of(tag)
        if found is not None:
            return found
    return DEFAULT_LANGUAGE


def _language_of(tag: str) -> str | None:
    parts = tag.replace("_", "-").split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] != "zh":
        return None
    rest = set(parts[1:])
    if rest & {"hant", "tw", "hk", "mo"}:
        return "zh-Hant"
    return "zh-Hans"


#: the environment variables the command line takes its language from, first set first
LANGUAGE_VARIABLES: tuple[str, ...] = ("PAYCODE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")


def cli_language(environ: Mapping[str, str] | None = None) -> str:
    """The catalogue language of the command line's cashier lines, from the environment.

    ``PAYCODE_LANG`` first (``zh-Hans``, ``zh-Hant``, ``en``, or a locale name such as
    ``zh_TW.UTF-8``), then the POSIX locale variables in their order of precedence
    (``LC_ALL``, ``LC_MESSAGES``, ``LANG``): ``zh_CN``, ``zh_SG`` and plain ``zh`` give
    ``zh-Hans``; ``zh_TW``, ``zh_HK``, ``zh_MO`` give ``zh-Hant``; anything else (``C``,
    ``en_US.UTF-8``, ``fr_FR``) gives English, the default. A ``PAYCODE_LANG`` naming no
    language of the catalogue is a :class:`~paycode.errors.ConfigError` (it was asked for
    explicitly); a locale paycode does not speak is English, as a program without that
    translation does.
    """
    env = os.environ if environ is None else environ
    chosen = env.get("PAYCODE_LANG", "").strip()
    if chosen:
        found = _language_of(_locale_tag(chosen))
        if found is None:
            from .errors import ConfigError

            raise ConfigError(
                f"PAYCODE_LANG {chosen!r} is not a language of paycode's messages; accepted: "
                f"{', '.join(LANGUAGES)}, or a locale name such as zh_CN.UTF-8, zh_TW, en_US"
            )
        return found
    for name in LANGUAGE_VARIABLES[1:]:
        value = env.get(name, "").strip()
        if value:  # the first one set decides, as in setlocale(3)
            return _language_of(_locale_tag(value)) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _locale_tag(value: str) -> str:
    """``zh_TW.UTF-8@stroke`` -> ``zh-tw``: the language and territory of a locale name, as a lower-case tag."""
    return value.partition(".")[0].partition("@")[0].replace("_", "-").lower()


def message(key: str, language: str = DEFAULT_LANGUAGE, **values: Any) -> str:
    """The text of ``key`` in ``language`` (English when the language is unknown), placeholders filled."""
    texts = CATALOGUE[key]
    text = texts.get(language) or texts[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def catalogue() -> dict[str, dict[str, str]]:
    """The catalogue as plain JSON-able data, language -> key -> text (what the cashier page loads)."""
    return {lang: {key: texts[lang] for key, texts in CATALOGUE.items()} for lang in LANGUAGES}
