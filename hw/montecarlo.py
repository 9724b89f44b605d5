"""Stability and accuracy of a trained network under device nonidealities.

Each trial is a fresh chip per trained network, programmed as ``deepxbar deploy``
programs it (``hw/deploy.py``: one-sided mapping, program-and-verify to the default
tolerance, the same chips for the same seeds and count), judged at the crossbar
config's ``drift_time`` (None: right after programming) with its line resistance and
no drift compensation: the paper's global Gershgorin test and the spectral abscissa of
the Jacobian of the field the chip holds (drifted conductances, no read noise), and,
over ``repeats`` inferences each with a fresh read of every device, the local Lyapunov
certificate at every free-phase equilibrium reached on the patterns and the accuracy.
"""
from __future__ import annotations

import numpy as np

from models.stability import gershgorin, spectral_abscissa
from models.training import Network, TrainConfig

from .crossbar import CrossbarConfig
from .deploy import MAX_ITERATIONS, TOLERANCE, deploy, global_jacobians, judge, programming_summary


def monte_carlo(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
                hw: CrossbarConfig, trials: int, repeats: int = 3, on_trial=None,
                tolerance: float = TOLERANCE, max_iterations: int = MAX_ITERATIONS) -> dict:
    """Arrays over (trials, K): ``gershgorin``, ``stable`` (every equilibrium of every
    inference certified), ``abscissa`` (global) and ``accuracy`` (fraction of (inference,
    pattern) pairs right and settled over ``repeats`` inferences). ``on_trial(t)`` is
    called once per trial when its chips are judged; ``programming`` holds the summary of
    the program-and-verify (``hw.deploy.programming_summary``)."""
    dep = deploy(net, seeds, hw.device, trials, tolerance, max_iterations)
    t = 0.0 if hw.drift_time is None else float(hw.drift_time)
    res = judge(dep, cfg, X, Y, [t], repeats, "none", hw.line_resistance, tile_size=hw.tile_size)
    J = global_jacobians(dep, cfg, t, hw.line_resistance, hw.tile_size)  # (K, trials, n, n)
    out = {
        "gershgorin": gershgorin(J)["hurwitz"].T.astype(float),
        "stable": (res["certified"][0].all(-1)).T.astype(float),
        "abscissa": spectral_abscissa(J).T,
        "accuracy": res["accuracy"][0].T,
        "programming": programming_summary(dep),
        "drift_time": t,
    }
    if on_trial is not None:
        for k in range(trials):
            on_trial(k)
    return out
