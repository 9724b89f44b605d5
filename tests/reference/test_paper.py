"""The paper reproduced (faithful floor) and surpassed (the default config).

Seeds 0..9, all tasks. Success per seed: the trained network, run again from 10 fresh
random initial states, classifies every pattern right every time.
"""
from dataclasses import replace

import numpy as np
import pytest

from deepxbar import experiment
from deepxbar.configs import preset
from deepxbar.tasks import make_task
from models.evaluation import weight_noise_robustness

SEEDS = list(range(10))


def run(task_name, model, config, solver, one_hot=False, prune=False):
    """The experiment (history, evaluation) and its summary."""
    pre = preset(config, model, one_hot)
    cfg = pre.pruned() if prune else pre.train
    cfg = replace(cfg, solver=solver)
    task = make_task(task_name, one_hot, pre.bias_input)
    exp = experiment.run(task, cfg, SEEDS, progress=False)
    return exp, experiment.summary(exp, model, config)


def summarise(task_name, model, config, solver, one_hot=False, prune=False):
    return run(task_name, model, config, solver, one_hot, prune)[1]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["deep", "asym-ep"])
@pytest.mark.parametrize("task", ["and", "or", "not", "identity"])
def test_paper_config_reference_solver_learns_the_easy_gates(model, task):
    s = summarise(task, model, "paper", "reference")
    assert s["success_rate"] == 1.0


@pytest.mark.slow
def test_paper_config_reproduces_the_papers_xor_failures():
    # The paper's notebooks: DEEP XOR in 2/10 seeds, 0/50 trained DEEP nets pass Gershgorin;
    # asym-EP XOR outputs within 0.007 of the threshold.
    exp, deep = run("xor", "deep", "paper", "reference")
    assert deep["success_rate"] <= 0.4
    assert not any(p["gershgorin"]["hurwitz"] for p in deep["per_seed"])
    # ... but the failures must be the paper's, not a learner that learns nothing (which
    # would pass the one-sided checks above). Measured: seeds 6 and 8 learn XOR (success
    # 0.2), their outputs sit at 0 and 1 (margin 0.5) and their free-phase MSE ends at 0,
    # from 0.21-0.25 at the first epoch.
    assert deep["success_rate"] >= 0.1
    assert max(p["min_margin"] for p in deep["per_seed"]) >= 0.4
    mse = exp.history["mse_free"]  # (epochs, seeds)
    assert mse[-1].min() < 0.05 and mse[-1].min() < 0.25 * mse[0].min()
    exp, asym = run("xor", "asym-ep", "paper", "reference")
    assert max(abs(p["min_margin"]) for p in asym["per_seed"]) < 0.02
    # asym-EP hugs the threshold because it learns what a net that cannot separate XOR
    # can: outputs near the targets' mean 0.5, where the MSE is 0.125 (measured: from
    # 0.22-0.25 to 0.120-0.125 on every seed). A learner that learns nothing keeps its
    # first MSE; one that outputs a constant has no spread across the patterns (measured:
    # 0.019-0.026 on every seed and repeat).
    mse = exp.history["mse_free"]
    assert (mse[-1] < 0.13).all() and (mse[-1] < 0.9 * mse[0]).all()
    out = exp.evaluation.outputs[..., 0]  # (seeds, repeats, patterns)
    assert (out.max(-1) - out.min(-1)).min() > 0.005


@pytest.mark.slow
@pytest.mark.parametrize("task", ["xor", "and", "or", "not", "identity"])
def test_default_config_is_robust_on_every_gate(task):
    # The targets of issue 8 (benchmarks/robustness.py has the 20-trial figures):
    # success, a margin, the local certificate and the paper's global test, one
    # equilibrium from every start, and weight noise of 0.03 survived. Measured minimum
    # margins: NOT 0.106 (every seed: the |W| <= 1 clip), XOR 0.148, others >= 0.44.
    exp, s = run(task, "deep", "default", "fast")
    good = [p["success"] and p["min_margin"] >= 0.1 and p["stable"] and p["gershgorin"]["hurwitz"]
            for p in s["per_seed"]]
    assert sum(good) >= (9 if task == "xor" else 10), s["per_seed"]
    assert s["basin_accuracy_mean"] >= 0.95
    rob = weight_noise_robustness(exp.net, exp.cfg, exp.task.X, exp.task.Y, SEEDS, [0.03], trials=5)
    assert rob["all_correct"].mean() >= 0.9


@pytest.mark.slow
def test_default_config_prunes_xor():
    s = summarise("xor", "deep", "default", "fast", prune=True)
    assert sum(p["success"] for p in s["per_seed"]) >= 8
    assert np.mean([p["sparsity"] for p in s["per_seed"]]) >= 0.40
