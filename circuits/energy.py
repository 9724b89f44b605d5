"""Energy and latency of inference and training on a crossbar, with every assumption named.

The physical scale (``V_FS``, ``C``, ``g0``, ``tau = C / g0``) is that of
:mod:`circuits.physics`; nothing here restates it.

Inference (``phase_energy``, ``inference_report``)
    A free phase is the continuous flow ``ds/dt = f(s) / tau`` of the field
    (:mod:`models.dynamics`), integrated with the projected Euler map
    ``s <- clip(s + dt f(s), 0, 1)`` of :mod:`models.settle` at a *small* step ``dt``
    (model time; default ``min(DT, DT_RHO / rho)`` where ``rho`` bounds the Jacobian's
    spectral radius (Gershgorin), so ``dt * rho <= 0.01``; ``DT`` = 1e-3, i.e. 16 ps at
    the ideal ``tau`` of 16.4 ns). The Euler map of the training solver (dt = 0.05) is
    the circuit sampled coarsely. The error is first order, about ``rate * dt / 2``
    (at most 0.5 % by the choice of dt): 0.1 % on the exact RC solution at rate 2 / tau
    (unit tests, which also check that halving dt halves it), ~0.05 % on the trained
    XOR networks (halving dt from 1e-3 moves latency and energy by 0.025 %).

    * Device energy: a device at cell (i, j) sees ``+V_i`` (G+) or ``-V_i`` (G-) across
      it, its column held at virtual ground, so the crossbar dissipates
      ``P(t) = sum_{i,j} (Gp + Gm)[i, j] (V_FS s_i(t))^2``, integrated (trapezoid rule on
      the Euler samples) from 0 to the latency of the sample. Input rows count (their
      drivers are sources as well); open cells count with their switch's off
      conductance (``hw.crossbar.Crossbar.state``). What does *not*
      count: the leak resistor ``gamma g0`` and the nudge conductance ``beta g0`` (they
      belong to the neuron circuit, not to the crossbar), the integrators, amplifiers,
      drivers and converters (the periphery: estimated separately, below).
    * Latency: the first time after which every neuron stays within ``settle_tol * V_FS``
      (default 1e-3 of full scale) of the equilibrium, linearly interpolated between the
      Euler samples; the equilibrium is where the same Euler map stops (projected
      residual below ``stop_tol`` = 1e-7 per tau, so within ~1e-7 / rate of the fixed
      point, far inside the band). Per (network, sample), summarised as mean and max.
    * The equilibrium power ``P(s_eq)`` is reported too: a readout later than the
      latency costs ``P(s_eq)`` per second more (``horizon_s`` integrates to a fixed
      phase duration instead).

Periphery (``periphery_energy``)
    Not simulated: an energy per multiply-accumulate of the converters and periphery
    from measured compute-in-memory chips (published system-level figures): RRAM CIM chips
    25-51 TOPS/W, i.e. 39-80 fJ/MAC at 2 operations per MAC, system level; a 28 nm RRAM
    macro 35.6 TOPS/W = 56 fJ/MAC (the central value used). Counted: one MAC per
    *connected* crossbar cell (not open) per inference, i.e. the converters read the
    settled state once, as one matrix-vector product of the array. These system
    figures include their own arrays' device energy, so the estimate is an upper
    bound of what the periphery adds; it is reported beside the device energy and never
    added to it.
    Tiles (``hw.wires``): each tile has its own row drivers and column sense amplifiers
    at its edges; ``tile_census`` counts them (reported as ``tiles``). The per-MAC figure
    does not depend on the cut: every connected cell is one MAC whatever tile holds it.

Training (``training_energy``)
    Per epoch and per network (one crossbar each):

    * programming: ``pulses x E_pulse`` with ``history["pulses"]`` of
      ``hw.controller.train_on_crossbar``; ``E_pulse = V_w^2 G t_pw + V_w^2 C_wire``
      (NeuroSim's model, MLP_NeuroSim V3.0 ``Cell.cpp``), or a fixed energy per pulse
      where the table says so (PCM). ``G``: the mean conductance of the connected
      devices of the crossbar (its final state; ``PulseModel.g_typical``, mid-window or
      NeuroSim's 5 uS, only when a pulse energy is asked without a crossbar).
      ``C_wire = WIRE_CAP_PER_CELL x`` the cells on the written column of a tile (``2 N``:
      the + and - row of every neuron, at most the tile size ``T``; ``tile_census``),
      0.04 fF per cell (NeuroSim: 0.2 fF/um, a cell segment of 2F with F = 100 nm,
      MLP_NeuroSim V3.0 ``Array.h`` and ``Param.cpp`` ``arrayWireWidth``). Not counted: the one-time
      calibration and initial write of ``Crossbar.build`` (not in ``history``), half-
      selected cells, the write drivers.
    * reads: ``measurements x reads x sum over connected devices of V_read^2 G t_read``
      with ``V_read = V_FS``, ``t_read`` from the table; ``reads`` as the controller
      averages them (``CrossbarConfig.reads`` for a noisy device, 1 for a noiseless
      one), ``1 + write_verify`` measurements per epoch.
    * settling: the device energy of the free and the nudged phase of every sample of
      the epoch (``phase_energy``, each to its own latency; the nudged phase from the
      free equilibrium). ``report`` evaluates it on the crossbar as it ends the run and
      uses it for every epoch (an approximation: the conductances change during
      training).

Pulse models (``PULSE_MODELS``, keyed by preset name; ``assumption=True`` where no
source gives the figure for this device):

======  =====  =====  ======  =====================  ===================================
preset  V_w    t_pw   t_read  energy per pulse       source
======  =====  =====  ======  =====================  ===================================
ideal   2 V    10 ns  5 ns    V^2 G t + V^2 C_wire   NeuroSim IdealDevice (2 V, 10 ns,
                                                     5 uS: 0.2 pJ; read 5 ns)
rram    2 V    10 ns  5 ns    V^2 G t + V^2 C_wire   ASSUMPTION: NeuroSim's pulse on the
                                                     preset's conductances
pcm     -      -      250 ns  1 nJ fixed             published estimate: ~1 nJ per write;
                                                     t_read of the PCM read-noise model
ecram   2 V    10 ns  5 ns    V^2 G t + V^2 C_wire   ASSUMPTION (no reliable figure)
======  =====  =====  ======  =====================  ===================================
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from models.dynamics import AffineField
from models.settle import field_residual

from .physics import DEFAULT, Physical


# ---- validation ---------------------------------------------------------------------------


def _positive(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} = {v!r} is invalid: must be a finite number > 0")
    return float(v)


def _nonnegative(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} = {v!r} is invalid: must be a finite number >= 0")
    return float(v)


def _finite_array(name: str, a, nonnegative: bool = False) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    if nonnegative and np.any(a < 0):
        raise ValueError(f"{name} has negative entries (min {a.min()!r})")
    return a


def _json(x) -> float | None:
    """A JSON-safe float (None for NaN or inf)."""
    x = float(x)
    return x if math.isfinite(x) else None


DT = 1e-3  # model time (units of tau): the largest step of the energy integration
DT_RHO = 0.01  # and dt * rho <= this (rho: Gershgorin bound of the Jacobian's spectral radius)
SETTLE_TOL = 1e-3  # latency band, fraction of V_FS
STOP_TOL = 1e-7  # projected residual (per tau) at which a trajectory counts as at equilibrium
MAX_STEPS = 400_000  # cap per phase (400 tau at dt = 1e-3)

# ---- periphery ------------------------------------------------------------------------

PERIPHERY_FJ_PER_MAC = 56.0  # 28 nm RRAM macro, 35.6 TOPS/W (published)
PERIPHERY_FJ_PER_MAC_RANGE = (39.0, 80.0)  # RRAM CIM chips, 51-25 TOPS/W, 2 ops per MAC
PERIPHERY_SOURCE = ("published compute-in-memory chips: RRAM CIM chips 25-51 TOPS/W (39-80 fJ/MAC, system level, "
                    "2 ops per MAC); a 28 nm RRAM macro 35.6 TOPS/W = 56 fJ/MAC (central value). "
                    "Counted: one MAC per connected (not open) crossbar cell per inference (one readout "
                    "of the settled array). These figures include the chips' own array energy: an upper "
                    "bound of the periphery, reported separately, never added to the device energy. "
                    "For comparison, the IBM 64-core PCM chip (14 nm): 205-806 fJ/MAC.")

# ---- programming and reads -------------------------------------------------------------

WIRE_CAP_PER_UM = 0.2e-15  # F/um, NeuroSim (MLP_NeuroSim V3.0 Array.h)
CELL_SEGMENT_UM = 0.2  # um: 2F per cell with F = arrayWireWidth = 100 nm (Param.cpp, Array.h)
WIRE_CAP_PER_CELL = WIRE_CAP_PER_UM * CELL_SEGMENT_UM  # 0.04 fF
WIRE_SOURCE = ("C_wire = 0.04 fF per cell x the 2N cells of the written column (NeuroSim: 0.2 fF/um and "
               "a 2F = 200 nm cell segment, MLP_NeuroSim V3.0 Array.h, Param.cpp arrayWireWidth 100 nm)")


@dataclass(frozen=True)
class PulseModel:
    """The energy of one programming pulse and of one read of a device type.

    ``E_pulse = v_write^2 (G t_pulse + C_wire)`` (NeuroSim), or ``energy_fixed`` (J per
    pulse, all included) when given. ``g_typical`` (S) is the conductance used when no
    crossbar is given. ``t_read`` (s) the duration of one read at ``V_FS``.
    """

    preset: str
    v_write: float  # V
    t_pulse: float  # s
    g_typical: float  # S
    t_read: float  # s
    source: str
    assumption: bool
    energy_fixed: float | None = None  # J per pulse, replaces the formula

    def __post_init__(self) -> None:
        for name in ("v_write", "t_pulse", "g_typical", "t_read"):
            _positive(name, getattr(self, name))
        if self.energy_fixed is not None:
            _positive("energy_fixed", self.energy_fixed)

    def pulse_energy(self, g: float | None = None, c_wire: float = 0.0) -> float:
        """Joules per pulse on a device of conductance ``g`` (S, default ``g_typical``)
        with ``c_wire`` (F) of wire charged."""
        if self.energy_fixed is not None:
            return self.energy_fixed
        g = self.g_typical if g is None else g
        _nonnegative("g", g)
        _nonnegative("c_wire", c_wire)
        return self.v_write**2 * (g * self.t_pulse + c_wire)


_NEUROSIM = "NeuroSim IdealDevice (MLP_NeuroSim V3.0 Cell.cpp): write 2 V, 10 ns; read pulse 5 ns"
PULSE_MODELS: dict[str, PulseModel] = {
    "ideal": PulseModel(
        "ideal", 2.0, 10e-9, 5e-6, 5e-9,
        _NEUROSIM + "; E = V_w^2 G t_pw + V_w^2 C_wire, 2 V x 5 uS x 10 ns = 0.2 pJ; "
        "5 uS is NeuroSim's maximum conductance, used only without a crossbar", False),
    "rram": PulseModel(
        "rram", 2.0, 10e-9, 20.5e-6, 5e-9,
        "ASSUMPTION: NeuroSim's ideal-device pulse (2 V, 10 ns) and read (5 ns) on the HfO2 preset's "
        "conductances (typical: mid-window 20.5 uS of 1-40 uS); the pulse conditions of the fitted "
        "devices (Gong et al. 2018) were not verified. For scale, NeuroSim's Ag:a-Si RealDevice "
        "(3.2 V, 300 us, 38.5 nS) costs about 118 pJ per pulse", True),
    "pcm": PulseModel(
        "pcm", 2.0, 10e-9, 12.5e-6, 250e-9,
        "PCM about 1 nJ per write (a published 2026 estimate), used as a fixed energy "
        "per pulse (SET or RESET alike; the melt current, not the read conductance, sets it); read "
        "250 ns (t_read of the PCM 1/f read-noise model, aihwkit / Nandakumar et al. 2019)", False,
        energy_fixed=1e-9),
    "ecram": PulseModel(
        "ecram", 2.0, 10e-9, 5.5e-6, 5e-9,
        "ASSUMPTION (no reliable per-pulse figure found): NeuroSim's ideal-device pulse (2 V, 10 ns) "
        "through the channel conductance (typical: mid-window 5.5 uS of 1-10 uS), read 5 ns. Bounds: "
        "Tang et al., IEDM 2018 (Li/WO3) project ~1 fJ per update for 100 x 100 nm^2 devices; a 10 x 10 "
        "WOx array was programmed with +-5 V pulses of 100-150 ms (Nat. Commun. 2023, open-loop "
        "programmable ECRAM), whose energy depends on the gate leakage", True),
}


def pulse_model(name: str) -> PulseModel:
    key = str(name).strip().lower()
    if key not in PULSE_MODELS:
        raise ValueError(f"no pulse model for preset {name!r}: known are {', '.join(PULSE_MODELS)}")
    return PULSE_MODELS[key]


# ---- one phase -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PhaseEnergy:
    """Latency and device energy of one settling phase per (network, sample) (K, B).

    ``latency_s`` (s) first time after which every neuron stays within ``settle_tol``
    V_FS of ``s_eq``; ``energy_j`` (J) device energy from 0 to the latency (or to
    ``horizon_s``); ``power_eq_w`` (W) device power at ``s_eq``; ``s_eq`` (K, B, N);
    ``converged`` (K, B) the trajectory reached ``stop_tol`` within ``max_steps``;
    ``dt`` the step used (model time), ``step_s`` in seconds; ``steps`` (K, B) taken.
    """

    latency_s: np.ndarray
    energy_j: np.ndarray
    power_eq_w: np.ndarray
    s_eq: np.ndarray
    converged: np.ndarray
    steps: np.ndarray
    dt: float
    step_s: float
    settle_tol: float
    horizon_s: float | None = None

    def summary(self) -> dict:
        lat, e = self.latency_s, self.energy_j
        return {"latency_s_mean": _json(lat.mean()), "latency_s_max": _json(lat.max()),
                "energy_j_mean": _json(e.mean()), "energy_j_max": _json(e.max()),
                "power_eq_w_mean": _json(self.power_eq_w.mean()),
                "converged_fraction": _json(self.converged.mean()),
                "dt_model": self.dt, "step_s": self.step_s, "settle_tol_of_vfs": self.settle_tol}


def spectral_bound(field: AffineField) -> float:
    """Gershgorin bound of the Jacobian's spectral radius on the free neurons:
    ``max_j |d_j| + sum_i |A[i, j]|`` (per tau)."""
    free = np.asarray(field.free, bool)
    colsum = np.abs(field.A).sum(-2)  # (K, N): sum_i |A[i, j]|
    rho = np.abs(field.d) + colsum[:, None, :]
    return float(np.max(np.where(free, rho, 0.0), initial=0.0))


def _power(s: np.ndarray, g_row: np.ndarray, v_fs: float) -> np.ndarray:
    """Device power (K, B): sum_i g_row[k, i] (v_fs s_i)^2."""
    return v_fs**2 * np.einsum("kbi,ki->kb", s * s, g_row)


def phase_energy(Gp: np.ndarray, Gm: np.ndarray, field: AffineField, s0: np.ndarray,
                 phys: Physical = DEFAULT, *, dt: float | None = None, settle_tol: float = SETTLE_TOL,
                 stop_tol: float = STOP_TOL, max_steps: int = MAX_STEPS,
                 horizon_s: float | None = None) -> PhaseEnergy:
    """Latency and device energy of settling ``s0`` (K, B, N) under ``field`` on the
    conductances ``Gp``, ``Gm`` (K, N, N) in S (open cells already at their off
    conductance), at the scale ``phys`` (its ``g0`` must be the crossbar's unit).

    Two passes of the same deterministic Euler map (module docstring): the first finds
    where it stops (projected residual < ``stop_tol``), the equilibrium; the second
    measures the band crossing and the energy. ``dt`` (model time) default
    ``min(DT, DT_RHO / spectral_bound(field))``. ``horizon_s``: integrate the energy to
    this fixed time instead of to each sample's latency (beyond the end of the
    trajectory at the equilibrium power).
    """
    s0 = _finite_array("s0", s0)
    if s0.ndim != 3:
        raise ValueError(f"s0 must be (K, B, N), got shape {s0.shape}")
    K, B, N = s0.shape
    if np.any(s0 < 0) or np.any(s0 > 1):
        raise ValueError("s0 must lie in [0, 1] (the rails 0 and V_FS)")
    Gp = _finite_array("Gp", Gp, nonnegative=True)
    Gm = _finite_array("Gm", Gm, nonnegative=True)
    if Gp.shape != (K, N, N) or Gm.shape != (K, N, N):
        raise ValueError(f"Gp, Gm must be (K, N, N) = {(K, N, N)}, got {Gp.shape}, {Gm.shape}")
    if field.A.shape != (K, N, N):
        raise ValueError(f"field.A is {field.A.shape}, the states need {(K, N, N)}")
    for name, a in (("field.A", field.A), ("field.d", field.d), ("field.c", field.c)):
        _finite_array(name, a)
    _positive("settle_tol", settle_tol)
    _positive("stop_tol", stop_tol)
    if not (isinstance(max_steps, (int, np.integer)) and max_steps >= 1):
        raise ValueError(f"max_steps = {max_steps!r} is invalid: must be an integer >= 1")
    if horizon_s is not None:
        _nonnegative("horizon_s", horizon_s)
    if dt is None:
        rho = spectral_bound(field)
        dt = DT if rho <= 0 else min(DT, DT_RHO / rho)
    _positive("dt", dt)
    step_s = dt * phys.tau

    t_hor = math.inf if horizon_s is None else horizon_s / step_s  # in steps
    # fresh, writeable, C-ordered copies: one signature of the compiled kernel (read-only
    # views, e.g. of np.broadcast_to, would compile another)
    A = np.array(field.A, dtype=float, order="C")
    d = np.array(np.broadcast_to(field.d, (K, B, N)), dtype=float, order="C")
    c = np.array(np.broadcast_to(field.c, (K, B, N)), dtype=float, order="C")
    free = np.array(np.broadcast_to(field.free, (N,)), dtype=np.bool_, order="C")
    g_row = np.array((Gp + Gm).sum(-1), dtype=float, order="C")  # (K, N)
    lat, e_lat, e_hor, e_end = (np.zeros((K, B)) for _ in range(4))
    s_eq = np.zeros((K, B, N))
    steps = np.zeros((K, B), np.int64)
    converged = np.zeros((K, B), np.bool_)
    _settle_energy(np.array(s0, dtype=float, order="C"), A, d, c, free, g_row, float(dt), float(step_s),
                   float(phys.v_fs) ** 2, float(settle_tol), float(stop_tol), int(max_steps), float(t_hor),
                   lat, e_lat, e_hor, e_end, s_eq, steps, converged)
    P_eq = _power(s_eq, g_row, phys.v_fs)
    if horizon_s is None:
        energy = e_lat
    else:  # a horizon past the end of the trajectory: the rest at the equilibrium power
        energy = np.where(np.isnan(e_hor), e_end + (horizon_s - steps * step_s) * P_eq, e_hor)
    return PhaseEnergy(lat, energy, P_eq, s_eq, converged, steps, float(dt), float(step_s),
                       float(settle_tol), horizon_s)


@numba.njit(cache=True)
def _settle_energy(s0, A, d, c, free, g_row, dt, step_s, v2, tol, stop_tol, max_steps, t_hor,
                   lat, e_lat, e_hor, e_end, s_eq, steps, converged):  # pragma: no cover - compiled
    """Per sample: pass 1 runs the Euler map ``x <- clip(x + dt f(x), 0, 1)`` until the
    projected residual is below ``stop_tol`` (or ``max_steps``): ``s_eq``, ``steps``.
    Pass 2 runs the same steps again: the power ``v2 sum_i g_row_i x_i^2`` integrated by
    the trapezoid rule (``e_end``), the last crossing of the band ``max_i |x_i - s_eq_i|
    <= tol`` (``lat`` in s, interpolated linearly between samples, and the energy up to
    it, ``e_lat``) and the energy up to ``t_hor`` steps (``e_hor``, NaN if beyond)."""
    K, B, N = s0.shape
    x = np.empty(N)
    f = np.empty(N)
    new = np.empty(N)
    for k in range(K):
        for b in range(B):
            x[:] = s0[k, b]
            n = 0
            while True:
                r = field_residual(x, A[k], d[k, b], c[k, b], free, f)
                if r < stop_tol:
                    converged[k, b] = True
                    break
                if n >= max_steps:
                    break
                for j in range(N):
                    v = x[j] + dt * f[j]
                    x[j] = 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)
                n += 1
            s_eq[k, b] = x
            steps[k, b] = n
            x[:] = s0[k, b]
            P = 0.0
            dev = 0.0
            for j in range(N):
                P += g_row[k, j] * x[j] * x[j]
                dev = max(dev, abs(x[j] - s_eq[k, b, j]))
            P *= v2
            E = 0.0
            L = 0.0
            EL = 0.0
            EH = np.nan if t_hor > 0.0 else 0.0
            for m in range(n):
                field_residual(x, A[k], d[k, b], c[k, b], free, f)
                P_new = 0.0
                dev_new = 0.0
                for j in range(N):
                    v = x[j] + dt * f[j]
                    v = 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)
                    new[j] = v
                    P_new += g_row[k, j] * v * v
                    dev_new = max(dev_new, abs(v - s_eq[k, b, j]))
                P_new *= v2
                if dev > tol:  # out of the band at m: the crossing is after it
                    frac = 1.0
                    if dev_new <= tol:
                        frac = (dev - tol) / (dev - dev_new)
                    L = (m + frac) * step_s
                    EL = E + frac * step_s * (P + 0.5 * frac * (P_new - P))
                if m < t_hor <= m + 1:
                    h = t_hor - m
                    EH = E + h * step_s * (P + 0.5 * h * (P_new - P))
                E += 0.5 * (P + P_new) * step_s
                x[:] = new
                P = P_new
                dev = dev_new
            lat[k, b] = L
            e_lat[k, b] = EL
            e_hor[k, b] = EH
            e_end[k, b] = E


# ---- crossbars -------------------------------------------------------------------------------

def physical(xbar) -> Physical:
    """The scale of a crossbar: its unit conductance, the project's V_FS and C."""
    return Physical(g0=float(xbar.cfg.unit))


def connected_cells(xbar) -> np.ndarray:
    """(K,) crossbar cells not switched off (the MACs of one inference)."""
    return (~np.asarray(xbar.open, bool)).sum((-1, -2))


def tile_census(xbar) -> dict:
    """The tiles of a crossbar (``hw.wires.tiles``) and the periphery at their edges: a
    driver per physical row and a virtual-ground sense amplifier per column of every
    tile, and the longest column wire (cells), the one a programming pulse charges."""
    blocks = xbar.tiles()
    return {"tile_size": xbar.cfg.tile_size, "tiles": len(blocks),
            "drivers": int(sum(2 * len(r) for r, _ in blocks)),
            "sense_amplifiers": int(sum(len(c) for _, c in blocks)),
            "column_cells": int(max((2 * len(r) for r, _ in blocks), default=0))}


def column_cells(n: int, tile_size: int | None) -> int:
    """Cells on one column wire of a tile: ``2 n`` rows, at most ``tile_size``."""
    return 2 * n if tile_size is None else min(2 * n, tile_size)


def periphery_energy(macs, fj_per_mac: float = PERIPHERY_FJ_PER_MAC) -> np.ndarray:
    """Joules of the converters / periphery for ``macs`` multiply-accumulates."""
    macs = _finite_array("macs", macs, nonnegative=True)
    return macs * _nonnegative("fj_per_mac", fj_per_mac) * 1e-15


def inference_report(xbar, field_free: AffineField, s0: np.ndarray, *, dt: float | None = None,
                     settle_tol: float = SETTLE_TOL, fj_per_mac: float = PERIPHERY_FJ_PER_MAC,
                     phase: PhaseEnergy | None = None) -> dict:
    """Per inference (one sample's free phase) on ``xbar``: device energy and latency
    (mean and max over networks and samples), the periphery estimate beside them."""
    if phase is None:
        Gp, Gm = xbar.state()
        phase = phase_energy(Gp, Gm, field_free, s0, physical(xbar), dt=dt, settle_tol=settle_tol)
    macs = connected_cells(xbar)
    per = periphery_energy(macs, fj_per_mac)
    lo, hi = PERIPHERY_FJ_PER_MAC_RANGE
    return {
        "inference_j": _json(phase.energy_j.mean()),
        "inference_j_max": _json(phase.energy_j.max()),
        "inference_j_per_network": [_json(v) for v in phase.energy_j.mean(-1)],
        "inference_j_per_sample": [[_json(v) for v in row] for row in phase.energy_j],
        "inference_latency_s": _json(phase.latency_s.mean()),
        "inference_latency_s_max": _json(phase.latency_s.max()),
        "inference_latency_s_per_sample": [[_json(v) for v in row] for row in phase.latency_s],
        "inference_power_eq_w": _json(phase.power_eq_w.mean()),
        "inference_converged_fraction": _json(phase.converged.mean()),
        "periphery_j_per_inference": _json(per.mean()),
        "periphery_j_per_inference_range": [_json(macs.mean() * lo * 1e-15), _json(macs.mean() * hi * 1e-15)],
        "macs_per_inference": _json(macs.mean()),
        "integration_dt_model": phase.dt,
        "integration_step_s": phase.step_s,
        "settle_tol_of_vfs": phase.settle_tol,
        "tau_s": physical(xbar).tau,
    }


# ---- training --------------------------------------------------------------------------------

def programming_energy(pulses, energy_per_pulse: float) -> np.ndarray:
    """Joules of ``pulses`` (any shape, e.g. (epochs, K)) at ``energy_per_pulse`` J each."""
    pulses = _finite_array("pulses", pulses, nonnegative=True)
    return pulses * _nonnegative("energy_per_pulse", energy_per_pulse)


def deployment_energy(device_name: str, pulses: np.ndarray, G: np.ndarray, cells: np.ndarray,
                      tile_size: int | None = None) -> dict:
    """Programming energy of program-and-verify (``hw.deploy``) per chip: ``pulses`` and
    ``G`` (..., 2, N, N) per device, ``cells`` the programmed devices (same shape); the
    pulse model of ``device_name`` with the mean programmed conductance and the wire of
    a tile's column (``column_cells``: ``2 N`` cells, at most ``tile_size``). The verify
    reads are not counted."""
    model = pulse_model(device_name)
    cells = np.asarray(cells, bool)
    n = G.shape[-1]
    g = float(np.asarray(G)[cells].mean()) if cells.any() else model.g_typical
    e_pulse = model.pulse_energy(g, WIRE_CAP_PER_CELL * column_cells(n, tile_size))
    per_chip = programming_energy(np.where(cells, pulses, 0).sum((-1, -2, -3)), e_pulse)
    return {"programming_j_per_chip": _json(per_chip.mean()), "energy_per_pulse_j": _json(e_pulse),
            "pulse_model": model.source, "pulse_model_is_assumption": model.assumption,
            "not_counted": "the verify reads; the drivers and converters"}


def _model_for(xbar, model: PulseModel | None) -> PulseModel:
    return model if model is not None else pulse_model(xbar.cfg.device.name)


def _mean_device_conductance(xbar) -> float:
    Gp, Gm = xbar.state()
    live = ~np.asarray(xbar.open, bool)
    n = 2 * live.sum()
    return float((np.where(live, Gp + Gm, 0.0)).sum() / n) if n else 0.0


def read_energy_per_epoch(xbar, model: PulseModel | None = None) -> np.ndarray:
    """(K,) joules of one epoch's measurements of every connected device (module
    docstring): ``(1 + write_verify) x reads x sum V_FS^2 G t_read``."""
    model = _model_for(xbar, model)
    dev = xbar.cfg.device
    noisy = dev.read_noise > 0 or dev.read_noise_add > 0
    reads = xbar.cfg.reads if noisy else 1
    measurements = 1 + xbar.cfg.write_verify
    Gp, Gm = xbar.state()
    live = ~np.asarray(xbar.open, bool)
    g_sum = np.where(live, Gp + Gm, 0.0).sum((-1, -2))
    return measurements * reads * physical(xbar).v_fs**2 * g_sum * model.t_read


def training_energy(xbar, pulses, *, settle_j_per_epoch=0.0, model: PulseModel | None = None,
                    wire_cap_per_cell: float = WIRE_CAP_PER_CELL) -> dict:
    """Training energy per network from ``pulses`` (epochs, K) (``history["pulses"]``)
    on the crossbar ``xbar`` (its final state gives the conductances):

    ``programming_j_per_epoch`` (mean over epochs and networks), ``read_j_per_epoch``,
    ``settle_j_per_epoch`` (as given: scalar or (K,)), ``training_j_total`` (mean over
    networks of the sum over epochs of all three), with the per-network values and the
    pulse energy used. The module docstring lists what is counted.
    """
    pulses = _finite_array("pulses", pulses, nonnegative=True)
    if pulses.ndim == 1:
        pulses = pulses[:, None]
    K = np.asarray(xbar.Gp).shape[0]
    if pulses.ndim != 2 or pulses.shape[1] != K:
        raise ValueError(f"pulses must be (epochs, K) with K = {K} networks, got shape {pulses.shape}")
    settle = np.broadcast_to(_finite_array("settle_j_per_epoch", settle_j_per_epoch, nonnegative=True), (K,))
    model = _model_for(xbar, model)
    _nonnegative("wire_cap_per_cell", wire_cap_per_cell)
    g_pulse = _mean_device_conductance(xbar)
    c_wire = wire_cap_per_cell * tile_census(xbar)["column_cells"]
    e_pulse = model.pulse_energy(g_pulse, c_wire)
    prog = programming_energy(pulses, e_pulse)  # (epochs, K)
    read = read_energy_per_epoch(xbar, model)  # (K,)
    epochs = pulses.shape[0]
    total = prog.sum(0) + epochs * (read + settle)
    return {
        "programming_j_per_epoch": _json(prog.mean()),
        "read_j_per_epoch": _json(read.mean()),
        "settle_j_per_epoch": _json(settle.mean()),
        "training_j_total": _json(total.mean()),
        "training_j_total_per_network": [_json(v) for v in total],
        "programming_j_total": _json(prog.sum(0).mean()),
        "pulses_per_epoch": _json(pulses.mean()),
        "epochs": int(epochs),
        "energy_per_pulse_j": _json(e_pulse),
        "pulse_conductance_s": _json(g_pulse),
        "pulse_conductance_is": "mean conductance of the connected devices of the crossbar (final state)",
        "c_wire_f": _json(c_wire),
        "programming_s_per_epoch_serial": (None if model.energy_fixed is not None
                                           else _json(pulses.mean() * model.t_pulse)),
    }


def settle_energy_per_epoch(xbar, field_free: AffineField, s0: np.ndarray, targets: np.ndarray | None,
                            beta: float | None, *, dt: float | None = None,
                            settle_tol: float = SETTLE_TOL) -> tuple[dict, PhaseEnergy, PhaseEnergy | None]:
    """(K,) device energy of one epoch's phases: the free phase of every sample from
    ``s0`` and, when ``targets`` (B, n_out) and ``beta`` are given, the nudged phase from
    the free equilibrium (nudge on the topology's outputs). Returns the per-network
    joules and seconds (sum over samples, phases one after the other) and the phases."""
    Gp, Gm = xbar.state()
    phys = physical(xbar)
    free = phase_energy(Gp, Gm, field_free, s0, phys, dt=dt, settle_tol=settle_tol)
    nudged = None
    energy = free.energy_j.sum(-1)
    seconds = free.latency_s.sum(-1)
    if targets is not None:
        _positive("beta", beta)
        targets = _finite_array("targets", targets)
        nf = field_free.nudged(beta, targets, xbar.topology.output_mask())
        nudged = phase_energy(Gp, Gm, nf, free.s_eq, phys, dt=dt, settle_tol=settle_tol)
        energy = energy + nudged.energy_j.sum(-1)
        seconds = seconds + nudged.latency_s.sum(-1)
    return {"j": energy, "s": seconds}, free, nudged


def assumptions(model: PulseModel, settle_tol: float = SETTLE_TOL) -> dict[str, str]:
    """Every assumption of a report, in words, with its source."""
    return {
        "scale": "circuits/physics.py: V = V_FS s, tau = C / g0 with g0 the crossbar's unit conductance",
        "device_energy": "integral of sum_ij (Gp + Gm)[i, j] (V_FS s_i)^2 dt (columns at virtual ground); "
                         "input rows included; open cells at the switch's off conductance; NOT counted: "
                         "leak and nudge conductances, neuron circuits, drivers, converters",
        "integration": f"projected Euler map of ds/dt = f(s)/tau, dt = min({DT}, {DT_RHO}/rho) tau (rho: "
                       "Gershgorin bound of the Jacobian), trapezoid rule for the energy",
        "latency": f"first time after which every neuron stays within {settle_tol:g} V_FS of the "
                   "equilibrium (interpolated between Euler samples); energy integrated to it",
        "periphery": PERIPHERY_SOURCE,
        "programming": f"E_pulse = V_w^2 G t_pw + V_w^2 C_wire (NeuroSim) unless fixed; {model.preset}: "
                       f"{model.source}",
        "wire": WIRE_SOURCE,
        "reads": f"(1 + write_verify) measurements per epoch x reads averaged x every connected device, "
                 f"V_read = V_FS, t_read = {model.t_read:g} s ({model.preset} table entry)",
        "settling_in_training": "free and nudged phase of every sample per epoch, each to its latency, "
                                "evaluated on the crossbar as it ends the run and used for every epoch",
        "not_counted": "the one-time calibration and initial write of Crossbar.build; half-selected "
                       "cells; write drivers; the digital controller",
        "pulse_model_is_assumption": str(model.assumption),
    }


def report(xbar, field_free: AffineField, s0: np.ndarray, pulses, *, targets: np.ndarray | None = None,
           beta: float | None = None, dt: float | None = None, settle_tol: float = SETTLE_TOL,
           fj_per_mac: float = PERIPHERY_FJ_PER_MAC, model: PulseModel | None = None,
           samples_per_epoch: int | None = None) -> dict:
    """Energy and latency of a network trained on ``xbar`` (a ``hw.crossbar.Crossbar``).

    ``field_free`` the free-phase field on its conductances (e.g. ``xbar.field(...)``),
    ``s0`` (K, B, N) the starts of the free phase, ``pulses`` (epochs, K)
    (``history["pulses"]``); ``targets`` (B, n_out) and ``beta`` add the nudged phase to
    the settling energy of training. Keys (JSON-safe): ``inference_j`` (device energy per
    inference, mean over networks and samples), ``inference_latency_s`` (mean),
    ``programming_j_per_epoch``, ``training_j_total`` (per network, mean), the device /
    periphery split (``periphery_j_per_inference``, never added), the training parts and
    ``assumptions`` (strings with sources). ``samples_per_epoch``: the samples an epoch
    settles when ``s0`` holds only some of them (their mean settling energy is scaled up).
    """
    model = _model_for(xbar, model)
    phases, free, nudged = settle_energy_per_epoch(xbar, field_free, s0, targets, beta, dt=dt,
                                                   settle_tol=settle_tol)
    out = inference_report(xbar, field_free, s0, fj_per_mac=fj_per_mac, phase=free)
    per_epoch = phases["j"] if samples_per_epoch is None else phases["j"] * samples_per_epoch / s0.shape[-2]
    train = training_energy(xbar, pulses, settle_j_per_epoch=per_epoch, model=model)
    out.update(train)
    out["settle_s_per_epoch"] = _json(phases["s"].mean())
    out["settle_includes_nudged"] = nudged is not None
    if nudged is not None:
        out["nudged_latency_s"] = _json(nudged.latency_s.mean())
        out["nudged_j"] = _json(nudged.energy_j.mean())
    out["preset"] = xbar.cfg.device.name
    out["tiles"] = tile_census(xbar)
    out["assumptions"] = assumptions(model, settle_tol)
    return out
