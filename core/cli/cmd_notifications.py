"""``paycode notifications``: receive PingPong's notifications, verify them and apply them to the journal."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

HELP = "receive gateway notifications (verified, applied to the journal); 2xx applied or duplicate, else non-2xx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port, printed)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a --host that is not loopback")
    parser.add_argument("--json", action="store_true", help="one JSON object per line: listening, then each one")


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..gateway import Credentials
    from ..host import PluginHost
    from ..journal import journal_label, open_journal
    from ..notifications import NotificationReceiver, ReceiverResult
    from ..settings import ENV, Settings
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
        receiver = NotificationReceiver(
            journal,
            credentials=Credentials(settings.acc_id, settings.client_id, settings.salt),
            signers=host.signers,
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            on_result=report,
        ).bind()
        printer.result(
            {"event": "listening", "url": receiver.url, "journal": journal_label(settings.journal)},
            f"paycode notifications: listening at {receiver.url} (journal {journal_label(settings.journal)}); "
            "Ctrl-C stops",
        )
        signal.signal(signal.SIGTERM, _stop)
        try:
            receiver.serve_forever()
        except KeyboardInterrupt:
            pass
    sys.stdout.flush()
    return 0
