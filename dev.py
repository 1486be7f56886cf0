#!/usr/bin/env python3
"""Set up and run paycode from a fresh checkout with nothing but Python and pip.

    python3 dev.py demo     # create .venv, install every distribution, run `paycode demo`
    python3 dev.py test     # same set-up, then run the whole test suite
    python3 dev.py bench    # same set-up, then run the benchmarks (docs/benchmarks.md)
    python3 dev.py lint     # same set-up, then ruff and mypy (strict) over the core and every plugin
    python3 dev.py shell    # print the path of the environment's activate script

The virtual environment lives in ``.venv`` (override with PAYCODE_VENV). Every
distribution of the repository (the core and each folder of contrib_scanners/ and
contrib_wallets/) is installed editable; installing is skipped when no pyproject.toml
changed since the last run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PAYCODE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def distributions() -> list[Path]:
    """The core first, then every contrib distribution in a stable order."""
    contribs = sorted(p.parent for p in ROOT.glob("contrib_*/*/pyproject.toml"))
    return [ROOT, *contribs]


def _stamp() -> str:
    digest = hashlib.sha256()
    for dist in distributions():
        digest.update(str(dist).encode())
        digest.update((dist / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def setup() -> None:
    if not PY.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    stamp_file = VENV / ".paycode-installed"
    stamp = _stamp()
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    print("dev.py: installing paycode and its plugins into the environment", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    args: list[str] = []
    for dist in distributions():
        extra = "[test,dev]" if dist == ROOT else "[test]" if _has_test_extra(dist) else ""
        args += ["-e", f"{dist}{extra}"]
    subprocess.run([*pip, *args], check=True)
    stamp_file.write_text(stamp)


def _postgres_bin() -> str | None:
    """initdb is on PATH on some machines, under /usr/lib/postgresql/N/bin on Debian."""
    found = shutil.which("initdb")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return str(candidates[-1]) if candidates else None


def _cjk_font() -> bool:
    return any(Path("/usr/share/fonts").glob("**/*CJK*"))


#: what the real-service tests need: (is it here?, the Debian package that brings it, what cannot run without it)
SYSTEM_NEEDS = {
    "initdb": (lambda: _postgres_bin() is not None, "postgresql", "the PostgreSQL journal tests (tests/store)"),
    "chromium": (
        lambda: shutil.which("chromium") is not None,
        "chromium",
        "the browser tests of the bridge's cashier page (tests/bridge)",
    ),
    "a CJK font": (
        _cjk_font,
        "fonts-noto-cjk",
        "readable Chinese text in the cashier page's screenshots (the tests check the text, not the pixels)",
    ),
}


def _missing_system() -> dict[str, tuple[str, str]]:
    return {name: (pkg, tests) for name, (present, pkg, tests) in SYSTEM_NEEDS.items() if not present()}


def system_setup() -> None:
    """Install the system packages the real-service tests need, where this machine lets us (root, apt-get).

    Elsewhere say which tests cannot run; those tests skip themselves naming the program.
    """
    missing = _missing_system()
    if not missing:
        return
    packages = sorted({pkg for pkg, _ in missing.values()})
    can_install = os.name == "posix" and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    if can_install:
        print(f"dev.py: installing system packages: {' '.join(packages)}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env, stdout=subprocess.DEVNULL)
        missing = _missing_system()
    for program, (pkg, tests) in missing.items():
        print(f"dev.py: {program} is missing (Debian package {pkg}); {tests} cannot run here", file=sys.stderr)


def _has_test_extra(dist: Path) -> bool:
    import tomllib

    with (dist / "pyproject.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return "test" in data.get("project", {}).get("optional-dependencies", {})


def run(*cmd: str) -> int:
    return subprocess.run([*cmd], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "bench", "lint", "shell"}:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    what, rest = argv[0], argv[1:]
    setup()
    if what == "demo":
        return run(str(BIN / "paycode"), "demo", *rest)
    if what == "test":
        system_setup()
        code = run(str(PY), "-m", "pytest", "-p", "no:cacheprovider", *rest)
        if code == 5:
            print("dev.py: pytest collected no tests; that is a failure", file=sys.stderr)
            return 1
        return code
    if what == "bench":
        return run(str(PY), "-m", "tests.bench", *rest)
    if what == "lint":
        ruff = run(str(PY), "-m", "ruff", "check", ".", *rest)
        return ruff or run(str(PY), str(ROOT / "tools" / "typecheck.py"))
    print(BIN / "activate")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
