"""``paycode sign [--sign-type T] (--salt-env VAR | --salt-file F) [FILE|-]``: PingPong V4 signature of a message."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = "print the PingPong V4 signature (uppercase hex) of a JSON message"


def add_salt_arguments(parser: argparse.ArgumentParser) -> None:
    """``--salt-env VAR | --salt-file F`` (one required); shared with ``paycode verify``."""
    salt = parser.add_mutually_exclusive_group(required=True)
    salt.add_argument("--salt-env", metavar="VAR", help="environment variable holding the merchant secret")
    salt.add_argument("--salt-file", metavar="F", help="file holding the merchant secret (mode 600)")
    parser.add_argument("file", metavar="FILE", nargs="?", default="-", help="JSON message file; - or none: stdin")
    parser.add_argument("--sign-type", metavar="T", help="signType (default: the message's signType, else SHA256)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_salt_arguments(parser)


def read_salt(args: argparse.Namespace) -> str:
    from ..settings import read_secret_env, read_secret_file

    if args.salt_file is not None:
        return read_secret_file(args.salt_file)
    return read_secret_env(args.salt_env)


def read_message(file: str) -> dict[str, Any]:
    """The JSON object in ``file`` (``-``: standard input); MessageError when unreadable or not an object."""
    from ..errors import MessageError
    from ..signing import parse_message

    if file == "-":
        return parse_message(sys.stdin.buffer.read(), "the message on standard input")
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise MessageError(f"message file {file!r} cannot be read: {exc.strerror}") from None
    return parse_message(data, f"message file {file!r}")


def sign_type_of(message: dict[str, Any], requested: str | None) -> str:
    """The signType to use: ``requested``, else the message's, else SHA256; a disagreement is an error."""
    from ..errors import MessageError

    given = message.get("signType")
    if given is not None and not isinstance(given, str):
        raise MessageError(f"the message's signType is {given!r}; it must be text such as SHA256 or MD5")
    if requested and given and requested.upper() != given.upper():
        raise MessageError(
            f"--sign-type {requested} disagrees with the message's signType {given}; "
            "the signature covers signType, so give one or make them equal"
        )
    return requested or given or "SHA256"


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..settings import Settings
    from ..signing import sign_message

    message = read_message(args.file)
    salt = read_salt(args)
    signer = PluginHost(Settings.load(args.config)).signer(sign_type_of(message, args.sign_type))
    print(sign_message(message, salt, signer))
    return 0
