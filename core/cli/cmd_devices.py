"""``paycode devices [--json]`` (also ``paycode scan --list``): scanner devices present now."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "list the scanner devices present now, with the URL to use for each"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..settings import Settings

    host = PluginHost(Settings.load(args.config))
    listable = {s: t for s, t in sorted(host.scanners.items()) if t.list_devices is not None}
    found = 0
    for scheme, scanner_type in listable.items():
        assert scanner_type.list_devices is not None
        try:
            devices = scanner_type.list_devices()
        except Exception as exc:
            print(f"paycode: {scheme}:// could not list its devices: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        for device in devices:
            found += 1
            if args.json:
                print(json.dumps({"scheme": scheme, **device}))
            else:
                print(f"{device.get('url', '?')}  {device.get('description', '')}".rstrip())
    if not found and not args.json:
        kinds = ", ".join(s + "://" for s in listable) or "none installed"
        print(f"no scanner devices found (schemes that can list devices: {kinds})")
    return 0
