"""Sweeps (`deepxbar sweep`, deepxbar/commands/sweep.py): a grid over device parameters x
seeds, scheduled by Dask.

Two kinds of sweep, both recorded the same way:

* training (``--grid``/``--file``): every (grid point, seed) is one run, trained on its
  own crossbar with the default config and judged twice: on the trained weights (the
  software judgement: ``accuracy``, ``success``) and on the chip as the run ends
  (``onchip_accuracy``, ``onchip_success``: a fresh read of every device per inference,
  ``experiment.summary``).
* training on a data set (``--data NAME|FILE``, ``deepxbar.data``): the same, with the
  data preset ``deepxbar train --data`` picks (``configs.data_preset`` by the size of
  the training split). A data set is judged by accuracy, so its records (and table,
  summary, plots: ``DATA_COLUMNS``) hold ``train_accuracy``, ``test_accuracy`` and
  ``best_test_accuracy`` (the trained weights, one free phase per sample) and
  ``onchip_test_accuracy`` (the test part on the chip as the run ends) instead of
  ``accuracy``/``success``/``onchip_*``/``epochs_to_zero``: "every pattern right" has no
  meaning on a data set, so those columns are left out, not filled with NaN. The spec
  records the data source and its split (``label``, ``split_seed``, ``test_fraction``)
  and the minibatch size, all in every job's key; a user's file by its absolute path
  and the sha256 of its bytes (the key holds the hash, not the path): a file that
  changed since the sweep started is refused on ``--resume`` (and by a worker that
  reads the new content), so no stale job is resumed. Every job loads its data itself
  on its worker (nothing is sent from the client's memory): a bundled data set from
  scikit-learn, a user's file from its path, which must therefore be readable at that
  same path on every worker (a shared file system for a remote ``--scheduler``).
* deployment (``--deploy RUN_DIR``): the trained networks of a run programmed onto fresh
  chips (``hw.deploy.deploy``, program-and-verify) and judged at times after
  programming (``hw.deploy.judge``). The grid is over device fields plus ``tolerance``
  (of the window) and ``time`` (s after programming). One job = one (device point,
  tolerance) x every seed of the run: one ``deploy`` and one ``judge`` over all the
  grid's times; its record holds one row per (time, seed). A run trained on a data set
  is judged, as ``deepxbar deploy`` judges it, on its first ``samples`` test samples
  (``experiment.judged_samples``, default ``STABILITY_SAMPLES``); the spec records
  ``samples`` and a hash of the run's ``data.npz``, both in the jobs' keys.

Each finished job is written the moment it finishes, atomically (a temporary name, then
a rename) as ``DIR/runs/<key>.json``, the key a hash of everything that defines the job:
a killed sweep loses no finished job and leaves no half record, and ``--resume DIR``
runs only the missing keys (a record that is not whole counts as missing). Jobs are
deterministic (seeded), so a local cluster and a serial run give the same table.

Failures are named, never lost: a job that raises, or whose Dask worker dies every time
Dask tries it (``KilledWorker``), is recorded as failed (``DIR/failed/<key>.json``: in
the table with its ``error``, run again by ``--resume``) and the others go on; a
scheduler that cannot be reached or has no worker within ``--connect-timeout``, and
workers that cannot import deepxbar, stop the sweep before it starts (``SweepFailure``,
``dask_client``). Interrupted (SIGINT, SIGTERM: ``deepxbar.interrupts``), a sweep keeps
its finished jobs and shuts its local cluster down (``dask_client``).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import threading
import time
import tomllib
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from circuits import engines
from hw.crossbar import MAX_LINE_RESISTANCE, MIN_LINE_RESISTANCE, CrossbarConfig
from hw.deploy import COMPENSATIONS, MAX_ITERATIONS, TOLERANCE, deploy, judge, mapping_window
from hw.devices import DeviceConfig, get_preset

from . import data as datasets, experiment, interrupts
from .configs import data_preset, preset
from .hardware import DEVICE_FIELDS, device_field_value
from .options import (MAX_BATCH, MAX_EPOCHS, MAX_INSTANCES, MAX_REPEATS, MAX_SAMPLES, MAX_SEEDS,
                      MAX_VERIFY_ITERATIONS, SEED_BELOW)
from .runs import RunError, load_run, task_of, write_file_atomically
from .tasks import TASKS, make_task

DEPLOY_KEYS = ("tolerance", "time")  # grid keys of deployment sweeps that are not device fields
SPEC_VERSION = 1
DEPLOY_DEFAULTS = {"instances": 20, "repeats": 10, "drift_compensation": "none", "line_resistance": 0.0,
                   "max_iterations": MAX_ITERATIONS}
DEFAULT_TIMES = [0.0]
TRAIN_COLUMNS = ["seed", "task", "device", "engine", "accuracy", "success", "onchip_accuracy",
                 "onchip_success", "epochs_to_zero", "stable", "sparsity", "wall_seconds"]
DATA_COLUMNS = ["seed", "task", "device", "engine", "train_accuracy", "test_accuracy", "best_test_accuracy",
                "onchip_test_accuracy", "stable", "sparsity", "wall_seconds"]
DATA_KEYS = ("data", "label", "split_seed", "test_fraction", "large", "batch_size")  # sweep file, training
DEPLOY_COLUMNS = ["tolerance", "time", "seed", "accuracy", "p_all_correct", "p_stable", "pulses_mean",
                  "program_error_rms", "device", "wall_seconds"]


class SweepError(ValueError):
    """A sweep refused before anything runs; one line for the user."""


# ---- the grid ----------------------------------------------------------------------------------

def _number_in(key: str, text, low: float, high: float | None = None) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise SweepError(f"--grid {key}: {text!r} is not a number") from None
    if not math.isfinite(v) or v < low or (high is not None and v >= high):
        rng = f"in [{low:g}, {high:g})" if high is not None else f">= {low:g}"
        raise SweepError(f"--grid {key}: {text!r} must be finite and {rng}")
    return v


def _value(key: str, text):
    if key == "tolerance":
        return _number_in(key, text, 0.0, 1.0)
    if key == "time":
        return _number_in(key, text, 0.0)
    try:
        return device_field_value(key, text)
    except ValueError as e:
        raise SweepError(f"--grid {key}: {e}") from None


def _keys(deploy_mode: bool) -> list[str]:
    return [*DEVICE_FIELDS, *DEPLOY_KEYS] if deploy_mode else list(DEVICE_FIELDS)


def parse_grid(items: list[str], deploy_mode: bool = False) -> dict[str, list]:
    """``PARAM=V1,V2,...`` items into ``{PARAM: [values]}``, each value parsed by the
    field's type (strings for ``response``/``depression``, ``none`` for the optional
    ``levels``/``d2d_floor``); ``tolerance`` and ``time`` with ``deploy_mode`` only."""
    grid: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or key not in _keys(deploy_mode):
            extra = "" if deploy_mode else " (tolerance and time: with --deploy)"
            raise SweepError(f"--grid {item!r}: expected PARAM=V1,V2,... with PARAM one of "
                             f"{', '.join(_keys(deploy_mode))}{extra}")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not parts:
            raise SweepError(f"--grid {key}: empty list of values")
        if key in grid:
            raise SweepError(f"--grid {key}: given twice")
        grid[key] = [_value(key, v) for v in parts]
    return grid


def _check_grid(grid, deploy_mode: bool) -> dict[str, list]:
    """Keys known, lists non-empty and without repeats, times increasing (a grid from the
    command line, a TOML file or a spec.json)."""
    if not isinstance(grid, dict) or not grid:
        raise SweepError("--grid: give at least one PARAM=V1,V2,...")
    for key, values in grid.items():
        if key not in _keys(deploy_mode):
            extra = "" if deploy_mode else " (tolerance and time: with --deploy)"
            raise SweepError(f"--grid {key}: unknown parameter; one of {', '.join(_keys(deploy_mode))}{extra}")
        if not isinstance(values, list) or not values:
            raise SweepError(f"--grid {key}: empty list of values")
        if key in DEPLOY_KEYS:  # a spec.json or TOML grid was not parsed from text
            for v in values:
                _value(key, "nan" if isinstance(v, bool) else v)
        codes = [grid_code(v) for v in values]
        if len(set(codes)) != len(codes):
            raise SweepError(f"--grid {key}: a value is given twice ({values})")
    t = grid.get("time", [])
    if any(b <= a for a, b in zip(t, t[1:])):
        raise SweepError(f"--grid time: {t} must be strictly increasing (seconds after programming)")
    return grid


def check_path(option: str, path) -> None:
    """SweepError for a path no file system takes (a NUL character in it)."""
    if "\x00" in str(path):
        raise SweepError(f"{option} {str(path)!r}: a path cannot hold a NUL character")


def load_spec_file(path: Path, deploy_mode: bool = False) -> dict:
    """A TOML sweep file: ``device``, ``task`` or ``data`` (with ``label``, ``split_seed``,
    ``test_fraction``, ``large``, ``batch_size``), ``seeds``, ``epochs``, ``engine``
    (training) or ``deploy`` (a run folder), ``instances``, ``repeats``,
    ``drift_compensation``, ``line_resistance``, ``max_iterations``, ``samples``
    (deployment), and a ``[grid]`` table."""
    check_path("--file", path)
    try:
        data = tomllib.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as e:
        raise SweepError(f"sweep file {path}: cannot read it ({e.strerror or e})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SweepError(f"sweep file {path}: not a TOML file ({e})") from None
    grid = data.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise SweepError(f"sweep file {path}: needs a non-empty [grid] table")
    items = []
    for k, v in grid.items():
        vals = v if isinstance(v, list) else [v]
        items.append(f"{k}=" + ",".join(str(x) for x in vals))
    keys = ("device", "task", *DATA_KEYS, "seeds", "epochs", "engine", "deploy", *DEPLOY_DEFAULTS, "samples")
    unknown = sorted(set(data) - set(keys) - {"grid"})
    if unknown:
        raise SweepError(f"sweep file {path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(keys)}, grid")
    spec = {k: data[k] for k in keys if k in data}
    spec["grid"] = parse_grid(items, deploy_mode=deploy_mode or "deploy" in data)
    return spec


def _base_device(device: str) -> DeviceConfig:
    try:
        return get_preset(device)
    except ValueError as e:
        raise SweepError(f"--device: {e}") from None


# ---- training sweeps -----------------------------------------------------------------------------

def _int_at_least(name: str, v, low: int, below: int | None = None, at_most: int | None = None) -> None:
    """SweepError unless ``v`` (from the command line, a sweep file or a spec.json) is an
    integer >= ``low``, < ``below`` and <= ``at_most`` (the ranges of deepxbar.options)."""
    if (not isinstance(v, int) or isinstance(v, bool) or v < low or (below is not None and v >= below)
            or (at_most is not None and v > at_most)):
        rng = (f"in [{low}, {below})" if below is not None else f"from {low} to {at_most:,}" if at_most is not None
               else f">= {low}")
        shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
        raise SweepError(f"--{name} {shown}: must be an integer {rng}")


def data_spec(source, label=None, split_seed: int = 0, test_fraction: float = 0.2, large: bool = False,
              sha256: str | None = None) -> dict:
    """The data block of a training sweep's spec, checked by loading the data once here:
    ``source`` (a bundled name, or a file's absolute path with the ``sha256`` of its
    bytes), the split, and what the split gave (name, features, classes, sizes). With
    ``sha256`` (a resumed spec's), a file whose content differs is refused."""
    if not isinstance(source, (str, Path)) or not str(source):
        raise SweepError(f"--data {source!r}: a data set name ({', '.join(datasets.DATASETS)}) or a file")
    if label is not None and not isinstance(label, str):
        raise SweepError(f"--label {label!r}: must be a column name")
    _int_at_least("split-seed", split_seed, 0, SEED_BELOW)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not 0 < test_fraction < 1:
        raise SweepError(f"--test-fraction {test_fraction!r}: must be a number with 0 < F < 1")
    if not isinstance(large, bool):
        raise SweepError(f"--large {large!r}: must be true or false")
    check_path("--data", source)
    bundled = isinstance(source, str) and source in datasets.DATASETS
    block = {"source": source if bundled else str(Path(source).resolve()), "label": label,
             "split_seed": split_seed, "test_fraction": float(test_fraction), "large": large}
    if not bundled:
        block["sha256"] = _file_sha256(block["source"], sha256)
    task = load_data(block)
    return {**block, "name": task.name, "features": task.n_data_inputs, "classes": list(task.classes),
            "train_samples": len(task.X), "test_samples": len(task.X_test)}


def _file_sha256(path: str, expect: str | None) -> str:
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise SweepError(f"--data {path}: cannot read it ({e.strerror or e})") from None
    if expect is not None and digest != expect:
        raise SweepError(f"--data {path}: the file changed since the sweep started (sha256 differs); "
                         "its finished runs were trained on the old content: start a new sweep")
    return digest


def load_data(block: dict):
    """The data set of a spec's data block, read, checked (a file against its sha256),
    split and scaled (on the worker that trains on it)."""
    try:
        if "sha256" in block:
            _file_sha256(block["source"], block["sha256"])
        return datasets.load(block["source"], block["label"], block["split_seed"], block["test_fraction"],
                             large=block["large"])
    except datasets.DataError as e:
        raise SweepError(f"--data {block['source']}: {e}") from None


def make_spec(device: str, task: str | None, seeds: int, epochs: int | None, grid: dict[str, list],
              engine: str = "numpy", data: dict | None = None, batch_size: int | None = None) -> dict:
    """The full, validated description of a training sweep (stored as ``spec.json``): on
    the logic ``task``, or on the data set ``data`` (the arguments of ``data_spec``, or
    a resumed spec's data block); ``batch_size`` None: the preset's."""
    if engine not in engines.names():
        raise SweepError(f"--engine {engine!r}: choose from {', '.join(engines.names())}")
    if data is not None and task is not None:
        raise SweepError("--task and --data exclude each other (a logic task or a data set)")
    if data is None and task not in TASKS:
        raise SweepError(f"--task {task!r}: choose from {', '.join(TASKS)}")
    if batch_size is not None:
        _int_at_least("batch-size", batch_size, 1, at_most=MAX_BATCH)
    _int_at_least("seeds", seeds, 1, at_most=MAX_SEEDS)
    if epochs is not None:
        _int_at_least("epochs", epochs, 1, at_most=MAX_EPOCHS)
    base = _base_device(device)
    grid = _check_grid(grid, deploy_mode=False)
    block = None
    if data is not None:
        keys = ("source", "label", "split_seed", "test_fraction", "large", "sha256")
        block = data_spec(**{k: data[k] for k in keys if k in data})
        task = block["name"]
    spec = {"version": SPEC_VERSION, "mode": "train", "device": device, "task": task, "seeds": seeds,
            "epochs": epochs, "engine": engine, "grid": grid}
    if block is not None:
        spec["data"] = block
    if block is not None or batch_size is not None:  # logic sweeps without it: as they were
        spec["batch_size"] = batch_size
    _check_size(spec)
    for point in grid_points(spec):  # every device the grid asks for must be valid
        try:
            replace(base, **point)
        except (TypeError, ValueError) as e:  # TypeError: a resumed spec.json's value of the wrong kind
            raise SweepError(f"--grid {point}: {e}") from None
    return spec


MAX_JOBS = 1_000_000  # jobs of one sweep: grid points x seeds (training) or x tolerances (deployment)


def _check_size(spec: dict) -> None:
    """SweepError when the sweep has more than ``MAX_JOBS`` jobs (counted, not listed)."""
    n = math.prod(len(v) for k, v in spec["grid"].items() if k not in DEPLOY_KEYS)
    n *= len(spec["grid"].get("tolerance", [TOLERANCE])) if spec["mode"] == "deploy" else spec["seeds"]
    if n > MAX_JOBS:
        what = "grid points x tolerances" if spec["mode"] == "deploy" else "grid points x seeds"
        raise SweepError(f"--grid/--seeds: {n:,} jobs ({what}); at most {MAX_JOBS:,} in one sweep")


def grid_points(spec: dict) -> list[dict]:
    """The device points: every combination of the grid's device fields."""
    keys = [k for k in spec["grid"] if k not in DEPLOY_KEYS]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(spec["grid"][k] for k in keys))]


def run_key(spec: dict, point: dict, seed: int) -> str:
    ident = {k: spec[k] for k in ("version", "device", "task", "epochs")}
    if spec.get("engine", "numpy") != "numpy":  # keys of numpy sweeps stay as they were
        ident["engine"] = spec["engine"]
    if spec.get("data") is not None:  # what defines the data a job trains on (not where a file is)
        d = spec["data"]
        ident["data"] = {k: d.get(k) for k in ("label", "split_seed", "test_fraction")}
        ident["data"]["source"] = d["sha256"] if "sha256" in d else d["source"]
    if "batch_size" in spec:
        ident["batch_size"] = spec["batch_size"]
    ident.update(point=point, seed=seed)
    return _hash(ident)


def _hash(ident: dict) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def _no_semaphore() -> None:
    """tqdm's default lock holds a multiprocessing semaphore, which a worker process killed
    mid-job (a sweep interrupted, a worker that dies) leaves to Python's resource tracker,
    which warns about it on the sweep's stderr: a job's process that has no tqdm lock yet
    (a Dask worker) gets a thread lock instead."""
    from tqdm import tqdm

    if not hasattr(tqdm, "_lock"):
        tqdm.set_lock(threading.RLock())


def run_one(spec: dict, point: dict, seed: int) -> dict:
    """Train one seed on one device variant and judge it, on the weights and on the chip
    (runs on a worker; a data set is loaded here, ``load_data``)."""
    _no_semaphore()
    _test_worker_exit(seed)
    start = time.perf_counter()
    if spec.get("data") is not None:
        task = load_data(spec["data"])
        pre = data_preset("default", "deep", len(task.X))
    else:
        task = make_task(spec["task"])
        pre = preset("default", "deep", False)
    cfg = pre.train if spec["epochs"] is None else replace(pre.train, epochs=spec["epochs"])
    hw = CrossbarConfig(device=replace(get_preset(spec["device"]), **point))
    engine = engines.make_engine(spec.get("engine", "numpy"), cfg)
    exp = experiment.run(task, cfg, [seed], progress=False, hw=hw, engine=engine,
                         batch_size=spec.get("batch_size") or pre.batch_size)
    s = experiment.summary(exp, "deep", "default")["per_seed"][0]
    head = {**{f"param_{k}": v for k, v in point.items()}, "seed": seed, "task": spec["task"],
            "device": spec["device"], "engine": spec.get("engine", "numpy")}
    if exp.data_set:
        return {**head, **{k: s[k] for k in ("train_accuracy", "test_accuracy", "best_test_accuracy")},
                "onchip_test_accuracy": s["onchip_test_accuracy"], "stable": s["stable"],
                "sparsity": s["sparsity"], "wall_seconds": round(time.perf_counter() - start, 3)}
    return {**head, "accuracy": 1.0 - s["final_error"],
            "success": s["success"], "onchip_accuracy": s["onchip_accuracy"], "onchip_success": s["onchip_success"],
            "epochs_to_zero": s["epochs_to_zero"], "stable": s["stable"], "sparsity": s["sparsity"],
            "wall_seconds": round(time.perf_counter() - start, 3)}


# ---- deployment sweeps -----------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load_deploy_run(run_dir, expect: dict | None = None):
    """The run and its task, checked; with ``expect`` (a spec's ``run``) also unchanged."""
    try:
        run = load_run(Path(run_dir))
        task = task_of(run)
    except RunError as e:
        raise SweepError(f"--deploy: {e}") from None
    except OSError as e:  # a name too long, a loop of links
        raise SweepError(f"--deploy {run_dir}: cannot read it ({e.strerror or e})") from None
    changed = expect is not None and (
        _sha256(run.path / "weights.npz") != expect["weights_sha256"] or run.config != expect["config"]
        or ("data_sha256" in expect and _sha256(run.path / "data.npz") != expect["data_sha256"]))
    if changed:
        raise SweepError(f"--deploy {run_dir}: the run folder changed since the sweep started "
                         "(weights.npz, config.json or data.npz differ)")
    return run, task


def deploy_samples(spec: dict, task) -> tuple[np.ndarray, np.ndarray]:
    """What a deployment sweep judges: a data set's first ``spec["samples"]`` test
    samples, every pattern of a logic task (as ``deepxbar deploy``)."""
    return experiment.judged_samples(task, spec.get("samples", experiment.STABILITY_SAMPLES))


def make_deploy_spec(run_dir, device: str, grid: dict[str, list], instances: int = 20, repeats: int = 10,
                     drift_compensation: str = "none", line_resistance: float = 0.0,
                     max_iterations: int = MAX_ITERATIONS, samples: int | None = None,
                     expect: dict | None = None) -> dict:
    """The full, validated description of a deployment sweep (stored as ``spec.json``):
    the run folder (path, config, seeds, a hash of its weights; of its data too for a
    data-set run), the device preset, the grid (device fields, ``tolerance``, ``time``)
    and the judging conditions (``samples``: a data-set run's first test samples judged,
    default ``experiment.STABILITY_SAMPLES``, recorded as at most its test part's size;
    refused for a logic task's run)."""
    run, task = _load_deploy_run(run_dir, expect)
    data_run = experiment.is_data_set(task)
    if samples is not None and not data_run:
        raise SweepError(f"--samples {samples!r}: applies to a run trained on a data set "
                         "(a logic task's run is judged on every pattern)")
    if data_run:  # recorded as judged: at most the run's test part
        samples = experiment.STABILITY_SAMPLES if samples is None else samples
        _int_at_least("samples", samples, 1, at_most=MAX_SAMPLES)
        samples = min(samples, len(task.X_test))
    for name, v, high in (("instances", instances, MAX_INSTANCES), ("repeats", repeats, MAX_REPEATS),
                          ("max-iterations", max_iterations, MAX_VERIFY_ITERATIONS)):
        _int_at_least(name, v, 1, at_most=high)
    if drift_compensation not in COMPENSATIONS:
        raise SweepError(f"--drift-compensation {drift_compensation!r}: choose from {', '.join(COMPENSATIONS)}")
    if isinstance(line_resistance, bool) or not isinstance(line_resistance, (int, float)) \
            or not (line_resistance == 0 or MIN_LINE_RESISTANCE <= line_resistance < MAX_LINE_RESISTANCE):
        raise SweepError(f"--line-resistance {line_resistance!r}: must be 0 (ideal wires) or from "
                         f"{MIN_LINE_RESISTANCE:g} to below {MAX_LINE_RESISTANCE:g} ohm")
    base = _base_device(device)
    grid = _check_grid(grid, deploy_mode=True)
    spec = {"version": SPEC_VERSION, "mode": "deploy", "device": device,
            "run": {"path": str(run.path.resolve()), "config": run.config, "seeds": run.seeds,
                    "weights_sha256": _sha256(run.path / "weights.npz")},
            "grid": grid, "instances": instances, "repeats": repeats,
            "drift_compensation": drift_compensation, "line_resistance": float(line_resistance),
            "max_iterations": max_iterations}
    if data_run:
        spec["run"]["data_sha256"] = _sha256(run.path / "data.npz")
        spec["samples"] = samples
    _check_size(spec)
    for point in grid_points(spec):  # every device the grid asks for must be valid and mappable
        try:
            mapping_window(replace(base, **point))
        except (TypeError, ValueError) as e:  # TypeError: a resumed spec.json's value of the wrong kind
            raise SweepError(f"--grid {point}: {e}") from None
    return spec


def deploy_times(spec: dict) -> list[float]:
    return [float(t) for t in spec["grid"].get("time", DEFAULT_TIMES)]


def deploy_tolerances(spec: dict) -> list[float]:
    return [float(t) for t in spec["grid"].get("tolerance", [TOLERANCE])]


def deploy_key(spec: dict, point: dict, tolerance: float) -> str:
    ident = {k: spec[k] for k in ("version", "mode", "device", *DEPLOY_DEFAULTS)}
    ident.update(run={k: spec["run"][k] for k in ("config", "weights_sha256", "data_sha256") if k in spec["run"]},
                 point=point, tolerance=tolerance, times=deploy_times(spec))
    if "samples" in spec:  # data-set runs only: keys of logic runs stay as they were
        ident["samples"] = spec["samples"]
    return _hash(ident)


def run_deploy_job(spec: dict, run, point: dict, tolerance: float, X: np.ndarray, Y: np.ndarray) -> dict:
    """Program every network of ``run`` on ``instances`` fresh chips of one device variant
    to ``tolerance`` and judge them on the samples ``(X, Y)`` (``deploy_samples``) at
    every time: one row per (time, seed) (runs on a worker; the run and the samples come
    from the client, the worker reads no file)."""
    _no_semaphore()
    start = time.perf_counter()
    dev = replace(get_preset(spec["device"]), **point)
    times = deploy_times(spec)
    dep = deploy(run.net, run.seeds, dev, spec["instances"], tolerance, spec["max_iterations"])
    res = judge(dep, run.cfg, X, Y, times, spec["repeats"], spec["drift_compensation"],
                spec["line_resistance"])
    wall = round(time.perf_counter() - start, 3)
    W_err = dep.weights() - np.where(dep.live, dep.net.W, 0.0)[:, None]  # (K, I, N, N), t = 0
    rows = []
    for k, seed in enumerate(run.seeds):
        live = np.broadcast_to(dep.live[k][None], W_err[k].shape)
        cells = dep.cells[k]
        prog = {"pulses_mean": float(dep.pulses[k][cells].mean()) if cells.any() else 0.0,
                "program_error_rms": float(np.sqrt((W_err[k][live] ** 2).mean())) if live.any() else 0.0}
        for i, t in enumerate(times):
            rows.append({**{f"param_{key}": v for key, v in point.items()}, "tolerance": tolerance,
                         "time": t, "seed": int(seed),
                         "accuracy": float(res["accuracy"][i, k].mean()),
                         "p_all_correct": float(res["all_correct"][i, k].mean()),
                         "p_stable": float(res["stable"][i, k].mean()),
                         **prog, "device": spec["device"], "wall_seconds": wall})
    return {"rows": rows}


# ---- running ------------------------------------------------------------------------------------------

CONNECT_TIMEOUT = 10.0  # s: reaching a --scheduler, and a worker joining it
TEST_WORKER_EXIT = "DEEPXBAR_TEST_WORKER_EXIT"  # a test hook, see _test_worker_exit
_OUR_PACKAGES = ("deepxbar", "circuits", "hw", "models")


class SweepFailure(RuntimeError):
    """The sweep cannot go on (no scheduler, no workers, workers without deepxbar): one
    line for the user, exit code 1; every finished job is kept."""


def _test_worker_exit(seed: int) -> None:
    """A test hook, for the tests of a worker that dies mid-run only: with the environment
    variable ``DEEPXBAR_TEST_WORKER_EXIT=SEED`` the process running the training job of
    that seed ends at once (``os._exit``), every time; with ``SEED:FILE`` only while FILE
    does not exist (the first death creates it: the retry then succeeds). Unset, nothing."""
    hook = os.environ.get(TEST_WORKER_EXIT)
    if not hook:
        return
    which, _, marker = hook.partition(":")
    if which.strip() != str(seed):
        return
    if marker:
        if os.path.exists(marker):
            return
        Path(marker).touch()
    os._exit(70)


def jobs(spec: dict) -> list[tuple[str, dict, float | int]]:
    """``(key, device point, x)``: x the seed (training) or the tolerance (deployment)."""
    if spec.get("mode", "train") == "deploy":
        return [(deploy_key(spec, p, tol), p, tol) for p in grid_points(spec) for tol in deploy_tolerances(spec)]
    return [(run_key(spec, p, s), p, s) for p in grid_points(spec) for s in range(spec["seeds"])]


def write_record(out: Path, key: str, record: dict) -> None:
    """Atomically: a finished job is either entirely there or not at all (and no longer
    failed)."""
    write_file_atomically(out / "runs" / f"{key}.json", lambda p: p.write_text(json.dumps(record)))
    (out / "failed" / f"{key}.json").unlink(missing_ok=True)


def read_record(path: Path) -> list[dict] | None:
    """The rows of the record at ``path`` (one for a training job, one per (time, seed)
    for a deployment job); None when it is unreadable or malformed (not written by
    deepxbar: a record is written whole): such a job counts as not done, so ``--resume``
    runs it again and overwrites the record."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    rows = rec.get("rows", [rec]) if isinstance(rec, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return None
    for row in rows:  # the table's numbers: numbers, booleans or missing
        for k, v in row.items():
            if k in _NUMERIC and v is not None and not isinstance(v, (int, float)):
                return None
    return rows


_NUMERIC = {*TRAIN_COLUMNS, *DATA_COLUMNS, *DEPLOY_COLUMNS} - {"task", "device", "engine"}


def done_keys(out: Path) -> set[str]:
    """The keys of the jobs whose record in ``DIR/runs`` is whole."""
    return {p.stem for p in (out / "runs").glob("*.json") if read_record(p) is not None}


def failure_record(spec: dict, point: dict, x, error: str) -> dict:
    """What a failed job leaves in the table: its rows (``run_one``'s or
    ``run_deploy_job``'s identifying columns) with the ``error`` and no metrics."""
    params = {f"param_{k}": v for k, v in point.items()}
    if spec.get("mode", "train") == "deploy":
        return {"rows": [{**params, "tolerance": x, "time": t, "seed": int(seed), "device": spec["device"],
                          "error": error} for seed in spec["run"]["seeds"] for t in deploy_times(spec)]}
    return {**params, "seed": x, "task": spec["task"], "device": spec["device"],
            "engine": spec.get("engine", "numpy"), "error": error}


def write_failure(out: Path, key: str, record: dict) -> None:
    """A failed job, atomically, as ``DIR/failed/<key>.json``: in the table with its error,
    run again by ``--resume`` (its key has no record in ``DIR/runs``)."""
    write_file_atomically(out / "failed" / f"{key}.json", lambda p: p.write_text(json.dumps(record)))


def failed_keys(out: Path) -> set[str]:
    """The jobs that failed and have not finished since."""
    return {p.stem for p in (out / "failed").glob("*.json")} - done_keys(out)


def error_text(e: BaseException) -> str:
    """A failed job's error in one short line."""
    name = type(e).__name__
    if name == "KilledWorker":
        return "KilledWorker: the Dask worker running it died every time it was tried"
    msg = " ".join(str(e).split())
    return f"{name}: {msg[:300]}" if msg else name


def _cannot_import_us(e: BaseException) -> bool:
    return isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] in _OUR_PACKAGES


def _innermost(e: BaseException) -> BaseException:
    while e.__cause__ is not None or e.__context__ is not None:
        e = e.__cause__ or e.__context__
    return e


@contextmanager
def dask_client(workers: int, scheduler: str | None, connect_timeout: float = CONNECT_TIMEOUT,
                quiet: bool = True):
    """A Dask client: to a local cluster of ``workers`` processes (one thread each) or to
    the ``scheduler`` (reached, and given a worker, within ``connect_timeout`` seconds),
    its workers checked to import deepxbar; None when ``workers == 0`` and no scheduler
    (serial). SweepFailure (one line) when any of that fails. ``quiet``: distributed's
    log messages are not shown (deepxbar says what matters in its own lines). The client
    and the cluster are closed on the way out, whatever ends the block (an interrupt
    during the shutdown is raised after it)."""
    if workers == 0 and scheduler is None:
        yield None
        return
    import dask
    from dask.distributed import Client, LocalCluster

    log = logging.getLogger("distributed")
    level = log.level
    if quiet:
        log.setLevel(logging.CRITICAL)
    cluster = client = None
    try:
        if scheduler is None:
            # worker-saturation 1: a worker holds only the job it runs, so one that dies takes
            # no queued job with it (each job it held counts as a death of that job)
            # SIGINT ignored by the worker processes (inherited as they start): a Ctrl-C in a terminal
            # reaches the whole process group, and the workers are this process's to shut down
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), interrupts.ignored():
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None,
                                       silence_logs=logging.CRITICAL if quiet else logging.WARNING)
        try:
            client = Client(scheduler, timeout=connect_timeout) if scheduler else Client(cluster)
        except (ValueError, TypeError) as e:  # not an address distributed can use
            raise SweepError(f"--scheduler {scheduler!r}: not the address of a Dask scheduler, such as "
                             f"tcp://HOST:PORT ({e})") from None
        except (OSError, TimeoutError) as e:
            cause = _innermost(e)
            why = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
            raise SweepFailure(f"cannot reach the Dask scheduler at {scheduler or cluster.scheduler_address} "
                               f"within {connect_timeout:g} s ({why})") from None
        if scheduler is not None:
            try:
                client.wait_for_workers(1, timeout=connect_timeout)
            except (OSError, TimeoutError):
                raise SweepFailure(f"the Dask scheduler at {scheduler} has no worker (none joined within "
                                   f"{connect_timeout:g} s)") from None
        # the jobs are deepxbar's functions, pickled by name: a worker that cannot import them
        # drops its connection and the job waits for ever; ask every worker first
        answers = client.run(exec, "import deepxbar.sweep", on_error="return")
        bad = {w: a for w, a in answers.items() if isinstance(a, BaseException)}
        if bad:
            first = next(iter(bad.values()))
            raise SweepFailure(f"the Dask workers cannot import deepxbar ({len(bad)} of {len(answers)}: "
                               f"{error_text(first)}): install it on every worker")
        yield client
    finally:
        with interrupts.deferred():
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
            log.setLevel(level)


def execute(spec: dict, out: Path, workers: int, scheduler: str | None, progress: bool = True,
            connect_timeout: float = CONNECT_TIMEOUT, quiet: bool = True) -> int:
    """Run what is missing in ``out`` on a local cluster of ``workers`` or the
    ``scheduler`` (serial when ``workers == 0`` and no scheduler); returns how many jobs
    ran (``run_jobs``)."""
    with dask_client(workers, scheduler, connect_timeout, quiet) as client:
        return run_jobs(spec, out, client, progress)


def run_jobs(spec: dict, out: Path, client=None, progress: bool = True) -> int:
    """Run the jobs of ``spec`` that have no record in ``out`` (on the Dask ``client``;
    serial in this process when None), each record written as its job finishes; returns
    how many ran. A job that fails (an exception, or Dask's KilledWorker: its worker died
    each time Dask tried it, ``distributed.scheduler.allowed-failures`` + 1 times) is
    recorded as failed (``write_failure``) and the others go on; a job that finds its
    data changed (SweepError) or cannot import deepxbar (SweepFailure) stops the sweep."""
    from tqdm import tqdm

    (out / "runs").mkdir(parents=True, exist_ok=True)
    if spec.get("mode", "train") == "deploy":
        run, task = _load_deploy_run(spec["run"]["path"], spec["run"])  # loaded once, sent to the workers
        X, Y = deploy_samples(spec, task)
        call = lambda point, x: (run_deploy_job, spec, run, point, x, X, Y)
        unit = "job"
    else:
        call = lambda point, x: (run_one, spec, point, x)
        unit = "run"
    every = jobs(spec)
    todo = [j for j in every if j[0] not in done_keys(out)]
    what = {key: (point, x) for key, point, x in todo}

    def failed(key: str, e: Exception) -> None:
        if isinstance(e, SweepError):
            raise e
        if _cannot_import_us(e):
            raise SweepFailure(f"the Dask workers cannot import deepxbar ({error_text(e)}): "
                               "install it on every worker") from None
        write_failure(out, key, failure_record(spec, *what[key], error_text(e)))

    bar = tqdm(total=len(every), initial=len(every) - len(todo), desc=f"sweep {unit}s", unit=unit,
               disable=not progress)
    try:
        if client is None:
            for key, point, x in todo:
                fn, *args = call(point, x)
                try:
                    record = fn(*args)
                except Exception as e:
                    failed(key, e)
                else:
                    write_record(out, key, record)
                bar.update(1)
            return len(todo)
        from dask.distributed import as_completed

        futures = {client.submit(*call(point, x), key=f"{unit}-{key}", pure=False): key for key, point, x in todo}
        for fut in as_completed(futures):  # the client's closing cancels what is left on the way out
            try:
                record = fut.result()
            except Exception as e:
                failed(futures[fut], e)
            else:
                write_record(out, futures[fut], record)
            bar.update(1)
        return len(todo)
    finally:
        bar.close()
        _tidy(out)


def _tidy(out: Path) -> None:
    """``DIR/failed`` removed once no job has failed (empty)."""
    try:
        (out / "failed").rmdir()
    except OSError:
        pass


# ---- outputs ------------------------------------------------------------------------------------------

def table(out: Path, spec: dict | None = None):
    """The tidy results table: one row per finished run (training; ``DATA_COLUMNS`` on a
    data set) or per (point, tolerance, time, seed) (deployment). Columns a record does
    not have (records of an older version) are NaN. A job that failed (``failed_keys``)
    has its rows too, without metrics, its error in the last column, ``error`` (there
    only when some job failed; empty for the others)."""
    import pandas as pd

    rows = []
    done = done_keys(out)
    paths = [*(out / "runs" / f"{k}.json" for k in done),
             *(out / "failed" / f"{k}.json" for k in {p.stem for p in (out / "failed").glob("*.json")} - done)]
    if spec is not None:  # the spec's jobs only
        keys = {k for k, _, _ in jobs(spec)}
        paths = [p for p in paths if p.stem in keys]
    for p in sorted(paths, key=lambda p: p.name):
        rows.extend(read_record(p) or [])
    df = pd.DataFrame(rows)
    deploy_mode = (spec or {}).get("mode", "deploy" if "time" in df.columns else "train") == "deploy"
    params = [c for c in df.columns if c.startswith("param_")]
    on_data = spec.get("data") is not None if spec is not None else "test_accuracy" in df.columns
    known = DEPLOY_COLUMNS if deploy_mode else DATA_COLUMNS if on_data else TRAIN_COLUMNS
    for c in known:
        if c not in df.columns:
            df[c] = np.nan
    if "onchip_success" in df.columns and df["onchip_success"].isna().any():
        df["onchip_success"] = df["onchip_success"].astype("boolean")  # True / False / missing
    rest = [c for c in df.columns if c not in params and c not in known and c != "error"]
    df = df[params + known + rest + (["error"] if "error" in df.columns else [])]
    order = params + (["tolerance", "time"] if deploy_mode else []) + ["seed"]
    return df.sort_values(order).reset_index(drop=True)


def grid_code(v):
    """A hashable, comparable code of a grid value: None and NaN alike, 16 == 16.0."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "none"
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    return str(v)


def as_floats(col) -> np.ndarray:
    """A column of numbers or booleans, missing values included, as floats (NaN)."""
    return col.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def plotted(spec: dict) -> list[str]:
    """The grid keys that get a plot: those with more than one value."""
    return [k for k, v in spec["grid"].items() if len(v) > 1]


def write_outputs(out: Path, spec: dict) -> "object":
    """``results.csv``, ``results.parquet`` and a plot per swept key (``plotted``), each
    written atomically; returns the table."""
    from .plots import sweep as plots

    df = table(out, spec)
    write_file_atomically(out / "results.csv", lambda p: df.to_csv(p, index=False))
    write_file_atomically(out / "results.parquet", lambda p: _to_parquet(df, p), suffix=".parquet")
    ok = finished(df)
    for key in plotted(spec) if ok.any() else []:  # the finished jobs' curves
        write_file_atomically(out / f"sweep_{key}.png", lambda p: plots.curves(df[ok], spec, key, p), suffix=".png")
    return df


def _to_parquet(df, path: Path) -> None:
    """Through a file object: pyarrow cannot encode a path with undecodable bytes (surrogates)."""
    with open(path, "wb") as fh:
        df.to_parquet(fh, index=False)


def finished(df):
    """The rows of jobs that finished (not failed), as a boolean Series."""
    import pandas as pd

    if "error" not in df.columns:
        return pd.Series(True, index=df.index)
    return df["error"].isna()


def failures(df) -> int:
    """How many rows of the table are of failed jobs."""
    return int((~finished(df)).sum())


def summarise(df, spec: dict):
    """Means per grid point (training: accuracies only on a data set) or per (point,
    tolerance, time) (deployment), of the finished jobs; ``runs`` (``seeds``) counts
    them, ``failed`` (only when some job failed) the failed ones."""
    params = [c for c in df.columns if c.startswith("param_")]
    ok = finished(df)
    df = df.assign(_ok=ok.astype(int), _failed=(~ok).astype(int))
    count = {"failed": ("_failed", "sum")} if not ok.all() else {}
    if spec.get("mode", "train") == "deploy":
        num = df.assign(**{c: as_floats(df[c]) for c in ("accuracy", "p_all_correct", "p_stable")})
        return num.groupby(params + ["tolerance", "time"], dropna=False, sort=False).agg(
            seeds=("_ok", "sum"), **count, accuracy=("accuracy", "mean"), p_all_correct=("p_all_correct", "mean"),
            p_stable=("p_stable", "mean"), pulses=("pulses_mean", "mean"),
            program_error_rms=("program_error_rms", "mean")).reset_index()
    if spec.get("data") is not None:  # accuracies only: success does not apply to a data set
        num = df.assign(**{c: as_floats(df[c]) for c in ("stable", "onchip_test_accuracy", "train_accuracy",
                                                         "test_accuracy", "wall_seconds")})
        return num.groupby(params, dropna=False, sort=False).agg(
            runs=("_ok", "sum"), **count, train_accuracy=("train_accuracy", "mean"),
            test_accuracy=("test_accuracy", "mean"), onchip_test_accuracy=("onchip_test_accuracy", "mean"),
            p_stable=("stable", "mean"), wall_s=("wall_seconds", "mean")).reset_index()
    num = df.assign(**{c: as_floats(df[c]) for c in ("success", "onchip_success", "stable", "onchip_accuracy",
                                                     "accuracy", "wall_seconds")})
    return num.groupby(params, dropna=False, sort=False).agg(
        runs=("_ok", "sum"), **count, accuracy=("accuracy", "mean"), success=("success", "mean"),
        onchip_accuracy=("onchip_accuracy", "mean"), onchip_success=("onchip_success", "mean"),
        p_stable=("stable", "mean"), wall_s=("wall_seconds", "mean")).reset_index()
