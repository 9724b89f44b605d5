"""`deepxbar devices`: the device presets and their parameters, or one preset drawn."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from hw.devices import PRESETS, get_preset

from ..hardware import DEVICE_FIELDS
from ..runs import check_file_writable, write_file_atomically


def add_parser(sub):
    p = sub.add_parser("devices", help="list the device presets or plot one",
                       description="The device presets and their parameters (SI units).")
    p.add_argument("--plot", choices=sorted(PRESETS), metavar="NAME",
                   help="draw the pulse response and programming-noise spread of a preset")
    p.add_argument("--out", type=Path, help="PNG path for --plot (default: device-NAME.png)")
    p.add_argument("--json", action="store_true")
    return p


def run(args) -> int:
    if args.plot:
        from ..plots.devices import device_response

        dev = get_preset(args.plot)
        out = Path(args.out or f"device-{dev.name}.png")
        check_file_writable(out, "--out")
        write_file_atomically(out, lambda p: device_response(dev, p, np.random.default_rng(0)), suffix=".png",
                              option="--out")
        print(f"wrote {out}")
        return 0
    rows = {name: asdict(cfg) for name, cfg in PRESETS.items()}
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'parameter':<14}" + "".join(f"{n:>12}" for n in rows))
    for k in DEVICE_FIELDS:
        print(f"{k:<14}" + "".join(f"{_fmt(rows[n][k]):>12}" for n in rows))
    print("conductances in S, times in s; noises are standard deviations (see hw/devices.py)")
    return 0


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
