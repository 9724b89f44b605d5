"""Run folders: written whole or not at all, read back with validation. No pickle.

A run folder holds ``config.json`` (what was run: ``run_config``), ``weights.npz`` (the
trained networks, ``allow_pickle=False``), ``metrics.csv`` (per epoch and seed),
``summary.json`` and PNG plots; a hardware run also ``conductances.npz``, a data-set
run also ``data.npz`` (its split, scaled data: the run folder needs nothing else). Every file
deepxbar writes goes through ``write_file_atomically`` (one file) or
``write_atomically`` (a run folder): a temporary sibling, fsynced, then renamed.
"""
from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np

from hw.crossbar import CrossbarConfig
from hw.devices import DeviceConfig
from models.topology import Topology
from models.training import Network, TrainConfig

from . import __version__
from .options import RuntimeFailure

FORMAT_VERSION = 1
CONFIG_KEYS = ("format_version", "deepxbar_version", "task", "one_hot", "bias_input", "model", "config",
               "seeds", "train", "hardware", "engine", "batch_size", "data")
HARDWARE_KEYS = ("device", "g0", "line_resistance", "write_verify", "drift_time", "reads", "deadband",
                 "off_conductance", "tile_size")
# Keys config.json gained while at format 1. A run folder without them was written before
# them and loads with the defaults: what it was trained with (hardware), or settings that
# act on training only (train), not on the commands that judge a loaded run. The train
# block's hidden_layers is written only for several hidden layers (``train_dict``): absent,
# it means one hidden layer of n_hidden, as before it existed.
ADDED_IN_FORMAT_1 = {"": ("batch_size", "data"), "hardware": ("reads", "deadband", "off_conductance", "tile_size"),
                     "train": ("eta_final", "paper_horizon", "newton_at", "hidden_layers", "max_dt")}
DATA_KEYS = ("source", "label", "split_seed", "test_fraction")


class RunError(ValueError):
    """A run folder that cannot be written or read; the message is one line for the user."""


# OSErrors while writing that are not the path's fault: the machine's (exit code 1, not 2)
_RUNTIME_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}


def write_error(what: str, e: OSError) -> Exception:
    """One line for an OSError writing ``what`` ("--out runs/x", "-o net.cir"): a path
    that cannot be written (missing or read-only folder, a file where a folder is needed,
    no permission) is bad input (RunError, exit code 2); a full disk or an I/O error is a
    failure at run time (RuntimeFailure, exit code 1)."""
    reason = e.strerror or type(e).__name__
    if e.errno in _RUNTIME_ERRNOS:
        return RuntimeFailure(f"{what}: cannot write ({reason}); nothing was written")
    return RunError(f"{what}: cannot write ({reason})")


def plain_path(out, option: str) -> None:
    """Refuse a path no file system takes: a NUL byte, or a name longer than 255 bytes."""
    text = os.fspath(out)
    if "\0" in text:
        raise RunError(f"{option}: a path cannot contain a NUL byte")
    if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in Path(text).parts):
        raise RunError(f"{option} {text[:60]}...: a file name longer than 255 bytes")


def check_writable(out: Path, option: str = "--out") -> None:
    """Refuse an --out that exists with content, or whose parent cannot take a folder."""
    plain_path(out, option)
    try:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise RunError(f"{option} {out}: already exists and is not an empty folder (nothing is overwritten)")
        probe = _existing_parent(out)
        # the only reliable test (root, read-only mounts, /proc): make a folder there
        os.rmdir(tempfile.mkdtemp(prefix=".deepxbar-probe.", dir=probe))
    except OSError as e:
        raise RunError(f"{option} {out}: cannot write in {_existing_parent(out)} ({e.strerror})") from None


def check_file_writable(out: Path, option: str) -> None:
    """Refuse, before any work, a file path ``out`` (given as ``option``) that cannot be
    written: a folder, or a place where no file can be made. RunError (exit code 2)."""
    plain_path(out, option)
    out = Path(out)
    if out.is_dir():
        raise RunError(f"{option} {out}: is a folder, not a file")
    probe = _existing_parent(out)
    if not probe.is_dir():
        raise RunError(f"{option} {out}: cannot write ({probe} is not a folder)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".deepxbar-probe.", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise write_error(f"{option} {out}", e) from None


def _existing_parent(out: Path) -> Path:
    """The nearest folder above ``out`` that exists (what a write would have to create in)."""
    probe = Path(os.path.abspath(out)).parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def write_atomically(out: Path, writers: dict[str, Callable[[Path], None]], option: str = "--out") -> None:
    """A run folder, whole or not at all: every file written into a hidden sibling folder
    (each flushed to disk), which is then renamed to ``out``. An OSError is one line
    (``write_error``) and leaves nothing behind."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as e:
        raise write_error(f"{option} {out}", e) from None
    try:
        for name, write in writers.items():
            write(tmp / name)
            _fsync(tmp / name)
        if out.exists():
            out.rmdir()  # only an empty folder gets here (check_writable)
        os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(f"{option} {out}", e) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_json(obj: dict) -> Callable[[Path], None]:
    return lambda p: p.write_text(json.dumps(obj, indent=2) + "\n")


def save_weights(net: Network, seeds: list[int]) -> Callable[[Path], None]:
    topo = net.topology
    arrays = {
        "format_version": np.array(FORMAT_VERSION),
        "W": net.W, "b": net.b, "alive": net.alive, "seeds": np.array(seeds, dtype=np.int64),
        # [n_in, hidden layer sizes..., n_out]: one hidden layer (or none) is [n_in, n_hidden, n_out]
        "topology": np.array([topo.n_in, *(topo.hidden_layers or (topo.n_hidden,)), topo.n_out]),
        "architecture": np.array(topo.architecture),
    }
    return lambda p: np.savez(p, **arrays)


def save_metrics(history: dict[str, np.ndarray], seeds: list[int]) -> Callable[[Path], None]:
    keys = list(history)

    def write(p: Path) -> None:
        with p.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["epoch", "seed", *keys])
            epochs = history[keys[0]].shape[0]
            for e in range(epochs):
                for k, seed in enumerate(seeds):
                    w.writerow([e, seed, *(f"{history[key][e, k]:.10g}" for key in keys)])
    return write


def run_config(task: str, one_hot: bool, bias_input: bool, model: str, config: str, seeds: list[int],
               cfg: TrainConfig, hw: CrossbarConfig | None, engine: str, batch_size: int | None = None,
               data: dict | None = None) -> dict:
    """What ``config.json`` records (keys ``CONFIG_KEYS``): the task (a logic task's or a
    data set's name), the model and its preset, the seeds, the training config, the
    crossbar config (None in software), the engine, the minibatch size (None: full
    batch) and, for a data set, where it came from (keys ``DATA_KEYS``; None for logic
    tasks); ``load_run`` reads every key back."""
    return {"format_version": FORMAT_VERSION, "deepxbar_version": __version__, "task": task, "one_hot": one_hot,
            "bias_input": bias_input, "model": model, "config": config, "seeds": seeds, "train": train_dict(cfg),
            "hardware": hardware_dict(hw), "engine": engine, "batch_size": batch_size, "data": data}


def train_dict(cfg: TrainConfig) -> dict:
    """The training config as config.json's train block: every field, but hidden_layers
    only for several hidden layers (a list; absent means one layer of n_hidden)."""
    d = cfg.to_dict()
    if d["hidden_layers"] is None:
        del d["hidden_layers"]
    else:
        d["hidden_layers"] = list(d["hidden_layers"])
    return d


def save_data(d) -> Callable[[Path], None]:
    """A data set as the run used it (``deepxbar.data.Dataset``): the split, scaled inputs
    and one-hot targets, the class labels as text."""
    arrays = {"format_version": np.array(FORMAT_VERSION), "X": d.X, "Y": d.Y, "X_test": d.X_test,
              "Y_test": d.Y_test, "classes": np.array([str(c) for c in d.classes]),
              "n_data_inputs": np.array(d.n_data_inputs)}
    return lambda p: np.savez(p, **arrays)


@dataclass
class LoadedRun:
    path: Path
    config: dict
    cfg: TrainConfig
    net: Network
    seeds: list[int]
    hw: CrossbarConfig | None  # the crossbar config the run was trained with (None: software)


def read_npz(folder: Path, name: str, read: Callable, missing_hint: str = ""):
    """``read(z)`` of the ``.npz`` file ``folder/name`` (no pickle) after checking its
    format version; RunError with one line for a missing, damaged or foreign file."""
    try:
        with np.load(folder / name, allow_pickle=False) as z:
            version = int(z["format_version"])
            if version != FORMAT_VERSION:
                raise RunError(f"RUN_DIR {folder}: {name} format {version}, expected {FORMAT_VERSION}")
            return read(z)
    except FileNotFoundError:
        hint = f" ({missing_hint})" if missing_hint else ""
        raise RunError(f"RUN_DIR {folder}: no {name}{hint}") from None
    except RunError:
        raise
    except Exception as e:  # zip, key, shape or dtype problems of a damaged file
        raise RunError(f"RUN_DIR {folder}: {name} is malformed ({type(e).__name__}: {e})") from None


def _check_keys(path: Path, block, where: str, expected, may_lack=()) -> None:
    """RunError (one line) unless the object ``block`` of config.json has exactly the
    keys ``expected``, but for those of ``may_lack``."""
    if not isinstance(block, dict):
        raise RunError(f"RUN_DIR {path}: config.json is malformed ({where or 'it'} is not a JSON object)")
    unknown = [k for k in block if k not in expected]
    missing = [k for k in expected if k not in block and k not in may_lack]
    for keys, what in ((unknown, "has unknown"), (missing, "lacks")):
        if keys:
            names = ", ".join(f"{where}.{k}" if where else k for k in keys)
            raise RunError(f"RUN_DIR {path}: config.json {what} key(s) {names} (format {FORMAT_VERSION})")


def _read_config(path: Path) -> tuple[dict, TrainConfig, CrossbarConfig | None]:
    """config.json, checked key by key: the dict, the training and the crossbar config."""
    try:
        config = json.loads((path / "config.json").read_text())
    except FileNotFoundError:
        raise RunError(f"RUN_DIR {path}: no config.json (not a deepxbar run folder)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise RunError(f"RUN_DIR {path}: config.json is malformed ({type(e).__name__})") from None
    except OSError as e:  # a folder, a symlink loop, unreadable
        raise RunError(f"RUN_DIR {path}: cannot read config.json ({e.strerror or e})") from None
    _check_keys(path, config, "", CONFIG_KEYS, ADDED_IN_FORMAT_1[""])
    if config.get("data") is not None:
        _check_keys(path, config["data"], "data", DATA_KEYS)
    if config["format_version"] != FORMAT_VERSION:
        raise RunError(f"RUN_DIR {path}: config.json format {config['format_version']!r}, expected {FORMAT_VERSION}")
    _check_keys(path, config["train"], "train", [f.name for f in fields(TrainConfig)], ADDED_IN_FORMAT_1["train"])
    try:
        cfg = TrainConfig(**config["train"])
    except (TypeError, ValueError) as e:
        raise RunError(f"RUN_DIR {path}: config.json is malformed ({e})") from None
    return config, cfg, _crossbar_config(path, config["hardware"])


def _crossbar_config(path: Path, hw: dict | None) -> CrossbarConfig | None:
    """The ``CrossbarConfig`` of ``hardware_dict``'s record (None for software runs)."""
    if hw is None:
        return None
    _check_keys(path, hw, "hardware", HARDWARE_KEYS, ADDED_IN_FORMAT_1["hardware"])
    _check_keys(path, hw["device"], "hardware.device", [f.name for f in fields(DeviceConfig)])
    default = CrossbarConfig()
    try:
        return CrossbarConfig(device=DeviceConfig(**hw["device"]), g0=float(hw["g0"]),
                              line_resistance=float(hw["line_resistance"]), write_verify=int(hw["write_verify"]),
                              drift_time=None if hw["drift_time"] is None else float(hw["drift_time"]),
                              reads=int(hw.get("reads", default.reads)),
                              deadband=float(hw.get("deadband", default.deadband)),
                              off_conductance=float(hw.get("off_conductance", default.off_conductance)),
                              # runs before tiles were trained on one array of any size
                              tile_size=_tile_size(hw.get("tile_size")))
    except (TypeError, ValueError) as e:
        raise RunError(f"RUN_DIR {path}: config.json has a malformed hardware block ({e})") from None


def _tile_size(v) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"tile_size {v!r} is not an integer")
    return v


def load_run(path: Path) -> LoadedRun:
    """Read a run folder back, with one clear error for anything missing, unknown or
    malformed."""
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        raise RunError(f"RUN_DIR {str(path)[:80]}: cannot be read ({getattr(e, 'strerror', None) or e})") from None
    if not is_dir:
        raise RunError(f"RUN_DIR {path}: not a folder")
    config, cfg, hw = _read_config(path)

    def read(z):
        sizes = [int(x) for x in z["topology"]]
        if len(sizes) < 3:
            raise RunError(f"RUN_DIR {path}: weights.npz topology {sizes} is malformed")
        n_in, *hidden, n_out = sizes
        topo = Topology(n_in, sum(hidden), n_out, str(z["architecture"]), tuple(hidden) if len(hidden) > 1 else ())
        W, b = np.asarray(z["W"], dtype=float), np.asarray(z["b"], dtype=float)
        seeds = [int(s) for s in z["seeds"]]
        if not all(0 <= s < 2**32 for s in seeds):
            raise RunError(f"RUN_DIR {path}: weights.npz seeds must be integers in [0, 2**32)")
        return topo, W, b, z["alive"].astype(bool), seeds

    topo, W, b, alive, seeds = read_npz(path, "weights.npz", read)
    K, N = len(seeds), topo.n
    if W.shape != (K, N, N) or b.shape != (K, N) or alive.shape != (K, N, N):
        raise RunError(f"RUN_DIR {path}: weights.npz arrays do not match the topology")
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        raise RunError(f"RUN_DIR {path}: weights.npz holds non-finite weights")
    return LoadedRun(path, config, cfg, Network(topo, W, b, alive), seeds, hw)


def task_of(run: LoadedRun):
    """The task a run was trained on (a data set: from ``data.npz``), checked against its
    weights (RunError otherwise)."""
    from .tasks import make_task

    c = run.config
    if c.get("data") is not None:
        task = _read_data(run)
    else:
        try:
            task = make_task(c["task"], bool(c["one_hot"]), bool(c["bias_input"]))
        except (KeyError, ValueError) as e:
            raise RunError(f"RUN_DIR {run.path}: config.json is malformed ({e})") from None
    if task.n_in != run.net.topology.n_in or task.n_out != run.net.topology.n_out:
        raise RunError(f"RUN_DIR {run.path}: weights.npz does not match its task")
    return task


def _read_data(run: LoadedRun):
    from .data import Dataset

    c = run.config

    def read(z):
        X, Y, X_test, Y_test = (z[k].astype(float) for k in ("X", "Y", "X_test", "Y_test"))
        classes = tuple(str(x) for x in z["classes"])
        return X, Y, X_test, Y_test, classes, int(z["n_data_inputs"])

    X, Y, X_test, Y_test, classes, n_data = read_npz(run.path, "data.npz", read, "a data-set run writes one")
    if (X.ndim != 2 or X_test.ndim != 2 or X.shape[1] != X_test.shape[1] or Y.shape != (len(X), len(classes))
            or Y_test.shape != (len(X_test), len(classes))
            or not all(np.isfinite(a).all() for a in (X, Y, X_test, Y_test))):
        raise RunError(f"RUN_DIR {run.path}: data.npz arrays are inconsistent or not finite")
    d = c["data"]
    try:
        return Dataset(str(c["task"]), X, Y, X_test, Y_test, classes, n_data, int(d["split_seed"]),
                       float(d["test_fraction"]))
    except (TypeError, ValueError) as e:
        raise RunError(f"RUN_DIR {run.path}: config.json has a malformed data block ({e})") from None


def hardware_dict(hw: CrossbarConfig | None) -> dict | None:
    """The crossbar config as JSON (None for software training), keys ``HARDWARE_KEYS``;
    ``g0`` is the unit conductance in use (``CrossbarConfig.unit``)."""
    if hw is None:
        return None
    return {"device": asdict(hw.device), "g0": hw.unit, "line_resistance": hw.line_resistance,
            "write_verify": hw.write_verify, "drift_time": hw.drift_time, "reads": hw.reads,
            "deadband": hw.deadband, "off_conductance": hw.off_conductance, "tile_size": hw.tile_size}


INSTANCE_FIELDS = ("g_min", "g_max", "step_scale", "nu", "stuck")


def save_conductances(xbar) -> Callable[[Path], None]:
    """The crossbar as it ends: conductances, open cells, g0, and every device's own
    parameters (window, step scale, drift exponent, stuck state), so that the chip can
    be rebuilt (``load_chip``) and read at any later time."""
    arrays = {"format_version": np.array(FORMAT_VERSION), "Gp": xbar.Gp, "Gm": xbar.Gm,
              "open": xbar.open, "g0": np.array(xbar.cfg.unit),
              "device": np.array(xbar.cfg.device.name)}
    for sign, inst in (("p", xbar.inst_p), ("m", xbar.inst_m)):
        for f in INSTANCE_FIELDS:
            arrays[f"inst_{sign}_{f}"] = getattr(inst, f)
    return lambda p: np.savez(p, **arrays)


def hardware_config(run: LoadedRun) -> CrossbarConfig | None:
    """The run's ``CrossbarConfig`` (``run.hw``; None for software runs)."""
    return run.hw


def load_chip(run: LoadedRun):
    """The crossbars of a hardware run as they ended (``hw.crossbar.Crossbar``), from
    ``conductances.npz``; RunError if the run was trained in software or the file is
    missing, malformed or does not match the run."""
    from hw.crossbar import Crossbar
    from hw.devices import DeviceInstances

    hw = run.hw
    if hw is None:
        raise RunError(f"RUN_DIR {run.path}: trained in software (no --device): it has no crossbar")
    K, N = len(run.seeds), run.net.topology.n

    def read(z):
        missing = [f"inst_{s}_{f}" for s in "pm" for f in INSTANCE_FIELDS if f"inst_{s}_{f}" not in z]
        if missing:
            raise RunError(f"RUN_DIR {run.path}: conductances.npz has no device parameters "
                           f"({missing[0]}): written by an older deepxbar; train the run again")
        insts = [DeviceInstances(*(z[f"inst_{s}_{f}"] for f in INSTANCE_FIELDS)) for s in "pm"]
        return z["Gp"].astype(float), z["Gm"].astype(float), z["open"].astype(bool), float(z["g0"]), insts

    Gp, Gm, open_, g0, insts = read_npz(run.path, "conductances.npz", read, "a hardware run writes one")
    shapes = {a.shape for a in (Gp, Gm, open_, *(getattr(i, f) for i in insts for f in INSTANCE_FIELDS))}
    if shapes != {(K, N, N)}:
        raise RunError(f"RUN_DIR {run.path}: conductances.npz arrays do not match the run ({K} x {N} x {N})")
    if not (np.isfinite(Gp).all() and np.isfinite(Gm).all() and (Gp >= 0).all() and (Gm >= 0).all()):
        raise RunError(f"RUN_DIR {run.path}: conductances.npz holds non-finite or negative conductances")
    if not (np.isfinite(g0) and g0 > 0) or abs(g0 - hw.unit) > 1e-12 * g0:
        raise RunError(f"RUN_DIR {run.path}: conductances.npz g0 {g0!r} differs from config.json's")
    return Crossbar(hw, run.net.topology, Gp, Gm, insts[0], insts[1], open_)


def _fsync(path) -> None:
    """The file at ``path``, closed by its writer, flushed to disk."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def write_file_atomically(out: Path, write: Callable[[Path], None], suffix: str = "",
                          option: str | None = None) -> None:
    """One file, whole or not at all: ``write`` fills a hidden temporary sibling
    (flushed to disk), which is then renamed to ``out``. An OSError (the folder cannot
    be made, no file can be created there, the disk is full) is one line naming
    ``option`` (e.g. "-o") and the path, with the system's reason (``write_error``: exit
    code 2 for a path that cannot be written, 1 for a full disk), and leaves nothing
    behind."""
    plain_path(out, option or "output")
    out = Path(out)
    what = f"{option} {out}" if option else str(out)
    probe = _existing_parent(out)
    if not probe.is_dir():
        raise RunError(f"{what}: cannot write ({probe} is not a folder)")
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
        os.close(fd)
        write(Path(tmp))
        _fsync(tmp)
        os.replace(tmp, out)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise write_error(what, e) from None
        raise
