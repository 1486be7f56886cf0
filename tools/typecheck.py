#!/usr/bin/env python3
"""Type-check paycode and its plugins with mypy (strict), as `python3 dev.py lint` does.

mypy cannot follow the editable install: the import package ``paycode`` lives in the
folder ``core/`` and ``paycode.plugins`` in ``plugins/``. This script lays out a tree
of symbolic links in ``build/typecheck/`` with the import names as folder names, then
runs mypy on it and on every contrib package found beside their pyproject.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def link_tree() -> Path:
    """build/typecheck/paycode -> core/* plus paycode/plugins -> plugins/."""
    if TREE.exists():
        shutil.rmtree(TREE)
    package = TREE / "paycode"
    package.mkdir(parents=True)
    for entry in (ROOT / "core").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    (package / "plugins").symlink_to(ROOT / "plugins")
    return TREE


def contrib_packages() -> list[tuple[Path, str]]:
    """(folder holding the package, import name) for every contrib distribution."""
    found = []
    for pyproject in sorted(ROOT.glob("contrib_*/*/pyproject.toml")):
        dist = pyproject.parent
        for pkg in sorted(dist.iterdir()):
            if pkg.is_dir() and (pkg / "__init__.py").exists() and pkg.name.startswith("paycode_"):
                found.append((dist, pkg.name))
    return found


def main() -> int:
    tree = link_tree()
    contribs = contrib_packages()
    path = os.pathsep.join([str(tree), *sorted({str(d) for d, _ in contribs})])
    env = {**os.environ, "MYPYPATH": path}
    args = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "paycode"]
    for _, name in contribs:
        args += ["-p", name]
    return subprocess.run(args, cwd=TREE, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
