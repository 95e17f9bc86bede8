"""How the tools read what an operator types, and build their ``--help``.

Accounts are written as EVM addresses (``0x`` and 40 hex digits) in both directions, so an
account printed by ``tail`` can be pasted into ``send``.  Enums are written by their domain
name in lower case (``--side buy``, ``--status halted``), whatever case the operator uses.
Every tool's parser comes from ``add_tool``, which puts a worked example under its help.
"""

from __future__ import annotations

import argparse
import enum
import string
from typing import TypeVar

from hypermarket.tools.client import add_connection_flags
from hypermarket.wire.codec import ACCOUNT_BYTES

E = TypeVar("E", bound=enum.Enum)


def add_tool(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    examples: str,
    *,
    description: str | None = None,
    connection: bool = True,
) -> argparse.ArgumentParser:
    """A sub-command parser whose help ends with ``examples`` (one command per line)."""
    lines = examples.strip().splitlines()
    heading = "example:" if len(lines) == 1 else "examples:"
    parser = commands.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog="\n".join([heading, *(f"  {line}" for line in lines)]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if connection:
        add_connection_flags(parser)
    return parser


def parse_account(text: str) -> bytes:
    """``0x`` + 40 hex digits -> the 20-byte account; an argparse type."""
    digits = text[2:] if text[:2].lower() == "0x" else ""
    if len(digits) != 2 * ACCOUNT_BYTES or not all(c in string.hexdigits for c in digits):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an account: write a 20-byte EVM address, 0x and 40 hex digits"
        )
    return bytes.fromhex(digits)


def format_account(account: bytes) -> str:
    """The account as ``parse_account`` reads it back."""
    return "0x" + account.hex()


def enum_name(member: enum.Enum) -> str:
    """How a member is written on the command line and in readable output: ``post_only``."""
    return member.name.lower()


def add_enum_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    kind: type[E],
    help: str,
    default: E | None = None,
    *,
    required: bool = False,
) -> None:
    """``flag`` taking a member of ``kind`` by name, in any case (``--tif POST_ONLY``)."""
    names = [enum_name(member) for member in kind]

    def convert(text: str) -> E:
        try:
            return kind[text.upper().replace("-", "_")]
        except KeyError:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}") from None

    shown = "" if default is None else f" (default: {enum_name(default)})"
    parser.add_argument(
        flag,
        type=convert,
        default=default,
        required=required,
        metavar="{" + ",".join(names) + "}",
        help=help + shown,
    )


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number
