"""``paycode new (scanner|wallet) NAME [--transport serial|tcp|hid] [--dir D] [--json]``: start a plugin."""

from __future__ import annotations

import argparse
import json
import shlex

HELP = "write a new scanner or wallet plugin distribution that installs and passes its tests as created"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", metavar="KIND", help="what the plugin adds: scanner or wallet")
    parser.add_argument(
        "name",
        metavar="NAME",
        help="short name, e.g. acme: distribution paycode-acme, package paycode_acme, entry point and scheme acme",
    )
    parser.add_argument(
        "--transport",
        metavar="T",
        help="scanner plugins: serial (a framed serial scanner on paycode-serial), tcp (one scan per line over "
        "TCP; the default) or hid (a vendor's HID POS scanner on paycode-hid)",
    )
    parser.add_argument("--dir", metavar="D", default=".", help="folder to write paycode-NAME in (default: here)")
    parser.add_argument("--json", action="store_true", help="one JSON object describing what was written")


def run(args: argparse.Namespace) -> int:
    from ..scaffold import write_scaffold

    made = write_scaffold(args.kind, args.name, args.dir, transport=args.transport)
    if args.json:
        print(json.dumps(made.as_json()))
        return 0
    what = f"{made.transport} scanner plugin ({made.names.name}://)" if made.kind == "scanner" else "wallet plugin"
    print(f"created {made.names.distribution}, a {what}, in {made.folder}")
    for path in made.files:
        print(f"  {path}")
    print("next:")
    print(f"  cd {shlex.quote(str(made.folder))}")
    print("  pip install -e '.[test]'")
    print("  python -m pytest")
    return 0
