"""``paycode classify CODE [--currency C] [--json]``: which wallet a payment code belongs to."""

from __future__ import annotations

import argparse
import json

HELP = "tell which wallet a payment code belongs to (exit 0 one wallet, 1 none or ambiguous)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", metavar="CODE", help="the payment code, as scanned (ASCII digits)")
    parser.add_argument("--currency", metavar="C", help="the sale currency (ISO 4217, e.g. CNY or HKD)")
    parser.add_argument("--json", action="store_true", help="one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..masking import mask_code
    from ..settings import Settings

    host = PluginHost(Settings.load(args.config))
    result = host.classify(args.code, args.currency)
    if args.json:
        print(json.dumps(result.as_json()))
    elif result.wallet is not None:
        print(f"{mask_code(args.code)}: {result.wallet.name} ({result.wallet.label})")
    else:
        verdict = "ambiguous" if result.status == "ambiguous" else "no wallet"
        print(f"{mask_code(args.code)}: {verdict}: {result.reason}")
    return 0 if result.status == "one" else 1
