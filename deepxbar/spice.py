"""`deepxbar export-spice` and `deepxbar verify`: a trained run taken to SPICE, and the
same run settled by numpy, Brian2 and ngspice side by side."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from circuits.netlist import behavioural_deck, crossbar_deck, sanitise, settle_crossbar_spice, settle_spice
from circuits.ngspice import NgspiceError
from hw.crossbar import CrossbarConfig, to_conductances
from hw.wires import effective_matrices
from models.dynamics import AffineField
from models.settle import settle
from models.training import field_of, initial_states

from .runs import LoadedRun, RunError, load_run, task_of, write_file_atomically

T_STOP = 200.0  # transient length in units of tau = C / g0


def _phase(run: LoadedRun, phase: str):
    """The field and start states of every network and sample for ``phase``: the free
    phase starts from the first evaluation draw, the nudged one from the free
    equilibrium (numpy fast solver)."""
    task = task_of(run)
    cfg, topo = run.cfg, run.net.topology
    rngs = [np.random.default_rng([s, 1, 0]) for s in run.seeds]
    field = field_of(run.net, cfg, task.X.shape[0])
    s0 = initial_states(topo, task.X, rngs, cfg.init_state)
    if phase == "nudged":
        s0 = settle(field, s0, solver="fast", dt=cfg.dt, tol=cfg.tol, max_steps=cfg.max_steps).s
        field = field.nudged(cfg.beta, task.Y, topo.output_mask())
    return task, field, s0


def export_deck(run: LoadedRun, style: str, phase: str, seed_index: int, sample: int,
                line_resistance: float) -> str:
    task, field, s0 = _phase(run, phase)
    cfg, topo = run.cfg, run.net.topology
    if not 0 <= sample < s0.shape[1]:
        raise RunError(f"--sample {sample}: the task has samples 0..{s0.shape[1] - 1}")
    k, b = seed_index, sample
    title = sanitise(f"deepxbar {run.path.name} {task.name} seed {run.seeds[k]} sample {b} {phase} {style}")
    if style == "behavioural":
        return behavioural_deck(field.A[k], field.d[k, b], field.c[k, b], s0[k, b], ~topo.free_mask(),
                                t_stop=T_STOP, title=title)
    if cfg.model != "deep":
        raise RunError("--style crossbar realises the DEEP field; use --style behavioural for asym-ep")
    hw = CrossbarConfig()
    Gp, Gm = to_conductances(np.where(run.net.alive[k], run.net.W[k], 0.0), hw.device, hw.unit)
    nudge = phase == "nudged"
    Y = np.zeros(topo.n)
    Y[topo.outputs] = task.Y[b]
    return crossbar_deck(Gp, Gm, topo.free_mask(), s0[k, b], cfg.gamma, line_resistance, g0=hw.unit,
                         beta=cfg.beta if nudge else 0.0, targets=Y if nudge else None,
                         outputs=topo.output_mask() if nudge else None, t_stop=T_STOP, title=title)


def with_measurements(deck: str, n: int) -> str:
    """Add one ``.meas`` per neuron: ``ngspice -b`` then prints ``sJ = V(nJ)`` at the end
    of the transient (the neuron states, V_fs = 1 V) and runs the analysis."""
    lines = deck.rstrip("\n").split("\n")
    t_stop = next(line.split()[2] for line in lines if line.lower().startswith(".tran"))
    assert lines[-1].lower() == ".end"
    meas = [f".meas tran s{j} FIND v(n{j}) AT={t_stop}" for j in range(n)]
    return "\n".join(lines[:-1] + meas + [".end"]) + "\n"


def cmd_export(args) -> int:
    run = load_run(args.run_dir)
    seed = run.seeds[0] if args.seed is None else args.seed
    if seed not in run.seeds:
        raise RunError(f"--seed {seed}: the run has seeds {run.seeds}")
    deck = export_deck(run, args.style, args.phase, run.seeds.index(seed), args.sample, args.line_resistance)
    deck = with_measurements(deck, run.net.topology.n)
    out = Path(args.output)
    write_file_atomically(out, lambda p: p.write_text(deck))
    print(f"wrote {out} ({args.style}, {args.phase} phase, seed {seed}, sample {args.sample}); "
          f"run it with: ngspice -b {out}")
    return 0


def _crossbar_check(run: LoadedRun, phase: str, task, field, s0, r: float) -> float:
    """The device-level deck of every network and sample against numpy settling the
    field the hw/ crossbar model gives the same conductances (with wire resistance ``r``:
    its IR-drop effective matrices). Largest difference, units of V_fs."""
    cfg, topo = run.cfg, run.net.topology
    hw = CrossbarConfig()
    free = topo.free_mask()
    worst = 0.0
    for k in range(s0.shape[0]):
        Gp, Gm = to_conductances(np.where(run.net.alive[k], run.net.W[k], 0.0), hw.device, hw.unit)
        Mcol, Mrow = effective_matrices(Gp, Gm, free, r, r)
        B, N = s0.shape[1], topo.n
        hw_field = AffineField(((Mcol - Mrow) / hw.unit)[None], np.full((1, B, N), cfg.gamma),
                               np.zeros((1, B, N)), free)
        if phase == "nudged":
            hw_field = hw_field.nudged(cfg.beta, task.Y, topo.output_mask())
        want = settle(hw_field, s0[k:k + 1], solver="fast", tol=1e-12, max_steps=200_000).s[0]
        for b in range(B):
            Y = np.zeros(N)
            Y[topo.outputs] = task.Y[b]
            nudge = phase == "nudged"
            got = settle_crossbar_spice(Gp, Gm, free, s0[k, b], cfg.gamma, r, g0=hw.unit,
                                        beta=cfg.beta if nudge else 0.0, targets=Y if nudge else None,
                                        outputs=topo.output_mask() if nudge else None, t_stop=T_STOP).s
            worst = max(worst, float(np.abs(np.clip(got, 0, 1) - want[b]).max()))
    return worst


def verify(run: LoadedRun, engines: list[str], line_resistance: float = 0.0) -> dict:
    """Settle every network and sample in both phases with each engine; the largest
    difference of each engine from numpy (in units of V_fs). ngspice runs both deck
    styles; the crossbar one is compared with the hw/ model of the same conductances
    (with ``line_resistance``, its IR-drop effective matrices)."""
    out = {"run_dir": str(run.path), "engines": engines, "line_resistance": line_resistance, "phases": {}}
    for phase in ("free", "nudged"):
        task, field, s0 = _phase(run, phase)
        cfg = run.cfg
        ref = settle(field, s0, solver="fast", dt=cfg.dt, tol=1e-12, max_steps=200_000)
        row = {"numpy_converged": bool(ref.converged.all())}
        if "brian2" in engines:
            from circuits.brian import Brian2Engine
            steps = int(ref.steps.max()) + 2000  # same Euler map: past the slowest sample
            b2 = Brian2Engine(dt=cfg.dt)(field, s0, steps=steps)
            row["brian2"] = float(np.abs(b2.s - ref.s).max())
        if "spice" in engines:
            try:
                sp = settle_spice(field, s0, t_stop=T_STOP, title=f"verify {phase}")
                row["spice"] = float(np.abs(np.clip(sp.s, 0, 1) - ref.s).max())
                row["spice_seconds"] = round(sp.seconds, 3)
                if cfg.model == "deep":
                    row["spice_crossbar"] = _crossbar_check(run, phase, task, field, s0, line_resistance)
            except NgspiceError as e:  # e.g. a limit cycle: no equilibrium to compare
                row["spice_error"] = str(e).splitlines()[0]
        out["phases"][phase] = row
    return out


def cmd_verify(args) -> int:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    bad = [e for e in engines if e not in ("numpy", "brian2", "spice")]
    if bad or not engines:
        raise RunError(f"--engines {args.engines!r}: choose from numpy, brian2, spice (comma-separated)")
    result = verify(load_run(args.run_dir), engines, args.line_resistance)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['run_dir']}: largest |s - s_numpy| over every network and sample (units of V_fs)")
    for phase, row in result["phases"].items():
        parts = [f"{e} {row[e]:.2e}" for e in (*engines, "spice_crossbar") if e in row]
        if "spice_error" in row:
            parts.append(f"spice refused: {row['spice_error']}")
        print(f"  {phase:<7} " + (", ".join(parts) if parts else "numpy only"))
    return 0
