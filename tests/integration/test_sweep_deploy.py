"""`deepxbar sweep --deploy RUN_DIR`: the deploy report of a trained run over a grid."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from deepxbar.cli import main
from deepxbar.hardware import device_config
from deepxbar.sweep import jobs

GRID = ["--grid", "tolerance=0.002,0.05", "--grid", "time=0,86400"]
SMALL = ["--instances", "3", "--repeats", "2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "and"
    assert main(["train", "--task", "and", "--seeds", "2", "--epochs", "150", "--quiet", "--out", str(out)]) == 0
    return out


def _sweep(run_dir, out, *extra, workers="0"):
    return main(["sweep", "--deploy", str(run_dir), "--device", "rram", *GRID, *SMALL, "--workers", workers,
                 "--out", str(out), "--json", *extra])


@pytest.fixture(scope="module")
def serial(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps") / "serial"
    assert _sweep(run_dir, out) == 0
    return out


def test_rows_columns_and_what_must_hold(serial, run_dir, capsys):
    df = pd.read_csv(serial / "results.csv")
    assert list(df.columns[:10]) == ["tolerance", "time", "seed", "accuracy", "p_all_correct", "p_stable",
                                     "pulses_mean", "program_error_rms", "device", "wall_seconds"]
    assert len(df) == 2 * 2 * 2 and not df.duplicated(["tolerance", "time", "seed"]).any()
    for c in ("accuracy", "p_all_correct", "p_stable"):
        assert df[c].between(0, 1).all()
    by = df[df["time"] == 0].set_index(["tolerance", "seed"])
    for seed in (0, 1):  # a looser verify tolerance: a larger programming error, fewer pulses
        assert by.loc[(0.05, seed), "program_error_rms"] > by.loc[(0.002, seed), "program_error_rms"]
        assert by.loc[(0.05, seed), "pulses_mean"] < by.loc[(0.002, seed), "pulses_mean"]
    spec = json.loads((serial / "spec.json").read_text())
    assert spec["run"]["path"] == str(run_dir.resolve())
    assert spec["run"]["config"] == json.loads((run_dir / "config.json").read_text())
    assert len(list((serial / "runs").glob("*.json"))) == 2  # one job per tolerance, all seeds and times
    assert (serial / "sweep_tolerance.png").exists() and (serial / "sweep_time.png").exists()
    # the same numbers as `deepxbar deploy` with the same settings
    assert main(["deploy", str(run_dir), "--device", "rram", "--tolerance", "0.05", "--times", "0,86400",
                 *SMALL, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    loose = df[df["tolerance"] == 0.05]
    for s in rep["per_seed"]:
        rows = loose[loose["seed"] == s["seed"]].sort_values("time")
        np.testing.assert_allclose(rows["accuracy"], s["accuracy_mean"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(rows["p_all_correct"], s["p_all_correct"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(rows["p_stable"], s["p_stable"], rtol=0, atol=1e-12)
    at0 = loose[loose["time"] == 0]  # equal cell counts per seed (no pruning): pooled = over the seeds
    assert np.sqrt((at0["program_error_rms"] ** 2).mean()) == pytest.approx(rep["program_error_rms"], rel=1e-12)
    assert at0["pulses_mean"].mean() == pytest.approx(rep["pulses_mean"], rel=1e-12)


def test_summary_has_the_means(serial, capsys):
    assert main(["sweep", "--resume", str(serial), "--workers", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ran"] == 0 and s["runs"] == 8 and s["jobs"] == 2 and s["mode"] == "deploy"
    df = pd.read_csv(serial / "results.csv")
    for row in s["summary"]:
        sub = df[(df["tolerance"] == row["tolerance"]) & (df["time"] == row["time"])]
        assert row["seeds"] == 2 and row["accuracy"] == pytest.approx(sub["accuracy"].mean())
        assert row["program_error_rms"] == pytest.approx(sub["program_error_rms"].mean())
    assert main(["sweep", "--resume", str(serial), "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    assert "1 day" in printed and "p_all_correct" in printed


def test_two_workers_equal_serial(serial, run_dir, tmp_path, capsys):
    assert _sweep(run_dir, tmp_path / "dask", workers="2") == 0
    capsys.readouterr()
    drop = lambda d: pd.read_csv(d / "results.csv").drop(columns=["wall_seconds"])
    pd.testing.assert_frame_equal(drop(serial), drop(tmp_path / "dask"))


def test_resume_reruns_only_the_deleted_job(serial, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(serial, out)
    before = pd.read_csv(out / "results.csv").drop(columns=["wall_seconds"])
    records = sorted((out / "runs").glob("*.json"))
    kept = records[1].read_text()
    records[0].unlink()
    assert main(["sweep", "--resume", str(out), "--workers", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ran"] == 1 and s["runs"] == 8
    assert {p.stem for p in (out / "runs").glob("*.json")} == {k for k, _, _ in jobs(json.loads(
        (out / "spec.json").read_text()))}
    assert records[1].read_text() == kept  # the other job was not run again
    pd.testing.assert_frame_equal(before, pd.read_csv(out / "results.csv").drop(columns=["wall_seconds"]))


def test_a_changed_run_folder_is_refused_on_resume(serial, run_dir, tmp_path, capsys):
    moved = tmp_path / "run"
    shutil.copytree(run_dir, moved)
    out = tmp_path / "s"
    shutil.copytree(serial, out)
    spec = json.loads((out / "spec.json").read_text())
    spec["run"]["path"] = str(moved)
    (out / "spec.json").write_text(json.dumps(spec))
    assert main(["sweep", "--resume", str(out), "--workers", "0", "--json"]) == 0  # moved, same run: fine
    assert json.loads(capsys.readouterr().out)["ran"] == 0
    with np.load(moved / "weights.npz") as z:
        arrays = dict(z)
    arrays["W"] = arrays["W"] * 0.5
    np.savez(moved / "weights.npz", **arrays)
    assert main(["sweep", "--resume", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "changed" in err[0]


def test_sweep_file(run_dir, tmp_path, capsys):
    f = tmp_path / "deploy.toml"
    f.write_text(f'deploy = "{run_dir}"\ndevice = "ecram"\ninstances = 2\nrepeats = 1\n'
                 '[grid]\ntime = [0, 3600]\nresponse = ["linear-step", "linear"]\n')
    assert main(["sweep", "--file", str(f), "--workers", "0", "--out", str(tmp_path / "s"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["jobs"] == 2 and s["runs"] == 2 * 2 * 2
    assert {r["param_response"] for r in s["summary"]} == {"linear-step", "linear"}
    f.write_text(f'deploy = "{run_dir}"\nseed = 3\n[grid]\ntime = [0]\n')
    assert main(["sweep", "--file", str(f), "--out", str(tmp_path / "never")]) == 2
    assert "seed" in capsys.readouterr().err and not (tmp_path / "never").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--grid", "colour=1,2"], "colour"),
    (["--grid", "time=-1,0"], "time"),
    (["--grid", "time=86400,0"], "increasing"),
    (["--grid", "time=0,0"], "twice"),
    (["--grid", "tolerance=-0.01"], "tolerance"),
    (["--grid", "tolerance=1.5"], "tolerance"),
    (["--grid", "g_min=1"], "g_max"),
    (["--grid", "d2d_range=3"], "window"),
    (["--grid", "levels=abc"], "levels"),
    (["--grid", "time=0", "--seeds", "3"], "--seeds"),
    (["--grid", "time=0", "--epochs", "3"], "--epochs"),
    (["--grid", "time=0", "--drift-compensation", "local"], "--drift-compensation"),
    (["--grid", "time=0", "--line-resistance", "-1"], "--line-resistance"),
    (["--grid", "time=0", "--samples", "3"], "data set"),
    (["--grid", "time=0", "--data", "iris"], "--data"),
    (["--grid", "time=0", "--split-seed", "2"], "--split-seed"),
    ([], "--grid"),
])
def test_bad_input_refused_before_anything_runs(run_dir, tmp_path, capsys, args, fragment):
    out = tmp_path / "never"
    assert main(["sweep", "--deploy", str(run_dir), *args, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not out.exists()


@pytest.mark.parametrize("remove, fragment", [("weights.npz", "weights.npz"), ("config.json", "config.json")])
def test_run_folder_without_weights_refused(run_dir, tmp_path, capsys, remove, fragment):
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / remove).unlink()
    out = tmp_path / "never"
    assert main(["sweep", "--deploy", str(broken), "--grid", "time=0", "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and lines[0].startswith("deepxbar sweep: error:"), lines
    assert not out.exists()


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "iris"
    assert main(["train", "--data", "iris", "--epochs", "2", "--seeds", "1", "--device", "ecram", "--quiet",
                 "--out", str(out)]) == 0
    return out


def test_a_data_set_run_is_judged_on_its_first_test_samples_as_deploy_does(iris_run, tmp_path, capsys):
    import hashlib

    from deepxbar.sweep import make_deploy_spec

    small = ["--instances", "2", "--repeats", "1", "--samples", "5"]
    out = tmp_path / "s"
    assert main(["sweep", "--deploy", str(iris_run), "--device", "ecram", "--grid", "time=0,3600", *small,
                 "--workers", "1", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["ran"] == 1 and s["runs"] == 2
    spec = json.loads((out / "spec.json").read_text())
    assert spec["samples"] == 5
    assert spec["run"]["data_sha256"] == hashlib.sha256((iris_run / "data.npz").read_bytes()).hexdigest()
    df = pd.read_csv(out / "results.csv").sort_values("time")
    assert df["accuracy"].between(0, 1).all() and df["p_stable"].between(0, 1).all()
    assert main(["deploy", str(iris_run), "--device", "ecram", "--times", "0,3600", *small, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["patterns"] == "the first 5 test samples of the data set"
    ref = rep["per_seed"][0]
    np.testing.assert_allclose(df["accuracy"], ref["accuracy_mean"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(df["p_all_correct"], ref["p_all_correct"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(df["p_stable"], ref["p_stable"], rtol=0, atol=1e-12)
    assert make_deploy_spec(iris_run, "ecram", {"time": [0.0]})["samples"] == 30  # default 32: iris tests 30
    assert main(["sweep", "--resume", str(out), "--workers", "0"]) == 0
    assert "on the first 5 test samples" in capsys.readouterr().out
    moved = tmp_path / "run"  # a changed data.npz is refused on --resume
    shutil.copytree(iris_run, moved)
    spec["run"]["path"] = str(moved)
    (out / "spec.json").write_text(json.dumps(spec))
    with np.load(moved / "data.npz") as z:
        arrays = dict(z)
    arrays["X_test"] = arrays["X_test"][::-1].copy()
    np.savez(moved / "data.npz", **arrays)
    assert main(["sweep", "--resume", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "changed" in err[0], err


def test_device_set_parses_by_the_field_type():
    d = device_config("rram", ["response=linear", "depression=reset", "d2d_floor=none", "levels=none"])
    assert (d.response, d.depression, d.d2d_floor, d.levels) == ("linear", "reset", None, None)
    d = device_config("rram", ["d2d_floor=0.02", "levels=16", "write_noise=0.01"])
    assert (d.d2d_floor, d.levels, d.write_noise) == (0.02, 16, 0.01) and isinstance(d.levels, int)
    for bad, fragment in (("levels=2.5", "integer"), ("levels=abc", "integer"), ("d2d_floor=x", "number"),
                          ("response=wobbly", "response"), ("depression=none", "depression"),
                          ("write_noise=inf", "finite"), ("write_noise=none", "write_noise"),
                          ("response=", "response"), ("colour=1", "FIELD")):
        with pytest.raises(ValueError, match=fragment) as e:
            device_config("rram", [bad])
        assert "\n" not in str(e.value)
