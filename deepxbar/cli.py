"""The ``deepxbar`` command line: the subcommands of ``deepxbar.commands`` assembled, and
every bad input or unreadable run reported as one line with exit code 2."""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .commands import COMMANDS
from .options import UsageError
from .runs import RunError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deepxbar", description="DEEP networks on simulated analog crossbars.")
    parser.add_argument("--version", action="version", version=f"deepxbar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(handler=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except (UsageError, RunError) as e:
        msg = str(e)
        print(msg if msg.startswith("deepxbar") else f"deepxbar: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepxbar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
