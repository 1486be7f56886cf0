"""Cameras present now, for ``paycode devices``: read from Linux sysfs, without opening any camera.

Elsewhere (no ``/sys/class/video4linux``) the list is empty; ``camera://0`` still opens the
first camera through OpenCV's own backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["list_devices"]


def list_devices(
    sysfs: str | os.PathLike[str] = "/sys/class/video4linux", by_id: str | os.PathLike[str] = "/dev/v4l/by-id"
) -> list[dict[str, Any]]:
    """One entry per video capture node: ``url``, ``description``, ``path`` and, when udev made one,
    ``stable_url`` (a ``/dev/v4l/by-id`` path that survives replugging into another port).

    A USB camera has a second node for metadata (sysfs ``index`` 1); only nodes with index 0 are listed.
    """
    root = Path(sysfs)
    if not root.is_dir():
        return []
    stable: dict[str, str] = {}
    links = Path(by_id)
    if links.is_dir():
        for link in sorted(links.iterdir()):
            stable.setdefault(os.path.realpath(link), str(link))
    devices: list[dict[str, Any]] = []
    for node in sorted(root.glob("video*"), key=_number):
        number = _number(node)
        if number < 0 or _read(node / "index", "0") != "0":
            continue
        name = _read(node / "name", "video device")
        path = f"/dev/video{number}"
        entry: dict[str, Any] = {"url": f"camera://{number}", "description": f"{name} ({path})", "path": path}
        stable_path = stable.get(path) or stable.get(os.path.realpath(path))
        if stable_path:
            entry["stable_url"] = f"camera://{stable_path}"
        devices.append(entry)
    return devices


def _number(node: Path) -> int:
    digits = node.name[len("video") :]
    return int(digits) if digits.isdigit() else -1


def _read(path: Path, default: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or default
    except OSError:
        return default
