"""Settings: ``paycode.toml`` (or ``--config``), overridden by the environment.

Every setting and its variable is listed in docs/settings.md. The merchant secret is
read from ``PAYCODE_SALT`` or from a file readable only by its owner; it never appears
in ``repr``, logs or errors.
"""

from __future__ import annotations

import os
import stat
import tomllib
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .errors import ConfigError

__all__ = ["Settings", "read_secret_env", "read_secret_file"]

#: PingPong sites by name. ``sandbox`` (the gateway setting's default) is not a site: it is
#: paycode's embedded local sandbox gateway; PingPong's own sandbox host is ``pingpong-sandbox``.
SITES = {
    "pingpong-sandbox": "https://sandbox-acquirer-payment.pingpongx.com",
    "fra": "https://acquirer-payment.pingpongx.com",
    "sg": "https://acquirer-payment-checkout-sg.pingpongx.com",
    "us": "https://acquirer-payment-checkout-us.pingpongx.com",
}

#: setting name -> environment variable
ENV: dict[str, str] = {
    "gateway": "PAYCODE_GATEWAY",
    "acc_id": "PAYCODE_ACC_ID",
    "client_id": "PAYCODE_CLIENT_ID",
    "salt": "PAYCODE_SALT",
    "salt_file": "PAYCODE_SALT_FILE",
    "sign_type": "PAYCODE_SIGN_TYPE",
    "wallets": "PAYCODE_WALLETS",
    "prefer_wallets": "PAYCODE_PREFER_WALLETS",
    "scanner": "PAYCODE_SCANNER",
    "journal": "PAYCODE_JOURNAL",
    "notification_url": "PAYCODE_NOTIFICATION_URL",
    "poll_interval": "PAYCODE_POLL_INTERVAL",
    "deadline": "PAYCODE_DEADLINE",
    "close_grace": "PAYCODE_CLOSE_GRACE",
    "pay_result_url": "PAYCODE_PAY_RESULT_URL",
    "trade_country": "PAYCODE_TRADE_COUNTRY",
    "connect_timeout": "PAYCODE_CONNECT_TIMEOUT",
    "read_timeout": "PAYCODE_READ_TIMEOUT",
    "repeat_window": "PAYCODE_REPEAT_WINDOW",
    "order_terminal": "PAYCODE_ORDER_TERMINAL",
    "late_success": "PAYCODE_LATE_SUCCESS",
    "plugins": "PAYCODE_PLUGINS",
    "disable_plugins": "PAYCODE_DISABLE_PLUGINS",
    "lane": "PAYCODE_LANE",
    "bridge_origins": "PAYCODE_BRIDGE_ORIGINS",
    "bridge_hosts": "PAYCODE_BRIDGE_HOSTS",
    "bridge_token_file": "PAYCODE_BRIDGE_TOKEN_FILE",
    "wake": "PAYCODE_WAKE",
}

_LISTS = {"wallets", "prefer_wallets", "plugins", "disable_plugins", "bridge_origins", "bridge_hosts"}
#: the longest any setting of seconds may be (paycode.cli._args.MAX_SECONDS for options): beyond it a clock overflows
_MAX_SECONDS = 7 * 24 * 3600
_FLOATS = {"poll_interval", "deadline", "close_grace", "connect_timeout", "read_timeout", "repeat_window"}


def _check_lane(instance: object, attribute: object, value: object) -> None:
    """A lane name is written to the journal and to every log line: 1-64 printable characters, no control ones."""
    accepted = "a lane name is 1 to 64 printable characters, such as lane-1 or front-2"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"setting lane={value!r} is empty; {accepted}")
    if len(value) > 64:
        raise ConfigError(f"setting lane is {len(value)} characters long; {accepted}")
    bad = [ch for ch in value if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")]
    if bad:
        raise ConfigError(f"setting lane={value!r} holds a control character ({bad[0]!r}); {accepted}")


def _journal_shown(value: str) -> str:
    """The journal setting as ``repr`` shows it: a PostgreSQL URL's password masked."""
    from .journal import journal_label

    return journal_label(value)


def _default_journal() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "paycode", "journal.sqlite3")


def read_secret_file(path: str | os.PathLike[str]) -> str:
    """Read a secret from a file that only its owner may read or write; strip one trailing newline."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise ConfigError(f"secret file {str(p)!r} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"secret file {str(p)!r} is not a regular file")
    if st.st_mode & 0o077:
        raise ConfigError(
            f"secret file {str(p)!r} is readable or writable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {p}"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"secret file {str(p)!r} cannot be read as UTF-8 text: {exc}") from None
    secret = text.rstrip("\r\n")
    if not secret or "\n" in secret:
        raise ConfigError(f"secret file {str(p)!r} must hold the secret on a single non-empty line")
    return secret


def read_secret_env(variable: str, env: Mapping[str, str] | None = None) -> str:
    """Read a secret from an environment variable; ConfigError when it is unset or empty (never shows the value)."""
    env = os.environ if env is None else env
    secret = env.get(variable, "")
    if not secret:
        raise ConfigError(f"environment variable {variable} is not set or empty; it must hold the merchant secret")
    if "\n" in secret.strip("\r\n"):
        raise ConfigError(f"environment variable {variable} holds several lines; the secret is one line")
    return secret.strip("\r\n")


@attrs.define
class Settings:
    """Everything a terminal needs to know. ``None`` means "use the default for this wallet/site"."""

    gateway: str = "sandbox"
    acc_id: str | None = None
    client_id: str | None = None
    salt: str | None = attrs.field(default=None, repr=lambda v: "<hidden>" if v else "None")
    sign_type: str = "SHA256"
    wallets: tuple[str, ...] | None = None
    prefer_wallets: tuple[str, ...] = ()
    scanner: str | None = None
    journal: str = attrs.field(factory=_default_journal, repr=lambda v: repr(_journal_shown(v)))
    notification_url: str | None = None
    poll_interval: float | None = None
    deadline: float | None = None
    close_grace: float = 10.0
    #: defaults of the optional unifiedPay fields payResultUrl and tradeCountry (Terminal.pay arguments win)
    pay_result_url: str | None = None
    trade_country: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    repeat_window: float = 1.5
    order_terminal: str = "02"
    late_success: str = "refund"
    plugins: tuple[str, ...] | None = None
    disable_plugins: tuple[str, ...] = ()
    lane: str = attrs.field(default="lane-1", validator=_check_lane)
    #: origins (scheme://host:port) whose pages may call the bridge, besides its own (paycode serve)
    bridge_origins: tuple[str, ...] = ()
    #: extra Host names the bridge answers to, besides loopback names and its --host
    bridge_hosts: tuple[str, ...] = ()
    #: where the bridge keeps its generated token (mode 600); None: $XDG_STATE_HOME/paycode/bridge-token
    bridge_token_file: str | None = None
    #: wake a lane waiting on an order when news of it arrives (auto) or only poll (off); paycode.wake
    wake: str = "auto"

    @classmethod
    def load(
        cls,
        config: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Read ``config`` (default ``PAYCODE_CONFIG``, else ``./paycode.toml`` when present), then the environment.

        ``overrides`` (keyword settings, None ignored) win over both.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = config or env.get("PAYCODE_CONFIG")
        if path is None and Path("paycode.toml").is_file():
            path = "paycode.toml"
        if path is not None:
            values.update(_read_toml(Path(path)))
        for name, var in ENV.items():
            if var in env and env[var] != "":
                values[name] = env[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        salt_file = values.pop("salt_file", None)
        if "salt" not in values and salt_file:
            values["salt"] = read_secret_file(salt_file)
        return cls(**{k: _convert(k, v) for k, v in values.items()})

    @property
    def base_url(self) -> str | None:
        """The gateway's base URL for a site name or an explicit URL; None for the embedded sandbox."""
        if self.gateway == "sandbox":
            return None
        if self.gateway in SITES:
            return SITES[self.gateway]
        if "://" in self.gateway:
            return self.gateway.rstrip("/")
        raise ConfigError(
            f"gateway {self.gateway!r} is not a site or URL; accepted: sandbox (embedded), {', '.join(SITES)}, "
            "or a base URL such as https://host or http://127.0.0.1:PORT"
        )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"settings file {str(path)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {str(path)!r} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"settings file {str(path)!r} is not UTF-8 text (byte {exc.start}): a settings file is TOML in UTF-8"
        ) from None
    table = data.get("paycode", data)
    if not isinstance(table, dict):
        raise ConfigError(f"settings file {str(path)!r}: [paycode] must be a table")
    known = set(ENV) | {"salt_file"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"settings file {str(path)!r}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    if "salt" in table:
        raise ConfigError(
            f"settings file {str(path)!r} holds the secret inline; put it in PAYCODE_SALT or salt_file (mode 600)"
        )
    return dict(table)


def _convert(name: str, value: Any) -> Any:
    if name not in attrs.fields_dict(Settings):
        raise ConfigError(f"unknown setting {name!r}")
    if name in _LISTS:
        if isinstance(value, str):
            items = tuple(v.strip() for v in value.split(",") if v.strip())
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            items = tuple(value)
        else:
            raise ConfigError(f"setting {name} must be a list of names or comma-separated text, not {value!r}")
        return items
    if name in _FLOATS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not number > 0 or number == float("inf"):
            raise ConfigError(f"setting {name}={value!r} must be a positive number of seconds")
        if number > _MAX_SECONDS:
            raise ConfigError(f"setting {name}={value!r} is too long; at most {_MAX_SECONDS} seconds (a week)")
        return number
    if not isinstance(value, str):
        raise ConfigError(f"setting {name} must be text, not {value!r}")
    if name == "late_success" and value not in ("refund", "report"):
        raise ConfigError(f"setting late_success={value!r}; accepted: refund, report")
    if name == "wake" and value not in ("auto", "off"):
        raise ConfigError(f"setting wake={value!r}; accepted: auto (notifications wake the waiting lane), off")
    if name == "order_terminal" and value not in ("01", "02", "03", "04"):
        raise ConfigError(f"setting order_terminal={value!r}; accepted: 01 mobile, 02 PC, 03 iOS, 04 Android")
    return value
