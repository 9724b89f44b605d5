"""What the commands share on the command line: the usage error, argument types (finite
numbers in a range, one clear message) and the chip options of export-spice and verify."""
from __future__ import annotations

import argparse
import math

from hw.wires import TILE_SIZE


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def number(kind: type, low: float, inclusive: bool = True, below: float | None = None):
    """An argparse type: a finite ``kind`` (int or float) >= ``low`` (> when not
    ``inclusive``) and < ``below`` when given."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        bound = f">= {low:g}" if inclusive else f"> {low:g}"
        if below is not None:
            bound += f" and < {below:g}"
        if (not math.isfinite(value) or value < low or (value == low and not inclusive)
                or (below is not None and value >= below)):
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text!r}")
        return value
    return parse


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
    """An argparse type: devices per side of a tile, an even integer >= 2."""
    value = number(int, 2)(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f"must be even (a tile holds whole +/- row pairs), got {text!r}")
    return value


def add_tile_option(p, default: int | None = None) -> None:
    p.add_argument("--tile-size", type=tile_size, default=default, metavar="T",
                   help=f"the crossbar is cut into tiles of at most T x T devices, each with its own "
                        f"wires, drivers and sense amplifiers; matters with --line-resistance "
                        f"(default {TILE_SIZE})")


def chip_options(p) -> None:
    """The chip a run's decks realise: its wires and, for hardware runs, when it is read."""
    p.add_argument("--line-resistance", type=number(float, 0.0), metavar="OHMS",
                   help="wire resistance per segment (default: the run's own; 0 for software runs)")
    p.add_argument("--tile-size", type=tile_size, metavar="T",
                   help=f"devices per side of a tile (default: the run's own; {TILE_SIZE} for software runs)")
    p.add_argument("--time", type=number(float, 0.0), metavar="SECONDS",
                   help="hardware runs: read the devices this long after programming (drift; default: as "
                   "programmed)")
