"""`deepxbar deploy RUN_DIR --device P`: a trained network on fresh chips over time.

Each network of the run is mapped onto ``--instances`` fresh chips (device-to-device
variation), programmed by program-and-verify to ``--tolerance`` (hw/deploy.py), and
judged at every ``--times`` (s after programming: drift, optional global drift
compensation, wires) by ``--repeats`` inferences per chip, each with a fresh read of
every device. Prints a table per time (or one JSON object) and writes
``deploy-DEVICE.png`` into the run folder.
"""
from __future__ import annotations

import json
from pathlib import Path

from circuits.energy import deployment_energy
from hw.deploy import (COMPENSATIONS, MAX_ITERATIONS, REACH, TOLERANCE, deploy, judge, mapping_window,
                       programming_summary)
from hw.devices import PRESETS
from hw.wires import TILE_SIZE

from .. import resources
from ..formats import when
from ..hardware import add_tile_option, device_config
from ..options import (MAX_INSTANCES, MAX_REPEATS, MAX_SAMPLES, MAX_VERIFY_ITERATIONS, UsageError, add_force_option,
                       add_line_resistance_option, count, number, number_list)
from ..experiment import STABILITY_SAMPLES, is_data_set, judged_samples
from ..runs import check_file_writable, load_run, task_of, write_file_atomically

DEFAULT_TIMES = (0.0, 3600.0, 86400.0, 2592000.0, 31536000.0)


def add_parser(sub):
    p = sub.add_parser(
        "deploy", help="a trained run on freshly programmed chips, over time",
        description="Program every network of a run onto fresh chips by program-and-verify "
        "(one-sided differential mapping on each cell's zero, the higher reset floor of its two "
        "devices; the largest |W| of each network spans the median pair floor to the top 90 % of "
        "the devices reach), then judge inferences at times after programming: drift, "
        "optional global drift compensation, wires, a fresh read of every device per "
        "inference, starts ~ U(0, init_state of the run).")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--device", choices=sorted(PRESETS), required=True, help="device preset")
    p.add_argument("--device-set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a device parameter (SI units), e.g. write_noise=0.02; repeatable")
    p.add_argument("--instances", type=count(MAX_INSTANCES), default=20, metavar="K",
                   help=f"fresh chips per network, 1 to {MAX_INSTANCES:,} (default 20)")
    p.add_argument("--tolerance", type=number(float, 0.0, below=1.0), default=TOLERANCE, metavar="F",
                   help=f"verify tolerance, a fraction of the nominal device window (default {TOLERANCE})")
    p.add_argument("--max-iterations", type=count(MAX_VERIFY_ITERATIONS), default=MAX_ITERATIONS, metavar="M",
                   help=f"pulse-and-verify iterations per device at most, 1 to {MAX_VERIFY_ITERATIONS:,} "
                   f"(default {MAX_ITERATIONS})")
    p.add_argument("--times", type=number_list(increasing=True), default=list(DEFAULT_TIMES), metavar="LIST",
                   help="seconds after programming, increasing (default 0,3600,86400,2592000,31536000)")
    p.add_argument("--drift-compensation", choices=COMPENSATIONS, default="none",
                   help="global: the periphery rescales what it measures by a reference read "
                   "after programming over one at t (default none)")
    add_line_resistance_option(p, 0.0, "(default 0)")
    add_tile_option(p, TILE_SIZE)
    p.add_argument("--repeats", type=count(MAX_REPEATS), default=10, metavar="R",
                   help=f"inferences per chip and time, each with a fresh read, 1 to {MAX_REPEATS:,} (default 10)")
    p.add_argument("--samples", type=count(MAX_SAMPLES), default=STABILITY_SAMPLES, metavar="N",
                   help=f"data-set runs: judge on the first N test samples (default {STABILITY_SAMPLES}); "
                   "logic tasks: every pattern")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    add_force_option(p)
    return p


def run(args) -> int:
    from tqdm import tqdm

    from ..plots import reports as plots

    try:
        dev = device_config(args.device, args.device_set)
    except ValueError as e:
        raise UsageError(f"deepxbar deploy: error: device: {e}") from None
    run = load_run(args.run_dir)
    task = task_of(run)
    X, Y = judged_samples(task, args.samples)
    try:
        mapping_window(dev)
    except ValueError as e:  # a device whose devices share no window
        raise UsageError(f"deepxbar deploy: error: {e}") from None
    times = [float(t) for t in args.times]
    png = run.path / f"deploy-{dev.name}.png"
    check_file_writable(png, "RUN_DIR")
    _check_memory(args, run, task, X)
    with tqdm(total=1 + len(times), desc=f"deploy on {dev.name}", unit="step", disable=args.json,
              leave=False) as bar:
        dep = deploy(run.net, run.seeds, dev, args.instances, args.tolerance, args.max_iterations)
        bar.update(1)
        res = judge(dep, run.cfg, X, Y, times, args.repeats, args.drift_compensation,
                    args.line_resistance, on_time=lambda i: bar.update(1), tile_size=args.tile_size)
    out = _report(args, run, dev, times, dep, res)
    out["patterns"] = (f"the first {len(X)} test samples of the data set" if is_data_set(task)
                       else "every pattern of the logic task")
    out["plot"] = str(png)
    write_file_atomically(png, lambda p: plots.deploy(out, p), suffix=".png", option="RUN_DIR")
    if args.json:
        print(json.dumps(out))
        return 0
    _print(out, dep.G.shape[0])
    return 0


def _check_memory(args, run, task, X) -> None:
    """Refuse chips x networks x samples beyond this machine's memory (unless --force)."""
    topo = run.net.topology
    K, n, free = len(run.seeds), topo.n, topo.n - topo.n_in
    wires = 0 if args.line_resistance == 0 else resources.wire_solve_memory(n, free, args.tile_size)
    asked = f"--instances {args.instances}" + (f" --samples {args.samples}" if is_data_set(task) else "")
    what = f"{args.instances:,} chips for each of {K:,} network{'s' if K > 1 else ''} of {n:,} neurons"
    resources.check_memory(resources.chips_memory(K, args.instances, n, free, len(X), wires), "deploy", asked,
                           what, args.force)


def _report(args, run, dev, times: list[float], dep, res) -> dict:
    """What ``deploy`` prints or gives as JSON: programming, energy and, per time, the
    judgement of the chips (``hw.deploy.judge``'s ``res``), with their definitions."""
    cfg = run.cfg
    prog = programming_summary(dep)
    try:
        energy = deployment_energy(dev.name, dep.pulses, dep.G, dep.cells, args.tile_size)
    except ValueError:  # a device without a pulse model
        energy = None
    acc = res["accuracy"].reshape(len(times), -1)
    return {
        "run_dir": str(run.path), "task": run.config.get("task"), "model": cfg.model, "device": dev.name,
        "tolerance": args.tolerance, "times": times,
        "accuracy_mean": [float(a) for a in acc.mean(1)],
        "accuracy_std": [float(a) for a in acc.std(1)],
        "p_all_correct": [float(p) for p in res["all_correct"].reshape(len(times), -1).mean(1)],
        "p_stable": [float(p) for p in res["stable"].reshape(len(times), -1).mean(1)],
        "pulses_mean": prog["pulses_mean"],
        "program_error_rms": prog["program_error_rms"],
        "program_error_rms_window": prog["program_error_rms_window"],
        "unconverged_devices": prog["unconverged_devices"],
        "unconverged": prog["unconverged"],
        "devices": prog["devices"],
        "programming_energy": energy,
        "instances": dep.G.shape[1], "repeats": args.repeats, "seeds": run.seeds,
        "max_iterations": args.max_iterations, "init_state": cfg.init_state,
        "drift_compensation": args.drift_compensation, "line_resistance": args.line_resistance,
        "tile_size": args.tile_size,
        "mapping": {"reach_floor_top": list(REACH), "window": [float(w) for w in dep.window],
                    "g0": [float(g) for g in dep.g0]},
        "conductance_ratio": [float(x) for x in res["conductance_ratio"]],
        "weight_error_rms": [float(x) for x in res["weight_error_rms"]],
        "per_seed": [{"seed": int(s),
                      "accuracy_mean": [float(a) for a in res["accuracy"][:, k].mean(-1)],
                      "p_all_correct": [float(a) for a in res["all_correct"][:, k].mean(-1)],
                      "p_stable": [float(a) for a in res["stable"][:, k].mean(-1)]}
                     for k, s in enumerate(run.seeds)],
        "definitions": {
            "accuracy": "per chip: fraction of (inference, pattern) pairs right and settled; mean and "
                        "std over the chips (networks x instances)",
            "p_all_correct": "fraction of (chip, inference) pairs with every pattern right and settled",
            "p_stable": "fraction of (chip, inference) pairs whose equilibria all pass the local "
                        "certificate (models.stability.local_certificate) and settled",
            "pulses_mean": "pulses per programmed device (both devices of every live cell)",
            "program_error_rms": "programmed minus trained weight, rms over live cells, weight units "
                                 "(no read noise, t = 0); program_error_rms_window: conductance minus "
                                 "target per device, rms, fraction of the nominal window",
            "inference": "one read per device per inference (fresh read noise), fast solver, starts "
                         "~ U(0, init_state), the starts of the software evaluation's repeats",
        },
    }


def _conditions(s: dict, n_nets: int) -> str:
    return (f"{n_nets} networks x {s['instances']} chips, {s['repeats']} inferences per chip and time "
            f"(one read per device each), starts U(0, {s['init_state']:g}), tolerance "
            f"{s['tolerance']:g} of the window, drift compensation {s['drift_compensation']}, "
            f"wires {s['line_resistance']:g} ohm, tiles of {s['tile_size']} x {s['tile_size']} devices")


def _print(s: dict, n_nets: int) -> None:
    u = s["unconverged"]
    print(f"{s['run_dir']} ({s['task']}, {s['model']}) deployed on {s['device']}: {_conditions(s, n_nets)}; "
          f"judged on {s['patterns']}")
    print(f"programming (program-and-verify, <= {s['max_iterations']} iterations): "
          f"{s['pulses_mean']:.1f} pulses per device, error rms {s['program_error_rms']:.4f} weight units "
          f"({s['program_error_rms_window']:.4f} of the window per device); {s['unconverged_devices']} of "
          f"{s['devices']} devices did not converge ({u['stuck']} stuck, {u['out_of_window']} target outside "
          f"their window, {u['out_of_iterations']} out of iterations)")
    e = s["programming_energy"]
    if e is not None:
        print(f"programming energy: {e['programming_j_per_chip'] * 1e9:.3g} nJ per chip "
              f"({e['energy_per_pulse_j'] * 1e12:.3g} pJ per pulse; {e['pulse_model']})")
    print(f"{'time':>10} {'accuracy':>9} {'std':>6} {'P(all correct)':>15} {'P(stable)':>10} "
          f"{'G(t)/G(0)':>10} {'W err rms':>10}")
    for i, t in enumerate(s["times"]):
        print(f"{when(t):>10} {s['accuracy_mean'][i]:>9.3f} {s['accuracy_std'][i]:>6.3f} "
              f"{s['p_all_correct'][i]:>15.3f} {s['p_stable'][i]:>10.3f} {s['conductance_ratio'][i]:>10.3f} "
              f"{s['weight_error_rms'][i]:>10.4f}")
    print("P(all correct): fraction of (chip, inference) pairs with every pattern right; P(stable): "
          "every equilibrium certified; G(t)/G(0) as the periphery sees it (compensated)")
    print(f"plot: {s['plot']}")

