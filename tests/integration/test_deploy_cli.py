"""`deepxbar deploy`, `deepxbar stability --device` and on-chip judging of hardware training."""
import json

import pytest

from deepxbar.cli import main

KEYS = {"device", "tolerance", "times", "accuracy_mean", "accuracy_std", "p_all_correct", "p_stable",
        "pulses_mean", "program_error_rms"}
PER_TIME = ("accuracy_mean", "accuracy_std", "p_all_correct", "p_stable")


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("deploy") / "xor"
    assert main(["train", "--task", "xor", "--seeds", "2", "--quiet", "--json", "--out", str(out)]) == 0
    return out


def _deploy_json(capsys, run, *args):
    assert main(["deploy", str(run), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_keys_lengths_and_png(xor_run, capsys):
    s = _deploy_json(capsys, xor_run, "--device", "rram", "--instances", "3", "--repeats", "2",
                     "--times", "0,3600,86400")
    assert KEYS <= set(s)
    assert s["device"] == "rram" and s["tolerance"] == 0.01 and s["times"] == [0.0, 3600.0, 86400.0]
    for key in PER_TIME:
        assert len(s[key]) == 3 and all(0 <= x <= 1 for x in s[key]), key
    assert len(s["per_seed"]) == 2 and all(len(p["accuracy_mean"]) == 3 for p in s["per_seed"])
    assert s["instances"] == 3 and s["repeats"] == 2 and s["init_state"] == 0.1
    assert s["drift_compensation"] == "none" and s["line_resistance"] == 0.0
    assert isinstance(s["unconverged_devices"], int) and s["pulses_mean"] > 0 and s["program_error_rms"] > 0
    e = s["programming_energy"]  # pulses x energy per pulse, per chip
    per_chip_pulses = s["pulses_mean"] * s["devices"] / (len(s["seeds"]) * s["instances"])  # devices of all chips
    assert e["programming_j_per_chip"] == pytest.approx(per_chip_pulses * e["energy_per_pulse_j"], rel=1e-9)
    png = xor_run / "deploy-rram.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in xor_run.iterdir() if p.name.startswith(".")]  # no temporary left


def test_human_output_states_its_conditions(xor_run, capsys):
    assert main(["deploy", str(xor_run), "--device", "pcm", "--instances", "2", "--repeats", "2",
                 "--drift-compensation", "global", "--times", "0,86400"]) == 0
    out = capsys.readouterr().out
    for fragment in ("2 networks x 2 chips", "2 inferences per chip", "starts U(0, 0.1)", "tolerance 0.01",
                     "drift compensation global", "wires 0 ohm", "program-and-verify", "did not converge",
                     "0 s", "1 day", "plot:"):
        assert fragment in out, fragment


def test_ideal_at_t0_equals_the_software_evaluation(xor_run, capsys):
    from deepxbar.runs import load_run
    from deepxbar.tasks import make_task
    from models.evaluation import evaluate

    s = _deploy_json(capsys, xor_run, "--device", "ideal", "--instances", "2", "--times", "0")
    run = load_run(xor_run)
    task = make_task("xor")
    ev = evaluate(run.net, run.cfg, task.X, task.Y, run.seeds, 10, "fast")
    ok = ev.ok
    assert s["accuracy_mean"][0] == pytest.approx(ok.mean(), abs=1e-12)
    assert s["p_all_correct"][0] == pytest.approx(ok.all(-1).mean(), abs=1e-12)
    assert s["unconverged_devices"] == 0 and s["program_error_rms"] < 1e-3


def test_reproducible(xor_run, capsys):
    args = ("--device", "ecram", "--instances", "2", "--repeats", "2", "--times", "0,3600",
            "--drift-compensation", "global")
    assert _deploy_json(capsys, xor_run, *args) == _deploy_json(capsys, xor_run, *args)


def test_global_compensation_restores_pcm(xor_run, capsys):
    args = ("--device", "pcm", "--instances", "3", "--repeats", "2", "--times", "0,2592000")
    none = _deploy_json(capsys, xor_run, *args)
    glob = _deploy_json(capsys, xor_run, *args, "--drift-compensation", "global")
    assert none["conductance_ratio"][1] < 0.65 and abs(glob["conductance_ratio"][1] - 1) < 0.03
    assert glob["weight_error_rms"][1] < 0.5 * none["weight_error_rms"][1]
    assert glob["accuracy_mean"][1] > none["accuracy_mean"][1]


def test_line_resistance_changes_the_judgement(xor_run, capsys):
    args = ("--device", "ecram", "--instances", "1", "--repeats", "1", "--times", "0")
    a = _deploy_json(capsys, xor_run, *args)
    b = _deploy_json(capsys, xor_run, *args, "--line-resistance", "2000")  # ~ a device's 1/g per 40 cells
    assert b["line_resistance"] == 2000.0
    assert b["accuracy_mean"][0] < a["accuracy_mean"][0]


@pytest.mark.parametrize("args, fragment", [
    (["--device", "rram", "--tolerance", "-0.1"], "--tolerance"),
    (["--device", "rram", "--tolerance", "1"], "--tolerance"),
    (["--device", "rram", "--times", "3600,0"], "increasing"),
    (["--device", "rram", "--times=-1,0"], ">= 0"),
    (["--device", "rram", "--times", "0,0"], "increasing"),
    (["--device", "rram", "--times", "0,soon"], "--times"),
    (["--device", "memristor9000"], "--device"),
    ([], "--device"),
    (["--device", "rram", "--instances", "0"], "--instances"),
    (["--device", "rram", "--repeats", "0"], "--repeats"),
    (["--device", "rram", "--max-iterations", "0"], "--max-iterations"),
    (["--device", "rram", "--line-resistance", "-1"], "--line-resistance"),
    (["--device", "rram", "--drift-compensation", "local"], "--drift-compensation"),
    (["--device", "rram", "--device-set", "g_min=1"], "g_max"),
    (["--device", "rram", "--device-set", "colour=blue"], "--device-set"),
    (["--device", "rram", "--device-set", "d2d_range=3"], "window"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(xor_run, capsys, args, fragment):
    before = sorted(p.name for p in xor_run.iterdir())
    assert main(["deploy", str(xor_run), *args]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and lines[0].startswith("deepxbar"), cap.err
    assert cap.out == ""
    assert sorted(p.name for p in xor_run.iterdir()) == before


def test_run_folders_without_weights_refused(xor_run, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((xor_run / "config.json").read_text())
    for path, fragment in ((bare, "weights.npz"), (tmp_path / "missing", "not a folder")):
        assert main(["deploy", str(path), "--device", "rram"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0]
    assert sorted(p.name for p in bare.iterdir()) == ["config.json"]


def test_asym_ep_runs_are_deployed_too(tmp_path, capsys):
    run = tmp_path / "asym"
    assert main(["train", "--task", "and", "--model", "asym-ep", "--seeds", "2", "--epochs", "40",
                 "--quiet", "--json", "--out", str(run)]) == 0
    capsys.readouterr()
    s = _deploy_json(capsys, run, "--device", "ideal", "--instances", "2", "--repeats", "2", "--times", "0")
    assert s["model"] == "asym-ep" and len(s["accuracy_mean"]) == 1


def test_stability_under_a_device_judges_the_programmed_instances(xor_run, capsys):
    assert main(["stability", str(xor_run), "--device", "ecram", "--trials", "3", "--json"]) == 0
    mc = json.loads(capsys.readouterr().out)
    assert mc["programming"]["method"] == "program-and-verify" and mc["repeats"] == 3
    d = _deploy_json(capsys, xor_run, "--device", "ecram", "--instances", "3", "--repeats", "3", "--times", "0")
    assert mc["accuracy"]["mean"] == pytest.approx(d["accuracy_mean"][0], abs=1e-12)  # the same chips and reads
    assert main(["stability", str(xor_run), "--device", "rram", "--trials", "5", "--json"]) == 0
    mc = json.loads(capsys.readouterr().out)
    # open-loop programming (5 % write noise per device) gave about 0.5 on these nets
    assert mc["accuracy"]["mean"] > 0.8
    assert main(["stability", str(xor_run), "--device", "rram", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "program-and-verify" in out and "right after programming" in out


def test_onchip_success_beside_success(tmp_path, capsys):
    out = tmp_path / "ideal"
    assert main(["train", "--task", "and", "--device", "ideal", "--seeds", "2", "--epochs", "30",
                 "--out", str(out), "--json", "--quiet"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["onchip_success_rate"] == s["success_rate"]
    for p in s["per_seed"]:
        assert p["onchip_success"] == p["success"]
        assert p["onchip_accuracy"] == 1.0 - p["final_error"]
    out = tmp_path / "ecram"
    assert main(["train", "--task", "and", "--device", "ecram", "--seeds", "2", "--epochs", "30",
                 "--drift-time", "3600", "--line-resistance", "1", "--out", str(out), "--json", "--quiet"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert 0 <= s["onchip_success_rate"] <= 1 and all("onchip_success" in p for p in s["per_seed"])
    assert "onchip" in s["conditions"]
    assert main(["train", "--task", "and", "--seeds", "1", "--epochs", "5", "--out", str(tmp_path / "sw"),
                 "--json", "--quiet"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert "onchip_success_rate" not in s and "onchip_success" not in s["per_seed"][0]
