"""A trained run taken to SPICE (the decks of `deepxbar export-spice`), and the same run
settled by numpy, Brian2 and ngspice (subprocess and PySpice) side by side (`deepxbar
verify`); the commands are in deepxbar/commands/.

What the decks realise (``chip_of``): for a run trained with ``--device``, the run's own
crossbar (``conductances.npz``: every device's conductance, optionally read after
``--time`` seconds of drift, stuck devices at their stuck values, switched-off cells as
open switches, the run's g0 and wire resistance); for a software run, the ideal
one-sided mapping of its weights (``g0 = 2**-14 S``). numpy's reference is the field of
the same conductances (``hw.crossbar.Crossbar.field``: with wires, the effective
matrices of the nodal solve), so every engine settles one and the same flow.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from circuits.engines import make_engine
from circuits.netlist import (T_CHUNK, behavioural_deck, crossbar_deck, sanitise, settle_crossbar_spice,
                              settle_spice)
from circuits.ngspice import NgspiceError
from circuits.spice_engine import RUNNERS
from hw.crossbar import Crossbar, CrossbarConfig, to_conductances
from hw.devices import IDEAL, sample_instances
from hw.wires import TILE_SIZE
from models import model as models
from models.dynamics import AffineField
from models.streams import EVAL, generators
from models.settle import settle
from models.training import initial_states

from .runs import LoadedRun, RunError, hardware_config, load_chip, task_of

AGREE = 1e-6  # units of V_fs: an engine agrees with numpy when every state is this close


@dataclass
class Chip:
    """The conductances the decks realise: ``Gp, Gm`` (K, N, N) S (open cells at the
    switch's off conductance), on ``xbar`` (its open cells, g0 and wires)."""

    xbar: Crossbar
    Gp: np.ndarray
    Gm: np.ndarray
    hardware: bool
    time: float | None

    @property
    def g0(self) -> float:
        return self.xbar.cfg.unit

    @property
    def line_resistance(self) -> float:
        return self.xbar.cfg.line_resistance

    @property
    def tile_size(self) -> int | None:
        return self.xbar.cfg.tile_size

    def tiling(self) -> dict:
        """The deck keywords that cut the array into the chip's tiles."""
        return dict(tile_size=self.tile_size, connected=self.xbar.topology.mask())

    def field(self, run: LoadedRun, batch: int) -> AffineField:
        return self.xbar.field(self.Gp, self.Gm, run.cfg.model, run.net.b, batch, run.cfg.gamma)

    def notes(self, run: LoadedRun, k: int) -> list[str]:
        x = self.xbar
        if self.hardware:
            src = (f"conductances of run {run.path.name} (device {x.cfg.device.name}), "
                   + ("as programmed" if self.time is None else f"read {self.time:g} s after programming (drift)"))
        else:
            src = f"ideal one-sided mapping of the weights of software run {run.path.name}"
        stuck_lo = int((x.inst_p.stuck[k] < 0).sum() + (x.inst_m.stuck[k] < 0).sum())
        stuck_hi = int((x.inst_p.stuck[k] > 0).sum() + (x.inst_m.stuck[k] > 0).sum())
        return [src, f"seed {run.seeds[k]}: g0 {self.g0:.6g} S, wires {self.line_resistance:g} ohm per segment, "
                f"tiles of at most {self.tile_size} x {self.tile_size} devices, "
                f"{int(x.open[k].sum())} cells switched off (off conductance {x.cfg.off_conductance:g} S), "
                f"{stuck_lo} devices stuck at their floor, {stuck_hi} at their top"]


def chip_of(run: LoadedRun, time: float | None = None, line_resistance: float | None = None,
            tile_size: int | None = None) -> Chip:
    """The crossbar a run's decks realise; see the module docstring. ``line_resistance``
    overrides the run's wires (ohm per segment), ``tile_size`` its tiles (default: the
    run's, ``TILE_SIZE`` for software runs); ``time`` (s) reads a hardware run's
    devices after that much drift."""
    hw = hardware_config(run)
    if hw is None:
        if time is not None:
            raise RunError(f"--time: RUN_DIR {run.path} was trained in software (no --device): "
                           "it has no devices to drift")
        cfg = CrossbarConfig(line_resistance=line_resistance or 0.0, tile_size=tile_size or TILE_SIZE)
        topo = run.net.topology
        K, N = run.net.W.shape[:2]
        alive = run.net.alive & topo.mask()
        Gp, Gm = to_conductances(np.where(alive, run.net.W, 0.0), IDEAL, cfg.unit)
        inst = sample_instances(IDEAL, (K, N, N), np.random.default_rng(0))  # ideal: no draw
        xbar = Crossbar(cfg, topo, Gp, Gm, inst, inst, ~alive)
        return Chip(xbar, *xbar.state(), False, None)
    xbar = load_chip(run)
    if line_resistance is not None:
        xbar.cfg = replace(xbar.cfg, line_resistance=line_resistance)
    if tile_size is not None:
        xbar.cfg = replace(xbar.cfg, tile_size=tile_size)
    return Chip(xbar, *xbar.state(time), True, time)


def _phase(run: LoadedRun, chip: Chip, phase: str):
    """The field and start states of every network and sample for ``phase`` on the
    chip: the free phase starts from the first evaluation draw, the nudged one from the
    free equilibrium (numpy fast solver)."""
    task = task_of(run)
    cfg, topo = run.cfg, run.net.topology
    rngs = generators(run.seeds, EVAL, 0)
    field = chip.field(run, task.X.shape[0])
    s0 = initial_states(topo, task.X, rngs, cfg.init_state)
    if phase == "nudged":
        s0 = settle(field, s0, solver="fast", dt=cfg.dt, tol=1e-12, max_steps=200_000).s
        field = field.nudged(cfg.beta, task.Y, topo.output_mask())
    return task, field, s0


def _nudge(run: LoadedRun, task, phase: str, b: int) -> dict:
    topo = run.net.topology
    if phase != "nudged":
        return {}
    Y = np.zeros(topo.n)
    Y[topo.outputs] = task.Y[b]
    return dict(beta=run.cfg.beta, targets=Y, outputs=topo.output_mask())


def export_deck(run: LoadedRun, chip: Chip, style: str, phase: str, seed_index: int, sample: int) -> str:
    task, field, s0 = _phase(run, chip, phase)
    topo = run.net.topology
    if not 0 <= sample < s0.shape[1]:
        raise RunError(f"--sample {sample}: the task has samples 0..{s0.shape[1] - 1}")
    k, b = seed_index, sample
    title = sanitise(f"deepxbar {run.path.name} {task.name} seed {run.seeds[k]} sample {b} {phase} {style}")
    if style == "behavioural":
        return behavioural_deck(field.A[k], field.d[k, b], field.c[k, b], s0[k, b], ~topo.free_mask(),
                                g0=chip.g0, t_stop=T_CHUNK, title=title)
    if not models.get(run.cfg.model).crossbar_deck:
        raise RunError(f"--style crossbar realises the DEEP field; use --style behavioural for {run.cfg.model}")
    return crossbar_deck(chip.Gp[k], chip.Gm[k], topo.free_mask(), s0[k, b], run.cfg.gamma, chip.line_resistance,
                         g0=chip.g0, t_stop=T_CHUNK, title=title, open_cells=chip.xbar.open[k],
                         notes=chip.notes(run, k), **chip.tiling(), **_nudge(run, task, phase, b))


def with_measurements(deck: str, n: int) -> str:
    """Add one ``.meas`` per neuron: ``ngspice -b`` then prints ``vJ = V(nJ)`` in volts at
    the end of the transient (the neuron state is ``V / v_fs``) and runs the analysis."""
    lines = deck.rstrip("\n").split("\n")
    t_stop = next(line.split()[2] for line in lines if line.lower().startswith(".tran"))
    assert lines[-1].lower() == ".end"
    meas = [f".meas tran v{j} FIND v(n{j}) AT={t_stop}" for j in range(n)]
    return "\n".join(lines[:-1] + meas + [".end"]) + "\n"


def _problem(engine, phase, run, k, b, reason, got, want, residual=None) -> dict:
    p = {"engine": engine, "phase": phase, "seed": run.seeds[int(k)], "sample": int(b), "reason": reason,
         "engine_state": [round(float(x), 9) for x in got], "numpy_state": [round(float(x), 9) for x in want],
         "difference": float(np.abs(np.asarray(got) - np.asarray(want)).max())}
    if residual is not None:
        p["residual"] = float(residual)
    return p


def _both_settled(A: np.ndarray, d: np.ndarray, free: np.ndarray, x, y, r_x: float, r_y: float) -> str:
    """Why two settled states of one sample (``A`` (N, N), ``d`` (N,)) differ: other
    saturated neurons (another equilibrium), or one equilibrium that the residual
    tolerance resolves only to ``residual / rate`` because its slowest mode decays at a
    small ``rate`` (per tau)."""
    def at_rail(s):
        return (s <= 1e-9) | (s >= 1 - 1e-9)
    if (at_rail(x) != at_rail(y))[free].any():
        return ("both settled, at different equilibria (other neurons at the rails): the flow and the Euler "
                "map have different basins from this start")
    live = free & ~at_rail(y)
    J = A[np.ix_(live, live)].T - np.diag(d[live])  # Jacobian of the unsaturated free block
    rate = float(np.abs(np.linalg.eigvals(J).real).min()) if live.any() else np.inf
    reach = (r_x + r_y) / rate if rate > 0 else np.inf
    if np.abs(x - y).max() <= 2 * reach:
        return (f"one equilibrium, resolved only to about {reach:.1g}: its slowest mode decays at rate {rate:.2g} "
                f"per tau, so projected residuals of {r_x:.1g} (circuit) and {r_y:.1g} (Euler map) leave that "
                "much distance (a nearly singular Jacobian: little or no leak)")
    return ("both settled in the same saturation pattern at different states: the flow and the Euler map "
            "reach different equilibria from this start")


def _judge(engine, phase, run, got, settled, residual, ref, problems, field) -> float:
    """Largest difference of ``got`` (K, B, N) from numpy's ``ref``; every sample that
    did not settle, or settled away from numpy, becomes a problem with its reason."""
    diff = np.abs(np.clip(got, 0, 1) - ref.s).max(-1)
    for k, b in zip(*np.nonzero((diff > AGREE) | ~settled | ~ref.converged)):
        euler = f"numpy's Euler map (dt {run.cfg.dt:g}) residual {ref.residual[k, b]:.2g} after {int(ref.steps[k, b])} steps"
        flow = f"the circuit's projected residual {residual[k, b]:.2g} after its last chunk"
        if not ref.converged[k, b] and settled[k, b]:
            why = (f"the circuit settled but the Euler map did not ({euler}): the map oscillates where the "
                   "continuous-time flow converges")
        elif not ref.converged[k, b]:
            why = f"neither settled ({euler}; {flow}): no equilibrium from this start (a limit cycle)"
        elif not settled[k, b]:
            why = (f"the Euler map settled, the circuit did not within the cap ({flow}): a limit cycle or a "
                   "slow mode of the continuous-time flow")
        else:
            d = np.broadcast_to(field.d, got.shape)[k, b]
            why = _both_settled(field.A[k], d, np.asarray(field.free, bool), np.clip(got[k, b], 0, 1),
                                ref.s[k, b], residual[k, b], ref.residual[k, b])
        problems.append(_problem(engine, phase, run, k, b, why, np.clip(got[k, b], 0, 1), ref.s[k, b],
                                 residual[k, b]))
    return float(diff.max())


def verify(run: LoadedRun, engines: list[str], line_resistance: float | None = None,
           time: float | None = None, progress=None, tile_size: int | None = None) -> dict:
    """Settle every network and sample in both phases with each engine and compare with
    numpy on the same chip (``chip_of``). ``spice``/``pyspice`` run the behavioural deck
    and, for DEEP, the device-level crossbar deck too (``<engine>_crossbar``). Every
    sample that differs by more than ``AGREE`` or does not settle is listed under
    ``problems`` with both states and the reason; ``agree`` is True when there is none."""
    chip = chip_of(run, time, line_resistance, tile_size)
    out = {"run_dir": str(run.path), "engines": engines, "chip": chip.notes(run, 0)[0],
           "g0": chip.g0, "line_resistance": chip.line_resistance, "tile_size": chip.tile_size, "time": time, "tolerance": AGREE,
           "phases": {}, "problems": []}
    problems = out["problems"]
    topo = run.net.topology
    for phase in ("free", "nudged"):
        task, field, s0 = _phase(run, chip, phase)
        cfg = run.cfg
        ref = settle(field, s0, solver="fast", dt=cfg.dt, tol=1e-12, max_steps=200_000)
        row = {"numpy_converged": bool(ref.converged.all())}
        if "brian2" in engines:
            steps = int(ref.steps.max()) + 2000  # same Euler map: past the slowest sample
            b2 = make_engine("brian2", cfg, chip.g0)(field, s0, steps=steps)
            row["brian2"] = float(np.abs(b2.s - ref.s).max())
        for name in ("spice", "pyspice"):
            if name not in engines:
                continue
            try:
                sp = settle_spice(field, s0, g0=chip.g0, title=f"verify {phase}", runner=RUNNERS[name])
                row[name] = _judge(name, phase, run, sp.s, sp.settled, sp.residual, ref, problems, field)
                row[f"{name}_seconds"] = round(sp.seconds, 3)
                if models.get(cfg.model).crossbar_deck:
                    K, B, N = s0.shape
                    got, ok, res = np.empty((K, B, N)), np.empty((K, B), bool), np.empty((K, B))
                    for k in range(K):
                        for b in range(B):
                            x = settle_crossbar_spice(chip.Gp[k], chip.Gm[k], topo.free_mask(), s0[k, b], cfg.gamma,
                                                      chip.line_resistance, g0=chip.g0,
                                                      open_cells=chip.xbar.open[k], runner=RUNNERS[name],
                                                      **chip.tiling(), **_nudge(run, task, phase, b))
                            got[k, b], ok[k, b], res[k, b] = x.s, x.settled, x.residual
                    row[f"{name}_crossbar"] = _judge(f"{name}_crossbar", phase, run, got, ok, res, ref, problems, field)
            except NgspiceError as e:
                problems.append({"engine": name, "phase": phase, "reason": f"ngspice failed: {str(e).splitlines()[0]}"})
        if progress is not None:
            progress(phase)
        out["phases"][phase] = row
    out["agree"] = not problems
    return out

