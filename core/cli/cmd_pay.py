"""``paycode pay``: one payment from a code (given or scanned) to its final state."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._args import seconds

HELP = "charge one payment code; exit 0 paid, 1 not paid, 3 outcome unresolved (journaled for recovery)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amount", required=True, help="amount as decimal text, e.g. 12.50")
    parser.add_argument("--currency", required=True, help="ISO 4217 currency, e.g. CNY or HKD")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--code", help="the payment code (digits); otherwise one is read from the scanner")
    source.add_argument("--scanner", metavar="URL", help="scanner URL (default: setting scanner / PAYCODE_SCANNER)")
    parser.add_argument("--order", metavar="ID", help="merchantTransactionId (default: generated; at most 64 chars)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line: each step, then the result")
    parser.add_argument("--poll-interval", type=seconds, metavar="S", help="seconds between queries while PROCESSING")
    parser.add_argument("--deadline", type=seconds, metavar="S", help="seconds to wait for the shopper, then close")
    parser.add_argument(
        "--scan-timeout", type=seconds, default=60.0, metavar="S", help="seconds to wait for a scan (default 60)"
    )


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..settings import Settings
    from ..terminal import Terminal, outcome
    from ._steps import EXIT_STATUS, StepPrinter, journal_failure_exits_2, pay_line, payment_json

    settings = Settings.load(config=args.config, poll_interval=args.poll_interval, deadline=args.deadline)
    printer = StepPrinter(json_lines=args.json)
    host = PluginHost(settings, plugins=[printer])
    try:
        with journal_failure_exits_2(), Terminal(settings, host=host, recover=False) as terminal:
            # refuse bad input before recovery or the payment sends anything
            sale = terminal.sale(args.amount, args.currency, args.order)
            if args.code is not None:
                host.wallet_for(args.code.strip(), sale.money.currency)
            terminal.recover()
            if args.code is None:
                printer.prompt_scan()
            payment = terminal.pay(
                sale.money,
                code=args.code,
                order_id=sale.order_id,
                scanner=args.scanner,
                scan_timeout=args.scan_timeout,
            )
    finally:
        printer.close()
    result = outcome(payment)
    order = payment.merchant_transaction_id
    human = pay_line(payment, result, printer.language)
    data = payment_json(payment, result)
    if payment.unrecorded:
        data["unrecorded"] = payment.unrecorded
        human = _unrecorded(payment, result, order)
        print(f"paycode: warning: the journal could not record order {order}: {payment.unrecorded}", file=sys.stderr)
    printer.result(data, human)
    return EXIT_STATUS[result]


def _unrecorded(payment: Any, result: str, order: str) -> str:
    """What the cashier is told when the journal could not record the payment's outcome (the gateway's truth)."""
    status = payment.status.value
    if result == "not_paid" and status == "SUCCESS":
        return (
            f"NOT PAID order {order}: the gateway took {payment.money} but the journal could not record it, "
            "so it was refunded in full; ask for a fresh code"
        )
    if result == "not_paid":
        return f"NOT PAID ({status}) order {order} (not recorded in the journal); ask for a fresh code"
    if status == "SUCCESS":
        return (
            f"UNRESOLVED order {order}: the gateway took {payment.money}, the journal could not record it and the "
            "refund has no final answer: do not charge again; check the order at PingPong (paycode query)"
        )
    return (
        f"UNRESOLVED ({status}) order {order}: not recorded in the journal, so recovery cannot follow it: do not "
        "charge again; check the order at PingPong (paycode query); unpaid, the gateway closes it at its timeExpire"
    )
