"""Which wallet does a normalised code belong to: exactly one, none (and why), or ambiguous (and what decides).

Candidates are every registered wallet whose patterns accept the code, plus the answers
of ``paycode_classify`` implementations (an ``override`` candidate replaces the pattern
ones). They are then filtered by the merchant's enabled wallets and the sale currency;
``prefer`` breaks a remaining tie. Only ASCII digits are digits: a full-width or Arabic
digit is a wrong character, not a digit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .models import Candidate, Classification, ClassifyContext, WalletType

__all__ = ["character_problem", "classify"]


def character_problem(code: str) -> str | None:
    """None when ``code`` is made of ASCII digits only; otherwise what is wrong with its characters."""
    if not code:
        return "the code is empty; a payment code is ASCII digits 0-9"
    if code.isascii() and code.isdigit():
        return None
    kinds = []
    if any(c.isalpha() for c in code):
        kinds.append("letters")
    if any(c.isnumeric() and not c.isascii() for c in code):
        kinds.append("non-ASCII digits (full-width or other scripts)")
    if any(c.isspace() for c in code):
        kinds.append("spaces")
    if any(not (c.isalnum() or c.isspace()) for c in code):
        kinds.append("punctuation or symbols")
    return f"characters: the code holds {' and '.join(kinds)}; only ASCII digits 0-9 are accepted"


def _names(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def classify(
    code: str,
    wallets: Mapping[str, WalletType],
    context: ClassifyContext | None = None,
    extra: Iterable[Candidate] = (),
) -> Classification:
    """Classify ``code`` among ``wallets`` (by name); ``extra`` are the ``paycode_classify`` candidates.

    Never raises for a bad code: the answer's status is ``none`` with the reason.
    """
    context = context or ClassifyContext()
    problem = character_problem(code)
    if problem is not None:
        return Classification(code, "none", reason=problem, cause="empty" if not code else "characters")
    if not wallets:
        return Classification(
            code,
            "none",
            reason="no wallet plugin is installed or enabled; `paycode plugins` lists what loaded",
            cause="no_wallets",
        )

    extra = list(extra)
    overrides = [c.wallet for c in extra if c.override]
    additions = [c.wallet for c in extra if not c.override]
    by_patterns = [w.name for w in wallets.values() if w.accepts(code)]
    matched = [n for n in _unique([*(overrides or by_patterns), *additions]) if n in wallets]
    if not matched:
        details = "; ".join(f"{w.name}: {w.mismatch(code)}" for w in wallets.values())
        return Classification(code, "none", reason=f"no wallet accepts this code ({details})", cause="pattern")

    enabled = [n for n in matched if context.enabled is None or n in context.enabled]
    remaining = [n for n in enabled if context.currency is None or context.currency in wallets[n].currencies]
    if not remaining:
        return _none_after_filters(code, matched, wallets, context)
    if len(remaining) == 1:
        return _one(code, wallets[remaining[0]], "accepted by " + ("a plugin" if overrides else "its patterns"))
    for name in context.prefer:
        if name in remaining:
            return _one(code, wallets[name], f"chosen by prefer_wallets among {_names(remaining)}")
    return Classification(
        code,
        "ambiguous",
        candidates=tuple(remaining),
        reason=_what_decides(remaining, wallets, context),
        cause="ambiguous",
    )


def _one(code: str, wallet: WalletType, how: str) -> Classification:
    return Classification(code, "one", wallet=wallet, candidates=(wallet.name,), reason=f"{wallet.name}, {how}")


def _none_after_filters(
    code: str, matched: list[str], wallets: Mapping[str, WalletType], context: ClassifyContext
) -> Classification:
    disabled = [n for n in matched if context.enabled is not None and n not in context.enabled]
    parts = [f"{_names(disabled)} {'is' if len(disabled) == 1 else 'are'} not enabled"] if disabled else []
    for name in matched:
        if name not in disabled:
            parts.append(f"{name} takes {'/'.join(sorted(wallets[name].currencies))}, not {context.currency}")
    cause = "disabled" if len(disabled) == len(matched) else "currency"
    hint = ""
    if cause == "disabled" and context.enabled is not None:
        enabled = ", ".join(sorted(context.enabled)) or "none"
        hint = f" (enabled wallets: {enabled}; setting wallets / PAYCODE_WALLETS)"
    return Classification(
        code,
        "none",
        candidates=tuple(matched),
        reason=f"the code matches {_names(matched)}, but {'; '.join(parts)}{hint}",
        cause=cause,
    )


def _what_decides(remaining: list[str], wallets: Mapping[str, WalletType], context: ClassifyContext) -> str:
    hints = []
    if context.currency is None:
        currencies = sorted({c for n in remaining for c in wallets[n].currencies})
        deciding = [c for c in currencies if sum(c in wallets[n].currencies for n in remaining) == 1]
        if deciding:
            hints.append(f"give the sale currency (--currency {' or '.join(deciding)})")
    hints.append(f"enable only one of {_names(remaining)} (setting wallets / PAYCODE_WALLETS)")
    hints.append("name one first in prefer_wallets / PAYCODE_PREFER_WALLETS")
    both = "both" if len(remaining) == 2 else "all"
    where = ""
    if context.currency:
        where = f" in {context.currency} ({both} take {context.currency}, so the currency cannot decide)"
    return f"{_names(remaining)} {both} accept this code{where}; to decide, " + ", or ".join(hints)
