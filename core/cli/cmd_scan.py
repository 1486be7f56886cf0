"""``paycode scan --scanner URL [--count N] [--timeout S] [--json] [--stats]``: read scans, print them masked."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl
from ._args import positive_int, seconds

if TYPE_CHECKING:
    from ..supervisor import ScannerStats, ScanSupervisor

HELP = "read scans from a scanner and print them (codes masked); exit 1 when none comes in time"

_REPORTED = ("scanner.gone", "scanner.error", "scanner.reopened")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scanner", metavar="URL", help="scanner URL (default: setting scanner / PAYCODE_SCANNER)")
    parser.add_argument("--count", type=positive_int(), metavar="N", help="stop after N scans (default: no limit)")
    parser.add_argument(
        "--timeout", type=seconds, metavar="S", help="give up when no scan comes for S seconds (exit 1)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per scan")
    parser.add_argument("--list", action="store_true", help="list scanner devices instead (as `paycode devices`)")
    parser.add_argument(
        "--stats",
        action="store_true",
        help="at the end, print the scanner's health and statistics (scans, discarded input by kind, reconnects)",
    )


class _ScannerTrouble:
    """Prints the supervisor's trouble events on stderr, so a vanished scanner is visible."""

    @hookimpl
    def paycode_payment_event(self, event: Any) -> None:
        if event.kind in _REPORTED:
            data = event.data
            extra = f" (retrying in {data['retry_in']} s)" if "retry_in" in data else ""
            reason = f": {data['error']}" if "error" in data else ""
            print(f"paycode: {event.kind} {data.get('scanner', '')}{reason}{extra}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..settings import Settings

    if args.list:
        from . import cmd_devices

        return cmd_devices.run(args)
    host = PluginHost(Settings.load(args.config), plugins=[_ScannerTrouble()])
    with host.open_scanner(args.scanner) as supervisor:
        try:
            return _read(args, supervisor)
        finally:
            if args.stats:
                _print_stats(supervisor.emit_stats(), json_lines=args.json)


def _print_stats(stats: ScannerStats, *, json_lines: bool) -> None:
    if json_lines:
        print(json.dumps({"stats": stats.as_json()}), flush=True)
        return
    data = stats.as_json()
    discarded = ", ".join(f"{kind} {n}" for kind, n in data["discarded"].items()) or "none"
    lines = [
        f"scanner     {stats.scanner}",
        f"state       {stats.state} ({'healthy' if stats.healthy else 'not reading'})",
        f"scans       {stats.scans} (repeats suppressed {stats.repeats})",
        f"discarded   {stats.discarded_total} ({discarded})",
        f"lost        {stats.losses} times, reconnected {stats.reconnects}",
        f"feedback    {', '.join(stats.feedback_kinds) or 'none'} ({stats.feedback} sent)",
        f"last seen   {data['last_seen'] or 'never'}",
    ]
    if stats.last_error:
        lines.append(f"last error  {stats.last_error}")
    print("\n".join(lines), flush=True)


def _read(args: argparse.Namespace, supervisor: ScanSupervisor) -> int:
    read = 0
    for scan in supervisor.scans(count=args.count, timeout=args.timeout):
        read += 1
        wall = time.time() - (time.monotonic() - scan.time)
        if args.json:
            line = {
                "text": scan.masked(),
                "length": len(scan.text),
                "symbology": scan.symbology,
                "aim": scan.aim,
                "source": scan.source,
                "time": round(wall, 3),
            }
            print(json.dumps(line), flush=True)
        else:
            details = " ".join(v for v in (scan.symbology, scan.aim) if v)
            print(f"{scan.masked()}  {len(scan.text)} chars  {details}".rstrip(), flush=True)
    if args.count is not None and read < args.count:
        print(f"paycode: the scanner's input ended after {read} of {args.count} scans", file=sys.stderr)
    elif read == 0:
        print(f"paycode: the scanner's input ended before any scan ({supervisor.url.display})", file=sys.stderr)
    return 0
