"""The ``paycode`` command line. One module per command: ``paycode.cli.cmd_<name>``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``, and keeps heavy imports inside ``run`` so that ``paycode --help``
stays fast. Errors derived from :class:`paycode.errors.PaycodeError` become one line on
stderr and the error's exit status; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

#: command name -> module, in the order ``paycode --help`` lists them
COMMANDS: dict[str, str] = {
    "plugins": "paycode.cli.cmd_plugins",
    "classify": "paycode.cli.cmd_classify",
    "sign": "paycode.cli.cmd_sign",
    "verify": "paycode.cli.cmd_verify",
    "scan": "paycode.cli.cmd_scan",
    "devices": "paycode.cli.cmd_devices",
    "pay": "paycode.cli.cmd_pay",
    "query": "paycode.cli.cmd_query",
    "refund": "paycode.cli.cmd_refund",
    "history": "paycode.cli.cmd_history",
    "recover": "paycode.cli.cmd_recover",
    "sandbox": "paycode.cli.cmd_sandbox",
    "notifications": "paycode.cli.cmd_notifications",
    "demo": "paycode.cli.cmd_demo",
    "new": "paycode.cli.cmd_new",
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors print as one line with exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from ..errors import UsageError

        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="paycode",
        description="Take wallet payment codes (WeChat Pay, Alipay, AlipayHK) at a point of sale "
        "and charge them through PingPong Checkout.",
    )
    parser.add_argument("--config", metavar="FILE", help="settings file (default ./paycode.toml, or PAYCODE_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not built yet
            raise
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ..errors import PaycodeError

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 2
        return int(args._run(args) or 0)
    except PaycodeError as exc:
        print(f"paycode: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("paycode: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # last line of defence: one line, never a traceback
        if os.environ.get("PAYCODE_DEBUG"):
            raise
        print(
            f"paycode: internal error: {type(exc).__name__}: {exc} (set PAYCODE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 70


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
