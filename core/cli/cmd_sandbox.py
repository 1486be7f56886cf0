"""``paycode sandbox [--host H] [--port P] [--json] [--list-codes] …``: the local sandbox gateway.

Prints the base URL and the merchant credentials it accepts, then serves until SIGINT or
SIGTERM (exit 0). The salt it prints is a throwaway test secret generated for this run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..sandbox import FaultSwitch, SandboxServer

HELP = "run the local sandbox gateway (PingPong V4 on loopback) until Ctrl-C; --list-codes: its test codes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; loopback only unless --allow-remote)",
    )
    parser.add_argument("--port", type=int, default=0, metavar="P", help="port to listen on (default: any free port)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line: base_url, acc_id, client_id, salt (with --list-codes: one line per test code)",
    )
    parser.add_argument(
        "--list-codes",
        action="store_true",
        help="print the test codes (scenario, wallet, code) of every installed wallet and exit",
    )
    parser.add_argument("--acc-id", metavar="X", help="merchant accId to accept (default: generated)")
    parser.add_argument("--client-id", metavar="Y", help="merchant clientId to accept (default: generated)")
    salt = parser.add_mutually_exclusive_group()
    salt.add_argument("--salt-env", metavar="VAR", help="environment variable holding the salt (default: generated)")
    salt.add_argument("--salt-file", metavar="F", help="file holding the salt, mode 600 (default: generated)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a --host that is not a loopback address")
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=3.0,
        metavar="S",
        help="how long the slow_commit scenario holds its answer (default 3)",
    )
    parser.add_argument(
        "--password-seconds",
        type=float,
        default=1.0,
        metavar="S",
        help="how long after the request the shopper of a late_success payment confirms (default 1)",
    )
    parser.add_argument(
        "--notify-schedule",
        metavar="S,S,…",
        help="retry delays in seconds after a failed "
        "notification (default PingPong's: 5,5,180,600,1200,1800,1800,1800,3600,10800,10800,10800)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[:KEY=VALUE,…]",
        help="switch a fault on, e.g. drop_after_commit:path=/v4/payment/unifiedPay,times=1 "
        "(repeatable; docs/sandbox.md lists them)",
    )


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..sandbox import SandboxServer, parse_fault, scenario_codes
    from ..settings import Settings

    host = PluginHost(Settings.load(args.config))
    if args.list_codes:
        _print_codes(scenario_codes(host.wallets.values()), as_json=args.json)
        return 0
    faults = [parse_fault(spec) for spec in args.fault]
    given_salt = _salt(args)
    server = SandboxServer(
        args.host,
        args.port,
        host.wallets.values(),
        host.signers,
        _schedule(args.notify_schedule),
        acc_id=args.acc_id,
        client_id=args.client_id,
        salt=given_salt,
        slow_seconds=_seconds("--slow-seconds", args.slow_seconds),
        password_seconds=_seconds("--password-seconds", args.password_seconds),
        allow_remote=args.allow_remote,
    )
    stop = threading.Event()
    restore = _on_signals(stop)
    try:
        server.start()
        for name, switch in faults:
            setattr(server.faults, name, switch)
        _print_banner(server, as_json=args.json, salt_from=_salt_source(args) if given_salt is not None else None)
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        restore()
    return 0


def _salt(args: argparse.Namespace) -> str | None:
    from ..settings import read_secret_env, read_secret_file

    if args.salt_file is not None:
        return read_secret_file(args.salt_file)
    if args.salt_env is not None:
        return read_secret_env(args.salt_env)
    return None


def _seconds(option: str, value: float) -> float:
    from ..errors import UsageError

    if not 0 <= value <= 86400:
        raise UsageError(f"{option} {value}: give a number of seconds from 0 to 86400")
    return value


def _schedule(text: str | None) -> list[float] | None:
    from ..errors import UsageError

    if text is None:
        return None
    try:
        delays = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--notify-schedule {text!r}: give comma-separated seconds such as 1,1,5") from None
    return [_seconds("--notify-schedule delay", d) for d in delays]


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """Set ``stop`` on SIGINT and SIGTERM; returns a function that restores the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _salt_source(args: argparse.Namespace) -> str:
    return f"the file {args.salt_file}" if args.salt_file is not None else f"${args.salt_env}"


def _print_banner(server: SandboxServer, *, as_json: bool, salt_from: str | None = None) -> None:
    """A generated salt is this sandbox's throwaway test secret: printing it is the point (docs/sandbox.md).

    A salt the user gave (``salt_from``: where it came from) is a secret of theirs and is never printed.
    """
    account = server.credentials.as_json()
    if as_json:
        shown: dict[str, str | None] = {"base_url": server.base_url, **account}
        if salt_from is not None:
            shown.update(salt=None, salt_from=salt_from)
        print(json.dumps(shown), flush=True)
        return
    active = ", ".join(f"{name}({_describe(switch)})" for name, switch in server.faults.active().items())
    lines = [
        f"paycode sandbox: PingPong V4 gateway at {server.base_url}",
        f"  accId     {account['acc_id']}",
        f"  clientId  {account['client_id']}",
        f"  salt      {account['salt']}   (a throwaway test secret of this sandbox)"
        if salt_from is None
        else f"  salt      yours, from {salt_from} (not shown)",
        f"  wallets   {', '.join(sorted(server.wallets)) or 'none installed'}",
        f"  faults    {active or 'none'}",
        "Point paycode at it with:",
        f"  export PAYCODE_GATEWAY={server.base_url} PAYCODE_ACC_ID={shlex.quote(account['acc_id'])} "
        f"PAYCODE_CLIENT_ID={shlex.quote(account['client_id'])} "
        + (f"PAYCODE_SALT={shlex.quote(account['salt'])}" if salt_from is None else "PAYCODE_SALT=<your salt>"),
        "Test codes: paycode sandbox --list-codes. Stop with Ctrl-C.",
    ]
    print("\n".join(lines), flush=True)


def _describe(switch: FaultSwitch) -> str:
    fields: dict[str, object] = {
        "path": switch.path,
        "times": switch.times,
        "seconds": switch.seconds,
        "status": switch.status,
    }
    parts = [f"{k}={v}" for k, v in fields.items() if v is not None and (k, v) != ("status", 500)]
    if switch.after_commit:
        parts.append("after_commit")
    return ",".join(parts)


def _print_codes(rows: list[dict[str, str]], *, as_json: bool) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    if not rows:
        print("no wallet plugins are installed: there are no test codes")
        return
    from ..sandbox import ALL_SCENARIOS

    behaviour = {s.name: s.behaviour for s in ALL_SCENARIOS}
    width = max(len(row["scenario"]) for row in rows)
    wallet_width = max(len(row["wallet"]) for row in rows)
    for row in rows:
        print(
            f"{row['wallet']:<{wallet_width}}  {row['scenario']:<{width}}  {row['code']}  {behaviour[row['scenario']]}"
        )
