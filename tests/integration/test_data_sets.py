"""Training on a data set: minibatches, per-epoch train and test accuracy, the summary."""
from dataclasses import replace

import numpy as np

from deepxbar import experiment
from deepxbar.configs import DEFAULT_DEEP_ONE_HOT
from deepxbar.data import load
from hw.crossbar import CrossbarConfig
from hw.devices import PRESETS


def test_iris_in_minibatches_learns_and_reports_accuracies():
    d = load("iris")
    cfg = replace(DEFAULT_DEEP_ONE_HOT, n_hidden=8, epochs=12, eta=150.0)
    exp = experiment.run(d, cfg, [0, 1], progress=False, batch_size=16)
    h = exp.history
    assert h["train_accuracy"].shape == h["test_accuracy"].shape == (12, 2)
    assert h["test_accuracy"][-1].mean() > h["test_accuracy"][0].mean() + 0.2  # it learns
    s = experiment.summary(exp, "deep", "default")
    assert s["data"]["train_samples"] == 120 and s["data"]["test_samples"] == 30
    for p in s["per_seed"]:
        assert p["test_accuracy"] == exp.evaluation.accuracy[p["seed"]]
        assert p["train_accuracy"] == h["train_accuracy"][-1, p["seed"]]
        assert 0 <= p["best_test_accuracy"] <= 1 and p["best_test_accuracy"] >= p["test_accuracy"] - 1e-12
    assert np.isclose(s["test_accuracy_mean"], exp.evaluation.accuracy.mean())
    assert len(exp.stability[0].equilibria) == min(experiment.STABILITY_SAMPLES, 30)
    assert "success_rate" not in s and "basin_accuracy_mean" not in s  # logic-task verdicts only


def test_iris_on_a_crossbar_reports_the_chip_and_scales_the_settling_energy():
    d = load("iris")
    cfg = replace(DEFAULT_DEEP_ONE_HOT, n_hidden=4, epochs=2, eta=150.0)
    exp = experiment.run(d, cfg, [0], progress=False, batch_size=40, hw=CrossbarConfig(device=PRESETS["ecram"]))
    s = experiment.summary(exp, "deep", "default")
    assert exp.history["pulses"].shape == (2, 1) and 0 <= s["onchip_test_accuracy_mean"] <= 1
    assert exp.onchip.outputs.shape[2] == 30  # the test part, on the chip
    assert s["energy"]["training_j_total"] > 0
