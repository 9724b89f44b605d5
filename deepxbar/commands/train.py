"""`deepxbar train`: train one network per seed (all seeds in one batch), judge them,
write a run folder (deepxbar/runs.py) and print a summary."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from circuits.engines import make_engine, names as engine_names
from hw.crossbar import CrossbarConfig
from models import model as models
from models.evaluation import BASIN_STARTS
from models.settle import SOLVERS
from models.topology import ARCHITECTURES
from models.training import TrainConfig

from .. import data, experiment, resources, runs
from ..configs import CONFIGS, Preset, data_preset, preset
from ..formats import si
from ..hardware import add_device_options, crossbar_config
from ..options import (MAX_BATCH, MAX_EPOCHS, MAX_HIDDEN, MAX_SEEDS, SEED_BELOW, UsageError, add_force_option, count,
                       number, seed_type)
from ..tasks import TASKS, make_task

# option -> TrainConfig field, for the options that override the preset when given
OVERRIDES = (("architecture", "architecture"), ("epochs", "epochs"), ("gamma", "gamma"),
             ("beta", "beta"), ("eta", "eta"), ("l1", "l1"), ("train_noise", "train_noise"),
             ("max_inhibition", "max_inhibition"), ("weight_clip", "weight_clip"))
SEEDS = 10  # networks trained by default


def add_parser(sub):
    p = sub.add_parser("train", help="train DEEP (or asym-EP) on a logic task or a data set",
                       description="Train one network per seed (all seeds in one batch), judge "
                       "them, write a run folder and print a summary. Times are in units of the "
                       "neuron time constant tau; weights are dimensionless.")
    p.add_argument("--task", choices=TASKS, help="logic task (default: xor, unless --data)")
    p.add_argument("--data", metavar="NAME|FILE",
                   help=f"a classification data set instead of a logic task: {', '.join(data.DATASETS)} "
                   "(bundled with scikit-learn) or a .npz (X, y) or .csv file; one-hot outputs read by argmax, "
                   "judged by test accuracy")
    p.add_argument("--label", metavar="COLUMN", help="--data FILE.csv: the column that holds the classes")
    p.add_argument("--split-seed", type=seed_type, default=0,
                   help="--data: seed of the stratified train/test split, 0 <= S < 2**32 (default 0)")
    p.add_argument("--test-fraction", type=number(float, 0.0, inclusive=False, below=1.0), default=0.2,
                   metavar="F", help="--data: fraction held out for testing, 0 < F < 1 (default 0.2)")
    p.add_argument("--large", action="store_true",
                   help=f"--data: accept more than {data.MAX_VALUES:,} feature values")
    p.add_argument("--batch-size", type=count(MAX_BATCH), metavar="B",
                   help=f"minibatch size, 1 to {MAX_BATCH:,}, shuffled every epoch by each seed's own generator (default: "
                   "the preset's: 32 for data sets of more than 1,000 training samples, else the full batch)")
    p.add_argument("--model", choices=models.names(), default="deep", help="default: deep")
    p.add_argument("--one-hot", action="store_true", help="two output neurons, argmax")
    p.add_argument("--config", choices=CONFIGS, default="default",
                   help="paper = the ESANN 2020 notebooks' hyperparameters; default = the project's best (default)")
    p.add_argument("--solver", choices=SOLVERS, default="fast",
                   help="reference = the paper's fixed-step Euler (T1, T2 steps); fast = same Euler map "
                   "stopped on the projected residual, compiled (default)")
    p.add_argument("--engine", choices=engine_names(), default="numpy",
                   help="what settles the phases: numpy (the models/ solver, default), brian2 "
                   "(the behavioural circuit model in physical units) or spice (an ngspice transient "
                   "per sample and phase); the last two cover T1/T2 steps of dt, as the reference solver")
    p.add_argument("--hidden", type=layer_sizes, metavar="H[,H...]",
                   help="hidden neurons: one size (128) or the sizes of several hidden layers in order "
                   f"(128,64), each >= 1, at most {MAX_HIDDEN:,} in all (default: from --config). Several sizes are the layers of a "
                   "layered network (inputs -> 128 -> 64 -> outputs, each pair of consecutive layers "
                   "connected both ways) and imply --architecture layered unless given or the "
                   "config's is layered or skip; with "
                   "--architecture complete only their total matters (it is recorded)")
    p.add_argument("--architecture", choices=ARCHITECTURES,
                   help="complete (every pair but self-loops and into inputs), layered (consecutive "
                   "layers only, both ways) or skip (layered, plus every input straight to every "
                   "output); default: from --config (complete for logic tasks and small data sets, "
                   "skip for DEEP and layered for asym-EP on large ones), layered when --hidden gives "
                   "several layers and the config's is complete")
    p.add_argument("--epochs", type=count(MAX_EPOCHS), help=f"epochs, 1 to {MAX_EPOCHS:,} (default: from --config)")
    p.add_argument("--seed", type=seed_type, default=0, help="first seed, 0 <= SEED < 2**32 (default 0)")
    p.add_argument("--seeds", type=count(MAX_SEEDS), default=SEEDS, metavar="K",
                   help=f"train seeds SEED..SEED+K-1 (all < 2**32), K from 1 to {MAX_SEEDS:,} (default {SEEDS})")
    p.add_argument("--l1", type=number(float, 0.0), help="L1 step lambda (>= 0)")
    p.add_argument("--prune", action="store_true",
                   help="stochastic sparsification after every update, with the config's L1 and "
                   "schedule (paper: l1 1.5e-4 from epoch 0; default: 700 epochs, l1 3e-4 and pruning "
                   "with tol 0.03 in epochs 400-599, then fine-tuning; --epochs scales the schedule)")
    p.add_argument("--gamma", type=number(float, 0.0), help="leak gamma >= 0 (0 = the paper's DEEP)")
    p.add_argument("--sign", action="store_true", help="sign-only weight updates (the paper's option)")
    p.add_argument("--beta", type=number(float, 0.0, inclusive=False), help="nudging strength > 0")
    p.add_argument("--eta", type=number(float, 0.0, inclusive=False), help="learning rate > 0")
    p.add_argument("--train-noise", type=number(float, 0.0), metavar="SIGMA",
                   help="noise-aware training: every epoch the phases settle on the weights plus fresh "
                   "N(0, SIGMA^2) noise, the update goes to the clean weights (default 0)")
    p.add_argument("--weight-clip", type=number(float, 0.0, inclusive=False), metavar="W",
                   help="|W| <= W after every update (default: 1 in the default config, none in the paper config)")
    p.add_argument("--max-inhibition", type=number(float, 0.0), metavar="X",
                   help="DEEP: each non-input neuron's negative outgoing weights sum to at most X gamma "
                   "(X < 0.5: one equilibrium from every start; default: 0.45 in the default config, "
                   "none in the paper config)")
    add_device_options(p, train=True)
    p.set_defaults(device=None)
    p.add_argument("--out", type=Path, help="run folder to create (default: runs/TASK-MODEL-CONFIG-TIME)")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_force_option(p)
    return p


def layer_sizes(text: str) -> tuple[int, ...]:
    """An argparse type: one hidden layer size or several separated by commas, each a
    positive integer (``128``, ``128,64``)."""
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        sizes = ()
    shown = text if len(text) <= 40 else text[:37] + "..."
    if not sizes or any(h < 1 for h in sizes):
        raise argparse.ArgumentTypeError(f"{shown!r} is not a list of positive integers (e.g. 128 or 128,64)")
    if sum(sizes) > MAX_HIDDEN:
        raise argparse.ArgumentTypeError(f"{shown!r}: at most {MAX_HIDDEN:,} hidden neurons in all (a network "
                                         f"of 10^6 neurons has 10^12 weights, 8 TB each)")
    return sizes


def run(args) -> int:
    pre, task = preset_and_task(args)
    cfg = train_config(args, pre)
    if args.seed + args.seeds > SEED_BELOW:
        raise UsageError(f"deepxbar train: error: --seed {args.seed} --seeds {args.seeds}: the seeds "
                         f"{args.seed}..{args.seed + args.seeds - 1} must all be < 2**32 ({SEED_BELOW:,})")
    seeds = list(range(args.seed, args.seed + args.seeds))
    hw = hardware(args)
    batch_size = args.batch_size or pre.batch_size
    resource_guard(args, task, cfg, hw, batch_size)
    out = args.out or default_folder(args, task)
    runs.check_writable(out)

    exp = experiment.run(task, cfg, seeds, progress=not (args.quiet or args.json), hw=hw,
                         engine=make_engine(args.engine, cfg), batch_size=batch_size)
    summary = run_summary(exp, args, out, hw, batch_size)
    runs.write_atomically(out, run_files(exp, args, pre.bias_input, summary, hw, batch_size))
    if args.json:
        print(json.dumps(summary))
    elif exp.data_set:
        _print_data(summary)
    else:
        _print(summary)
    return 0


def resource_guard(args, task, cfg: TrainConfig, hw: CrossbarConfig | None, batch_size: int | None) -> None:
    """Before anything is allocated: refuse sizes whose memory estimate exceeds this
    machine's (exit code 2, unless ``--force``) and say the estimate of a long or large
    run on stderr (``deepxbar.resources``; time for software runs on the numpy engine)."""
    K, n = args.seeds, task.n_in + cfg.n_hidden + task.n_out
    samples = len(task.X)
    batch = min(batch_size or samples, samples)
    if experiment.is_data_set(task):
        tested = len(task.X_test)
        # per epoch: every training sample (free and nudged phases), then one free phase
        # per training and test sample for the accuracies (half the cost each)
        settled = samples + (samples + tested) // 2
        judged, certificates = max(samples, tested), min(experiment.STABILITY_SAMPLES, tested)
    else:
        judged, settled, certificates = BASIN_STARTS * samples, samples, experiment.REPEATS * samples
    wires = 0
    if hw is not None and hw.line_resistance > 0:
        wires = resources.wire_solve_memory(n, n - task.n_in, hw.tile_size)
    nbytes = resources.train_memory(K, n, batch, judged, cfg.epochs, hw is not None, wires)
    what = f"{K:,} network{'s' if K > 1 else ''} of {n:,} neurons"
    asked = [f"--hidden {','.join(map(str, args.hidden))}"] if args.hidden else []
    if args.seeds != SEEDS or not asked:
        asked.append(f"--seeds {K}")
    if args.batch_size:
        asked.append(f"--batch-size {args.batch_size}")
    resources.check_memory(nbytes, "train", " ".join(asked), what, args.force)
    seconds = None
    if hw is None and args.engine == "numpy":
        seconds = resources.train_seconds(K, n, settled, cfg.epochs, certificates)
    resources.announce("train", nbytes, seconds, f"{what}, {cfg.epochs:,} epoch{'s' if cfg.epochs > 1 else ''}")


def preset_and_task(args):
    """The preset and the task: a logic task (``--task``, default xor) or a data set
    (``--data``), read, checked, split and scaled (bad data: one line, exit 2)."""
    if args.data is None:
        for opt in ("label", "large"):
            if getattr(args, opt):
                raise UsageError(f"deepxbar train: error: --{opt} applies to --data only")
        pre = preset(args.config, args.model, args.one_hot)
        return pre, make_task(args.task or "xor", args.one_hot, pre.bias_input)
    if args.task is not None:
        raise UsageError("deepxbar train: error: --task and --data exclude each other (a logic task or a data set)")
    try:
        task = data.load(args.data, args.label, args.split_seed, args.test_fraction, large=args.large)
        return data_preset(args.config, args.model, len(task.X)), task  # every data preset has the bias input
    except ValueError as e:  # DataError included
        raise UsageError(f"deepxbar train: error: --data {args.data}: {e}") from None
    except OSError as e:  # a name too long, a folder given as the file
        raise UsageError(f"deepxbar train: error: --data {args.data[:60]}: cannot read it ({e.strerror or e})") from None


def train_config(args, pre: Preset) -> TrainConfig:
    """The preset's training config (pruned with ``--prune``) with the options given."""
    if not models.get(args.model).leak and args.gamma is not None:
        leaky = " or ".join(n for n in models.names() if models.get(n).leak)
        raise UsageError(f"deepxbar train: error: --gamma (the leak) applies to --model {leaky} only")
    base = pre.pruned(args.l1, args.epochs) if args.prune else pre.train
    overrides = {"solver": args.solver}
    overrides.update({name: getattr(args, opt) for opt, name in OVERRIDES if getattr(args, opt) is not None})
    if args.hidden is not None:  # one size: one hidden layer; several: layered unless told otherwise
        overrides.update(n_hidden=sum(args.hidden), hidden_layers=args.hidden if len(args.hidden) > 1 else None)
        if len(args.hidden) > 1 and args.architecture is None and base.architecture == "complete":
            overrides["architecture"] = "layered"
    if args.sign:
        overrides["sign"] = True
    try:
        return replace(base, **overrides)
    except ValueError as e:  # a combination the config refuses
        raise UsageError(f"deepxbar train: error: {e}") from None


def hardware(args) -> CrossbarConfig | None:
    """The crossbar to train on, when any hardware option is given (None: software)."""
    if not any((args.device, args.device_set, args.line_resistance, args.write_verify,
                args.off_conductance, args.drift_time is not None, args.tile_size is not None)):
        return None
    try:
        return crossbar_config(args, train=True)
    except ValueError as e:
        raise UsageError(f"deepxbar train: error: {e}") from None


def default_folder(args, task) -> Path:
    """``runs/TASK-MODEL[-onehot]-CONFIG-TIME`` (a data set's name for TASK)."""
    onehot = "-onehot" if args.one_hot and args.data is None else ""
    return Path("runs") / f"{task.name}-{args.model}{onehot}-{args.config}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_summary(exp: experiment.Experiment, args, out: Path, hw: CrossbarConfig | None,
                batch_size: int | None) -> dict:
    """The experiment's summary, with the run folder, the device, the engine and the
    minibatch size."""
    summary = experiment.summary(exp, args.model, args.config)
    summary["run_dir"] = str(out)
    summary["device"] = hw.device.name if hw else "software (= ideal)"
    summary["engine"] = args.engine
    summary["batch_size"] = batch_size
    return summary


def run_files(exp: experiment.Experiment, args, bias_input: bool, summary: dict,
              hw: CrossbarConfig | None, batch_size: int | None) -> dict:
    """Every file of the run folder by name, each a writer of its path: the records
    (deepxbar/runs.py) and the plots (deepxbar/plots/run.py)."""
    from ..plots.run import run_plots

    xbar = exp.crossbar
    task = exp.task
    source = None
    if exp.data_set:
        source = {"source": args.data, "label": args.label, "split_seed": task.split_seed,
                  "test_fraction": task.test_fraction}
    config = runs.run_config(task.name, task.one_hot, bias_input, args.model, args.config, exp.seeds, exp.cfg,
                             xbar.cfg if xbar is not None else hw, args.engine, batch_size, source)
    files = {
        "config.json": runs.save_json(config),
        "weights.npz": runs.save_weights(exp.net, exp.seeds),
        "metrics.csv": runs.save_metrics(exp.history, exp.seeds),
        "summary.json": runs.save_json(summary),
    }
    if exp.data_set:
        files["data.npz"] = runs.save_data(task)
    if xbar is not None:
        files["conductances.npz"] = runs.save_conductances(xbar)
    title = f"{task.name} {args.model} ({args.config} config, {args.solver} solver)"
    return files | run_plots(exp, title, bias_input)


def _print_data(s: dict) -> None:
    """The summary of a data-set run: accuracies per seed, the conditions, the energy."""
    d = s["data"]
    onchip = "onchip_test_accuracy_mean" in s
    print(f"{s['task']} ({d['features']} features, {len(d['classes'])} classes, {d['train_samples']} train / "
          f"{d['test_samples']} test, split seed {d['split_seed']}) / {s['model']} / config {s['config']} / "
          f"device {s['device']}: test accuracy {s['test_accuracy_mean']:.2%} (mean of {len(s['seeds'])} seeds)"
          + (f", on the chip {s['onchip_test_accuracy_mean']:.2%}" if onchip else "")
          + f", stable {s['stable_rate']:.0%}, {s['wall_seconds']:.1f} s training")
    print(f"  minibatches of {s['batch_size'] or d['train_samples']}; accuracy: one free phase per sample from "
          f"U(0, {s['conditions']['init_state']:g}) starts")
    print(f"{'seed':>5} {'train':>7} {'test':>7} {'best test':>9} {'on chip':>8} {'stable':>7} {'sparsity':>8}")
    for p in s["per_seed"]:
        chip = f"{p['onchip_test_accuracy']:.2%}" if "onchip_test_accuracy" in p else "-"
        print(f"{p['seed']:>5} {p['train_accuracy']:>7.2%} {p['test_accuracy']:>7.2%} {p['best_test_accuracy']:>9.2%} "
              f"{chip:>8} {str(p['stable']):>7} {p['sparsity']:>8.2f}")
    _print_energy(s)
    print(f"run folder: {s['run_dir']}")


def _print_energy(s: dict) -> None:
    e = s.get("energy")
    if e is not None:
        print(f"  energy on {e['preset']} (per network, circuits/energy.py): inference "
              f"{si(e['inference_j'], 'J')} in the devices + about {si(e['periphery_j_per_inference'], 'J')} "
              f"periphery, settles in {si(e['inference_latency_s'], 's')}; programming "
              f"{si(e['programming_j_per_epoch'], 'J')} per epoch, training {si(e['training_j_total'], 'J')}")
        t = e["tiles"]
        print(f"  chip: {t['tiles']} tile(s) of at most {t['tile_size']} x {t['tile_size']} devices, "
              f"{t['drivers']} row drivers and {t['sense_amplifiers']} sense amplifiers at their edges; "
              f"{e['pulses_per_epoch']:.0f} pulses per epoch, programmed after every minibatch")


def _print(s: dict) -> None:
    """The summary as a table: one line per seed, the conditions and the energy."""
    settled_by = f"solver {s['solver']}" if s.get("engine", "numpy") == "numpy" else f"engine {s['engine']}"
    onchip = "onchip_success_rate" in s
    print(f"{s['task']} / {s['model']}{' one-hot' if s['one_hot'] else ''} / config {s['config']} / "
          f"{settled_by} / device {s['device']}: success {s['success_rate']:.0%} of {len(s['seeds'])} seeds"
          + (f" (on the chip: {s['onchip_success_rate']:.0%})" if onchip else "")
          + f", stable {s['stable_rate']:.0%}, basin accuracy {s['basin_accuracy_mean']:.3f}, "
          f"{s['wall_seconds']:.2f} s training")
    print(f"  starts U(0, {s['conditions']['init_state']:g}); basin: 20 starts per pattern U(0, 1)"
          + ("; on the chip: a fresh read per inference, the run's wires and drift time" if onchip else ""))
    print(f"{'seed':>5} {'success':>8} {'on chip':>8} {'error':>6} {'epochs->0':>9} {'margin':>7} {'basin':>6} "
          f"{'stable':>7} {'gershgorin':>10} {'sparsity':>8}")
    for p in s["per_seed"]:
        e0 = "-" if p["epochs_to_zero"] is None else str(p["epochs_to_zero"])
        chip = str(p["onchip_success"]) if "onchip_success" in p else "-"
        print(f"{p['seed']:>5} {str(p['success']):>8} {chip:>8} {p['final_error']:>6.2f} {e0:>9} "
              f"{p['min_margin']:>7.3f} {p['basin_accuracy']:>6.3f} {str(p['stable']):>7} "
              f"{str(p['gershgorin']['hurwitz']):>10} {p['sparsity']:>8.2f}")
    _print_energy(s)
    print(f"run folder: {s['run_dir']}")
