"""The run's configuration every benchmark receives: quick or full, and a scratch folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import attrs

__all__ = ["Config"]


@attrs.frozen
class Config:
    """``quick`` shrinks every repetition count for a smoke run; ``scratch`` is removed after the run."""

    quick: bool
    scratch: Path
    python: str = sys.executable

    def pick(self, full: int, quick: int) -> int:
        """A repetition count: ``full`` normally, ``quick`` with ``--quick``."""
        return quick if self.quick else full

    def folder(self, name: str) -> Path:
        path = self.scratch / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def filesystem(path: Path) -> str:
        """The type of the file system holding ``path`` (``ext4``, ``tmpfs``…), from /proc/mounts."""
        try:
            mounts = Path("/proc/mounts").read_text().splitlines()
        except OSError:
            return "an unknown file system"
        target = os.path.realpath(path)
        best, kind = "", "an unknown file system"
        for line in mounts:
            fields = line.split()
            if len(fields) < 3:
                continue
            point = fields[1]
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best):
                best, kind = point, fields[2]
        return kind
