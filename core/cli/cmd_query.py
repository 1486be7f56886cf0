"""``paycode query --order ID``: an order's state at the gateway; the journal follows the answer."""

from __future__ import annotations

import argparse

HELP = "ask the gateway for an order's state; exit 0 answered, 1 unknown to the gateway, 3 no trustworthy answer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--order", required=True, metavar="ID", help="the order's merchantTransactionId")
    parser.add_argument("--json", action="store_true", help="one JSON object per line: each step, then the result")


def needs_lasting_gateway(settings: object, command: str) -> None:
    """The embedded sandbox is new in every process: it cannot know an order paid by an earlier command."""
    from ..errors import ConfigError

    if getattr(settings, "gateway", None) == "sandbox":
        raise ConfigError(
            f"paycode {command} needs the gateway the order was paid at; the embedded sandbox (gateway = sandbox) "
            "forgets its orders when its process ends: run `paycode sandbox` and set PAYCODE_GATEWAY to the URL it "
            "prints (with its PAYCODE_ACC_ID, PAYCODE_CLIENT_ID, PAYCODE_SALT), or a PingPong site"
        )


def run(args: argparse.Namespace) -> int:
    from ..bizcontent import check_id
    from ..host import PluginHost
    from ..settings import Settings
    from ..terminal import Terminal, outcome
    from ._steps import StepPrinter, payment_json

    settings = Settings.load(config=args.config)
    check_id(args.order, "order id")
    needs_lasting_gateway(settings, "query")
    printer = StepPrinter(json_lines=args.json)
    with Terminal(settings, host=PluginHost(settings, plugins=[printer]), recover=False) as terminal:
        payment = terminal.query(args.order)
    parts = [f"order {payment.merchant_transaction_id}: {payment.status.value}", str(payment.money)]
    parts += [payment.wallet] if payment.wallet else []
    parts += [f"code {payment.code_masked}"] if payment.code_masked else []
    parts += [f"transaction {payment.transaction_id}"] if payment.transaction_id else []
    human = ", ".join([*parts, f"refunded {payment.refunded}"])
    printer.result(payment_json(payment, outcome(payment)), human)
    return 0
