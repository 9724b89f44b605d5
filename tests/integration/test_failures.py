"""Every failure is one clear line (issue 12): the examples of the issue, the top-level
guard of deepxbar/cli.py (exit codes 1 and 2, --debug), the ranges of the integer
options, unwritable paths, the singular nodal matrix of hw/wires.py and the memory
estimates of deepxbar/resources.py."""
from __future__ import annotations

import errno
import json
import time
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

from deepxbar import experiment, resources, runs
from deepxbar.cli import main
from deepxbar.configs import preset
from deepxbar.options import RuntimeFailure
from deepxbar.tasks import make_task
from hw.crossbar import CrossbarConfig
from hw.wires import SingularNodalMatrix, effective_matrices, nodal_solve_full


@pytest.fixture(scope="module")
def and_run(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "and"
    code, _, stderr = cli("train", "--task", "and", "--seeds", "1", "--epochs", "2", "--out", str(out), "--quiet")
    assert code == 0, stderr
    return out


def one_line_failure(code: int, stderr: str, expected: int, *fragments: str) -> str:
    """The failure ended with ``expected``, without a traceback, in at most two lines of
    stderr, the last naming every fragment; returns that line."""
    assert code == expected, stderr
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, stderr
    for f in fragments:
        assert f in lines[-1], (f, stderr)
    return lines[-1]


# ---- the examples of the issue -------------------------------------------------------------

def test_a_hundred_thousand_hidden_neurons_refused_at_once_with_the_estimate(tmp_path, capsys):
    out = tmp_path / "never"
    start = time.perf_counter()
    code = main(["train", "--task", "xor", "--hidden", "100000", "--out", str(out)])
    took = time.perf_counter() - start
    line = one_line_failure(code, capsys.readouterr().err, 2, "--hidden 100000", "memory", "this machine has",
                            "--force", "10 networks of 100,004 neurons")
    assert took < 1.0  # nothing allocated: the 74.5 GiB of one weight matrix would take far longer to fail
    assert "TiB" in line or "GiB" in line
    assert not out.exists()


def test_the_same_in_a_subprocess(cli, tmp_path):
    out = tmp_path / "never"
    code, stdout, stderr = cli("train", "--task", "xor", "--hidden", "100000", "--out", str(out))
    one_line_failure(code, stderr, 2, "--hidden 100000", "--force")
    assert stdout == "" and not out.exists()


def test_force_goes_on_past_the_memory_estimate(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(resources, "physical_memory", lambda: 2**20)  # a machine of 1 MiB: everything is too large
    out = tmp_path / "run"
    args = ["train", "--task", "and", "--seeds", "1", "--epochs", "1", "--quiet", "--json", "--out", str(out)]
    assert main(args) == 2
    one_line_failure(2, capsys.readouterr().err, 2, "--seeds 1", "1.0 MiB", "--force")
    assert not out.exists()
    assert main([*args, "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["seeds"] == [0] and (out / "weights.npz").exists()


def test_absurd_line_resistance_refused_before_training(cli, tmp_path):
    out = tmp_path / "never"
    code, _, stderr = cli("train", "--task", "xor", "--device", "rram", "--line-resistance", "1e30", "--epochs", "2",
                          "--out", str(out))
    one_line_failure(code, stderr, 2, "--line-resistance", "1e+06 ohm", "1e30")
    assert not out.exists()


@pytest.mark.parametrize("command", [["deploy", "{run}", "--device", "rram"], ["verify", "{run}"],
                                     ["export-spice", "{run}", "-o", "{tmp}/x.cir"]])
@pytest.mark.parametrize("value", ["1e30", "1e-320", "nan", "-1"])
def test_line_resistance_range_in_every_command(and_run, tmp_path, capsys, command, value):
    argv = [a.format(run=and_run, tmp=tmp_path) for a in command]
    code = main([*argv, "--line-resistance", value])
    one_line_failure(code, capsys.readouterr().err, 2, "--line-resistance", "ideal wires")
    assert not (tmp_path / "x.cir").exists()


def test_a_seed_beyond_2_to_the_32_refused(cli, tmp_path):
    out = tmp_path / "never"
    code, _, stderr = cli("train", "--task", "xor", "--seed", "99999999999999999999999", "--out", str(out))
    one_line_failure(code, stderr, 2, "--seed", "4,294,967,296")
    assert not out.exists()


def test_the_last_seed_must_stay_below_2_to_the_32(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["train", "--task", "xor", "--seed", str(2**32 - 1), "--seeds", "2", "--out", str(out)]) == 2
    one_line_failure(2, capsys.readouterr().err, 2, "--seed 4294967295 --seeds 2", "2**32")
    assert not out.exists()


@pytest.mark.parametrize("target, reason", [("/proc/x.cir", "cannot write"), ("{tmp}", "is a folder"),
                                            ("{run}/config.json/x.cir", "cannot write")])
def test_export_spice_to_an_unwritable_path(cli, and_run, tmp_path, target, reason):
    path = target.format(tmp=tmp_path, run=and_run)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, stdout, stderr = cli("export-spice", str(and_run), "-o", path)
    one_line_failure(code, stderr, 2, f"-o {path}", reason)
    assert stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "x.cir").exists()


def test_devices_plot_to_an_unwritable_path(tmp_path, capsys):
    assert main(["devices", "--plot", "rram", "--out", "/proc/deepxbar.png"]) == 2
    one_line_failure(2, capsys.readouterr().err, 2, "--out /proc/deepxbar.png", "cannot write")


# ---- the guard: unexpected exceptions, --debug, runtime failures ------------------------------

def _raise(exc):
    def run(args):
        raise exc
    return run


def test_an_unexpected_exception_is_one_line_exit_1_with_a_hint(monkeypatch, capsys):
    from deepxbar.commands import devices

    monkeypatch.setattr(devices, "run", _raise(ZeroDivisionError("division by zero")))
    assert main(["devices"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("deepxbar: internal error: ZeroDivisionError: division by zero "
                           "(run with --debug for the traceback)")


@pytest.mark.parametrize("argv", [["--debug", "devices"], ["devices", "--debug"]])
def test_debug_prints_the_traceback(monkeypatch, capsys, argv):
    from deepxbar.commands import devices

    monkeypatch.setattr(devices, "run", _raise(ZeroDivisionError("division by zero")))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError" in err
    assert err.strip().splitlines()[-1] == "deepxbar: internal error: ZeroDivisionError: division by zero"


def test_debug_keeps_the_exit_code_of_bad_input(capsys):
    assert main(["--debug", "train", "--task", "nand"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("deepxbar train: error: argument --task")


def test_debug_is_off_unless_asked(capsys):
    assert main(["train", "--task", "nand"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_runtime_failure_is_one_line_exit_1(monkeypatch, capsys):
    from deepxbar.commands import devices

    monkeypatch.setattr(devices, "run", _raise(RuntimeFailure("the scheduler at tcp://127.0.0.1:1 cannot be "
                                                               "reached\n(timed out after 10 s)")))
    assert main(["devices"]) == 1
    assert capsys.readouterr().err == ("deepxbar: error: the scheduler at tcp://127.0.0.1:1 cannot be reached "
                                       "(timed out after 10 s)\n")


def test_a_singular_nodal_matrix_met_at_run_time_is_one_line_exit_1(monkeypatch, capsys):
    """Defence in depth: a breakdown the option ranges let through is still named."""
    from deepxbar.commands import devices

    monkeypatch.setattr(devices, "run", lambda args: effective_matrices(*_grid(), 1e30, 1e30))
    assert main(["devices"]) == 1
    line = one_line_failure(1, capsys.readouterr().err, 1, "line resistance 1e+30 ohm", "singular")
    assert "internal error" not in line


def test_out_of_memory_names_the_size(monkeypatch, capsys):
    from deepxbar.commands import devices

    monkeypatch.setattr(devices, "run", lambda args: np.empty((10**7, 10**7)))  # 728 TiB: refused at once
    assert main(["devices"]) == 1
    one_line_failure(1, capsys.readouterr().err, 1, "out of memory", "727.6 TiB", "(10000000, 10000000)")


def test_interrupted_is_130(monkeypatch, capsys):
    from deepxbar.commands import devices

    monkeypatch.setattr(devices, "run", _raise(KeyboardInterrupt()))
    assert main(["devices"]) == 130
    assert capsys.readouterr().err == "deepxbar: interrupted; nothing half-written is left\n"


# ---- every integer option has a stated range ---------------------------------------------------

TRAIN_RANGES = [
    (["--seeds", "1000001"], "--seeds", "1,000,000"),
    (["--epochs", "1000001"], "--epochs", "1,000,000"),
    (["--batch-size", "10000001"], "--batch-size", "10,000,000"),
    (["--hidden", "1000001"], "--hidden", "1,000,000"),
    (["--hidden", "600000,600000"], "--hidden", "1,000,000"),
    (["--hidden", "9" * 5000], "--hidden", "positive integers"),
    (["--split-seed", str(2**32)], "--split-seed", "4,294,967,296"),
    (["--write-verify", "101"], "--write-verify", "100"),
    (["--write-verify", "-1"], "--write-verify", ">= 0"),
    (["--tile-size", "4098"], "--tile-size", "4,096"),
    (["--seed", "1" + "0" * 5000], "--seed", "expected an integer"),
]


@pytest.mark.parametrize("args, option, bound", TRAIN_RANGES)
def test_train_integer_options_have_ranges(tmp_path, capsys, args, option, bound):
    out = tmp_path / "never"
    assert main(["train", *args, "--out", str(out)]) == 2
    line = one_line_failure(2, capsys.readouterr().err, 2, option, bound)
    assert len(line) < 300 and not out.exists()


RUN_RANGES = [
    (["deploy", "{run}", "--device", "rram", "--instances", "100001"], "--instances", "100,000"),
    (["deploy", "{run}", "--device", "rram", "--repeats", "10001"], "--repeats", "10,000"),
    (["deploy", "{run}", "--device", "rram", "--max-iterations", "10001"], "--max-iterations", "10,000"),
    (["deploy", "{run}", "--device", "rram", "--samples", "1000001"], "--samples", "1,000,000"),
    (["deploy", "{run}", "--device", "rram", "--tile-size", "8192"], "--tile-size", "4,096"),
    (["stability", "{run}", "--repeats", "10001"], "--repeats", "10,000"),
    (["stability", "{run}", "--samples", "1000001"], "--samples", "1,000,000"),
    (["stability", "{run}", "--device", "rram", "--trials", "100001"], "--trials", "100,000"),
    (["robustness", "{run}", "--trials", "100001"], "--trials", "100,000"),
    (["export-spice", "{run}", "-o", "{tmp}/x.cir", "--sample", "1000001"], "--sample", "1,000,000"),
    (["export-spice", "{run}", "-o", "{tmp}/x.cir", "--seed", str(2**32)], "--seed", "4,294,967,296"),
    (["verify", "{run}", "--tile-size", "1000000"], "--tile-size", "4,096"),
]


@pytest.mark.parametrize("argv, option, bound", RUN_RANGES)
def test_run_commands_integer_options_have_ranges(and_run, tmp_path, capsys, argv, option, bound):
    before = sorted(p.name for p in and_run.iterdir())
    assert main([a.format(run=and_run, tmp=tmp_path) for a in argv]) == 2
    one_line_failure(2, capsys.readouterr().err, 2, option, bound)
    assert sorted(p.name for p in and_run.iterdir()) == before and not (tmp_path / "x.cir").exists()


def test_many_chips_refused_by_their_memory_estimate(and_run, capsys, monkeypatch):
    monkeypatch.setattr(resources, "physical_memory", lambda: 2**30)
    before = sorted(p.name for p in and_run.iterdir())
    assert main(["deploy", str(and_run), "--device", "rram", "--instances", "100000"]) == 2
    one_line_failure(2, capsys.readouterr().err, 2, "deploy: error: --instances 100000", "100,000 chips",
                     "1.0 GiB", "--force")
    assert main(["robustness", str(and_run), "--trials", "100000"]) == 2
    one_line_failure(2, capsys.readouterr().err, 2, "robustness: error: --trials 100000", "--force")
    assert main(["stability", str(and_run), "--device", "rram", "--trials", "100000"]) == 2
    one_line_failure(2, capsys.readouterr().err, 2, "stability: error: --trials 100000", "--force")
    assert sorted(p.name for p in and_run.iterdir()) == before


# ---- the estimate of a long run ------------------------------------------------------------------

def test_a_long_run_says_its_estimate_first_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(resources, "LONG_RUN", 0.0)  # every run is long
    out = tmp_path / "run"
    assert main(["train", "--task", "and", "--seeds", "2", "--epochs", "1", "--quiet", "--json",
                 "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["seeds"] == [0, 1]  # stdout stays one JSON object
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepxbar train: estimate: about ")
    assert "MiB of memory and roughly 0 s for 2 networks of 14 neurons, 1 epoch (rough" in lines[0]


def test_a_short_run_says_nothing(tmp_path, capsys):
    assert main(["train", "--task", "and", "--seeds", "1", "--epochs", "1", "--quiet", "--json",
                 "--out", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().err == ""


# ---- unit: the singular nodal matrix -------------------------------------------------------------

def _grid(n=6, seed=0):
    rng = np.random.default_rng(seed)
    Gp, Gm = rng.uniform(1e-6, 4e-5, (n, n)), rng.uniform(1e-6, 4e-5, (n, n))
    receiving = np.ones(n, bool)
    receiving[:2] = False
    return Gp, Gm, receiving


@pytest.mark.parametrize("r", [1e22, 1e30, 1e300])
def test_wires_too_resistive_for_the_devices_are_named(r):
    Gp, Gm, receiving = _grid()
    with pytest.raises(SingularNodalMatrix) as e:
        effective_matrices(Gp, Gm, receiving, r, r)
    msg = str(e.value)
    assert f"line resistance {r:g} ohm" in msg and "singular" in msg and "devices of ~2" in msg
    assert "\n" not in msg
    assert isinstance(e.value, RuntimeError)  # what scipy raised before: callers that caught it still do


def test_wires_whose_conductance_overflows_are_named():
    Gp, Gm, receiving = _grid()
    for solve in (lambda: effective_matrices(Gp, Gm, receiving, 1e-320, 1e-320),
                  lambda: nodal_solve_full(Gp, Gm, receiving, 1e-320, 1e-320, np.ones(6))):
        with pytest.raises(SingularNodalMatrix, match="overflows"):
            solve()


@pytest.mark.parametrize("r", [1e-300, 1e-6, 1.0, 1e5, 1e12, 1e20])
def test_solvable_wires_pass_the_check(r):
    """Far outside the command line's range and still solvable: no false alarm."""
    Gp, Gm, receiving = _grid()
    Mcol, _ = effective_matrices(Gp, Gm, receiving, r, r)
    assert np.isfinite(Mcol).all()
    assert np.abs(Mcol).max() <= (Gp + Gm).sum()  # no more than every device at the full drive


def test_nodal_reference_solve_checks_its_voltages():
    Gp, Gm, receiving = _grid()
    with pytest.raises(SingularNodalMatrix):
        nodal_solve_full(Gp, Gm, receiving, 1e30, 1e30, np.ones(6))
    out = nodal_solve_full(Gp, Gm, receiving, 2.0, 2.0, np.full(6, 0.5))
    assert all(np.abs(v).max() <= 0.5 for nodes in out["nodes"] for v in nodes)


@pytest.mark.parametrize("r", [1e6, 1e30, 1e-7, float("nan"), float("inf"), -1.0])
def test_crossbar_config_states_the_range_of_line_resistance(r):
    with pytest.raises(ValueError, match="0.1 to 10 ohm"):
        CrossbarConfig(line_resistance=r)
    CrossbarConfig(line_resistance=0.0)
    CrossbarConfig(line_resistance=999_999.0)


# ---- unit: the memory estimate --------------------------------------------------------------------

def test_memory_estimate_of_the_issue_example():
    n, K = 100_004, 10
    est = resources.train_memory(K, n, 4, 80, 700)
    assert est >= K * n * n * 8 * resources.SOFTWARE_WEIGHT_ARRAYS  # every weight-sized array counted
    assert resources.describe(n * n * 8) == "74.5 GiB"
    assert resources.train_memory(2 * K, n, 4, 80, 700) - resources.BASELINE == pytest.approx(
        2 * (est - resources.BASELINE))  # linear in the networks
    assert resources.train_memory(K, n, 4, 80, 700, hardware=True) > 4 * est  # a crossbar holds far more


def test_memory_estimate_covers_a_measured_run():
    """The constants must hold for this code: tracemalloc's peak of a real training and
    judging lies below the estimate (without the interpreter's baseline), and the
    estimate is not wildly above it."""
    pre = preset("default", "deep", False)
    task = make_task("xor", False, pre.bias_input)
    cfg = replace(pre.train, n_hidden=60, epochs=2)
    experiment.run(task, cfg, [0], progress=False)  # compile first: numba's own allocations aside
    tracemalloc.start()
    try:
        exp = experiment.run(task, cfg, [0, 1, 2, 3], progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    n = exp.net.topology.n
    est = resources.train_memory(4, n, 4, experiment.BASIN_STARTS * 4, 2) - resources.BASELINE
    assert peak <= est <= 3 * peak, (peak, est)


def test_memory_guard_refuses_above_the_machine_and_force_goes_on(monkeypatch):
    from deepxbar.options import UsageError

    monkeypatch.setattr(resources, "physical_memory", lambda: 8 * 2**30)
    resources.check_memory(8 * 2**30, "train", "--seeds 5", "5 networks", force=False)  # exactly fits
    with pytest.raises(UsageError) as e:
        resources.check_memory(9 * 2**30, "train", "--seeds 5", "5 networks", force=False)
    assert str(e.value) == ("deepxbar train: error: --seeds 5: about 9.0 GiB of memory for 5 networks (estimate); "
                            "this machine has 8.0 GiB (--force to try anyway)")
    resources.check_memory(9 * 2**30, "train", "--seeds 5", "5 networks", force=True)
    monkeypatch.setattr(resources, "physical_memory", lambda: None)  # a system that does not say
    resources.check_memory(2**60, "train", "--seeds 5", "5 networks", force=False)


def test_physical_memory_and_wire_solve():
    total = resources.physical_memory()
    assert total is None or total > 2**27
    tiled = resources.wire_solve_memory(1000, 990, 256)
    assert tiled == resources.WIRE_COPIES * 8 * (4 * 128 * 256) * 128  # the largest tile: 128 neurons x 256 columns
    assert resources.wire_solve_memory(1000, 990, None) > 200 * tiled  # one array of every device: ~(1000/128)^2 x 990/256
    assert resources.duration(30) == "30 s" and resources.duration(600) == "10 min"
    assert resources.duration(7200) == "2.0 h" and resources.duration(3 * 86400) == "3.0 days"


# ---- unit: the atomic writers ---------------------------------------------------------------------

def _full_disk(path):
    path.write_text("partial")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_is_a_runtime_failure_and_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeFailure, match=r"-o .*deck.cir: cannot write \(No space left on device\)"):
        runs.write_file_atomically(tmp_path / "deck.cir", _full_disk, option="-o")
    with pytest.raises(RuntimeFailure, match="--out"):
        runs.write_atomically(tmp_path / "run", {"config.json": _full_disk})
    assert list(tmp_path.iterdir()) == []


def test_a_path_that_cannot_be_written_is_bad_input(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(runs.RunError, match=r"^-o .*file/deck.cir: cannot write \(.*file is not a folder\)$"):
        runs.write_file_atomically(tmp_path / "file" / "deck.cir", lambda p: p.write_text("x"), option="-o")
    with pytest.raises(runs.RunError, match="cannot write"):
        runs.check_file_writable(tmp_path / "file" / "deck.cir", "-o")
    runs.check_file_writable(tmp_path / "new" / "deck.cir", "-o")  # a folder still to be made is fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
