"""The reproduction table: paper config vs default config, every task, 10 seeds.

    python benchmarks/reproduction.py [--seeds 10] [--markdown]

Success = the trained network, run again from 10 fresh random initial states,
classifies every pattern right every time; margin = smallest distance of an output
from 0.5 on the right side (over seeds, patterns and repeats; negative = wrong);
stable = the local Lyapunov certificate holds at every free-phase equilibrium reached;
Gershgorin = the paper's global test on W.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from deepxbar import experiment
from deepxbar.configs import preset
from deepxbar.tasks import TASKS, make_task

ROWS = [  # (label, model, config, solver, one_hot, prune)
    ("DEEP, paper, reference solver", "deep", "paper", "reference", False, False),
    ("DEEP, paper, fast solver", "deep", "paper", "fast", False, False),
    ("DEEP one-hot, paper, reference", "deep", "paper", "reference", True, False),
    ("asym-EP, paper, reference", "asym-ep", "paper", "reference", False, False),
    ("DEEP, default", "deep", "default", "fast", False, False),
    ("DEEP one-hot, default", "deep", "default", "fast", True, False),
    ("DEEP, default, --prune", "deep", "default", "fast", False, True),
]


def cell(model, config, solver, one_hot, prune, task_name, seeds) -> dict:
    pre = preset(config, model, one_hot)
    cfg = replace(pre.pruned() if prune else pre.train, solver=solver)
    task = make_task(task_name, one_hot, pre.bias_input)
    s = experiment.summary(experiment.run(task, cfg, seeds, progress=False), model, config)
    per = s["per_seed"]
    return {"success": sum(p["success"] for p in per), "n": len(per),
            "margin": min(p["min_margin"] for p in per),
            "stable": sum(p["stable"] for p in per),
            "gershgorin": sum(p["gershgorin"]["hurwitz"] for p in per),
            "sparsity": float(np.mean([p["sparsity"] for p in per]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    print("| setting | " + " | ".join(TASKS) + " |")
    print("|---|" + "---|" * len(TASKS))
    for label, model, config, solver, one_hot, prune in ROWS:
        tasks = ("xor",) if prune else TASKS
        cells = []
        for t in TASKS:
            if t not in tasks:
                cells.append("")
                continue
            c = cell(model, config, solver, one_hot, prune, t, seeds)
            text = (f"{c['success']}/{c['n']} ok, margin {c['margin']:+.3f}, "
                    f"stable {c['stable']}, G {c['gershgorin']}")
            if prune:
                text += f", sparsity {c['sparsity']:.0%}"
            cells.append(text)
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
