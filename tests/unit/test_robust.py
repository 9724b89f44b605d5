"""Robust networks: the inhibition limit (one equilibrium from every start), noise-aware
training, and the judgements that state their conditions (basin accuracy, weight noise)."""
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deepxbar.tasks import make_task
from models.dynamics import deep_field
from models.evaluation import basin_accuracy, evaluate, weight_noise_robustness
from models.learning import limit_inhibition
from models.settle import settle
from models.model import get
from models.stability import gershgorin
from models.topology import Topology
from models.training import Network, Software, TrainConfig, field_of, new_networks, numpy_engine, perturbed, step, train

XOR_X, Y_XOR = make_task("xor").X, make_task("xor").Y


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), std=st.floats(0.1, 3.0), gamma=st.floats(0.2, 3.0),
       hidden=st.integers(1, 6))
def test_limited_inhibition_gives_one_equilibrium_from_every_start(seed, std, gamma, hidden):
    rng = np.random.default_rng(seed)
    topo = Topology(3, hidden, 1)
    W = topo.init_weights(rng, 1, std)
    free = topo.free_mask()
    Wl = limit_inhibition(W, free, 0.45 * gamma)
    neg = np.maximum(-Wl, 0.0).sum(-1)[0]
    assert (neg[free] <= 0.45 * gamma * (1 + 1e-12)).all()
    assert np.array_equal(Wl[0, ~free], W[0, ~free])  # inputs' outgoing weights untouched
    assert np.array_equal(Wl >= 0, W >= 0) and (np.abs(Wl) <= np.abs(W) + 1e-15).all()
    # the paper's column test holds, hence a unique equilibrium: two far-apart starts
    # (all 0, all 1) reach the same state
    assert gershgorin(get("deep").jacobian(Wl, free, gamma))["columns"].all()
    field = deep_field(Wl, 4, free, gamma)
    lo = np.concatenate([XOR_X[None], np.zeros((1, 4, topo.n - 3))], -1)
    hi = np.concatenate([XOR_X[None], np.ones((1, 4, topo.n - 3))], -1)
    a = settle(field, lo, tol=1e-11, max_steps=200_000)
    b = settle(field, hi, tol=1e-11, max_steps=200_000)
    assert a.converged.all() and b.converged.all()
    # 1-norm contraction with rate >= 0.1 gamma: residual 1e-11 -> distance <= 1e-9
    assert np.abs(a.s - b.s).max() < 1e-8


def test_without_the_limit_the_same_weights_can_be_multistable():
    # the premise of the test above is not vacuous: strong mutual inhibition (h1 -| h2,
    # h2 -| h1) has two stable equilibria, reached from the two corners
    topo = Topology(1, 1, 1)
    W = np.zeros((1, 3, 3))
    W[0, 0, 1:] = 1.0  # bias drives both
    W[0, 1, 2] = W[0, 2, 1] = -2.0
    free = topo.free_mask()
    field = deep_field(W, 1, free, 1.0)
    a = settle(field, np.array([[[1.0, 1.0, 0.0]]]), tol=1e-12)
    b = settle(field, np.array([[[1.0, 0.0, 1.0]]]), tol=1e-12)
    assert np.abs(a.s - b.s).max() > 0.5
    Wl = limit_inhibition(W, free, 0.45)
    field = deep_field(Wl, 1, free, 1.0)
    a = settle(field, np.array([[[1.0, 1.0, 0.0]]]), tol=1e-12)
    b = settle(field, np.array([[[1.0, 0.0, 1.0]]]), tol=1e-12)
    assert np.abs(a.s - b.s).max() < 1e-9


def test_noise_aware_training_settles_on_noisy_weights_and_updates_the_clean_ones():
    topo = Topology(3, 3, 1)
    cfg = TrainConfig(gamma=1.0, drain=True, train_noise=0.2, epochs=1)
    clean = replace(cfg, train_noise=0.0)
    rngs = [np.random.default_rng(5)]
    net = new_networks(topo, cfg, rngs)
    eng = numpy_engine(cfg)
    # the noisy epoch: the same as a clean epoch run on the perturbed weights, with the
    # update applied to the clean ones (the rng stream: noise first, then the starts)
    rngs = [np.random.default_rng(1)]
    new, _ = step(net, cfg, XOR_X, Y_XOR, rngs, 0, eng, Software(cfg, rngs).field(net, 4))
    r = np.random.default_rng(1)
    noisy = perturbed(net, 0.2, [r])
    on_noisy, _ = step(noisy, clean, XOR_X, Y_XOR, [r], 0, eng, field_of(noisy, clean, 4))
    assert np.allclose(new.W - net.W, on_noisy.W - noisy.W, atol=1e-13)
    assert not np.allclose(noisy.W, net.W)
    # train_noise = 0 draws nothing extra: training is unchanged
    a, _ = train(topo, clean, XOR_X, Y_XOR, [3])
    b, _ = train(topo, replace(clean, train_noise=0.0), XOR_X, Y_XOR, [3])
    assert np.array_equal(a.W, b.W)


def _hand_xor():
    """A hand-made XOR net under the inhibition limit: [x1, x2, bias, h1, h2, out], two
    AND units (saturated at 1 only for input 1, 1) each inhibiting the output by 0.45:
    out = 0.5 x1 + 0.5 x2 + 0.25 - 0.45 (h1 + h2): 0.25, 0.75, 0.75, 0.35 (margins >= 0.15)."""
    topo = Topology(3, 2, 1)
    W = np.zeros((1, 6, 6))
    for h in (3, 4):
        W[0, 0, h] = W[0, 1, h] = 2.0
        W[0, 2, h] = -3.0
        W[0, h, 5] = -0.45
    W[0, 0, 5] = W[0, 1, 5] = 0.5
    W[0, 2, 5] = 0.25
    alive = np.broadcast_to(topo.mask(), W.shape).copy()
    return topo, Network(topo, W, np.zeros((1, 6)), alive)


def test_basin_accuracy_and_weight_noise_on_a_known_network():
    topo, net = _hand_xor()
    cfg = TrainConfig(gamma=1.0)
    ev = evaluate(net, cfg, XOR_X, Y_XOR, [0], 3)
    assert ev.correct.all() and ev.init_state == 0.1
    assert np.allclose(ev.outputs[0, 0, :, 0], [0.25, 0.75, 0.75, 0.35], atol=1e-8)
    assert basin_accuracy(net, cfg, XOR_X, Y_XOR, [0])[0] == 1.0
    rob = weight_noise_robustness(net, cfg, XOR_X, Y_XOR, [0], [0.0, 0.01, 3.0], trials=8)
    # noise 0.01 moves the output by ~0.01 sqrt(5) << the 0.15 margin
    assert rob["all_correct"][0].all() and rob["all_correct"][1].all()
    assert rob["accuracy"][2].mean() < 0.9  # noise of 3 destroys it
    # a network that answers 1 to everything: basin accuracy is exactly 2/4
    W = np.zeros_like(net.W)
    W[0, 2, 5] = 2.0
    wrong = Network(topo, W, net.b, net.alive)
    assert basin_accuracy(wrong, cfg, XOR_X, Y_XOR, [0])[0] == 0.5
