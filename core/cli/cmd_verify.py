"""``paycode verify (--salt-env VAR | --salt-file F) [FILE|-]``: check a message's ``sign``; exit 0 valid, 1 invalid."""

from __future__ import annotations

import argparse

from .cmd_sign import add_salt_arguments, read_message, read_salt, sign_type_of

HELP = "check the PingPong V4 signature of a JSON message (exit 0 valid, 1 invalid)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_salt_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..settings import Settings
    from ..signing import verify_message

    message = read_message(args.file)
    salt = read_salt(args)
    signer = PluginHost(Settings.load(args.config)).signer(sign_type_of(message, args.sign_type))
    if not isinstance(message.get("sign"), str) or not message["sign"]:
        print("invalid: the message has no sign field")
        return 1
    if verify_message(message, salt, signer):
        print(f"valid ({signer.sign_type})")
        return 0
    print(f"invalid: the signature does not match the message under this secret ({signer.sign_type})")
    return 1
