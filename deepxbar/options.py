"""Argument types shared by the commands: finite numbers in a range, one clear message."""
from __future__ import annotations

import argparse
import math


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
