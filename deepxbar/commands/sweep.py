"""`deepxbar sweep`: start a sweep over a grid (training on a logic task or a data set, or
deployment) or finish one."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from circuits import engines
from hw.deploy import COMPENSATIONS, MAX_ITERATIONS, TOLERANCE
from hw.devices import PRESETS

from .. import data, interrupts
from ..experiment import STABILITY_SAMPLES
from ..formats import when
from ..options import (MAX_BATCH, MAX_EPOCHS, MAX_INSTANCES, MAX_REPEATS, MAX_SAMPLES, MAX_SEEDS,
                       MAX_VERIFY_ITERATIONS, UsageError, count, line_resistance, number, seed_type)
from ..runs import RunError, check_writable, write_file_atomically
from ..sweep import (CONNECT_TIMEOUT, DEPLOY_DEFAULTS, SweepError, SweepFailure, check_path, dask_client, done_keys,
                     failures, finished, jobs, load_spec_file, make_deploy_spec, make_spec, parse_grid, plotted,
                     run_jobs, summarise, write_outputs)
from ..tasks import TASKS


def add_parser(sub):
    """``deepxbar sweep`` and its options."""
    p = sub.add_parser(
        "sweep", help="grid over device parameters x seeds (training or deployment), on Dask",
        description="Train the default DEEP config (on a data set: the data preset train picks) on crossbars "
        "for every point of a grid over device parameters and every seed, judged on the weights and on the "
        "chip (on a data set: test accuracy); or (--deploy RUN_DIR) program "
        "the trained networks of a run onto fresh chips for every point of a grid over device parameters, "
        "tolerance and time after programming. Each finished job is saved at once (atomically), --resume "
        "runs only what is missing (and what failed). A job whose Dask worker dies is tried again on another "
        "worker (Dask's distributed.scheduler.allowed-failures, default 3), then recorded as failed; a failed "
        "job is in results.csv with its error (column error) and the exit code is 1. Interrupted (Ctrl-C, "
        "SIGTERM), the sweep keeps every finished job, shuts its cluster down and says how to resume.")
    p.add_argument("--grid", action="append", default=[], metavar="PARAM=V1,V2,...",
                   help="device parameter and its values (SI units; strings for response/depression, "
                   "none for levels/d2d_floor); with --deploy also tolerance=F,... (of the window) and "
                   "time=S,... (s after programming, increasing); repeatable")
    p.add_argument("--file", type=Path, help="a TOML sweep file: device, task or data (label, split_seed, "
                   "test_fraction, large, batch_size), seeds, epochs, engine (or deploy, instances, repeats, "
                   "drift_compensation, line_resistance, max_iterations, samples) and a [grid] table")
    p.add_argument("--device", choices=sorted(PRESETS), default="rram", help="base preset (default rram)")
    p.add_argument("--task", choices=TASKS, help="training: logic task (default xor, unless --data)")
    p.add_argument("--data", metavar="NAME|FILE",
                   help=f"training: a classification data set instead of a logic task: {', '.join(data.DATASETS)} "
                   "(loaded by each worker from scikit-learn) or a .npz (X, y) or .csv file (read by each "
                   "worker from its path: it must be visible there; recorded with its sha256, so a changed "
                   "file is refused on --resume); judged by test accuracy")
    p.add_argument("--label", metavar="COLUMN", help="--data FILE.csv: the column that holds the classes")
    p.add_argument("--split-seed", type=seed_type,
                   help="--data: seed of the stratified train/test split (default 0)")
    p.add_argument("--test-fraction", type=number(float, 0.0, inclusive=False, below=1.0), metavar="F",
                   help="--data: fraction held out for testing, 0 < F < 1 (default 0.2)")
    p.add_argument("--large", action="store_true", default=None,
                   help=f"--data: accept more than {data.MAX_VALUES:,} feature values")
    p.add_argument("--batch-size", type=count(MAX_BATCH), metavar="B",
                   help="training: minibatch size (default: the preset's, as train: 32 for data sets of more "
                   "than 1,000 training samples, else the full batch)")
    p.add_argument("--seeds", type=count(MAX_SEEDS), metavar="K",
                   help=f"training: seeds 0..K-1, K from 1 to {MAX_SEEDS:,} (default 10)")
    p.add_argument("--epochs", type=count(MAX_EPOCHS),
                   help=f"training: 1 to {MAX_EPOCHS:,} (default: the default config's)")
    p.add_argument("--engine", choices=engines.names(), help="training: what settles the phases (default numpy)")
    p.add_argument("--deploy", type=Path, metavar="RUN_DIR",
                   help="sweep the deployment of this trained run instead of training (every seed of the run)")
    p.add_argument("--instances", type=count(MAX_INSTANCES), metavar="K",
                   help=f"--deploy: fresh chips per network (default {DEPLOY_DEFAULTS['instances']})")
    p.add_argument("--repeats", type=count(MAX_REPEATS), metavar="R",
                   help=f"--deploy: inferences per chip and time (default {DEPLOY_DEFAULTS['repeats']})")
    p.add_argument("--drift-compensation", choices=COMPENSATIONS, help="--deploy: default none")
    p.add_argument("--line-resistance", type=line_resistance, metavar="OHMS",
                   help="--deploy: wire resistance per crossbar segment (default 0)")
    p.add_argument("--max-iterations", type=count(MAX_VERIFY_ITERATIONS), metavar="M",
                   help=f"--deploy: program-and-verify iterations at most (default {MAX_ITERATIONS})")
    p.add_argument("--samples", type=count(MAX_SAMPLES), metavar="N",
                   help=f"--deploy of a data-set run: judge on its first N test samples (default "
                   f"{STABILITY_SAMPLES}, as deploy)")
    p.add_argument("--workers", type=int, default=2, help="local Dask workers, at most 4 per CPU (default 2; "
                   "0 = serial, in this process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask scheduler instead (its "
                   "workers need deepxbar installed)")
    p.add_argument("--connect-timeout", type=number(float, 0.0, inclusive=False, below=86400.0), metavar="SECONDS",
                   default=CONNECT_TIMEOUT, help=f"--scheduler: give up when it cannot be reached, or has no "
                   f"worker, within this long (default {CONNECT_TIMEOUT:g})")
    p.add_argument("--out", type=Path, help="sweep folder (default: sweeps/DEVICE-TASK-TIME, "
                   "sweeps/deploy-RUN-DEVICE-TIME)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="finish the sweep in DIR")
    p.add_argument("--json", action="store_true")
    return p


_DATA_ONLY = ("label", "split_seed", "test_fraction", "large")
_TRAIN_ONLY = ("task", "data", *_DATA_ONLY, "batch_size", "seeds", "epochs", "engine")
_DEPLOY_ONLY = (*DEPLOY_DEFAULTS, "samples")


def _option(key: str) -> str:
    return "--" + key.replace("_", "-")


def _spec_from_args(args) -> dict:
    given = {k: getattr(args, k, None) for k in (*_TRAIN_ONLY, "deploy", *_DEPLOY_ONLY)}
    file = load_spec_file(args.file, deploy_mode=given["deploy"] is not None) if args.file else {}
    if file and args.grid:
        raise SweepError("--grid and --file: give the grid in one place")
    merged = {**{k: v for k, v in given.items() if v is not None}, **{k: v for k, v in file.items() if k != "grid"}}
    device = file.get("device", args.device)
    grid = file["grid"] if file else None
    if merged.get("deploy") is not None:
        wrong = [k for k in _TRAIN_ONLY if merged.get(k) is not None]
        if wrong:
            raise SweepError(f"{_option(wrong[0])}: does not apply with --deploy (the run's networks are deployed)")
        if grid is None:
            grid = parse_grid(args.grid, deploy_mode=True)
        opts = {k: merged.get(k, d) for k, d in DEPLOY_DEFAULTS.items()}
        return make_deploy_spec(merged["deploy"], device, grid, **opts, samples=merged.get("samples"))
    wrong = [k for k in _DEPLOY_ONLY if merged.get(k) is not None]
    if wrong:
        raise SweepError(f"{_option(wrong[0])}: applies with --deploy RUN_DIR only")
    source = None
    if merged.get("data") is not None:
        if merged.get("task") is not None:
            raise SweepError("--task and --data exclude each other (a logic task or a data set)")
        source = {"source": merged["data"], "label": merged.get("label"), "split_seed": merged.get("split_seed", 0),
                  "test_fraction": merged.get("test_fraction", 0.2), "large": merged.get("large", False)}
    else:
        wrong = [k for k in _DATA_ONLY if merged.get(k) is not None]
        if wrong:
            raise SweepError(f"{_option(wrong[0])}: applies to --data only")
    if grid is None:
        grid = parse_grid(args.grid)
    return make_spec(device, None if source else merged.get("task", "xor"), merged.get("seeds", 10),
                     merged.get("epochs"), grid, merged.get("engine", "numpy"), source, merged.get("batch_size"))


def _resume_spec(out: Path) -> dict:
    """The spec of the sweep in ``out``, validated again as a new sweep's (SweepError for
    a missing, unreadable or malformed spec.json)."""
    try:
        spec = json.loads((out / "spec.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SweepError(f"--resume {out}: no readable spec.json ({e.__class__.__name__})") from None
    try:
        if spec.get("mode", "train") == "deploy":
            run = spec["run"]
            if not isinstance(run, dict) or not isinstance(run.get("path"), str):
                raise TypeError("run.path is not a folder's path")
            return make_deploy_spec(run["path"], spec["device"], spec["grid"],
                                    **{k: spec[k] for k in DEPLOY_DEFAULTS}, samples=spec.get("samples"),
                                    expect=run)
        data = spec.get("data")
        if data is not None and not isinstance(data, dict):
            raise TypeError("data is not a JSON object")
        return make_spec(spec["device"], None if data is not None else spec["task"], spec["seeds"], spec["epochs"],
                         spec["grid"], spec.get("engine", "numpy"), data, spec.get("batch_size"))
    except (AttributeError, KeyError, TypeError) as e:  # SweepError: a value of the right kind, refused
        what = f"lacks {e}" if isinstance(e, KeyError) else f"is malformed ({e})"
        raise SweepError(f"--resume {out}: spec.json {what}") from None


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


def run(args) -> int:
    """Start a sweep (``--grid``/``--file``, ``--deploy``) in ``--out``, or finish one
    (``--resume DIR``); a refused sweep is a usage error (one line, exit 2), a sweep that
    cannot go on (``SweepFailure``) or has failed jobs one line and exit 1, an interrupted
    one (SIGINT, SIGTERM) one line with how to resume, exit 130 or 143."""
    state: dict = {}
    with interrupts.terminate_as_interrupt():
        try:
            return _sweep(args, state)
        except SweepError as e:
            raise UsageError(f"deepxbar sweep: error: {e}") from None
        except SweepFailure as e:
            print(f"deepxbar sweep: error: {e}{_kept(state)}", file=sys.stderr)
            return 1
        except OSError as e:  # a write that failed (disk full, folder gone), a lost connection to Dask
            where = f"{e.strerror}: {e.filename}" if e.filename and e.strerror else f"{type(e).__name__}: {e}"
            print(f"deepxbar sweep: error: {where}{_kept(state)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as e:
            what = "terminated" if isinstance(e, interrupts.Terminated) else "interrupted"
            print(f"deepxbar sweep: {what}{_kept(state) or '; nothing was written'}", file=sys.stderr)
            return interrupts.exit_code(e)


def _kept(state: dict) -> str:
    """Where the sweep stands, for its last line: the jobs kept and how to resume."""
    out = state.get("out")
    if out is None:
        return ""
    n, total = len(done_keys(out) & state["keys"]), len(state["keys"])
    return f"; {n} of {total} {state['unit']} finished are kept in {out}: deepxbar sweep --resume {out}"


def _sweep(args, state: dict) -> int:
    limit = 4 * (os.cpu_count() or 1)
    if not 0 <= args.workers <= limit:
        raise SweepError(f"--workers {args.workers}: must be in [0, {limit}] (0: serial, in this process; at "
                         f"most 4 per CPU: more only slow each other down)")
    for opt in ("file", "deploy", "out", "resume"):
        if getattr(args, opt) is not None:
            check_path(_option(opt), getattr(args, opt))
    if args.scheduler is not None and not args.scheduler.strip():
        raise SweepError("--scheduler '': give the address of a Dask scheduler, such as tcp://HOST:PORT")
    if args.resume:
        given = [k for k in (*_TRAIN_ONLY, "deploy", *_DEPLOY_ONLY, "file", "out") if getattr(args, k) is not None]
        if given or args.grid:
            raise SweepError(f"{_option(given[0]) if given else '--grid'}: does not apply with --resume "
                             "(the sweep's spec.json says what it runs)")
        out = Path(args.resume)
        spec = _resume_spec(out)
    else:
        spec = _spec_from_args(args)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        default = (f"sweeps/deploy-{Path(spec['run']['path']).name}-{spec['device']}-{stamp}"
                   if spec["mode"] == "deploy" else f"sweeps/{spec['device']}-{spec['task']}-{stamp}")
        out = Path(args.out or default)
        try:
            if out.exists() and (not out.is_dir() or any(out.iterdir())):
                raise SweepError(f"--out {out}: exists and is not empty (use --resume {out} to continue it)")
            check_writable(out)
        except RunError as e:
            raise SweepError(str(e)) from None
        except OSError as e:  # a name too long, a loop of links
            raise SweepError(f"--out {out}: cannot write there ({e.strerror or e})") from None
    deploy_mode = spec["mode"] == "deploy"
    unit = "jobs" if deploy_mode else "runs"
    quiet = not getattr(args, "debug", False)
    with dask_client(args.workers, args.scheduler, args.connect_timeout, quiet) as client:  # before writing
        if not args.resume:
            write_file_atomically(out / "spec.json", lambda p: p.write_text(json.dumps(spec, indent=2)))
        state.update(out=out, keys={k for k, _, _ in jobs(spec)}, unit=unit)
        ran = run_jobs(spec, out, client, progress=not args.json)
    df = write_outputs(out, spec)
    summary = summarise(df, spec)
    failed = failures(df)
    n_failed = len(state["keys"] - done_keys(out))  # every job not done ran now, and failed
    ran -= n_failed
    files = ", ".join(["results.csv", "results.parquet",
                       *(f"sweep_{k}.png" for k in (plotted(spec) if finished(df).any() else []))])
    if args.json:
        print(json.dumps({"out": str(out), "mode": spec["mode"], "ran": ran, "jobs": len(jobs(spec)),
                          "runs": len(df) - failed, "failed": n_failed,
                          "summary": json.loads(summary.to_json(orient="records", double_precision=15))}))
        return _failed(n_failed, state, df)
    if deploy_mode:
        summary["time"] = summary["time"].map(when)
        tol = ""
        if "tolerance" not in spec["grid"]:
            summary = summary.drop(columns="tolerance")
            tol = f"tolerance {TOLERANCE:g} of the window, "
        judged = f" on the first {spec['samples']} test samples" if "samples" in spec else ""
        print(f"{spec['run']['path']} on {spec['device']}: {len(spec['run']['seeds'])} networks x "
              f"{spec['instances']} chips, {spec['repeats']} inferences per chip and time{judged}, {tol}drift "
              f"compensation {spec['drift_compensation']}, wires {spec['line_resistance']:g} ohm")
    elif spec.get("data") is not None:
        d = spec["data"]
        print(f"{d['name']} ({d['features']} features, {len(d['classes'])} classes, {d['train_samples']} train / "
              f"{d['test_samples']} test, split seed {d['split_seed']}) on {spec['device']}: accuracy on the "
              "training and the test part (trained weights) and on the test part on the chip as training ends; "
              "success does not apply to a data set")
    print(summary.to_string(index=False, formatters={c: _fmt for c in summary.columns}))
    also = f", {n_failed} failed" if n_failed else ""  # ran: the new finished ones
    print(f"{len(df) - failed} rows ({ran} new {unit} of {len(jobs(spec))}{also}) in {out}: {files}" if deploy_mode
          else f"{len(df) - failed} runs ({ran} new{also}) in {out}: {files}")
    return _failed(n_failed, state, df)


def _failed(n: int, state: dict, df) -> int:
    """Exit code 1 and one line when jobs failed (the first error named), else 0."""
    if not n:
        return 0
    errors = df.loc[~finished(df), "error"] if "error" in df.columns else []
    first = errors.iloc[0] if len(errors) else "its record is unreadable"
    out = state["out"]
    print(f"deepxbar sweep: error: {n} of {len(state['keys'])} {state['unit']} failed (first: {first}); see the "
          f"error column of {out / 'results.csv'}; deepxbar sweep --resume {out} tries them again", file=sys.stderr)
    return 1
