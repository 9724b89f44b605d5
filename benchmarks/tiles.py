"""Crossbar tiles against IR drop: one array against tiles of T x T devices, at wire
resistances per segment, for a network of data-set size.

    python benchmarks/tiles.py [--run RUN_DIR] [--resistance 0.25,1] [--tiles none,256,128,64]

The network: a software run's trained weights (``--run``, e.g. ``deepxbar train --data
digits --seeds 1``), or by default a layered digits-size network (65 inputs, 128 hidden,
10 outputs) with weights ~ N(0, 0.3^2) clipped to |W| <= 1. Its weights are mapped onto
ideal devices (one-sided, ``g0`` = the ideal unit, 61 uS per weight unit) and the wires
enter through ``hw.wires.effective_matrices`` (each tile its own drivers, wires and sense
amplifiers; tiles without a connection of the topology are not built). Printed per (r,
T): the tiles built, their drivers and sense amplifiers, the time of one network's solve,
the error of the column currents against wire-free ones (relative Frobenius norm of the
column matrix), and with ``--run`` the test accuracy on that chip (one free phase per
test sample from the evaluation starts; without wires it is the run's own).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from deepxbar.runs import load_run, task_of
from hw.crossbar import conductance_field, to_conductances
from hw.devices import G0, IDEAL
from hw.wires import effective_matrices, tiles
from models.evaluation import evaluate
from models.topology import Topology
from models.training import Network


def parse_tiles(text: str) -> list[int | None]:
    return [None if t.strip().lower() == "none" else int(t) for t in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="a software run folder (default: random layered weights)")
    ap.add_argument("--resistance", default="0.25,1", help="ohm per wire segment, comma-separated")
    ap.add_argument("--tiles", default="none,256,128,64", help="tile sizes; none = one array")
    args = ap.parse_args()
    run = load_run(args.run) if args.run else None
    if run is not None:
        net = Network(run.net.topology, run.net.W[:1], run.net.b[:1], run.net.alive[:1])  # the first seed
        topo, W = net.topology, np.where(net.alive, net.W, 0.0)
        task = task_of(run)
        X, Y = (task.X_test, task.Y_test) if hasattr(task, "X_test") else (task.X, task.Y)
    else:
        topo = Topology(65, 128, 10, "layered")
        rng = np.random.default_rng(0)
        W = np.clip(rng.normal(0, 0.3, (1, topo.n, topo.n)), -1, 1) * topo.mask()
    free, connected = topo.free_mask(), topo.mask()
    Gp, Gm = to_conductances(W, IDEAL, G0)
    ideal, _ = effective_matrices(Gp[0], Gm[0], free, 0.0, 0.0)
    print(f"network: N = {topo.n} ({topo.n_in} in, {topo.n_hidden} hidden, {topo.n_out} out, {topo.architecture}), "
          f"{int(connected.sum())} connections, {2 * topo.n} rows x {int(free.sum())} columns; ideal devices, "
          f"g0 {G0:.3g} S per weight unit" + (f"; weights of {run.path}" if run else "; random weights"))
    cols = ["r ohm", "tile", "tiles", "drivers", "sense amps", "solve s", "I_col error"] + (["test acc"] if run else [])
    print(" ".join(f"{c:>11}" for c in cols))
    for r in [float(x) for x in args.resistance.split(",")]:
        for T in parse_tiles(args.tiles):
            blocks = tiles(topo.n, np.flatnonzero(free), T, connected)
            t0 = time.perf_counter()
            Mcol, _ = effective_matrices(Gp[0], Gm[0], free, r, r, T, connected)
            dt = time.perf_counter() - t0
            err = np.linalg.norm(Mcol - ideal) / np.linalg.norm(ideal)
            row = [f"{r:g}", "one" if T is None else str(T), str(len(blocks)),
                   str(sum(2 * len(b) for b, _ in blocks)), str(sum(len(c) for _, c in blocks)),
                   f"{dt:.2f}", f"{err:.2e}"]
            if run:
                f = conductance_field(Gp, Gm, np.array([G0]), topo, run.cfg.model, run.net.b[:1], len(X),
                                      run.cfg.gamma, r, tile_size=T)
                ev = evaluate(net, run.cfg, X, Y, run.seeds[:1], repeats=1, solver="fast", field=f)
                row.append(f"{1 - ev.error.mean():.4f}")
            print(" ".join(f"{c:>11}" for c in row), flush=True)
    if run:
        ev = evaluate(net, run.cfg, X, Y, run.seeds[:1], repeats=1, solver="fast")
        print(f"software (no crossbar): test accuracy {1 - ev.error.mean():.4f}")


if __name__ == "__main__":
    main()
