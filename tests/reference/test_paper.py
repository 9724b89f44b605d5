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

SEEDS = list(range(10))


def summarise(task_name, model, config, solver, one_hot=False, prune=False):
    pre = preset(config, model, one_hot)
    cfg = pre.pruned() if prune else pre.train
    cfg = replace(cfg, solver=solver)
    task = make_task(task_name, one_hot, pre.bias_input)
    exp = experiment.run(task, cfg, SEEDS, progress=False)
    return experiment.summary(exp, model, config)


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
    deep = summarise("xor", "deep", "paper", "reference")
    assert deep["success_rate"] <= 0.4
    assert not any(p["gershgorin"]["hurwitz"] for p in deep["per_seed"])
    asym = summarise("xor", "asym-ep", "paper", "reference")
    assert max(abs(p["min_margin"]) for p in asym["per_seed"]) < 0.02


@pytest.mark.slow
@pytest.mark.parametrize("task", ["xor", "and", "or", "not", "identity"])
def test_default_config_learns_every_gate_with_margin_and_certificate(task):
    s = summarise(task, "deep", "default", "fast")
    good = [p["success"] and p["min_margin"] >= 0.2 and p["stable"] for p in s["per_seed"]]
    assert sum(good) >= (9 if task == "xor" else 10), s["per_seed"]


@pytest.mark.slow
def test_default_config_prunes_xor():
    s = summarise("xor", "deep", "default", "fast", prune=True)
    assert sum(p["success"] for p in s["per_seed"]) >= 8
    assert np.mean([p["sparsity"] for p in s["per_seed"]]) >= 0.40
