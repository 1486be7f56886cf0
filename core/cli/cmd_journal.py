"""``paycode journal migrate|check``: the journal's schema version, and bringing it up to date (both backends)."""

from __future__ import annotations

import argparse
import json

HELP = "journal schema: check its version (exit 1 when migrations are pending) or migrate it to this paycode's"

#: exit status of ``check`` when the journal needs ``paycode journal migrate`` (or a newer paycode)
EXIT_NOT_CURRENT = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    for name, text in (
        ("check", "say which schema version the journal has and what is pending; writes nothing"),
        ("migrate", "apply pending migrations (creating the journal when missing); safe to run again"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--json", action="store_true", help="one JSON object instead of a line of text")


def run(args: argparse.Namespace) -> int:
    from ..settings import Settings
    from ..store import admin

    settings = Settings.load(config=args.config)
    report = admin.migrate(settings.journal) if args.action == "migrate" else admin.check(settings.journal)
    print(json.dumps(report.as_json()) if args.json else report.line(), flush=True)
    if args.action == "check" and not report.up_to_date:
        return EXIT_NOT_CURRENT
    return 0
