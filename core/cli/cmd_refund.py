"""``paycode refund --order ID --amount A``: refund part or all of a paid order, never more than is left."""

from __future__ import annotations

import argparse

from ._args import seconds

HELP = "refund part or all of a paid order; exit 0 refunded, 1 refused, 3 outcome pending (journaled)"

#: exit status by refund status
_EXIT = {"SUCCESS": 0, "FAILED": 1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--order", required=True, metavar="ID", help="the paid order's merchantTransactionId")
    parser.add_argument("--amount", required=True, help="amount to refund, decimal text in the order's currency")
    parser.add_argument(
        "--currency", help="the order's currency, checked (optional): a refund is only ever in its order's currency"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line: each step, then the result")
    parser.add_argument("--poll-interval", type=seconds, metavar="S", help="seconds between refund queries")
    parser.add_argument("--deadline", type=seconds, metavar="S", help="seconds to follow a PROCESSING refund")


def run(args: argparse.Namespace) -> int:
    from ..bizcontent import check_id
    from ..host import PluginHost
    from ..payflow import check_refund_amount
    from ..settings import Settings
    from ..terminal import Terminal
    from ._steps import StepPrinter, journal_failure_exits_2
    from .cmd_query import needs_lasting_gateway

    settings = Settings.load(config=args.config)
    check_refund_amount(args.amount, args.currency)  # the amount first: a bad one is never "order not found"
    check_id(args.order, "order id")
    needs_lasting_gateway(settings, "refund")
    printer = StepPrinter(json_lines=args.json)
    with journal_failure_exits_2(), Terminal(settings, host=PluginHost(settings, plugins=[printer])) as terminal:
        result = terminal.refund(
            args.order, args.amount, currency=args.currency, poll_interval=args.poll_interval, deadline=args.deadline
        )
    human = (
        f"refund {result.refund_id} of {result.money}: {result.status.value}; "
        f"order {result.order_id} refunded {result.refunded} in all"
        f"{' (' + result.description + ')' if result.status.value != 'SUCCESS' and result.description else ''}"
    )
    printer.result({"result": "refund", **result.as_json()}, human)
    return _EXIT.get(result.status.value, 3)
