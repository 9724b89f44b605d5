"""Brian2 behavioural model of the neuron circuits, usable as a training engine.

Each neuron is an integrating node: a capacitor ``C`` (F) whose voltage ``V`` lives
between the rails 0 and ``V_fs`` (V). Neuron i drives its differential row pair with
``+V_i`` / ``-V_i``; the columns sit at virtual ground, so the column current into
neuron j and neuron j's own row current come straight from the field
(``f(s) = s @ A - d * s + c``, :mod:`models.dynamics`)::

    C dV_j/dt = g0 * ( sum_i A[i, j] V_i  -  d_j V_j  +  c_j V_fs )      (free neurons)

Inputs are driven by sources (clamped, not integrated). The nudge is already in ``d`` and
``c`` of the nudged field (a ``beta g0`` conductance to a target voltage), the leak in
``d``. With ``tau = C / g0`` the model step ``dt`` (dimensionless) is ``dt * tau``
seconds, and ``s = V / V_fs`` follows exactly the map of :mod:`models.settle`'s
reference solver, ``s <- clip(s + dt f(s), 0, 1)``.

Brian2 realisation: one ``NeuronGroup`` neuron per (network, sample, neuron), the whole
batch in one simulation; one ``Synapses`` synapse per crossbar cell with ``A != 0``
inside each (network, sample) block, whose summed variable ``Icol_post = g0 w V_pre``
is the column current; integration with ``method='euler'``, the rails as a clip in
``run_regularly(..., when='end')`` (after the state update, so each step is
exactly Euler-then-clip); a ``StateMonitor`` at the end of every step (after the clip)
records the trajectory for the DEEP path sums and the settling time.

Device energy: a device at cell (i, j) sees ``+V_i`` (G+) or ``-V_i`` (G-) across it
(its column at virtual ground), so the crossbar dissipates
``P = sum_{i,j} (Gp[i,j] + Gm[i,j]) V_i^2``; it is integrated inside Brian2 as
``dE/dt = Grow V^2`` per neuron (``Grow_i = sum_j Gp[i,j] + Gm[i,j]``), with the same
Euler rule (left Riemann sum: the voltage at the start of each step, which is what drives
the currents of that step). Input rows count (their drivers are sources too); the nudge
conductance and the neuron circuits themselves do not. Without explicit conductances the
one-sided mapping of ideal devices is assumed: ``Gp = g0 max(A, 0)``, ``Gm = g0 max(-A, 0)``
(``hw.crossbar.to_conductances`` with ``g_min = 0``); pass ``conductances=(Gp, Gm)`` for
a real crossbar (e.g. centred pulsed devices, whose ``g_min`` and offsets dissipate too).

Code-generation target: ``'numpy'`` by default. It needs no compiler and no cache, so it
works on a fresh machine, and at the sizes of the logic tasks (N <= 16, K * B <= 40)
Brian2's per-step Python overhead dominates whatever the target, so cython (about 28 s
for its first build with an empty cache) does not pay. ``'cython'`` may be chosen for
large N (measured on the development machine: 9x faster at N = 512); cpp_standalone is not supported here (each
call builds a new network, i.e. a new compilation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hw.crossbar import to_conductances
from hw.devices import IDEAL
from models.dynamics import AffineField, residual_norm
from models.settle import SettleResult

from .physics import C as C_NEURON, G0_IDEAL, V_FS

TARGETS = ("numpy", "cython")


@dataclass(frozen=True)
class PhaseReport:
    """Physical figures of one settling phase, per (network, sample) (K, B).

    ``settling_time`` (s): first time after which every neuron stays within
    ``settle_tol * V_fs`` of its value at the end of the phase (0 if it always did; a
    phase cut short of its equilibrium is measured against where it was cut).
    ``energy`` (J): dissipated in the crossbar devices during the phase.
    ``duration`` (s): simulated time of the phase. ``trajectory`` (steps + 1, K, B, N):
    ``s = V / V_fs`` at t = 0 and after every step (None unless kept).
    """

    settling_time: np.ndarray
    energy: np.ndarray
    duration: float
    trajectory: np.ndarray | None = None


class Brian2Engine:
    """Settles a phase with Brian2: ``engine(field, s0, steps=..., accumulate=..., hebbian=...)``.

    Matches :data:`models.training.Engine` with the semantics of the ``reference``
    solver of :mod:`models.settle` (exactly ``steps`` Euler steps of ``dt``). After
    every call ``last`` holds the :class:`PhaseReport` (also ``last_settling_time``,
    ``last_energy``); with ``keep_reports`` every report is appended to ``reports``.

    ``C`` (F), ``g0`` (S), ``V_fs`` (V) set the physical scale (``tau = C / g0``): the
    defaults are the project's conventions (``circuits/physics.py``: 1 pF, 2**-14 S,
    0.2 V, tau = 16.4 ns).
    ``tol`` is the projected-residual tolerance of ``converged``; ``settle_tol`` (in
    units of V_fs) that of the settling time.
    """

    def __init__(self, dt: float = 0.05, *, C: float = C_NEURON, g0: float = G0_IDEAL, V_fs: float = V_FS,
                 tol: float = 1e-9, settle_tol: float = 1e-3, target: str = "numpy",
                 keep_trajectory: bool = False, keep_reports: bool = False) -> None:
        for name, v in (("dt", dt), ("C", C), ("g0", g0), ("V_fs", V_fs), ("tol", tol), ("settle_tol", settle_tol)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0; got {v!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
        self.dt, self.C, self.g0, self.V_fs = float(dt), float(C), float(g0), float(V_fs)
        self.tol, self.settle_tol, self.target = float(tol), float(settle_tol), target
        self.keep_trajectory, self.keep_reports = keep_trajectory, keep_reports
        self.last: PhaseReport | None = None
        self.reports: list[PhaseReport] = []

    @property
    def tau(self) -> float:
        return self.C / self.g0

    @property
    def step_seconds(self) -> float:
        return self.dt * self.tau

    @property
    def last_settling_time(self) -> np.ndarray | None:
        return None if self.last is None else self.last.settling_time

    @property
    def last_energy(self) -> np.ndarray | None:
        return None if self.last is None else self.last.energy

    def __call__(self, field: AffineField, s0: np.ndarray, steps: int = 1000, accumulate: bool = False,
                 hebbian: bool = False, conductances: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> SettleResult:
        s0 = np.asarray(s0, dtype=float)
        K, B, N = s0.shape
        steps = int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0; got {steps}")
        if conductances is None:
            Gp, Gm = to_conductances(field.A, IDEAL, self.g0)  # the one-sided ideal mapping
        else:
            Gp, Gm = (np.broadcast_to(np.asarray(g, dtype=float), (K, N, N)) for g in conductances)
        traj, energy = self._simulate(field, s0, steps, (Gp + Gm).sum(-1))
        s = traj[-1].copy()
        path = hebb = None
        if accumulate:  # path[i, j] = sum_t sum_b s_i(t) (s_j(t) - s_j(t-1))
            path = np.einsum("tkbi,tkbj->kij", traj[1:], np.diff(traj, axis=0))
        if hebbian:  # hebb[i, j] = sum_{t=1..steps} sum_b s_i(t) s_j(t)
            hebb = np.einsum("tkbi,tkbj->kij", traj[1:], traj[1:])
        # settling: index of the first recorded state after which nothing leaves the band
        away = (np.abs(traj - s) > self.settle_tol).any(-1)  # (steps + 1, K, B)
        entered = np.where(away.any(0), steps + 1 - np.argmax(away[::-1], axis=0), 0)
        report = PhaseReport(entered * self.step_seconds, energy, steps * self.step_seconds,
                             traj if self.keep_trajectory else None)
        self.last = report
        if self.keep_reports:
            self.reports.append(report)
        res = residual_norm(s, field)
        return SettleResult(s, np.full((K, B), steps), res, res < self.tol, path, hebb)

    def _simulate(self, field: AffineField, s0: np.ndarray, steps: int, g_row: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Run the Brian2 network; returns the trajectory (steps + 1, K, B, N) in units of
        V_fs and the device energy (K, B) in J."""
        import brian2 as b2
        from brian2.devices.device import RuntimeDevice, get_device

        if not isinstance(get_device(), RuntimeDevice):
            raise RuntimeError("Brian2Engine needs Brian2's runtime device (set_device('runtime'))")
        K, B, N = s0.shape
        n = K * B * N
        A = np.asarray(field.A, dtype=float)
        d = np.broadcast_to(field.d, (K, B, N))
        c = np.broadcast_to(field.c, (K, B, N))
        free = np.broadcast_to(np.asarray(field.free, dtype=float), (K, B, N))
        grow = np.broadcast_to(g_row[:, None, :], (K, B, N))
        dt_s = self.step_seconds

        ns = {"g0": self.g0 * b2.siemens, "Cn": self.C * b2.farad, "Vfs": self.V_fs * b2.volt}
        eqs = """
        dV/dt = free * (Icol - g0 * d * V + g0 * c * Vfs) / Cn : volt
        dE/dt = Grow * V**2 : joule
        Icol : amp
        free : 1 (constant)
        d : 1 (constant)
        c : 1 (constant)
        Grow : siemens (constant)
        """
        prev_target = b2.prefs.codegen.target
        b2.prefs.codegen.target = self.target
        try:
            # every object on one clock: an object left on Brian2's global defaultclock
            # would carry that clock's time from one call to the next
            clock = b2.Clock(dt=dt_s * b2.second)
            G = b2.NeuronGroup(n, eqs, method="euler", clock=clock, namespace=ns)
            G.V = (s0 * self.V_fs).ravel() * b2.volt
            G.E = 0 * b2.joule
            G.free = free.ravel()
            G.d = d.ravel()
            G.c = c.ravel()
            G.Grow = grow.ravel() * b2.siemens
            G.run_regularly("V = clip(V, 0*volt, Vfs)", when="end", order=0)
            # one synapse per nonzero crossbar cell, inside every (network, sample) block
            k_idx, i_idx, j_idx = np.nonzero(A)
            base = ((k_idx[:, None] * B + np.arange(B)[None, :]) * N)  # (S, B)
            pre = (base + i_idx[:, None]).ravel()
            post = (base + j_idx[:, None]).ravel()
            objs = [G]
            if pre.size:
                S = b2.Synapses(G, G, "w : 1 (constant)\nIcol_post = g0 * w * V_pre : amp (summed)",
                                method="euler", namespace=ns, clock=clock)
                S.connect(i=pre, j=post)
                S.w = np.repeat(A[k_idx, i_idx, j_idx], B)
                objs.append(S)
            M = b2.StateMonitor(G, "V", record=True, when="end", order=1, clock=clock)
            objs.append(M)
            net = b2.Network(*objs)
            net.run(steps * dt_s * b2.second, namespace=ns)
            V = np.asarray(M.V_)  # (n, T)
            E = np.asarray(G.E_)
        finally:
            b2.prefs.codegen.target = prev_target
        if V.shape[1] != steps:
            raise RuntimeError(f"Brian2 ran {V.shape[1]} steps instead of {steps}")
        traj = np.empty((steps + 1, K, B, N))
        traj[0] = s0
        traj[1:] = (V.T / self.V_fs).reshape(steps, K, B, N)
        return traj, E.reshape(K, B, N).sum(-1)
