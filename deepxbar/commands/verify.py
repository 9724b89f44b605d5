"""`deepxbar verify RUN_DIR`: every network and sample of a trained run settled by numpy,
Brian2 and ngspice (``deepxbar.spice.verify``), the largest differences printed and every
case that does not agree explained (exit 1)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from circuits.engines import names as engine_names

from ..options import chip_options
from ..runs import RunError, load_run

SHOWN = 8  # problems printed in full


def add_parser(sub):
    p = sub.add_parser("verify", help="settle a run with numpy, Brian2 and ngspice and compare",
                       description="Every network and sample, both phases, settled by each engine on the "
                       "run's crossbar (hardware runs) or the ideal mapping (software runs); prints the "
                       "largest difference from numpy in units of V_fs, and every case that does not agree "
                       "to 1e-6 with both states and the reason (exit 1).")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--engines", default="numpy,brian2,spice,pyspice",
                   help="comma-separated from numpy, brian2, spice, pyspice (default: all)")
    chip_options(p)
    p.add_argument("--json", action="store_true")
    return p


def run(args) -> int:
    from ..spice import AGREE, verify

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    bad = [e for e in engines if e not in engine_names()]
    if bad or not engines:
        raise RunError(f"--engines {args.engines!r}: choose from {', '.join(engine_names())} (comma-separated)")
    result = verify(load_run(args.run_dir), engines, args.line_resistance, args.time, tile_size=args.tile_size)
    if args.json:
        print(json.dumps(result))
        return 0 if result["agree"] else 1
    return _print(result, engines, AGREE)


def _print(result: dict, engines: list[str], agree: float) -> int:
    """The table of largest differences and the first ``SHOWN`` problems; the exit code."""
    print(f"{result['run_dir']}: {result['chip']}, wires {result['line_resistance']:g} ohm, tiles of "
          f"{result['tile_size']} x {result['tile_size']}; "
          f"largest |s - s_numpy| over every network and sample (units of V_fs)")
    for phase, row in result["phases"].items():
        keys = [e for e in engines if e != "numpy"] + [f"{e}_crossbar" for e in ("spice", "pyspice") if e in engines]
        parts = [f"{e} {row[e]:.2e}" for e in keys if e in row]
        print(f"  {phase:<7} " + (", ".join(parts) if parts else "numpy only"))
    problems = result["problems"]
    if not problems:
        print(f"every engine agrees with numpy to {agree:g} on every sample, both phases")
        return 0
    print(f"{len(problems)} case(s) where an engine does not agree with numpy to {agree:g}:")
    for p in problems[:SHOWN]:
        where = f"{p['engine']}, {p['phase']} phase" + (f", seed {p['seed']}, sample {p['sample']}" if "seed" in p else "")
        print(f"  {where}: {p['reason']}")
        if "engine_state" in p:
            print(f"    {p['engine']:<14} {np.array2string(np.array(p['engine_state']), precision=6, max_line_width=10**4)}")
            print(f"    {'numpy':<14} {np.array2string(np.array(p['numpy_state']), precision=6, max_line_width=10**4)}")
    if len(problems) > SHOWN:
        print(f"  ... and {len(problems) - SHOWN} more (--json lists them all)")
    return 1
