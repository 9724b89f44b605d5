"""The command line, fuzzed: Hypothesis drives every subcommand's parser and handler
(``deepxbar.cli.main`` in this process) with generated values for every option (numbers
of every magnitude and sign, NaN and inf, empty, very long and hostile strings, paths
that do not exist or cannot be written, run folders, sweep folders, sweep files and data
files with missing, truncated or hostile content) and asserts what a user is promised:
exit code 0, 1 or 2, no traceback, at most a few lines on stderr, and nothing left
behind but complete outputs (no hidden temporary file or folder, every run folder
written loads; the input folders unchanged).

The options are read from the parsers (``deepxbar.commands.COMMANDS``), so a new option
is fuzzed as soon as it exists: by its kind (a flag, a choice, a path) or, by default,
with any text. Options that set how much work a command does (``COST``) are given either
a small valid value, an invalid one or an absurd one (>= 1e12, which a resource guard
must refuse): a long computation is not what this test looks for; a run that is not
over after ``HARD_TIMEOUT`` seconds fails it (a missing guard).

Budget: ``EXAMPLES`` invocations per subcommand within ``BUDGET`` seconds (those past it
are skipped, unless one has failed: its shrinking goes on), each at most ``HARD_TIMEOUT``
seconds (the deadline; Hypothesis's own would only measure, after the fact); the whole
test takes one to two minutes (the environment variables DEEPXBAR_FUZZ_EXAMPLES and
DEEPXBAR_FUZZ_SECONDS fuzz longer). Hypothesis's example database is off (nothing is
written into the repository). The examples are derandomized (the same invocations every
run, so the suite does not fail by chance); DEEPXBAR_FUZZ_RANDOM=1 draws new ones."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from deepxbar import runs
from deepxbar.cli import build_parser, main
from deepxbar.commands import COMMANDS
from deepxbar.hardware import DEVICE_FIELDS

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("DEEPXBAR_FUZZ_EXAMPLES", "100"))  # per subcommand
DERANDOMIZE = not os.environ.get("DEEPXBAR_FUZZ_RANDOM")  # fixed examples unless asked
BUDGET = float(os.environ.get("DEEPXBAR_FUZZ_SECONDS", "20"))  # s per subcommand: examples past it are skipped
HARD_TIMEOUT = 60  # s, the deadline of one invocation: one still running is stopped and fails the test
MAX_STDERR_LINES = 3


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


PARSERS = _subparsers()
assert len(PARSERS) == len(COMMANDS)

# ---- values -------------------------------------------------------------------------------------------

SPECIAL_NUMBERS = ["0", "-0", "-0.0", "1", "-1", "2", "1e308", "-1e308", "1e-320", "5e-324", "nan", "NaN", "-nan",
                   "inf", "-inf", "Infinity", "1e400", "-1e400", "99999999999999999999999",
                   "-99999999999999999999999", "9" * 400, "0x10", "1_000", "+1", " 1 ", "1.", ".5", "1e", "٣",
                   "1.5", "2**64", str(2**63), str(-2**63 - 1), str(2**64)]
NUMBERS = st.one_of(st.sampled_from(SPECIAL_NUMBERS), st.integers(-10, 10).map(str),
                    st.integers(-10**30, 10**30).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr))
NICE = st.sampled_from(["0", "1", "2", "3", "0.5", "0.1", "0.01", "0.001", "1e-6", "10", "100", "0.9"])
HOSTILE = ["", " ", "\x00", "none", "None", "-", "--", "=", ",", ",,", "../../../etc/passwd", "$(touch pwned)",
           "'; rm -rf /", "\n", "a\nb", "\udcff", "é" * 3000, "x" * 10000, "%s%n", "{}", "[]", "null", "true"]
STRINGS = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
ANY_TEXT = st.one_of(NICE, NICE, NICE, NUMBERS, NUMBERS, STRINGS)  # mostly plausible: one bad value goes deep

# options that set how much work is done: (smallest valid, largest valid fuzzed)
COST = {"epochs": (1, 2), "seeds": (1, 2), "trials": (1, 3), "repeats": (1, 2), "samples": (1, 4),
        "instances": (1, 2), "max_iterations": (1, 4), "write_verify": (0, 2), "workers": (0, 1)}
ABSURD = ["1000000000000", "1" + "0" * 18, str(2**63), str(2**64), "1" + "0" * 30, "9" * 400]


def _cost(low: int, high: int):
    valid = st.integers(low, high).map(str)
    return st.one_of(valid, valid, valid, st.sampled_from([str(low - 1), "-1", "-5", "0.5", "1.0", "nan", "inf", "",
                                                           "x", *ABSURD]))


def _small_list(n: int = 3):
    """Comma lists of at most ``n`` numbers (noise levels, times), or garbage."""
    return st.one_of(st.lists(NUMBERS, min_size=1, max_size=n).map(",".join), STRINGS)


GRID_KEYS = [*DEVICE_FIELDS, "tolerance", "time", "colour", ""]
GRID_WORDS = ["linear", "soft-bounds", "exponential", "reset", "gradual", "none", "wobbly"]


@st.composite
def _grid_item(draw):
    key = draw(st.sampled_from(GRID_KEYS))
    values = draw(st.lists(st.one_of(NICE, NICE, NUMBERS, st.sampled_from(GRID_WORDS)), min_size=0, max_size=2))
    item = f"{key}={','.join(values)}"
    return draw(st.one_of(st.just(item), st.just(item), st.just(item), st.just(key), STRINGS))


@st.composite
def _hidden(draw):
    sizes = draw(st.lists(st.one_of(st.integers(1, 8).map(str), st.integers(1, 8).map(str),
                                    st.sampled_from(["0", "-3", "x", "", "1.5", *ABSURD])), min_size=1, max_size=3))
    return ",".join(sizes)


ENGINES = ["numpy", "brian2", "spice", "pyspice", "hspice", ""]

# ---- the world the commands see: run folders, sweep folders, files -----------------------------------


def _train(out: Path, *args) -> Path:
    assert main(["train", *args, "--seeds", "2", "--epochs", "3", "--quiet", "--json", "--out", str(out)]) == 0
    return out


def _with(folder: Path, copy_to: Path, change) -> Path:
    shutil.copytree(folder, copy_to, symlinks=True)
    change(copy_to)
    return copy_to


def _edit_json(name: str, edit):
    def change(d: Path):
        obj = json.loads((d / name).read_text())
        edit(obj)
        (d / name).write_text(json.dumps(obj))
    return change


def _set(path: list, value):
    def edit(obj):
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return edit


def _edit_npz(name: str, **arrays):
    def change(d: Path):
        with np.load(d / name, allow_pickle=False) as z:
            content = dict(z)
        content.update(arrays)
        for k in [k for k, v in content.items() if v is None]:
            del content[k]
        with open(d / name, "wb") as fh:
            np.savez(fh, **content)
    return change


def _truncate(name: str):
    def change(d: Path):
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])
    return change


def _remove(name: str):
    return lambda d: (d / name).unlink()


def _replace(name: str, content: bytes):
    return lambda d: (d / name).write_bytes(content)


def _make_dir(name: str):
    def change(d: Path):
        (d / name).unlink()
        (d / name).mkdir()
    return change


def _loop(name: str):
    def change(d: Path):
        (d / name).unlink()
        (d / name).symlink_to(name)  # a link to itself
    return change


def _run_folders(root: Path) -> dict[str, Path]:
    hw = _train(root / "hw", "--task", "xor", "--device", "rram")
    sw = _train(root / "sw", "--task", "and")
    iris = _train(root / "iris", "--data", "iris", "--device", "ecram")
    with np.load(hw / "weights.npz") as z:
        W = z["W"]
    damaged = {
        "no-config": (hw, _remove("config.json")),
        "no-weights": (hw, _remove("weights.npz")),
        "no-conductances": (hw, _remove("conductances.npz")),
        "no-data": (iris, _remove("data.npz")),
        "half-config": (hw, _truncate("config.json")),
        "half-weights": (hw, _truncate("weights.npz")),
        "half-conductances": (hw, _truncate("conductances.npz")),
        "half-data": (iris, _truncate("data.npz")),
        "empty-config": (hw, _replace("config.json", b"")),
        "binary-config": (hw, _replace("config.json", b"\xff\xfe\x00garbage")),
        "deep-config": (hw, _replace("config.json", b"[" * 100000)),
        "array-config": (hw, _replace("config.json", b"[1, 2, 3]")),
        "config-dir": (hw, _make_dir("config.json")),
        "weights-dir": (hw, _make_dir("weights.npz")),
        "config-loop": (hw, _loop("config.json")),
        "huge-seeds": (hw, _edit_json("config.json", _set(["seeds"], [10**20, -1]))),
        "text-seeds": (hw, _edit_json("config.json", _set(["seeds"], "abc"))),
        "nan-epochs": (hw, _edit_json("config.json", _set(["train", "epochs"], float("nan")))),
        "huge-hidden": (hw, _edit_json("config.json", _set(["train", "n_hidden"], 10**9))),
        "format-2": (hw, _edit_json("config.json", _set(["format_version"], 2))),
        "unknown-task": (sw, _edit_json("config.json", _set(["task"], "../../nand"))),
        "unknown-model": (sw, _edit_json("config.json", _set(["model"], "hopfield"))),
        "wire-1e300": (hw, _edit_json("config.json", _set(["hardware", "line_resistance"], 1e300))),
        "g0-zero": (hw, _edit_json("config.json", _set(["hardware", "g0"], 0))),
        "tile-odd": (hw, _edit_json("config.json", _set(["hardware", "tile_size"], 3))),
        "tile-negative": (hw, _edit_json("config.json", _set(["hardware", "tile_size"], -4))),
        "reads-huge": (hw, _edit_json("config.json", _set(["hardware", "reads"], 10**12))),
        "drift-negative": (hw, _edit_json("config.json", _set(["hardware", "drift_time"], -1.0))),
        "window-upside-down": (hw, _edit_json("config.json", _set(["hardware", "device", "g_min"], 1.0))),
        "device-text": (hw, _edit_json("config.json", _set(["hardware", "device", "write_noise"], "lots"))),
        "hardware-list": (hw, _edit_json("config.json", _set(["hardware"], [1, 2]))),
        "data-split-text": (iris, _edit_json("config.json", _set(["data", "split_seed"], "x"))),
        "nan-weights": (hw, _edit_npz("weights.npz", W=np.full_like(W, np.nan))),
        "wrong-shape-weights": (hw, _edit_npz("weights.npz", W=W[:, :3, :3])),
        "huge-topology": (hw, _edit_npz("weights.npz", topology=np.array([3, 10**9, 1]))),
        "short-topology": (hw, _edit_npz("weights.npz", topology=np.array([3]))),
        "huge-seed-values": (hw, _edit_npz("weights.npz", seeds=np.array([2**62, -2**62]))),
        "unknown-architecture": (hw, _edit_npz("weights.npz", architecture=np.array("mesh"))),
        "no-weights-version": (hw, _edit_npz("weights.npz", format_version=None)),
        "text-weights": (hw, _edit_npz("weights.npz", W=np.array(["a"] * W.size).reshape(W.shape))),
        "negative-conductances": (hw, lambda d: _edit_npz("conductances.npz", Gp=-np.load(d / "conductances.npz")["Gp"])(d)),
        "nan-data": (iris, lambda d: _edit_npz("data.npz", X=np.load(d / "data.npz")["X"] * np.nan)(d)),
        "data-3d": (iris, _edit_npz("data.npz", X=np.zeros((2, 2, 2)))),
    }
    folders = {"hw": hw, "sw": sw, "iris": iris}
    for name, (base, change) in damaged.items():
        folders[name] = _with(base, root / name, change)
    empty = root / "empty"
    empty.mkdir()
    folders["empty"] = empty
    (root / "a-file").write_text("not a folder")
    folders["a-file"] = root / "a-file"
    return folders


def _sweep_folders(root: Path, hw_run: Path) -> dict[str, Path]:
    good = root / "sweep"
    assert main(["sweep", "--grid", "write_noise=0", "--task", "and", "--seeds", "1", "--epochs", "1", "--workers",
                 "0", "--out", str(good), "--json"]) == 0
    dep = root / "sweep-deploy"
    assert main(["sweep", "--deploy", str(hw_run), "--grid", "write_noise=0", "--instances", "1", "--repeats", "1",
                 "--workers", "0", "--out", str(dep), "--json"]) == 0

    def record(d: Path) -> Path:
        return next((d / "runs").glob("*.json"))

    def spec(key, value):
        return _edit_json("spec.json", _set([key], value))

    damaged = {
        "no-spec": (good, _remove("spec.json")),
        "half-spec": (good, _truncate("spec.json")),
        "empty-spec": (good, _replace("spec.json", b"{}")),
        "spec-seeds-huge": (good, spec("seeds", 10**12)),
        "spec-epochs-huge": (good, spec("epochs", 10**15)),
        "spec-grid-text": (good, spec("grid", {"write_noise": ["lots"]})),
        "spec-grid-nested": (good, spec("grid", {"write_noise": [[0, 1]]})),
        "spec-device": (good, spec("device", "../../rram")),
        "spec-data-missing": (good, spec("data", {"source": "/no/such/file.csv", "label": None, "split_seed": 0,
                                                  "test_fraction": 0.2, "large": False, "sha256": "0"})),
        "half-record": (good, lambda d: _truncate(record(d).name)(d / "runs")),
        "hostile-record": (good, lambda d: record(d).write_text('{"accuracy": "high", "seed": []}')),
        "spec-run-gone": (dep, _edit_json("spec.json", _set(["run", "path"], str(root / "no-such-run")))),
        "spec-run-damaged": (dep, _edit_json("spec.json", _set(["run", "path"], str(root.parent / "runs" / "nan-weights")))),
    }
    folders = {"sweep": good, "sweep-deploy": dep}
    for name, (base, change) in damaged.items():
        folders[name] = _with(base, root / name, change)
    return folders


def _files(root: Path, runs_: dict[str, Path]) -> dict[str, Path]:
    from sklearn.datasets import load_iris

    root.mkdir()
    f = {}
    iris = load_iris(as_frame=True).frame
    f["iris.csv"] = root / "iris.csv"
    iris.to_csv(f["iris.csv"], index=False)
    f["iris.npz"] = root / "iris.npz"
    np.savez(f["iris.npz"], X=iris.iloc[:, :4].to_numpy(), y=iris["target"].to_numpy())
    f["nan.csv"] = root / "nan.csv"
    iris.assign(**{"sepal length (cm)": np.nan}).to_csv(f["nan.csv"], index=False)
    f["one-class.csv"] = root / "one-class.csv"
    iris.assign(target=0).to_csv(f["one-class.csv"], index=False)
    f["half.npz"] = root / "half.npz"
    f["half.npz"].write_bytes(f["iris.npz"].read_bytes()[:500])
    f["object.npz"] = root / "object.npz"
    np.savez(f["object.npz"], X=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    f["cube.npz"] = root / "cube.npz"
    np.savez(f["cube.npz"], X=np.zeros((10, 2, 2)), y=np.arange(10) % 2)
    f["garbage.csv"] = root / "garbage.csv"
    f["garbage.csv"].write_bytes(b"\x00\xff,,\n\n\"unclosed\n" * 10)
    f["empty.csv"] = root / "empty.csv"
    f["empty.csv"].write_text("")
    tomls = {
        "sweep.toml": 'task = "and"\nseeds = 1\nepochs = 1\n[grid]\nwrite_noise = [0.0]\n',
        "deploy.toml": f'deploy = "{runs_["hw"]}"\ninstances = 1\nrepeats = 1\n[grid]\nwrite_noise = [0.0]\n',
        "data.toml": f'data = "{f["iris.csv"]}"\nlabel = "target"\nseeds = 1\nepochs = 1\n[grid]\nwrite_noise = [0]\n',
        "huge.toml": "seeds = 9223372036854775807\nepochs = 1\n[grid]\nwrite_noise = [0.0]\n",
        "inf.toml": "seeds = 1\nepochs = inf\n[grid]\nwrite_noise = [nan]\n",
        "types.toml": 'device = 5\ntask = []\nseeds = "1"\n[grid]\nwrite_noise = [[1, 2], {a = 1}]\n',
        "deploy-bad.toml": f'deploy = "{runs_["nan-weights"]}"\n[grid]\ntolerance = [2.0]\n',
        "deploy-type.toml": "deploy = 5\n[grid]\nwrite_noise = [0.0]\n",
        "unknown.toml": 'colour = "red"\n[grid]\nwrite_noise = [0.0]\n',
        "no-grid.toml": "seeds = 1\n",
        "broken.toml": "[grid\nwrite_noise = ",
        "binary.toml": None,
    }
    for name, text in tomls.items():
        f[name] = root / name
        if text is None:
            f[name].write_bytes(b"\xff\xfe\x00\x01" * 100)
        else:
            f[name].write_text(text)
    return f


class World:
    """The fixtures' folders and files, by name, and a snapshot of them (nothing may change them)."""

    def __init__(self, root: Path):
        self.root = root
        self.runs = _run_folders(root / "runs")
        self.sweeps = _sweep_folders(root / "sweeps", self.runs["hw"])
        self.files = _files(root / "files", self.runs)
        self.work = root / "work"
        self.work.mkdir()
        self.snapshot = self.state()

    def state(self) -> dict:
        """Every file and folder of the fixtures, but the report plots the commands add to a
        run folder (robustness.png, stability-DEVICE.png, deploy-DEVICE.png)."""
        out = {}
        for base in ("runs", "sweeps", "files"):
            for p in sorted((self.root / base).rglob("*")):
                if p.name == "robustness.png" or p.name.startswith(("stability-", "deploy-")):
                    continue
                if p.is_symlink() or not p.exists():
                    out[str(p)] = "link"
                else:
                    st_ = p.stat()
                    out[str(p)] = (st_.st_size, st_.st_mtime_ns) if p.is_file() else "dir"
        return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    cwd = os.getcwd()
    root = tmp_path_factory.mktemp("fuzz")
    os.chdir(root)  # the fixtures' own default outputs, if any, land here
    try:
        yield World(root)
    finally:
        os.chdir(cwd)


# ---- invocations ----------------------------------------------------------------------------------------

NOT_THERE = ["no-such-folder", "/no/such/path", "", ".", "..", "x" * 300, "run\x00dir", "/proc/self/mem",
             "\udcff", "~"]


def _path_value(action, world: World):
    """A value for a path option or argument: what its name says it reads or writes."""
    dest = action.dest
    runs_ = st.sampled_from(sorted(world.runs)).map(lambda k: str(world.runs[k]))
    sweeps = st.sampled_from(sorted(world.sweeps)).map(lambda k: f"@sweep:{k}")  # copied per example
    files = st.sampled_from(sorted(world.files)).map(lambda k: str(world.files[k]))
    missing = st.sampled_from(NOT_THERE)
    good_runs = st.sampled_from(["hw", "sw", "iris"]).map(lambda k: str(world.runs[k]))
    if dest in ("out", "output"):
        return st.one_of(
            st.sampled_from(["out", "out/nested/deeper", "ünï cödé", "out.cir", "out.png"]),
            st.sampled_from(["@existing-file", "@full-folder", "@existing-file/below", "/proc/deepxbar-fuzz.cir",
                             "/proc/deepxbar-fuzz/x", "x" * 300, "", ".", "..", "out\x00x", "\udcffout"]),
            good_runs)  # a folder that exists (a file given as an output may be overwritten: that is asked)
    if dest in ("run_dir", "deploy"):
        return st.one_of(good_runs, good_runs, runs_, runs_, missing, files)
    if dest == "resume":
        good = st.sampled_from(["sweep", "sweep-deploy"]).map(lambda k: f"@sweep:{k}")
        return st.one_of(good, sweeps, sweeps, missing, runs_)
    if dest == "file":
        return st.one_of(files.filter(lambda p: p.endswith(".toml")), files, missing, runs_)
    return st.one_of(runs_, files, missing)


def _value(action, world: World):
    dest = action.dest
    if action.type is Path or (not action.option_strings and dest == "run_dir"):
        return _path_value(action, world)
    if dest in COST:
        return _cost(*COST[dest])
    if dest == "hidden":
        return _hidden()
    if dest == "grid":
        return _grid_item()
    if dest == "device_set":
        return _grid_item().map(lambda s: s.replace("tolerance=", "colour="))
    if dest == "engines":
        return st.one_of(st.lists(st.sampled_from(ENGINES), min_size=1, max_size=3).map(",".join), STRINGS)
    if dest in ("times", "weight_noise"):
        return st.one_of(st.lists(NICE, min_size=1, max_size=3).map(",".join), _small_list())
    if dest == "data":
        # not digits: one epoch of it takes a minute (a long run is not what this test looks for)
        return st.one_of(st.sampled_from(["iris", "wine", "iris", "breast-cancer", "mnist"]),
                         st.sampled_from(["iris.csv", "iris.npz"]).map(lambda k: str(world.files[k])),
                         st.sampled_from(sorted(world.files)).map(lambda k: str(world.files[k])),
                         st.sampled_from(NOT_THERE), STRINGS)
    if dest == "label":
        return st.one_of(st.just("target"), st.just("target"), ANY_TEXT)
    if dest == "scheduler":
        return st.sampled_from(["tcp://127.0.0.1:1", "tcp://256.0.0.1:99999", "inproc://nowhere", "garbage", "",
                                "tcp://[::1]:1", "tls://127.0.0.1:1", "ucx://127.0.0.1:1"])
    if dest == "connect_timeout":
        return st.one_of(st.sampled_from(["0.2", "0.5", "1"]), st.sampled_from(["0", "-1", "nan", "inf", "", "x",
                                                                                 "1e12", "1e308"]))
    if action.choices is not None:
        choice = st.sampled_from(list(action.choices))
        return st.one_of(choice, choice, choice, STRINGS)
    return ANY_TEXT  # an option this test does not know: any text


# what every invocation gets unless the option is fuzzed (or does not apply): small, quick runs
BASE = {
    "train": [("epochs", ["--epochs", "1"], ()), ("seeds", ["--seeds", "1"], ())],
    "sweep": [("grid", ["--grid", "write_noise=0"], ("file", "resume")),
              ("seeds", ["--seeds", "1"], ("resume", "deploy")), ("epochs", ["--epochs", "1"], ("resume", "deploy")),
              ("workers", ["--workers", "0"], ()), ("connect_timeout", ["--connect-timeout", "0.5"], ()),
              ("instances", ["--instances", "1"], ("resume", "file")), ("repeats", ["--repeats", "1"], ("resume", "file"))],
    "stability": [("trials", ["--trials", "2"], ()), ("repeats", ["--repeats", "2"], ())],
    "robustness": [("trials", ["--trials", "2"], ())],
    "deploy": [("instances", ["--instances", "2"], ()), ("repeats", ["--repeats", "2"], ())],
    "verify": [("engines", ["--engines", "numpy"], ())],
}


@st.composite
def invocation(draw, name: str, world: World):
    parser = PARSERS[name]
    actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    positionals = [a for a in actions if not a.option_strings]
    optionals = [a for a in actions if a.option_strings]
    chosen = draw(st.lists(st.sampled_from(optionals), unique_by=lambda a: a.dest, max_size=4))
    chosen = [a for a in optionals if a.required and a not in chosen] + chosen
    argv = [name]
    for a in positionals:
        argv.append(draw(_value(a, world)))
    for a in chosen:
        opt = max(a.option_strings, key=len)
        if a.nargs == 0:
            argv.append(opt)
            continue
        for _ in range(draw(st.integers(1, 2)) if isinstance(a, argparse._AppendAction) else 1):
            argv.append(f"{opt}={draw(_value(a, world))}")
    fuzzed = {a.dest for a in chosen}
    is_deploy_sweep = name == "sweep" and "deploy" in fuzzed
    for dest, extra, unless in BASE.get(name, []):
        if dest in fuzzed or fuzzed & set(unless):
            continue
        if name == "sweep" and dest in ("instances", "repeats") and not is_deploy_sweep:
            continue
        argv += extra
    return argv


# ---- running one --------------------------------------------------------------------------------------


class HardTimeout(BaseException):
    """An invocation that is still running after HARD_TIMEOUT seconds (not an Exception: no
    guard of the command line may swallow it)."""


def _alarm(signum, frame):
    raise HardTimeout()


def _materialise(argv: list[str], world: World, work: Path) -> list[str]:
    """The per-example placeholders: a fresh copy of a sweep folder, an existing file, a full folder."""
    out = []
    for a in argv:
        opt, eq, value = a.partition("=") if a.startswith("--") and "=" in a else ("", "", a)
        if value.startswith("@sweep:"):
            key = value.removeprefix("@sweep:")
            copy = work / f"sweep-{key}"
            shutil.copytree(world.sweeps[key], copy, symlinks=True)
            value = str(copy)
        elif value.startswith("@existing-file"):
            (work / "existing-file").write_text("precious")
            value = str(work / "existing-file") + value.removeprefix("@existing-file")
        elif value == "@full-folder":
            (work / "full-folder").mkdir(exist_ok=True)
            (work / "full-folder" / "precious").write_text("precious")
            value = str(work / "full-folder")
        out.append(f"{opt}={value}" if eq else value)
    return out


def _problems(work: Path, world: World) -> list[str]:
    """Hidden leftovers and incomplete outputs in the example's folder (and hidden
    leftovers in the fixtures' run folders, where some commands add their plots)."""
    found = [f"left behind: {p}" for p in (world.root / "runs").rglob(".*")]
    for p in work.rglob("*"):
        if p.name.startswith("."):
            found.append(f"left behind: {p}")
        elif p.is_dir() and (p / "config.json").is_file() and not p.name.startswith("sweep-"):
            try:
                runs.load_run(p)
            except runs.RunError as e:
                found.append(f"incomplete run folder {p}: {e}")
    if (work / "full-folder").exists() and not (work / "full-folder" / "precious").exists():
        found.append("a full folder given as an output path lost its content")
    return found


def _check(name: str, argv: list[str], world: World, capfd, on_timeout=None) -> int:
    """Run ``deepxbar ARGV`` in a fresh folder and assert the promises; a run still going
    after ``HARD_TIMEOUT`` seconds is stopped and given to ``on_timeout`` (with the
    invocation), or fails at once without one."""
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=world.work))
    argv = _materialise(argv, world, work)
    cwd = os.getcwd()
    capfd.readouterr()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HARD_TIMEOUT)
    error = None
    start = time.perf_counter()
    try:
        os.chdir(work)  # default outputs (runs/..., sweeps/..., device-NAME.png) land in the example's folder
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
        except HardTimeout:
            code, error = None, f"still running after {HARD_TIMEOUT} s"
        except BaseException as e:  # noqa: BLE001 - what escaped the command line is the finding
            import traceback

            code, error = None, "".join(traceback.format_exception(e)[-6:])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
    cap = capfd.readouterr()
    seconds = time.perf_counter() - start
    err = cap.err
    lines = [seg for line in err.split("\n") for seg in [line.split("\r")[-1].strip()]
             if seg and "%|" not in seg]  # progress bars left out
    where = f"deepxbar {' '.join(repr(a) if (' ' in a or not a or not a.isprintable()) else a for a in argv)}"
    if error is not None and error.startswith("still running") and on_timeout is not None:
        shutil.rmtree(work, ignore_errors=True)
        on_timeout(f"{where}\n{error} (a size this test means to be refused at once, or a hang)")
        return None
    assert error is None, f"{where}\nescaped the command line ({seconds:.1f} s):\n{error}\nstderr: {err[-2000:]}"
    assert code in (0, 1, 2), f"{where}\nexit code {code!r}\nstderr: {err[-2000:]}"
    assert not any("internal error" in line for line in lines[-1:]), f"{where}\nexit code {code}, a bug:\n{err[-3000:]}"
    if "--debug" not in argv:  # which prints the traceback of a failure, as asked
        assert "Traceback" not in err, f"{where}\nexit code {code}, a traceback on stderr:\n{err[-3000:]}"
        assert len(lines) <= MAX_STDERR_LINES, f"{where}\nexit code {code}, {len(lines)} lines on stderr:\n{err[-3000:]}"
    problems = _problems(work, world)
    assert not problems, f"{where}\nexit code {code}: " + "; ".join(problems)
    changed = [k for k, v in world.state().items() if world.snapshot.get(k) != v]
    changed += [k for k in world.snapshot if not os.path.lexists(k)]
    assert not changed, f"{where}\nchanged its input folders: {changed[:5]}"
    shutil.rmtree(work, ignore_errors=True)
    return code


@pytest.mark.parametrize("name", list(PARSERS))
def test_every_invocation_ends_in_a_clear_state(name, world, capfd):
    """Hypothesis's invocations of ``deepxbar NAME``; one still running after
    ``HARD_TIMEOUT`` seconds ends the fuzzing of NAME and fails the test (not shrunk: each
    try would take that long again)."""
    start = time.monotonic()
    state = {"failed": False, "timed_out": []}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True, derandomize=DERANDOMIZE,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def fuzz(data):
        argv = data.draw(invocation(name, world), label="argv")
        if not state["failed"] and (state["timed_out"] or time.monotonic() - start > BUDGET):
            return  # past the budget: drawn (as Hypothesis expects), not run
        try:
            _check(name, argv, world, capfd, on_timeout=state["timed_out"].append)
        except BaseException:
            state["failed"] = True  # from now on every example runs: Hypothesis shrinks this one
            raise

    fuzz()
    assert not state["timed_out"], state["timed_out"][0]
