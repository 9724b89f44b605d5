"""Energy and latency reports (circuits/energy.py): analytic checks that can fail."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from deepxbar.tasks import make_task
from circuits import energy
from circuits.physics import C, DEFAULT, V_FS, Physical
from hw.crossbar import Crossbar, CrossbarConfig
from hw.devices import PRESETS
from models.dynamics import AffineField, deep_field
from models.topology import Topology
from models.training import initial_states

XOR_X, Y_XOR = make_task("xor").X, make_task("xor").Y

G0 = DEFAULT.g0
TAU = DEFAULT.tau


def approx(x, rel=1e-12):
    """Relative only: pytest.approx's default absolute tolerance (1e-12) would pass any
    picojoule."""
    return pytest.approx(x, rel=rel, abs=0)


def _rc(w=1.0, u=0.0, gamma=1.0, x=1.0, extra=0.0, g0=G0):
    """One input (clamped at x) driving one neuron through weight w; the neuron drives
    weight u back onto the input's column (a device on its own row that loads it:
    d = u + gamma); ``extra`` S on both devices of the input's cell (weight unchanged).
    Returns the field, Gp, Gm, s0 (K = B = 1, N = 2)."""
    W = np.array([[[0.0, w], [u, 0.0]]])
    field = deep_field(W, 1, np.array([False, True]), gamma)
    Gp = g0 * np.maximum(W, 0.0)
    Gm = g0 * np.maximum(-W, 0.0)
    Gp[0, 0, 1] += extra
    Gm[0, 0, 1] += extra
    return field, Gp, Gm, np.array([[[x, 0.0]]])


def _rc_exact(T, w, u, gamma, x, extra, phys):
    """Device energy from 0 to T (s) of _rc, started at 0: s(t) = s* (1 - e^(-k t))."""
    a = u + gamma
    s_star, k = w * x / a, a / phys.tau
    sq = T - 2 * (1 - math.exp(-k * T)) / k + (1 - math.exp(-2 * k * T)) / (2 * k)
    return phys.v_fs**2 * ((phys.g0 * w + 2 * extra) * x**2 * T + phys.g0 * u * s_star**2 * sq)


# ---- one RC node: exact exponential -----------------------------------------------------------

def test_rc_latency_is_tau_ln_one_over_tol():
    field, Gp, Gm, s0 = _rc()  # s* = 1, rate 1/tau
    ph = energy.phase_energy(Gp, Gm, field, s0)
    assert ph.converged.all()
    exact = TAU * math.log(1 / energy.SETTLE_TOL)
    assert ph.latency_s[0, 0] == approx(exact, rel=1e-3)  # observed 5e-4 (Euler, dt 1e-3)
    assert abs(ph.s_eq[0, 0, 1] - 1.0) < 1e-6
    # the input row alone dissipates, at constant power g0 V_FS^2
    assert ph.energy_j[0, 0] == approx(G0 * V_FS**2 * ph.latency_s[0, 0], rel=1e-9)
    assert ph.power_eq_w[0, 0] == approx(G0 * V_FS**2, rel=1e-9)


@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-4])
def test_rc_latency_and_energy_match_the_analytic_integral(tol):
    w, u, gamma, x, extra = 0.9, 0.8, 1.2, 0.7, 3e-6  # s* = 0.315, rate 2/tau, both rows dissipate
    field, Gp, Gm, s0 = _rc(w, u, gamma, x, extra)
    ph = energy.phase_energy(Gp, Gm, field, s0, settle_tol=tol)
    k = (u + gamma) / TAU
    latency = math.log(w * x / (u + gamma) / tol) / k
    assert ph.latency_s[0, 0] == approx(latency, rel=2e-3)
    assert ph.energy_j[0, 0] == approx(_rc_exact(ph.latency_s[0, 0], w, u, gamma, x, extra, DEFAULT),
                                              rel=2e-3)
    assert ph.energy_j[0, 0] == approx(_rc_exact(latency, w, u, gamma, x, extra, DEFAULT), rel=2e-3)


def test_convergence_in_dt_is_first_order_towards_the_exact_solution():
    w, u, gamma, x = 0.9, 0.8, 1.2, 0.7
    field, Gp, Gm, s0 = _rc(w, u, gamma, x)
    latency = math.log(w * x / (u + gamma) / 1e-3) * TAU / (u + gamma)
    exact = _rc_exact(latency, w, u, gamma, x, 0.0, DEFAULT)
    errs = []
    for dt in (4e-3, 2e-3, 1e-3):
        ph = energy.phase_energy(Gp, Gm, field, s0, dt=dt)
        errs.append((abs(ph.latency_s[0, 0] / latency - 1), abs(ph.energy_j[0, 0] / exact - 1)))
    errs = np.array(errs)
    ratios = errs[:-1] / errs[1:]
    assert ((ratios > 1.7) & (ratios < 2.3)).all(), ratios  # halving dt halves the error
    assert errs[-1].max() < 2e-3  # the default step (1e-3) is within 0.2 %


def test_horizon_integrates_to_a_fixed_time_before_and_after_the_trajectory_ends():
    w, u, gamma, x = 0.9, 0.8, 1.2, 0.7
    field, Gp, Gm, s0 = _rc(w, u, gamma, x)
    for T in (0.5 * TAU, 3 * TAU, 200 * TAU):  # inside the trajectory, and long after it stopped
        ph = energy.phase_energy(Gp, Gm, field, s0, horizon_s=T)
        assert ph.energy_j[0, 0] == approx(_rc_exact(T, w, u, gamma, x, 0.0, DEFAULT), rel=2e-3)


# ---- scaling with the physical constants --------------------------------------------------

def test_energy_scales_as_c_vfs_squared_and_not_with_g0_latency_as_tau():
    rng = np.random.default_rng(3)
    t = Topology(3, 4, 1)
    W = t.init_weights(rng, 2, 0.5)
    field = deep_field(W, 4, t.free_mask(), 2.0)
    s0 = initial_states(t, XOR_X, [rng] * 2, 0.1)

    def run(phys):
        Gp, Gm = phys.g0 * np.maximum(W, 0), phys.g0 * np.maximum(-W, 0)  # the same weights
        return energy.phase_energy(Gp, Gm, field, s0, phys)

    base = run(Physical())
    for phys, e_ratio, t_ratio in ((Physical(g0=4 * G0), 1.0, 0.25),
                                   (Physical(v_fs=2 * V_FS), 4.0, 1.0),
                                   (Physical(C=3 * C), 3.0, 3.0),
                                   (Physical(g0=G0 / 8, v_fs=V_FS / 2, C=C / 5), 0.05, 1.6)):
        got = run(phys)
        assert np.allclose(got.energy_j, e_ratio * base.energy_j, rtol=1e-9, atol=0)
        assert np.allclose(got.latency_s, t_ratio * base.latency_s, rtol=1e-9, atol=0)
    assert (base.energy_j > 0).all() and (base.latency_s > 0).all()


def test_compiled_kernel_matches_a_plain_numpy_trajectory():
    rng = np.random.default_rng(7)
    t = Topology(3, 5, 2)
    K, B, N = 2, 4, t.n
    W = t.init_weights(rng, K, 0.6)
    field = deep_field(W, B, t.free_mask(), 1.5)
    Gp = rng.uniform(0, 3e-5, (K, N, N))  # not the mapping of W: the energy only sees Gp + Gm
    Gm = rng.uniform(0, 3e-5, (K, N, N))
    s0 = initial_states(t, XOR_X, [rng] * K, 0.5)
    dt, tol = 2e-3, 1e-3
    ph = energy.phase_energy(Gp, Gm, field, s0, dt=dt, settle_tol=tol)
    traj = [s0]
    for _ in range(int(ph.steps.max())):
        traj.append(np.clip(traj[-1] + dt * field(traj[-1]), 0.0, 1.0))
    traj = np.stack(traj)  # (T + 1, K, B, N)
    step = dt * TAU
    P = V_FS**2 * np.einsum("tkbi,ki->tkb", traj**2, (Gp + Gm).sum(-1))
    for k in range(K):
        for b in range(B):
            n = ph.steps[k, b]
            x = traj[: n + 1, k, b]
            assert np.allclose(x[-1], ph.s_eq[k, b], atol=1e-12)
            dev = np.abs(x - x[-1]).max(-1)
            m = np.flatnonzero(dev > tol)[-1]  # last sample out of the band
            frac = (dev[m] - tol) / (dev[m] - dev[m + 1]) if dev[m + 1] <= tol else 1.0
            assert ph.latency_s[k, b] == approx((m + frac) * step, rel=1e-9)
            # trapezoid over the samples to m, then the interpolated part of the next step
            p0, p1 = P[m, k, b], P[m + 1, k, b]
            e = np.trapezoid(P[: m + 1, k, b], dx=step) + frac * step * (p0 + 0.5 * frac * (p1 - p0))
            assert ph.energy_j[k, b] == approx(e, rel=1e-9)


# ---- periphery, pulses, reads, training -------------------------------------------------------

def test_pulse_energy_of_the_ideal_preset_is_neurosims_0p2_pj():
    m = energy.pulse_model("ideal")
    assert (m.v_write, m.t_pulse) == (2.0, 10e-9)
    assert m.pulse_energy(5e-6) == approx(0.2e-12, rel=1e-12)  # 2 V x 2 V x 5 uS x 10 ns
    assert m.pulse_energy(5e-6, c_wire=1e-15) == approx(0.2e-12 + 4e-15, rel=1e-12)
    assert energy.pulse_model("PCM").pulse_energy(1e-6) == 1e-9  # fixed: about 1 nJ per write
    assert set(energy.PULSE_MODELS) == set(PRESETS)  # every preset has a pulse model
    assert energy.PULSE_MODELS["ecram"].assumption and energy.PULSE_MODELS["rram"].assumption
    assert energy.WIRE_CAP_PER_CELL == approx(0.04e-15, rel=1e-9)


def test_periphery_estimate_per_mac():
    assert energy.periphery_energy(143) == approx(143 * 56e-15)
    lo, hi = energy.PERIPHERY_FJ_PER_MAC_RANGE
    # 25-51 TOPS/W at 2 operations per MAC
    assert lo == pytest.approx(2e3 / 51, abs=0.5) and hi == pytest.approx(2e3 / 25, abs=0.5)
    assert energy.PERIPHERY_FJ_PER_MAC == pytest.approx(2e3 / 35.6, abs=0.5)


def _crossbar(K=2, device="ideal", seed=0):
    t = Topology(3, 3, 1)
    rngs = [np.random.default_rng([seed, k]) for k in range(K)]
    W = t.init_weights(np.random.default_rng(seed), K, 0.5)
    return Crossbar.build(CrossbarConfig(device=PRESETS[device]), t, W, rngs), W


def test_programming_energy_is_linear_in_pulses_and_reads_follow_their_formula():
    xbar, _ = _crossbar()
    pulses = np.array([[10.0, 4.0], [0.0, 7.0], [3.0, 3.0]])
    one = energy.training_energy(xbar, pulses)
    two = energy.training_energy(xbar, 2 * pulses)
    assert two["programming_j_per_epoch"] == approx(2 * one["programming_j_per_epoch"], rel=1e-12)
    assert one["programming_j_per_epoch"] == approx(pulses.mean() * one["energy_per_pulse_j"], rel=1e-12)
    assert np.allclose(energy.programming_energy(3 * pulses, 1e-12), 3 * energy.programming_energy(pulses, 1e-12),
                       rtol=1e-12, atol=0)
    assert two["read_j_per_epoch"] == one["read_j_per_epoch"]
    # ideal devices read once (noiseless), at V_FS for 5 ns, every connected device
    Gp, Gm = xbar.state()
    live = ~xbar.open
    want = V_FS**2 * np.where(live, Gp + Gm, 0).sum((-1, -2)).mean() * 5e-9
    assert one["read_j_per_epoch"] == approx(want, rel=1e-12)
    g = np.where(live, Gp + Gm, 0).sum() / (2 * live.sum())
    n = xbar.topology.n
    assert one["energy_per_pulse_j"] == approx(4.0 * (g * 10e-9 + 0.04e-15 * 2 * n), rel=1e-12)
    total = pulses.sum(0) * one["energy_per_pulse_j"] + 3 * (one["read_j_per_epoch"] + 0.0)
    assert one["training_j_total"] == approx(total.mean(), rel=1e-9)
    with_settle = energy.training_energy(xbar, pulses, settle_j_per_epoch=[1e-12, 3e-12])
    assert with_settle["training_j_total"] - one["training_j_total"] == approx(3 * 2e-12, rel=1e-9)


def test_noisy_devices_are_read_reads_times_per_measurement():
    xbar, _ = _crossbar(device="rram")
    e = energy.read_energy_per_epoch(xbar)
    Gp, Gm = xbar.state()
    g = np.where(~xbar.open, Gp + Gm, 0).sum((-1, -2))
    assert xbar.cfg.reads == 8
    assert np.allclose(e, 8 * V_FS**2 * g * 5e-9, rtol=1e-12, atol=0)
    xbar.cfg = replace(xbar.cfg, write_verify=2)  # two more measurements per epoch
    assert np.allclose(energy.read_energy_per_epoch(xbar), 3 * e, rtol=1e-12, atol=0)


@pytest.mark.parametrize("bad", [np.array([[1.0, -1.0]]), np.array([[np.nan, 1.0]]), np.array([[np.inf, 1.0]])])
def test_bad_pulses_are_refused(bad):
    xbar, _ = _crossbar()
    with pytest.raises(ValueError):
        energy.training_energy(xbar, bad)
    with pytest.raises(ValueError):
        energy.programming_energy(bad, 1e-12)


def test_bad_inputs_are_refused():
    field, Gp, Gm, s0 = _rc()
    for kwargs in ({"s0": s0 * np.nan}, {"s0": s0 + 2.0}, {"Gp": -Gp}, {"Gm": Gm * np.nan},
                   {"dt": 0.0}, {"dt": np.nan}, {"settle_tol": -1e-3}, {"horizon_s": -1.0},
                   {"s0": s0[0]}, {"Gp": Gp[:, :1]}):
        args = {"Gp": Gp, "Gm": Gm, "field": field, "s0": s0, **kwargs}
        with pytest.raises(ValueError):
            energy.phase_energy(args.pop("Gp"), args.pop("Gm"), args.pop("field"), args.pop("s0"), **args)
    nan_field = AffineField(field.A * np.nan, field.d, field.c, field.free)
    with pytest.raises(ValueError):
        energy.phase_energy(Gp, Gm, nan_field, s0)
    with pytest.raises(ValueError):
        energy.pulse_model("flash")
    with pytest.raises(ValueError):
        energy.periphery_energy(-1)
    with pytest.raises(ValueError):
        energy.pulse_model("ideal").pulse_energy(-1e-6)
    xbar, _ = _crossbar()
    with pytest.raises(ValueError):
        energy.training_energy(xbar, np.ones((5, 3)))  # 3 networks' pulses for 2 crossbars


def test_report_keys_are_json_safe_and_consistent():
    xbar, W = _crossbar()
    t = xbar.topology
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    field = xbar.field(xbar.Gp, xbar.Gm, "deep", np.zeros((2, t.n)), 4, 2.0)
    s0 = initial_states(t, XOR_X, [np.random.default_rng(k) for k in range(2)], 0.1)
    pulses = np.full((20, 2), 5.0)
    r = energy.report(xbar, field, s0, pulses, targets=Y, beta=3.0)
    json.dumps(r, allow_nan=False)
    for key in ("inference_j", "inference_latency_s", "programming_j_per_epoch", "training_j_total",
                "periphery_j_per_inference", "assumptions"):
        assert key in r
    for key in ("inference_j", "inference_latency_s", "programming_j_per_epoch", "training_j_total"):
        assert isinstance(r[key], float) and r[key] > 0
    assert r["macs_per_inference"] == (~xbar.open).sum() / 2
    assert np.array(r["inference_latency_s_per_sample"]).shape == (2, 4)
    assert np.mean(r["inference_j_per_sample"]) == approx(r["inference_j"], rel=1e-12)
    assert r["periphery_j_per_inference"] == approx(r["macs_per_inference"] * 56e-15)
    assert r["settle_includes_nudged"] and r["settle_j_per_epoch"] > 4 * r["inference_j"]  # free + nudged, 4 samples
    free_only = energy.report(xbar, field, s0, pulses)
    assert free_only["settle_j_per_epoch"] == approx(4 * free_only["inference_j"], rel=1e-12)
    assert r["inference_j"] == free_only["inference_j"]
    # training total = epochs x (programming + reads + settling) per network
    assert r["training_j_total"] == approx(
        20 * (r["programming_j_per_epoch"] + r["read_j_per_epoch"] + r["settle_j_per_epoch"]), rel=1e-9)
    assert all(isinstance(v, str) for v in r["assumptions"].values())


def test_device_energy_is_the_brian2_models_integral():
    """circuits/brian.py integrates the same power (left Riemann sum over its steps); over
    the same horizon the trapezoid rule differs from it by exactly (P(0) - P(T)) step / 2."""
    pytest.importorskip("brian2")
    from circuits.brian import Brian2Engine

    rng = np.random.default_rng(11)
    t = Topology(3, 3, 1)
    W = t.init_weights(rng, 2, 0.8)
    field = deep_field(W, 4, t.free_mask(), 1.0)
    s0 = initial_states(t, XOR_X, [rng] * 2, 0.1)
    Gp, Gm = G0 * np.maximum(W, 0) + 2e-6, G0 * np.maximum(-W, 0) + 2e-6
    dt, steps = 0.01, 100
    eng = Brian2Engine(dt=dt, keep_trajectory=True)
    eng(field, s0, steps=steps, conductances=(Gp, Gm))
    ph = energy.phase_energy(Gp, Gm, field, s0, dt=dt, horizon_s=steps * dt * TAU)
    g_row = (Gp + Gm).sum(-1)
    power = lambda s: V_FS**2 * np.einsum("kbi,ki->kb", s**2, g_row)  # noqa: E731
    P0, PT = power(s0), power(eng.last.trajectory[-1])
    assert np.allclose(eng.last.energy, ph.energy_j + (P0 - PT) * dt * TAU / 2, rtol=1e-9, atol=0)
