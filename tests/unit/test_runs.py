"""Run records: config.json written and read back key by key, the hardware config included."""
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from deepxbar import runs
from deepxbar.tasks import make_task
from hw.crossbar import CrossbarConfig
from hw.devices import IDEAL, RRAM
from models.topology import Topology
from models.training import TrainConfig, new_networks

SEEDS = [3, 4]
CFG = TrainConfig(n_hidden=2, epochs=1)


def write_run(out, hw=None, cfg=CFG):
    """A run folder as `deepxbar train` writes it (config.json and weights.npz), untrained."""
    task = make_task("xor")
    net = new_networks(cfg.topology(task.n_in, task.n_out), cfg, [np.random.default_rng(s) for s in SEEDS])
    config = runs.run_config("xor", False, True, "deep", "default", SEEDS, cfg, hw, "numpy")
    runs.write_atomically(out, {"config.json": runs.save_json(config), "weights.npz": runs.save_weights(net, SEEDS)})
    return out


def edit_config(out, change):
    path = out / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


HARDWARE = [
    CrossbarConfig(device=RRAM, g0=3.12e-5, line_resistance=1.5, write_verify=2, drift_time=86400.0, reads=4,
                   deadband=2.5, off_conductance=1e-9),
    CrossbarConfig(device=replace(RRAM, write_noise=0.02, levels=64), g0=2e-5),
]


@pytest.mark.parametrize("hw", HARDWARE)
def test_the_hardware_config_round_trips_through_config_json(tmp_path, hw):
    run = runs.load_run(write_run(tmp_path / "run", hw))
    assert run.hw == hw and runs.hardware_config(run) == hw
    assert run.cfg == CFG and run.seeds == SEEDS
    assert list(run.config) == list(runs.CONFIG_KEYS)
    assert list(run.config["hardware"]) == list(runs.HARDWARE_KEYS)


def test_a_crossbar_without_g0_reloads_with_the_unit_it_used(tmp_path):
    hw = CrossbarConfig(device=IDEAL)  # g0 None: the run recorded the unit conductance in use
    run = runs.load_run(write_run(tmp_path / "run", hw))
    assert run.hw == replace(hw, g0=hw.unit) and run.hw.unit == hw.unit


def test_a_software_run_has_no_hardware(tmp_path):
    assert runs.load_run(write_run(tmp_path / "run")).hw is None


def test_runs_written_before_the_keys_added_in_format_1_load_with_the_defaults(tmp_path):
    out = write_run(tmp_path / "run", HARDWARE[1])

    def old(config):
        for block, keys in runs.ADDED_IN_FORMAT_1.items():
            for key in keys:  # hidden_layers is not written for one hidden layer
                (config[block] if block else config).pop(key, None)
    edit_config(out, old)
    run = runs.load_run(out)
    default = CrossbarConfig()
    assert (run.hw.reads, run.hw.deadband, run.hw.off_conductance) == (default.reads, default.deadband, 0.0)
    # the defaults are what the record had; before tiles, a crossbar was one array
    assert run.hw == replace(HARDWARE[1], tile_size=None) and run.cfg == CFG
    assert "data" not in run.config and runs.task_of(run).name == "xor"  # a logic task, as then


def test_several_hidden_layers_round_trip_and_one_layer_writes_no_hidden_layers(tmp_path):
    cfg = replace(CFG, n_hidden=5, hidden_layers=(3, 2), architecture="layered")
    out = write_run(tmp_path / "layers", cfg=cfg)
    assert json.loads((out / "config.json").read_text())["train"]["hidden_layers"] == [3, 2]
    with np.load(out / "weights.npz") as z:
        assert z["topology"].tolist() == [3, 3, 2, 1]  # n_in, each hidden layer, n_out
    run = runs.load_run(out)
    assert run.cfg == cfg and run.cfg.hidden_layers == (3, 2)
    assert run.net.topology == Topology(3, 5, 1, "layered", (3, 2))
    one = write_run(tmp_path / "one")  # as before hidden_layers existed: the golden runs' files
    assert "hidden_layers" not in json.loads((one / "config.json").read_text())["train"]
    with np.load(one / "weights.npz") as z:
        assert z["topology"].tolist() == [3, 2, 1]
    assert runs.load_run(one).net.topology == Topology(3, 2, 1)


def test_a_malformed_hidden_layers_record_is_one_line(tmp_path):
    cfg = replace(CFG, n_hidden=5, hidden_layers=(3, 2))
    out = write_run(tmp_path / "config", cfg=cfg)
    edit_config(out, lambda c: c["train"].update(hidden_layers=[3, 3]))
    with pytest.raises(runs.RunError, match="config.json is malformed .*hidden_layers"):
        runs.load_run(out)
    out = write_run(tmp_path / "weights", cfg=cfg)
    with np.load(out / "weights.npz") as z:
        z = dict(z)
    for bad in ([3, 5], [3, 3, 0, 1]):
        np.savez(out / "weights.npz", **(z | {"topology": np.array(bad)}))
        with pytest.raises(runs.RunError, match="weights.npz"):
            runs.load_run(out)


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(colour="red"), "config.json has unknown key(s) colour"),
    (lambda c: c["train"].update(momentum=0.9), "config.json has unknown key(s) train.momentum"),
    (lambda c: c["hardware"].update(temperature=300), "config.json has unknown key(s) hardware.temperature"),
    (lambda c: c["hardware"]["device"].update(colour="red"), "unknown key(s) hardware.device.colour"),
    (lambda c: c.pop("task"), "config.json lacks key(s) task"),
    (lambda c: c.update(data={"source": "iris", "split_seed": 0, "test_fraction": 0.2}),
     "config.json lacks key(s) data.label"),
    (lambda c: c.update(data=[1]), "data is not a JSON object"),
    (lambda c: c["train"].pop("gamma"), "config.json lacks key(s) train.gamma"),
    (lambda c: c["hardware"].pop("g0"), "config.json lacks key(s) hardware.g0"),
    (lambda c: c["hardware"]["device"].pop("g_max"), "config.json lacks key(s) hardware.device.g_max"),
    (lambda c: c.update(train=[]), "config.json is malformed (train is not a JSON object)"),
    (lambda c: c.update(format_version=2), "config.json format 2, expected 1"),
])
def test_load_run_refuses_unknown_and_missing_keys_in_one_line(tmp_path, change, message):
    out = write_run(tmp_path / "run", HARDWARE[0])
    edit_config(out, change)
    with pytest.raises(runs.RunError) as e:
        runs.load_run(out)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_every_file_written_is_flushed_to_disk_before_its_rename(tmp_path, monkeypatch):
    synced, real = [], os.fsync

    def fsync(fd):
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real(fd)
    monkeypatch.setattr(runs.os, "fsync", fsync)
    runs.write_atomically(tmp_path / "run", {name: lambda p: p.write_text("x") for name in ("a.json", "b.png")})
    runs.write_file_atomically(tmp_path / "deck.cir", lambda p: p.write_text("* deck"))
    assert synced[:2] == ["a.json", "b.png"] and synced[2].startswith(".deck.cir.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deck.cir", "run"]
    assert (tmp_path / "run" / "b.png").read_text() == "x"
