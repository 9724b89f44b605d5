"""Issue target: every phase of default-config XOR, AND and OR runs (seeds 0..9, every
sample) settles in ngspice within 1e-6 of numpy (benchmarks/verify.py prints the table)."""
import pytest

from deepxbar.cli import main
from deepxbar.runs import load_run
from deepxbar.spice import AGREE, verify


@pytest.mark.slow
@pytest.mark.spice
@pytest.mark.parametrize("task", ["xor", "and", "or"])
def test_default_runs_settle_in_spice_where_numpy_does(task, tmp_path, capsys):
    out = tmp_path / task
    assert main(["train", "--task", task, "--seeds", "10", "--out", str(out), "--quiet", "--json"]) == 0
    capsys.readouterr()
    v = verify(load_run(out), ["numpy", "spice"])
    assert v["problems"] == [] and v["agree"]
    for phase in ("free", "nudged"):
        row = v["phases"][phase]
        assert row["numpy_converged"]
        assert row["spice"] < AGREE and row["spice_crossbar"] < AGREE  # measured: <= 2e-8
