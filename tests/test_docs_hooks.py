"""docs/hooks.md: every hook with its exact signature; settings.md lists every setting.

The examples of these pages run with every other page's, in tests/test_docs.py (the one runner).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from paycode import hookspecs
from paycode.settings import ENV

DOCS = Path(__file__).resolve().parent.parent / "docs"
HOOKS_MD = (DOCS / "hooks.md").read_text(encoding="utf-8")
HOOK_HEADING = re.compile(r"^## `(paycode_\w+)\((.*)\)(?: -> (.*))?`$", re.MULTILINE)


def spec_signature(name: str) -> str:
    """``name(arg: Annotation, …) -> Return`` exactly as hookspecs.py writes it."""
    signature = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"{name}({params}) -> {signature.return_annotation}"


def documented() -> dict[str, str]:
    return {m.group(1): m.group(0)[4:-1] for m in HOOK_HEADING.finditer(HOOKS_MD)}


SPECS = sorted(name for name in dir(hookspecs) if name.startswith("paycode_"))


def test_there_are_six_hooks() -> None:
    assert len(SPECS) == 6


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_has_a_section_headed_by_its_exact_signature(name: str) -> None:
    sections = documented()
    assert name in sections, f"docs/hooks.md has no '## `{name}(…)`' section"
    assert sections[name] == spec_signature(name)


def test_no_section_for_a_hook_that_does_not_exist() -> None:
    assert sorted(documented()) == SPECS


def test_every_setting_and_variable_is_documented() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting, variable in ENV.items():
        assert f"`{setting}`" in text, setting
        assert f"`{variable}`" in text, variable
    for extra in ("PAYCODE_CONFIG", "PAYCODE_TRACE_PLUGINS", "PAYCODE_DEBUG"):
        assert f"`{extra}`" in text, extra


@pytest.mark.parametrize("command", ["plugins", "classify", "sign", "verify", "scan", "devices"])
def test_every_core_command_has_a_page(command: str) -> None:
    page = (DOCS / "commands" / f"{command}.md").read_text(encoding="utf-8")
    assert page.startswith(f"# paycode {command}\n")
    for part in ("Exit status", "## Examples"):
        assert part in page, f"docs/commands/{command}.md lacks {part!r}"
