"""Stability and accuracy of a trained network under device nonidealities.

Each trial builds a fresh hardware instance of the trained networks (device-to-device
variation, faults, programming noise), reads it (drift to ``drift_time``, read noise)
and judges the weights read: the paper's global Gershgorin test, the spectral abscissa
of the DEEP Jacobian, the local Lyapunov certificate at every free-phase equilibrium
reached on the patterns, and the accuracy.
"""
from __future__ import annotations

import numpy as np

from models.evaluation import evaluate, stability_report
from models.training import Network, TrainConfig

from .crossbar import Crossbar, CrossbarConfig


def hardware_instance(net: Network, hw: CrossbarConfig, rngs: list[np.random.Generator]) -> Network:
    """The networks as one freshly programmed and read crossbar holds them."""
    xbar = Crossbar.build(hw, net.topology, np.where(net.alive, net.W, 0.0), rngs)
    xbar.open = xbar.open | ~net.alive
    return Network(net.topology, xbar.read_weights(rngs), net.b, net.alive)


def monte_carlo(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
                hw: CrossbarConfig, trials: int, repeats: int = 3, on_trial=None) -> dict:
    """Arrays over (trials, K): ``gershgorin``, ``stable``, ``abscissa`` (global) and
    ``accuracy`` (fraction of patterns right, over ``repeats`` free phases)."""
    out = {k: np.zeros((trials, len(seeds))) for k in ("gershgorin", "stable", "abscissa", "accuracy")}
    for t in range(trials):
        rngs = [np.random.default_rng([s, 11, t]) for s in seeds]
        inst = hardware_instance(net, hw, rngs)
        ev = evaluate(inst, cfg, X, Y, seeds, repeats, solver="fast")
        reports = stability_report(inst, cfg, X, seeds, repeats, ev)
        out["gershgorin"][t] = [r["gershgorin"]["hurwitz"] for r in reports]
        out["stable"][t] = [r["stable"] for r in reports]
        out["abscissa"][t] = [r["global_abscissa"] for r in reports]
        out["accuracy"][t] = 1.0 - ev["error"].mean(1)
        if on_trial is not None:
            on_trial(t)
    return out
