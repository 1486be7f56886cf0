"""``paycode recover``: settle the journal's unresolved orders with the gateway (exit 3 if some remain)."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "reconcile unresolved orders of the journal with the gateway; exit 3 while some remain unresolved"

#: exit status when some orders are still unresolved after recovery
EXIT_UNRESOLVED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per recovered order (per line)")
    parser.add_argument(
        "--late-success",
        choices=("refund", "report"),
        help="what to do with a success the lane had given up on (default: setting late_success, refund)",
    )
    parser.add_argument("--lane", metavar="NAME", help="only this lane's orders (default: every lane)")
    parser.add_argument(
        "--all-lanes",
        action="store_true",
        help="the store server's recovery: every lane's orders, each claimed first so that no two recoverers "
        "act on one order (docs/store.md)",
    )


def _check_lane_option(lane: str) -> None:
    """``--lane`` names a lane as the ``lane`` setting does: a name that no lane can have is a mistake, said so."""
    from ..errors import ConfigError
    from ..settings import Settings

    try:
        Settings(lane=lane)
    except ConfigError:
        raise ConfigError(
            f"paycode recover: --lane {lane!r} is not a lane name; a lane name is 1 to 64 printable characters, "
            "such as lane-1 or front-2"
        ) from None


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..journal import journal_file, open_journal
    from ..recovery import RecoveryResult, recover
    from ..settings import Settings

    settings = Settings.load(config=args.config)
    if args.all_lanes and args.lane is not None:
        raise ConfigError("paycode recover: --all-lanes and --lane NAME exclude each other; give one")
    if args.lane is not None:
        _check_lane_option(args.lane)
    path = journal_file(settings.journal)
    if path is not None and not path.exists():
        if not args.json:
            print(f"nothing to recover: the journal {path} does not exist yet")
        return 0
    with open_journal(settings.journal) as journal:
        pending = [r for r in journal.unresolved() if args.lane is None or r.lane == args.lane]
        if not pending:
            if not args.json:
                if args.lane is None:
                    print("nothing to recover: every order in the journal is resolved")
                else:
                    lane = args.lane
                    print(f"nothing to recover on lane {lane}: every order of that lane in the journal is resolved")
            return 0
        if settings.gateway == "sandbox":
            raise ConfigError(
                "paycode recover needs the gateway the orders were sent to; the embedded sandbox "
                "(gateway = sandbox) forgets its orders when its process ends: set PAYCODE_GATEWAY to a site "
                "or to the URL that paycode sandbox prints"
            )
        from ..host import PluginHost

        host = PluginHost(settings)
        client = host.gateway()

        def show(result: RecoveryResult) -> None:
            # each line as soon as its order is settled, flushed: a recovery killed half-way has said what it did
            print(json.dumps(result.as_json(), ensure_ascii=False) if args.json else result.line(), flush=True)

        try:
            if args.all_lanes:
                from ..store.recover_all import recover_all_lanes

                results = recover_all_lanes(journal, client, host, late_success=args.late_success, on_result=show)
            else:
                results = recover(journal, client, host, late_success=args.late_success, lane=args.lane, on_result=show)
        finally:
            client.close()
    unresolved = sum(not r.resolved for r in results)
    if not args.json:
        print(f"{len(results)} order(s) recovered: {len(results) - unresolved} resolved, {unresolved} unresolved")
    sys.stdout.flush()
    return EXIT_UNRESOLVED if unresolved else 0
