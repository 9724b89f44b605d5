import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw import devices as dv
from hw.devices import (G0, IDEAL, PRESETS, drift, get_preset, program, pulse,
                        pulses_for, read, sample_instances)

SHAPE = (6, 5)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _mid(cfg, inst, rng, frac=0.5):
    return program(np.zeros(inst.shape), cfg.g_min + frac * cfg.g_range, inst, cfg, rng)


# ---- validation --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(g_min=2e-6, g_max=1e-6), "g_max"),
        (dict(g_min=1e-6, g_max=1e-6), "g_max"),
        (dict(g_min=-1e-6), "g_min"),
        (dict(g_max=float("inf")), "g_max"),
        (dict(write_noise=-0.1), "write_noise"),
        (dict(read_noise=-1e-3), "read_noise"),
        (dict(c2c_noise=-1.0), "c2c_noise"),
        (dict(drift_nu=-0.01), "drift_nu"),
        (dict(drift_t0=0.0), "drift_t0"),
        (dict(stuck_min=1.5), "stuck_min"),
        (dict(stuck_max=-0.1), "stuck_max"),
        (dict(stuck_min=0.6, stuck_max=0.6), "stuck_max"),
        (dict(levels=1), "levels"),
        (dict(levels=2.5), "levels"),
        (dict(dw_min=0.0), "dw_min"),
        (dict(dw_min=1.5), "dw_min"),
        (dict(up_down=1.0), "up_down"),
        (dict(response="quadratic"), "response"),
        (dict(d2d_range=-0.2), "d2d_range"),
        (dict(d2d_floor=-0.1), "d2d_floor"),
        (dict(d2d_floor="wide"), "d2d_floor"),
        (dict(read_noise_add=-0.01), "read_noise_add"),
        (dict(read_noise_add=float("nan")), "read_noise_add"),
        (dict(gamma_up=1.0), "gamma_up"),
        (dict(gamma_down=-0.1), "gamma_down"),
        (dict(symmetry_point=0.0), "symmetry_point"),
        (dict(symmetry_point=1.0), "symmetry_point"),
        (dict(depression="sudden"), "depression"),
    ],
)
def test_invalid_config_raises_one_line_naming_the_field(changes, field):
    with pytest.raises(ValueError) as e:
        dataclasses.replace(IDEAL, **changes)
    msg = str(e.value)
    assert f"DeviceConfig.{field} = " in msg and "\n" not in msg


def test_unknown_preset_names_the_allowed_ones():
    with pytest.raises(ValueError, match="ideal, rram, pcm, ecram"):
        get_preset("mram")
    assert get_preset("PCM") is PRESETS["pcm"]


def test_presets_are_valid_configs_in_microsiemens():
    assert set(PRESETS) == {"ideal", "rram", "pcm", "ecram"}
    for name, cfg in PRESETS.items():
        assert cfg.name == name
        if name != "ideal":
            assert 1e-6 <= cfg.g_max <= 1e-4  # windows of tens of uS
    assert PRESETS["pcm"].drift_nu == pytest.approx(0.05) and PRESETS["pcm"].drift_nu_std > 0
    assert PRESETS["ecram"].drift_nu == 0.0


# ---- invariants ---------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(PRESETS)),
    seed=st.integers(0, 2**32 - 1),
    counts=st.lists(st.integers(-300, 300), min_size=1, max_size=6),
)
def test_pulses_keep_every_preset_inside_each_devices_window(name, seed, counts):
    cfg = dataclasses.replace(PRESETS[name], stuck_min=0.1, stuck_max=0.1)
    rng = _rng(seed)
    inst = sample_instances(cfg, SHAPE, rng)
    assert np.all(inst.g_min >= 0) and np.all(inst.g_max >= inst.g_min + dv.MIN_WINDOW * cfg.g_range)
    g = _mid(cfg, inst, rng, rng.random())
    for c in counts:
        n = rng.integers(-abs(c), abs(c) + 1, size=SHAPE)  # mixed signs per device
        g = pulse(g, n, inst, cfg, rng)
        assert np.all(g >= inst.g_min) and np.all(g <= inst.g_max)
    g = drift(g, 1e6, inst, cfg)
    assert np.all(g >= inst.g_min) and np.all(g <= inst.g_max)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_stuck_devices_never_change(name):
    cfg = dataclasses.replace(PRESETS[name], stuck_min=0.25, stuck_max=0.25)
    rng = _rng(1)
    inst = sample_instances(cfg, (40, 10), rng)
    assert (inst.stuck == -1).any() and (inst.stuck == 1).any()
    stuck_value = np.where(inst.stuck < 0, inst.g_min, inst.g_max)
    s = inst.stuck != 0
    g = _mid(cfg, inst, rng)
    assert np.array_equal(g[s], stuck_value[s])
    for _ in range(3):
        g = pulse(g, rng.integers(-50, 51, size=inst.shape), inst, cfg, rng)
        assert np.array_equal(g[s], stuck_value[s])
        g = program(g, rng.uniform(cfg.g_min, cfg.g_max, inst.shape), inst, cfg, rng)
        assert np.array_equal(g[s], stuck_value[s])
    assert np.array_equal(drift(g, 1e5, inst, cfg)[s], stuck_value[s])
    k = pulses_for(np.full(inst.shape, 0.1 * cfg.g_range), g, inst, cfg, calibrated=True)
    assert np.all(k[s] == 0)


def test_functions_do_not_mutate_their_arguments():
    cfg = PRESETS["pcm"]
    rng = _rng(2)
    inst = sample_instances(cfg, SHAPE, rng)
    g = _mid(cfg, inst, rng)
    g_copy, n = g.copy(), np.full(SHAPE, 3)
    pulse(g, n, inst, cfg, rng)
    read(g, inst, cfg, rng)
    drift(g, 100.0, inst, cfg)
    assert np.array_equal(g, g_copy) and np.all(n == 3)
    with pytest.raises(ValueError):
        inst.g_max[0, 0] = 1.0  # instance arrays are read-only


# ---- IDEAL: the exact reduction --------------------------------------------------------------

def test_ideal_is_exact():
    assert IDEAL.g_min == 0.0 and IDEAL.g_max == 2.0**-7 == 128 * G0
    rng = _rng(3)
    inst = sample_instances(IDEAL, SHAPE, rng)
    w = rng.uniform(-128, 128, SHAPE)
    target = np.abs(w) * G0  # w <-> g exact in binary floating point
    g = program(np.zeros(SHAPE), target, inst, IDEAL, rng)
    assert np.array_equal(g, target) and np.array_equal(g / G0, np.abs(w))
    assert np.array_equal(read(g, inst, IDEAL, rng), g)
    assert np.array_equal(drift(g, 1e9, inst, IDEAL), g)


def test_ideal_pulse_count_inversion_within_one_step():
    rng = _rng(4)
    inst = sample_instances(IDEAL, SHAPE, rng)
    step = IDEAL.dw_min * IDEAL.g_range
    g = rng.uniform(0.1, 0.9, SHAPE) * IDEAL.g_max
    delta = rng.uniform(-0.1, 0.1, SHAPE) * IDEAL.g_max
    n = pulses_for(delta, g, inst, IDEAL)
    assert n.dtype.kind == "i"
    g1 = pulse(g, n, inst, IDEAL, rng)
    assert np.all(np.abs(g1 - (g + delta)) <= step / 2)
    assert np.array_equal(g1, g + n * step)  # n exact steps, no rounding error
    assert np.all(pulses_for(np.zeros(SHAPE), g, inst, IDEAL) == 0)


@pytest.mark.parametrize("response, a", [("soft-bounds", 0.0), ("exponential", 2.0), ("exponential", 0.0)])
def test_noise_free_inversion_for_nonlinear_responses(response, a):
    cfg = dataclasses.replace(IDEAL, response=response, nonlinearity=a, dw_min=0.002, up_down=0.2)
    rng = _rng(5)
    inst = sample_instances(cfg, SHAPE, rng)
    g = rng.uniform(0.2, 0.8, SHAPE) * cfg.g_max
    delta = rng.uniform(-0.15, 0.15, SHAPE) * cfg.g_max
    n = pulses_for(delta, g, inst, cfg)
    g1 = pulse(g, n, inst, cfg, rng)
    # the largest step near g is at most the first step dw_min (1 + |up_down|) R; the
    # continuum inverse of the exponential response may be off by about one more step
    tol = (2 if response == "exponential" else 1) * 1.2 * cfg.dw_min * cfg.g_range
    assert np.all(np.abs(g1 - (g + delta)) <= tol)


# ---- responses ---------------------------------------------------------------------------------

def test_soft_bounds_saturates_toward_g_max():
    cfg = dataclasses.replace(PRESETS["rram"], c2c_noise=0.0, d2d_range=0.0, d2d_step=0.0, write_noise=0.0)
    rng = _rng(6)
    inst = sample_instances(cfg, (1,), rng)
    g, gaps, incs = np.array([cfg.g_min]), [], []
    for _ in range(8):
        g1 = pulse(g, np.array([500]), inst, cfg, rng)
        incs.append(float(g1[0] - g[0]))
        gaps.append(float(cfg.g_max - g1[0]))
        g = g1
    assert all(b < a for a, b in zip(incs, incs[1:]))  # increments shrink
    q = (1 - cfg.dw_min) ** 500  # geometric approach: gap_k = gap_0 q^k
    assert np.allclose(np.array(gaps[1:]) / np.array(gaps[:-1]), q, rtol=1e-9)
    assert gaps[-1] < 0.01 * cfg.g_range and np.all(g <= cfg.g_max)
    # one pulse at a time equals the closed form for many pulses
    g_seq = np.array([cfg.g_min])
    for _ in range(300):
        g_seq = pulse(g_seq, np.array([1]), inst, cfg, rng)
    g_many = pulse(np.array([cfg.g_min]), np.array([300]), inst, cfg, rng)
    assert g_seq == pytest.approx(g_many, rel=1e-12)


def test_exponential_steps_shrink_with_distance_travelled():
    cfg = dataclasses.replace(PRESETS["pcm"], c2c_noise=0.0, d2d_range=0.0, d2d_step=0.0)
    inst = sample_instances(cfg, (1,), _rng(7))
    g, steps = np.array([0.0]), []
    for _ in range(10):
        g1 = pulse(g, np.array([1]), inst, cfg, _rng())
        steps.append(float(g1[0] - g[0]))
        g = g1
    assert steps[0] == pytest.approx(cfg.dw_min * cfg.g_range)
    assert all(b < a for a, b in zip(steps, steps[1:]))
    assert steps[1] / steps[0] == pytest.approx(np.exp(-cfg.nonlinearity * cfg.dw_min))


def test_linear_asymmetry_and_c2c_noise_scaling():
    cfg = dataclasses.replace(IDEAL, up_down=0.25, c2c_noise=0.5)
    rng = _rng(8)
    inst = sample_instances(cfg, (20000,), rng)
    g = np.full(inst.shape, 0.5 * cfg.g_max)
    s = cfg.dw_min * cfg.g_range
    up = pulse(g, 100, inst, cfg, rng) - g
    down = pulse(g, -100, inst, cfg, rng) - g
    # mean of 100 steps: 1.25 s and 0.75 s; std c2c s (1 +- up_down) sqrt(100); 20000
    # samples give the mean to ~0.5 %, the std to ~1 %: 3 % tolerance
    assert up.mean() == pytest.approx(125 * s, rel=0.03) and down.mean() == pytest.approx(-75 * s, rel=0.03)
    assert up.std() == pytest.approx(0.5 * 1.25 * s * 10, rel=0.03)


# ---- read, drift, reproducibility ------------------------------------------------------------

def test_read_noise_is_relative_and_nonnegative():
    cfg = PRESETS["pcm"]
    rng = _rng(9)
    inst = sample_instances(cfg, (50000,), rng)
    g = np.full(inst.shape, 10e-6)
    r = read(g, inst, cfg, rng)
    assert r.std() / 10e-6 == pytest.approx(cfg.read_noise, rel=0.03)  # 50000 samples: ~0.3 %
    assert np.array_equal(read(np.zeros(inst.shape), inst, cfg, rng), np.zeros(inst.shape))


def test_drift_follows_the_power_law():
    cfg = dataclasses.replace(PRESETS["pcm"], drift_nu_std=0.0)
    inst = sample_instances(cfg, SHAPE, _rng(10))
    g = np.full(SHAPE, 20e-6)
    for t in (cfg.drift_t0 * 10, 3600.0, 86400.0 * 30):
        assert np.allclose(drift(g, t, inst, cfg), g * (t / cfg.drift_t0) ** -cfg.drift_nu, rtol=1e-14)
    assert np.array_equal(drift(g, cfg.drift_t0, inst, cfg), g)
    assert np.array_equal(drift(g, 1.0, inst, cfg), g)  # before t0: unchanged
    spread = sample_instances(PRESETS["pcm"], (10000,), _rng(11))
    assert spread.nu.mean() == pytest.approx(0.05, abs=0.002) and spread.nu.std() > 0.005


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_same_seed_same_result(name):
    cfg = dataclasses.replace(PRESETS[name], stuck_min=0.05, stuck_max=0.05)

    def run(seed):
        rng = _rng(seed)
        inst = sample_instances(cfg, SHAPE, rng)
        g = _mid(cfg, inst, rng, 0.3)
        g = pulse(g, rng.integers(-40, 41, SHAPE), inst, cfg, rng)
        return np.concatenate([g.ravel(), read(g, inst, cfg, rng).ravel(), drift(g, 1e4, inst, cfg).ravel()])

    assert np.array_equal(run(42), run(42))
    if name != "ideal":
        assert not np.array_equal(run(42), run(43))


def test_pulse_rejects_fractional_counts_and_wrong_shapes():
    inst = sample_instances(IDEAL, SHAPE, _rng())
    g = np.zeros(SHAPE)
    with pytest.raises(ValueError, match="integers"):
        pulse(g, 1.5, inst, IDEAL, _rng())
    with pytest.raises(ValueError, match="shape"):
        pulse(np.zeros((2, 2)), 1, inst, IDEAL, _rng())
    assert np.array_equal(pulse(g, 3.0, inst, IDEAL, _rng()), g + 3 * IDEAL.dw_min * IDEAL.g_range)


# ---- corrections against aihwkit's presets (issue 8, part 6) -------------------------------

def test_both_bounds_spread_independently_with_the_stated_std():
    # a window far from 0 S, so that the truncation of the floor at 0 S plays no role
    cfg = dataclasses.replace(IDEAL, g_min=30e-6, g_max=70e-6, d2d_range=0.15)
    inst = sample_instances(cfg, (40000,), _rng(20))
    R = cfg.g_range
    # 40000 draws: the std to ~0.4 %, the mean to ~0.1 % of R, the correlation to ~0.005
    for got, nominal in ((inst.g_min, cfg.g_min), (inst.g_max, cfg.g_max)):
        assert got.std() == pytest.approx(0.15 * R, rel=0.02)
        assert got.mean() == pytest.approx(nominal, abs=0.005 * R)
    assert abs(np.corrcoef(inst.g_min, inst.g_max)[0, 1]) < 0.03  # each bound its own draw
    floor_only = sample_instances(dataclasses.replace(cfg, d2d_range=0.0, d2d_floor=0.05), (40000,), _rng(21))
    assert floor_only.g_min.std() == pytest.approx(0.05 * R, rel=0.02) and np.all(floor_only.g_max == cfg.g_max)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_sampled_window_is_valid(name):
    cfg = PRESETS[name]
    inst = sample_instances(cfg, (100000,), _rng(22))
    assert np.all(inst.g_min >= 0)
    assert np.all(inst.g_max >= inst.g_min + dv.MIN_WINDOW * cfg.g_range)
    if name == "rram":  # 15 % of the range on both bounds (aihwkit's w_max_dtod = 0.3/1.25)
        assert cfg.d2d_range == 0.15 and cfg.floor_spread == 0.15
        assert inst.g_max.std() == pytest.approx(0.15 * cfg.g_range, rel=0.02)
        assert (inst.g_min == 0).mean() == pytest.approx(0.43, abs=0.01)  # floor truncated at 0 S
    if name == "pcm":  # aihwkit: w_min_dtod = 0, the reset floor does not spread
        assert np.all(inst.g_min == cfg.g_min) and inst.g_max.std() > 0


def test_additive_read_noise_is_constant_and_reaches_a_zero_device():
    cfg = PRESETS["rram"]
    assert cfg.read_noise == 0 and cfg.read_noise_add == 0.01
    rng = _rng(23)
    inst = sample_instances(dataclasses.replace(cfg, d2d_range=0.0), (50000,), rng)
    want = 0.01 * cfg.g_range
    for level in (8e-6, 35e-6):  # several std from 0 S: no clipping
        r = read(np.full(inst.shape, level), inst, cfg, rng)
        assert r.mean() == pytest.approx(level, abs=0.02 * want)
        assert r.std() == pytest.approx(want, rel=0.03)  # 50000 samples: ~0.3 %
    zero = read(np.zeros(inst.shape), inst, cfg, rng)
    assert np.all(zero >= 0) and (zero > 0).mean() == pytest.approx(0.5, abs=0.02)
    # relative noise (PCM) differs: its std doubles with g
    pcm = PRESETS["pcm"]
    lo, hi = (read(np.full(inst.shape, v), inst, pcm, rng).std() for v in (5e-6, 10e-6))
    assert hi / lo == pytest.approx(2.0, rel=0.05)


def _quiet_ecram(**kw):
    return dataclasses.replace(PRESETS["ecram"], c2c_noise=0.0, d2d_range=0.0, d2d_floor=0.0, d2d_step=0.0,
                               levels=None, **kw)


def test_linear_step_pulses_for_inverts_pulse_exactly():
    cfg = _quiet_ecram(up_down=0.1)
    assert PRESETS["ecram"].response == "linear-step"
    rng = _rng(24)
    inst = sample_instances(cfg, (40, 50), rng)
    g = cfg.g_min + rng.uniform(0.35, 0.65, inst.shape) * cfg.g_range
    n = rng.integers(-300, 301, inst.shape)
    g1 = pulse(g, n, inst, cfg, rng)
    assert np.all((g1 > cfg.g_min) & (g1 < cfg.g_max))  # no clipping
    assert np.array_equal(pulses_for(g1 - g, g, inst, cfg), n)
    assert np.array_equal(pulses_for(g1 - g, g, inst, cfg, calibrated=True), n)
    # the closed form equals pulse-by-pulse application
    g_seq = g[:1, :1]
    one = sample_instances(cfg, (1, 1), rng)
    for _ in range(200):
        g_seq = pulse(g_seq, -1, one, cfg, rng)
    assert g_seq == pytest.approx(pulse(g[:1, :1], -200, one, cfg, rng), rel=1e-12)


def test_linear_step_shrinks_the_step_toward_the_bound_approached():
    cfg = _quiet_ecram()
    inst = sample_instances(cfg, (1,), _rng(25))
    s = cfg.dw_min * cfg.g_range
    gc = cfg.g_min + cfg.symmetry_point * cfg.g_range

    def step(g, n):
        return float(pulse(np.array([g]), np.array([n]), inst, cfg, _rng())[0] - g)

    assert step(gc, 1) == pytest.approx(s, rel=1e-9) and step(gc, -1) == pytest.approx(-s, rel=1e-9)
    # near the bottom the down step is 1 - gamma_down = 0.49 of dw_min (aihwkit's fit)
    g = cfg.g_min + 2 * s
    want = 1 - cfg.gamma_down * (gc - g) / (gc - cfg.g_min)
    assert -step(g, -1) / s == pytest.approx(want, rel=1e-9)
    assert want == pytest.approx(1 - 0.5085, abs=0.003)
    # near the top the up step is 1 - gamma_up = 0.885 of it
    g = cfg.g_max - 2 * s
    assert step(g, 1) / s == pytest.approx(1 - cfg.gamma_up * (g - gc) / (cfg.g_max - gc), rel=1e-9)
    assert step(g, 1) / s == pytest.approx(1 - 0.1153, abs=0.003)
    # moving away from a bound the step grows: the down step at the top is 1.72 dw_min
    assert -step(cfg.g_max, -1) / s == pytest.approx(1 + 0.5085 * (1 - 0.4138) / 0.4138, rel=1e-9)


def test_pcm_depression_is_a_reset_then_potentiation():
    cfg = dataclasses.replace(PRESETS["pcm"], c2c_noise=0.0, d2d_step=0.0, stuck_min=0.1)
    assert PRESETS["pcm"].depression == "reset"
    rng = _rng(26)
    inst = sample_instances(cfg, (30, 30), rng)
    free = inst.stuck == 0
    g = _mid(cfg, inst, rng, 0.6)
    reset = pulse(g, -1, inst, cfg, rng)
    assert np.array_equal(reset[free], inst.g_min[free])  # abrupt: one pulse to the floor
    assert np.array_equal(reset[~free], g[~free])  # stuck devices do not reset
    # -(1 + k): reset, then k potentiating pulses from the floor
    assert np.array_equal(pulse(g, -6, inst, cfg, rng), pulse(inst.g_min, 5, inst, cfg, rng))
    # a decrease is realised (within a step) through reset and potentiation
    delta = -0.25 * cfg.g_range
    n = pulses_for(delta, g, inst, cfg, calibrated=True)
    assert np.all(n[free] <= -1) and np.all(n[~free] == 0)
    g1 = pulse(g, n, inst, cfg, rng)
    assert np.all(np.abs(g1 - (g + delta))[free] <= 2 * cfg.dw_min * cfg.g_range)
    # the gradual variant goes down step by step instead
    grad = dataclasses.replace(cfg, depression="gradual")
    assert np.all(pulse(g, -1, inst, grad, rng)[free] > inst.g_min[free])
