import numpy as np

from models.dynamics import deep_field
from models.learning import apply_update, asym_ep_update, deep_update, sparsify
from models.settle import settle
from models.topology import Topology
from models.training import initial_states


def test_deep_rule_equals_the_papers_double_sum(xor_x):
    # The paper: dW += outer(s(t), beta0 s(t) + beta1 (s(t) - s(t-1))) over t = 1..T2
    # and samples, then dW / (B T2), times eta.
    rng = np.random.default_rng(0)
    t = Topology(3, 3, 1)
    W = t.init_weights(rng, 1, 0.8)
    field = deep_field(W, 4, t.free_mask()).nudged(10.0, np.array([[0.], [1.], [1.], [0.]]), t.output_mask())
    s0 = initial_states(t, xor_x, [rng] * 1, 1.0)
    T2, beta0, beta1, eta = 60, 0.3, 1.0, 100.0
    r = settle(field, s0, solver="reference", steps=T2, accumulate=True, hebbian=True)
    got = deep_update(r.path, r.hebb, eta=eta, batch=4, t2=T2, beta0=beta0, beta1=beta1)
    traj = [s0[0]]
    for _ in range(T2):
        traj.append(np.clip(traj[-1] + 0.05 * field(traj[-1][None])[0], 0, 1))
    want = np.zeros((t.n, t.n))
    for step in range(1, T2 + 1):
        for b in range(4):
            want += np.outer(traj[step][b], beta0 * traj[step][b] + beta1 * (traj[step][b] - traj[step - 1][b]))
    want *= eta / (4 * T2)
    assert np.allclose(got[0], want, atol=1e-12)


def test_asym_ep_rule():
    rng = np.random.default_rng(1)
    s0, s1 = rng.random((2, 1, 4, 5))
    dW, db = asym_ep_update(s0, s1, eta=2.0, beta=10.0)
    want = sum(np.outer(s0[0, b], s1[0, b] - s0[0, b]) for b in range(4)) * 2.0 / (10.0 * 4)
    assert np.allclose(dW[0], want)
    assert np.allclose(db[0], (s1[0] - s0[0]).sum(0) * 2.0 / 40)


def test_apply_update_l1_sign_and_mask():
    W = np.array([[[0.0, 0.5], [-0.2, 0.0]]])
    dW = np.array([[[1.0, -0.01], [0.3, 7.0]]])
    allowed = np.array([[False, True], [True, False]])
    out = apply_update(W, dW, allowed, l1=0.1)
    assert np.allclose(out, [[[0, 0.5 - 0.01 - 0.1], [-0.2 + 0.3 + 0.1, 0]]])
    out = apply_update(W, dW, allowed, sign=True)
    assert np.allclose(out, [[[0, 0.5 - 1], [-0.2 + 1, 0]]])


def test_sparsify_removes_only_weak_live_connections():
    rng = np.random.default_rng(2)
    W = rng.normal(0, 0.02, (3, 6, 6))
    alive = rng.random((3, 6, 6)) < 0.8
    W = np.where(alive, W, 0)
    for _ in range(20):
        new = sparsify(W, alive, rng.random(W.shape), tol=0.01, temp=5.0)
        assert not (new & ~alive).any()  # nothing comes back
        removed = alive & ~new
        assert (np.abs(W[removed]) <= 0.01).all()  # only weak ones go
        alive = new
    assert alive.sum() < (np.abs(W) > 0.01).sum() + 5  # most weak ones are gone by now


def test_deep_rule_on_a_skip_connection_is_the_delta_rule():
    # An input is clamped, so along the nudged phase int x_i ds_k = x_i (s_k^beta - s_k^0),
    # and the drain term int x_i dx_i is 0: the update of an input-to-output weight is
    # eta / (B T2) sum_samples x_i (s_k^beta - s_k^0), whatever the trajectory.
    from models.training import TrainConfig, new_networks, numpy_engine, step
    rng = np.random.default_rng(3)
    cfg = TrainConfig(n_hidden=4, architecture="skip", gamma=3.0, beta=4.0, eta=50.0, drain=True,
                      init_std=0.3, max_inhibition=0.45)
    t = cfg.topology(4, 2)
    X = np.hstack([rng.random((6, 3)), np.ones((6, 1))])
    Y = np.eye(2)[rng.integers(0, 2, 6)]
    net = new_networks(t, cfg, [np.random.default_rng(0)])
    engine = numpy_engine(cfg)
    free = engine(deep_field(net.W, 6, t.free_mask(), cfg.gamma),
                  initial_states(t, X, [np.random.default_rng(1)], cfg.init_state), steps=cfg.t1)
    nudged = engine(deep_field(net.W, 6, t.free_mask(), cfg.gamma).nudged(cfg.beta, Y, t.output_mask()),
                    free.s, steps=cfg.t2)
    assert free.converged.all() and nudged.converged.all()
    new, _ = step(net, cfg, X, Y, [np.random.default_rng(1)], 0, engine,
                  deep_field(net.W, 6, t.free_mask(), cfg.gamma))
    delta = nudged.s[0][:, t.outputs] - free.s[0][:, t.outputs]
    want = cfg.eta / (6 * cfg.t2) * X.T @ delta
    assert np.abs(delta).max() > 1e-2  # the nudge moved the outputs
    assert np.allclose(new.W[0][t.inputs, t.outputs] - net.W[0][t.inputs, t.outputs], want, rtol=1e-6, atol=1e-12)
