"""`deepxbar sweep`: a grid over device parameters x seeds, scheduled by Dask.

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
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from circuits import engines
from hw.crossbar import CrossbarConfig
from hw.deploy import COMPENSATIONS, MAX_ITERATIONS, TOLERANCE, deploy, judge, mapping_window
from hw.devices import PRESETS, DeviceConfig, get_preset

from . import experiment
from .configs import preset
from .hardware import device_field_value
from .options import number
from .runs import RunError, load_run, task_of, write_file_atomically
from .tasks import TASKS, make_task

SWEEP_FIELDS = {f.name: f for f in fields(DeviceConfig) if f.name != "name"}
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
    return [*SWEEP_FIELDS, *DEPLOY_KEYS] if deploy_mode else list(SWEEP_FIELDS)


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
        codes = [_code(v) for v in values]
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
    try:
        if workers == 0 and scheduler is None:
            for key, point, x in todo:
                fn, *args = call(point, x)
                write_record(out, key, fn(*args))
                bar.update(1)
            return len(todo)
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                      processes=True, dashboard_address=None)
        with Client(scheduler or cluster) as client:
            futures = {client.submit(*call(point, x), key=f"{unit}-{key}", pure=False): key
                       for key, point, x in todo}
            for fut in as_completed(futures):
                write_record(out, futures[fut], fut.result())
                bar.update(1)
        if cluster is not None:
            cluster.close()
        return len(todo)
    finally:
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


def _code(v):
    """A hashable, comparable code of a grid value: None and NaN alike, 16 == 16.0."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "none"
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    return str(v)


def _floats(col) -> np.ndarray:
    """A column of numbers or booleans, missing values included, as floats (NaN)."""
    return col.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _numeric(values) -> bool:
    return all(isinstance(_code(v), float) for v in values)


def _when(t: float) -> str:
    from .deploy import _when as when
    return when(float(t))


def _curves(df, xcol: str, xvals: list, metric: str, by: list[str]):
    """Per value of the ``by`` columns: (their codes, mean, s.e.m.) of ``metric`` at every x
    (grid order), the mean first over the rows of a seed (the other parameters), then
    over the seeds."""
    d = df.assign(_x=df[xcol].map(_code), **{f"_{c}": df[c].map(_code) for c in by})
    d[metric] = _floats(d[metric])
    keys = [f"_{c}" for c in by]
    xs = [_code(v) for v in xvals]
    out = []
    groups = d.groupby(keys, sort=False) if keys else [((), d)]
    for combo, g in groups:
        per_seed = g.groupby(["_x", "seed"], sort=False)[metric].mean().groupby(level=0, sort=False)
        mean = per_seed.mean().reindex(xs).to_numpy(float)
        sem = per_seed.sem().reindex(xs).fillna(0).to_numpy(float)
        combo = combo if isinstance(combo, tuple) else (combo,)
        out.append((combo, mean, sem))
    return out


def _combo_label(by: list[str], combo: tuple) -> str:
    parts = []
    for c, v in zip(by, combo):
        name = c.removeprefix("param_")
        parts.append(_when(v) if name == "time" else f"{name} = {v:g}" if isinstance(v, float) else f"{name} = {v}")
    return ", ".join(parts)


def _plot(df, spec: dict, key: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    deploy_mode = spec.get("mode", "train") == "deploy"
    grid = spec["grid"]
    xcol = key if key in DEPLOY_KEYS else f"param_{key}"
    xvals = grid[key] if key in grid else DEFAULT_TIMES
    numeric = _numeric(xvals)
    x = np.array([_code(v) for v in xvals], float) if numeric else np.arange(len(xvals))
    if deploy_mode:
        metrics = [("accuracy", "accuracy (mean over chips)"), ("p_all_correct", "P(all correct)"),
                   ("p_stable", "P(stable)")]
        if key == "time":  # one line per combination of the other swept parameters (up to 8)
            others = [k for k in grid if k != "time" and len(grid[k]) > 1]
            n = int(np.prod([len(grid[k]) for k in others])) if others else 1
            by = [k if k in DEPLOY_KEYS else f"param_{k}" for k in others] if n <= 8 else []
        else:
            by = ["time"]
        run = Path(spec["run"]["path"]).name
        what = f"{spec['device']}, run {run}, {len(spec['run']['seeds'])} seeds x {spec['instances']} chips"
    else:
        metrics = [("accuracy", "accuracy"), ("stable", "P(stable)")]
        by = []
        what = f"{spec['device']}, {spec['task']}, {spec['seeds']} seeds"
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), constrained_layout=True)
    for ax, (metric, label) in zip(axes, metrics):
        series = [(metric, "")]
        if metric == "accuracy" and not deploy_mode and df["onchip_accuracy"].notna().any():
            series = [("accuracy", "trained weights"), ("onchip_accuracy", "on chip")]
        for j, (m, name) in enumerate(series):
            for c, (combo, mean, sem) in enumerate(_curves(df, xcol, xvals, m, by)):
                lab = ", ".join(s for s in (name, _combo_label(by, combo)) if s) or None
                style = "o-" if j == 0 else "s--"
                color = f"C{c + j}"
                ax.plot(x, mean, style, color=color, label=lab)
                ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.2)
        if not numeric:
            ax.set_xticks(x, [str(v) for v in xvals])
        elif key == "time":
            ax.set_xscale("symlog" if x.min() <= 0 else "log", **({"linthresh": 1.0} if x.min() <= 0 else {}))
            if len(x) <= 8:
                ax.set_xticks(x, [_when(v) for v in x], rotation=30, fontsize=8)
                ax.minorticks_off()
        ax.set(xlabel=key + (" (s after programming)" if key == "time" else ""), ylabel=label,
               ylim=(-0.05, 1.05))
        ax.set_title(f"{label} vs {key}\n({what}; band = s.e.m. over seeds)", fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    write_file_atomically(path, lambda p: fig.savefig(p, dpi=100, format="png"), suffix=".png")
    plt.close(fig)


def plotted(spec: dict) -> list[str]:
    """The grid keys that get a plot: those with more than one value."""
    return [k for k, v in spec["grid"].items() if len(v) > 1]


def write_outputs(out: Path, spec: dict) -> "object":
    df = table(out, spec)
    write_file_atomically(out / "results.csv", lambda p: df.to_csv(p, index=False))
    write_file_atomically(out / "results.parquet", lambda p: df.to_parquet(p, index=False), suffix=".parquet")
    for key in plotted(spec):
        _plot(df, spec, key, out / f"sweep_{key}.png")
    return df


def summarise(df, spec: dict):
    """Means per grid point (training) or per (point, tolerance, time) (deployment)."""
    params = [c for c in df.columns if c.startswith("param_")]
    if spec.get("mode", "train") == "deploy":
        num = df.assign(**{c: _floats(df[c]) for c in ("accuracy", "p_all_correct", "p_stable")})
        return num.groupby(params + ["tolerance", "time"], dropna=False, sort=False).agg(
            seeds=("seed", "count"), accuracy=("accuracy", "mean"), p_all_correct=("p_all_correct", "mean"),
            p_stable=("p_stable", "mean"), pulses=("pulses_mean", "mean"),
            program_error_rms=("program_error_rms", "mean")).reset_index()
    num = df.assign(**{c: _floats(df[c]) for c in ("success", "onchip_success", "stable", "onchip_accuracy")})
    return num.groupby(params, dropna=False, sort=False).agg(
        runs=("seed", "count"), accuracy=("accuracy", "mean"), success=("success", "mean"),
        onchip_accuracy=("onchip_accuracy", "mean"), onchip_success=("onchip_success", "mean"),
        p_stable=("stable", "mean"), wall_s=("wall_seconds", "mean")).reset_index()


# ---- the command ------------------------------------------------------------------------------------

def add_sweep_parser(sub) -> None:
    """``deepxbar sweep`` and its options."""
    p = sub.add_parser(
        "sweep", help="grid over device parameters x seeds (training or deployment), on Dask",
        description="Train the default DEEP config on crossbars for every point of a grid over device "
        "parameters and every seed, judged on the weights and on the chip; or (--deploy RUN_DIR) program "
        "the trained networks of a run onto fresh chips for every point of a grid over device parameters, "
        "tolerance and time after programming. Each finished job is saved at once (atomically), --resume "
        "runs only what is missing.")
    p.add_argument("--grid", action="append", default=[], metavar="PARAM=V1,V2,...",
                   help="device parameter and its values (SI units; strings for response/depression, "
                   "none for levels/d2d_floor); with --deploy also tolerance=F,... (of the window) and "
                   "time=S,... (s after programming, increasing); repeatable")
    p.add_argument("--file", type=Path, help="a TOML sweep file: device, task, seeds, epochs, engine (or deploy, "
                   "instances, repeats, drift_compensation, line_resistance, max_iterations) and a [grid] table")
    p.add_argument("--device", choices=sorted(PRESETS), default="rram", help="base preset (default rram)")
    p.add_argument("--task", choices=TASKS, help="training: logic task (default xor)")
    p.add_argument("--seeds", type=number(int, 1), metavar="K", help="training: seeds 0..K-1 (default 10)")
    p.add_argument("--epochs", type=number(int, 1), help="training: default: the default config's")
    p.add_argument("--engine", choices=engines.names(), help="training: what settles the phases (default numpy)")
    p.add_argument("--deploy", type=Path, metavar="RUN_DIR",
                   help="sweep the deployment of this trained run instead of training (every seed of the run)")
    p.add_argument("--instances", type=number(int, 1), metavar="K",
                   help=f"--deploy: fresh chips per network (default {DEPLOY_DEFAULTS['instances']})")
    p.add_argument("--repeats", type=number(int, 1), metavar="R",
                   help=f"--deploy: inferences per chip and time (default {DEPLOY_DEFAULTS['repeats']})")
    p.add_argument("--drift-compensation", choices=COMPENSATIONS, help="--deploy: default none")
    p.add_argument("--line-resistance", type=number(float, 0.0), metavar="OHMS",
                   help="--deploy: wire resistance per crossbar segment (default 0)")
    p.add_argument("--max-iterations", type=number(int, 1), metavar="M",
                   help=f"--deploy: program-and-verify iterations at most (default {MAX_ITERATIONS})")
    p.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2; 0 = serial)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask scheduler instead")
    p.add_argument("--out", type=Path, help="sweep folder (default: sweeps/DEVICE-TASK-TIME, "
                   "sweeps/deploy-RUN-DEVICE-TIME)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="finish the sweep in DIR")
    p.add_argument("--json", action="store_true")


_TRAIN_ONLY = ("task", "seeds", "epochs", "engine")


def _spec_from_args(args) -> dict:
    given = {k: getattr(args, k, None) for k in (*_TRAIN_ONLY, "deploy", *DEPLOY_DEFAULTS)}
    file = load_spec_file(args.file, deploy_mode=given["deploy"] is not None) if args.file else {}
    if file and args.grid:
        raise SweepError("--grid and --file: give the grid in one place")
    merged = {**{k: v for k, v in given.items() if v is not None}, **{k: v for k, v in file.items() if k != "grid"}}
    device = file.get("device", args.device)
    grid = file["grid"] if file else None
    if merged.get("deploy") is not None:
        wrong = [k for k in _TRAIN_ONLY if merged.get(k) is not None]
        if wrong:
            raise SweepError(f"--{wrong[0]}: does not apply with --deploy (the run's networks are deployed)")
        if grid is None:
            grid = parse_grid(args.grid, deploy_mode=True)
        opts = {k: merged.get(k, d) for k, d in DEPLOY_DEFAULTS.items()}
        return make_deploy_spec(merged["deploy"], device, grid, **opts)
    wrong = [k for k in DEPLOY_DEFAULTS if merged.get(k) is not None]
    if wrong:
        raise SweepError(f"--{wrong[0].replace('_', '-')}: applies with --deploy RUN_DIR only")
    if grid is None:
        grid = parse_grid(args.grid)
    return make_spec(device, merged.get("task", "xor"), merged.get("seeds", 10), merged.get("epochs"), grid,
                     merged.get("engine", "numpy"))


def _resume_spec(out: Path) -> dict:
    try:
        spec = json.loads((out / "spec.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SweepError(f"--resume {out}: no readable spec.json ({e.__class__.__name__})") from None
    if spec.get("mode", "train") == "deploy":
        return make_deploy_spec(spec["run"]["path"], spec["device"], spec["grid"],
                                **{k: spec[k] for k in DEPLOY_DEFAULTS}, expect=spec["run"])
    return make_spec(spec["device"], spec["task"], spec["seeds"], spec["epochs"], spec["grid"],
                     spec.get("engine", "numpy"))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


def cmd_sweep(args) -> int:
    """Start a sweep (``--grid``/``--file``, ``--deploy``) in ``--out``, or finish one
    (``--resume DIR``)."""
    if args.workers < 0:
        raise SweepError(f"--workers {args.workers}: must be >= 0 (0: serial, in this process)")
    if args.resume:
        out = Path(args.resume)
        spec = _resume_spec(out)
    else:
        spec = _spec_from_args(args)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        default = (f"sweeps/deploy-{Path(spec['run']['path']).name}-{spec['device']}-{stamp}"
                   if spec["mode"] == "deploy" else f"sweeps/{spec['device']}-{spec['task']}-{stamp}")
        out = Path(args.out or default)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise SweepError(f"--out {out}: exists and is not empty (use --resume {out} to continue it)")
        write_file_atomically(out / "spec.json", lambda p: p.write_text(json.dumps(spec, indent=2)))
    ran = execute(spec, out, args.workers, args.scheduler, progress=not args.json)
    df = write_outputs(out, spec)
    summary = summarise(df, spec)
    deploy_mode = spec["mode"] == "deploy"
    unit = "jobs" if deploy_mode else "runs"
    files = ", ".join(["results.csv", "results.parquet", *(f"sweep_{k}.png" for k in plotted(spec))])
    if args.json:
        print(json.dumps({"out": str(out), "mode": spec["mode"], "ran": ran, "jobs": len(jobs(spec)),
                          "runs": len(df), "summary": json.loads(summary.to_json(orient="records", double_precision=15))}))
        return 0
    if deploy_mode:
        summary["time"] = summary["time"].map(_when)
        tol = ""
        if "tolerance" not in spec["grid"]:
            summary = summary.drop(columns="tolerance")
            tol = f"tolerance {TOLERANCE:g} of the window, "
        print(f"{spec['run']['path']} on {spec['device']}: {len(spec['run']['seeds'])} networks x "
              f"{spec['instances']} chips, {spec['repeats']} inferences per chip and time, {tol}drift "
              f"compensation {spec['drift_compensation']}, wires {spec['line_resistance']:g} ohm")
    print(summary.to_string(index=False, formatters={c: _fmt for c in summary.columns}))
    print(f"{len(df)} rows ({ran} new {unit} of {len(jobs(spec))}) in {out}: {files}" if deploy_mode
          else f"{len(df)} runs ({ran} new) in {out}: {files}")
    return 0
