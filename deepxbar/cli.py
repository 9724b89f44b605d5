"""The ``deepxbar`` command line: the subcommands of ``deepxbar.commands`` assembled behind
one guard, so that every failure is one line on stderr and an exit code:

* 0: done;
* 1: a failure at run time (``RuntimeFailure``; a numerical breakdown such as a singular
  nodal matrix; ngspice failing; out of memory) or an unexpected exception (one line
  "internal error", with a hint at ``--debug``);
* 2: bad input (``UsageError``, ``RunError``: an option out of its range, a damaged run
  folder, a path that cannot be written, sizes beyond this machine's memory);
* 130: interrupted (Ctrl-C); 143: terminated (SIGTERM).

``--debug`` (before or after the subcommand) prints the traceback as well, for every
failure; the exit codes stay the same."""
from __future__ import annotations

import argparse
import sys
import traceback

from circuits.ngspice import NgspiceError
from hw.wires import SingularNodalMatrix

from . import __version__, interrupts
from .commands import COMMANDS
from .options import RuntimeFailure, UsageError
from .runs import RunError

BAD_INPUT = (UsageError, RunError)
RUNTIME_FAILURES = (RuntimeFailure, SingularNodalMatrix, NgspiceError)
MAX_LINE = 1000  # characters of one error line (a message that quotes a huge input)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{self.prog}: error: {message}")

    def _get_values(self, action, arg_strings):
        # "--opt=--": argparse drops the "--" and would hand the option [] unchecked; it
        # is the value "--", parsed (and refused) by the option's type like any other
        if action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deepxbar", description="DEEP networks on simulated analog crossbars.")
    parser.add_argument("--version", action="version", version=f"deepxbar {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of any failure (also accepted after the subcommand)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        p = command.add_parser(sub)
        p.set_defaults(handler=command.run)
        # SUPPRESS: absent after the subcommand, it leaves the top-level value alone
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="print the traceback of any failure")
    return parser


def one_line(message: str) -> str:
    """``message`` as one line of at most ``MAX_LINE`` characters."""
    line = " ".join(str(message).split())
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 3] + "..."


def _memory_message(e: MemoryError) -> str:
    """Out of memory, with the size asked for when numpy says it."""
    size = getattr(e, "_total_size", None)
    shape, dtype = getattr(e, "shape", None), getattr(e, "dtype", None)
    if size is not None and shape is not None:
        from .resources import describe

        return (f"deepxbar: error: out of memory: could not allocate {describe(size)} (an array of shape "
                f"{tuple(shape)} of {dtype}); ask for smaller sizes")
    detail = f" ({one_line(str(e))})" if str(e) else ""
    return f"deepxbar: error: out of memory{detail}; ask for smaller sizes"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # known before parsing, so that a failure while parsing shows its traceback too
    options = argv[:argv.index("--")] if "--" in argv else argv
    debug = "--debug" in options
    try:
        args = build_parser().parse_args(argv)
        debug = debug or getattr(args, "debug", False)
        with interrupts.terminate_as_interrupt():  # SIGTERM unwinds as Ctrl-C does: temporary files removed
            return args.handler(args)
    except BAD_INPUT as e:
        return _report(_prefixed(e), 2, debug)
    except RUNTIME_FAILURES as e:
        return _report(_prefixed(e), 1, debug)
    except MemoryError as e:
        return _report(_memory_message(e), 1, debug)
    except KeyboardInterrupt as e:  # Ctrl-C: 130; SIGTERM: 143 (deepxbar/interrupts.py)
        what = "terminated" if isinstance(e, interrupts.Terminated) else "interrupted"
        return _report(f"deepxbar: {what}; nothing half-written is left", interrupts.exit_code(e), debug)
    except Exception as e:  # a bug: one line, the traceback with --debug
        detail = f": {one_line(str(e))[:MAX_LINE // 2]}" if str(e) else ""
        hint = "" if debug else " (run with --debug for the traceback)"
        return _report(f"deepxbar: internal error: {type(e).__name__}{detail}{hint}", 1, debug)


def _prefixed(e: Exception) -> str:
    msg = str(e)
    return msg if msg.startswith("deepxbar") else f"deepxbar: error: {msg}"


def _report(message: str, code: int, debug: bool) -> int:
    """The failure being handled as one line on stderr (after its traceback with
    ``--debug``); returns the exit code ``code``."""
    if debug:
        traceback.print_exc()
    print(one_line(message), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
