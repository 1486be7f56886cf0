"""``paycode setup scanner``: configure a scanner from one scan of a known test barcode."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from ._args import seconds

HELP = "set up a scanner: show a test barcode, read one scan of it, print the scanner URL and what to fix"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", metavar="WHAT", choices=["scanner"], help="what to set up: scanner")
    parser.add_argument(
        "--device",
        metavar="URL",
        default="auto",
        help="where the scanner is: auto (listen on every candidate it can read and take the first heard; the "
        "default), stdin:// (a keyboard wedge typing into this terminal), serial:///dev/ttyACM0 (any serial URL, "
        "with baudrate=), hid://VID:PID",
    )
    parser.add_argument("--list", action="store_true", help="list the candidate devices and stop")
    parser.add_argument(
        "--png",
        metavar="FILE",
        default="paycode-test-barcode.png",
        help="where to write the test barcode as a PNG image (default paycode-test-barcode.png)",
    )
    parser.add_argument(
        "--symbology",
        choices=["qr", "code128"],
        default="qr",
        help="the symbology the terminal shows the test barcode in (default qr; the PNG has both)",
    )
    parser.add_argument("--timeout", type=seconds, default=30.0, metavar="S", help="wait S seconds for the scan")
    parser.add_argument(
        "--settle", type=seconds, default=1.0, metavar="S", help="after the scan, keep reading until S quiet seconds"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object with the result (for host applications)")


def _print_diagnosis(data: dict[str, Any], out: TextIO) -> None:
    framing = data["framing"]
    parts = [
        f"STX/ETX {'yes' if framing['stx'] else 'no'}",
        f"suffix {framing['suffix'] or 'none'}",
        f"AIM {framing['aim'] or 'none'}" + (f" ({framing['symbology']})" if framing["symbology"] else ""),
    ]
    if framing["code_id"]:
        parts.append(f"code id {framing['code_id']!r}")
    if framing["prefix"]:
        parts.append(f"prefix {framing['prefix']!r}")
    print(f"transport   {data['transport']}" + (f" ({data['mode']})" if data["mode"] else ""), file=out)
    print(f"framing     {', '.join(parts)}", file=out)
    if data["layout"]:
        print(f"layout      {data['layout']}", file=out)
    print(f"url         {data['url'] or '-'}", file=out)
    for note in data["notes"]:
        print(f"note        {note}", file=out)
    if data["problems"]:
        print("problems:", file=out)
        for problem in data["problems"]:
            print(f"  {problem['name']}: {problem['message']}", file=out)
            print(f"    fix: {problem['fix']}", file=out)
    for alternative in data["alternatives"]:
        print(f"better      {alternative}", file=out)
    if data["toml"]:
        print("paycode.toml:", file=out)
        for line in data["toml"]:
            print(f"  {line}", file=out)
    print(
        "ok: the scanner is set up" if data["ok"] else "not set up yet: fix the problems above and run again", file=out
    )


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..settings import Settings
    from ..setup_assistant import CAPTURED_SCHEMES, TEST_TEXT, candidates, diagnose, diagnose_any
    from ..setup_assistant.testcode import blocks, symbol, write_png

    human = sys.stderr if args.json else sys.stdout  # with --json, stdout holds the JSON object alone
    host = PluginHost(Settings.load(args.config))
    if args.device != "auto" and not args.list:
        from ..setup_assistant.assistant import _capturable

        _capturable(args.device)  # a device it cannot read is said at once, before the test barcode is drawn
    found, trouble = candidates(host)
    for line in trouble:
        print(f"paycode: {line}", file=sys.stderr)
    if args.list:
        for device in found:
            if args.json:
                print(json.dumps(device))
            else:
                print(f"{device.get('url', '?')}  {device.get('description', '')}".rstrip())
        return 0
    print("candidate devices:", file=human)
    for device in found:
        print(f"  {device.get('url', '?')}  {device.get('description', '')}".rstrip(), file=human)
    shown = symbol(TEST_TEXT, args.symbology)
    png = write_png(Path(args.png), [(symbol(TEST_TEXT, "code128"), "code128"), (symbol(TEST_TEXT, "qr"), "qr")])
    print(f"\ntest barcode {TEST_TEXT!r} ({args.symbology}; Code 128 and QR in {png}):", file=human)
    print(blocks(shown, args.symbology), file=human)
    # keyboards are left out of auto: grabbing an evdev keyboard would take this computer's own keyboard too,
    # and its typing would be heard first on a hid:// keyboard; a keyboard-wedge scanner is heard on stdin://
    # instead (name its device with --device to read it there)
    auto = [s for s in CAPTURED_SCHEMES if s != "evdev"]
    listened = [
        d["url"]
        for d in found
        if d.get("scheme") in auto and d.get("url") and "mode=keyboard" not in d["url"] and d.get("hid_pos", True)
    ]
    where = "any of " + ", ".join(listened) if args.device == "auto" else args.device
    print(f"\nscan it now with the scanner on {where} (waiting up to {args.timeout:g} s) ...", file=human, flush=True)
    if args.device == "auto":
        heard_on, diagnosis, skipped = diagnose_any(listened, timeout=args.timeout, settle=args.settle)
        for line in skipped:
            print(f"paycode: not listened on {line}", file=sys.stderr)
    else:
        heard_on, diagnosis = args.device, diagnose(args.device, timeout=args.timeout, settle=args.settle)
    data = {"device": heard_on, "png": str(png), "test_text": TEST_TEXT, **diagnosis.as_json()}
    if args.json:
        data["candidates"] = found
        print(json.dumps(data), flush=True)
    else:
        print(file=human)
        print(f"device      {heard_on}", file=human)
        _print_diagnosis(data, human)
    return 0 if diagnosis.ok else 1
