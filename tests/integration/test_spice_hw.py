"""export-spice and verify on a hardware run: the deck is the run's own crossbar."""
import json
import re
import shutil

import numpy as np
import pytest

from deepxbar.cli import main
from deepxbar.runs import load_chip, load_run
from hw import devices


R_WIRE = 0.5  # ohm per segment, as trained
G_OFF = 2e-8  # S, a leaking select switch


@pytest.fixture(scope="module")
def rram_run(cli, tmp_path_factory):
    """RRAM with stuck devices, wires and leaking switches, short training."""
    out = tmp_path_factory.mktemp("hw") / "rram"
    code, stdout, stderr = cli("train", "--task", "xor", "--device", "rram", "--device-set", "stuck_min=0.03",
                                   "--device-set", "stuck_max=0.03", "--line-resistance", str(R_WIRE),
                                   "--off-conductance", str(G_OFF), "--seeds", "2", "--epochs", "30",
                                   "--out", str(out), "--json", "--quiet")
    assert code == 0, stderr
    return out


def test_hardware_train_json_reports_energy_and_latency(rram_run):
    e = json.loads((rram_run / "summary.json").read_text())["energy"]
    for key in ("inference_j", "inference_latency_s", "programming_j_per_epoch", "training_j_total"):
        assert np.isfinite(e[key]) and e[key] > 0, key
    tau = 1e-12 / json.loads((rram_run / "config.json").read_text())["hardware"]["g0"]
    assert 1 * tau < e["inference_latency_s"] < 100 * tau  # a settle takes a few time constants
    # the total covers 30 epochs of programming, reads and settling
    assert e["training_j_total"] >= 30 * e["programming_j_per_epoch"]
    assert e["periphery_j_per_inference"] > 0 and "TOPS/W" in json.dumps(e["assumptions"])


def _resistors(deck: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(R[O]?\d+_\d+) \S+ \S+ (\S+)$", deck, re.M)}


def _tiled_resistors(deck: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(RO?t\d+_\d+_\d+) \S+ \S+ (\S+)$", deck, re.M)}


def _export(cli, run_dir, tmp_path, *extra) -> str:
    out = tmp_path / "deck.cir"
    code, _, stderr = cli("export-spice", str(run_dir), "-o", str(out), "--style", "crossbar", *extra)
    assert code == 0, stderr
    return out.read_text()


@pytest.mark.parametrize("time_s", [None, 86400.0])
def test_every_device_resistor_is_one_over_its_conductance(cli, rram_run, tmp_path, time_s):
    run = load_run(rram_run)
    chip = load_chip(run)
    extra = ("--seed", "1") + (() if time_s is None else ("--time", str(time_s)))
    deck = _export(cli, rram_run, tmp_path, *extra)
    k, N = 1, run.net.topology.n
    t = 0.0 if time_s is None else time_s
    Gp = devices.drift(chip.Gp, t, chip.inst_p, chip.cfg.device)[k]
    Gm = devices.drift(chip.Gm, t, chip.inst_m, chip.cfg.device)[k]
    stuck = chip.inst_p.stuck[k] != 0
    assert stuck.any() and (chip.inst_m.stuck[k] != 0).any()  # the premise: stuck devices exist
    res = _resistors(deck)
    cols = np.flatnonzero(run.net.topology.free_mask())
    devices_seen = leaks = 0
    for r in range(2 * N):
        i, minus = divmod(r, 2)
        G = Gm if minus else Gp
        for j in cols:
            if chip.open[k, i, j]:
                assert res[f"RO{r}_{j}"] == pytest.approx(1.0 / G_OFF, rel=1e-15)
                leaks += 1
            elif G[i, j] > 0:  # a device at 0 S (its floor spread reached 0) is an open resistor
                assert res[f"R{r}_{j}"] == pytest.approx(1.0 / G[i, j], rel=1e-15), (r, j)
                devices_seen += 1
            else:
                assert f"R{r}_{j}" not in res
    assert len(res) == devices_seen + leaks and leaks > 0 and devices_seen > 0
    # devices stuck at their top stand at their stuck value in the deck
    inst = chip.inst_p
    hi = np.argwhere(((inst.stuck[k] > 0) & ~chip.open[k])[:, cols])
    assert len(hi) > 0
    for i, c in hi:
        assert res[f"R{2 * i}_{cols[c]}"] == pytest.approx(1.0 / inst.g_max[k, i, cols[c]], rel=1e-15)
    # the run's wires, g0 and drift time are in the deck
    assert re.search(rf"r_row={R_WIRE:g} ohm", deck)
    assert sum(1 for line in deck.splitlines() if line.startswith("RW")) > 0
    assert f"g0={chip.cfg.unit!r}" in deck or f"g0={chip.cfg.unit:.17g}" in deck
    if time_s is not None:
        assert "read 86400 s after programming" in deck
        assert not np.allclose(Gp, chip.Gp[k])  # drift changed something


def test_line_resistance_override_and_software_runs(cli, rram_run, tmp_path):
    deck = _export(cli, rram_run, tmp_path, "--line-resistance", "0")
    assert not any(line.startswith("RW") for line in deck.splitlines())
    assert "r_row=0 ohm" in deck


def test_tiles_hold_every_device_once_with_their_own_drivers(cli, rram_run, tmp_path):
    """--tile-size 4 (2 neurons' rows by 4 columns): every device of the run's crossbar
    sits in exactly one tile, at its conductance; each tile has its own drivers."""
    run = load_run(rram_run)
    chip = load_chip(run)
    assert run.hw.tile_size == 256  # the default, recorded
    deck = _export(cli, rram_run, tmp_path, "--seed", "0", "--tile-size", "4")
    flat = {re.sub(r"^(RO?)t\d+_", r"\1", name): v for name, v in _tiled_resistors(deck).items()}
    assert len(flat) == len(_tiled_resistors(deck))  # no device twice
    untiled = _resistors(_export(cli, rram_run, tmp_path, "--seed", "0", "--tile-size", "256"))
    assert flat == untiled and len(untiled) > 0
    topo = run.net.topology
    tile_columns = -(-int(topo.free_mask().sum()) // 4)  # complete topology: every block is built
    assert sum(line.startswith("ERt") for line in deck.splitlines()) == 2 * topo.n * tile_columns
    assert "tiles of at most 4 x 4 devices" in deck and np.isfinite(chip.Gp).all()


@pytest.mark.spice
def test_verify_hardware_run_agrees_with_its_hw_model_in_tiles(rram_run, capsys):
    assert main(["verify", str(rram_run), "--engines", "numpy,spice", "--json", "--tile-size", "4"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["agree"] and v["tile_size"] == 4
    for phase in ("free", "nudged"):
        assert v["phases"][phase]["spice_crossbar"] < 1e-6


@pytest.mark.spice
def test_verify_hardware_run_agrees_with_its_hw_model(rram_run, capsys):
    assert main(["verify", str(rram_run), "--engines", "numpy,spice", "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["agree"] and v["line_resistance"] == R_WIRE
    assert "conductances of run" in v["chip"]
    for phase in ("free", "nudged"):
        assert v["phases"][phase]["spice"] < 1e-6
        assert v["phases"][phase]["spice_crossbar"] < 1e-6


@pytest.mark.parametrize("args, message", [
    (["--time", "-1"], "--time"),
    (["--time", "nan"], "--time"),
    (["--line-resistance", "-2"], "--line-resistance"),
])
def test_bad_options_one_line(cli, rram_run, tmp_path, args, message):
    code, stdout, stderr = cli("export-spice", str(rram_run), "-o", str(tmp_path / "x.cir"), *args)
    assert code == 2 and message in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) <= 2  # usage line + the error
    assert not (tmp_path / "x.cir").exists()


def test_missing_or_damaged_conductances_and_software_time(cli, rram_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(rram_run, broken)
    (broken / "conductances.npz").unlink()
    for cmd in (["export-spice", str(broken), "-o", str(tmp_path / "x.cir")], ["verify", str(broken)]):
        code, _, stderr = cli(*cmd)
        assert code == 2 and "no conductances.npz" in stderr and "Traceback" not in stderr
    (broken / "conductances.npz").write_bytes(b"not a zip")
    code, _, stderr = cli("export-spice", str(broken), "-o", str(tmp_path / "x.cir"))
    assert code == 2 and "malformed" in stderr
    code, _, stderr = cli("verify", str(rram_run), "--engines", "numpy,hspice")
    assert code == 2 and "hspice" in stderr
    assert not (tmp_path / "x.cir").exists()


def test_software_run_refuses_time(cli, tmp_path):
    out = tmp_path / "sw"
    code, _, stderr = cli("train", "--task", "and", "--seeds", "1", "--epochs", "5", "--out", str(out), "--quiet")
    assert code == 0, stderr
    code, _, stderr = cli("export-spice", str(out), "-o", str(tmp_path / "x.cir"), "--time", "10")
    assert code == 2 and "trained in software" in stderr


def _oscillator(W: np.ndarray) -> np.ndarray:
    """Paper XOR weights (no leak) whose free phase is a limit cycle from every start in
    U(0, 0.1): hidden neurons 3 and 4 form an unstable spiral (y inhibits x, x excites y,
    negative outgoing sums through neuron 5) around (0.5, 0.5), driven by the bias
    (neuron 2); the clip bounds it. Every other weight is 0."""
    W = np.zeros_like(W)
    W[:, 4, 3], W[:, 3, 4], W[:, 3, 5], W[:, 4, 5] = -1.0, 1.0, -1.2, 0.9
    W[:, 2, 3], W[:, 2, 4] = 0.4, -0.55
    return W


@pytest.mark.spice
def test_verify_states_why_and_exits_1_when_engines_disagree(cli, tmp_path):
    """A network (paper config, no leak) whose free phase has no equilibrium from any
    pattern (a limit cycle), in the Euler map and in the circuit alike: verify names
    every case, both states and the reason, and exits 1. The weights are built, not
    trained: a trained limit cycle depends on the last bits of the floating point."""
    out = tmp_path / "paper-xor"
    code, _, stderr = cli("train", "--task", "xor", "--config", "paper", "--seed", "0", "--seeds", "1",
                          "--epochs", "1", "--out", str(out), "--quiet")
    assert code == 0, stderr
    with np.load(out / "weights.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["W"] = _oscillator(arrays["W"])
    assert arrays["alive"][0][arrays["W"][0] != 0].all()  # connections of the complete topology
    np.savez(out / "weights.npz", **arrays)
    code, stdout, stderr = cli("verify", str(out), "--engines", "numpy,spice", "--json")
    assert code == 1 and "Traceback" not in stderr
    v = json.loads(stdout)
    assert not v["agree"] and v["problems"]
    for p in v["problems"]:
        assert p["seed"] == 0 and p["difference"] > 1e-6 and len(p["engine_state"]) == len(p["numpy_state"])
        assert p["reason"]
    assert "free" in {p["phase"] for p in v["problems"]}  # the nudge (on the output only) does not stop it
    assert all("limit cycle" in p["reason"] for p in v["problems"])
    code, stdout, _ = cli("verify", str(out), "--engines", "numpy,spice")
    assert code == 1 and "case(s) where an engine does not agree" in stdout and "limit cycle" in stdout


def test_the_reasons_for_two_settled_states():
    """One equilibrium with a slow mode (no leak, a nearly singular Jacobian) against
    another saturation pattern (another equilibrium)."""
    from deepxbar.spice import _both_settled
    free = np.array([False, True, True])
    A = np.zeros((3, 3))
    A[1, 2] = A[2, 1] = 0.999  # the free block's Jacobian has eigenvalues -1 +- 0.999
    d = np.ones(3)
    x, y = np.array([1.0, 0.5, 0.5]), np.array([1.0, 0.5, 0.5 + 1e-4])
    why = _both_settled(A, d, free, x, y, 1e-7, 1e-7)
    assert "slowest mode decays at rate 0.001" in why
    why = _both_settled(A, d, free, x, np.array([1.0, 0.5, 1.0]), 1e-7, 1e-7)
    assert "different equilibria" in why
