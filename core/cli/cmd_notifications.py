"""``paycode notifications``: receive PingPong's notifications, verify them and apply them to the journal."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from types import FrameType

from ._args import MAX_SECONDS

HELP = "receive gateway notifications (verified, applied to the journal); 2xx applied or duplicate, else non-2xx"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} seconds is too long; at most {MAX_SECONDS} (a week)")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 1 or more")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..receiver_limits import DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_TIMEOUT, DEFAULT_WORKERS

    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port, printed)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a --host that is not loopback")
    parser.add_argument("--json", action="store_true", help="one JSON object per line: listening, then each one")
    parser.add_argument(
        "--read-timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_READ_TIMEOUT,
        help=f"seconds a client has to send its whole request; slower ones are disconnected "
        f"(default {DEFAULT_READ_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-connections",
        metavar="N",
        type=_count,
        default=DEFAULT_MAX_CONNECTIONS,
        help="connections held at once; beyond them the one longest without a whole request is closed, or, "
        f"when all are busy, the request is answered 503 (default {DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--workers",
        metavar="N",
        type=_count,
        default=DEFAULT_WORKERS,
        help=f"threads verifying and journaling notifications at once (default {DEFAULT_WORKERS})",
    )


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..gateway import Credentials
    from ..host import PluginHost
    from ..journal import journal_label, open_journal
    from ..notifications import NotificationReceiver, ReceiverResult
    from ..settings import ENV, Settings
    from ..wake import waker_for
    from ._steps import StepPrinter

    settings = Settings.load(config=args.config)
    if not (settings.acc_id and settings.client_id and settings.salt):
        raise ConfigError(
            f"paycode notifications verifies with the merchant's credentials: set {ENV['acc_id']}, "
            f"{ENV['client_id']} and {ENV['salt']} (or {ENV['salt_file']})"
        )
    printer = StepPrinter(json_lines=args.json)
    host = PluginHost(settings, plugins=[printer])

    def report(result: ReceiverResult) -> None:
        data = result.as_json()
        order = data.pop("order", None)
        host.emit("notification", order, **data)

    with open_journal(settings.journal) as journal:
        waker = waker_for(settings, listen=False)  # tells lanes waiting on an order that its outcome arrived
        try:
            receiver = NotificationReceiver(
                journal,
                credentials=Credentials(settings.acc_id, settings.client_id, settings.salt),
                signers=host.signers,
                host=args.host,
                port=args.port,
                allow_remote=args.allow_remote,
                on_result=report,
                waker=waker,
                read_timeout=args.read_timeout,
                max_connections=args.max_connections,
                workers=args.workers,
            ).bind()
            label = journal_label(settings.journal)
            printer.result(
                {"event": "listening", "url": receiver.url, "journal": label},
                f"paycode notifications: listening at {receiver.url} (journal {label}); Ctrl-C stops",
            )
            signal.signal(signal.SIGTERM, _stop)
            try:
                receiver.serve_forever()
            except KeyboardInterrupt:
                pass
        finally:
            waker.close()
    sys.stdout.flush()
    return 0
