"""The logic tasks of the paper: inputs with a bias column of ones, scalar or one-hot targets."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TWO_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
_ONE_INPUT = np.array([[0], [1]], dtype=float)
_TARGETS = {
    "and": (_TWO_INPUTS, [0, 0, 0, 1]),
    "or": (_TWO_INPUTS, [0, 1, 1, 1]),
    "xor": (_TWO_INPUTS, [0, 1, 1, 0]),
    "not": (_ONE_INPUT, [1, 0]),
    "identity": (_ONE_INPUT, [0, 1]),
}
TASKS = tuple(_TARGETS)


@dataclass(frozen=True)
class Task:
    """A dataset: ``X`` (B, n_in) with the bias as last column when ``bias``; ``Y``
    (B, 1) scalar targets or (B, 2) one-hot; ``n_data_inputs`` the inputs without bias."""

    name: str
    X: np.ndarray
    Y: np.ndarray
    one_hot: bool
    n_data_inputs: int

    @property
    def n_in(self) -> int:
        return self.X.shape[1]

    @property
    def n_out(self) -> int:
        return self.Y.shape[1]


def make_task(name: str, one_hot: bool = False, bias: bool = True) -> Task:
    if name not in _TARGETS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    inputs, labels = _TARGETS[name]
    X = np.hstack([inputs, np.ones((len(inputs), 1))]) if bias else inputs.copy()
    y = np.array(labels)
    Y = np.eye(2)[y] if one_hot else y[:, None].astype(float)
    return Task(name, X, Y, one_hot, inputs.shape[1])
