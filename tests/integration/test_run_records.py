"""A doctored run folder through the real command line: one line on stderr, exit 2."""
import json

import pytest

from deepxbar import runs
from deepxbar.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "xor"
    assert main(["train", "--task", "xor", "--seeds", "1", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(colour="red"), "config.json has unknown key(s) colour"),
    (lambda c: c.pop("seeds"), "config.json lacks key(s) seeds"),
    (lambda c: c["train"].update(momentum=0.9), "config.json has unknown key(s) train.momentum"),
    (lambda c: c["train"].pop("beta"), "config.json lacks key(s) train.beta"),
])
def test_stability_refuses_a_config_with_an_unknown_or_missing_key(run_dir, tmp_path, cli, change, message):
    doctored = tmp_path / "run"
    doctored.mkdir()
    for f in run_dir.iterdir():
        (doctored / f.name).write_bytes(f.read_bytes())
    config = json.loads((doctored / "config.json").read_text())
    change(config)
    (doctored / "config.json").write_text(json.dumps(config))
    code, out, err = cli("stability", str(doctored))
    assert code == 2 and out == ""
    assert err.splitlines() == [f"deepxbar: error: RUN_DIR {doctored}: {message} (format {runs.FORMAT_VERSION})"]


def test_the_run_as_trained_loads(run_dir):
    run = runs.load_run(run_dir)
    assert run.hw is None and list(run.config) == list(runs.CONFIG_KEYS)


def test_a_hardware_run_reloads_the_crossbar_it_was_trained_on(tmp_path):
    out = tmp_path / "rram"
    assert main(["train", "--task", "and", "--device", "rram", "--line-resistance", "2", "--write-verify", "1",
                 "--drift-time", "10", "--seeds", "1", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    run = runs.load_run(out)
    assert runs.hardware_dict(run.hw) == run.config["hardware"]
    assert (run.hw.device.name, run.hw.line_resistance, run.hw.write_verify, run.hw.drift_time) == ("rram", 2.0, 1, 10.0)
