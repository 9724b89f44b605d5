"""The logic tasks: truth tables, the bias column and the one-hot encoding."""
import numpy as np
import pytest

from deepxbar.tasks import TASKS, make_task

TRUTH = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "xor": [0, 1, 1, 0], "not": [1, 0], "identity": [0, 1]}


@pytest.mark.parametrize("name", TASKS)
def test_truth_tables_with_the_bias_column(name):
    t = make_task(name)
    inputs = t.X[:, :-1]
    assert np.all(t.X[:, -1] == 1.0) and t.n_in == t.n_data_inputs + 1
    # every combination of the data inputs once, in binary order
    codes = inputs @ (2 ** np.arange(t.n_data_inputs)[::-1])
    assert codes.tolist() == list(range(2 ** t.n_data_inputs))
    a = inputs[:, 0].astype(bool)
    b = inputs[:, -1].astype(bool)
    expected = {"and": a & b, "or": a | b, "xor": a ^ b, "not": ~a, "identity": a}[name]
    assert t.Y[:, 0].astype(bool).tolist() == expected.tolist() == [bool(v) for v in TRUTH[name]]
    assert t.n_out == 1 and not t.one_hot


@pytest.mark.parametrize("name", TASKS)
def test_one_hot_rows_pick_the_class_and_bias_can_be_left_out(name):
    t = make_task(name, one_hot=True, bias=False)
    assert t.Y.shape == (len(TRUTH[name]), 2) and np.all(t.Y.sum(1) == 1)
    assert t.Y.argmax(1).tolist() == TRUTH[name]
    assert t.n_in == t.n_data_inputs


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="task must be one of and, or, xor"):
        make_task("nand")
