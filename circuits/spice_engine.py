"""ngspice as an engine for the controller: every phase a transient of the behavioural
deck, one deck per sample, with the DEEP path sums taken along the transient."""
from __future__ import annotations

import numpy as np

from models.dynamics import AffineField, residual_norm
from models.settle import SettleResult

from .netlist import behavioural_deck
from .ngspice import run_ngspice


class SpiceEngine:
    """``engine(field, s0, steps=..., accumulate=..., hebbian=...)``: a transient of
    ``steps * dt`` time constants from ``s0`` (the horizon the reference solver covers),
    saved every ``dt``; the states are the node voltages at the end (V_fs = 1 V) clipped
    to the rails (the clamps hold them to ~1e-8), and with ``accumulate`` the path integral
    ``int s_i ds_j`` over the saved points (trapezoid rule), summed over samples. The
    reference solver's right-point Euler sum differs from it by O(dt) (a few % on a
    nudged phase at dt = 0.05): the circuit computes the continuous integral."""

    def __init__(self, dt: float = 0.05, tol: float = 1e-9, timeout: float = 120.0):
        self.dt, self.tol, self.timeout = dt, tol, timeout

    def __call__(self, field: AffineField, s0: np.ndarray, steps: int = 1000,
                 accumulate: bool = False, hebbian: bool = False) -> SettleResult:
        K, B, N = s0.shape
        d = np.broadcast_to(field.d, (K, B, N))
        c = np.broadcast_to(field.c, (K, B, N))
        s = np.empty((K, B, N))
        path = np.zeros((K, N, N))
        hebb = np.zeros((K, N, N))
        for k in range(K):
            for b in range(B):
                deck = behavioural_deck(field.A[k], d[k, b], c[k, b], s0[k, b], ~field.free,
                                        t_stop=steps * self.dt, t_step=self.dt, title="deepxbar engine")
                vecs = run_ngspice(deck, self.timeout)
                traj = np.clip(np.column_stack([vecs[f"n{j}"] for j in range(N)]), 0.0, 1.0)
                traj[0] = s0[k, b]
                s[k, b] = traj[-1]
                if accumulate:  # the circuit's trajectory is continuous: trapezoid rule
                    path[k] += (0.5 * (traj[1:] + traj[:-1])).T @ np.diff(traj, axis=0)
                if hebbian:
                    hebb[k] += traj[1:].T @ traj[1:]
        res = residual_norm(s, field)
        return SettleResult(s, np.full((K, B), steps), res, res < self.tol,
                            path if accumulate else None, hebb if hebbian else None)
