"""Network topologies of DEEP: neuron index sets and connection masks.

Neurons are ordered ``[inputs | hidden | outputs]``; the last input is the bias
neuron, held at 1 by the data. ``W[i, j]`` is the weight of the directed connection
from neuron ``i`` to neuron ``j``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARCHITECTURES = ("complete", "layered")


@dataclass(frozen=True)
class Topology:
    """Sizes and wiring of a network.

    Parameters
    ----------
    n_in : number of input neurons, the bias neuron included (it is the last input).
    n_hidden : number of hidden neurons (>= 0).
    n_out : number of output neurons (>= 1).
    architecture : ``"complete"`` (every pair except self-loops, connections into an
        input and input-to-input) or ``"layered"`` (consecutive layers only, forward
        and backward).
    """

    n_in: int
    n_hidden: int
    n_out: int
    architecture: str = "complete"

    def __post_init__(self) -> None:
        for name, low in (("n_in", 1), ("n_hidden", 0), ("n_out", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")

    @property
    def n(self) -> int:
        return self.n_in + self.n_hidden + self.n_out

    @property
    def inputs(self) -> slice:
        return slice(0, self.n_in)

    @property
    def hidden(self) -> slice:
        return slice(self.n_in, self.n_in + self.n_hidden)

    @property
    def outputs(self) -> slice:
        return slice(self.n_in + self.n_hidden, self.n)

    def free_mask(self) -> np.ndarray:
        """Boolean (N,): True for non-input neurons (the ones that evolve)."""
        m = np.ones(self.n, dtype=bool)
        m[self.inputs] = False
        return m

    def output_mask(self) -> np.ndarray:
        m = np.zeros(self.n, dtype=bool)
        m[self.outputs] = True
        return m

    def mask(self) -> np.ndarray:
        """Boolean (N, N): allowed connections ``i -> j``."""
        n = self.n
        if self.architecture == "complete":
            m = np.ones((n, n), dtype=bool)
            np.fill_diagonal(m, False)
            m[:, self.inputs] = False  # nothing flows into an input
            return m
        layers = [np.arange(self.n_in)]
        if self.n_hidden:
            layers.append(np.arange(self.hidden.start, self.hidden.stop))
        layers.append(np.arange(self.outputs.start, self.outputs.stop))
        m = np.zeros((n, n), dtype=bool)
        for a, b in zip(layers[:-1], layers[1:]):
            m[np.ix_(a, b)] = True  # forward
            m[np.ix_(b, a)] = True  # backward
        m[:, self.inputs] = False
        return m

    def init_weights(self, rng: np.random.Generator, n_nets: int, std: float) -> np.ndarray:
        """``W ~ Normal(0, std^2)`` on allowed entries, exactly 0 elsewhere; shape (K, N, N)."""
        w = rng.normal(0.0, std, size=(n_nets, self.n, self.n))
        return w * self.mask()
