"""Settling the projected dynamics ``s <- clip(s + dt f(s), 0, 1)`` for a batch.

Two solvers, one set of semantics:

* ``reference``: the paper's explicit Euler, exactly ``steps`` steps of ``dt``, in
  plain NumPy (one matmul and one clip per step for the whole batch of networks).
* ``fast``: the same Euler map (same ``dt``, hence the same trajectory and the same
  equilibrium), compiled, run per sample until its projected residual is small, then
  finished by one exact linear solve on the unsaturated neurons (``_polish``), accepted
  only when it lands inside the box, within 1e-2 of the Euler state, with a residual
  below ``tol``, and is stable: the Jacobian of the free unsaturated block is Hurwitz
  and every saturated free neuron is pushed outward (or has zero field). An Euler
  trajectory can approach a saddle along its stable manifold; the polish must not stop
  there. When refused, Euler continues to ``tol``. For N >= 48 the steps are one BLAS
  matmul over the whole batch instead (same map, same polish).

Both can accumulate what the DEEP learning rule needs along the trajectory, summed over
the batch:

    path[i, j] = sum_t s_i(t) (s_j(t) - s_j(t-1))      (a path integral: int s_i ds_j)
    hebb[i, j] = sum_{t=1..steps} s_i(t) s_j(t)

``path`` does not depend on how many steps the trajectory is cut into after it has
settled, which is why the fast solver may stop early. ``hebb`` counts the nominal
``steps`` only; the fast solver adds the settled tail ``(steps - t_stop) s s^T``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .dynamics import AffineField, projected_residual, residual_norm

SOLVERS = ("reference", "fast")
POLISH_AT = 1e-5  # residual at which the exact polish is tried (earlier costs path accuracy)
REACH_PER_RESIDUAL = 50.0  # its candidate may lie this many residuals away (slowest rate 0.02 per tau)
NEWTON_ITERATIONS = 12
STEP_GROWTH = 1.1  # max_dt: a sample's step grows by this after a calm step ...
STEP_ACCEPT = 3.0  # ... one that left its residual below this many times what it was and did not turn it back
STEP_DIVERGED = 10.0  # a residual this many times a sample's smallest halves its longest step for good
_BLAS_MIN_N = 48  # below this, compiled per-sample loops beat one BLAS matmul per step
_ZERO_FIELD = 1e-12  # a saturated neuron's field this small pointing inward counts as zero


@dataclass(frozen=True)
class SettleResult:
    """States after settling and the status of every sample.

    ``s`` (K, B, N); ``steps`` (K, B) Euler steps taken; ``residual`` (K, B) max-norm
    of the projected residual at ``s``; ``converged`` (K, B) residual below tol;
    ``path``/``hebb`` (K, N, N) learning-rule sums or None.
    """

    s: np.ndarray
    steps: np.ndarray
    residual: np.ndarray
    converged: np.ndarray
    path: np.ndarray | None = None
    hebb: np.ndarray | None = None


def settle(
    field: AffineField,
    s0: np.ndarray,
    *,
    solver: str = "fast",
    dt: float = 0.05,
    steps: int = 1000,
    tol: float = 1e-9,
    max_steps: int = 20_000,
    accumulate: bool = False,
    hebbian: bool = False,
    newton_at: float | None = None,
    max_dt: float | None = None,
) -> SettleResult:
    """Settle ``s0`` (K, B, N) under ``field``.

    ``steps`` is the reference's fixed horizon (and the nominal horizon of ``hebb``);
    the fast solver ignores it for stopping and runs up to ``max_steps``.

    ``newton_at`` (fast solver, N >= 48, no path integral): once a sample's residual is
    below it, try the active-set Newton (``_newton``) and stop there when it finds a
    stable equilibrium within ``REACH_PER_RESIDUAL`` residuals of the Euler state. Much
    faster where the Euler map converges slowly; in a network with several stable
    equilibria it may pick another one than the Euler trajectory would reach (None: off).

    ``max_dt`` (fast solver, N >= 48, no path integral): every sample's step adapts
    between ``dt`` and ``max_dt``: it grows by ``STEP_GROWTH`` after a step that left the
    projected residual below ``STEP_ACCEPT`` times what it was and did not turn it back
    (a negative dot product with the one before: the map overshot), and halves (not
    below ``dt``) after any other. Steps beyond the map's stability bound (2 / the
    largest |eigenvalue| of the Jacobian) overshoot, which the turn-back rule catches
    even where the clip keeps the overshoot bounded; a residual ten times a sample's
    smallest also halves its longest step for good. So ``max_dt`` may lie well above the
    bound (``benchmarks/speed.py`` uses 4, about four times the bound). The fixed points
    of the projected Euler map are the zeros of the projected residual whatever the step,
    so a settled state is an equilibrium of the same field, checked to the same ``tol``;
    the route is not the ``dt`` trajectory, so in a network with several stable
    equilibria it may reach another one. None: off.
    """
    if max_dt is not None and not (np.isfinite(max_dt) and max_dt >= dt):
        raise ValueError(f"max_dt must be a finite number >= dt ({dt}); got {max_dt!r}")
    if solver == "reference":
        return _settle_reference(field, s0, dt, steps, tol, accumulate, hebbian)
    if solver == "fast":
        return _settle_fast(field, s0, dt, steps, tol, max_steps, accumulate, hebbian, newton_at, max_dt)
    raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")


def _settle_reference(field, s0, dt, steps, tol, accumulate, hebbian) -> SettleResult:
    K, B, N = s0.shape
    s = np.array(s0, dtype=float)
    path = np.zeros((K, N, N)) if accumulate else None
    hebb = np.zeros((K, N, N)) if hebbian else None
    for _ in range(steps):
        new = np.clip(s + dt * field(s), 0.0, 1.0)
        if accumulate:
            path += np.swapaxes(new, -1, -2) @ (new - s)
        if hebbian:
            hebb += np.swapaxes(new, -1, -2) @ new
        s = new
    res = residual_norm(s, field)
    return SettleResult(s, np.full((K, B), steps), res, res < tol, path, hebb)


def _settle_fast(field, s0, dt, steps, tol, max_steps, accumulate, hebbian, newton_at, max_dt) -> SettleResult:
    K, B, N = s0.shape
    s = np.array(s0, dtype=float, order="C")
    A = np.ascontiguousarray(field.A, dtype=float)
    d = np.ascontiguousarray(np.broadcast_to(field.d, (K, B, N)), dtype=float)
    c = np.ascontiguousarray(np.broadcast_to(field.c, (K, B, N)), dtype=float)
    free = np.ascontiguousarray(field.free, dtype=np.bool_)
    path = np.zeros((K, N, N))
    hebb = np.zeros((K, N, N))
    taken = np.zeros((K, B), dtype=np.int64)
    polish_tol = max(POLISH_AT, tol)
    if N < _BLAS_MIN_N:
        res = np.zeros((K, B))
        _settle_compiled(s, A, d, c, free, dt, tol, polish_tol, max_steps, accumulate, hebbian,
                         steps, path, hebb, taken, res)
    else:  # large N: batched BLAS steps, then the same polish per sample (in parallel)
        done = np.zeros((K, B), dtype=np.bool_)
        cand = np.empty_like(s)
        adaptive = max_dt if max_dt is not None and max_dt > dt and not (accumulate or hebbian) else None
        if newton_at is not None and not accumulate and newton_at > polish_tol:
            s = _euler_batched(s, field, dt, newton_at, max_steps, accumulate, hebbian, steps, path, hebb,
                               taken, done, adaptive)
            accepted = np.zeros((K, B), dtype=np.bool_)
            _newton_all(s, A, d, c, free, tol, REACH_PER_RESIDUAL, done, cand, accepted)
            s[accepted] = cand[accepted]
            done |= accepted
        if adaptive is not None:  # to tol with adaptive steps: no polish (it would check stability)
            s = _euler_batched(s, field, dt, tol, max_steps, False, False, steps, path, hebb, taken, done, adaptive)
            done |= residual_norm(s, field) < tol
        s = _euler_batched(s, field, dt, polish_tol, max_steps, accumulate, hebbian, steps, path, hebb,
                           taken, done)
        accepted = np.zeros((K, B), dtype=np.bool_)
        _polish_all(s, A, d, c, free, tol, done, cand, accepted)
        for k, b in zip(*np.nonzero(accepted)):
            _jump(s[k, b], cand[k, b], path[k], accumulate)
        done |= accepted
        s = _euler_batched(s, field, dt, tol, max_steps, accumulate, hebbian, steps, path, hebb,
                           taken, done)
        res = residual_norm(s, field)
    if hebbian:  # the settled tail of the nominal horizon, exactly
        tail = np.maximum(steps - taken, 0)[..., None] * s
        hebb += np.swapaxes(tail, -1, -2) @ s
    return SettleResult(s, taken, res, res < tol,
                        path if accumulate else None, hebb if hebbian else None)


def _euler_batched(s, field, dt, tol, max_steps, accumulate, hebbian, horizon, path, hebb, taken, done,
                   max_dt=None):
    """The Euler map for large N: per network, one BLAS matmul per step over the samples
    still moving (not ``done``, residual >= tol, under ``max_steps``). Updates ``s`` in
    place and returns it. With ``max_dt``, each sample's step adapts (``settle``)."""
    K = s.shape[0]
    for k in range(K):
        live = np.flatnonzero(~done[k] & (taken[k] < max_steps))
        h = np.full(s.shape[1], float(dt))
        cap = np.full(s.shape[1], float(max_dt or dt))  # each sample's longest step so far allowed
        previous = np.full(s.shape[1], np.inf)  # each sample's residual before its last step
        best = np.full(s.shape[1], np.inf)  # and the smallest it has had
        last = np.zeros(s.shape[1:])  # each sample's projected residual before its last step
        while live.size:
            x = s[k, live]
            f = AffineField(field.A[k:k + 1], field.d[k:k + 1, live], field.c[k:k + 1, live],
                            field.free)(x[None])[0]
            p = projected_residual(x, f)
            r = np.abs(p).max(-1)
            if max_dt is not None:
                # steps too long for this network: the residual grows tenfold (the cap halves), or the
                # projected residual turns back (the step halves; the clip can keep such a cycle bounded)
                diverging = r > STEP_DIVERGED * best[live]
                back = np.einsum("sn,sn->s", p, last[live]) < 0  # the map overshot
                last[live] = p
                cap[live] = np.where(diverging, np.maximum(cap[live] / 2, dt), cap[live])
                best[live] = np.where(diverging, r, np.minimum(best[live], r))
                calm = (r <= STEP_ACCEPT * previous[live]) & ~back
                h[live] = np.where(calm & ~diverging, np.minimum(h[live] * STEP_GROWTH, cap[live]),
                                   np.maximum(h[live] / 2, dt))
                previous[live] = r
            moving = r >= tol
            live, x, f = live[moving], x[moving], f[moving]
            if not live.size:
                break
            new = np.clip(x + (dt if max_dt is None else h[live, None]) * f, 0.0, 1.0)
            if accumulate:
                path[k] += new.T @ (new - x)
            if hebbian:  # only the steps within the nominal horizon
                within = (taken[k, live] < horizon)[:, None]
                hebb[k] += (new * within).T @ new
            s[k, live] = new
            taken[k, live] += 1
            live = live[taken[k, live] < max_steps]
    return s


@numba.njit(cache=True)
def field_residual(x, A, d, c, free, f):  # pragma: no cover - compiled
    """f = x A - d x + c on the free neurons (0 elsewhere); returns the max-norm of the
    projected residual (components pushing outward at a bound count as 0). Compiled:
    callable from other Numba kernels (circuits/energy.py)."""
    N = x.shape[0]
    r = 0.0
    for j in range(N):
        if not free[j]:
            f[j] = 0.0
            continue
        acc = 0.0
        for i in range(N):
            acc += x[i] * A[i, j]
        fj = acc - d[j] * x[j] + c[j]
        f[j] = fj
        if not ((x[j] <= 0.0 and fj < 0.0) or (x[j] >= 1.0 and fj > 0.0)):
            r = max(r, abs(fj))
    return r


@numba.njit(cache=True)
def _solve_block(x, A, d, c, live):  # pragma: no cover - compiled
    """f = 0 solved on the neurons ``live`` (a mask), the others held at ``x``: their
    indices, the solution and False when there is none (no live neuron, or the block
    is exactly singular)."""
    N = x.shape[0]
    idx = np.flatnonzero(live)
    m = idx.shape[0]
    if m == 0:
        return idx, np.empty(0), False
    M = np.empty((m, m))
    rhs = np.empty(m)
    for a in range(m):
        j = idx[a]
        acc = c[j]
        for i in range(N):
            if not live[i]:
                acc += x[i] * A[i, j]
        rhs[a] = -acc
        for e in range(m):
            M[a, e] = A[idx[e], j]
        M[a, a] -= d[j]
    try:
        return idx, np.linalg.solve(M, rhs), True
    except Exception:  # exactly singular
        return idx, np.empty(0), False


@numba.njit(cache=True)
def _polish(x, A, d, c, free, tol, out):  # pragma: no cover - compiled
    """One exact solve of f = 0 on the neurons strictly inside (0, 1), the others held.

    Writes the candidate to ``out`` and accepts it (returns True) only if it stays in
    the box, its projected residual is below ``tol``, it is within 1e-2 of ``x`` (from
    the end of an Euler trajectory this is the equilibrium the trajectory approaches,
    where a root-finder started elsewhere may find another one) and it is stable: the
    Jacobian of the field on the free neurons strictly inside (0, 1) at the candidate is
    Hurwitz (``_hurwitz``) and every saturated free neuron is pushed strictly outward or
    has zero field (to ``_ZERO_FIELD``). An Euler trajectory can pass close to a saddle
    along its stable manifold; jumping there would stop on it.
    """
    N = x.shape[0]
    live = np.empty(N, dtype=np.bool_)
    for j in range(N):
        live[j] = free[j] and 0.0 < x[j] < 1.0
    out[:] = x
    idx, z, ok = _solve_block(x, A, d, c, live)
    if not ok:
        return False
    for a in range(idx.shape[0]):
        v = z[a]
        if not (-1e-12 <= v <= 1.0 + 1e-12) or abs(v - x[idx[a]]) >= 1e-2:
            return False
        out[idx[a]] = min(max(v, 0.0), 1.0)
    f = np.empty(N)
    if not field_residual(out, A, d, c, free, f) < tol:
        return False
    return _stable(out, A, d, free, f)


@numba.njit(cache=True)
def _stable(out, A, d, free, f):  # pragma: no cover - compiled
    """An equilibrium ``out`` (field ``f`` there) is stable: the Jacobian of the field on
    the free neurons strictly inside (0, 1) is Hurwitz and every saturated free neuron
    is pushed strictly outward or has zero field (to ``_ZERO_FIELD``)."""
    N = out.shape[0]
    idx = np.empty(N, dtype=np.int64)
    n = 0
    for j in range(N):
        if free[j] and 0.0 < out[j] < 1.0:
            idx[n] = j
            n += 1
    J = np.empty((n, n))
    for a in range(n):
        for e in range(n):
            J[a, e] = A[idx[e], idx[a]]
        J[a, a] -= d[idx[a]]
    if not _hurwitz(J):
        return False
    for j in range(N):
        if free[j] and ((out[j] <= 0.0 and f[j] > _ZERO_FIELD) or (out[j] >= 1.0 and f[j] < -_ZERO_FIELD)):
            return False  # held at a bound by a field pointing inward
    return True


@numba.njit(cache=True)
def _newton(x, A, d, c, free, tol, reach, out):  # pragma: no cover - compiled
    """Active-set Newton from ``x``: solve f = 0 on the free neurons inside (0, 1) (and
    those at a bound whose field points inward), the others held at their bound; clip
    into the box, update the set, repeat (at most ``NEWTON_ITERATIONS``). Writes the
    candidate to ``out`` and accepts it only if its projected residual is below ``tol``,
    it is within ``reach`` of ``x`` in every neuron and it is stable (``_stable``)."""
    N = x.shape[0]
    out[:] = x
    live = np.zeros(N, dtype=np.bool_)
    for j in range(N):
        live[j] = free[j] and 0.0 < x[j] < 1.0
    f = np.empty(N)
    r = field_residual(out, A, d, c, free, f)
    for _ in range(NEWTON_ITERATIONS):
        if not live.any():
            break
        idx, z, ok = _solve_block(out, A, d, c, live)
        if not ok:
            return False
        for a in range(idx.shape[0]):
            out[idx[a]] = min(max(z[a], 0.0), 1.0)
        r = field_residual(out, A, d, c, free, f)
        if r < tol:
            break
        changed = False
        for j in range(N):
            if free[j]:
                now = (0.0 < out[j] < 1.0) or (out[j] <= 0.0 and f[j] > 0.0) or (out[j] >= 1.0 and f[j] < 0.0)
                if now != live[j]:
                    live[j] = now
                    changed = True
        if not changed:
            return False
    if not r < tol:
        return False
    for j in range(N):
        if abs(out[j] - x[j]) > reach:
            return False
    return _stable(out, A, d, free, f)


@numba.njit(cache=True, parallel=True)
def _newton_all(s, A, d, c, free, tol, reach_per_residual, done, cand, accepted):  # pragma: no cover
    """``_newton`` of every sample not ``done`` (K, B), in parallel over the samples,
    each with reach ``max(1e-2, reach_per_residual x its residual)``."""
    K, B, N = s.shape
    for q in numba.prange(K * B):
        k = q // B
        b = q - k * B
        if not done[k, b]:
            f = np.empty(N)
            r = field_residual(s[k, b], A[k], d[k, b], c[k, b], free, f)
            accepted[k, b] = _newton(s[k, b], A[k], d[k, b], c[k, b], free, tol,
                                     max(1e-2, reach_per_residual * r), cand[k, b])


@numba.njit(cache=True, parallel=True)
def _polish_all(s, A, d, c, free, tol, done, cand, accepted):  # pragma: no cover - compiled
    """``_polish`` of every sample not ``done`` (K, B), in parallel over the samples:
    candidates to ``cand``, acceptance to ``accepted``."""
    K, B, N = s.shape
    for q in numba.prange(K * B):
        k = q // B
        b = q - k * B
        if not done[k, b]:
            accepted[k, b] = _polish(s[k, b], A[k], d[k, b], c[k, b], free, tol, cand[k, b])


@numba.njit(cache=True)
def _hurwitz(J):  # pragma: no cover - compiled
    """Every eigenvalue of J (m, m) has a negative real part.

    Two cheap sufficient tests first (they decide the usual leaky and dominated cases):
    Gershgorin discs in the open left half plane (diagonal < 0 and strict row or column
    dominance), then a negative definite symmetric part (-(J + J^T) / 2 has a Cholesky
    factor; then Re(v* J v) < 0 for every eigenvector v). Otherwise the eigenvalues
    themselves (LAPACK on a complex copy, so complex pairs are fine).
    """
    m = J.shape[0]
    if m == 0:
        return True
    rows = True
    cols = True
    for a in range(m):
        if not J[a, a] < 0.0:
            rows = False
            cols = False
            break
        r = 0.0
        q = 0.0
        for e in range(m):
            if e != a:
                r += abs(J[a, e])
                q += abs(J[e, a])
        if not r < -J[a, a]:
            rows = False
        if not q < -J[a, a]:
            cols = False
    if rows or cols:
        return True
    S = np.empty((m, m))  # the symmetric part, negated
    for a in range(m):
        for e in range(m):
            S[a, e] = -0.5 * (J[a, e] + J[e, a])
    try:
        np.linalg.cholesky(S)  # raises unless S is positive definite
        return True
    except Exception:
        pass
    ev = np.linalg.eigvals(J.astype(np.complex128))
    for a in range(m):
        if not ev[a].real < 0.0:
            return False
    return True


@numba.njit(cache=True)
def _jump(x, cand, path, accumulate):  # pragma: no cover - compiled
    """Move x to cand; the path integral of that last stretch as a straight segment,
    int s_i ds_j = (x_i + cand_i) / 2 (cand_j - x_j)."""
    N = x.shape[0]
    if accumulate:
        for j in range(N):
            dj = cand[j] - x[j]
            if dj != 0.0:
                for i in range(N):
                    path[i, j] += 0.5 * (x[i] + cand[i]) * dj
    x[:] = cand


@numba.njit(cache=True, parallel=True)
def _settle_compiled(s, A, d, c, free, dt, tol, polish_tol, max_steps, accumulate, hebbian,
                     horizon, path, hebb, taken, res):  # pragma: no cover - compiled
    """Euler steps in place, one sample at a time: to ``polish_tol``, one polish, then
    on to ``tol`` if the polish was refused. ``taken`` counts steps, ``res`` gets the
    final residual. The networks run in parallel threads (each network's samples in
    order, in one thread: its sums come out the same whatever the threads)."""
    K, B, N = s.shape
    for k in numba.prange(K):
        f = np.empty(N)
        new = np.empty(N)
        cand = np.empty(N)
        for b in range(B):
            x = s[k, b]
            polishing = polish_tol > tol
            while True:
                r = field_residual(x, A[k], d[k, b], c[k, b], free, f)
                if polishing and r < polish_tol:
                    polishing = False
                    if _polish(x, A[k], d[k, b], c[k, b], free, tol, cand):
                        _jump(x, cand, path[k], accumulate)
                        r = field_residual(x, A[k], d[k, b], c[k, b], free, f)
                        break
                if r < tol or taken[k, b] >= max_steps:
                    break
                for j in range(N):
                    v = x[j] + dt * f[j]
                    new[j] = 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)
                if accumulate:
                    for j in range(N):
                        dj = new[j] - x[j]
                        if dj != 0.0:
                            for i in range(N):
                                path[k, i, j] += new[i] * dj
                if hebbian and taken[k, b] < horizon:
                    for i in range(N):
                        for j in range(N):
                            hebb[k, i, j] += new[i] * new[j]
                x[:] = new
                taken[k, b] += 1
            res[k, b] = r
