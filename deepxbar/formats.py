"""Numbers in words, as the commands print them and the plots label their axes."""
from __future__ import annotations

import numpy as np


def si(x: float, unit: str) -> str:
    """``x`` with an SI prefix and 3 significant digits, e.g. ``si(8.5e-12, 'J') == '8.5 pJ'``."""
    if x == 0 or not np.isfinite(x):
        return f"{x:g} {unit}"
    exp = int(np.clip(np.floor(np.log10(abs(x)) / 3), -5, 2))
    return f"{x / 1000.0 ** exp:.3g} {'fpnum kM'[exp + 5].strip()}{unit}"


def when(t: float) -> str:
    """A time after programming in the largest unit that states it to 0.1, e.g.
    ``when(86400) == '1 day'``, ``when(5400) == '1.5 hours'``, ``when(42) == '42 s'``."""
    t = float(t)
    for unit, s in (("year", 31536000), ("day", 86400), ("hour", 3600), ("min", 60)):
        if t >= s and (t / s) == round(t / s, 1):
            v = t / s
            return f"{v:g} {unit}{'s' if v != 1 and unit != 'min' else ''}"
    return f"{t:g} s"
