"""Training on a data set: minibatches, per-epoch train and test accuracy, the summary."""
import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from deepxbar import experiment
from deepxbar.configs import DEFAULT_DEEP_ONE_HOT
from deepxbar.data import load
from deepxbar.runs import load_run, task_of
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


def test_skip_connections_lift_deep_on_digits():
    # The digits preset's reason for --architecture skip, on a short run (32 hidden units,
    # 4 epochs, seed 0): layered 68 %, skip 90 % when measured (seeds 1, 2: 74 / 91 %,
    # 74 / 90 %). In the layered network the outputs' backward weights end at the
    # inhibition limit, so the hidden layer gets no class-specific signal; the skip
    # connections learn by the delta rule.
    from deepxbar.configs import data_preset
    d = load("digits")
    pre = data_preset("default", "deep", len(d.X))
    assert pre.train.architecture == "skip"
    acc = {}
    for arch in ("layered", "skip"):
        cfg = replace(pre.train, architecture=arch, epochs=4, n_hidden=32)
        acc[arch] = float(experiment.run(d, cfg, [0], progress=False, batch_size=pre.batch_size).evaluation.accuracy[0])
    assert acc["skip"] >= 0.85 and acc["skip"] >= acc["layered"] + 0.1, acc


def test_iris_on_a_crossbar_reports_the_chip_and_scales_the_settling_energy():
    d = load("iris")
    cfg = replace(DEFAULT_DEEP_ONE_HOT, n_hidden=4, epochs=2, eta=150.0)
    exp = experiment.run(d, cfg, [0], progress=False, batch_size=40, hw=CrossbarConfig(device=PRESETS["ecram"]))
    s = experiment.summary(exp, "deep", "default")
    assert exp.history["pulses"].shape == (2, 1) and 0 <= s["onchip_test_accuracy_mean"] <= 1
    assert exp.onchip.outputs.shape[2] == 30  # the test part, on the chip
    assert s["energy"]["training_j_total"] > 0


def _one_line_refusal(cli, tmp_path, *args, fragment):
    out = tmp_path / "never"
    code, stdout, stderr = cli("train", *args, "--epochs", "1", "--seeds", "1", "--out", str(out), "--quiet")
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and fragment in lines[0], stderr
    assert "Traceback" not in stderr and not out.exists()


def test_train_data_set_from_the_command_line(cli, tmp_path):
    out = tmp_path / "digits"
    code, stdout, stderr = cli("train", "--data", "digits", "--hidden", "16", "--epochs", "2", "--seeds", "2",
                               "--batch-size", "64", "--out", str(out), "--json")
    assert code == 0, stderr
    s = json.loads(stdout)
    assert s["batch_size"] == 64 and s["data"]["classes"] == list(range(10))
    assert s["data"]["train_samples"] + s["data"]["test_samples"] == 1797 and s["data"]["split_seed"] == 0
    assert len(s["per_seed"]) == 2 and 0 <= s["test_accuracy_mean"] <= 1
    assert s["test_accuracy_mean"] == pytest.approx(np.mean([p["test_accuracy"] for p in s["per_seed"]]))
    files = {p.name for p in out.iterdir()}
    assert {"data.npz", "accuracy.png", "confusion.png", "input_weights.png", "skip_weights.png", "metrics.csv"} <= files
    assert "decision_map.png" not in files
    with (out / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and {"train_accuracy", "test_accuracy"} <= set(rows[0])
    last = {int(r["seed"]): float(r["test_accuracy"]) for r in rows if r["epoch"] == "1"}
    assert last == {p["seed"]: pytest.approx(p["test_accuracy"], abs=1e-9) for p in s["per_seed"]}
    config = json.loads((out / "config.json").read_text())
    assert config["data"] == {"source": "digits", "label": None, "split_seed": 0, "test_fraction": 0.2}
    # the run folder is self-contained: a command on it reads the data back from data.npz
    run = load_run(out)
    task = task_of(run)
    assert task.X_test.shape == (s["data"]["test_samples"], 65)
    code, stdout, stderr = cli("stability", str(out))
    assert code == 0 and "local certificate" in stdout, stderr


def test_a_users_csv_and_its_refusals(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    good = tmp_path / "mine.csv"
    good.write_text("a,b,c,kind\n" + "".join(f"{r[0]},{r[1]},{r[2]},{c}\n" for r, c in zip(X, y)))
    out = tmp_path / "mine"
    code, stdout, stderr = cli("train", "--data", str(good), "--label", "kind", "--hidden", "8", "--epochs", "3",
                               "--seeds", "1", "--test-fraction", "0.25", "--split-seed", "3", "--out", str(out),
                               "--json")
    assert code == 0, stderr
    s = json.loads(stdout)
    assert s["data"]["classes"] == ["no", "yes"] and s["data"]["test_samples"] == 15
    assert s["data"]["split_seed"] == 3
    assert "input_weights.png" not in {p.name for p in out.iterdir()}  # 3 features: no image

    nan = tmp_path / "nan.csv"
    nan.write_text(good.read_text().replace("\n" + f"{X[5, 0]}", "\nnan", 1))
    _one_line_refusal(cli, tmp_path, "--data", str(nan), "--label", "kind", fragment="NaN")
    _one_line_refusal(cli, tmp_path, "--data", str(good), fragment="--label")
    _one_line_refusal(cli, tmp_path, "--data", str(good), "--label", "colour", fragment="no label column 'colour'")
    _one_line_refusal(cli, tmp_path, "--data", str(tmp_path / "absent.npz"), fragment="no such file")
    _one_line_refusal(cli, tmp_path, "--data", "iris", "--task", "xor", fragment="exclude each other")
    _one_line_refusal(cli, tmp_path, "--task", "xor", "--label", "kind", fragment="--label applies to --data")
    _one_line_refusal(cli, tmp_path, "--data", "iris", "--config", "paper", fragment="logic tasks")
    _one_line_refusal(cli, tmp_path, "--data", "iris", "--test-fraction", "1", fragment="--test-fraction")
    _one_line_refusal(cli, tmp_path, "--data", "iris", "--batch-size", "0", fragment="--batch-size")


def test_damaged_data_file_of_a_run_is_one_line(cli, tmp_path):
    out = tmp_path / "iris"
    code, _, stderr = cli("train", "--data", "iris", "--hidden", "4", "--epochs", "1", "--seeds", "1",
                          "--out", str(out), "--quiet")
    assert code == 0, stderr
    # deploy judges a data-set run on its first test samples
    code, stdout, stderr = cli("deploy", str(out), "--device", "ecram", "--instances", "2", "--repeats", "1",
                               "--samples", "5", "--times", "0,3600", "--json")
    assert code == 0, stderr
    d = json.loads(stdout)
    assert d["patterns"] == "the first 5 test samples of the data set" and len(d["accuracy_mean"]) == 2
    assert all(0 <= a <= 1 for a in d["accuracy_mean"])
    (out / "data.npz").write_bytes(b"not a zip")
    code, _, stderr = cli("stability", str(out))
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and "data.npz is malformed" in stderr
    (out / "data.npz").unlink()
    code, _, stderr = cli("stability", str(out))
    assert code == 2 and "no data.npz" in stderr
