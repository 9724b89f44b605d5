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


def test_skip_mask_is_the_layered_one_plus_every_input_to_every_output():
    t = Topology(3, 5, 2, "skip", (3, 2))
    layered = Topology(3, 5, 2, "layered", (3, 2)).mask()
    m = t.mask()
    inputs, out = slice(0, 3), slice(8, 10)
    assert m[inputs, out].all() and not layered[inputs, out].any()
    extra = m & ~layered
    assert extra.sum() == 3 * 2 and not (layered & ~m).any()  # nothing else added, nothing lost
    assert not m[:, inputs].any()  # still nothing into an input


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


def test_layered_mask_of_several_hidden_layers_connects_consecutive_layers_only():
    t = Topology(3, 5, 2, "layered", (3, 2))
    inputs, h1, h2, out = range(0, 3), range(3, 6), range(6, 8), range(8, 10)
    assert [list(layer) for layer in t.layers()] == [list(inputs), list(h1), list(h2), list(out)]
    pairs = {(inputs, h1), (h1, h2), (h2, h1), (h2, out), (out, h2)}  # forward, and backward but into inputs
    m = t.mask()
    for i in range(10):
        for j in range(10):
            expected = any(i in a and j in b for a, b in pairs)
            assert m[i, j] == expected, (i, j)
    assert not m[:, :3].any() and not m[np.ix_(inputs, h2)].any() and not m[np.ix_(h1, out)].any()
    assert t.hidden == slice(3, 8) and t.hidden_sizes == (3, 2)


def test_one_layer_is_the_default_and_the_split_leaves_a_complete_mask_alone():
    assert Topology(3, 4, 1, "layered", (4,)) == Topology(3, 4, 1, "layered")  # one size: the default ()
    assert Topology(3, 4, 1).hidden_sizes == (4,) and Topology(3, 0, 1).hidden_sizes == ()
    assert [len(layer) for layer in Topology(3, 0, 1, "layered").layers()] == [3, 1]
    split = Topology(3, 5, 2, "complete", (3, 2))
    assert split.hidden_layers == (3, 2) and (split.mask() == Topology(3, 5, 2).mask()).all()
    assert Topology(3, 5, 2, "layered", [np.int64(3), 2]).hidden_layers == (3, 2)  # plain ints in a tuple


@pytest.mark.parametrize("layers", [(3, 3), (4,), (5, 0), (6, -1), (2.5, 2.5), (True, 4), 5])
def test_hidden_layers_must_be_positive_integers_summing_to_n_hidden(layers):
    with pytest.raises(ValueError, match="hidden_layers"):
        Topology(3, 5, 1, "layered", layers)
