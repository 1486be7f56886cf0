"""The ``paycode`` command line. One module per command: ``paycode.cli.cmd_<name>``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``, and keeps heavy imports inside ``run`` so that ``paycode --help``
stays fast. Errors derived from :class:`paycode.errors.PaycodeError` become one line on
stderr and the error's exit status; usage errors exit 2.

A registered command whose module cannot be used never vanishes silently: ``paycode --help``
still lists it, marked unavailable with the reason, and running it prints one line naming
the module and exits 70 (:data:`EXIT_UNAVAILABLE`). A module that raises while it is imported
(an ImportError inside it, a syntax error), lacks ``HELP``/``add_arguments``/``run``, or whose
``add_arguments`` raises (an optional dependency it imports is not installed) is *broken*:
``paycode --help`` also warns about it on stderr. A module that does not exist at all
(``ModuleNotFoundError`` naming the module itself: a command registered before its module is
written or installed) is *missing*: listed and refused the same way, without the warning, so
that the other commands keep a clean stderr. docs/cli.md explains both.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType

import attrs

__all__ = ["COMMANDS", "EXIT_UNAVAILABLE", "Unavailable", "build_parser", "load_command", "main"]

#: command name -> module, in the order ``paycode --help`` lists them
COMMANDS: dict[str, str] = {
    "plugins": "paycode.cli.cmd_plugins",
    "classify": "paycode.cli.cmd_classify",
    "sign": "paycode.cli.cmd_sign",
    "verify": "paycode.cli.cmd_verify",
    "scan": "paycode.cli.cmd_scan",
    "devices": "paycode.cli.cmd_devices",
    "setup": "paycode.cli.cmd_setup",
    "pay": "paycode.cli.cmd_pay",
    "query": "paycode.cli.cmd_query",
    "refund": "paycode.cli.cmd_refund",
    "history": "paycode.cli.cmd_history",
    "recover": "paycode.cli.cmd_recover",
    "journal": "paycode.cli.cmd_journal",
    "reconcile": "paycode.cli.cmd_reconcile",
    "sandbox": "paycode.cli.cmd_sandbox",
    "notifications": "paycode.cli.cmd_notifications",
    "serve": "paycode.cli.cmd_serve",
    "demo": "paycode.cli.cmd_demo",
    "new": "paycode.cli.cmd_new",
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors print as one line with exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from ..errors import UsageError

        raise UsageError(f"{self.prog}: {message}")


#: exit status of a registered command whose module cannot be imported (EX_SOFTWARE, like an internal error)
EXIT_UNAVAILABLE = 70


@attrs.frozen
class Unavailable:
    """A registered command that cannot run: its module is ``missing`` or ``broken``, and why."""

    name: str
    module: str
    state: str  # "missing" | "broken"
    reason: str

    def message(self) -> str:
        if self.state == "missing":
            return (
                f"command {self.name} is registered but its module {self.module} is not installed "
                f"({self.reason}); reinstall paycode or remove the command from paycode.cli.COMMANDS"
            )
        return f"command {self.name} is unavailable: {self.reason}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_the_module(exc: ModuleNotFoundError, module_name: str) -> bool:
    """True when the module that was not found is the command module itself (or its package)."""
    missing = exc.name or ""
    return bool(missing) and (missing == module_name or module_name.startswith(missing + "."))


def load_command(name: str, module_name: str) -> ModuleType | Unavailable:
    """The command module, or why it cannot be used (never raises for a bad module)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if _is_the_module(exc, module_name):
            return Unavailable(name, module_name, "missing", f"no module named {exc.name!r}")
        return Unavailable(name, module_name, "broken", f"importing {module_name} failed: {_one_line(exc)}")
    except (Exception, SystemExit) as exc:  # SyntaxError, an ImportError inside it, anything it raises
        return Unavailable(name, module_name, "broken", f"importing {module_name} failed: {_one_line(exc)}")
    lacking = [attr for attr in ("HELP", "add_arguments", "run") if not hasattr(module, attr)]
    if lacking:
        return Unavailable(name, module_name, "broken", f"{module_name} defines no {', '.join(lacking)}")
    return module


def _refuse(unavailable: Unavailable, args: argparse.Namespace | None = None) -> int:
    print(f"paycode: error: {unavailable.message()}", file=sys.stderr)
    if unavailable.state == "broken" and os.environ.get("PAYCODE_DEBUG"):  # the traceback
        importlib.import_module(unavailable.module).add_arguments(_Parser(prog=f"paycode {unavailable.name}"))
    return EXIT_UNAVAILABLE


def build_parser(commands: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The ``paycode`` parser with a sub-command per entry of ``commands`` (default :data:`COMMANDS`).

    A command whose module cannot be used is still listed, marked unavailable; it runs :func:`_refuse`.
    ``parser.unavailable`` lists those commands.
    """
    loaded = {name: load_command(name, module) for name, module in (COMMANDS if commands is None else commands).items()}
    while True:  # again without a command whose add_arguments raised (rare: only then is the parser built twice)
        parser, failed = _parser_of(loaded)
        if failed is None:
            break
        loaded[failed.name] = failed
    parser.unavailable = [cmd for cmd in loaded.values() if isinstance(cmd, Unavailable)]  # type: ignore[attr-defined]
    return parser


def _parser_of(loaded: Mapping[str, ModuleType | Unavailable]) -> tuple[argparse.ArgumentParser, Unavailable | None]:
    """The parser of these commands, or the first command whose ``add_arguments`` raised (then it is broken)."""
    parser = _Parser(
        prog="paycode",
        description="Take wallet payment codes (WeChat Pay, Alipay, AlipayHK) at a point of sale "
        "and charge them through PingPong Checkout.",
    )
    parser.add_argument("--config", metavar="FILE", help="settings file (default ./paycode.toml, or PAYCODE_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, command in loaded.items():
        if isinstance(command, Unavailable):
            text = f"unavailable ({command.state}): {command.message()}"
            cmd = sub.add_parser(name, help=text, description=text, add_help=False)
            cmd.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            cmd.set_defaults(_run=functools.partial(_refuse, command))
            continue
        cmd = sub.add_parser(name, help=command.HELP, description=command.HELP)
        try:  # a command that cannot describe its options (an optional dependency missing) is broken too
            command.add_arguments(cmd)
        except (Exception, SystemExit) as exc:
            reason = f"{command.__name__}.add_arguments raised {_one_line(exc)}"
            return parser, Unavailable(name, command.__name__, "broken", reason)
        cmd.set_defaults(_run=command.run)
    return parser, None


def _command_word(arguments: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not ``--config FILE`` or an option)."""
    words = iter(arguments)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _warn_broken(unavailable: Sequence[Unavailable]) -> None:
    for command in unavailable:
        if command.state == "broken":
            print(f"paycode: warning: {command.message()}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from ..errors import PaycodeError

    try:
        parser = build_parser()
        arguments = list(sys.argv[1:] if argv is None else argv)
        unavailable: list[Unavailable] = parser.unavailable  # type: ignore[attr-defined]
        word = _command_word(arguments)
        for command in unavailable:
            if command.name == word:
                return _refuse(command)
        if word is None:  # `paycode`, `paycode --help`: the listing says which commands cannot run
            _warn_broken(unavailable)
        args = parser.parse_args(arguments)
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
