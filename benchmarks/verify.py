"""Every phase settles, or says why: `deepxbar verify` over default-config runs.

    python benchmarks/verify.py [--tasks xor,and,or] [--seeds 10] [--first 0]
                                [--engines numpy,brian2,spice,pyspice] [--config default]

Trains each task (software, seeds FIRST..FIRST+SEEDS-1, the given config) and settles
every network and sample, free and nudged phase, with each engine on the ideal mapping
of the weights (0 ohm wires): ngspice runs the behavioural deck and the device-level
crossbar deck, each phase in chunks of 200 tau until its projected residual is below
1e-6 (at most 20 chunks). Prints, per task and phase, the largest |s - s_numpy| (units
of V_fs) per engine and the number of samples that do not agree to 1e-6, then every
such case with its reason.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from deepxbar.cli import main as cli
from deepxbar.runs import load_run
from deepxbar.spice import AGREE, verify


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="xor,and,or")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--engines", default="numpy,brian2,spice,pyspice")
    p.add_argument("--config", default="default")
    return p.parse_args()


def main() -> None:
    a = parse()
    engines = a.engines.split(",")
    cols = [e for e in engines if e != "numpy"] + [f"{e}_crossbar" for e in ("spice", "pyspice") if e in engines]
    print(f"# verify: {a.config} config, seeds {a.first}..{a.first + a.seeds - 1}, every sample, both phases; "
          f"agreement tolerance {AGREE:g} (units of V_fs)")
    print(f"{'task':<5} {'phase':<7} " + " ".join(f"{c:>17}" for c in cols) + f" {'disagree':>9} {'seconds':>8}")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in a.tasks.split(","):
            out = Path(tmp) / task
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli(["train", "--task", task, "--config", a.config, "--seed", str(a.first), "--seeds",
                            str(a.seeds), "--out", str(out), "--quiet"]) == 0
            t0 = time.perf_counter()
            v = verify(load_run(out), engines)
            wall = time.perf_counter() - t0
            for phase, row in v["phases"].items():
                n = sum(p["phase"] == phase for p in v["problems"])
                print(f"{task:<5} {phase:<7} " + " ".join(f"{row.get(c, float('nan')):>17.2e}" for c in cols)
                      + f" {n:>9d} {wall / 2:>8.1f}")
            problems += [(task, p) for p in v["problems"]]
    for task, p in problems:
        print(f"  {task} {p['engine']} {p['phase']} seed {p.get('seed')} sample {p.get('sample')}: {p['reason']}")
    print(f"{len(problems)} case(s) out of agreement")


if __name__ == "__main__":
    main()
