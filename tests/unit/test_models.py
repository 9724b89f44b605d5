"""The contract every registered learning model keeps (models/model.py), and the one
training loop. A new rule in models/rules/ is checked by these tests without a change."""
from __future__ import annotations

import textwrap
from dataclasses import replace

import numpy as np
import pytest

from hw.wires import effective_matrices
from models import model as models
from models.dynamics import AffineField
from models.settle import SettleResult
from models.topology import Topology
from models.training import (HISTORY_KEYS, Software, TrainConfig, full_batch, new_networks, numpy_engine, step,
                             train, train_loop)

MODELS = models.names()
TOPO = Topology(3, 4, 1)
K, B, N = 2, 4, TOPO.n


def weights(seed=0):
    rng = np.random.default_rng(seed)
    W = np.where(TOPO.mask(), rng.normal(0, 0.4, (K, N, N)), 0.0)
    b = rng.normal(0, 0.2, (K, N)) * TOPO.free_mask()
    s = rng.uniform(0, 1, (K, B, N))
    return W, b, s


def test_registry_holds_the_built_in_models_and_names_them_on_a_bad_name():
    assert MODELS[0] == "deep" and set(MODELS) >= {"deep", "asym-ep"}
    with pytest.raises(ValueError, match="model must be one of deep, asym-ep"):
        models.get("hebb")
    with pytest.raises(ValueError, match="model must be one of"):
        TrainConfig(model="hebb")


@pytest.mark.parametrize("name", MODELS)
def test_model_declares_what_it_is(name):
    m = models.get(name)
    assert m.name == name
    assert all(isinstance(getattr(m, a), bool) for a in ("leak", "trajectory", "crossbar_deck"))


@pytest.mark.parametrize("name", MODELS)
def test_field_is_affine_and_zero_on_inputs(name):
    m, (W, b, s) = models.get(name), weights()
    f = m.field(W, b, B, TOPO.free_mask(), 0.7)
    assert isinstance(f, AffineField) and f.A.shape == (K, N, N)
    out = f(s)
    assert out.shape == (K, B, N) and np.all(out[..., ~TOPO.free_mask()] == 0)
    # affine: f(a s1 + (1 - a) s2) = a f(s1) + (1 - a) f(s2)
    s2 = weights(1)[2]
    assert np.allclose(f(0.3 * s + 0.7 * s2), 0.3 * out + 0.7 * f(s2), atol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_currents_of_a_crossbar_without_wires_give_the_weights_field(name):
    """The substrate contract: a crossbar's column and row currents (no wire resistance,
    the effective matrices of hw/wires.py in weight units) give the same dynamics."""
    m, (W, b, s) = models.get(name), weights()
    g0 = 1e-5
    Gp, Gm = g0 * np.maximum(W, 0), g0 * np.maximum(-W, 0)
    mats = [effective_matrices(Gp[k], Gm[k], TOPO.free_mask(), 0.0, 0.0) for k in range(K)]
    Mcol = np.stack([c for c, _ in mats]) / g0
    Mrow = np.stack([r for _, r in mats]) / g0
    from_w = m.field(W, b, B, TOPO.free_mask(), 0.7)
    from_i = m.field_from_currents(Mcol, Mrow, b, B, TOPO.free_mask(), 0.7)
    assert np.allclose(from_w(s), from_i(s), atol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_jacobian_is_the_derivative_of_the_field(name):
    m, (W, b, s) = models.get(name), weights()
    free = TOPO.free_mask()
    f = m.field(W, b, 1, free, 0.7)
    J = m.jacobian(W, free, 0.7)  # (K, n_free, n_free): J[j, i] = d f_j / d s_i
    idx = np.flatnonzero(free)
    x = s[:, :1]
    h = 1e-6
    for col, i in enumerate(idx):
        e = np.zeros(N)
        e[i] = h
        num = (f(x + e) - f(x - e))[:, 0, idx] / (2 * h)
        assert np.allclose(num, J[:, :, col], atol=1e-7)


@pytest.mark.parametrize("name", MODELS)
def test_no_movement_in_the_nudged_phase_means_no_update(name):
    m, s = models.get(name), weights()[2]
    cfg = TrainConfig(model=name)
    zeros = np.zeros((K, N, N))
    res = SettleResult(s, np.zeros((K, B), int), np.zeros((K, B)), np.ones((K, B), bool),
                       zeros if m.trajectory else None, None)
    dW, db = m.update(res, res, cfg, B)
    assert dW.shape == (K, N, N) and np.all(dW == 0)
    assert db is None or (db.shape == (K, N) and np.all(db == 0))


@pytest.mark.parametrize("name", MODELS)
def test_constraint_is_idempotent_and_readout_gives_classes(name):
    m, W = models.get(name), weights()[0]
    cfg = TrainConfig(model=name, gamma=1.0, max_inhibition=0.45) if m.leak else TrainConfig(model=name)
    once = m.constrain(W, TOPO.free_mask(), cfg)
    assert once.shape == W.shape and np.allclose(m.constrain(once, TOPO.free_mask(), cfg), once)
    assert m.readout(np.array([[0.2], [0.7]])).tolist() == [0, 1]
    assert m.readout(np.array([[0.9, 0.1], [0.1, 0.9]])).tolist() == [0, 1]


@pytest.mark.parametrize("name", MODELS)
def test_every_model_learns_and_with_the_batch_split_in_one_the_loop_is_train(name, xor_x):
    Y = np.array([[0.0], [1.0], [1.0], [1.0]])  # OR
    cfg = TrainConfig(model=name, epochs=40, eta=100.0 if models.get(name).trajectory else 1.0)
    net, hist = train(TOPO, cfg, xor_x, Y, [0])
    assert set(hist) == set(HISTORY_KEYS)
    assert hist["mse_free"][-1, 0] < hist["mse_free"][0, 0]
    rngs = [np.random.default_rng(0)]
    again, _ = train_loop(new_networks(TOPO, cfg, rngs), cfg, full_batch(xor_x, Y), rngs, Software(cfg, rngs))
    assert np.array_equal(again.W, net.W)


def test_an_epoch_of_two_batches_is_two_steps_and_its_metrics_combine(xor_x):
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    cfg = TrainConfig(epochs=1, prune=True, l1=1e-3)
    halves = lambda epoch: ((xor_x[:2], Y[:2]), (xor_x[2:], Y[2:]))
    rngs = [np.random.default_rng(4)]
    net, hist = train_loop(new_networks(TOPO, cfg, rngs), cfg, halves, rngs, Software(cfg, rngs))
    rngs = [np.random.default_rng(4)]
    by_hand = new_networks(TOPO, cfg, rngs)
    sw, rows = Software(cfg, rngs), []
    for X, y in halves(0):
        by_hand, row = step(by_hand, cfg, X, y, rngs, 0, numpy_engine(cfg), sw.field(by_hand, 2))
        rows.append(row)
    assert np.array_equal(net.W, by_hand.W)
    assert np.isclose(hist["mse_free"][0, 0], (rows[0]["mse_free"][0] + rows[1]["mse_free"][0]) / 2)
    assert hist["residual_free"][0, 0] == max(r["residual_free"][0] for r in rows)
    assert np.isclose(hist["dw_norm"][0, 0], rows[0]["dw_norm"][0] + rows[1]["dw_norm"][0])
    assert hist["sparsity"][0, 0] == rows[1]["sparsity"][0]


def test_a_new_rule_is_one_new_file(tmp_path, monkeypatch, xor_x):
    """A module dropped into models/rules/ is a model: registered, accepted by the
    config, trained by the loop (here DEEP under another name: the same networks)."""
    from models import rules
    pkg = tmp_path / "extra"
    pkg.mkdir()
    (pkg / "deep_copy.py").write_text(textwrap.dedent("""
        from models.rules.deep import Deep

        class DeepCopy(Deep):
            name = "deep-copy"

        MODEL = DeepCopy()
    """))
    monkeypatch.setattr(rules, "__path__", [*rules.__path__, str(pkg)])
    models.registry.cache_clear()
    try:
        assert "deep-copy" in models.names()
        Y = np.array([[0.0], [1.0], [1.0], [0.0]])
        cfg = TrainConfig(epochs=5, gamma=1.0, max_inhibition=0.45)
        a, _ = train(TOPO, cfg, xor_x, Y, [2])
        b, _ = train(TOPO, replace(cfg, model="deep-copy"), xor_x, Y, [2])
        assert np.array_equal(a.W, b.W)
    finally:
        monkeypatch.undo()
        models.registry.cache_clear()
    assert "deep-copy" not in models.names()


def test_minibatches_shuffle_per_network_and_cover_every_sample_once_per_epoch(xor_x):
    from models.streams import SHUFFLE, generators
    from models.training import minibatches
    X = np.arange(10.0)[:, None] * np.ones((1, 3))
    Y = np.arange(10.0)[:, None]
    batches = minibatches(X, Y, 4, generators([0, 1], SHUFFLE))
    for epoch in range(2):
        got = list(batches(epoch))
        assert [b[0].shape for b in got] == [(2, 4, 3), (2, 4, 3), (2, 2, 3)]
        seen = np.concatenate([y[..., 0] for _, y in got], axis=1)  # (K, 10)
        assert all(sorted(row) == list(range(10)) for row in seen.tolist())
        assert all(np.array_equal(x[..., 0], y[..., 0]) for x, y in got)  # X and Y stay paired
        assert not np.array_equal(seen[0], seen[1])  # each network its own order
    with pytest.raises(ValueError, match="batch size"):
        minibatches(X, Y, 0, generators([0], SHUFFLE))


def test_minibatch_training_of_several_networks_equals_each_alone(xor_x):
    from models.streams import SHUFFLE, generators
    from models.training import minibatches
    Y = np.array([[0.0], [1.0], [1.0], [1.0]])
    cfg = TrainConfig(epochs=6, gamma=1.0, eta=50.0)

    def run(seeds):
        rngs = generators(seeds)
        return train_loop(new_networks(TOPO, cfg, rngs), cfg, minibatches(xor_x, Y, 3, generators(seeds, SHUFFLE)),
                          rngs, Software(cfg, rngs))

    both, hist = run([0, 1])
    for k, seed in enumerate([0, 1]):
        one, h1 = run([seed])
        assert np.allclose(one.W[0], both.W[k], atol=1e-12)
        assert np.allclose(h1["mse_free"][:, 0], hist["mse_free"][:, k], atol=1e-12)
