"""The affine vector fields of the models (``models/rules/``) and the projected residual.

Every field of this project is affine in the state, so it is written once as

    f(s) = s @ A - d * s + c          (row vectors, non-input neurons only)

* DEEP (Farinha et al. 2020), leaky DEEP (Costa & Santos 2025):
  ``A = W``, ``d = W 1 + gamma`` (row sums of W plus the leak), ``c = 0``;
* asymmetric EP (Scellier et al. 2018): ``A = W``, ``d = 1``, ``c = b``;
* the nudged phase adds ``beta * (y - s)`` on the outputs: ``d += beta``, ``c += beta y``.

Shapes: ``A`` (K, N, N) for K independent networks, ``d`` (K, N) or (K, B, N),
``c`` (K, B, N) for a batch of B samples, states ``s`` (K, B, N). Input neurons are
clamped: their field is 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def affine(s: np.ndarray, A: np.ndarray, d: np.ndarray, c: np.ndarray, free: np.ndarray) -> np.ndarray:
    """``f(s) = s @ A - d * s + c`` on the ``free`` neurons, 0 elsewhere (any matching
    shapes: a batch, or one sample's ``A`` (N, N), ``d``, ``c``, ``s`` (N,))."""
    return (s @ A - d * s + c) * free


@dataclass(frozen=True)
class AffineField:
    """``f(s) = s @ A - d * s + c`` on the neurons where ``free`` is True (0 elsewhere)."""

    A: np.ndarray  # (K, N, N)
    d: np.ndarray  # (K, B, N)
    c: np.ndarray  # (K, B, N)
    free: np.ndarray  # (N,) bool

    def __call__(self, s: np.ndarray) -> np.ndarray:
        return affine(s, self.A, self.d, self.c, self.free)

    def nudged(self, beta: float, targets: np.ndarray, outputs: np.ndarray) -> "AffineField":
        """Add ``beta (y - s)`` on the output neurons; ``targets`` is (B, N_out) or (K, B, N_out)."""
        y = np.zeros(self.c.shape)
        y[..., outputs] = targets
        out = outputs.astype(float)
        return AffineField(self.A, self.d + beta * out, self.c + beta * y * out, self.free)


def deep_field(W: np.ndarray, batch: int, free: np.ndarray, gamma: float = 0.0) -> AffineField:
    """DEEP: ``ds_j/dt = sum_i W[i,j] s_i - s_j (sum_k W[j,k] + gamma)``; W is (K, N, N)."""
    K, N, _ = W.shape
    d = np.broadcast_to((W.sum(axis=-1) + gamma)[:, None, :], (K, batch, N))
    return AffineField(W, d, np.zeros((K, batch, N)), free)


def asym_ep_field(W: np.ndarray, b: np.ndarray, batch: int, free: np.ndarray) -> AffineField:
    """Asymmetric EP: ``ds_j/dt = sum_i W[i,j] s_i + b_j - s_j``; b is (K, N)."""
    K, N, _ = W.shape
    d = np.ones((K, batch, N))
    c = np.broadcast_to(b[:, None, :], (K, batch, N)).copy()
    return AffineField(W, d, c, free)


def projected_residual(s: np.ndarray, f: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """The field with the components that push outward at a bound set to 0.

    A neuron at ``lo`` with ``f < 0`` or at ``hi`` with ``f > 0`` is held by the clip
    and counts as settled. The fixed points of ``s <- clip(s + dt f(s))`` are exactly
    the zeros of this residual, whatever ``dt``.
    """
    r = np.where((s <= lo) & (f < 0.0), 0.0, f)
    return np.where((s >= hi) & (r > 0.0), 0.0, r)


def residual_norm(s: np.ndarray, field: AffineField) -> np.ndarray:
    """Max-norm of the projected residual per sample, shape (K, B)."""
    return np.abs(projected_residual(s, field(s))).max(axis=-1)
