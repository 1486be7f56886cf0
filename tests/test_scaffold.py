"""``paycode new``: a scaffolded scanner and a scaffolded wallet install and pass their generated tests as created.

Both are generated into a temporary folder and installed into another (``pip install --target``,
no dependencies, no build isolation: this environment's setuptools builds them), leaving the
repository's virtual environment untouched. Their own tests then run in a subprocess that sees
them only through ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycode.cli import main
from paycode.errors import UsageError
from paycode.scaffold import plugin_name, write_scaffold

ROOT = Path(__file__).resolve().parents[1]


def new(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["new", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory, install_plugins: Callable[..., dict[str, str]]
) -> tuple[Path, dict[str, str]]:
    """paycode-acme (scanner) and paycode-union-pay (wallet), generated and installed; the environment to run them."""
    work = tmp_path_factory.mktemp("scaffold")
    assert main(["new", "scanner", "acme", "--dir", str(work)]) == 0
    assert main(["new", "scanner", "acme-serial", "--transport", "serial", "--dir", str(work)]) == 0
    assert main(["new", "scanner", "acme-hid", "--transport", "hid", "--dir", str(work)]) == 0
    assert main(["new", "wallet", "union-pay", "--dir", str(work)]) == 0
    return work, install_plugins(work, *(work / folder for folder in FOLDERS))


FOLDERS = ("paycode-acme", "paycode-acme-serial", "paycode-acme-hid", "paycode-union-pay")


@pytest.mark.slow  # each generated distribution runs its own test suite in a subprocess
@pytest.mark.parametrize(
    ("folder", "passed"),
    [("paycode-acme", 14), ("paycode-acme-serial", 18), ("paycode-acme-hid", 14), ("paycode-union-pay", 11)],
)
def test_the_generated_tests_pass_as_created(generated: tuple[Path, dict[str, str]], folder: str, passed: int) -> None:
    work, env = generated
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=work / folder, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{passed} passed" in done.stdout, done.stdout
    assert "Conformance" in (work / folder / "tests" / "test_conformance.py").read_text(encoding="utf-8")


def test_paycode_lists_both_installed_plugins(generated: tuple[Path, dict[str, str]]) -> None:
    work, env = generated
    done = subprocess.run(
        [sys.executable, "-m", "paycode", "plugins", "--json"],
        cwd=work, env={**env, "PAYCODE_PLUGINS": "acme,union-pay"}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line for line in lines if "problem" in line] == []
    plugins = {line["name"]: line for line in lines}
    assert plugins["acme"]["distribution"] == "paycode-acme"
    assert plugins["acme"]["registers"]["scanners"] == ["acme"]
    assert plugins["union-pay"]["distribution"] == "paycode-union-pay"
    assert plugins["union-pay"]["registers"]["wallets"] == ["UnionPay-Offline"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_generated_code_is_ruff_clean_with_its_own_config(
    generated: tuple[Path, dict[str, str]], folder: str
) -> None:
    work, _ = generated
    assert "[tool.ruff]" in (work / folder / "pyproject.toml").read_text(encoding="utf-8")
    for command in (["check", "--exclude", "build"], ["format", "--check", "--exclude", "build"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "."], cwd=work / folder, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def paycode_source_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """MYPYPATH for this source checkout: the generated README's instruction for an editable paycode.

    ``paycode`` is a tree of links to core/ (and plugins/), as tools/typecheck.py lays it out; the
    contrib distributions' folders hold paycode_serial and paycode_hid.
    """
    tree = tmp_path_factory.mktemp("mypypath")
    package = tree / "paycode"
    package.mkdir()
    for entry in (ROOT / "core").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    (package / "plugins").symlink_to(ROOT / "plugins")
    return ":".join([str(tree), str(ROOT / "contrib_scanners" / "serial"), str(ROOT / "contrib_scanners" / "hid")])


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_the_generated_code_passes_mypy_strict_as_configured(
    generated: tuple[Path, dict[str, str]], paycode_source_path: str, folder: str
) -> None:
    work, env = generated
    assert "strict = true" in (work / folder / "pyproject.toml").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(work / ".mypy_cache")],
        cwd=work / folder, env={**env, "MYPYPATH": paycode_source_path}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_it_says_what_it_wrote_and_what_to_do_next(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = new(capsys, "scanner", "paycode-Acme_Two", "--dir", str(tmp_path))
    assert (code, err) == (0, "")
    folder = tmp_path / "paycode-acme-two"
    assert out.splitlines()[0] == f"created paycode-acme-two, a tcp scanner plugin (acme-two://), in {folder}"
    assert "  paycode_acme_two/scanner.py" in out.splitlines()
    assert out.splitlines()[-3:] == [f"  cd {folder}", "  pip install -e '.[test]'", "  python -m pytest"]
    pyproject = (folder / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points.paycode]\nacme-two = "paycode_acme_two.plugin"' in pyproject
    assert 'register(ScannerType(scheme="acme-two", factory=AcmeTwoScanner' in (
        folder / "paycode_acme_two" / "plugin.py"
    ).read_text(encoding="utf-8")


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = new(capsys, "wallet", "quickpass", "--dir", str(tmp_path / "new" / "place"), "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer == {
        "kind": "wallet",
        "name": "quickpass",
        "distribution": "paycode-quickpass",
        "package": "paycode_quickpass",
        "entry_point": "quickpass",
        "folder": str(tmp_path / "new" / "place" / "paycode-quickpass"),
        "files": [
            "pyproject.toml",
            "README.md",
            "paycode_quickpass/__init__.py",
            "paycode_quickpass/py.typed",
            "tests/test_conformance.py",
            "tests/test_wallet.py",
        ],
    }
    assert sorted(p.relative_to(answer["folder"]).as_posix() for p in Path(answer["folder"]).rglob("*.*")) == sorted(
        answer["files"]
    )
    assert 'name="Quickpass-Offline"' in Path(answer["folder"], "paycode_quickpass/__init__.py").read_text("utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["wallet", "2fast"], "plugin name '2fast' is not valid; use lower-case letters and digits"),
        (["wallet", "acme pay"], "plugin name 'acme pay' is not valid"),
        (["wallet", "acme--pay"], "plugin name 'acme--pay' is not valid"),
        (["wallet", "acme-"], "plugin name 'acme-' is not valid"),
        (["wallet", "x" * 41], "at most 40 characters"),
        (["wallet", "ácme"], "plugin name 'ácme' is not valid"),
        (["wallet", ""], "plugin name '' is not valid"),
        (["scanner", "stdin"], "plugin name 'stdin' is used by paycode itself"),
        (["wallet", "paycode"], "plugin name 'paycode' is used by paycode itself"),
        (["wallet", "wechat"], "plugin name 'wechat' is taken by an installed distribution"),
        (["gadget", "acme"], "cannot make a 'gadget' plugin; choose one of: scanner, wallet"),
    ],
)
def test_bad_names_and_kinds_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = new(capsys, *args, "--dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith("paycode: error: ") and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "paycode-acme"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep")
    code, _, err = new(capsys, "scanner", "acme", "--dir", str(tmp_path))
    assert code == 2 and f"{folder} already exists; choose another name or --dir (nothing was written)" in err
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paycode-acme"]


def test_a_dir_that_cannot_be_made_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = new(capsys, "wallet", "acme", "--dir", str(blocker / "sub"))
    assert code == 2 and f"cannot write in {blocker / 'sub'}" in err


@given(st.text(max_size=50))
def test_any_accepted_name_gives_valid_distribution_package_and_entry_point_names(text: str) -> None:
    try:
        names = plugin_name(text)
    except UsageError as exc:
        assert "plugin name" in str(exc)
        return
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", names.name) and len(names.name) <= 40
    assert names.package.isidentifier() and names.package == names.package.lower()
    assert names.class_name.isidentifier() and names.constant.isidentifier()
    assert re.fullmatch(r"paycode-[a-z0-9-]+", names.distribution)


def test_write_scaffold_refuses_what_the_command_refuses(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="choose one of: scanner, wallet"):
        write_scaffold("signer", "acme", tmp_path)
    with pytest.raises(
        UsageError, match="transport 'usb' is not one paycode can write; choose one of: serial, tcp, hid"
    ):
        write_scaffold("scanner", "acme", tmp_path, transport="usb")
    with pytest.raises(UsageError, match="--transport is for scanner plugins"):
        write_scaffold("wallet", "acme", tmp_path, transport="serial")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("transport", ["serial", "hid"])
def test_the_transport_is_in_the_json_and_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], transport: str
) -> None:
    code, out, _ = new(capsys, "scanner", "vend", "--transport", transport, "--dir", str(tmp_path), "--json")
    answer = json.loads(out)
    assert code == 0 and answer["transport"] == transport
    pyproject = (tmp_path / "paycode-vend" / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"paycode-{transport}>=0.1"' in pyproject
    plugin = (tmp_path / "paycode-vend" / "paycode_vend" / "plugin.py").read_text(encoding="utf-8")
    assert "defaults=DEFAULTS" in plugin and "list_devices=list_devices" in plugin
