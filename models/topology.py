"""Network topologies of DEEP: neuron index sets and connection masks.

Neurons are ordered ``[inputs | hidden | outputs]``; the last input is the bias
neuron, held at 1 by the data. ``W[i, j]`` is the weight of the directed connection
from neuron ``i`` to neuron ``j``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARCHITECTURES = ("complete", "layered", "skip")


@dataclass(frozen=True)
class Topology:
    """Sizes and wiring of a network.

    Parameters
    ----------
    n_in : number of input neurons, the bias neuron included (it is the last input).
    n_hidden : number of hidden neurons (>= 0).
    n_out : number of output neurons (>= 1).
    architecture : ``"complete"`` (every pair except self-loops, connections into an
        input and input-to-input), ``"layered"`` (consecutive layers only, forward
        and backward) or ``"skip"`` (layered, plus every input connected straight to
        every output: on an input-to-output connection the DEEP rule is the delta rule,
        so the outputs hold a linear classifier of the inputs beside the hidden layer).
    hidden_layers : sizes of the hidden layers in neuron order, summing to ``n_hidden``;
        empty (the default) means one hidden layer of ``n_hidden`` neurons, and a single
        size is stored as empty (the same network). A ``"layered"`` network connects
        consecutive layers only; a ``"complete"`` one records the split, its mask ignores it.
    """

    n_in: int
    n_hidden: int
    n_out: int
    architecture: str = "complete"
    hidden_layers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name, low in (("n_in", 1), ("n_hidden", 0), ("n_out", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        try:
            sizes = tuple(self.hidden_layers)
        except TypeError:
            raise ValueError(f"hidden_layers must be a sequence of layer sizes, got {self.hidden_layers!r}") from None
        if not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 1 for h in sizes):
            raise ValueError(f"hidden_layers must be positive integers, got {self.hidden_layers!r}")
        if sizes and sum(sizes) != self.n_hidden:
            raise ValueError(f"hidden_layers {sizes} must sum to n_hidden ({self.n_hidden}), not {sum(sizes)}")
        # canonical form: plain ints, and one layer spelt as the default ()
        object.__setattr__(self, "hidden_layers", tuple(int(h) for h in sizes) if len(sizes) > 1 else ())

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """The sizes of the hidden layers in neuron order (() without hidden neurons)."""
        return self.hidden_layers or ((self.n_hidden,) if self.n_hidden else ())

    @property
    def n(self) -> int:
        return self.n_in + self.n_hidden + self.n_out

    @property
    def inputs(self) -> slice:
        return slice(0, self.n_in)

    @property
    def hidden(self) -> slice:
        """Every hidden neuron, all hidden layers together (``layers()`` splits them)."""
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

    def layers(self) -> list[np.ndarray]:
        """The neuron indices of every layer in order: inputs, each hidden layer, outputs."""
        bounds = np.cumsum((0, self.n_in, *self.hidden_sizes, self.n_out))
        return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def mask(self) -> np.ndarray:
        """Boolean (N, N): allowed connections ``i -> j``."""
        n = self.n
        if self.architecture == "complete":
            m = np.ones((n, n), dtype=bool)
            np.fill_diagonal(m, False)
            m[:, self.inputs] = False  # nothing flows into an input
            return m
        layers = self.layers()
        m = np.zeros((n, n), dtype=bool)
        for a, b in zip(layers[:-1], layers[1:]):
            m[np.ix_(a, b)] = True  # forward
            m[np.ix_(b, a)] = True  # backward
        if self.architecture == "skip":
            m[self.inputs, self.outputs] = True
        m[:, self.inputs] = False
        return m

    def init_weights(self, rng: np.random.Generator, n_nets: int, std: float) -> np.ndarray:
        """``W ~ Normal(0, std^2)`` on allowed entries, exactly 0 elsewhere; shape (K, N, N)."""
        w = rng.normal(0.0, std, size=(n_nets, self.n, self.n))
        return w * self.mask()
