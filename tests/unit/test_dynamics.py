import numpy as np

from models.dynamics import asym_ep_field, deep_field, projected_residual
from models.topology import Topology
from models.training import initial_states


def test_deep_field_matches_the_sum_formula(xor_x):
    rng = np.random.default_rng(1)
    t = Topology(3, 4, 2)
    W = t.init_weights(rng, 2, 0.7)
    s = initial_states(t, xor_x, [rng] * 2, 1.0)
    f = deep_field(W, 4, t.free_mask(), gamma=0.3)(s)
    for k in range(2):
        for b in range(4):
            for j in range(t.n):
                if j < 3:
                    assert f[k, b, j] == 0
                    continue
                want = sum(W[k, i, j] * s[k, b, i] for i in range(t.n)) \
                    - s[k, b, j] * sum(W[k, j, m] for m in range(t.n)) - 0.3 * s[k, b, j]
                assert abs(f[k, b, j] - want) < 1e-12


def test_nudge_and_asym_field(xor_x):
    rng = np.random.default_rng(2)
    t = Topology(3, 2, 1)
    W = t.init_weights(rng, 1, 0.5)
    bias = rng.normal(size=(1, t.n))
    s = initial_states(t, xor_x, [rng] * 1, 1.0)
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    field = asym_ep_field(W, bias, 4, t.free_mask())
    f0 = field(s)
    f1 = field.nudged(10.0, y, t.output_mask())(s)
    want = s[0] @ W[0] + bias[0] - s[0]
    assert np.allclose(f0[0][:, 3:], want[:, 3:], atol=1e-12)
    assert np.allclose(f1[..., :-1], f0[..., :-1])
    assert np.allclose(f1[..., -1], f0[..., -1] + 10.0 * (y[:, 0] - s[..., -1]), atol=1e-12)


def test_projected_residual_ignores_outward_push_at_bounds():
    s = np.array([0.0, 0.0, 1.0, 1.0, 0.5])
    f = np.array([-2.0, 3.0, 4.0, -5.0, 0.1])
    assert np.array_equal(projected_residual(s, f), [0.0, 3.0, 0.0, -5.0, 0.1])
