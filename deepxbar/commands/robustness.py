"""`deepxbar robustness RUN_DIR`: a trained run under additive weight noise and from
starts over the whole state box."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.evaluation import BASIN_STARTS, basin_accuracy, weight_noise_robustness

from .. import resources
from ..options import MAX_INSTANCES, add_force_option, count, number_list
from ..runs import check_file_writable, load_run, task_of, write_file_atomically

DEFAULT_NOISE = "0,0.003,0.01,0.03,0.1"


def add_parser(sub):
    p = sub.add_parser(
        "robustness", help="accuracy of a trained run under weight noise and from any start",
        description="For every sigma, K trials of fresh additive N(0, sigma^2) noise on every live "
        "weight (weight units: W is dimensionless, the leak gamma sets its scale), each judged by one "
        "free phase per pattern from the run's training starts; plus the basin accuracy: the fraction "
        f"of (start, pattern) pairs right from {BASIN_STARTS} starts per pattern drawn Uniform(0, 1). "
        "Writes robustness.png into the run folder.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--weight-noise", type=number_list(), default=DEFAULT_NOISE, metavar="LIST",
                   help=f"comma-separated sigmas, weight units (default {DEFAULT_NOISE})")
    p.add_argument("--trials", type=count(MAX_INSTANCES), default=20, metavar="K",
                   help=f"noise draws per sigma and seed, 1 to {MAX_INSTANCES:,} (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    add_force_option(p)
    return p


def run(args) -> int:
    from ..plots import reports as plots

    sigmas = args.weight_noise
    run = load_run(args.run_dir)
    c = run.config
    task = task_of(run)
    K = len(run.seeds)
    n = run.net.topology.n
    check_file_writable(run.path / "robustness.png", "RUN_DIR")
    resources.check_memory(resources.noise_memory(K, args.trials, n, len(task.X)), "robustness",
                           f"--trials {args.trials}",
                           f"{args.trials:,} noisy copies of each of {K:,} network{'s' if K > 1 else ''} of {n:,} neurons",
                           args.force)
    p_all, acc, per_seed = [], [], []
    for sigma in tqdm(sigmas, desc="weight noise", unit="sigma", disable=args.json, leave=False):
        r = weight_noise_robustness(run.net, run.cfg, task.X, task.Y, run.seeds, [sigma], args.trials)
        p_all.append(float(r["all_correct"][0].mean()))
        acc.append(float(r["accuracy"][0].mean()))
        per_seed.append([float(x) for x in r["all_correct"][0].mean(1)])
    basin = basin_accuracy(run.net, run.cfg, task.X, task.Y, run.seeds)
    live = run.net.alive & (run.net.W != 0)
    max_w = [float(np.abs(run.net.W[k][live[k]]).max(initial=0.0)) for k in range(K)]
    out = {
        "run_dir": str(run.path), "task": c.get("task"), "seeds": run.seeds, "trials": args.trials,
        "weight_noise": sigmas, "p_all_correct": p_all, "accuracy_mean": acc,
        "basin_accuracy": float(basin.mean()),
        "basin_accuracy_per_seed": [float(b) for b in basin],
        "p_all_correct_per_seed": per_seed,
        "max_abs_weight": max_w,
        "conditions": {
            "noise": "fresh additive N(0, sigma^2) on every live weight per trial (weight units)",
            "starts": f"non-input neurons ~ Uniform(0, {run.cfg.init_state:g}), one free phase per pattern "
                      "and trial",
            "p_all_correct": "fraction of (seed, trial) with every pattern right and settled",
            "basin": f"{BASIN_STARTS} starts per pattern ~ Uniform(0, 1), noise-free weights",
        },
    }
    png = run.path / "robustness.png"
    write_file_atomically(png, lambda p: plots.robustness(out, p), suffix=".png", option="RUN_DIR")
    out["plot"] = str(png)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{out['run_dir']}: {K} seeds x {args.trials} noise trials per sigma; starts "
          f"U(0, {run.cfg.init_state:g}); basin accuracy (U(0, 1) starts) {out['basin_accuracy']:.3f}")
    print(f"{'sigma':>8} {'P(all correct)':>15} {'accuracy':>9}")
    for s, p, a in zip(sigmas, p_all, acc):
        print(f"{s:>8.4g} {p:>15.3f} {a:>9.3f}")
    print(f"largest |W| per seed: {min(max_w):.3g}..{max(max_w):.3g}; plot: {png}")
    return 0

