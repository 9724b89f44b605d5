"""Robust networks: the targets of the default config, and what each ingredient buys.

    python benchmarks/robustness.py [--seeds 10] [--first 0] [--trials 20] [--skip-ablation]

Table 1, per task (default DEEP config, seeds FIRST..FIRST+SEEDS-1): success (every
pattern right in 10 free phases from the training starts U(0, 0.1)); basin accuracy
(20 starts per pattern drawn U(0, 1)); P(all correct) under additive weight noise
N(0, sigma^2) on every live weight, TRIALS draws per seed, one free phase per pattern;
the share of nets passing the paper's global Gershgorin test; pruning (XOR).
Table 2 (XOR): the first default and the ingredients added one at a time.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from deepxbar import experiment
from deepxbar.configs import preset
from deepxbar.tasks import make_task
from models.evaluation import weight_noise_robustness

# the first default (before issue 8), for the ablation
FIRST_DEFAULT = dict(n_hidden=5, gamma=1.0, beta=3.0, eta=300.0, init_std=0.1, epochs=400,
                     weight_decay=1e-3, max_inhibition=None, weight_clip=None)


def measure(task_name: str, cfg, seeds: list[int], trials: int, one_hot: bool = False) -> dict:
    task = make_task(task_name, one_hot)
    start = time.perf_counter()
    exp = experiment.run(task, cfg, seeds, progress=False)
    s = experiment.summary(exp, "deep", "default")
    rob = weight_noise_robustness(exp.net, cfg, task.X, task.Y, seeds, [0.01, 0.03], trials)
    p = rob["all_correct"].mean((1, 2))
    live = exp.net.alive & (exp.net.W != 0)
    return {"success": sum(q["success"] for q in s["per_seed"]), "n": len(seeds),
            "basin": s["basin_accuracy_mean"], "p01": p[0], "p03": p[1],
            "gershgorin": np.mean([q["gershgorin"]["hurwitz"] for q in s["per_seed"]]),
            "sparsity": np.mean([q["sparsity"] for q in s["per_seed"]]),
            "mean_w": float(np.abs(exp.net.W[live]).mean()), "wall": time.perf_counter() - start}


def row(label: str, m: dict, extra: str = "") -> str:
    return (f"| {label} | {m['success']}/{m['n']} | {m['basin']:.3f} | {m['p01']:.3f} | {m['p03']:.3f} | "
            f"{m['gershgorin']:.0%} | {m['mean_w']:.2f} |{extra} {m['wall']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--skip-ablation", action="store_true")
    args = ap.parse_args()
    seeds = list(range(args.first, args.first + args.seeds))
    pre = preset("default", "deep", False)
    print(f"Default config, seeds {seeds[0]}..{seeds[-1]}, {args.trials} noise trials per seed")
    print("| task | success | basin accuracy | P(all) sigma 0.01 | P(all) sigma 0.03 | Gershgorin | mean abs W | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for task_name in ("and", "or", "xor", "not", "identity"):
        print(row(task_name.upper(), measure(task_name, pre.train, seeds, args.trials)), flush=True)
    m = measure("xor", pre.pruned(), seeds, args.trials)
    print(row(f"XOR --prune (sparsity {m['sparsity']:.0%})", m), flush=True)
    oh = preset("default", "deep", True).train
    for task_name in ("and", "xor"):
        print(row(f"{task_name.upper()} one-hot", measure(task_name, oh, seeds, args.trials, one_hot=True)), flush=True)
    if args.skip_ablation:
        return
    print()
    print(f"XOR, seeds {seeds[0]}..{seeds[-1]}: the first default, then one ingredient added at a time")
    print("| config | success | basin accuracy | P(all) sigma 0.01 | P(all) sigma 0.03 | Gershgorin | mean abs W | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    first = replace(pre.train, **FIRST_DEFAULT)
    steps = [
        ("first default (5 hidden, gamma 1, decay 1e-3)", first),
        ("+ noise-aware training, sigma 0.03", replace(first, train_noise=0.03)),
        ("+ max_inhibition 0.45", replace(first, max_inhibition=0.45)),
        ("+ max_inhibition, 10 hidden, 1000 epochs", replace(first, max_inhibition=0.45, n_hidden=10, epochs=1000)),
        ("+ weight decay 1e-4", replace(first, max_inhibition=0.45, n_hidden=10, epochs=1000, weight_decay=1e-4)),
        ("+ leak 3 (beta, eta, init x3)", replace(pre.train, weight_clip=None)),
        ("+ |W| <= 1 = the default", pre.train),
        ("the default without max_inhibition", replace(pre.train, max_inhibition=None)),
        ("the default + noise-aware training, sigma 0.03", replace(pre.train, train_noise=0.03)),
    ]
    for label, cfg in steps:
        print(row(label, measure("xor", cfg, seeds, args.trials)), flush=True)


if __name__ == "__main__":
    main()
