"""Hardware training per device preset: the default DEEP config on crossbars.

    python benchmarks/presets.py [--seeds 10] [--trials 5]

For each preset: seeds (of 10) that succeed on AND, OR and XOR (judged on the weights
the conductances hold) and XOR judged on the chip (10 inferences on the crossbar as it
ends the run, a fresh read each); the sparsity and success with --prune on XOR; and
P(stable), the fraction of fresh chips (program-and-verify to 1 % of the window, read
noise per inference) carrying the trained XOR networks whose equilibria all pass the
local certificate, with the mean accuracy of those chips.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from deepxbar import experiment
from deepxbar.configs import preset
from deepxbar.tasks import make_task
from hw.crossbar import CrossbarConfig
from hw.devices import PRESETS
from hw.montecarlo import monte_carlo
from hw.wires import effective_matrices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    pre = preset("default", "deep", False)
    print("| preset | AND | OR | XOR | XOR on the chip | XOR --prune (sparsity) | P(stable) XOR | accuracy of instances | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, dev in PRESETS.items():
        start = time.perf_counter()
        hw = CrossbarConfig(device=dev)
        cells = []
        for task_name in ("and", "or", "xor"):
            task = make_task(task_name)
            exp = experiment.run(task, pre.train, seeds, progress=False, hw=hw)
            s = experiment.summary(exp, "deep", "default")
            cells.append(f"{sum(p['success'] for p in s['per_seed'])}/{len(seeds)}")
        xor_exp = exp
        cells.append(f"{sum(p['onchip_success'] for p in s['per_seed'])}/{len(seeds)}")
        pruned = experiment.summary(experiment.run(task, pre.pruned(), seeds, progress=False, hw=hw),
                                    "deep", "default")
        sparsity = np.mean([p["sparsity"] for p in pruned["per_seed"]])
        cells.append(f"{sum(p['success'] for p in pruned['per_seed'])}/{len(seeds)} ({sparsity:.0%})")
        mc = monte_carlo(xor_exp.net, pre.train, task.X, task.Y, seeds, hw, args.trials)
        cells.append(f"{mc['stable'].mean():.2f}")
        cells.append(f"{mc['accuracy'].mean():.2f}")
        print(f"| {name} | " + " | ".join(cells) + f" | {time.perf_counter() - start:.0f} |", flush=True)
    print("\nwire resistance: effective matrices of a 64-neuron crossbar (128 rows x 61 columns)")
    rng = np.random.default_rng(0)
    n = 64
    receiving = np.ones(n, dtype=bool)
    receiving[:3] = False
    Gp, Gm = rng.uniform(1e-6, 4e-5, (2, n, n))
    for r in (0.0, 1.0, 10.0):
        t0 = time.perf_counter()
        effective_matrices(Gp, Gm, receiving, r, r)
        print(f"  {r:>4} ohm per segment: {time.perf_counter() - t0:.3f} s (ngspice .op of the same circuit: 11-16 s)")


if __name__ == "__main__":
    main()
