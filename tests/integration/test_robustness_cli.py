"""`deepxbar robustness`: JSON keys, the plot, and bad input refused with one line."""
import json

import pytest

from deepxbar.cli import main


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "xor"
    assert main(["train", "--task", "xor", "--seeds", "2", "--quiet", "--out", str(out)]) == 0
    return out


def test_robustness_json_and_plot(xor_run, capsys):
    assert main(["robustness", str(xor_run), "--weight-noise", "0,0.01,1.0", "--trials", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["weight_noise"] == [0.0, 0.01, 1.0]
    assert len(out["p_all_correct"]) == len(out["accuracy_mean"]) == 3
    # the default networks: right on every pattern with no noise and at 0.01, every
    # start over the box right; noise of 1 (several times the weights) breaks them
    assert out["p_all_correct"][0] == 1.0 and out["p_all_correct"][1] == 1.0
    assert out["basin_accuracy"] == 1.0
    assert out["p_all_correct"][2] < 0.5 and out["accuracy_mean"][2] < 0.9
    assert (xor_run / "robustness.png").stat().st_size > 1000


@pytest.mark.parametrize("extra, words", [
    (["--weight-noise", "0.01,-0.1"], "finite number >= 0"),
    (["--weight-noise", "a,b"], "expected numbers"),
    (["--weight-noise", "nan"], "finite number >= 0"),
    (["--trials", "0"], "--trials"),
])
def test_bad_options_one_line_exit_2(xor_run, capsys, extra, words):
    assert main(["robustness", str(xor_run), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


def test_folder_without_weights(tmp_path, capsys, xor_run):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((xor_run / "config.json").read_text())
    assert main(["robustness", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no weights.npz" in err and "\n" not in err
    assert not (bad / "robustness.png").exists()
