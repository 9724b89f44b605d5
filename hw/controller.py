"""The training controller: two-phase contrastive training on crossbar hardware.

Every epoch it measures the crossbar (averaged reads: read noise, faults, drift; wire
resistance through the effective matrices), settles the free and nudged phases on
those physical weights with the engine it is handed (the models/ solver by default;
circuits/ adds Brian2 and SPICE engines with the same call), computes the DEEP (or
asym-EP) update exactly as software training does (``models.training.train_epoch``)
and applies it to the intended weights it keeps digitally, as a mixed-precision
controller keeps its accumulator (Nandakumar et al. 2018); then it drives the crossbar
toward them with pulses (``Crossbar.drive``: closed loop, so pulse noise does not
accumulate, with a deadband so that read noise is not chased). Pruning switches cells
off for good.

Randomness: the training draws (initial weights, initial states, pruning) come from
``default_rng(seed)`` as in software training; the hardware draws (device variation,
noise) from ``default_rng([seed, 7])``. So with the IDEAL device and 0 ohm wires,
hardware training gives exactly the software networks.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from models.topology import Topology
from models.training import (HISTORY_KEYS, Engine, Network, TrainConfig, new_networks,
                             numpy_engine, train_epoch)

from .crossbar import Crossbar, CrossbarConfig

HARDWARE_STREAM = 7


def hardware_rngs(seeds: list[int]) -> list[np.random.Generator]:
    return [np.random.default_rng([s, HARDWARE_STREAM]) for s in seeds]


def train_on_crossbar(topo: Topology, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray,
                      seeds: list[int], hw: CrossbarConfig, engine: Engine | None = None,
                      on_epoch: Callable[[int, dict], None] | None = None
                      ) -> tuple[Crossbar, Network, dict[str, np.ndarray]]:
    """Train one network per seed on its own crossbar.

    Returns the crossbars (final conductances), the trained networks (the weights the
    conductances hold, without read noise) and the history of ``models.training.train``
    plus ``pulses`` (pulses applied per epoch) and ``w_read_error`` (largest difference
    between the weights measured and the intended ones).
    """
    rngs = [np.random.default_rng(s) for s in seeds]
    hw_rngs = hardware_rngs(seeds)
    net = new_networks(topo, cfg, rngs)
    xbar = Crossbar.build(hw, topo, net.W, hw_rngs)
    engine = engine or numpy_engine(cfg)
    hist = {k: np.zeros((cfg.epochs, len(seeds))) for k in (*HISTORY_KEYS, "pulses", "w_read_error")}
    intended = net  # the weights the controller means the crossbar to hold
    B = X.shape[0]
    for epoch in range(cfg.epochs):
        Gp, Gm = xbar.read(hw_rngs)
        field = xbar.field(Gp, Gm, cfg.model, intended.b, B, cfg.gamma)
        W_read = np.where(xbar.open, 0.0, (Gp - Gm) / hw.unit)
        target, row = train_epoch(intended, cfg, X, Y, rngs, epoch, engine, field)
        row["pulses"] = xbar.drive(target.W, target.alive, (Gp, Gm), hw_rngs)
        row["w_read_error"] = np.abs(W_read - intended.W).max((-1, -2))
        intended = target
        for k, v in row.items():
            hist[k][epoch] = v
        if on_epoch is not None:
            on_epoch(epoch, row)
    return xbar, Network(topo, xbar.programmed_weights(), intended.b, intended.alive), hist
