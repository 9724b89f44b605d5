from dataclasses import replace

import numpy as np
import pytest

from deepxbar.tasks import make_task
from models.topology import Topology
from models.training import TrainConfig, train

XOR_X, Y_XOR = make_task("xor").X, make_task("xor").Y


@pytest.mark.parametrize("model", ["deep", "asym-ep"])
def test_batched_seeds_equal_separate_runs(xor_x, model):
    cfg = TrainConfig(model=model, epochs=15, prune=True, l1=1.5e-4, eta=100.0 if model == "deep" else 1.0)
    t = Topology(3, 4, 1)
    net, hist = train(t, cfg, xor_x, Y_XOR, [3, 4, 5])
    for k, seed in enumerate([3, 4, 5]):
        one, h1 = train(t, cfg, xor_x, Y_XOR, [seed])
        # same generator draws, same arithmetic per sample: equal to rounding of the
        # batched matmul order (observed 0 or ~1e-16)
        assert np.allclose(one.W[0], net.W[k], atol=1e-12, rtol=0)
        assert np.array_equal(one.alive[0], net.alive[k])
        assert np.allclose(h1["mse_free"][:, 0], hist["mse_free"][:, k], atol=1e-12)


def test_training_is_deterministic(xor_x):
    cfg = TrainConfig(epochs=10)
    a, _ = train(Topology(3, 5, 1), cfg, xor_x, Y_XOR, [0, 1])
    b, _ = train(Topology(3, 5, 1), cfg, xor_x, Y_XOR, [0, 1])
    assert np.array_equal(a.W, b.W)


def test_pruned_connections_stay_zero_and_disallowed_stay_zero(xor_x):
    cfg = TrainConfig(epochs=60, prune=True, l1=1e-3)
    t = Topology(3, 5, 1)
    sparsity_seen = []

    def check(epoch, row):
        sparsity_seen.append(row["sparsity"].copy())

    net, hist = train(t, cfg, xor_x, Y_XOR, [0, 1, 2], on_epoch=check)
    assert (net.W[:, ~t.mask()] == 0).all()
    assert (net.W[~net.alive] == 0).all()
    s = np.array(sparsity_seen)
    assert (np.diff(s, axis=0) >= 0).all()  # removal is permanent
    assert s[-1].max() > 0


def test_reference_and_fast_learn_the_same_on_a_settling_problem(xor_x):
    # With a leak every phase settles well within T1 = T2 = 1000 steps, so the
    # reference (fixed horizon) and fast (stop on residual) weights agree closely.
    cfg = TrainConfig(epochs=20, gamma=1.0, tol=1e-11)
    t = Topology(3, 5, 1)
    fast, _ = train(t, cfg, xor_x, Y_XOR, [0])
    ref, _ = train(t, replace(cfg, solver="reference"), xor_x, Y_XOR, [0])
    assert np.abs(fast.W - ref.W).max() < 1e-6


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(beta=float("nan")), dict(eta=float("inf")),
                                 dict(model="hopfield"), dict(solver="rk4"), dict(gamma=-1.0),
                                 dict(init_state=2.0)])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_predict_threshold_and_one_hot_ties():
    from models.model import predict
    assert predict(np.array([[0.5], [0.49], [1.0]])).tolist() == [1, 0, 1]
    assert predict(np.array([[0.2, 0.9], [0.9, 0.2], [1.0, 1.0]])).tolist() == [1, 0, -1]


def test_paper_horizon_stops_unsettled_training_phases_at_t1_as_the_paper():
    """The paper config (seed 0, XOR) has free phases that never settle (limit cycles):
    on the paper's horizon they stop at T1 = 1000 steps, as the notebooks' do, and
    training follows the reference solver far more closely than with the 10x cap."""
    from deepxbar.configs import preset
    from deepxbar.tasks import make_task
    task = make_task("xor")
    cfg = replace(preset("paper", "deep", False).train, epochs=60)
    assert cfg.paper_horizon
    topo = Topology(task.n_in, cfg.n_hidden, task.n_out)
    horizon, h = train(topo, cfg, task.X, task.Y, [0])
    capped, hc = train(topo, replace(cfg, paper_horizon=False), task.X, task.Y, [0])
    ref, _ = train(topo, replace(cfg, solver="reference"), task.X, task.Y, [0])
    unsettled = h["residual_free"][:, 0] > cfg.tol
    assert unsettled.sum() >= 10 and np.all(h["steps_free"][unsettled, 0] == cfg.t1)
    assert h["steps_free"].max() == cfg.t1 and hc["steps_free"].max() > cfg.t1
    assert np.abs(horizon.W - ref.W).max() < 0.2 * np.abs(capped.W - ref.W).max()


def test_learning_rate_schedule_reaches_eta_final_geometrically(xor_x):
    cfg = TrainConfig(epochs=5, eta=100.0, eta_final=1.0)
    assert np.allclose([cfg.learning_rate(e) for e in range(5)], [100, 10 ** 1.5, 10, 10 ** 0.5, 1])
    assert TrainConfig(eta=7.0).learning_rate(3) == 7.0
    with pytest.raises(ValueError, match="eta_final"):
        TrainConfig(eta_final=float("nan"))
    for bad in (0.0, -1e-2, float("inf")):
        with pytest.raises(ValueError, match="newton_at"):
            TrainConfig(newton_at=bad)
    for bad in (0.01, float("nan"), float("inf")):  # below dt (0.05), not finite
        with pytest.raises(ValueError, match="max_dt"):
            TrainConfig(max_dt=bad)
    # the same eta at every epoch trains exactly as the constant rate; a decaying one slows the late updates
    t = Topology(3, 4, 1)
    const, h = train(t, TrainConfig(epochs=20, gamma=1.0), xor_x, Y_XOR, [0])
    same, _ = train(t, TrainConfig(epochs=20, gamma=1.0, eta_final=100.0), xor_x, Y_XOR, [0])
    assert np.array_equal(const.W, same.W)
    _, hd = train(t, TrainConfig(epochs=20, gamma=1.0, eta_final=1.0), xor_x, Y_XOR, [0])
    assert hd["dw_norm"][-1, 0] < 0.1 * h["dw_norm"][-1, 0]


def test_hidden_layers_are_a_tuple_summing_to_n_hidden_and_give_the_topology():
    cfg = TrainConfig(n_hidden=7, hidden_layers=[4, 3], architecture="layered")  # config.json gives a list
    assert cfg.hidden_layers == (4, 3)
    assert cfg.topology(3, 1) == Topology(3, 7, 1, "layered", (4, 3))
    assert TrainConfig(n_hidden=7, hidden_layers=(7,)) == TrainConfig(n_hidden=7)  # one layer: the default
    assert TrainConfig(n_hidden=7).topology(3, 1) == Topology(3, 7, 1)
    for bad in ([4, 4], [], [7, 0], "43", [4.0, 3.0], 7):
        with pytest.raises(ValueError, match="hidden_layers"):
            TrainConfig(n_hidden=7, hidden_layers=bad)


def test_several_hidden_layers_train_on_their_layered_mask_only(xor_x):
    cfg = TrainConfig(n_hidden=5, hidden_layers=(3, 2), architecture="layered", gamma=1.0, epochs=5)
    t = cfg.topology(3, 1)
    net, _ = train(t, cfg, xor_x, Y_XOR, [0, 1])
    assert (net.W[:, ~t.mask()] == 0).all() and (net.W[:, t.mask()] != 0).all()
    # neurons: inputs 0-2, first hidden layer 3-5, second 6-7, output 8
    assert not net.alive[:, :3, 6:].any() and not net.alive[:, 3:6, 8].any()
