"""Stability of DEEP networks: the paper's Gershgorin tests and a local certificate.

The Jacobian of an affine field ``f(s) = s A - d s + c`` restricted to the non-input
neurons is ``J[j, i] = d f_j / d s_i = A[i, j] - d_j delta_ij``; for DEEP ``A = W`` and
``d = W 1 + gamma``, so ``J[j, j] = -sum_k W[j, k] - gamma`` and ``J[j, i] = W[i, j]``.

* Global (the paper): (a) every diagonal entry < 0, (b) strict row diagonal dominance,
  (c) strict column diagonal dominance; (a) with (b) or (c) makes J Hurwitz.
* Local (the projected system): at an equilibrium, every saturated neuron is pushed
  strictly outward and the Jacobian on the unsaturated non-input neurons is Hurwitz;
  then ``J^T P + P J = -I`` has a positive definite solution P (a Lyapunov certificate).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import solve_continuous_lyapunov

from .dynamics import AffineField, affine


def jacobian(A: np.ndarray, d: np.ndarray, free: np.ndarray) -> np.ndarray:
    """``J = A^T - diag(d)`` on the ``free`` neurons; A (..., N, N), d (..., N)."""
    J = np.swapaxes(A, -1, -2) - d[..., None] * np.eye(A.shape[-1])
    return J[..., free, :][..., :, free]


def gershgorin(J: np.ndarray) -> dict[str, np.ndarray]:
    """The paper's three tests on J (..., n, n), strict inequalities as in its code."""
    diag = np.diagonal(J, axis1=-2, axis2=-1)
    off = np.abs(J).sum(axis=-1) - np.abs(diag)  # row j: sum_i!=j |J[j, i]|
    off_col = np.abs(J).sum(axis=-2) - np.abs(diag)
    diagonal = np.all(diag < 0, axis=-1)
    rows = np.all(off < np.abs(diag), axis=-1)
    columns = np.all(off_col < np.abs(diag), axis=-1)
    return {"diagonal": diagonal, "rows": rows, "columns": columns,
            "hurwitz": diagonal & (rows | columns)}


def spectral_abscissa(J: np.ndarray) -> np.ndarray:
    """max Re(eig J); -inf for an empty matrix."""
    if J.shape[-1] == 0:
        return np.full(J.shape[:-2], -np.inf)
    return np.linalg.eigvals(J).real.max(axis=-1)


def lyapunov_certificate(J: np.ndarray) -> np.ndarray | None:
    """P with ``J^T P + P J = -I``, or None unless J is Hurwitz and P positive definite."""
    if J.shape[-1] == 0:
        return np.zeros((0, 0))
    if spectral_abscissa(J) >= 0:
        return None
    P = solve_continuous_lyapunov(J.T, -np.eye(J.shape[0]))
    P = 0.5 * (P + P.T)
    return P if np.linalg.eigvalsh(P).min() > 0 else None


def local_certificate(s: np.ndarray, field: AffineField, k: int, b: int,
                      margin: float = 1e-9) -> dict:
    """The local stability certificate of sample ``b`` of network ``k`` at state ``s[k, b]``.

    Returns ``pushed_outward`` (saturated neurons held strictly by their bound, by more
    than ``margin``), ``abscissa`` of the free block, ``lyapunov`` (P exists and is
    positive definite) and ``stable`` (both).
    """
    x = s[k, b]
    # this sample's field only: ``field(s)[k, b]`` would compute every network's, which
    # made judging K networks one sample at a time cost K^2
    f = affine(x, field.A[k], np.broadcast_to(field.d, s.shape)[k, b], np.broadcast_to(field.c, s.shape)[k, b],
               field.free)
    free = field.free
    low = free & (x <= 0.0)
    high = free & (x >= 1.0)
    pushed = bool(np.all(f[low] < -margin) and np.all(f[high] > margin))
    inside = free & ~low & ~high
    J = jacobian(field.A[k], field.d[k, b], inside)
    P = lyapunov_certificate(J)
    return {"pushed_outward": pushed, "abscissa": float(spectral_abscissa(J)),
            "n_free": int(inside.sum()), "lyapunov": P is not None,
            "stable": pushed and P is not None}
