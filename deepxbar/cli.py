"""The ``deepxbar`` command line."""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from models import model as models
from models.settle import SOLVERS
from models.topology import ARCHITECTURES

from . import __version__
from hw.devices import PRESETS

from .configs import CONFIGS, preset
from .deploy import add_deploy_parser, cmd_deploy
from circuits.engines import make_engine, names as engine_names
from .robustness import add_parser as add_robustness_parser, cmd_robustness
from .sweep import add_sweep_parser
from .options import number
from .hardware import add_device_options, cmd_devices, crossbar_config
from .tasks import TASKS, make_task


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{self.prog}: error: {message}")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train DEEP (or asym-EP) on a logic task",
                       description="Train one network per seed (all seeds in one batch), judge "
                       "them, write a run folder and print a summary. Times are in units of the "
                       "neuron time constant tau; weights are dimensionless.")
    p.add_argument("--task", choices=TASKS, default="xor", help="logic task (default: xor)")
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
    p.add_argument("--hidden", type=number(int, 1), help="hidden neurons (>= 1; default: from --config)")
    p.add_argument("--architecture", choices=ARCHITECTURES,
                   help="complete (every pair but self-loops and into inputs; default) or layered")
    p.add_argument("--epochs", type=number(int, 1), help="epochs (>= 1; default: from --config)")
    p.add_argument("--seed", type=number(int, 0), default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=number(int, 1), default=10, metavar="K",
                   help="train seeds SEED..SEED+K-1 (default 10)")
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


def _add_stability(sub) -> None:
    p = sub.add_parser("stability", help="stability report of a trained run",
                       description="The paper's Gershgorin tests on W and the local Lyapunov "
                       "certificate at every free-phase equilibrium the trained networks reach.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--repeats", type=number(int, 1), default=10,
                   help="random initial states per pattern (default 10)")
    add_device_options(p, train=False)
    p.add_argument("--trials", type=number(int, 1), default=20,
                   help="with --device: hardware instances sampled (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")


def _add_devices(sub) -> None:
    p = sub.add_parser("devices", help="list the device presets or plot one",
                       description="The device presets and their parameters (SI units).")
    p.add_argument("--plot", choices=sorted(PRESETS), metavar="NAME",
                   help="draw the pulse response and programming-noise spread of a preset")
    p.add_argument("--out", type=Path, help="PNG path for --plot (default: device-NAME.png)")
    p.add_argument("--json", action="store_true")


def _add_spice(sub) -> None:
    p = sub.add_parser("export-spice", help="write a trained network as a standalone ngspice deck",
                       description="A trained network as a deck that `ngspice -b FILE` runs as it is: for a "
                       "run trained with --device, the run's own crossbar (its conductances, g0, stuck and "
                       "switched-off cells, wires); for a software run, the ideal mapping of its weights. "
                       "ngspice prints vJ = V(nJ) in volts at the end of the transient; the neuron states "
                       "are vJ / V_fs (V_fs = 0.2 V, C = 1 pF, tau = C/g0; see circuits/physics.py).")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.cir")
    p.add_argument("--style", choices=("behavioural", "crossbar"), default="behavioural",
                   help="one VCCS per connection (default) or device level: a resistor per device")
    p.add_argument("--phase", choices=("free", "nudged"), default="free")
    p.add_argument("--sample", type=number(int, 0), default=0, help="which pattern (default 0)")
    p.add_argument("--seed", type=int, help="which network of the run (default: its first seed)")
    _chip_options(p)
    p = sub.add_parser("verify", help="settle a run with numpy, Brian2 and ngspice and compare",
                       description="Every network and sample, both phases, settled by each engine on the "
                       "run's crossbar (hardware runs) or the ideal mapping (software runs); prints the "
                       "largest difference from numpy in units of V_fs, and every case that does not agree "
                       "to 1e-6 with both states and the reason (exit 1).")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--engines", default="numpy,brian2,spice,pyspice",
                   help="comma-separated from numpy, brian2, spice, pyspice (default: all)")
    _chip_options(p)
    p.add_argument("--json", action="store_true")


def _chip_options(p) -> None:
    p.add_argument("--line-resistance", type=number(float, 0.0), metavar="OHMS",
                   help="wire resistance per segment (default: the run's own; 0 for software runs)")
    p.add_argument("--time", type=number(float, 0.0), metavar="SECONDS",
                   help="hardware runs: read the devices this long after programming (drift; default: as "
                   "programmed)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deepxbar", description="DEEP networks on simulated analog crossbars.")
    parser.add_argument("--version", action="version", version=f"deepxbar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_stability(sub)
    _add_devices(sub)
    _add_spice(sub)
    add_sweep_parser(sub)
    add_deploy_parser(sub)
    add_robustness_parser(sub)
    return parser


def cmd_train(args) -> int:
    from . import experiment, plots, runs

    pre = preset(args.config, args.model, args.one_hot)
    if not models.get(args.model).leak and args.gamma is not None:
        leaky = " or ".join(n for n in models.names() if models.get(n).leak)
        raise UsageError(f"deepxbar train: error: --gamma (the leak) applies to --model {leaky} only")
    base = pre.pruned(args.l1, args.epochs) if args.prune else pre.train
    overrides = {"solver": args.solver}
    for opt, name in (("hidden", "n_hidden"), ("architecture", "architecture"), ("epochs", "epochs"),
                      ("gamma", "gamma"), ("beta", "beta"), ("eta", "eta"), ("l1", "l1"),
                      ("train_noise", "train_noise"), ("max_inhibition", "max_inhibition"),
                      ("weight_clip", "weight_clip")):
        if getattr(args, opt) is not None:
            overrides[name] = getattr(args, opt)
    if args.sign:
        overrides["sign"] = True
    try:
        cfg = replace(base, **overrides)
    except ValueError as e:  # a combination the config refuses
        raise UsageError(f"deepxbar train: error: {e}") from None
    task = make_task(args.task, args.one_hot, pre.bias_input)
    seeds = list(range(args.seed, args.seed + args.seeds))
    hardware = any((args.device, args.device_set, args.line_resistance, args.write_verify,
                    args.off_conductance, args.drift_time is not None))
    try:
        hw = crossbar_config(args, train=True) if hardware else None
    except ValueError as e:
        raise UsageError(f"deepxbar train: error: {e}") from None
    out = args.out or Path("runs") / f"{args.task}-{args.model}{'-onehot' if args.one_hot else ''}-{args.config}-{time.strftime('%Y%m%d-%H%M%S')}"
    runs.check_writable(out)

    exp = experiment.run(task, cfg, seeds, progress=not (args.quiet or args.json), hw=hw,
                         engine=make_engine(args.engine, cfg))
    summary = experiment.summary(exp, args.model, args.config)
    summary["run_dir"] = str(out)
    summary["device"] = hw.device.name if hw else "software (= ideal)"
    summary["engine"] = args.engine
    config = {"format_version": runs.FORMAT_VERSION, "deepxbar_version": __version__,
              "task": args.task, "one_hot": args.one_hot, "bias_input": pre.bias_input,
              "model": args.model, "config": args.config, "seeds": seeds, "train": cfg.to_dict(),
              "hardware": runs.hardware_dict(exp.crossbar.cfg if exp.crossbar is not None else hw), "engine": args.engine}
    title = f"{args.task} {args.model} ({args.config} config, {args.solver} solver)"
    writers = {
        "config.json": runs.save_json(config),
        "weights.npz": runs.save_weights(exp.net, seeds),
        "metrics.csv": runs.save_metrics(exp.history, seeds),
        "summary.json": runs.save_json(summary),
        "training_curves.png": lambda p: plots.training_curves(exp.history, p, title),
        "weights.png": lambda p: plots.weight_matrices(exp.net, seeds, p, pre.bias_input),
        "network.png": lambda p: plots.network_graphs(exp.net, seeds, p, pre.bias_input),
    }
    if exp.crossbar is not None:
        writers["conductances.npz"] = runs.save_conductances(exp.crossbar)
        writers["conductances.png"] = lambda p: plots.conductance_histogram(exp.crossbar, p)
    if task.n_data_inputs == 2:
        writers["decision_map.png"] = lambda p: plots.decision_maps(
            exp.net, cfg, seeds, task.X, task.Y, p, pre.bias_input)
    runs.write_atomically(out, writers)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_train_summary(summary)
    return 0


def si(x: float, unit: str) -> str:
    """``x`` with an SI prefix and 3 significant digits, e.g. ``si(8.5e-12, 'J') == '8.5 pJ'``."""
    if x == 0 or not np.isfinite(x):
        return f"{x:g} {unit}"
    exp = int(np.clip(np.floor(np.log10(abs(x)) / 3), -5, 2))
    return f"{x / 1000.0 ** exp:.3g} {'fpnum kM'[exp + 5].strip()}{unit}"


def _print_train_summary(s: dict) -> None:
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
    e = s.get("energy")
    if e is not None:
        print(f"  energy on {e['preset']} (per network, circuits/energy.py): inference "
              f"{si(e['inference_j'], 'J')} in the devices + about {si(e['periphery_j_per_inference'], 'J')} "
              f"periphery, settles in {si(e['inference_latency_s'], 's')}; programming "
              f"{si(e['programming_j_per_epoch'], 'J')} per epoch, training {si(e['training_j_total'], 'J')}")
    print(f"run folder: {s['run_dir']}")


def cmd_stability(args) -> int:
    from models.evaluation import stability_report

    from .runs import load_run, task_of

    run = load_run(args.run_dir)
    c = run.config
    task = task_of(run)
    if args.device is not None:
        return _stability_under_device(args, run, task)
    reports = stability_report(run.net, run.cfg, task.X, run.seeds, args.repeats)
    per_seed = []
    for r in reports:
        eqs = r.equilibria
        per_seed.append({
            "seed": r.seed, "stable": r.stable, "gershgorin": r.gershgorin,
            "spectral_abscissa_global": r.spectral_abscissa_global,
            "spectral_abscissa_local_max": r.spectral_abscissa_local_max,
            "equilibria_checked": len(eqs),
            "certified": r.certified,
            "not_converged": sum(not e["converged"] for e in eqs),
            "saturation_not_strict": sum(e["converged"] and not e["pushed_outward"] for e in eqs),
            "free_block_not_hurwitz": sum(e["converged"] and not e["lyapunov"] for e in eqs),
        })
    out = {"run_dir": str(args.run_dir), "task": c.get("task"), "model": c.get("model"),
           "repeats": args.repeats,
           "stable_rate": sum(p["stable"] for p in per_seed) / len(per_seed),
           "gershgorin_rate": sum(p["gershgorin"]["hurwitz"] for p in per_seed) / len(per_seed),
           "per_seed": per_seed}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{out['run_dir']}: local certificate holds for {out['stable_rate']:.0%} of seeds; "
          f"the paper's global Gershgorin test for {out['gershgorin_rate']:.0%}")
    print(f"{'seed':>5} {'stable':>7} {'certified':>10} {'diag<0':>7} {'rows':>5} {'cols':>5} "
          f"{'abscissa(W)':>12} {'abscissa(local)':>16}")
    for p in per_seed:
        g = p["gershgorin"]
        print(f"{p['seed']:>5} {str(p['stable']):>7} {p['certified']:>4}/{p['equilibria_checked']:<5} "
              f"{str(g['diagonal']):>7} {str(g['rows']):>5} {str(g['columns']):>5} "
              f"{p['spectral_abscissa_global']:>12.4f} {p['spectral_abscissa_local_max']:>16.4f}")
    return 0


def _stability_under_device(args, run, task) -> int:
    from tqdm import tqdm

    from hw.deploy import MAX_ITERATIONS, TOLERANCE, mapping_window
    from hw.montecarlo import monte_carlo

    from .hardware import plot_monte_carlo

    try:
        hw = crossbar_config(args, train=False)
    except ValueError as e:
        raise UsageError(f"deepxbar stability: error: {e}") from None
    try:
        mapping_window(hw.device)
    except ValueError as e:  # a device whose devices share no window
        raise UsageError(f"deepxbar stability: error: {e}") from None
    repeats = min(args.repeats, 3)
    with tqdm(total=args.trials, desc=f"hardware instances ({hw.device.name})", unit="trial",
              disable=args.json, leave=False) as bar:
        mc = monte_carlo(run.net, run.cfg, task.X, task.Y, run.seeds, hw, args.trials,
                         repeats=repeats, on_trial=lambda t: bar.update(1))
    when = "right after programming" if hw.drift_time is None else f"{hw.drift_time:g} s after programming"
    programmed = (f"programmed by program-and-verify as `deepxbar deploy` does (tolerance {TOLERANCE:g} of "
                  f"the window, <= {MAX_ITERATIONS} iterations), judged {when}, {repeats} inferences per "
                  f"instance with a fresh read each, starts U(0, {run.cfg.init_state:g})")
    png = run.path / f"stability-{hw.device.name}.png"
    plot_monte_carlo(mc, png, f"{run.path.name}: {args.trials} programmed instances on {hw.device.name}")
    ab = mc["abscissa"].ravel()
    prog = mc["programming"]
    out = {"run_dir": str(run.path), "device": hw.device.name, "drift_time": hw.drift_time,
           "trials": args.trials, "seeds": run.seeds, "repeats": repeats,
           "programming": {"method": "program-and-verify", "tolerance": TOLERANCE,
                           "max_iterations": MAX_ITERATIONS, **prog},
           "p_stable": float(mc["stable"].mean()), "p_gershgorin": float(mc["gershgorin"].mean()),
           "spectral_abscissa": {q: float(np.quantile(ab, v)) for q, v in
                                 (("min", 0), ("p10", .1), ("median", .5), ("p90", .9), ("max", 1))},
           "accuracy": {"mean": float(mc["accuracy"].mean()), "min": float(mc["accuracy"].min()),
                        "p_all_correct": float((mc["accuracy"] == 1).mean())},
           "per_seed_p_stable": [float(x) for x in mc["stable"].mean(0)],
           "histogram": str(png)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['run_dir']} on {out['device']} ({args.trials} instances x {len(run.seeds)} seeds, "
              f"{programmed}): P(stable, local certificate) = {out['p_stable']:.2f}, "
              f"P(Gershgorin) = {out['p_gershgorin']:.2f}")
        a = out["spectral_abscissa"]
        print(f"spectral abscissa: min {a['min']:.3f}, median {a['median']:.3f}, max {a['max']:.3f}; "
              f"accuracy mean {out['accuracy']['mean']:.3f}, all correct in {out['accuracy']['p_all_correct']:.0%}; "
              f"{prog['pulses_mean']:.1f} pulses per device, {prog['unconverged_devices']} of {prog['devices']} "
              f"devices did not converge")
        print(f"histogram: {png}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .runs import RunError

    try:
        args = build_parser().parse_args(argv)
        from .spice import cmd_export, cmd_verify
        from .sweep import SweepError, cmd_sweep

        handler = {"train": cmd_train, "stability": cmd_stability, "devices": cmd_devices,
                   "export-spice": cmd_export, "verify": cmd_verify, "sweep": cmd_sweep,
                   "deploy": cmd_deploy, "robustness": cmd_robustness}[args.command]
        try:
            return handler(args)
        except SweepError as e:
            raise UsageError(f"deepxbar sweep: error: {e}") from None
    except (UsageError, RunError) as e:
        msg = str(e)
        print(msg if msg.startswith("deepxbar") else f"deepxbar: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepxbar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
