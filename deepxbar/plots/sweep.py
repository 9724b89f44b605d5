"""A sweep's curves: one metric against one grid key, mean over seeds with the s.e.m.
as a band (``deepxbar.sweep.write_outputs`` draws one per key with several values)."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..formats import when
from ..sweep import DEFAULT_TIMES, DEPLOY_KEYS, as_floats, grid_code


def _numeric(values) -> bool:
    return all(isinstance(grid_code(v), float) for v in values)


def _curves(df, xcol: str, xvals: list, metric: str, by: list[str]):
    """Per value of the ``by`` columns: (their codes, mean, s.e.m.) of ``metric`` at every x
    (grid order), the mean first over the rows of a seed (the other parameters), then
    over the seeds."""
    d = df.assign(_x=df[xcol].map(grid_code), **{f"_{c}": df[c].map(grid_code) for c in by})
    d[metric] = as_floats(d[metric])
    keys = [f"_{c}" for c in by]
    xs = [grid_code(v) for v in xvals]
    out = []
    groups = d.groupby(keys, sort=False) if keys else [((), d)]
    for combo, g in groups:
        per_seed = g.groupby(["_x", "seed"], sort=False)[metric].mean().groupby(level=0, sort=False)
        mean = per_seed.mean().reindex(xs).to_numpy(float)
        sem = per_seed.sem().reindex(xs).fillna(0).to_numpy(float)
        combo = combo if isinstance(combo, tuple) else (combo,)
        out.append((combo, mean, sem))
    return out


def _combo_label(by: list[str], combo: tuple) -> str:
    parts = []
    for c, v in zip(by, combo):
        name = c.removeprefix("param_")
        parts.append(when(v) if name == "time" else f"{name} = {v:g}" if isinstance(v, float) else f"{name} = {v}")
    return ", ".join(parts)


def curves(df, spec: dict, key: str, path: Path) -> None:
    """The metrics of the results table ``df`` against grid ``key``: accuracy (trained
    weights and on the chip) and P(stable) for training sweeps (on a data set: test
    accuracy of the trained weights and on the chip, and training accuracy, in one
    panel; no success); accuracy, P(all correct)
    and P(stable) for deployment sweeps, one line per time (or, against time, per
    combination of the other swept keys, up to 8)."""
    deploy_mode = spec.get("mode", "train") == "deploy"
    grid = spec["grid"]
    xcol = key if key in DEPLOY_KEYS else f"param_{key}"
    xvals = grid[key] if key in grid else DEFAULT_TIMES
    numeric = _numeric(xvals)
    x = np.array([grid_code(v) for v in xvals], float) if numeric else np.arange(len(xvals))
    if deploy_mode:
        metrics = [("accuracy", "accuracy (mean over chips)"), ("p_all_correct", "P(all correct)"),
                   ("p_stable", "P(stable)")]
        if key == "time":  # one line per combination of the other swept parameters (up to 8)
            others = [k for k in grid if k != "time" and len(grid[k]) > 1]
            n = int(np.prod([len(grid[k]) for k in others])) if others else 1
            by = [k if k in DEPLOY_KEYS else f"param_{k}" for k in others] if n <= 8 else []
        else:
            by = ["time"]
        run = Path(spec["run"]["path"]).name
        what = f"{spec['device']}, run {run}, {len(spec['run']['seeds'])} seeds x {spec['instances']} chips"
        if "samples" in spec:
            what += f",\nfirst {spec['samples']} test samples"
    elif spec.get("data") is not None:
        metrics = [("test_accuracy", "accuracy"), ("stable", "P(stable)")]
        by = []
        what = f"{spec['device']}, {spec['task']} split seed {spec['data']['split_seed']}, {spec['seeds']} seeds"
    else:
        metrics = [("accuracy", "accuracy"), ("stable", "P(stable)")]
        by = []
        what = f"{spec['device']}, {spec['task']}, {spec['seeds']} seeds"
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), constrained_layout=True)
    for ax, (metric, label) in zip(axes, metrics):
        series = [(metric, "")]
        if metric == "accuracy" and not deploy_mode and df["onchip_accuracy"].notna().any():
            series = [("accuracy", "trained weights"), ("onchip_accuracy", "on chip")]
        elif metric == "test_accuracy":
            series = [("test_accuracy", "test, trained weights"), ("onchip_test_accuracy", "test, on chip"),
                      ("train_accuracy", "train, trained weights")]
            series = [(m, name) for m, name in series if df[m].notna().any()]
        for j, (m, name) in enumerate(series):
            for c, (combo, mean, sem) in enumerate(_curves(df, xcol, xvals, m, by)):
                lab = ", ".join(s for s in (name, _combo_label(by, combo)) if s) or None
                style = ("o-", "s--", "^:")[min(j, 2)]
                color = f"C{c + j}"
                ax.plot(x, mean, style, color=color, label=lab)
                ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.2)
        if not numeric:
            ax.set_xticks(x, [str(v) for v in xvals])
        elif key == "time":
            ax.set_xscale("symlog" if x.min() <= 0 else "log", **({"linthresh": 1.0} if x.min() <= 0 else {}))
            if len(x) <= 8:
                ax.set_xticks(x, [when(v) for v in x], rotation=30, fontsize=8)
                ax.minorticks_off()
        ax.set(xlabel=key + (" (s after programming)" if key == "time" else ""), ylabel=label,
               ylim=(-0.05, 1.05))
        ax.set_title(f"{label} vs {key}\n({what}; band = s.e.m. over seeds)", fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
