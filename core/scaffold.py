"""``paycode new``: write the folder of a new scanner or wallet plugin distribution.

The folder holds a ``pyproject.toml`` with the entry point in the group ``paycode``, the
package, a README and tests that run paycode's conformance suite; it installs and passes
its tests as written. The templates are in :mod:`paycode.scaffold_templates`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from string import Template
from typing import Literal

import attrs

from .errors import UsageError
from .hookspecs import PROJECT
from .scaffold_templates import HID_SCANNER_FILES, SCANNER_FILES, SERIAL_SCANNER_FILES, WALLET_FILES

__all__ = ["KINDS", "TRANSPORTS", "PluginName", "Scaffold", "plugin_name", "write_scaffold"]

Kind = Literal["scanner", "wallet"]
KINDS: tuple[Kind, ...] = ("scanner", "wallet")
#: scanner transports: what ``paycode new scanner NAME --transport T`` writes
TRANSPORTS: dict[str, str] = {
    "serial": "a framed serial scanner on paycode-serial (decoder, scheme family, pty rig, hypothesis test)",
    "tcp": "a scanner sending one scan per line over TCP (its own transport, a TCP server rig)",
    "hid": "a vendor's USB HID POS scanner on paycode-hid (its USB id, output reports for feedback, replay rig)",
}
_FILES = {"serial": SERIAL_SCANNER_FILES, "tcp": SCANNER_FILES, "hid": HID_SCANNER_FILES}
_DEPENDENCIES = {
    "serial": '"paycode>=0.1", "paycode-serial>=0.1"',
    "tcp": '"paycode>=0.1"',
    "hid": '"paycode>=0.1", "paycode-hid>=0.1"',
}

_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_MAX_NAME = 40
#: names paycode itself uses for plugins (built-ins) or packages
_RESERVED = frozenset({"paycode", "testing", "signers", "stdin", "replay", "pingpong", "sandbox"})


@attrs.frozen
class PluginName:
    """The names of one plugin distribution, all derived from its short name (``acme``)."""

    name: str

    @property
    def distribution(self) -> str:
        return f"paycode-{self.name}"

    @property
    def package(self) -> str:
        return "paycode_" + self.name.replace("-", "_")

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def constant(self) -> str:
        return self.name.replace("-", "_").upper()


def plugin_name(text: str) -> PluginName:
    """Check and normalise a plugin's short name; ``paycode-`` in front is dropped, ``_`` becomes ``-``.

    Raises :class:`~paycode.errors.UsageError` (exit 2) saying what is accepted, for a malformed
    name, a name paycode uses, or one an installed plugin already has.
    """
    name = text.strip().lower().replace("_", "-")
    for prefix in ("paycode-",):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if not _NAME.fullmatch(name) or len(name) > _MAX_NAME:
        raise UsageError(
            f"plugin name {text!r} is not valid; use lower-case letters and digits, words joined by single "
            f"hyphens, starting with a letter, at most {_MAX_NAME} characters (e.g. acme or union-pay)"
        )
    if name in _RESERVED:
        raise UsageError(f"plugin name {name!r} is used by paycode itself; choose another (e.g. acme-{name})")
    taken = {ep.name for ep in metadata.entry_points(group=PROJECT)}
    if name in taken or _installed(f"paycode-{name}"):
        raise UsageError(
            f"plugin name {name!r} is taken by an installed distribution (paycode plugins lists it); choose another"
        )
    return PluginName(name)


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


@attrs.frozen
class Scaffold:
    """What :func:`write_scaffold` wrote."""

    kind: Kind
    names: PluginName
    folder: Path
    files: tuple[str, ...]
    transport: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            **({"transport": self.transport} if self.transport else {}),
            "name": self.names.name,
            "distribution": self.names.distribution,
            "package": self.names.package,
            "entry_point": self.names.name,
            "folder": str(self.folder),
            "files": list(self.files),
        }


def _values(kind: Kind, names: PluginName, transport: str) -> dict[str, str]:
    what = "scanner" if kind == "scanner" else "wallet"
    described = {
        "scanner": f"{names.class_name} barcode scanners (scheme {names.name}://)",
        "wallet": f"{names.class_name} payment codes",
    }[kind]
    return {
        "name": names.name,
        "package": names.package,
        "distribution": names.distribution,
        "Class": names.class_name,
        "CONST": names.constant,
        "wallet_type": f"{names.class_name}-Offline",
        "entry_module": f"{names.package}.plugin" if kind == "scanner" else names.package,
        "description": f"paycode {what} plugin: {described}",
        "dependencies": _DEPENDENCIES[transport] if kind == "scanner" else '"paycode>=0.1"',
    }


def write_scaffold(
    kind: str, name: str, directory: str | os.PathLike[str] = ".", *, transport: str | None = None
) -> Scaffold:
    """Write the distribution folder ``<directory>/paycode-<name>`` for a new ``scanner`` or ``wallet`` plugin.

    ``transport`` (scanners only; default ``tcp``) picks the scanner template, one of
    :data:`TRANSPORTS`. The folder is written whole or not at all. Raises
    :class:`~paycode.errors.UsageError` for an unknown kind or transport, a bad name, an
    existing folder, or a directory that cannot be written.
    """
    if kind not in KINDS:
        raise UsageError(f"cannot make a {kind!r} plugin; choose one of: {', '.join(KINDS)}")
    chosen: Kind = "scanner" if kind == "scanner" else "wallet"
    if chosen == "wallet" and transport is not None:
        raise UsageError("--transport is for scanner plugins; a wallet plugin has none")
    wire = transport if transport is not None else "tcp"
    if chosen == "scanner" and wire not in TRANSPORTS:
        raise UsageError(f"transport {wire!r} is not one paycode can write; choose one of: {', '.join(TRANSPORTS)}")
    names = plugin_name(name)
    parent = Path(directory).expanduser()
    folder = parent / names.distribution
    if folder.exists() or folder.is_symlink():
        raise UsageError(f"{folder} already exists; choose another name or --dir (nothing was written)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{names.distribution}-", dir=parent))
    except OSError as exc:
        raise UsageError(f"cannot write in {parent}: {exc.strerror or exc}") from None
    values = _values(chosen, names, wire)
    templates = _FILES[wire] if chosen == "scanner" else WALLET_FILES
    written = []
    try:
        for path_template, text in templates.items():
            relative = Template(path_template).substitute(values)
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(Template(text).substitute(values), encoding="utf-8")
            written.append(relative)
        staging.chmod(0o755)
        staging.rename(folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise UsageError(f"cannot write {folder}: {exc.strerror or exc} (nothing was written)") from None
    return Scaffold(chosen, names, folder, tuple(written), wire if chosen == "scanner" else None)
