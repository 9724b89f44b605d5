"""The plots of the commands that judge a trained run: ``stability --device`` (Monte
Carlo over programmed chips), ``robustness`` (weight noise) and ``deploy`` (over time)."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..formats import when


def monte_carlo(mc: dict, path: Path, title: str) -> None:
    """Histograms of the global stability margin and of the accuracy over the instances."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    axes[0].hist(mc["abscissa"].ravel(), bins=30, color="C0")
    axes[0].axvline(0, color="k", lw=1)
    axes[0].set(xlabel="spectral abscissa of the DEEP Jacobian (global)", ylabel="instances",
                title="global stability margin")
    axes[1].hist(mc["accuracy"].ravel(), bins=np.linspace(0, 1, 21), color="C1")
    axes[1].set(xlabel="accuracy", ylabel="instances",
                title=f"P(stable, local) = {mc['stable'].mean():.2f}, "
                      f"P(Gershgorin) = {mc['gershgorin'].mean():.2f}")
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def robustness(out: dict, path: Path) -> None:
    """P(all patterns right) and mean accuracy against the weight noise sigma, with the
    noise-free basin accuracy as a line."""
    s = np.array(out["weight_noise"])
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    positive = s > 0  # sigma 0 has no place on a log axis: it is in the printed table
    ax.plot(s[positive], np.array(out["p_all_correct"])[positive], "o-", label="P(all patterns right)")
    ax.plot(s[positive], np.array(out["accuracy_mean"])[positive], "s--", label="mean accuracy")
    if positive.any():
        ax.set_xscale("log")
    ax.axhline(out["basin_accuracy"], color="grey", lw=1, ls=":",
               label=f"basin accuracy (no noise) {out['basin_accuracy']:.2f}")
    ax.set(xlabel="weight noise sigma (weight units)", ylabel="fraction", ylim=(-0.02, 1.02),
           title=f"{Path(out['run_dir']).name}: {len(out['seeds'])} seeds x {out['trials']} trials")
    ax.legend(loc="lower left", fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def deploy(s: dict, path: Path) -> None:
    """Accuracy (mean, band of +- one std over the chips), P(all correct) and P(stable)
    against time after programming; symlog time axis (linear below 1 s, so t = 0 is 0)."""
    t = np.array(s["times"])
    m, sd = np.array(s["accuracy_mean"]), np.array(s["accuracy_std"])
    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    ax.fill_between(t, np.clip(m - sd, 0, 1), np.clip(m + sd, 0, 1), color="C0", alpha=0.25,
                    label="accuracy +- 1 std over chips")
    ax.plot(t, m, "o-", color="C0", label="accuracy (mean)")
    ax.plot(t, s["p_all_correct"], "s-", color="C1", label="P(all correct)")
    ax.plot(t, s["p_stable"], "^--", color="C2", label="P(stable, local certificate)")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0)
    if len(t) <= 8:  # the times themselves, in words
        ax.set_xticks(t, [when(x) for x in t], rotation=30, fontsize=8)
        ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set(xlabel="time after programming (symlog axis: linear below 1 s, logarithmic above)", ylabel="fraction")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"{Path(s['run_dir']).name} on {s['device']}: {s['instances']} chips per network, "
                 f"{s['repeats']} inferences each\ntolerance {s['tolerance']:g} of the window, "
                 f"compensation {s['drift_compensation']}, wires {s['line_resistance']:g} ohm, "
                 f"starts U(0, {s['init_state']:g})", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
