"""The training controller: two-phase contrastive training on crossbar hardware.

Every epoch it reads the effective weights back from the crossbar (read noise, faults,
drift, wire resistance), settles the free and nudged phases with the engine it is
handed (the models/ solver by default; circuits/ adds Brian2 and SPICE engines with
the same call), computes the DEEP (or asym-EP) update exactly as software training
does (``models.training.train_epoch``), and programs the change as pulses. Pruning
switches cells off for good.

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
    between the weights read and those programmed).
    """
    rngs = [np.random.default_rng(s) for s in seeds]
    hw_rngs = hardware_rngs(seeds)
    net = new_networks(topo, cfg, rngs)
    xbar = Crossbar.build(hw, topo, net.W, hw_rngs)
    engine = engine or numpy_engine(cfg)
    hist = {k: np.zeros((cfg.epochs, len(seeds))) for k in (*HISTORY_KEYS, "pulses", "w_read_error")}
    b, alive = net.b, net.alive
    B = X.shape[0]
    for epoch in range(cfg.epochs):
        Gp, Gm = xbar.read(hw_rngs)
        field = xbar.field(Gp, Gm, cfg.model, b, B, cfg.gamma)
        W_read = np.where(xbar.open, 0.0, (Gp - Gm) / hw.unit)
        target, row = train_epoch(Network(topo, W_read, b, alive), cfg, X, Y, rngs, epoch,
                                  engine, field)
        row["pulses"] = xbar.update(target.W, target.alive, (Gp, Gm), hw_rngs)
        row["w_read_error"] = np.abs(W_read - xbar.programmed_weights()).max((-1, -2))
        b, alive = target.b, target.alive
        for k, v in row.items():
            hist[k][epoch] = v
        if on_epoch is not None:
            on_epoch(epoch, row)
    return xbar, Network(topo, xbar.programmed_weights(), b, alive), hist
