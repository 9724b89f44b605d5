"""What the commands share on the command line: the two kinds of expected failure (bad
input, exit code 2; a failure at run time, exit code 1), argument types (finite numbers
in a stated range, one clear message), the ranges of the integer options and the chip
options of export-spice and verify."""
from __future__ import annotations

import argparse
import math

from hw.crossbar import MAX_LINE_RESISTANCE, MIN_LINE_RESISTANCE
from hw.wires import TILE_SIZE


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


class RuntimeFailure(Exception):
    """An expected failure at run time, not the input's fault as far as can be told
    before running (a numerical breakdown, a disk that fills up while writing, an
    unreachable service): printed as one line, exit code 1."""


# The ranges of the integer options (inclusive upper bounds unless said otherwise). Each
# bound sits far above any sensible value and far below where a number would overflow
# (an int64 record, a C long) or an allocation could not succeed anyway; sizes below the
# bounds are still checked against this machine's memory (deepxbar/resources.py).
SEED_BELOW = 2**32         # --seed, --split-seed: seeds SEED..SEED+K-1 are < 2**32 (numpy's 32-bit seed range)
MAX_SEEDS = 1_000_000      # --seeds: networks trained in one batch
MAX_EPOCHS = 1_000_000     # --epochs: ~12 days at the 1 ms an epoch of the smallest network takes
MAX_HIDDEN = 1_000_000     # --hidden: neurons in all the hidden layers (10^12 weights, 8 TB per network)
MAX_BATCH = 10_000_000     # --batch-size: a batch larger than the training part is the full batch
MAX_WRITE_VERIFY = 100     # --write-verify: rounds after each update (each reads every device `reads` times)
MAX_TILE_SIZE = 4096       # --tile-size: fabricated crossbar arrays are at most about 1024 x 1024 devices
MAX_INSTANCES = 100_000    # --instances, --trials: chips or noise draws per network
MAX_REPEATS = 10_000       # --repeats: inferences (or starts) per chip, pattern and time
MAX_SAMPLES = 1_000_000    # --samples: test samples judged (a data set holds at most 10^7 values without --large)
MAX_VERIFY_ITERATIONS = 10_000  # --max-iterations: pulse-and-verify iterations per device (default 20)


def _bound(x: float, kind: type) -> str:
    return f"{int(x):,}" if kind is int and float(x).is_integer() else f"{x:g}"


def number(kind: type, low: float, inclusive: bool = True, below: float | None = None,
           at_most: float | None = None):
    """An argparse type: a finite ``kind`` (int or float) >= ``low`` (> when not
    ``inclusive``), < ``below`` and <= ``at_most`` when given; the message states the
    range."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:  # also an integer of more than 4300 digits
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {shown!r}") from None
        bound = f">= {_bound(low, kind)}" if inclusive else f"> {_bound(low, kind)}"
        if below is not None:
            bound += f" and < {_bound(below, kind)}"
        if at_most is not None:
            bound += f" and <= {_bound(at_most, kind)}"
        finite = isinstance(value, int) or math.isfinite(value)  # isfinite of a huge int overflows
        if (not finite or value < low or (value == low and not inclusive)
                or (below is not None and value >= below) or (at_most is not None and value > at_most)):
            shown = text if len(text) <= 40 else text[:37] + "..."
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"must be {what} {bound}, got {shown!r}")
        return value
    return parse


def seed_type(text: str) -> int:
    """An argparse type: a seed, an integer in [0, 2**32)."""
    return number(int, 0, below=SEED_BELOW)(text)


def count(high: int, low: int = 1):
    """An argparse type: an integer in [low, high] (a number of things)."""
    return number(int, low, at_most=high)


def number_list(increasing: bool = False):
    """An argparse type: comma-separated finite numbers >= 0 (strictly increasing when
    ``increasing``), e.g. noise levels or times after programming."""
    def parse(text: str) -> list[float]:
        try:
            values = [float(v) for v in text.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values:
            raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise argparse.ArgumentTypeError(f"every value must be a finite number >= 0, got {text!r}")
        if increasing and any(b <= a for a, b in zip(values, values[1:])):
            raise argparse.ArgumentTypeError(f"values must be strictly increasing, got {text!r}")
        return values
    return parse


def tile_size(text: str) -> int:
    """An argparse type: devices per side of a tile, an even integer from 2 to
    ``MAX_TILE_SIZE``."""
    value = number(int, 2, at_most=MAX_TILE_SIZE)(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f"must be even (a tile holds whole +/- row pairs), got {text!r}")
    return value


def add_tile_option(p, default: int | None = None, help: str | None = None) -> None:
    p.add_argument("--tile-size", type=tile_size, default=default, metavar="T",
                   help=help or f"the crossbar is cut into tiles of at most T x T devices, each with its own "
                                f"wires, drivers and sense amplifiers; matters with --line-resistance "
                                f"(default {TILE_SIZE})")


def add_force_option(p) -> None:
    """``--force``: go on past the memory guard (deepxbar/resources.py)."""
    p.add_argument("--force", action="store_true",
                   help="go on when the memory estimate exceeds this machine's memory")


def line_resistance(text: str) -> float:
    """An argparse type: wire resistance per segment in ohms, 0 (ideal wires) or from
    ``MIN_LINE_RESISTANCE`` to below ``MAX_LINE_RESISTANCE`` (hw/crossbar.py says why)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value == 0 or MIN_LINE_RESISTANCE <= value < MAX_LINE_RESISTANCE):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise argparse.ArgumentTypeError(f"must be 0 (ideal wires) or from {MIN_LINE_RESISTANCE:g} to below "
                                         f"{MAX_LINE_RESISTANCE:g} ohm (a real wire segment is 0.1 to 10 ohm), "
                                         f"got {shown!r}")
    return value


def add_line_resistance_option(p, default: float | None, what: str) -> None:
    p.add_argument("--line-resistance", type=line_resistance, default=default, metavar="OHMS",
                   help=f"wire resistance per crossbar segment {what}: 0 (ideal wires) or "
                        f"{MIN_LINE_RESISTANCE:g} to below {MAX_LINE_RESISTANCE:g} ohm; real segments are "
                        "0.1 to 10 ohm")


def chip_options(p) -> None:
    """The chip a run's decks realise: its wires and, for hardware runs, when it is read."""
    add_line_resistance_option(p, None, "(default: the run's own; 0 for software runs)")
    add_tile_option(p, help=f"devices per side of a tile (default: the run's own; {TILE_SIZE} for software runs)")
    p.add_argument("--time", type=number(float, 0.0), metavar="SECONDS",
                   help="hardware runs: read the devices this long after programming (drift; default: as "
                   "programmed)")
