import numpy as np
import pytest

from models.topology import Topology


def test_complete_mask_excludes_self_loops_inputs_and_input_pairs():
    t = Topology(3, 5, 1)
    m = t.mask()
    assert m.shape == (9, 9)
    assert not m.diagonal().any()
    assert not m[:, :3].any()  # nothing into an input
    # every other pair is allowed: 9*9 - 9 (diag) - 9*3 (into inputs) + 3 (diag of inputs counted twice)
    assert m.sum() == 81 - 9 - 27 + 3


def test_layered_mask_keeps_consecutive_layers_both_ways():
    t = Topology(3, 2, 1, "layered")
    m = t.mask()
    inputs, hidden, out = range(0, 3), range(3, 5), [5]
    for i in range(6):
        for j in range(6):
            expected = (i in inputs and j in hidden) or (i in hidden and j in out) or (i in out and j in hidden)
            assert m[i, j] == expected, (i, j)


def test_init_weights_zero_off_mask_and_std(rng=np.random.default_rng(0)):
    t = Topology(3, 20, 2)
    W = t.init_weights(rng, 4, 0.05)
    assert (W[:, ~t.mask()] == 0).all()
    assert abs(W[:, t.mask()].std() - 0.05) < 0.005


@pytest.mark.parametrize("kwargs", [dict(n_in=0, n_hidden=1, n_out=1), dict(n_in=2, n_hidden=-1, n_out=1),
                                    dict(n_in=2, n_hidden=1, n_out=0),
                                    dict(n_in=2, n_hidden=1, n_out=1, architecture="ring")])
def test_invalid_topology_refused(kwargs):
    with pytest.raises(ValueError):
        Topology(**kwargs)
