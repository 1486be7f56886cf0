"""``paycode history``: the payment journal, as a table, JSON lines or CSV for reconciliation."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._args import positive_int

if TYPE_CHECKING:
    from ..journal import JournalBackend, OrderRecord

HELP = "show the payment journal: orders, their history, or a CSV export for reconciliation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per order (per line)")
    parser.add_argument(
        "--csv", metavar="FILE", help="write every order as CSV to FILE ('-' for standard output) and stop"
    )
    parser.add_argument("--order", metavar="ID", help="one order with its transitions, attempts and refunds")
    parser.add_argument("--limit", metavar="N", type=positive_int("orders"), help="only the N newest orders")
    parser.add_argument("--unresolved", action="store_true", help="only orders recovery still has to settle")


def _journal_setting(args: argparse.Namespace) -> str:
    """The journal of the settings (``journal`` in paycode.toml, or PAYCODE_JOURNAL): a path or a URL."""
    from ..settings import Settings

    return Settings.load(config=args.config).journal


def _when(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _flags(record: OrderRecord) -> str:
    flags = []
    if record.abandoned:
        flags.append("abandoned")
    if record.unresolved:
        flags.append("unresolved")
    return ",".join(flags)


def _table(records: list[OrderRecord]) -> str:
    header = ("time", "order", "lane", "gateway", "wallet", "code", "amount", "status", "refunded", "flags")
    rows = [
        (
            _when(r.created_at),
            r.order_id,
            r.lane,
            r.site or r.gateway or "-",
            r.wallet,
            r.code_masked,
            f"{r.amount} {r.currency}",
            r.status.value,
            str(r.refunded) if r.refunded else "",
            _flags(r),
        )
        for r in records
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]
    ]
    return "\n".join(lines)


def _detail(journal: JournalBackend, record: OrderRecord) -> dict[str, Any]:
    return {
        **record.as_json(),
        "transitions": [t.as_json() for t in journal.transitions(record.order_id)],
        "attempts": [a.as_json() for a in journal.attempts(record.order_id)],
        "refunds": [r.as_json() for r in journal.refunds(record.order_id)],
    }


def _print_detail(detail: dict[str, Any]) -> None:
    print(
        f"order {detail['order_id']}  {detail['amount']} {detail['currency']}  {detail['wallet']}  {detail['code']}"
        f"  lane {detail['lane']}"
    )
    if detail["gateway"] or detail["site"]:
        print(f"sent to gateway {detail['gateway'] or '-'}  site {detail['site'] or '-'}")
    print(f"status {detail['status']}  transaction {detail['transaction_id'] or '-'}  refunded {detail['refunded']}")
    if detail["abandoned"]:
        print(f"abandoned: {detail['abandon_reason']}")
    if detail["unresolved"]:
        print("unresolved: run `paycode recover`")
    print("history:")
    for t in detail["transitions"]:
        print(f"  {t['time']}  {t['status']:<10}  {t['note']}".rstrip())
    print("attempts:")
    for a in detail["attempts"]:
        answer = " ".join(str(x) for x in (a["code"], a["status"]) if x)
        print(f"  {a['started_at']}  {a['kind']:<12}  {a['request_id']}  {a['outcome']}  {answer}".rstrip())
    for r in detail["refunds"]:
        print(f"refund {r['refund_id']}  {r['amount']}  {r['status']}  {r['detail']}".rstrip())


def run(args: argparse.Namespace) -> int:
    from ..errors import JournalError
    from ..journal import journal_file, open_journal

    setting = _journal_setting(args)
    path = journal_file(setting)
    if path is not None and not path.exists():
        if args.order:
            raise JournalError(f"order {args.order!r} is not in the journal: {str(path)!r} does not exist yet")
        if args.csv:
            from ..journal import CSV_COLUMNS

            _write_csv_header_only(args.csv, CSV_COLUMNS)
        elif not args.json:
            print(f"no orders: the journal {path} does not exist yet", file=sys.stderr)
        return 0
    with open_journal(setting) as journal:
        if args.csv:
            if args.csv == "-":
                journal.export_csv(sys.stdout)
            else:
                try:
                    with open(args.csv, "w", encoding="utf-8", newline="") as fh:
                        count = journal.export_csv(fh)
                except OSError as exc:
                    raise JournalError(f"cannot write CSV to {args.csv!r}: {exc.strerror}") from None
                print(f"{count} order(s) written to {args.csv}", file=sys.stderr)
            return 0
        if args.order:
            record = journal.order(args.order)
            if record is None:
                where = f" {str(path)!r}" if path is not None else " (PostgreSQL)"
                raise JournalError(f"order {args.order!r} is not in the journal{where}")
            detail = _detail(journal, record)
            if args.json:
                print(json.dumps(detail, ensure_ascii=False))
            else:
                _print_detail(detail)
            return 0
        records = journal.orders(limit=args.limit, unresolved_only=args.unresolved)
        if args.json:
            for record in records:
                print(json.dumps(record.as_json(), ensure_ascii=False))
        elif records:
            print(_table(records))
        else:
            print("no orders", file=sys.stderr)
    return 0


def _write_csv_header_only(target: str, columns: tuple[str, ...]) -> None:
    line = ",".join(columns) + "\n"
    if target == "-":
        sys.stdout.write(line)
        return
    from ..errors import JournalError

    try:
        Path(target).write_text(line, encoding="utf-8")
    except OSError as exc:
        raise JournalError(f"cannot write CSV to {target!r}: {exc.strerror}") from None
