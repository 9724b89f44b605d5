"""A learning model is one object: its field, its Jacobian, its update and its readout.

Every model registered here (one module per model in ``models/rules/``, each defining
``MODEL``) answers the same questions, so the training loop, the crossbar, the circuits
and the command line never test a model's name:

* ``field(W, b, batch, free, gamma)``: the dynamics of software weights;
* ``field_from_currents(Mcol, Mrow, b, batch, free, gamma)``: the dynamics a crossbar
  measures, ``I_col = V @ Mcol`` and ``I_row = V @ Mrow`` in weight units (the effective
  matrices of a crossbar with wires, ``hw/wires.py``);
* ``jacobian(W, free, gamma)``: the state-independent Jacobian on the non-input neurons
  (the paper's global tests use it);
* ``update(free, nudged, cfg, batch)``: ``(dW, db)`` from the two phases;
* ``constrain(W, free, cfg)``: what the model keeps true of the weights after an update;
* ``readout(s_out)``: the class of each sample from its output states.

Attributes: ``name`` (what ``--model`` takes), ``leak`` (``gamma`` enters the field),
``trajectory`` (the update integrates the nudged phase: the engine accumulates the
path sums), ``crossbar_deck`` (a device-level crossbar realises the field exactly:
row drivers, columns at virtual ground, rows' own currents).

Add a rule: one new file in ``models/rules/`` defining ``MODEL``; nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Protocol

import numpy as np

from .dynamics import AffineField


def predict(s_out: np.ndarray) -> np.ndarray:
    """Class of each sample from its output states (..., n_out): threshold 0.5 for one
    output (0.5 counts as 1, as in the paper's code); argmax for one-hot, where a tie
    (both units equal, e.g. both saturated at 1) decides nothing and gives -1."""
    if s_out.shape[-1] == 1:
        return (s_out[..., 0] >= 0.5).astype(int)
    top = np.sort(s_out, axis=-1)
    return np.where(top[..., -1] > top[..., -2], np.argmax(s_out, axis=-1), -1)


class Model(Protocol):
    name: str
    leak: bool
    trajectory: bool
    crossbar_deck: bool

    def field(self, W: np.ndarray, b: np.ndarray, batch: int, free: np.ndarray, gamma: float) -> AffineField: ...

    def field_from_currents(self, Mcol: np.ndarray, Mrow: np.ndarray, b: np.ndarray, batch: int,
                            free: np.ndarray, gamma: float) -> AffineField: ...

    def jacobian(self, W: np.ndarray, free: np.ndarray, gamma: float) -> np.ndarray: ...

    def update(self, free, nudged, cfg, batch: int) -> tuple[np.ndarray, np.ndarray | None]: ...

    def constrain(self, W: np.ndarray, free: np.ndarray, cfg) -> np.ndarray: ...

    def readout(self, s_out: np.ndarray) -> np.ndarray: ...


@cache
def registry() -> dict[str, Model]:
    """Every model of ``models/rules/``, by name (the built-in ones first)."""
    from . import rules
    found = {}
    for info in sorted(pkgutil.iter_modules(rules.__path__), key=lambda i: i.name):
        model = importlib.import_module(f"{rules.__name__}.{info.name}").MODEL
        if model.name in found:
            raise RuntimeError(f"two models named {model.name!r} in models/rules/")
        found[model.name] = model
    return dict(sorted(found.items(), key=lambda kv: kv[0] != "deep"))


def names() -> tuple[str, ...]:
    return tuple(registry())


def get(name: str) -> Model:
    try:
        return registry()[name]
    except KeyError:
        raise ValueError(f"model must be one of {', '.join(names())}; got {name!r}") from None
