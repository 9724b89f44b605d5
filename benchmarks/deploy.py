"""Trained networks deployed on fresh chips, over time (``deepxbar deploy`` in a table).

    python benchmarks/deploy.py [--seeds 10] [--first 0] [--instances 20] [--repeats 10]

Trains the default DEEP XOR networks in software (seeds FIRST..FIRST+SEEDS-1), maps each onto
``--instances`` fresh chips per device preset, programs them by program-and-verify
(tolerance 1 % of the window, <= 20 iterations; hw/deploy.py) and judges ``--repeats``
inferences per chip at 0 s, 1 hour, 1 day, 30 days and 1 year after programming (a fresh
read of every device per inference, starts U(0, init_state) as in training, no wires).
Cells: P(all correct) / mean accuracy, where P(all correct) is the fraction of (chip,
inference) pairs with every pattern right and settled and the accuracy that of (chip,
inference, pattern) triples.
"""
from __future__ import annotations

import argparse
import time

from deepxbar import experiment
from deepxbar.configs import preset
from deepxbar.tasks import make_task
from hw.deploy import deploy, judge, programming_summary
from hw.devices import PRESETS

TIMES = (0.0, 3600.0, 86400.0, 2592000.0, 31536000.0)
LABELS = ("0 s", "1 hour", "1 day", "30 days", "1 year")
CASES = (("rram", "none"), ("rram", "global"), ("ecram", "none"), ("pcm", "none"), ("pcm", "global"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    seeds = list(range(args.first, args.first + args.seeds))
    cfg = preset("default", "deep", False).train
    task = make_task("xor")
    start = time.perf_counter()
    exp = experiment.run(task, cfg, seeds, progress=False)
    s = experiment.summary(exp, "deep", "default")
    print(f"default XOR nets, seeds {seeds[0]}..{seeds[-1]}: software success {s['success_rate']:.0%} "
          f"({time.perf_counter() - start:.0f} s); {args.instances} chips per net, {args.repeats} inferences "
          f"per chip and time, starts U(0, {cfg.init_state:g}), tolerance 0.01, no wires\n")
    print("| device | compensation | " + " | ".join(LABELS) + " | pulses/device | error rms (W) | unconverged | s |")
    print("|---|---|" + "---|" * len(LABELS) + "---|---|---|---|")
    for name, comp in CASES:
        t0 = time.perf_counter()
        dep = deploy(exp.net, seeds, PRESETS[name], args.instances)
        res = judge(dep, cfg, task.X, task.Y, TIMES, args.repeats, comp)
        prog = programming_summary(dep)
        cells = [f"{res['all_correct'][i].mean():.2f} / {res['accuracy'][i].mean():.2f}" for i in range(len(TIMES))]
        print(f"| {name} | {comp} | " + " | ".join(cells) + f" | {prog['pulses_mean']:.0f} | "
              f"{prog['program_error_rms']:.3f} | {prog['unconverged_devices']}/{prog['devices']} | "
              f"{time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
