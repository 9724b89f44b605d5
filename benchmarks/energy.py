"""Energy and latency per device preset: the default XOR network trained on crossbars.

    python benchmarks/energy.py [--seeds 3] [--epochs 1000]

For each preset of ``hw.devices.PRESETS``: train the default DEEP config on XOR on a
crossbar of that device (``deepxbar.experiment.run(..., hw=CrossbarConfig(device=...))``,
its own g0 fitted to ``weight_clip``), then ``circuits.energy.report`` on the crossbar as
the run ends: the device energy and latency of one inference (free phase from the
training starts, on the programmed conductances, no read noise), the periphery estimate
beside it (never added), and the training energy from the pulses the controller applied.
Every assumption is printed with its source (``circuits/energy.py`` has them all).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace

import numpy as np

from circuits import energy
from deepxbar import experiment
from deepxbar.configs import preset
from deepxbar.tasks import make_task
from hw.crossbar import CrossbarConfig
from hw.devices import PRESETS
from models.training import initial_states

STARTS_STREAM = 21  # inference starts: default_rng([seed, 21]) per network


def eng(x: float | None, unit: str) -> str:
    """Engineering notation: 3.55e-9 J -> '3.55 nJ'."""
    if x is None:
        return "n/a"
    if x == 0:
        return f"0 {unit}"
    for scale, prefix in ((1e-18, "a"), (1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"),
                          (1.0, "")):
        if abs(x) < 1000 * scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None, help="default: the config's (1000)")
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    pre = preset("default", "deep", False)
    cfg = pre.train if args.epochs is None else replace(pre.train, epochs=args.epochs)
    task = make_task("xor")
    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"conditions: task xor (B = {task.X.shape[0]}), config 'default' (deep, {cfg.n_hidden} hidden, "
          f"gamma {cfg.gamma:g}, beta {cfg.beta:g}, weight_clip {cfg.weight_clip}), {cfg.epochs} epochs, "
          f"seeds {seeds}; inference starts ~ Uniform(0, {cfg.init_state:g}) from default_rng([seed, "
          f"{STARTS_STREAM}]); conductances as programmed at the end of the run (no read noise); "
          f"integration step min({energy.DT:g}, {energy.DT_RHO:g}/rho) tau, latency band "
          f"{energy.SETTLE_TOL:g} V_FS; values are means over seeds (and samples), max in brackets\n")
    rows, notes = [], {}
    for name, dev in PRESETS.items():
        start = time.perf_counter()
        exp = experiment.run(task, cfg, seeds, progress=False, hw=CrossbarConfig(device=dev))
        s = experiment.summary(exp, "deep", "default")
        xbar, net = exp.crossbar, exp.net
        Gp, Gm = xbar.state()
        B = task.X.shape[0]
        field = xbar.field(Gp, Gm, cfg.model, net.b, B, cfg.gamma)
        s0 = initial_states(net.topology, task.X, [np.random.default_rng([k, STARTS_STREAM]) for k in seeds],
                            cfg.init_state)
        r = energy.report(xbar, field, s0, exp.history["pulses"], targets=task.Y, beta=cfg.beta)
        lo, hi = r["periphery_j_per_inference_range"]
        ok = sum(p["success"] for p in s["per_seed"])
        chip = sum(p["onchip_success"] for p in s["per_seed"])
        rows.append([
            name, f"{xbar.cfg.unit * 1e6:.3g}", f"{r['tau_s'] * 1e9:.3g}", f"{ok}/{len(seeds)}, {chip}/{len(seeds)}",
            f"{r['inference_j'] * 1e15:.0f} [{r['inference_j_max'] * 1e15:.0f}]",
            f"{r['periphery_j_per_inference'] * 1e15:.0f} ({lo * 1e15:.0f}-{hi * 1e15:.0f})",
            f"{r['inference_latency_s'] * 1e9:.0f} [{r['inference_latency_s_max'] * 1e9:.0f}]",
            f"{r['pulses_per_epoch']:.3g}", eng(r["energy_per_pulse_j"], "J"),
            eng(r["programming_j_per_epoch"], "J"), eng(r["read_j_per_epoch"], "J"),
            eng(r["settle_j_per_epoch"], "J"), eng(r["training_j_total"], "J"),
            f"{time.perf_counter() - start:.0f}",
        ])
        notes[name] = r["assumptions"]["programming"]
        print(" | ".join(rows[-1]), flush=True)
    head = ["preset", "g0 (uS)", "tau (ns)", "XOR ok (weights, chip)", "inference device (fJ)",
            "periphery est. (fJ, range)", "latency (ns)", "pulses/epoch", "E/pulse",
            "programming/epoch", "reads/epoch", "settling/epoch", "training total", "wall s"]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\nper network; inference = one sample's free phase to its latency; periphery = "
          f"{energy.PERIPHERY_FJ_PER_MAC:g} fJ per connected cell per inference, reported beside the device "
          "energy, never added; training total = epochs x (programming + reads + settling of the free and "
          "nudged phases of the 4 samples, evaluated on the final crossbar)")
    print("\nassumptions:")
    for key, text in energy.assumptions(energy.PULSE_MODELS["ideal"]).items():
        if key not in ("programming", "pulse_model_is_assumption"):
            print(f"  {key}: {text}")
    for name, text in notes.items():
        print(f"  programming [{name}]: {text}")


if __name__ == "__main__":
    main()
