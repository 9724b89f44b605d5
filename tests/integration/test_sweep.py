import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from deepxbar.cli import main
from deepxbar.sweep import execute, jobs, make_spec, parse_grid

GRID = ["--grid", "write_noise=0,0.05", "--grid", "read_noise=0,0.01"]


def _results(out):
    df = pd.read_csv(out / "results.csv")
    return df.drop(columns=["wall_seconds"])


def test_two_worker_cluster_equals_serial(tmp_path, capsys):
    common = [*GRID, "--seeds", "2", "--epochs", "40", "--json"]
    assert main(["sweep", *common, "--workers", "0", "--out", str(tmp_path / "serial")]) == 0
    assert main(["sweep", *common, "--workers", "2", "--out", str(tmp_path / "dask")]) == 0
    capsys.readouterr()
    a, b = _results(tmp_path / "serial"), _results(tmp_path / "dask")
    assert len(a) == 8
    pd.testing.assert_frame_equal(a, b)  # seeded runs: exactly the same numbers
    assert (tmp_path / "dask" / "results.parquet").exists()
    assert (tmp_path / "dask" / "sweep_write_noise.png").exists()


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path, capsys):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "deepxbar.cli", "sweep", "--grid", "write_noise=0,0.02,0.05",
           "--seeds", "4", "--epochs", "150", "--workers", "1", "--out", str(out), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = out / "runs"
    deadline = time.time() + 240
    while time.time() < deadline:
        if runs.exists() and len(list(runs.glob("*.json"))) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its Dask workers, mid-run
    proc.wait()
    before = {p.name for p in runs.glob("*.json")}
    assert 2 <= len(before) < 12
    for p in runs.glob("*.json"):
        json.loads(p.read_text())  # every record on disk is whole
    assert main(["sweep", "--resume", str(out), "--workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    spec = json.loads((out / "spec.json").read_text())
    keys = {k for k, _, _ in jobs(spec)}
    files = {p.stem for p in runs.glob("*.json")}
    assert files == keys and summary["runs"] == 12 and summary["ran"] == 12 - len(before)
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 12 and not df.duplicated(["param_write_noise", "seed"]).any()


@pytest.mark.parametrize("args, fragment", [
    (["--grid", "colour=1,2"], "colour"),
    (["--grid", "write_noise="], "empty"),
    (["--grid", "write_noise=-0.1,0.1"], "write_noise"),
    (["--grid", "stuck_min=0.5", "--grid", "stuck_max=0.7"], "stuck"),
    (["--grid", "g_min=1"], "g_max"),
    (["--grid", "read_noise=abc"], "read_noise"),
    (["--grid", "levels=2.5"], "levels"),
    (["--grid", "response=linear,wobbly"], "response"),
    (["--grid", "write_noise=0,0.0"], "twice"),
    (["--grid", "time=0,86400"], "--deploy"),
    (["--grid", "write_noise=0", "--instances", "3"], "--deploy"),
    ([], "--grid"),
    (["--grid", "write_noise=0", "--data", "iris", "--task", "and"], "exclude each other"),
    (["--grid", "write_noise=0", "--label", "y"], "--data only"),
    (["--grid", "write_noise=0", "--split-seed", "3"], "--data only"),
    (["--grid", "write_noise=0", "--data", "iris", "--samples", "3"], "--deploy"),
    (["--grid", "write_noise=0", "--data", "no-such-file.csv", "--label", "y"], "no-such-file.csv"),
    (["--grid", "write_noise=0", "--data", "iris", "--test-fraction", "0.001"], "cannot split"),
])
def test_bad_grids_refused_before_anything_runs(tmp_path, args, fragment):
    out = tmp_path / "never"
    p = subprocess.run([sys.executable, "-m", "deepxbar.cli", "sweep", *args, "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], p.stderr
    assert not out.exists()


def test_sweep_file(tmp_path, capsys):
    f = tmp_path / "sweep.toml"
    f.write_text('device = "ecram"\ntask = "and"\nseeds = 1\nepochs = 20\n[grid]\nc2c_noise = [0.0, 0.3]\n')
    assert main(["sweep", "--file", str(f), "--workers", "0", "--out", str(tmp_path / "s"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["runs"] == 2
    assert make_spec("ecram", "and", 1, 20, parse_grid(["c2c_noise=0,0.3"]))["grid"] == {"c2c_noise": [0.0, 0.3]}


def test_sweep_with_the_brian2_engine(tmp_path, capsys):
    assert main(["sweep", "--grid", "read_noise=0,0.01", "--device", "ecram", "--task", "and", "--seeds", "1",
                 "--epochs", "3", "--engine", "brian2", "--workers", "0", "--out", str(tmp_path / "b"),
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["runs"] == 2
    assert set(pd.read_csv(tmp_path / "b" / "results.csv")["engine"]) == {"brian2"}


@pytest.mark.spice
def test_sweep_with_the_pyspice_engine_on_a_dask_worker(tmp_path, capsys):
    """PySpice's in-process ngspice inside a Dask worker process."""
    assert main(["sweep", "--grid", "read_noise=0,0.01", "--device", "ecram", "--task", "and", "--seeds", "1",
                 "--epochs", "2", "--engine", "pyspice", "--workers", "1", "--out", str(tmp_path / "p"),
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["runs"] == 2
    df = pd.read_csv(tmp_path / "p" / "results.csv")
    assert set(df["engine"]) == {"pyspice"} and len(df) == 2


def _tiny(out, *extra):
    return ["sweep", "--device", "ecram", "--task", "and", "--seeds", "2", "--epochs", "60", "--workers", "0",
            "--out", str(out), "--json", *extra]


def test_onchip_judgement_recorded_beside_the_software_one(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(_tiny(out, "--grid", "read_noise=0,0.01")) == 0
    summary = json.loads(capsys.readouterr().out)
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 4
    assert df["onchip_accuracy"].between(0, 1).all() and df["onchip_accuracy"].notna().all()
    assert df["onchip_success"].dtype == bool
    assert set(pd.read_parquet(out / "results.parquet").columns) == set(df.columns)
    for rec in (out / "runs").glob("*.json"):
        r = json.loads(rec.read_text())
        assert 0 <= r["onchip_accuracy"] <= 1 and isinstance(r["onchip_success"], bool)
    for row in summary["summary"]:
        sub = df[df["param_read_noise"] == row["param_read_noise"]]
        assert row["onchip_accuracy"] == pytest.approx(sub["onchip_accuracy"].mean())
        assert row["onchip_success"] == pytest.approx(sub["onchip_success"].mean())


def test_onchip_equals_software_on_the_ideal_device(tmp_path, capsys):
    out = tmp_path / "ideal"
    assert main(["sweep", "--device", "ideal", "--task", "xor", "--seeds", "3", "--epochs", "60", "--workers", "0",
                 "--grid", "write_noise=0", "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 3 and df["success"].nunique() == 2  # some seeds fail at 60 epochs: a real comparison
    assert (df["onchip_success"] == df["success"]).all()
    assert (df["onchip_accuracy"] == df["accuracy"]).all()


def test_resume_of_a_sweep_recorded_before_the_onchip_columns(tmp_path, capsys):
    out = tmp_path / "old"
    assert main(_tiny(out, "--grid", "c2c_noise=0,0.3")) == 0
    capsys.readouterr()
    records = sorted((out / "runs").glob("*.json"))
    for rec in records:  # what an older sweep wrote
        r = json.loads(rec.read_text())
        del r["onchip_accuracy"], r["onchip_success"]
        rec.write_text(json.dumps(r))
    assert main(["sweep", "--resume", str(out), "--workers", "0", "--json"]) == 0  # nothing to run
    s = json.loads(capsys.readouterr().out)
    assert s["ran"] == 0 and all(r["onchip_accuracy"] is None and r["onchip_success"] is None for r in s["summary"])
    df = pd.read_csv(out / "results.csv")
    assert df["onchip_accuracy"].isna().all() and df["onchip_success"].isna().all()
    records[0].unlink()
    assert main(["sweep", "--resume", str(out), "--workers", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ran"] == 1 and s["runs"] == 4
    df = pd.read_csv(out / "results.csv")
    assert df["onchip_accuracy"].notna().sum() == 1 and df["onchip_success"].notna().sum() == 1
    assert pd.read_parquet(out / "results.parquet")["onchip_success"].isna().sum() == 3
    assert all(r["onchip_accuracy"] is None or 0 <= r["onchip_accuracy"] <= 1 for r in s["summary"])
    assert main(["sweep", "--resume", str(out), "--workers", "0"]) == 0  # the printed table, too
    assert "onchip_success" in capsys.readouterr().out


def test_grid_over_string_and_optional_fields(tmp_path, capsys):
    g = parse_grid(["response=linear,soft-bounds", "levels=none,64", "d2d_floor=None,0.01", "depression=reset"])
    assert g == {"response": ["linear", "soft-bounds"], "levels": [None, 64], "d2d_floor": [None, 0.01],
                 "depression": ["reset"]}
    assert len(jobs(make_spec("rram", "and", 1, 5, g))) == 8
    out = tmp_path / "levels"
    assert main(["sweep", "--device", "ecram", "--task", "and", "--seeds", "1", "--epochs", "20", "--workers", "0",
                 "--grid", "levels=none,64", "--grid", "response=linear,soft-bounds", "--out", str(out),
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["runs"] == 4 and len(s["summary"]) == 4  # the levels=None points are kept
    assert {r["param_levels"] for r in s["summary"]} == {None, 64}
    assert (out / "sweep_levels.png").exists() and (out / "sweep_response.png").exists()


def test_the_local_cluster_is_closed_when_the_sweep_fails(tmp_path, monkeypatch):
    import dask.distributed

    closed = []

    class Cluster:
        def __init__(self, **options):
            pass

        def close(self):
            closed.append(True)

    def client(*args, **options):
        raise RuntimeError("the scheduler went away")

    monkeypatch.setattr(dask.distributed, "LocalCluster", Cluster)
    monkeypatch.setattr(dask.distributed, "Client", client)
    spec = make_spec("rram", "xor", 1, 1, parse_grid(["write_noise=0"]))
    with pytest.raises(RuntimeError, match="went away"):
        execute(spec, tmp_path / "sweep", workers=2, scheduler=None, progress=False)
    assert closed == [True]


# ---- data sets -----------------------------------------------------------------------------------

IRIS = ["sweep", "--data", "iris", "--device", "ecram", "--grid", "write_noise=0,0.01", "--seeds", "1"]


def test_data_sweep_on_dask_records_test_accuracies_as_train_does_and_resumes_nothing(tmp_path, capsys):
    out = tmp_path / "iris"
    assert main([*IRIS, "--epochs", "30", "--workers", "1", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ran"] == 2 and s["runs"] == 2 and s["jobs"] == 2
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns[:12]) == ["param_write_noise", "seed", "task", "device", "engine", "train_accuracy",
                                     "test_accuracy", "best_test_accuracy", "onchip_test_accuracy", "stable",
                                     "sparsity", "wall_seconds"]
    assert not {"accuracy", "success", "onchip_success", "epochs_to_zero"} & set(df.columns)  # no success
    for c in ("train_accuracy", "test_accuracy", "best_test_accuracy", "onchip_test_accuracy"):
        assert df[c].notna().all() and df[c].between(0, 1).all()
    assert set(df["task"]) == {"iris"} and (out / "sweep_write_noise.png").exists()
    spec = json.loads((out / "spec.json").read_text())
    assert spec["data"]["source"] == "iris" and spec["data"]["split_seed"] == 0
    assert (spec["data"]["train_samples"], spec["data"]["test_samples"]) == (120, 30)
    for row in s["summary"]:
        sub = df[df["param_write_noise"] == row["param_write_noise"]]
        assert row["test_accuracy"] == pytest.approx(sub["test_accuracy"].mean())
        assert row["onchip_test_accuracy"] == pytest.approx(sub["onchip_test_accuracy"].mean())
    # the run train makes with the same data, device and epochs: the same preset, the same numbers
    assert main(["train", "--data", "iris", "--device", "ecram", "--device-set", "write_noise=0", "--epochs", "30",
                 "--seeds", "1", "--quiet", "--json", "--out", str(tmp_path / "run")]) == 0
    ref = json.loads(capsys.readouterr().out)["per_seed"][0]
    row = df[df["param_write_noise"] == 0].iloc[0]
    assert 0 < ref["test_accuracy"] < 1  # a real comparison: not a constant classifier
    for c in ("train_accuracy", "test_accuracy", "best_test_accuracy", "onchip_test_accuracy"):
        assert row[c] == pytest.approx(ref[c], abs=1e-12), c
    records = {p.name: p.read_text() for p in (out / "runs").glob("*.json")}
    assert main(["sweep", "--resume", str(out), "--workers", "1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["ran"] == 0 and again["runs"] == 2
    assert {p.name: p.read_text() for p in (out / "runs").glob("*.json")} == records
    assert main(["sweep", "--resume", str(out), "--workers", "0"]) == 0  # the printed table
    printed = capsys.readouterr().out
    assert "test_accuracy" in printed and "success" in printed.splitlines()[0]  # "success does not apply"
    assert "onchip_success" not in printed


def test_data_sweep_from_a_file_refuses_a_changed_file(tmp_path, capsys):
    import hashlib

    from sklearn.datasets import load_iris

    from deepxbar.sweep import SweepError, run_one

    csv = tmp_path / "flowers.csv"
    load_iris(as_frame=True).frame.to_csv(csv, index=False)
    f = tmp_path / "sweep.toml"
    f.write_text(f'device = "ecram"\ndata = "{csv}"\nlabel = "target"\nsplit_seed = 3\nseeds = 1\nepochs = 2\n'
                 '[grid]\nc2c_noise = [0.0, 0.3]\n')
    out = tmp_path / "s"
    assert main(["sweep", "--file", str(f), "--workers", "0", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["runs"] == 2 and all(0 <= r["test_accuracy"] <= 1 for r in s["summary"])
    spec = json.loads((out / "spec.json").read_text())
    d = spec["data"]
    assert d["source"] == str(csv.resolve()) and d["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert (d["label"], d["split_seed"], d["name"]) == ("target", 3, "flowers")
    assert set(pd.read_csv(out / "results.csv")["task"]) == {"flowers"}
    keys = {p.name for p in (out / "runs").glob("*.json")}
    with csv.open("a") as fh:  # one more sample: a different data set under the same path
        fh.write("5.0,3.0,1.0,0.2,0\n")
    assert main(["sweep", "--resume", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "changed" in err[0] and str(csv.resolve()) in err[0], err
    assert {p.name for p in (out / "runs").glob("*.json")} == keys  # nothing stale ran
    with pytest.raises(SweepError, match="changed"):  # a worker given the old spec refuses, too
        run_one(spec, {"c2c_noise": 0.0}, 0)


# ---- Dask failures, named ------------------------------------------------------------------------------

SMALL = ["sweep", "--grid", "write_noise=0", "--task", "and", "--seeds", "1", "--epochs", "1"]


def _one_line(capfd) -> str:
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_an_unreachable_scheduler_is_one_line_within_the_connect_timeout(tmp_path, capfd):
    out = tmp_path / "never"
    start = time.perf_counter()
    assert main([*SMALL, "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1", "--out", str(out)]) == 1
    assert time.perf_counter() - start < 10
    line = _one_line(capfd)
    assert line.startswith("deepxbar sweep: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s")
    assert not out.exists()  # nothing written before the scheduler answered


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_connect_timeout_must_be_a_positive_number(tmp_path, capfd, value):
    assert main([*SMALL, "--connect-timeout", value, "--out", str(tmp_path / "s")]) == 2
    assert "--connect-timeout" in _one_line(capfd)


@pytest.fixture
def scheduler():
    """A Dask scheduler of this process without workers: its address."""
    import logging

    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=0, dashboard_address=None, silence_logs=logging.CRITICAL)
    yield cluster.scheduler_address
    cluster.close()


def test_a_scheduler_without_workers_is_named(scheduler, tmp_path, capfd):
    out = tmp_path / "never"
    assert main([*SMALL, "--scheduler", scheduler, "--connect-timeout", "1", "--out", str(out)]) == 1
    assert f"the Dask scheduler at {scheduler} has no worker" in _one_line(capfd)
    assert not out.exists()


# a Dask worker whose Python cannot import deepxbar (nor the project's other packages)
_WORKER_WITHOUT_DEEPXBAR = r"""
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("deepxbar", "circuits", "hw", "models"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Missing())
sys.argv = ["dask-worker", sys.argv[1], "--nthreads", "1", "--no-nanny", "--no-dashboard"]
from distributed.cli.dask_worker import main
main()
"""


def test_workers_without_deepxbar_are_named(scheduler, tmp_path, capfd):
    worker = subprocess.Popen([sys.executable, "-c", _WORKER_WITHOUT_DEEPXBAR, scheduler],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = tmp_path / "never"
        assert main([*SMALL, "--scheduler", scheduler, "--connect-timeout", "30", "--out", str(out)]) == 1
        line = _one_line(capfd)
        assert "the Dask workers cannot import deepxbar" in line and "No module named 'deepxbar'" in line
        assert line.endswith("install it on every worker")
        assert not out.exists()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_a_worker_that_always_dies_is_recorded_as_failed_and_resumed(tmp_path, capfd, monkeypatch):
    from deepxbar.sweep import TEST_WORKER_EXIT

    out = tmp_path / "s"
    monkeypatch.setenv(TEST_WORKER_EXIT, "1")  # the job of seed 1 kills its worker, every time Dask tries it
    args = ["sweep", "--grid", "write_noise=0,0.01", "--task", "and", "--seeds", "2", "--epochs", "5"]
    assert main([*args, "--workers", "2", "--out", str(out), "--json"]) == 1
    cap = capfd.readouterr()
    err = [line for line in cap.err.splitlines() if line.strip() and "sweep runs" not in line]
    assert len(err) == 1 and err[0].startswith("deepxbar sweep: error: 2 of 4 runs failed (first: KilledWorker"), err
    assert f"deepxbar sweep --resume {out}" in err[0]
    s = json.loads(cap.out)
    assert (s["runs"], s["failed"], s["ran"]) == (2, 2, 2)
    assert [(r["runs"], r["failed"]) for r in s["summary"]] == [(1, 1), (1, 1)]
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 4 and list(df.columns)[-1] == "error"
    failed = df[df["error"].notna()]
    assert set(failed["seed"]) == {1} and failed["accuracy"].isna().all()
    assert df.loc[df["error"].isna(), "accuracy"].notna().all()
    assert len(pd.read_parquet(out / "results.parquet")) == 4
    monkeypatch.delenv(TEST_WORKER_EXIT)
    assert main(["sweep", "--resume", str(out), "--workers", "0", "--json"]) == 0  # only the failed ones run
    s = json.loads(capfd.readouterr().out)
    assert (s["runs"], s["failed"], s["ran"]) == (4, 0, 2)
    df = pd.read_csv(out / "results.csv")
    assert "error" not in df.columns and df["accuracy"].notna().all()
    assert not (out / "failed").exists()


def test_a_worker_that_dies_once_is_retried(tmp_path, capfd, monkeypatch):
    from deepxbar.sweep import TEST_WORKER_EXIT

    marker = tmp_path / "died"
    monkeypatch.setenv(TEST_WORKER_EXIT, f"0:{marker}")  # seed 0's first worker dies, the retry succeeds
    out = tmp_path / "s"
    assert main([*SMALL, "--workers", "1", "--out", str(out), "--json"]) == 0
    s = json.loads(capfd.readouterr().out)
    assert marker.exists() and (s["runs"], s["failed"]) == (1, 0)
    assert pd.read_csv(out / "results.csv")["accuracy"].notna().all()


def test_a_failing_job_is_recorded_and_the_others_go_on(tmp_path, capfd, monkeypatch):
    import deepxbar.sweep as sweep

    real = sweep.experiment.run

    def run(task, cfg, seeds, **kw):
        if seeds == [1]:
            raise FloatingPointError("the phases diverged")
        return real(task, cfg, seeds, **kw)

    monkeypatch.setattr(sweep.experiment, "run", run)
    out = tmp_path / "s"
    assert main(["sweep", "--grid", "write_noise=0", "--task", "and", "--seeds", "3", "--epochs", "2", "--workers", "0",
                 "--out", str(out)]) == 1
    cap = capfd.readouterr()
    err = [line for line in cap.err.splitlines() if line.strip() and "sweep runs" not in line]
    assert len(err) == 1 and "1 of 3 runs failed (first: FloatingPointError: the phases diverged)" in err[0], err
    assert "2 runs (2 new, 1 failed)" in cap.out and "failed" in cap.out.splitlines()[0]
    df = pd.read_csv(out / "results.csv")
    assert df["error"].tolist()[1] == "FloatingPointError: the phases diverged" and df["error"].isna().sum() == 2


def test_damaged_records_run_again_on_resume(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(_tiny(out, "--grid", "read_noise=0,0.01")) == 0
    capsys.readouterr()
    records = sorted((out / "runs").glob("*.json"))
    records[0].write_text(records[0].read_text()[:20])  # truncated
    records[1].write_text('{"accuracy": "high"}')  # not a record deepxbar writes
    (out / "runs" / "foreign.json").write_text("{}")
    assert main(["sweep", "--resume", str(out), "--workers", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ran"] == 2 and s["runs"] == 4
    assert len(pd.read_csv(out / "results.csv")) == 4


@pytest.mark.parametrize("spec, fragment", [
    ("{}", "lacks 'device'"),
    ("[]", "malformed"),
    ('{"device": "rram", "task": "and", "seeds": 1, "epochs": 1, "grid": {"write_noise": ["high"]}}', "write_noise"),
    ('{"device": "rram", "task": "and", "seeds": 1e300, "epochs": 1, "grid": {"write_noise": [0]}}', "--seeds"),
    ('{"device": "rram", "task": "and", "seeds": 10000000, "epochs": 1, "grid": {"write_noise": [0]}}', "--seeds"),
    ('{"device": "rram", "task": "and", "seeds": 1000000, "epochs": 1, "grid": {"write_noise": [0, 0.1]}}',
     "2,000,000 jobs"),
    ('{"device": "rram", "task": "and", "seeds": 1, "epochs": 1e400, "grid": {"write_noise": [0]}}', "--epochs"),
    ('{"mode": "deploy", "run": 5, "device": "rram", "grid": {}}', "malformed"),
    ('{"device": "rram", "data": 3, "seeds": 1, "epochs": 1, "grid": {"write_noise": [0]}}', "malformed"),
    ("NaN", "malformed"),
])
def test_a_malformed_spec_is_one_line(tmp_path, capsys, spec, fragment):
    out = tmp_path / "s"
    out.mkdir()
    (out / "spec.json").write_text(spec)
    assert main(["sweep", "--resume", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


@pytest.mark.parametrize("args, fragment", [
    (["--resume", "DIR", "--grid", "write_noise=0"], "--grid: does not apply with --resume"),
    (["--resume", "DIR", "--seeds", "2"], "--seeds: does not apply with --resume"),
    (["--grid", "write_noise=0", "--workers", "100000"], "--workers 100000"),
    (["--grid", "write_noise=0", "--out", "/proc/deepxbar-sweep"], "cannot write"),
])
def test_options_that_cannot_apply_are_refused(tmp_path, capsys, args, fragment):
    args = [str(tmp_path / "s") if a == "DIR" else a for a in args]
    assert main(["sweep", "--workers", "0", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
