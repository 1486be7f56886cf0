"""PostgreSQL connection strings: recognised, described without their password, and explained when unreachable.

A journal setting of ``postgresql://user:password@host:port/dbname?options`` (or ``postgres://…``) names a
PostgreSQL journal. The password may also come from ``PGPASSWORD`` or ``~/.pgpass`` (libpq's own rules). Whatever
paycode prints about a DSN (errors, ``repr``, ``paycode journal check``) comes from :func:`describe`, which
never includes the password.
"""

from __future__ import annotations

import attrs

from ..errors import ConfigError

__all__ = ["SCHEMES", "Dsn", "is_postgres", "parse"]

#: the URL schemes that name a PostgreSQL journal
SCHEMES = ("postgresql://", "postgres://")


def is_postgres(setting: str) -> bool:
    """True when the journal setting names a PostgreSQL database rather than a file."""
    return setting.strip().lower().startswith(SCHEMES)


@attrs.frozen
class Dsn:
    """A parsed PostgreSQL URL: ``conninfo`` (secret, for libpq only) and a printable description."""

    conninfo: str = attrs.field(repr=False)
    host: str
    port: str
    dbname: str
    user: str

    @property
    def where(self) -> str:
        """``host:port`` (a socket folder shows as its path)."""
        return f"{self.host}:{self.port}"

    def describe(self) -> str:
        """``postgresql://user@host:port/dbname``: no password, no options."""
        user = f"{self.user}@" if self.user else ""
        return f"postgresql://{user}{self.host}:{self.port}/{self.dbname}"

    def __str__(self) -> str:
        return self.describe()


def parse(setting: str) -> Dsn:
    """Parse a ``postgresql://`` or ``postgres://`` setting; ConfigError (never showing the password) when malformed."""
    from psycopg import conninfo as ci

    text = setting.strip()
    if not is_postgres(text):
        raise ConfigError(f"journal setting is not a PostgreSQL URL; accepted: {', '.join(s + '…' for s in SCHEMES)}")
    try:
        parts = ci.conninfo_to_dict(text)
    except Exception as exc:  # psycopg.ProgrammingError; its message may quote the URL: never show it
        kind = type(exc).__name__
        raise ConfigError(
            f"journal setting is not a valid PostgreSQL URL ({kind}); expected postgresql://user:password@host:port/dbname"
        ) from None
    host = str(parts.get("host") or "localhost")
    port = str(parts.get("port") or "5432")
    if not all(p.isdigit() and 0 < int(p) < 65536 for p in port.split(",")):
        raise ConfigError(
            f"journal setting has port {port[:20]!r}; a PostgreSQL port is a number from 1 to 65535 "
            "(postgresql://user:password@host:port/dbname)"
        )
    user = str(parts.get("user") or "")
    dbname = str(parts.get("dbname") or user or "postgres")
    return Dsn(conninfo=text, host=host, port=port, dbname=dbname, user=user)
