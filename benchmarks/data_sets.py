"""Real data: DEEP and asym-EP on scikit-learn's bundled data sets, beside logistic
regression and a backprop MLP on the same split.

    python benchmarks/data_sets.py [--data digits,iris,wine,breast-cancer] [--models deep,asym-ep]
                                   [--seeds 0,1,2] [--split-seed 0] [--device ecram,rram,pcm]
                                   [--epochs E] [--hidden H]

Every run is what ``deepxbar train --data NAME --model M --seed S --seeds 1`` does (the
data-set presets of ``deepxbar/configs.py``: the full batch up to 1,000 training samples,
else minibatches of 32; split seed 0, features scaled into [0, 1] on the training part); the seeds are trained one at a time so that
the time per seed is the time a user waits for one. The baselines (scikit-learn,
``random_state`` = the seed) see the same scaled features without the bias column:
LogisticRegression(max_iter=5000) and MLPClassifier(100 hidden, max_iter=1000).
With ``--device``, each preset trains on crossbars (test accuracy judged on the weights
the conductances hold and on the chip: a fresh read per inference), with its pulses.
"""
from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace

import numpy as np

from deepxbar import data, experiment
from deepxbar.configs import data_preset
from hw.crossbar import CrossbarConfig
from hw.devices import PRESETS


def baselines(d: data.Dataset, seed: int) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    X, X_test = d.X[:, :d.n_data_inputs], d.X_test[:, :d.n_data_inputs]
    y, y_test = d.Y.argmax(1), d.Y_test.argmax(1)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, clf in (("logistic", LogisticRegression(max_iter=5000, random_state=seed)),
                          ("mlp", MLPClassifier((100,), max_iter=1000, random_state=seed))):
            out[name] = float(clf.fit(X, y).score(X_test, y_test))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=",".join(data.DATASETS))
    ap.add_argument("--models", default="deep,asym-ep")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--device", default="", help="comma-separated presets: train on crossbars too")
    ap.add_argument("--epochs", type=int, help="override the preset's epochs")
    ap.add_argument("--hidden", type=int, help="override the preset's hidden units")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    devices = [None] + [d for d in args.device.split(",") if d]
    print(f"seeds {seeds}, split seed {args.split_seed}; test accuracy per seed (mean), wall seconds per seed")
    print("| data | model | substrate | test accuracy | on the chip | pulses per device per epoch | s per seed "
          "| logistic | MLP |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.data.split(","):
        for model in args.models.split(","):
            d = data.load(name, split_seed=args.split_seed)
            pre = data_preset("default", model, len(d.X))
            cfg = pre.train
            if args.epochs:
                cfg = replace(cfg, epochs=args.epochs)
            if args.hidden:
                cfg = replace(cfg, n_hidden=args.hidden)
            base = [baselines(d, s) for s in seeds]
            for dev in devices:
                hw = None if dev is None else CrossbarConfig(device=PRESETS[dev])
                acc, chip, pulses, wall = [], [], [], []
                for s in seeds:
                    start = time.perf_counter()
                    exp = experiment.run(d, cfg, [s], progress=False, hw=hw, batch_size=pre.batch_size)
                    wall.append(time.perf_counter() - start)
                    acc.append(float(exp.evaluation.accuracy[0]))
                    if exp.onchip is not None:
                        chip.append(float(exp.onchip.accuracy[0]))
                        devices_n = 2 * exp.net.alive[0].sum()
                        pulses.append(float(exp.history["pulses"][:, 0].mean() / devices_n))

                def cell(v):
                    return " / ".join(f"{x:.1%}" for x in v) + f" ({np.mean(v):.1%})" if v else "-"
                print(f"| {name} | {model} | {dev or 'software'} | {cell(acc)} | {cell(chip)} | "
                      f"{np.mean(pulses):.1f} |" if pulses else
                      f"| {name} | {model} | {dev or 'software'} | {cell(acc)} | - | - |", end="")
                print(f" {np.mean(wall):.0f} | {cell([b['logistic'] for b in base])} | "
                      f"{cell([b['mlp'] for b in base])} |", flush=True)


if __name__ == "__main__":
    main()
