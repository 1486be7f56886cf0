"""``paycode reconcile``: the journal's orders and refunds of a date range compared with the gateway (对账)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store.reconcile import Difference, Reconciliation, Unchecked

HELP = "compare the journal's orders and refunds of a date range with the gateway, repair the safe differences, total"

#: exit status when differences remain that a person must look at
EXIT_DIFFERENCES = 1
#: exit status when some orders could not be checked (the gateway unreachable), and nothing else is wrong
EXIT_UNCHECKED = 3


#: the days a journal can hold (epoch seconds, and a day before and after must still be a date)
FIRST_DAY, LAST_DAY = date(1970, 1, 2), date(9999, 12, 30)


def _day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD (such as 2026-03-01)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of queries a second > 0 (such as 5 or 0.5)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="first", metavar="DATE", type=_day, required=True, help="first day (YYYY-MM-DD)")
    parser.add_argument("--to", dest="last", metavar="DATE", type=_day, help="last day, included (default: --from)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per line: differences, totals, summary")
    out.add_argument("--csv", action="store_true", help="the totals as CSV on standard output (differences on stderr)")
    parser.add_argument(
        "--rate", type=_rate, default=5.0, help="at most this many gateway queries a second (default 5)"
    )


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..host import PluginHost
    from ..journal import journal_file, open_journal
    from ..settings import Settings
    from ..store.reconcile import TOTAL_COLUMNS, day_range, reconcile

    settings = Settings.load(config=args.config)
    start, end = day_range(args.first, args.last or args.first)
    if settings.gateway == "sandbox":
        raise ConfigError(
            "paycode reconcile asks the gateway the orders were sent to; the embedded sandbox (gateway = sandbox) "
            "forgets its orders when its process ends: set PAYCODE_GATEWAY to a site or to the URL that "
            "paycode sandbox prints"
        )
    path = journal_file(settings.journal)
    if path is not None and not path.exists():
        raise ConfigError(f"the journal {str(path)!r} does not exist: nothing to reconcile")
    host = PluginHost(settings)
    client = host.gateway()
    try:
        with open_journal(settings.journal) as journal:
            result = reconcile(journal, client, host, start=start, end=end, rate=args.rate)
    finally:
        client.close()
    listed: list[Difference | Unchecked] = [*result.differences, *result.unchecked]
    if args.json:
        for item in (*listed, *result.totals):
            print(json.dumps(item.as_json(), ensure_ascii=False))
        print(json.dumps(result.summary()), flush=True)
    elif args.csv:
        for item in listed:
            print(item.line(), file=sys.stderr)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(TOTAL_COLUMNS)
        writer.writerows(total.row() for total in result.totals)
        sys.stdout.flush()
    else:
        _print_text(result)
    if result.unrepaired:
        return EXIT_DIFFERENCES
    return EXIT_UNCHECKED if result.unchecked else 0


def _print_text(result: Reconciliation) -> None:
    from ..store.reconcile import TOTAL_COLUMNS

    s = result.summary()
    print(
        f"reconciled {s['from']} to {s['to']} (local time): {s['orders']} order(s), {s['refunds']} refund(s); "
        f"{s['differences']} difference(s), {s['repaired']} repaired, {s['unrepaired']} not repaired, "
        f"{s['unchecked']} not checked"
    )
    listed: list[Difference | Unchecked] = [*result.differences, *result.unchecked]
    for item in listed:
        print(item.line())
    rows = [list(TOTAL_COLUMNS), *(t.row() for t in result.totals)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TOTAL_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.flush()
