import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from deepxbar.cli import main
from deepxbar.sweep import jobs, make_spec, parse_grid

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
    ([], "--grid"),
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
