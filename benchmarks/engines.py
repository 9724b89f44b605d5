"""The engines side by side: settle time of one free phase for numpy, Brian2 and
ngspice (subprocess and PySpice in process); the IR-drop solve of hw/ against ngspice's .op of the same device-level
crossbar; and the wall time of a SPICE-in-the-loop XOR training.

    python benchmarks/engines.py [--quick]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from circuits.brian import Brian2Engine
from circuits.netlist import crossbar_deck
from circuits.ngspice import run_ngspice
from circuits.spice_engine import SpiceEngine
from deepxbar import experiment
from deepxbar.configs import preset
from deepxbar.tasks import make_task
from hw.devices import PRESETS
from hw.wires import effective_matrices
from models.dynamics import deep_field
from models.settle import settle
from models.topology import Topology


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="skip ngspice at N = 256 (more than 10 minutes for one sample here)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    warm = Topology(3, 4, 1)  # compile/load the kernel and Brian2's machinery before timing
    wf = deep_field(warm.init_weights(rng, 1, 0.1), 1, warm.free_mask(), gamma=1.0)
    ws = np.full((1, 1, warm.n), 0.05)
    settle(wf, ws, solver="fast")
    Brian2Engine()(wf, ws, steps=10)

    print("settling one free phase, 1000 steps of dt = 0.05 (50 tau), batch 4, leak 1 (wall seconds;")
    print("ngspice at N = 256: one sample timed, x4)")
    print(f"{'N':>5} {'numpy ref':>10} {'numpy fast':>11} {'brian2':>8} {'ngspice':>8} {'pyspice':>8} "
          f"{'max |brian2-numpy|':>19} {'max |spice-numpy|':>18}")
    for n in (8, 64, 256):
        t = Topology(3, n - 4, 1)
        W = t.init_weights(rng, 1, 0.3 / np.sqrt(n))
        X = np.hstack([rng.integers(0, 2, (4, 2)).astype(float), np.ones((4, 1))])
        s0 = np.concatenate([X[None], rng.uniform(0, 0.1, (1, 4, n - 3))], axis=-1)
        field = deep_field(W, 4, t.free_mask(), gamma=1.0)
        t_ref, ref = timed(lambda: settle(field, s0, solver="reference", steps=1000))
        t_fast, _ = timed(lambda: settle(field, s0, solver="fast"))
        t_b2, b2 = timed(lambda: Brian2Engine()(field, s0, steps=1000))
        if args.quick and n > 64:
            t_sp = t_py = d_sp = float("nan")
        else:  # ngspice per sample; at N = 256 one sample (x4 for the batch)
            nb = 1 if n > 64 else 4
            sub = deep_field(W, nb, t.free_mask(), gamma=1.0)
            t_sp, sp = timed(lambda: SpiceEngine(timeout=3600)(sub, s0[:, :nb], steps=1000))
            t_py, _ = timed(lambda: SpiceEngine(timeout=3600, runner="pyspice")(sub, s0[:, :nb], steps=1000))
            t_sp, t_py = t_sp * 4 / nb, t_py * 4 / nb
            d_sp = np.abs(sp.s - ref.s[:, :nb]).max()
        print(f"{n:>5} {t_ref:>10.3f} {t_fast:>11.3f} {t_b2:>8.2f} {t_sp:>8.2f} {t_py:>8.2f} "
              f"{np.abs(b2.s - ref.s).max():>19.1e} {d_sp:>18.1e}", flush=True)

    print("\nIR drop, 1 ohm per segment: hw/wires.py sparse solve vs ngspice .op of the crossbar deck")
    print(f"{'N':>5} {'hw solve s':>11} {'ngspice .op s':>14}")
    for n in (16, 64):
        receiving = np.ones(n, dtype=bool)
        receiving[:3] = False
        Gp, Gm = rng.uniform(1e-6, 4e-5, (2, n, n))
        t_hw, _ = timed(lambda: effective_matrices(Gp, Gm, receiving, 1.0, 1.0))
        s0 = rng.uniform(0, 1, n)
        deck = crossbar_deck(Gp, Gm, receiving, s0, 1.0, 1.0, g0=PRESETS["rram"].g_range / 4,
                             analysis="op", clamps=False)
        t_op, _ = timed(lambda: run_ngspice(deck, timeout=600, max_abs=1e30))
        print(f"{n:>5} {t_hw:>11.3f} {t_op:>14.2f}", flush=True)

    print("\nSPICE in the loop: XOR, default config, seed 0")
    for epochs in (200,):
        cfg = preset("default", "deep", False).train
        from dataclasses import replace
        cfg = replace(cfg, epochs=epochs)
        for runner in ("spice", "pyspice"):
            t_sp, exp = timed(lambda: experiment.run(make_task("xor"), cfg, [0], progress=False,
                                                    engine=SpiceEngine(dt=cfg.dt, runner=runner)))
            print(f"  {epochs} epochs, engine {runner}: {t_sp:.1f} s (target < 60 s)", flush=True)


if __name__ == "__main__":
    main()
