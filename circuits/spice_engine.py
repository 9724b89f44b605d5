"""ngspice as an engine for the controller: every phase a transient of the behavioural
deck, one deck per sample, with the DEEP path sums taken along the transient. Two ways
to run a deck: ``ngspice -b`` in a subprocess (engine ``spice``) or ngspice's shared
library in process through PySpice (engine ``pyspice``)."""
from __future__ import annotations

import numpy as np

from models.dynamics import AffineField, affine, projected_residual, residual_norm
from models.settle import SettleResult

from .netlist import MAX_CHUNKS, SETTLE_TOL, behavioural_deck
from .ngspice import run_ngspice
from .physics import V_FS


def _pyspice_runner(deck: str, timeout: float):
    from .pyspice import run_pyspice
    return run_pyspice(deck, timeout)


RUNNERS = {"spice": run_ngspice, "pyspice": _pyspice_runner}


class SpiceEngine:
    """``engine(field, s0, steps=..., accumulate=..., hebbian=...)``: a transient of
    ``steps * dt`` time constants from ``s0`` (the horizon the reference solver covers),
    saved every ``dt``, extended by further transients of the same length, each from
    where the last ended, while a sample's projected residual exceeds ``tol`` (at most
    ``max_chunks`` in all: a phase that never settles, a limit cycle, stops there and is
    reported as not converged). The states are the node voltages at the end (in units of
    V_fs) clipped to the rails (the clamps hold them to ~1e-8); with ``accumulate`` the
    path integral ``int s_i ds_j`` over the saved points (trapezoid rule), summed over
    samples. The reference solver's right-point Euler sum differs from it by O(dt) (a few
    % on a nudged phase at dt = 0.05): the circuit computes the continuous integral.
    ``runner`` is ``"spice"`` (``ngspice -b``) or ``"pyspice"`` (in process)."""

    def __init__(self, dt: float = 0.05, tol: float = SETTLE_TOL, timeout: float = 120.0,
                 max_chunks: int = MAX_CHUNKS, runner: str = "spice"):
        if runner not in RUNNERS:
            raise ValueError(f"runner must be one of {', '.join(RUNNERS)}; got {runner!r}")
        self.dt, self.tol, self.timeout, self.max_chunks = dt, tol, timeout, max_chunks
        self.run = RUNNERS[runner]

    def __call__(self, field: AffineField, s0: np.ndarray, steps: int = 1000,
                 accumulate: bool = False, hebbian: bool = False) -> SettleResult:
        K, B, N = s0.shape
        d = np.broadcast_to(field.d, (K, B, N))
        c = np.broadcast_to(field.c, (K, B, N))
        s = np.empty((K, B, N))
        path = np.zeros((K, N, N))
        hebb = np.zeros((K, N, N))
        chunks = np.zeros((K, B), dtype=int)
        free = np.asarray(field.free, dtype=float)
        for k in range(K):
            for b in range(B):
                x = s0[k, b]
                for n in range(1, self.max_chunks + 1):
                    deck = behavioural_deck(field.A[k], d[k, b], c[k, b], x, ~field.free,
                                            t_stop=steps * self.dt, t_step=self.dt, title="deepxbar engine")
                    vecs = self.run(deck, self.timeout)
                    traj = np.clip(np.column_stack([vecs[f"n{j}"] for j in range(N)]) / V_FS, 0.0, 1.0)
                    traj[0] = x
                    x = traj[-1]
                    if accumulate:  # the circuit's trajectory is continuous: trapezoid rule
                        path[k] += (0.5 * (traj[1:] + traj[:-1])).T @ np.diff(traj, axis=0)
                    if hebbian:
                        hebb[k] += traj[1:].T @ traj[1:]
                    f = affine(x, field.A[k], d[k, b], c[k, b], free)
                    if np.abs(projected_residual(x, f)).max() <= self.tol:
                        break
                s[k, b] = x
                chunks[k, b] = n
        res = residual_norm(s, field)
        return SettleResult(s, chunks * steps, res, res < self.tol,
                            path if accumulate else None, hebb if hebbian else None)

