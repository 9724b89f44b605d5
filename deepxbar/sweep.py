"""Sweeps (`deepxbar sweep`, deepxbar/commands/sweep.py): a grid over device parameters x
seeds, scheduled by Dask.

Two kinds of sweep, both recorded the same way:

* training (``--grid``/``--file``): every (grid point, seed) is one run, trained on its
  own crossbar with the default config and judged twice: on the trained weights (the
  software judgement: ``accuracy``, ``success``) and on the chip as the run ends
  (``onchip_accuracy``, ``onchip_success``: a fresh read of every device per inference,
  ``experiment.summary``).
* deployment (``--deploy RUN_DIR``): the trained networks of a run programmed onto fresh
  chips (``hw.deploy.deploy``, program-and-verify) and judged at times after
  programming (``hw.deploy.judge``). The grid is over device fields plus ``tolerance``
  (of the window) and ``time`` (s after programming). One job = one (device point,
  tolerance) x every seed of the run: one ``deploy`` and one ``judge`` over all the
  grid's times; its record holds one row per (time, seed).

Each finished job is written the moment it finishes, atomically (a temporary name, then
a rename) as ``DIR/runs/<key>.json``, the key a hash of everything that defines the job:
a killed sweep loses no finished job and leaves no half record, and ``--resume DIR``
runs only the missing keys. Jobs are deterministic (seeded), so a local cluster and a
serial run give the same table.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np

from circuits import engines
from hw.crossbar import CrossbarConfig
from hw.deploy import COMPENSATIONS, MAX_ITERATIONS, TOLERANCE, deploy, judge, mapping_window
from hw.devices import DeviceConfig, get_preset

from . import experiment
from .configs import preset
from .hardware import DEVICE_FIELDS, device_field_value
from .runs import RunError, load_run, task_of, write_file_atomically
from .tasks import TASKS, make_task

DEPLOY_KEYS = ("tolerance", "time")  # grid keys of deployment sweeps that are not device fields
SPEC_VERSION = 1
DEPLOY_DEFAULTS = {"instances": 20, "repeats": 10, "drift_compensation": "none", "line_resistance": 0.0,
                   "max_iterations": MAX_ITERATIONS}
DEFAULT_TIMES = [0.0]
TRAIN_COLUMNS = ["seed", "task", "device", "engine", "accuracy", "success", "onchip_accuracy",
                 "onchip_success", "epochs_to_zero", "stable", "sparsity", "wall_seconds"]
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


def load_spec_file(path: Path, deploy_mode: bool = False) -> dict:
    """A TOML sweep file: ``device``, ``task``, ``seeds``, ``epochs``, ``engine`` (training)
    or ``deploy`` (a run folder), ``instances``, ``repeats``, ``drift_compensation``,
    ``line_resistance``, ``max_iterations`` (deployment), and a ``[grid]`` table."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SweepError(f"sweep file {path}: {e}") from None
    grid = data.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise SweepError(f"sweep file {path}: needs a non-empty [grid] table")
    items = []
    for k, v in grid.items():
        vals = v if isinstance(v, list) else [v]
        items.append(f"{k}=" + ",".join(str(x) for x in vals))
    keys = ("device", "task", "seeds", "epochs", "engine", "deploy", *DEPLOY_DEFAULTS)
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

def make_spec(device: str, task: str, seeds: int, epochs: int | None, grid: dict[str, list],
              engine: str = "numpy") -> dict:
    """The full, validated description of a training sweep (stored as ``spec.json``)."""
    if engine not in engines.names():
        raise SweepError(f"--engine {engine!r}: choose from {', '.join(engines.names())}")
    if task not in TASKS:
        raise SweepError(f"--task {task!r}: choose from {', '.join(TASKS)}")
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise SweepError(f"--seeds {seeds!r}: must be an integer >= 1")
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise SweepError(f"--epochs {epochs!r}: must be an integer >= 1")
    base = _base_device(device)
    grid = _check_grid(grid, deploy_mode=False)
    spec = {"version": SPEC_VERSION, "mode": "train", "device": device, "task": task, "seeds": seeds,
            "epochs": epochs, "engine": engine, "grid": grid}
    for point in grid_points(spec):  # every device the grid asks for must be valid
        try:
            replace(base, **point)
        except ValueError as e:
            raise SweepError(f"--grid {point}: {e}") from None
    return spec


def grid_points(spec: dict) -> list[dict]:
    """The device points: every combination of the grid's device fields."""
    keys = [k for k in spec["grid"] if k not in DEPLOY_KEYS]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(spec["grid"][k] for k in keys))]


def run_key(spec: dict, point: dict, seed: int) -> str:
    ident = {k: spec[k] for k in ("version", "device", "task", "epochs")}
    if spec.get("engine", "numpy") != "numpy":  # keys of numpy sweeps stay as they were
        ident["engine"] = spec["engine"]
    ident.update(point=point, seed=seed)
    return _hash(ident)


def _hash(ident: dict) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def run_one(spec: dict, point: dict, seed: int) -> dict:
    """Train one seed on one device variant and judge it, on the weights and on the chip
    (runs on a worker)."""
    start = time.perf_counter()
    pre = preset("default", "deep", False)
    cfg = pre.train if spec["epochs"] is None else replace(pre.train, epochs=spec["epochs"])
    hw = CrossbarConfig(device=replace(get_preset(spec["device"]), **point))
    engine = engines.make_engine(spec.get("engine", "numpy"), cfg)
    exp = experiment.run(make_task(spec["task"]), cfg, [seed], progress=False, hw=hw, engine=engine)
    s = experiment.summary(exp, "deep", "default")["per_seed"][0]
    return {**{f"param_{k}": v for k, v in point.items()}, "seed": seed, "task": spec["task"],
            "device": spec["device"], "engine": spec.get("engine", "numpy"), "accuracy": 1.0 - s["final_error"],
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
    if expect is not None and (_sha256(run.path / "weights.npz") != expect["weights_sha256"]
                               or run.config != expect["config"]):
        raise SweepError(f"--deploy {run_dir}: the run folder changed since the sweep started "
                         "(weights.npz or config.json differ)")
    return run, task


def make_deploy_spec(run_dir, device: str, grid: dict[str, list], instances: int = 20, repeats: int = 10,
                     drift_compensation: str = "none", line_resistance: float = 0.0,
                     max_iterations: int = MAX_ITERATIONS, expect: dict | None = None) -> dict:
    """The full, validated description of a deployment sweep (stored as ``spec.json``):
    the run folder (path, config, seeds, a hash of its weights), the device preset, the
    grid (device fields, ``tolerance``, ``time``) and the judging conditions."""
    run, _ = _load_deploy_run(run_dir, expect)
    for name, v in (("instances", instances), ("repeats", repeats), ("max-iterations", max_iterations)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise SweepError(f"--{name} {v!r}: must be an integer >= 1")
    if drift_compensation not in COMPENSATIONS:
        raise SweepError(f"--drift-compensation {drift_compensation!r}: choose from {', '.join(COMPENSATIONS)}")
    if isinstance(line_resistance, bool) or not isinstance(line_resistance, (int, float)) \
            or not (math.isfinite(line_resistance) and line_resistance >= 0):
        raise SweepError(f"--line-resistance {line_resistance!r}: must be a finite resistance >= 0 ohm")
    base = _base_device(device)
    grid = _check_grid(grid, deploy_mode=True)
    spec = {"version": SPEC_VERSION, "mode": "deploy", "device": device,
            "run": {"path": str(run.path.resolve()), "config": run.config, "seeds": run.seeds,
                    "weights_sha256": _sha256(run.path / "weights.npz")},
            "grid": grid, "instances": instances, "repeats": repeats,
            "drift_compensation": drift_compensation, "line_resistance": float(line_resistance),
            "max_iterations": max_iterations}
    for point in grid_points(spec):  # every device the grid asks for must be valid and mappable
        try:
            mapping_window(replace(base, **point))
        except ValueError as e:
            raise SweepError(f"--grid {point}: {e}") from None
    return spec


def deploy_times(spec: dict) -> list[float]:
    return [float(t) for t in spec["grid"].get("time", DEFAULT_TIMES)]


def deploy_tolerances(spec: dict) -> list[float]:
    return [float(t) for t in spec["grid"].get("tolerance", [TOLERANCE])]


def deploy_key(spec: dict, point: dict, tolerance: float) -> str:
    ident = {k: spec[k] for k in ("version", "mode", "device", *DEPLOY_DEFAULTS)}
    ident.update(run={k: spec["run"][k] for k in ("config", "weights_sha256")}, point=point,
                 tolerance=tolerance, times=deploy_times(spec))
    return _hash(ident)


def run_deploy_job(spec: dict, run, point: dict, tolerance: float) -> dict:
    """Program every network of ``run`` on ``instances`` fresh chips of one device variant
    to ``tolerance`` and judge them at every time: one row per (time, seed) (runs on a
    worker)."""
    start = time.perf_counter()
    task = task_of(run)
    dev = replace(get_preset(spec["device"]), **point)
    times = deploy_times(spec)
    dep = deploy(run.net, run.seeds, dev, spec["instances"], tolerance, spec["max_iterations"])
    res = judge(dep, run.cfg, task.X, task.Y, times, spec["repeats"], spec["drift_compensation"],
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

def jobs(spec: dict) -> list[tuple[str, dict, float | int]]:
    """``(key, device point, x)``: x the seed (training) or the tolerance (deployment)."""
    if spec.get("mode", "train") == "deploy":
        return [(deploy_key(spec, p, tol), p, tol) for p in grid_points(spec) for tol in deploy_tolerances(spec)]
    return [(run_key(spec, p, s), p, s) for p in grid_points(spec) for s in range(spec["seeds"])]


def write_record(out: Path, key: str, record: dict) -> None:
    """Atomically: a finished job is either entirely there or not at all."""
    write_file_atomically(out / "runs" / f"{key}.json", lambda p: p.write_text(json.dumps(record)))


def done_keys(out: Path) -> set[str]:
    return {p.stem for p in (out / "runs").glob("*.json")}


def execute(spec: dict, out: Path, workers: int, scheduler: str | None, progress: bool = True) -> int:
    """Run what is missing in ``out``; serial when ``workers == 0`` and no scheduler."""
    from tqdm import tqdm

    (out / "runs").mkdir(parents=True, exist_ok=True)
    if spec.get("mode", "train") == "deploy":
        run, _ = _load_deploy_run(spec["run"]["path"], spec["run"])  # loaded once, sent to the workers
        call = lambda point, x: (run_deploy_job, spec, run, point, x)
        unit = "job"
    else:
        call = lambda point, x: (run_one, spec, point, x)
        unit = "run"
    every = jobs(spec)
    todo = [j for j in every if j[0] not in done_keys(out)]
    bar = tqdm(total=len(every), initial=len(every) - len(todo), desc=f"sweep {unit}s", unit=unit,
               disable=not progress)
    cluster = None
    try:
        if workers == 0 and scheduler is None:
            for key, point, x in todo:
                fn, *args = call(point, x)
                write_record(out, key, fn(*args))
                bar.update(1)
            return len(todo)
        from dask.distributed import Client, LocalCluster, as_completed

        if not scheduler:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        with Client(scheduler or cluster) as client:
            futures = {client.submit(*call(point, x), key=f"{unit}-{key}", pure=False): key
                       for key, point, x in todo}
            for fut in as_completed(futures):
                write_record(out, futures[fut], fut.result())
                bar.update(1)
        return len(todo)
    finally:
        if cluster is not None:
            cluster.close()
        bar.close()


# ---- outputs ------------------------------------------------------------------------------------------

def table(out: Path, spec: dict | None = None):
    """The tidy results table: one row per finished run (training) or per (point,
    tolerance, time, seed) (deployment). Columns a record does not have (records of an
    older version) are NaN."""
    import pandas as pd

    rows = []
    for p in sorted((out / "runs").glob("*.json")):
        rec = json.loads(p.read_text())
        rows.extend(rec["rows"] if "rows" in rec else [rec])
    df = pd.DataFrame(rows)
    deploy_mode = (spec or {}).get("mode", "deploy" if "time" in df.columns else "train") == "deploy"
    params = [c for c in df.columns if c.startswith("param_")]
    known = DEPLOY_COLUMNS if deploy_mode else TRAIN_COLUMNS
    for c in known:
        if c not in df.columns:
            df[c] = np.nan
    if "onchip_success" in df.columns and df["onchip_success"].isna().any():
        df["onchip_success"] = df["onchip_success"].astype("boolean")  # True / False / missing
    df = df[params + known + [c for c in df.columns if c not in params and c not in known]]
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
    write_file_atomically(out / "results.parquet", lambda p: df.to_parquet(p, index=False), suffix=".parquet")
    for key in plotted(spec):
        write_file_atomically(out / f"sweep_{key}.png", lambda p: plots.curves(df, spec, key, p), suffix=".png")
    return df


def summarise(df, spec: dict):
    """Means per grid point (training) or per (point, tolerance, time) (deployment)."""
    params = [c for c in df.columns if c.startswith("param_")]
    if spec.get("mode", "train") == "deploy":
        num = df.assign(**{c: as_floats(df[c]) for c in ("accuracy", "p_all_correct", "p_stable")})
        return num.groupby(params + ["tolerance", "time"], dropna=False, sort=False).agg(
            seeds=("seed", "count"), accuracy=("accuracy", "mean"), p_all_correct=("p_all_correct", "mean"),
            p_stable=("p_stable", "mean"), pulses=("pulses_mean", "mean"),
            program_error_rms=("program_error_rms", "mean")).reset_index()
    num = df.assign(**{c: as_floats(df[c]) for c in ("success", "onchip_success", "stable", "onchip_accuracy")})
    return num.groupby(params, dropna=False, sort=False).agg(
        runs=("seed", "count"), accuracy=("accuracy", "mean"), success=("success", "mean"),
        onchip_accuracy=("onchip_accuracy", "mean"), onchip_success=("onchip_success", "mean"),
        p_stable=("stable", "mean"), wall_s=("wall_seconds", "mean")).reset_index()
