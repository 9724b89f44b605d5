"""`deepxbar sweep`: a grid over device parameters x seeds, scheduled by Dask.

Every (grid point, seed) is one run, trained on its own crossbar with the default
config. Each finished run is written the moment it finishes, atomically (a temporary
name, then a rename) as ``DIR/runs/<key>.json``, the key a hash of everything that
defines the run: a killed sweep loses no finished run and leaves no half record, and
``--resume DIR`` runs only the missing keys. Runs are deterministic (seeded), so a
local cluster and a serial run give the same table.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
import tomllib
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from hw.crossbar import CrossbarConfig
from hw.devices import DeviceConfig, get_preset

from . import experiment
from .configs import preset
from .runs import write_file_atomically
from .tasks import TASKS, make_task

SWEEP_FIELDS = {f.name: f for f in fields(DeviceConfig) if f.name not in ("name", "response")}
SPEC_VERSION = 1


class SweepError(ValueError):
    """A sweep refused before anything runs; one line for the user."""


def _value(key: str, text) -> float | int | None:
    if key == "levels":
        if str(text).lower() == "none":
            return None
        try:
            return int(text)
        except ValueError:
            raise SweepError(f"--grid {key}: {text!r} is not an integer (or none)") from None
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise SweepError(f"--grid {key}: {text!r} is not a number") from None
    if not np.isfinite(v):
        raise SweepError(f"--grid {key}: {text!r} is not finite")
    return v


def parse_grid(items: list[str]) -> dict[str, list]:
    grid: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or key not in SWEEP_FIELDS:
            raise SweepError(f"--grid {item!r}: expected PARAM=V1,V2,... with PARAM one of {', '.join(SWEEP_FIELDS)}")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not parts:
            raise SweepError(f"--grid {key}: empty list of values")
        if key in grid:
            raise SweepError(f"--grid {key}: given twice")
        grid[key] = [_value(key, v) for v in parts]
    return grid


def load_spec_file(path: Path) -> dict:
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
    spec = {k: data[k] for k in ("device", "task", "seeds", "epochs", "engine") if k in data}
    spec["grid"] = parse_grid(items)
    return spec


def make_spec(device: str, task: str, seeds: int, epochs: int | None, grid: dict[str, list],
              engine: str = "numpy") -> dict:
    """The full, validated sweep description (stored as ``spec.json``)."""
    if engine not in experiment.ENGINES:
        raise SweepError(f"--engine {engine!r}: choose from {', '.join(experiment.ENGINES)}")
    if task not in TASKS:
        raise SweepError(f"--task {task!r}: choose from {', '.join(TASKS)}")
    if not isinstance(seeds, int) or seeds < 1:
        raise SweepError(f"--seeds {seeds!r}: must be an integer >= 1")
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise SweepError(f"--epochs {epochs!r}: must be an integer >= 1")
    try:
        base = get_preset(device)
    except ValueError as e:
        raise SweepError(f"--device: {e}") from None
    if not grid:
        raise SweepError("--grid: give at least one PARAM=V1,V2,...")
    spec = {"version": SPEC_VERSION, "device": device, "task": task, "seeds": seeds,
            "epochs": epochs, "engine": engine, "grid": grid}
    for point in grid_points(spec):  # every device the grid asks for must be valid
        try:
            replace(base, **point)
        except ValueError as e:
            raise SweepError(f"--grid {point}: {e}") from None
    return spec


def grid_points(spec: dict) -> list[dict]:
    keys = list(spec["grid"])
    return [dict(zip(keys, combo)) for combo in itertools.product(*(spec["grid"][k] for k in keys))]


def run_key(spec: dict, point: dict, seed: int) -> str:
    ident = {k: spec[k] for k in ("version", "device", "task", "epochs")}
    if spec.get("engine", "numpy") != "numpy":  # keys of numpy sweeps stay as they were
        ident["engine"] = spec["engine"]
    ident.update(point=point, seed=seed)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def jobs(spec: dict) -> list[tuple[str, dict, int]]:
    return [(run_key(spec, p, s), p, s) for p in grid_points(spec) for s in range(spec["seeds"])]


def run_one(spec: dict, point: dict, seed: int) -> dict:
    """Train one seed on one device variant and judge it (runs on a worker)."""
    start = time.perf_counter()
    pre = preset("default", "deep", False)
    cfg = pre.train if spec["epochs"] is None else replace(pre.train, epochs=spec["epochs"])
    hw = CrossbarConfig(device=replace(get_preset(spec["device"]), **point))
    engine = experiment.make_engine(spec.get("engine", "numpy"), cfg)
    exp = experiment.run(make_task(spec["task"]), cfg, [seed], progress=False, hw=hw, engine=engine)
    s = experiment.summary(exp, "deep", "default")["per_seed"][0]
    return {**{f"param_{k}": v for k, v in point.items()}, "seed": seed, "task": spec["task"],
            "device": spec["device"], "engine": spec.get("engine", "numpy"), "accuracy": 1.0 - s["final_error"], "success": s["success"],
            "epochs_to_zero": s["epochs_to_zero"], "stable": s["stable"], "sparsity": s["sparsity"],
            "wall_seconds": round(time.perf_counter() - start, 3)}


def write_record(out: Path, key: str, record: dict) -> None:
    """Atomically: a finished run is either entirely there or not at all."""
    write_file_atomically(out / "runs" / f"{key}.json", lambda p: p.write_text(json.dumps(record)))


def done_keys(out: Path) -> set[str]:
    return {p.stem for p in (out / "runs").glob("*.json")}


def execute(spec: dict, out: Path, workers: int, scheduler: str | None, progress: bool = True) -> int:
    """Run what is missing in ``out``; serial when ``workers == 0`` and no scheduler."""
    from tqdm import tqdm

    (out / "runs").mkdir(parents=True, exist_ok=True)
    todo = [j for j in jobs(spec) if j[0] not in done_keys(out)]
    total = len(jobs(spec))
    bar = tqdm(total=total, initial=total - len(todo), desc="sweep runs", unit="run", disable=not progress)
    try:
        if workers == 0 and scheduler is None:
            for key, point, seed in todo:
                write_record(out, key, run_one(spec, point, seed))
                bar.update(1)
            return len(todo)
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                      processes=True, dashboard_address=None)
        with Client(scheduler or cluster) as client:
            futures = {client.submit(run_one, spec, point, seed, key=f"run-{key}", pure=False): key
                       for key, point, seed in todo}
            for fut in as_completed(futures):
                write_record(out, futures[fut], fut.result())
                bar.update(1)
        if cluster is not None:
            cluster.close()
        return len(todo)
    finally:
        bar.close()


def table(out: Path):
    """The tidy results table: one row per finished run."""
    import pandas as pd

    rows = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    df = pd.DataFrame(rows)
    params = [c for c in df.columns if c.startswith("param_")]
    return df.sort_values(params + ["seed"]).reset_index(drop=True)


def write_outputs(out: Path, spec: dict) -> "object":
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = table(out)
    df.to_csv(out / "results.csv", index=False)
    df.to_parquet(out / "results.parquet", index=False)
    for key in spec["grid"]:
        col = f"param_{key}"
        g = df.groupby(col)
        x = np.array(sorted(df[col].dropna().unique()), dtype=float)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        for ax, metric, label in ((axes[0], "accuracy", "accuracy"), (axes[1], "stable", "P(stable)")):
            mean = g[metric].mean().reindex(x).to_numpy(dtype=float)
            sem = g[metric].sem().reindex(x).fillna(0).to_numpy(dtype=float)
            ax.plot(x, mean, "o-")
            ax.fill_between(x, mean - sem, mean + sem, alpha=0.25)
            ax.set(xlabel=key, ylabel=label, ylim=(-0.05, 1.05),
                   title=f"{label} vs {key} ({spec['device']}, {spec['task']}, {spec['seeds']} seeds; band = s.e.m.)")
        fig.savefig(out / f"sweep_{key}.png", dpi=100)
        plt.close(fig)
    return df


def cmd_sweep(args) -> int:
    """Start a sweep (``--grid``/``--file``) in ``--out``, or finish one (``--resume DIR``)."""
    if args.resume:
        out = Path(args.resume)
        try:
            spec = json.loads((out / "spec.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SweepError(f"--resume {out}: no readable spec.json ({e.__class__.__name__})") from None
        spec = make_spec(spec["device"], spec["task"], spec["seeds"], spec["epochs"], spec["grid"],
                         spec.get("engine", "numpy"))
    else:
        if args.file:
            f = load_spec_file(args.file)
            spec = make_spec(f.get("device", args.device), f.get("task", args.task),
                             f.get("seeds", args.seeds), f.get("epochs", args.epochs), f["grid"],
                             f.get("engine", args.engine))
        else:
            spec = make_spec(args.device, args.task, args.seeds, args.epochs, parse_grid(args.grid),
                             args.engine)
        out = Path(args.out or f"sweeps/{spec['device']}-{spec['task']}-{time.strftime('%Y%m%d-%H%M%S')}")
        if out.exists() and any(out.iterdir()):
            raise SweepError(f"--out {out}: exists and is not empty (use --resume {out} to continue it)")
        write_file_atomically(out / "spec.json", lambda p: p.write_text(json.dumps(spec, indent=2)))
    if args.workers < 0:
        raise SweepError(f"--workers {args.workers}: must be >= 0 (0: serial, in this process)")
    ran = execute(spec, out, args.workers, args.scheduler, progress=not args.json)
    df = write_outputs(out, spec)
    params = [c for c in df.columns if c.startswith("param_")]
    summary = df.groupby(params).agg(runs=("seed", "count"), accuracy=("accuracy", "mean"),
                                     success=("success", "mean"), p_stable=("stable", "mean"),
                                     wall_s=("wall_seconds", "mean")).reset_index()
    if args.json:
        print(json.dumps({"out": str(out), "ran": ran, "runs": len(df),
                          "summary": summary.to_dict(orient="records")}))
    else:
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        print(f"{len(df)} runs ({ran} new) in {out}: results.csv, results.parquet, "
              + ", ".join(f"sweep_{k}.png" for k in spec["grid"]))
    return 0
