"""The fast solver follows the same Euler trajectory as the reference and stops on the
projected residual; these tests hold it to the reference run long enough to settle."""
import numpy as np
import pytest

from models.dynamics import AffineField, deep_field, residual_norm
from models.settle import settle
from models.topology import Topology
from models.training import initial_states


def _setup(seed, n_hidden=5, std=1.0, K=6, gamma=0.0, X=None):
    rng = np.random.default_rng(seed)
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], float) if X is None else X
    t = Topology(X.shape[1], n_hidden, 1)
    W = t.init_weights(rng, K, std)
    field = deep_field(W, X.shape[0], t.free_mask(), gamma)
    return field, initial_states(t, X, [rng] * K, 0.1)


def test_reference_is_plain_fixed_step_euler():
    field, s0 = _setup(0, K=2)
    r = settle(field, s0, solver="reference", dt=0.05, steps=37)
    s = s0.copy()
    for _ in range(37):
        s = np.clip(s + 0.05 * field(s), 0, 1)
    assert np.array_equal(r.s, s)
    assert (r.steps == 37).all()


@pytest.mark.parametrize("seed", range(4))
def test_fast_reaches_the_equilibrium_of_the_euler_trajectory(seed):
    # Mixed-sign weights of std 1: several equilibria exist; the fast solver must land
    # on the one the dt = 0.05 Euler trajectory reaches, not on any root of f.
    field, s0 = _setup(seed)
    fast = settle(field, s0, solver="fast", tol=1e-10, accumulate=True)
    ref = settle(field, s0, solver="reference", steps=40_000, accumulate=True)
    both = fast.converged & ref.converged
    assert both.mean() > 0.8  # most samples settle; limit cycles are reported, not hidden
    # 1e-8: both stop within a residual of 1e-10 of the same fixed point; the free
    # block's smallest decay rates here are ~1e-2, so states agree to ~1e-8.
    assert np.abs(fast.s - ref.s)[both].max() < 1e-8
    assert (fast.steps[both] < 40_000).all()
    if both.all():  # path integral int s_i ds_j: the same whatever the number of steps
        assert np.allclose(fast.path, ref.path, atol=1e-7)


def test_fast_reports_unconverged_samples_instead_of_hiding_them():
    field, s0 = _setup(0)
    r = settle(field, s0, solver="fast", max_steps=5)
    assert not r.converged.all()
    assert np.allclose(r.residual, residual_norm(r.s, field))


def test_large_network_path_matches_compiled_path():
    # N >= 48 takes batched BLAS steps; it must settle to the same states and path
    # integral as the compiled per-sample loop.
    rng = np.random.default_rng(5)
    X = np.hstack([rng.integers(0, 2, (8, 10)).astype(float), np.ones((8, 1))])
    field, s0 = _setup(7, n_hidden=40, std=0.3, K=2, gamma=0.5, X=X)
    big = settle(field, s0, solver="fast", accumulate=True, hebbian=True, steps=500, tol=1e-11)
    import models.settle as ms
    old = ms._BLAS_MIN_N
    try:
        ms._BLAS_MIN_N = 10_000
        small = settle(field, s0, solver="fast", accumulate=True, hebbian=True, steps=500, tol=1e-11)
    finally:
        ms._BLAS_MIN_N = old
    assert big.converged.all() and small.converged.all()
    # residuals below 1e-11 with decay rates >= ~0.1: states within ~1e-10
    assert np.abs(big.s - small.s).max() < 1e-9
    assert np.array_equal(big.steps, small.steps)
    assert np.abs(big.path - small.path).max() < 1e-9
    assert np.allclose(big.hebb, small.hebb, rtol=1e-5, atol=1e-4)


def test_hebbian_sum_counts_the_nominal_horizon():
    # After settling the state is constant, so sum_{t<=T} s s^T = the reference's sum.
    field, s0 = _setup(1, std=0.05, gamma=1.0)
    fast = settle(field, s0, solver="fast", hebbian=True, steps=3000, tol=1e-12)
    ref = settle(field, s0, solver="reference", hebbian=True, steps=3000)
    assert fast.converged.all() and ref.converged.all()
    # The fast solver polishes once the residual is 1e-5 and counts the rest of the
    # horizon at the polished state, so the last approach (~1e-5 / decay rate per
    # entry, summed over the approach) is replaced by its limit.
    assert np.allclose(fast.hebb, ref.hebb, rtol=1e-5, atol=1e-4)


def test_polish_finishes_exactly_and_early():
    # A leaky field: the exact solve on the unsaturated neurons ends the settle at a
    # residual near rounding, long before Euler alone would get there.
    field, s0 = _setup(2, std=0.05, gamma=1.0)
    fast = settle(field, s0, solver="fast", tol=1e-13)
    assert fast.converged.all() and fast.residual.max() < 1e-13
    ref = settle(field, s0, solver="reference", steps=int(fast.steps.max()))
    assert ref.residual.max() > 1e-8  # Euler alone, same number of steps, is not there yet


def _saddle(start_gap=1e-9):
    """Neurons [bias, h1, h2]: f1 = -1.5 s2 - s1 + 0.5, f2 = -1.5 s1 - s2 + 0.5. The
    interior equilibrium (0.2, 0.2) is a saddle (free-block eigenvalues -2.5 and +0.5,
    the unstable direction h1 - h2); the stable ones are (0, 0.5) and (0.5, 0)."""
    A = np.zeros((1, 3, 3))
    A[0, 0, 1] = A[0, 0, 2] = 0.5  # from the bias
    A[0, 1, 2] = A[0, 2, 1] = -1.5
    field = AffineField(A, np.ones((1, 1, 3)), np.zeros((1, 1, 3)), np.array([False, True, True]))
    return field, np.array([[[1.0, 0.05, 0.05 + start_gap]]])


@pytest.mark.parametrize("batched, newton_at", [(False, None), (True, None), (True, 1e-2)])
def test_polish_never_jumps_to_a_saddle(batched, newton_at, monkeypatch):
    # Started 1e-9 off the saddle's stable manifold (the diagonal), Euler passes within
    # a residual of 1e-5 of (0.2, 0.2) and then leaves along h2 > h1. Jumping to the
    # exact root there would stop on the saddle (it did: "converged" after 79 steps).
    import models.settle as ms
    if batched:  # the large-N path: batched Euler steps and the same polish
        monkeypatch.setattr(ms, "_BLAS_MIN_N", 0)
    field, s0 = _saddle()
    fast = settle(field, s0, solver="fast", newton_at=newton_at)
    ref = settle(field, s0, solver="reference", steps=20_000)
    assert ref.converged.all() and np.abs(ref.s[0, 0, 1:] - [0.0, 0.5]).max() < 1e-12
    assert fast.converged.all()
    assert np.abs(fast.s[0, 0, 1:] - [0.2, 0.2]).max() > 0.1
    # 1e-6: fast stops at a residual below 1e-9 with decay rate 1 (h2 at 0.5)
    assert np.abs(fast.s - ref.s).max() < 1e-6


def test_stability_check_keeps_the_polish_on_stable_equilibria():
    # The check must not disable the polish: on a leaky network (every free block is
    # Hurwitz) the exact solve still ends the settle, far earlier than Euler reaches
    # the same tolerance, at a residual near rounding.
    field, s0 = _setup(2, std=0.05, gamma=1.0)
    tol = 1e-12
    fast = settle(field, s0, solver="fast", tol=tol)
    s, euler = s0.copy(), np.full(s0.shape[:2], -1)
    for t in range(5000):  # plain Euler: the first step at which each sample is within tol
        euler[(euler < 0) & (residual_norm(s, field) < tol)] = t
        s = np.clip(s + 0.05 * field(s), 0, 1)
    assert fast.converged.all() and (euler >= 0).all()
    assert fast.residual.max() < 1e-15
    polished = fast.steps < euler  # the others saturate completely (nothing to solve)
    assert polished.mean() >= 0.75
    assert (fast.steps[polished] < 0.5 * euler[polished]).all()
    assert np.abs(fast.s - s).max() < 1e-11


def test_hurwitz_check_agrees_with_the_eigenvalues():
    from models.settle import _hurwitz
    from models.stability import spectral_abscissa
    rng = np.random.default_rng(0)
    assert _hurwitz(np.zeros((0, 0)))
    seen = set()
    for m in (1, 2, 3, 5, 8, 40):
        for _ in range(60):
            J = rng.normal(0, 1, (m, m)) - rng.uniform(0, 2.5) * np.sqrt(m) * np.eye(m)
            a = spectral_abscissa(J)
            if abs(a) < 1e-8:
                continue
            assert _hurwitz(J) == (a < 0), (m, a)
            seen.add(bool(a < 0))
    assert seen == {True, False}
    # a stable spiral whose symmetric part is indefinite: only the eigenvalues decide
    J = np.array([[-0.1, 5.0], [-0.2, -0.1]])
    assert _hurwitz(J) and np.linalg.eigvalsh(J + J.T).max() > 0
    assert not _hurwitz(np.array([[-1.0, -1.5], [-1.5, -1.0]]))  # the saddle's block


@pytest.mark.parametrize("c2, accepted", [(5e-10, False), (0.0, True), (-5e-10, True)])
def test_polish_refuses_a_neuron_held_at_a_bound_by_an_inward_field(c2, accepted):
    # h1 settles at 0.5 (f1 = 0.5 - s1); h2 sits at 0 with field c2. An inward field
    # below tol passes the residual test but is no equilibrium of the flow.
    from models.settle import _polish
    A = np.zeros((3, 3))
    A[0, 1] = 0.5
    x = np.array([1.0, 0.5 + 1e-7, 0.0])
    out = np.empty(3)
    ok = _polish(x, A, np.ones(3), np.array([0.0, 0.0, c2]), np.array([False, True, True]), 1e-9, out)
    assert ok == accepted
    assert np.abs(out - [1.0, 0.5, 0.0]).max() < 1e-15


def _large(seed=0, n=160, batch=24):
    rng = np.random.default_rng(seed)
    t = Topology(8, n - 9, 1)
    W = t.init_weights(rng, 2, 0.3 / np.sqrt(n))
    X = np.hstack([rng.integers(0, 2, (batch, 7)).astype(float), np.ones((batch, 1))])
    field = deep_field(W, batch, t.free_mask(), gamma=1.0)
    return field, initial_states(t, X, [np.random.default_rng(s) for s in (1, 2)], 0.1)


def test_active_set_newton_lands_where_euler_settles_in_far_fewer_steps():
    # N = 160: the large-N path. Euler alone converges slowly here (decay rates down to
    # ~0.05 per tau); the Newton from a residual of 1e-2 finds the same equilibrium.
    field, s0 = _large()
    euler = settle(field, s0, solver="fast", tol=1e-11)
    newton = settle(field, s0, solver="fast", tol=1e-11, newton_at=1e-2)
    assert euler.converged.all() and newton.converged.all()
    assert newton.residual.max() < 1e-11
    # both within a residual of 1e-11 of one equilibrium whose slowest rate is ~0.05
    assert np.abs(newton.s - euler.s).max() < 1e-8
    assert np.median(newton.steps) < 0.3 * np.median(euler.steps)


def test_active_set_newton_leaves_the_path_integral_alone():
    # With the path integral (the nudged phase of training) the Newton is not used: the
    # result is the one without it, bit for bit.
    field, s0 = _large(1, n=64, batch=8)
    a = settle(field, s0, solver="fast", accumulate=True)
    b = settle(field, s0, solver="fast", accumulate=True, newton_at=1e-2)
    assert np.array_equal(a.s, b.s) and np.array_equal(a.path, b.path) and np.array_equal(a.steps, b.steps)


def test_adaptive_steps_settle_where_euler_settles_in_fewer_steps():
    # N = 160 with slow decay rates: steps growing to max_dt = 1 reach the equilibrium of
    # dt's trajectory (the fixed points do not depend on the step), on every sample.
    field, s0 = _large()
    euler = settle(field, s0, solver="fast", tol=1e-11)
    fast = settle(field, s0, solver="fast", tol=1e-11, max_dt=1.0)
    assert euler.converged.all() and fast.converged.all() and fast.residual.max() < 1e-11
    assert np.abs(fast.s - euler.s).max() < 1e-8
    assert np.median(fast.steps) < 0.3 * np.median(euler.steps)
    both = settle(field, s0, solver="fast", tol=1e-11, max_dt=1.0, newton_at=1e-2)  # Newton, then adaptive
    assert both.converged.all() and np.abs(both.s - euler.s).max() < 1e-8


def test_adaptive_steps_halve_when_too_long_and_leave_the_path_integral_alone():
    # A max_dt far beyond the stability bound (2 / |eigenvalue| ~ 1.3 here): the residual
    # grows, the step halves back, and the phase still settles on the same equilibrium.
    field, s0 = _large(3, n=64, batch=8)
    euler = settle(field, s0, solver="fast", tol=1e-10)
    wild = settle(field, s0, solver="fast", tol=1e-10, max_dt=20.0)
    assert wild.converged.all() and np.abs(wild.s - euler.s).max() < 1e-7
    a = settle(field, s0, solver="fast", accumulate=True)
    b = settle(field, s0, solver="fast", accumulate=True, max_dt=1.0)  # a nudged phase: not used
    assert np.array_equal(a.s, b.s) and np.array_equal(a.path, b.path)
    with pytest.raises(ValueError, match="max_dt"):
        settle(field, s0, solver="fast", max_dt=0.01)


def test_active_set_newton_refuses_a_far_candidate():
    # The reach guard: a candidate further than max(1e-2, 50 x residual) from the Euler
    # state is refused, and Euler goes on to the tolerance.
    from models.settle import _newton, field_residual
    field, s0 = _large(2, n=64, batch=1)
    A, d, c = field.A[0], np.broadcast_to(field.d, s0.shape)[0, 0], np.broadcast_to(field.c, s0.shape)[0, 0]
    free = np.asarray(field.free, bool)
    x = s0[0, 0].copy()
    out = np.empty_like(x)
    assert _newton(x, A, d, c, free, 1e-9, 10.0, out)  # from the start itself, with no limit
    f = np.empty_like(x)
    assert field_residual(out, A, d, c, free, f) < 1e-9
    far = np.abs(out - x).max()
    assert far > 0.05 and not _newton(x, A, d, c, free, 1e-9, far / 2, out)
