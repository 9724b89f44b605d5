"""The crossbar and the controller: invariants of hardware training."""
from dataclasses import replace

import numpy as np
import pytest

from deepxbar.tasks import make_task
from hw.controller import hardware_rngs, train_on_crossbar
from hw.crossbar import Crossbar, CrossbarConfig, to_conductances, to_weights
from hw.devices import IDEAL, PRESETS
from hw.wires import nodal_solve_full
from models.topology import Topology
from models.training import TrainConfig, train

XOR_X, Y_XOR = make_task("xor").X, make_task("xor").Y

# a small leaky DEEP config that trains in few epochs (not the project's default,
# deepxbar.configs.DEFAULT_DEEP, which needs 1000 epochs)
SMALL = TrainConfig(n_hidden=5, gamma=1.0, beta=3.0, eta=300.0, init_std=0.1, drain=True,
                      weight_decay=1e-3)


@pytest.mark.parametrize("cfg", [
    replace(SMALL, epochs=60, prune=True, l1=3e-4, prune_tol=0.05, prune_start=20),
    TrainConfig(model="asym-ep", eta=1.0, epochs=40),
    TrainConfig(epochs=40),  # the paper's DEEP
])
def test_ideal_hardware_equals_software(xor_x, cfg):
    t = Topology(3, cfg.n_hidden, 1)
    seeds = [0, 1, 2]
    sw, h_sw = train(t, cfg, xor_x, Y_XOR, seeds)
    xbar, hw, h_hw = train_on_crossbar(t, cfg, xor_x, Y_XOR, seeds, CrossbarConfig())
    # exact mapping (g_min = 0, g0 a power of two): the same floating-point numbers
    assert np.abs(hw.W - sw.W).max() <= 1e-12
    assert np.array_equal(hw.alive, sw.alive)
    assert np.allclose(h_hw["mse_free"], h_sw["mse_free"], atol=1e-12)


def test_mapping_round_trip_is_exact_for_ideal():
    W = np.random.default_rng(0).normal(0, 3, (4, 4))
    Gp, Gm = to_conductances(W, IDEAL, CrossbarConfig().unit)
    assert np.array_equal(to_weights(Gp, Gm, CrossbarConfig().unit), W)
    Gp, Gm = to_conductances(W, PRESETS["rram"], 1e-6)
    assert np.allclose(to_weights(Gp, Gm, 1e-6), W, atol=1e-9)


@pytest.mark.parametrize("name", ["rram", "pcm", "ecram"])
def test_conductances_stay_in_window_stuck_never_change_pruned_stay_zero(xor_x, name):
    dev = replace(PRESETS[name], stuck_min=0.1, stuck_max=0.1)
    hw = CrossbarConfig(device=dev, write_verify=1, drift_time=100.0)
    cfg = replace(SMALL, epochs=40, prune=True, l1=1e-3, prune_tol=0.2, prune_start=5)
    t = Topology(3, 5, 1)
    xbar, net, hist = train_on_crossbar(t, cfg, xor_x, Y_XOR, [0, 1], hw)
    live = ~xbar.open
    for G, inst in ((xbar.Gp, xbar.inst_p), (xbar.Gm, xbar.inst_m)):
        assert (G[live] >= inst.g_min[live]).all() and (G[live] <= inst.g_max[live]).all()
        assert (G[xbar.open] == 0).all()  # open cells: both devices at the switch's 0 S
        stuck = (inst.stuck != 0) & live
        want = np.where(inst.stuck < 0, inst.g_min, inst.g_max)
        assert np.array_equal(G[stuck], want[stuck])
    assert (hist["sparsity"][-1] > 0).all()  # pruning happened
    assert (net.W[xbar.open] == 0).all()


def test_pruned_cell_stays_open_through_later_updates(xor_x):
    cfg = replace(SMALL, epochs=30, prune=True, l1=1e-3, prune_tol=0.2, prune_start=2)
    t = Topology(3, 5, 1)
    xbar, _, hist = train_on_crossbar(t, cfg, xor_x, Y_XOR, [3], CrossbarConfig(device=PRESETS["ecram"]))
    # sparsity never decreases: an opened cell is never reprogrammed
    assert (np.diff(hist["sparsity"][:, 0]) >= 0).all()


def test_ir_drop_field_equals_a_direct_nodal_solve():
    # With wire resistance the field is f = s (Mcol - Mrow)/g0 - gamma s on the free
    # neurons; check it against solving the whole grid for the same voltages.
    rng = np.random.default_rng(4)
    t = Topology(3, 6, 2)
    W = t.init_weights(rng, 1, 0.8)
    hw = CrossbarConfig(device=PRESETS["rram"], line_resistance=2.0)
    xbar = Crossbar.build(hw, t, W, hardware_rngs([0]))
    field = xbar.field(xbar.Gp, xbar.Gm, "deep", np.zeros((1, t.n)), 3, gamma=0.5)
    s = rng.random((1, 3, t.n))
    f = field(s)
    for b in range(3):
        V = s[0, b]  # volts, with V_fs = 1 V
        full = nodal_solve_full(xbar.Gp[0], xbar.Gm[0], t.free_mask(), 2.0, 2.0, V)
        want = (full["I_col"] - full["I_row"]) / hw.unit - 0.5 * V
        want[~t.free_mask()] = 0
        # 1e-10: the effective matrices and the full solve agree to ~1e-13 of the
        # largest current (tests/unit/test_wires.py); divided by g0 this is ~1e-12
        assert np.abs(f[0, b] - want).max() < 1e-10 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("bad", [dict(g0=-1.0), dict(line_resistance=-2.0), dict(write_verify=-1),
                                 dict(drift_time=float("nan")), dict(off_conductance=-1e-9),
                                 dict(off_conductance=float("inf")), dict(off_conductance=1.0),
                                 dict(off_conductance="1e-9")])
def test_crossbar_config_validation(bad):
    with pytest.raises(ValueError) as e:
        CrossbarConfig(**bad)
    field = next(iter(bad))
    assert str(e.value).startswith(f"{field} = ") and "\n" not in str(e.value)


@pytest.mark.slow
def test_ideal_hardware_equals_software_over_a_long_pruned_run(xor_x):
    # 700 epochs with the default pruning schedule: long enough for any rounding
    # difference in the reads to grow into a different network
    cfg = replace(SMALL, epochs=700, prune=True, l1=3e-4, prune_tol=0.03, prune_start=400, prune_stop=600)
    t = Topology(3, 5, 1)
    sw, _ = train(t, cfg, xor_x, Y_XOR, [0, 1])
    _, hw, _ = train_on_crossbar(t, cfg, xor_x, Y_XOR, [0, 1], CrossbarConfig())
    assert np.abs(hw.W - sw.W).max() <= 1e-12


def test_controller_uses_the_engine_it_is_handed(xor_x):
    from models.training import numpy_engine
    cfg = TrainConfig(epochs=5, solver="reference", t1=200, t2=200)
    t = Topology(3, 5, 1)
    calls = []

    def engine(field, s0, **kw):
        calls.append(kw["steps"])
        return numpy_engine(cfg)(field, s0, **kw)

    _, hw, _ = train_on_crossbar(t, cfg, xor_x, Y_XOR, [0], CrossbarConfig(), engine=engine)
    sw, _ = train(t, cfg, xor_x, Y_XOR, [0])
    assert calls == [200, 200] * 5
    assert np.abs(hw.W - sw.W).max() <= 1e-12


def test_training_with_wire_resistance_runs_and_differs_from_no_wires(xor_x):
    cfg = replace(SMALL, epochs=20)
    t = Topology(3, 5, 1)
    _, a, _ = train_on_crossbar(t, cfg, xor_x, Y_XOR, [0], CrossbarConfig(device=PRESETS["ecram"]))
    _, b, h = train_on_crossbar(t, cfg, xor_x, Y_XOR, [0],
                                CrossbarConfig(device=PRESETS["ecram"], line_resistance=50.0))
    assert np.isfinite(b.W).all() and np.isfinite(h["mse_free"]).all()
    assert np.abs(a.W - b.W).max() > 0  # the IR drop changes the dynamics, hence the training


# ---- the off switch and PCM's RESET (issue 8, part 6) -----------------------------------------

def _pruned_crossbar(off, r, name="rram"):
    t = Topology(3, 6, 2)
    W = t.init_weights(np.random.default_rng(5), 1, 0.8)
    hw = CrossbarConfig(device=PRESETS[name], line_resistance=r, off_conductance=off)
    xbar = Crossbar.build(hw, t, W, hardware_rngs([0]))
    live = ~xbar.open
    prune = live & (np.random.default_rng(6).random(live.shape) < 0.4)
    xbar.drive(xbar.programmed_weights(), live & ~prune, xbar.read(hardware_rngs([1])), hardware_rngs([2]))
    return xbar, prune


def test_open_cells_read_exactly_the_off_conductance_and_hold_weight_zero():
    off = 2e-8
    xbar, prune = _pruned_crossbar(off, 0.0)
    assert prune.any() and xbar.open[prune].all()
    Gp, Gm = xbar.read(hardware_rngs([3]))  # RRAM: additive read noise on every live device
    assert (Gp[xbar.open] == off).all() and (Gm[xbar.open] == off).all()  # no noise through the switch
    assert (Gp[~xbar.open] != off).all()
    assert (xbar.read_weights(hardware_rngs([3]))[xbar.open] == 0).all()
    assert (xbar.programmed_weights()[xbar.open] == 0).all()
    assert (xbar.Gp[xbar.open] == off).all() and (xbar.Gm[xbar.open] == off).all()


def test_a_leaking_off_switch_changes_the_field_only_through_the_wires():
    s = np.random.default_rng(7).random((1, 3, 11))
    fields = {}
    for r in (0.0, 5.0):
        for off in (0.0, 1e-6):
            xbar, _ = _pruned_crossbar(off, r)
            Gp, Gm = xbar.read(hardware_rngs([3]))
            fields[r, off] = xbar.field(Gp, Gm, "deep", np.zeros((1, 11)), 3, gamma=0.5)(s)
    assert np.array_equal(fields[0.0, 0.0], fields[0.0, 1e-6])  # equal conductances cancel in W
    assert np.abs(fields[5.0, 0.0] - fields[5.0, 1e-6]).max() > 1e-9  # ... but load the wires


def _quiet_pcm():
    return replace(PRESETS["pcm"], c2c_noise=0.0, write_noise=0.0, read_noise=0.0, d2d_range=0.0,
                   d2d_step=0.0, drift_nu=0.0, drift_nu_std=0.0)


def test_pcm_pair_lowers_a_weight_by_potentiating_the_other_device():
    t = Topology(3, 5, 1)
    hw = CrossbarConfig(device=_quiet_pcm())
    xbar = Crossbar.build(hw, t, np.zeros((1, t.n, t.n)), hardware_rngs([0]))
    live = ~xbar.open
    g_min = hw.device.g_min
    assert (xbar.Gp[live] == g_min).all() and (xbar.Gm[live] == g_min).all()  # one-sided: both at the floor
    goal = np.where(live, -1.0, 0.0)
    pulses = xbar.drive(goal, live, (xbar.Gp.copy(), xbar.Gm.copy()), hardware_rngs([1]))
    assert pulses[0] > 0
    assert (xbar.Gp[live] == g_min).all()  # the + device is not touched
    W = xbar.programmed_weights()
    assert (np.abs(W[live] + 1.0) < 0.5).all()  # the - device climbed by ~g0 (steps of 0.4 units)


def test_pcm_pair_is_refreshed_near_the_top():
    t = Topology(3, 5, 1)
    hw = CrossbarConfig(device=_quiet_pcm())
    dev, g0 = hw.device, hw.unit
    xbar = Crossbar.build(hw, t, np.zeros((1, t.n, t.n)), hardware_rngs([0]))
    live = ~xbar.open
    xbar.Gp = np.where(live, dev.g_min + 0.85 * dev.g_range, 0.0)
    xbar.Gm = np.where(live, dev.g_min + 0.50 * dev.g_range, 0.0)
    w0 = 0.35 * dev.g_range / g0  # 1.4
    goal = np.where(live, w0 + 1.0, 0.0)  # + device would pass 90 % while - holds 50 %
    pulses = xbar.drive(goal, live, (xbar.Gp.copy(), xbar.Gm.copy()), hardware_rngs([1]))
    assert (xbar.Gm[live] == dev.g_min).all()  # reset
    assert np.allclose(xbar.Gp[live], dev.g_min + g0 * (w0 + 1.0), atol=0.03 * dev.g_range)  # re-programmed
    assert pulses[0] >= 2 * live.sum()  # at least the two RESET pulses per pair


def test_weight_range_follows_the_training_bound():
    from hw.crossbar import WEIGHT_HEADROOM, fit_weight_range
    from hw.devices import RRAM
    rram = CrossbarConfig(device=RRAM)
    fitted = fit_weight_range(rram, 1.0)
    assert fitted.w_max == pytest.approx(WEIGHT_HEADROOM * 1.0) and fitted.unit == pytest.approx(RRAM.g_range / 1.25)
    assert rram.w_max == pytest.approx(4.0)  # without a bound: the window holds |W| <= 4
    assert fit_weight_range(rram, None) is rram
    given = CrossbarConfig(device=RRAM, g0=1e-6)
    assert fit_weight_range(given, 1.0) is given  # an explicit g0 is kept
    ideal = CrossbarConfig()
    assert fit_weight_range(ideal, 1.0) is ideal  # IDEAL keeps its exact power-of-two g0
