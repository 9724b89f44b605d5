"""The Brian2 behavioural model follows the reference Euler map of models.settle."""
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("brian2")

from deepxbar.tasks import make_task  # noqa: E402
from circuits.brian import Brian2Engine  # noqa: E402
from models.dynamics import AffineField, deep_field  # noqa: E402
from models.settle import settle  # noqa: E402
from models.topology import Topology  # noqa: E402
from models.training import TrainConfig, initial_states, train  # noqa: E402

XOR_X, Y_XOR = make_task("xor").X, make_task("xor").Y

TOL = 1e-9  # in units of V_fs


def _leaky_deep(seed=0, K=2, n_hidden=4, std=1.0, gamma=0.5):
    """N = 3 inputs + 4 hidden + 1 output = 8, K = 2 networks, B = 4 samples."""
    rng = np.random.default_rng(seed)
    t = Topology(3, n_hidden, 1)
    field = deep_field(t.init_weights(rng, K, std), XOR_X.shape[0], t.free_mask(), gamma)
    return t, field, initial_states(t, XOR_X, [rng] * K, 0.1)


def _euler(field, s0, dt, steps):
    traj = [np.array(s0, dtype=float)]
    for _ in range(steps):
        traj.append(np.clip(traj[-1] + dt * field(traj[-1]), 0.0, 1.0))
    return np.stack(traj)


def _energy(traj, field, dt_s, V_fs, Gp, Gm):
    """Left Riemann sum of sum_ij (Gp + Gm)[i, j] V_i^2, per (network, sample)."""
    g_row = (Gp + Gm).sum(-1)  # (K, N)
    P = (g_row[None, :, None, :] * (V_fs * traj[:-1]) ** 2).sum(-1)  # (T, K, B)
    return P.sum(0) * dt_s


def test_free_and_nudged_phases_match_the_reference_solver():
    t, field, s0 = _leaky_deep()
    eng = Brian2Engine(dt=0.05, keep_trajectory=True)
    nudged_field = field.nudged(10.0, Y_XOR, t.output_mask())
    phases = []
    free = eng(field, s0, steps=120)
    phases.append((field, s0, free, eng.last, False))
    nudged = eng(nudged_field, free.s, steps=120, accumulate=True, hebbian=True)
    phases.append((nudged_field, free.s, nudged, eng.last, True))
    for fld, start, got, rep, acc in phases:
        ref = settle(fld, start, solver="reference", dt=0.05, steps=120, accumulate=acc, hebbian=acc)
        traj = _euler(fld, start, 0.05, 120)
        assert np.abs(rep.trajectory - traj).max() < TOL  # observed ~1e-16
        assert np.abs(got.s - ref.s).max() < TOL
        assert np.abs(got.residual - ref.residual).max() < TOL
        assert np.array_equal(got.converged, ref.converged)
        assert (got.steps == 120).all()
        if acc:
            assert np.abs(got.path - ref.path).max() < TOL  # observed ~3e-15
            assert np.abs(got.hebb - ref.hebb).max() < TOL * np.abs(ref.hebb).max()
        else:
            assert got.path is None and got.hebb is None
    # the nudge moved the outputs: the comparison is not trivial
    assert np.abs(nudged.s - free.s).max() > 1e-3


def test_physical_scale_does_not_change_the_states_and_energy_matches_numpy():
    t, field, s0 = _leaky_deep(seed=1)
    a = Brian2Engine(keep_trajectory=True)
    b = Brian2Engine(C=3e-13, g0=1e-5, V_fs=0.7)
    ra, rb = a(field, s0, steps=80), b(field, s0, steps=80)
    assert np.abs(ra.s - rb.s).max() < 1e-12
    assert b.tau == pytest.approx(3e-8) and b.step_seconds == pytest.approx(0.05 * 3e-8)
    # default conductances: one-sided mapping Gp - Gm = g0 A, Gp + Gm = g0 |A|
    Gp, Gm = a.g0 * np.maximum(field.A, 0), a.g0 * np.maximum(-field.A, 0)
    e_ref = _energy(a.last.trajectory, field, a.step_seconds, a.V_fs, Gp, Gm)
    assert np.allclose(a.last_energy, e_ref, rtol=1e-10, atol=0)
    assert (a.last_energy > 0).all()
    # energy ~ V_fs^2 C (the time scale tau cancels against g0)
    scale = (0.7**2 * 3e-13) / (0.2**2 * 1e-12)
    assert np.allclose(b.last_energy, a.last_energy * scale, rtol=1e-9)
    # explicit conductances (e.g. centred pulsed devices, with offsets that dissipate too)
    rng = np.random.default_rng(5)
    off = rng.uniform(1e-6, 1e-5, field.A.shape)
    a(field, s0, steps=80, conductances=(off + a.g0 * field.A / 2, off - a.g0 * field.A / 2))
    e_ref = _energy(a.last.trajectory, field, a.step_seconds, a.V_fs, off, off)
    assert np.allclose(a.last_energy, e_ref, rtol=1e-10, atol=0)


def test_settling_time_is_where_the_trajectory_enters_its_final_band():
    t, field, s0 = _leaky_deep(seed=2)
    eng = Brian2Engine(keep_trajectory=True, settle_tol=1e-3)
    eng(field, s0, steps=300)
    traj, ts = eng.last.trajectory, eng.last_settling_time
    idx = np.rint(ts / eng.step_seconds).astype(int)
    assert ts.shape == (2, 4) and (idx > 0).all() and (idx < 300).all()
    dev = np.abs(traj - traj[-1]).max(-1)  # (T + 1, K, B)
    for k in range(2):
        for b in range(4):
            assert (dev[idx[k, b]:, k, b] <= 1e-3).all()
            assert dev[idx[k, b] - 1, k, b] > 1e-3


def test_a_crossbar_without_connections_only_leaks():
    N = 3
    free = np.array([False, True, True])
    field = AffineField(np.zeros((1, N, N)), np.full((1, 2, N), 2.0), np.zeros((1, 2, N)), free)
    s0 = np.array([[[1.0, 0.5, 0.2], [0.0, 1.0, 0.3]]])
    eng = Brian2Engine(dt=0.1)
    r = eng(field, s0, steps=10)
    assert np.allclose(r.s, s0 * np.where(free, 0.8**10, 1.0), atol=1e-14, rtol=0)
    assert (eng.last_energy == 0).all()  # no devices


def test_every_call_runs_exactly_its_steps():
    # regression: an object on Brian2's global defaultclock made a short run after a
    # long one take 0 steps
    t, field, s0 = _leaky_deep()
    eng = Brian2Engine()
    for steps in (300, 2, 1, 0, 7):
        r = eng(field, s0, steps=steps)
        assert np.abs(r.s - _euler(field, s0, 0.05, steps)[-1]).max() < TOL


def test_codegen_preference_is_restored():
    import brian2

    before = brian2.prefs.codegen.target
    t, field, s0 = _leaky_deep()
    Brian2Engine()(field, s0, steps=2)
    assert brian2.prefs.codegen.target == before


@pytest.mark.parametrize("bad", [dict(dt=0.0), dict(C=-1.0), dict(V_fs=float("nan")), dict(target="cpp_standalone")])
def test_bad_configuration_is_refused(bad):
    with pytest.raises(ValueError):
        Brian2Engine(**bad)


def test_training_with_the_brian2_engine_equals_reference_training():
    cfg = TrainConfig(epochs=4, t1=100, t2=100, gamma=0.5, solver="reference")
    t = Topology(3, 4, 1)
    eng = Brian2Engine(dt=cfg.dt, keep_reports=True)
    net_b, hist_b = train(t, cfg, XOR_X, Y_XOR, [0, 1], engine=eng)
    net_r, hist_r = train(t, cfg, XOR_X, Y_XOR, [0, 1])
    assert np.abs(net_b.W - net_r.W).max() < TOL  # observed ~1e-16
    assert np.abs(hist_b["mse_free"] - hist_r["mse_free"]).max() < TOL
    assert len(eng.reports) == 2 * cfg.epochs  # a free and a nudged phase per epoch
    assert all(r.energy.shape == (2, 4) and (r.energy > 0).all() for r in eng.reports)
    # the weights did move
    assert np.abs(net_r.W - train(t, replace(cfg, epochs=1), XOR_X, Y_XOR, [0, 1])[0].W).max() > 1e-6
