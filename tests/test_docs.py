"""The documentation works: its Python examples run, its links resolve, every command and page is reachable.

- Every ```python block of docs/**/*.md and README.md runs (each in the test's temporary folder as
  its working directory, with no ``PAYCODE_*`` setting of the caller); a block right after a
  ``<!-- not-run -->`` line (a file shown for reading, which needs something installed) is only
  compiled. This is the one runner of documentation examples: :func:`python_blocks` finds them
  (also indented in a list item), :func:`run_example` runs one.
- Every relative link, and every ``docs/….md`` path named in the text, points at a file that exists;
  a link's ``#anchor`` names a heading of that file.
- Every command of ``paycode.cli.COMMANDS`` has docs/commands/<name>.md, a section in docs/cli.md
  linking it, and every one of its options on its page.
- docs/index.md links every page under docs/.

Hooks: tests/test_docs_hooks.py checks that every hook has its section in docs/hooks.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
from pathlib import Path

import pytest
from paycode.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.rglob("*.md")])
NOT_RUN = "<!-- not-run -->"
#: a fenced python block, also indented inside a list item (the fence's indent is removed from every line)
PYTHON_BLOCK = re.compile(r"^(?P<indent>[ \t]*)```python\n(?P<code>.*?)^(?P=indent)```$", re.MULTILINE | re.DOTALL)
FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOC_PATH = re.compile(r"(?<![\w/.-])(docs/[\w./-]+\.md)")


def rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def python_blocks(page: Path) -> list[tuple[str, bool]]:
    """``(code, runs)`` for each python block of a page; ``runs`` is False after a ``<!-- not-run -->`` line."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in PYTHON_BLOCK.finditer(text):
        preceding = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        indent = match.group("indent")
        code = "".join(line.removeprefix(indent) for line in match.group("code").splitlines(keepends=True))
        blocks.append((code, preceding.strip() != NOT_RUN))
    return blocks


EXAMPLES = [
    pytest.param(page, code, runs, id=f"{rel(page)}#{n}")
    for page in PAGES
    for n, (code, runs) in enumerate(python_blocks(page), 1)
]
#: pages whose examples are their substance (the hook reference, plugin loading, settings, scanning)
EXAMPLE_PAGES = ["docs/hooks.md", "docs/plugins.md", "docs/settings.md", "docs/commands/scan.md"]


def run_example(page: Path, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run one example as a reader would: in an empty folder, without the caller's paycode settings."""
    compiled = compile(code, rel(page), "exec")
    monkeypatch.chdir(tmp_path)  # no stray paycode.toml, and anything an example writes stays here
    for variable in [name for name in os.environ if name.startswith("PAYCODE_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    exec(compiled, {"__name__": "docs_example"})


def test_there_are_examples_and_few_are_left_unrun() -> None:
    unrun = [p for p in EXAMPLES if not p.values[2]]
    assert len(EXAMPLES) >= 20
    assert len(unrun) <= len(EXAMPLES) // 5, f"{len(unrun)} of {len(EXAMPLES)} examples marked not-run"


def test_the_reference_pages_have_examples_that_run() -> None:
    running = {rel(p.values[0]) for p in EXAMPLES if p.values[2]}
    assert set(EXAMPLE_PAGES) <= running, f"no runnable example on {sorted(set(EXAMPLE_PAGES) - running)}"


@pytest.mark.parametrize(("page", "code", "runs"), EXAMPLES)
def test_python_examples_run(
    page: Path, code: str, runs: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not runs:
        compile(code, rel(page), "exec")
        return  # a file shown for reading: it compiles, and a test of its own runs it (see the page)
    run_example(page, code, tmp_path, monkeypatch)


# ---------------------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_links_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target} (no heading #{anchor})")
    for named in DOC_PATH.findall(text):
        if not (ROOT / named).exists():
            broken.append(f"{named} (named in the text; no such file)")
    assert not broken, f"{rel(page)}: " + "; ".join(broken)


def test_the_index_links_every_page() -> None:
    index = DOCS / "index.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in LINK.findall(index.read_text(encoding="utf-8"))}
    missing = [rel(p) for p in DOCS.rglob("*.md") if p != index and p.resolve() not in linked]
    assert not missing, f"docs/index.md does not link {', '.join(sorted(missing))}"


# ---------------------------------------------------------------------------- commands


def _parser(name: str) -> argparse.ArgumentParser:
    module = importlib.import_module(COMMANDS[name])
    parser = argparse.ArgumentParser(prog=f"paycode {name}")
    module.add_arguments(parser)
    return parser


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_page_with_every_option(name: str) -> None:
    page = DOCS / "commands" / f"{name}.md"
    assert page.exists(), f"command {name} is registered in paycode.cli.COMMANDS but docs/commands/{name}.md is missing"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# paycode {name}\n"), f"docs/commands/{name}.md must start with '# paycode {name}'"
    options = {o for action in _parser(name)._actions for o in action.option_strings if o.startswith("--")}
    options.discard("--help")
    undocumented = sorted(o for o in options if f"`{o}" not in text)
    assert not undocumented, f"docs/commands/{name}.md does not document {', '.join(undocumented)}"
    assert "Exit status" in text or "exit status" in text, f"docs/commands/{name}.md does not give its exit status"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_section_in_cli_md(name: str) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    heading = f"## [`paycode {name}`](commands/{name}.md)"
    assert heading in text.splitlines(), f"docs/cli.md has no line {heading!r}"


def test_cli_md_lists_the_commands_in_the_order_of_paycode_help() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    order = re.findall(r"^## \[`paycode (\w+)`\]", text, re.MULTILINE)
    assert order == list(COMMANDS)
