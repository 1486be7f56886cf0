"""A throwaway PostgreSQL server for tests, benchmarks and trying a store on one machine.

:class:`TempPostgres` runs ``initdb`` and ``pg_ctl`` (Debian's ``postgresql`` package provides them) into a
temporary folder and serves on 127.0.0.1 on a free port, with its socket in that folder, ``fsync=on`` and trust
authentication for loopback only. PostgreSQL refuses to run as root: when the caller is root the server runs as
the ``postgres`` user (else ``nobody``) through ``runuser``. :meth:`TempPostgres.stop` and
:meth:`TempPostgres.start` stop and restart it on the same port (tests of a database going away mid-payment);
:meth:`TempPostgres.destroy` stops it and removes the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConfigError

__all__ = ["TempPostgres", "find_bin"]


def find_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: the newest /usr/lib/postgresql/*/bin, else the PATH."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(folder, "initdb"), os.X_OK) and os.access(os.path.join(folder, "pg_ctl"), os.X_OK):
            return Path(folder)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> str | None:
    """Who runs the server: None (the caller) unless the caller is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise ConfigError("PostgreSQL refuses to run as root and neither a 'postgres' nor a 'nobody' user exists")


class TempPostgres:
    """A PostgreSQL server in a temporary folder on 127.0.0.1 (see the module's description)."""

    def __init__(
        self, *, max_connections: int = 200, also_listen: tuple[str, ...] = (), trust: tuple[str, ...] = ()
    ) -> None:
        found = find_bin()
        if found is None:
            raise ConfigError(
                "PostgreSQL's initdb and pg_ctl are not installed; install Debian's 'postgresql' package "
                "(apt-get install postgresql)"
            )
        self.bin = found
        self.user = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="paycode-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.max_connections = max_connections
        #: addresses to listen on besides 127.0.0.1, and networks (CIDR) whose clients are trusted there: for
        #: tests of network partitions (lanes in their own network namespace)
        self.also_listen = also_listen
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"]
        )  # fmt: skip
        if trust:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.writelines(f"host all all {network} trust\n" for network in trust)
        self.start()

    def _run(self, command: list[str], timeout: float = 120) -> None:
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def start(self) -> None:
        """Start (or restart) the server on its port; returns when it accepts connections."""
        addresses = ",".join(("127.0.0.1", *self.also_listen))
        options = (
            f"-c listen_addresses={addresses} -p {self.port} -c unix_socket_directories={self.folder} -c fsync=on "
            f"-c max_connections={self.max_connections} -c shared_buffers=32MB"
        )
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, roll back; ``immediate``: as a crash)."""
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` (letters, digits, underscores); returns its DSN."""
        import psycopg

        if not name.replace("_", "").isalnum():
            raise ConfigError(f"database name {name!r}: letters, digits and underscores only")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.dsn(name)

    def destroy(self) -> None:
        """Stop the server (if running) and remove its folder."""
        try:
            self.stop("fast")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
