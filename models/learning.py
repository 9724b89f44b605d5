"""Learning rules of DEEP and asymmetric EP, L1, sign-only updates and sparsification.

All functions are pure and vectorised over K independent networks (leading axis).
"""
from __future__ import annotations

import numpy as np


def deep_update(path: np.ndarray, hebb: np.ndarray | None, *, eta: float, batch: int,
                t2: int, beta0: float, beta1: float, drain: bool = False) -> np.ndarray:
    """The DEEP trajectory rule over the nudged phase.

        dW[i, j] = eta / (B T2) sum_samples sum_t s_i(t) (beta0 s_j(t) + beta1 (s_j(t) - s_j(t-1)))

    With ``drain`` the rule also counts what a connection takes from its source: W[i, j]
    adds ``s_i`` to the drive of j and, through the leak term ``-s_i sum_k W[i, k]``,
    removes ``s_i`` from the drive of i, so the vector-field EP estimate of its gradient
    is ``int s_i (ds_j - ds_i)`` (Scellier et al. 2018's rule applied to the DEEP field):

        dW[i, j] -= eta / (B T2) beta1 sum_samples sum_t s_i(t) (s_i(t) - s_i(t-1))

    It stays local (neuron i's own trajectory) and is 0 for inputs (clamped).
    ``path`` and ``hebb`` are the two sums of ``settle.SettleResult`` (batch summed);
    ``hebb`` may be None when ``beta0 == 0``.
    """
    dw = beta1 * path
    if drain:
        dw = dw - beta1 * np.diagonal(path, axis1=-2, axis2=-1)[..., :, None]
    if beta0:
        dw = dw + beta0 * hebb
    return eta / (batch * t2) * dw


def asym_ep_update(s_free: np.ndarray, s_nudged: np.ndarray, *, eta: float, beta: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric (vector-field) EP, Scellier et al. 2018.

        dW[i, j] = eta / (beta B) sum_samples s_i^0 (s_j^beta - s_j^0),   db = eta / (beta B) sum (s^beta - s^0)

    States are (K, B, N); returns (dW (K, N, N), db (K, N)).
    """
    batch = s_free.shape[-2]
    diff = s_nudged - s_free
    scale = eta / (beta * batch)
    return scale * (np.swapaxes(s_free, -1, -2) @ diff), scale * diff.sum(axis=-2)


def apply_update(W: np.ndarray, dW: np.ndarray, allowed: np.ndarray, *, l1: float = 0.0,
                 sign: bool = False) -> np.ndarray:
    """``W + dW - l1 sign(W)`` (``dW`` replaced by ``sign(dW)`` when ``sign``), then the
    disallowed (and pruned) entries reset to exactly 0. ``allowed`` is (N, N) or (K, N, N)."""
    step = np.sign(dW) if sign else dW
    return np.where(allowed, W + step - l1 * np.sign(W), 0.0)


def sparsify(W: np.ndarray, alive: np.ndarray, u: np.ndarray, *, tol: float = 0.01,
             temp: float = 5.0) -> np.ndarray:
    """Stochastic sparsification (the paper's pruning); returns the new ``alive`` mask.

    For each neuron j, over the entries of its column i (as the paper's code does,
    structural zeros included in the normalisation):
    ``p[i, j] = exp(-|W[i,j]| / temp) / sum_i' exp(-|W[i',j]| / temp)``.
    A live connection with ``|W[i,j]| <= tol`` is removed for good when ``p[i, j] > u[i, j]``,
    ``u ~ Uniform(0, 1)`` drawn per connection by the caller.
    """
    e = np.exp(-np.abs(W) / temp)
    p = e / e.sum(axis=-2, keepdims=True)
    weak = alive & (np.abs(W) <= tol)
    return alive & ~(weak & (p > u))


def limit_inhibition(W: np.ndarray, free: np.ndarray, limit: float) -> np.ndarray:
    """Scale down the inhibitory (negative) outgoing weights of every non-input neuron
    whose total exceeds ``limit``: ``sum_k max(-W[j, k], 0) <= limit`` for ``free[j]``.

    Why: the DEEP Jacobian ``J = W^T - diag(W 1 + gamma)`` has column ``j`` sum
    ``mu_1 = -gamma + 2 sum_k max(-W[j, k], 0)`` (excitatory weights cancel against the
    drain, inhibitory ones count twice), so ``limit < gamma / 2`` makes J strictly
    column diagonally dominant: the paper's Gershgorin test (c) holds, the Euler map
    ``s <- clip(s + dt f(s))`` is a contraction in the 1-norm (for ``dt (W 1 + gamma) <= 1``;
    the clip is 1-Lipschitz per coordinate), so every phase has exactly one
    equilibrium, reached from every start. Inputs' outgoing weights are not limited
    (they enter the field as constants). Pure; W is (..., N, N).
    """
    neg = np.maximum(-W, 0.0)
    total = neg.sum(axis=-1, keepdims=True)
    scale = np.where(total > limit, limit / np.maximum(total, 1e-300), 1.0)
    scale = np.where(free[:, None], scale, 1.0)
    return np.where(W < 0, W * scale, W)
