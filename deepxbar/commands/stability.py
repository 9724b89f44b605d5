"""`deepxbar stability RUN_DIR`: the paper's Gershgorin tests and the local Lyapunov
certificate of a trained run; with ``--device``, the same over programmed chips (Monte
Carlo)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..experiment import STABILITY_SAMPLES, judged_samples
from ..hardware import add_device_options, crossbar_config
from .. import resources
from ..options import MAX_INSTANCES, MAX_REPEATS, MAX_SAMPLES, UsageError, add_force_option, count
from ..runs import check_file_writable, load_run, task_of, write_file_atomically


def add_parser(sub):
    p = sub.add_parser("stability", help="stability report of a trained run",
                       description="The paper's Gershgorin tests on W and the local Lyapunov "
                       "certificate at every free-phase equilibrium the trained networks reach.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--repeats", type=count(MAX_REPEATS), default=10,
                   help=f"random initial states per pattern, 1 to {MAX_REPEATS:,} (default 10)")
    p.add_argument("--samples", type=count(MAX_SAMPLES), default=STABILITY_SAMPLES, metavar="N",
                   help=f"data-set runs: the first N test samples (default {STABILITY_SAMPLES}); logic tasks: "
                   "every pattern")
    add_device_options(p, train=False)
    p.add_argument("--trials", type=count(MAX_INSTANCES), default=20,
                   help=f"with --device: hardware instances sampled, 1 to {MAX_INSTANCES:,} (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    add_force_option(p)
    return p


def run(args) -> int:
    from models.evaluation import stability_report

    run = load_run(args.run_dir)
    c = run.config
    task = task_of(run)
    X, Y = judged_samples(task, args.samples)
    K, n, free = len(run.seeds), run.net.topology.n, run.net.topology.n - run.net.topology.n_in
    what = f"{K:,} network{'s' if K > 1 else ''} of {n:,} neurons"
    if args.device is not None:
        check_file_writable(run.path / f"stability-{args.device}.png", "RUN_DIR")
        resources.check_memory(resources.chips_memory(K, args.trials, n, free, len(X)), "stability",
                               f"--trials {args.trials}", f"{args.trials:,} instances of each of {what}", args.force)
        return _stability_under_device(args, run, X, Y)
    resources.check_memory(resources.train_memory(K, n, len(X), args.repeats * len(X), 0), "stability",
                           f"--repeats {args.repeats}", f"{args.repeats:,} starts per sample of {what}", args.force)
    reports = stability_report(run.net, run.cfg, X, run.seeds, args.repeats)
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
           "repeats": args.repeats, "samples": len(X),
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


def _stability_under_device(args, run, X, Y) -> int:
    from tqdm import tqdm

    from hw.deploy import MAX_ITERATIONS, TOLERANCE, mapping_window
    from hw.montecarlo import monte_carlo

    from ..plots import reports as plots

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
        mc = monte_carlo(run.net, run.cfg, X, Y, run.seeds, hw, args.trials,
                         repeats=repeats, on_trial=lambda t: bar.update(1))
    when = "right after programming" if hw.drift_time is None else f"{hw.drift_time:g} s after programming"
    programmed = (f"programmed by program-and-verify as `deepxbar deploy` does (tolerance {TOLERANCE:g} of "
                  f"the window, <= {MAX_ITERATIONS} iterations), judged {when}, {repeats} inferences per "
                  f"instance with a fresh read each, starts U(0, {run.cfg.init_state:g})")
    png = run.path / f"stability-{hw.device.name}.png"
    title = f"{run.path.name}: {args.trials} programmed instances on {hw.device.name}"
    write_file_atomically(png, lambda p: plots.monte_carlo(mc, p, title), suffix=".png", option="RUN_DIR")
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
