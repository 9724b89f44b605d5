"""The training controller: two-phase contrastive training on crossbar hardware.

The crossbar is a substrate of ``models.training.train_loop`` (the one training loop):
every step it measures the crossbar (averaged reads: read noise, faults, drift; wire
resistance through the effective matrices), the phases settle on those physical weights
with the engine the loop is handed, the model's update is computed exactly as in
software training and applied to the intended weights the controller keeps digitally,
as a mixed-precision controller keeps its accumulator (Nandakumar et al. 2018); then it
drives the crossbar toward them with pulses (``Crossbar.drive``: closed loop, so pulse
noise does not accumulate, with a deadband so that read noise is not chased). Pruning
switches cells off for good.

Randomness: the training draws (initial weights, initial states, pruning) come from
``default_rng(seed)`` as in software training; the hardware draws (device variation,
noise) from the stream ``models.streams.HARDWARE``. So with the IDEAL device and 0 ohm
wires, hardware training gives exactly the software networks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.dynamics import AffineField
from models.streams import HARDWARE, generators
from models.topology import Topology
from models.training import (Batches, Engine, EpochCallback, Judge, Network, TrainConfig, full_batch,
                             new_networks, train_loop)

from .crossbar import Crossbar, CrossbarConfig


def hardware_rngs(seeds: list[int]) -> list[np.random.Generator]:
    return generators(seeds, HARDWARE)


@dataclass
class OnCrossbar:
    """The crossbar as the substrate of the training loop. History columns: ``pulses``
    (pulses applied per step) and ``w_read_error`` (largest difference between the
    weights measured and the intended ones)."""

    xbar: Crossbar
    cfg: TrainConfig
    rngs: list[np.random.Generator]  # the hardware stream
    keys: tuple[str, ...] = ("pulses", "w_read_error")
    _seen: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _w_read: np.ndarray | None = field(default=None, repr=False)

    def field(self, net: Network, batch: int) -> AffineField:
        xbar = self.xbar
        self._seen = Gp, Gm = xbar.read(self.rngs)
        self._w_read = xbar.weights(Gp, Gm)
        return xbar.field(Gp, Gm, self.cfg.model, net.b, batch, self.cfg.gamma)

    def apply(self, net: Network, target: Network) -> dict[str, np.ndarray]:
        pulses = self.xbar.drive(target.W, target.alive, self._seen, self.rngs)
        return {"pulses": pulses, "w_read_error": np.abs(self._w_read - net.W).max((-1, -2))}

    def result(self, net: Network) -> Network:
        """The weights the conductances hold (without read noise), the intended biases."""
        return Network(net.topology, self.xbar.programmed_weights(), net.b, net.alive)


def train_on_crossbar(topo: Topology, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray,
                      seeds: list[int], hw: CrossbarConfig, engine: Engine | None = None,
                      on_epoch: EpochCallback | None = None, batches: Batches | None = None,
                      judge: Judge | None = None) -> tuple[Crossbar, Network, dict[str, np.ndarray]]:
    """Train one network per seed on its own crossbar; ``batches`` (default: the full
    batch; the controller programs the crossbar after every batch) and ``judge`` as in
    ``models.training.train_loop``.

    Returns the crossbars (final conductances), the trained networks (the weights the
    conductances hold, without read noise) and the history of ``models.training.train``
    plus ``pulses`` and ``w_read_error`` (``OnCrossbar``).
    """
    rngs = generators(seeds)
    hw_rngs = hardware_rngs(seeds)
    net = new_networks(topo, cfg, rngs)
    xbar = Crossbar.build(hw, topo, net.W, hw_rngs)
    trained, hist = train_loop(net, cfg, batches or full_batch(X, Y), rngs, OnCrossbar(xbar, cfg, hw_rngs), engine,
                               on_epoch, judge)
    return xbar, trained, hist
