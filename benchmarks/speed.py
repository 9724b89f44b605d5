"""Speed of the DEEP core: reference vs fast solver, seeds one by one vs batched, and
settling large networks. Prints a table; targets from the issue are shown beside.

    python benchmarks/speed.py [--quick]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from deepxbar.configs import preset
from deepxbar.tasks import make_task
from models.dynamics import deep_field
from models.settle import settle
from models.topology import Topology
from models.training import train


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="skip the slowest reference measurements")
    args = ap.parse_args()
    task = make_task("xor")
    rows = []
    for name in ("paper", "default"):
        cfg = replace(preset(name, "deep", False).train, epochs=200)
        topo = Topology(task.n_in, cfg.n_hidden, task.n_out)
        train(topo, replace(cfg, epochs=2), task.X, task.Y, [0])  # compile / warm up
        t_fast, _ = timed(lambda: train(topo, cfg, task.X, task.Y, [0]), repeat=3)
        t_ref, _ = timed(lambda: train(topo, replace(cfg, solver="reference"), task.X, task.Y, [0]))
        seeds = list(range(10))
        per_seed = [timed(lambda: train(topo, cfg, task.X, task.Y, [s]))[0] for s in seeds]
        t_one = sum(per_seed)
        t_batch, _ = timed(lambda: train(topo, cfg, task.X, task.Y, seeds), repeat=3)
        rows.append((name, t_ref, t_fast, t_ref / t_fast, np.median(per_seed), max(per_seed), t_one, t_batch))

    print("\n200-epoch XOR DEEP network, seed 0 unless said (wall seconds; the paper's notebook: ~23 s)")
    print(f"{'config':<8} {'reference':>10} {'fast':>8} {'speed-up':>9} {'fast median/max over 10 seeds':>30} "
          f"{'10 seeds 1-by-1':>16} {'10 batched':>11}")
    for name, t_ref, t_fast, ratio, med, worst, t_one, t_batch in rows:
        print(f"{name:<8} {t_ref:>10.2f} {t_fast:>8.3f} {ratio:>8.0f}x {med:>15.3f} / {worst:<12.3f} "
              f"{t_one:>16.2f} {t_batch:>11.3f}")
    print("targets: fast >= 20x reference; fast <= 0.25 s per net; 10 seeds batched <= 1 s")

    print("\nsettling one free phase, batch 256, W ~ N(0, 0.09/N), leak 1 (wall seconds; steps: median / max;"
          " residual: the largest projected residual at the end)")
    print(f"{'N':>6} {'fast':>8} {'steps':>13} {'fast + Newton':>14} {'steps':>11} {'reference 1000 steps':>21} "
          f"{'its residual':>13} {'|Newton - fast|':>16} {'converged (fast, Newton)':>25}")
    rng = np.random.default_rng(0)
    for n in (64, 256, 512, 1024):
        t = Topology(8, n - 9, 1)
        W = t.init_weights(rng, 1, 0.3 / np.sqrt(n))
        X = np.hstack([rng.integers(0, 2, (256, 7)).astype(float), np.ones((256, 1))])
        s0 = np.concatenate([X[None], rng.uniform(0, 0.1, (1, 256, n - 8))], axis=-1)
        field = deep_field(W, 256, t.free_mask(), gamma=1.0)
        settle(deep_field(W, 2, t.free_mask(), gamma=1.0), s0[:, :2], solver="fast", newton_at=1e-2)  # compile
        if args.quick and n > 512:
            t_fast, r, fast = None, None, "skipped"
        else:
            t_fast, r = timed(lambda: settle(field, s0, solver="fast"))
            fast = f"{t_fast:.2f}"
        t_newton, rn = timed(lambda: settle(field, s0, solver="fast", newton_at=1e-2))
        t_ref, rr = timed(lambda: settle(field, s0, solver="reference", steps=1000))
        steps = "-" if r is None else f"{int(np.median(r.steps))} / {int(r.steps.max())}"
        diff = "-" if r is None else f"{np.abs(rn.s - r.s).max():.1e}"
        conv = ("-" if r is None else f"{r.converged.mean():.0%}") + f", {rn.converged.mean():.0%}"
        print(f"{n:>6} {fast:>8} {steps:>13} {t_newton:>14.2f} "
              f"{int(np.median(rn.steps)):>5} / {int(rn.steps.max()):<5} {t_ref:>21.2f} {rr.residual.max():>13.1e} "
              f"{diff:>16} {conv:>25}", flush=True)
    print("fast + Newton: TrainConfig.newton_at = 1e-2 (the data-set preset); converged: projected residual "
          "below 1e-9")

if __name__ == "__main__":
    main()
