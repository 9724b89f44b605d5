"""The crossbar: signed weights as differential conductance pairs on the rows.

``W[i, j] = (Gp[i, j] - Gm[i, j]) / g0``: neuron i drives +V_i onto its + row and -V_i
onto its - row, columns sit at virtual ground, so the column currents are
``g0 sum_i W[i, j] V_i`` and neuron i's own row current is ``g0 V_i sum_k W[i, k]``: the
two terms of the DEEP field. This module holds the mapping w <-> g of training and of
the circuits (``to_conductances``, ``to_weights``; deploy's inference mapping, one-sided
on a per-cell zero, is ``hw/deploy.py``'s). Reads apply read noise, faults and drift;
programming goes through the device response, so conductances stay within each
device's window.

Open cells (no connection, or pruned: ``Crossbar.open``) are disconnected by a per-cell
select switch, since a device cannot be pulsed to 0 S. The switch is off for good once
opened and leaks ``CrossbarConfig.off_conductance`` (default 0 S): both devices of an
open cell are replaced by that conductance in the stored state, in every read (exactly,
no read noise, no drift: no current flows through the device) and in ``field``. The two
equal conductances cancel in ``W`` (an open cell has weight 0); with wire resistance
(``line_resistance > 0``) they still load the wires, so a leaking switch changes the field.

PCM (``depression="reset"``): a device is only potentiated gradually. The controller
lowers a weight by potentiating the other device of its pair, and refreshes a pair (both
devices RESET, the difference re-programmed one-sided from the floor) when the device it
would potentiate would go above 90 % of its calibrated window while the other device
holds more than 10 % of it. Such devices are mapped one-sided (``to_conductances``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from models import model as models
from models.dynamics import AffineField
from models.topology import Topology

from . import devices
from .devices import IDEAL, DeviceConfig, DeviceInstances
from .wires import TILE_SIZE, check_tile_size, effective_matrices, tiles

# The wire resistance per segment a crossbar may have: 0 (ideal wires) or within
# [MIN_LINE_RESISTANCE, MAX_LINE_RESISTANCE). A segment of a real crossbar is 0.1 to 10 ohm
# (copper or tungsten lines at a pitch of 50 nm to 1 um); the range spans more than five
# decades either side. Above it, one segment is as resistive as a device in its most
# resistive state (RRAM's 1 uS floor is 1 Mohm): the wires, not the devices, set every
# current and the crossbar computes nothing; and where the wires' conductance falls below
# the devices' by the floating-point resolution (about 1e20 ohm for 40 uS devices) the
# nodal matrix is exactly singular (hw/wires.py). Below it, use 0: the drops are then far
# below every other error, and 1/r overflows near 1e-308 ohm.
MIN_LINE_RESISTANCE = 1e-6  # ohm
MAX_LINE_RESISTANCE = 1e6  # ohm, excluded

REFRESH_TOP = 0.9  # RESET devices: refresh a pair when the device potentiated would exceed
REFRESH_OTHER = 0.1  # this fraction of its window while the other holds more than this


@dataclass(frozen=True)
class CrossbarConfig:
    """A crossbar built from one device type.

    ``g0`` (S) is the unit conductance (``W = (Gp - Gm)/g0``), so weights up to
    ``w_max = (g_max - g_min)/g0`` fit; ``line_resistance`` (ohm) per wire segment of
    rows and columns; ``write_verify`` read-back-and-correct rounds after each update;
    ``drift_time`` (s after programming) at which reads happen (None: no drift);
    ``reads`` reads averaged per measurement; ``deadband`` in standard deviations of a
    measured weight (at least one pulse): smaller errors are not chased;
    ``off_conductance`` (S) the leakage of an open cell's select switch, per device;
    ``tile_size`` devices per side of a tile (``hw.wires.tiles``; None: one array).
    """

    device: DeviceConfig = IDEAL
    g0: float | None = None  # default: the device window / 4 (IDEAL: devices.G0)
    line_resistance: float = 0.0
    write_verify: int = 0
    drift_time: float | None = None
    reads: int = 8  # reads averaged per measurement
    deadband: float = 8.0  # cells whose error is below this many read-noise deviations are left alone
    off_conductance: float = 0.0  # S, each device of an open cell (select switch off)
    tile_size: int | None = TILE_SIZE  # devices per side of a tile (None: one array of any size)

    def __post_init__(self) -> None:
        if self.g0 is not None and not (math.isfinite(self.g0) and self.g0 > 0):
            raise ValueError(f"g0 = {self.g0!r} is invalid: must be a finite conductance > 0 S")
        r = self.line_resistance
        if not (isinstance(r, (int, float, np.integer, np.floating)) and not isinstance(r, bool)
                and (r == 0 or MIN_LINE_RESISTANCE <= r < MAX_LINE_RESISTANCE)):
            raise ValueError(f"line_resistance = {r!r} is invalid: must be 0 (ideal wires) or from "
                             f"{MIN_LINE_RESISTANCE:g} to below {MAX_LINE_RESISTANCE:g} ohm (a real wire "
                             "segment is 0.1 to 10 ohm; see hw/crossbar.py)")
        if not (isinstance(self.write_verify, int) and self.write_verify >= 0):
            raise ValueError(f"write_verify = {self.write_verify!r} is invalid: must be an integer >= 0")
        if self.drift_time is not None and not (math.isfinite(self.drift_time) and self.drift_time >= 0):
            raise ValueError(f"drift_time = {self.drift_time!r} is invalid: must be finite and >= 0 s")
        if not (isinstance(self.reads, int) and self.reads >= 1):
            raise ValueError(f"reads = {self.reads!r} is invalid: must be an integer >= 1")
        if not (math.isfinite(self.deadband) and self.deadband >= 0):
            raise ValueError(f"deadband = {self.deadband!r} is invalid: must be finite and >= 0")
        off = self.off_conductance
        if (isinstance(off, bool) or not isinstance(off, (int, float, np.integer, np.floating))
                or not (math.isfinite(off) and 0 <= off < self.device.g_max)):
            raise ValueError(f"off_conductance = {off!r} is invalid: must be a conductance >= 0 S and "
                             f"< the device's g_max ({self.device.g_max!r} S)")
        check_tile_size(self.tile_size)

    @property
    def unit(self) -> float:
        """The unit conductance g0 actually used (S)."""
        if self.g0 is not None:
            return self.g0
        # the ideal device (also with --device-set changes): the exact power of two G0;
        # others: |W| <= 4 holds every trained XOR network of the default config (max 2.6)
        return devices.G0 if _ideal(self.device) else self.device.g_range / 4

    @property
    def w_max(self) -> float:
        return self.device.g_range / self.unit

    @property
    def w_tolerance(self) -> float:
        """Errors (weight units) the controller leaves alone: ``deadband`` standard
        deviations of a measured weight (two devices, ``reads`` reads at mid-window), and
        at least one pulse."""
        dev = self.device
        per_read = math.hypot(dev.read_noise * (dev.g_min + dev.g_range / 2), dev.read_noise_add * dev.g_range)
        sigma = per_read * math.sqrt(2 / self.reads)
        return max(dev.dw_min * dev.g_range, self.deadband * sigma) / self.unit


WEIGHT_HEADROOM = 1.25  # w_max = 1.25 x the largest weight training allows (device windows spread)


def fit_weight_range(cfg: CrossbarConfig, w_bound: float | None) -> CrossbarConfig:
    """The crossbar with ``g0`` chosen so that weights up to ``WEIGHT_HEADROOM x w_bound``
    fit the device window (``w_max = g_range / g0``), when training bounds the weights
    (``w_bound``, e.g. the config's ``weight_clip``) and no ``g0`` was given. A smaller
    weight range means a larger g0: read noise and pulse steps are then smaller in weight
    units (RRAM XOR judged on the chip: 4/10 with g0 = window/4, 10/10 with the bound of 1).
    IDEAL keeps its exact power-of-two g0."""
    if w_bound is None or cfg.g0 is not None or _ideal(cfg.device):
        return cfg
    return replace(cfg, g0=cfg.device.g_range / (WEIGHT_HEADROOM * w_bound))


def to_conductances(W: np.ndarray, device: DeviceConfig, g0: float) -> tuple[np.ndarray, np.ndarray]:
    """The differential mapping ``Gp - Gm = g0 W``.

    Exact devices: one-sided, ``Gp = g_min + g0 max(W, 0)``, ``Gm = g_min + g0 max(-W, 0)``
    (exact in floating point when g_min = 0 and g0 is a power of two); so are devices
    depressed by RESET (they only climb: the free device waits at its floor). Other
    pulsed devices: centred on the middle of the window, ``g_mid +- g0 W / 2``, so that
    an update moves both devices by half in opposite directions, away from the bounds.
    """
    if _exact(device) or device.depression == "reset":
        return device.g_min + g0 * np.maximum(W, 0.0), device.g_min + g0 * np.maximum(-W, 0.0)
    mid = device.g_min + device.g_range / 2
    return mid + g0 * W / 2, mid - g0 * W / 2


def to_weights(Gp: np.ndarray, Gm: np.ndarray, g0: float) -> np.ndarray:
    return (Gp - Gm) / g0


def conductance_field(Gp: np.ndarray, Gm: np.ndarray, g0: np.ndarray, topology: Topology, model: str,
                      b: np.ndarray, batch: int, gamma: float, line_resistance: float = 0.0,
                      scale: np.ndarray | None = None, open_cells: np.ndarray | None = None,
                      tile_size: int | None = TILE_SIZE) -> AffineField:
    """The field conductances (K, N, N) give, with a unit conductance per network
    (``g0`` (K,)) and the periphery's gain ``scale`` (K,) on the measured column and row
    currents (default 1). Without wire resistance it is the model's field of ``W = (Gp
    - Gm) / g0`` (0 on ``open_cells``; tiles change nothing); with it, the model's field of
    the column and row currents, the effective matrices of one sparse nodal solve per tile
    (``tile_size``; the tiles the topology's connections need) and network."""
    rule = models.get(model)
    free = topology.free_mask()
    g0 = np.asarray(g0, float)[:, None, None]
    gain = 1.0 if scale is None else np.asarray(scale, float)[:, None, None]
    if line_resistance == 0:
        W = (Gp - Gm) / g0
        if open_cells is not None:
            W = np.where(open_cells, 0.0, W)
        return rule.field(W * gain if scale is not None else W, b, batch, free, gamma)
    connected = topology.mask()
    mats = [effective_matrices(Gp[k], Gm[k], free, line_resistance, line_resistance, tile_size, connected)
            for k in range(len(Gp))]
    Mcol = np.stack([m[0] for m in mats]) / g0
    Mrow = np.stack([m[1] for m in mats]) / g0
    if scale is not None:
        Mcol, Mrow = Mcol * gain, Mrow * gain
    return rule.field_from_currents(Mcol, Mrow, b, batch, free, gamma)


def _ideal(device: DeviceConfig) -> bool:
    """The ideal preset, or a variant of it (``--device-set`` keeps the name)."""
    return device.name == IDEAL.name


def _exact(device: DeviceConfig) -> bool:
    """A continuous, noiseless, linear device without variation realises any change
    exactly: its update is the target itself (this is what makes IDEAL hardware equal
    software training)."""
    return (device.levels is None and device.response == "linear" and device.c2c_noise == 0
            and device.write_noise == 0 and device.d2d_step == 0 and device.d2d_range == 0
            and device.floor_spread == 0 and device.depression == "gradual"
            and device.up_down == 0 and device.stuck_min == 0 and device.stuck_max == 0)


def _stack(insts: list[DeviceInstances]) -> DeviceInstances:
    return DeviceInstances(**{f.name: np.stack([getattr(i, f.name) for i in insts]) for f in fields(DeviceInstances)})


@dataclass
class Crossbar:
    """K crossbars (one per network), their conductances and device instances."""

    cfg: CrossbarConfig
    topology: Topology
    Gp: np.ndarray  # (K, N, N) S
    Gm: np.ndarray
    inst_p: DeviceInstances
    inst_m: DeviceInstances
    open: np.ndarray  # (K, N, N) bool: cells switched off (no connection, or pruned)
    est_p: DeviceInstances | None = None  # each device's window as calibrated by the
    est_m: DeviceInstances | None = None  # controller (pulsed devices only)

    @classmethod
    def build(cls, cfg: CrossbarConfig, topology: Topology, W: np.ndarray,
              rngs: list[np.random.Generator]) -> "Crossbar":
        """Sample the devices of every network (its own generator) and write ``W``."""
        n = topology.n
        insts = [(devices.sample_instances(cfg.device, (n, n), r),
                  devices.sample_instances(cfg.device, (n, n), r)) for r in rngs]
        K = len(rngs)
        zeros = np.zeros((K, n, n))
        xbar = cls(cfg, topology, zeros, zeros.copy(), _stack([p for p, _ in insts]),
                   _stack([m for _, m in insts]), ~np.broadcast_to(topology.mask(), (K, n, n)))
        if not _exact(cfg.device):
            xbar.est_p, xbar.est_m = xbar._calibrate(rngs)
        xbar.Gp, xbar.Gm = xbar._write(W, rngs)
        return xbar

    def _calibrate(self, rngs) -> tuple[DeviceInstances, DeviceInstances]:
        """Estimate every device's own window the only way a controller can: pulse it
        to its top, average reads, then to its bottom (a RESET for PCM), average reads.
        Without this the nominal inversion pulls each weight toward the middle of its
        devices' own windows (soft bounds), a random offset of up to ~1 weight unit with
        RRAM."""
        dev = self.cfg.device
        # pulses to cross the window, twice (slow devices, wide windows): 1/dw_min linear;
        # 8/dw_min soft bounds (to within e^-16); 1/((1 - gamma) dw_min) linear-step (the
        # step is at least 1 - gamma of dw_min); (e^a - 1)/(a dw_min) exponential
        a = dev.nonlinearity
        per_range = {"soft-bounds": 8.0, "linear-step": 1.0 / (1.0 - max(dev.gamma_up, dev.gamma_down)),
                     "exponential": math.expm1(a) / a if a > 0 else 1.0}.get(dev.response, 1.0)
        n_up = int(min(20_000, math.ceil(2 * per_range / dev.dw_min)))
        n_down = -1 if dev.depression == "reset" else -n_up
        est = []
        for inst in (self.inst_p, self.inst_m):
            tops, bottoms = [], []
            for k, r in enumerate(rngs):
                i = _at(inst, k)
                g = devices.pulse(np.full(i.shape, dev.g_min), np.full(i.shape, n_up), i, dev, r)
                tops.append(np.mean([devices.read(g, i, dev, r) for _ in range(10)], axis=0))
                g = devices.pulse(g, np.full(i.shape, n_down), i, dev, r)
                bottoms.append(np.mean([devices.read(g, i, dev, r) for _ in range(10)], axis=0))
            bottom = np.stack(bottoms)
            top = np.maximum(np.stack(tops), bottom + devices.MIN_WINDOW * dev.g_range)
            shape = top.shape
            est.append(DeviceInstances(bottom, top, np.ones(shape), np.zeros(shape),
                                       np.zeros(shape, dtype=np.int8)))
        return est[0], est[1]

    def _targets(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.clip(W, -self.cfg.w_max, self.cfg.w_max)
        return to_conductances(w, self.cfg.device, self.cfg.unit)

    def _switched(self, Gp: np.ndarray, Gm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both devices of every open cell replaced by the switch's off conductance."""
        off = self.cfg.off_conductance
        return np.where(self.open, off, Gp), np.where(self.open, off, Gm)

    def _write(self, W, rngs) -> tuple[np.ndarray, np.ndarray]:
        """Direct programming of the targets (write noise, quantisation), per network."""
        tp, tm = self._targets(W)
        dev = self.cfg.device
        Gp = np.stack([devices.program(tp[k], tp[k], _at(self.inst_p, k), dev, r) for k, r in enumerate(rngs)])
        Gm = np.stack([devices.program(tm[k], tm[k], _at(self.inst_m, k), dev, r) for k, r in enumerate(rngs)])
        return self._switched(Gp, Gm)

    def state(self, t: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The conductances the devices hold (K, N, N), without read noise: as
        programmed, or ``t`` seconds after programming (drift); stuck devices at their
        stuck values; open cells at the switch's off conductance."""
        dev = self.cfg.device
        t = 0.0 if t is None else float(t)
        Gp = devices.drift(self.Gp, t, self.inst_p, dev)
        Gm = devices.drift(self.Gm, t, self.inst_m, dev)
        return self._switched(Gp, Gm)

    def programmed_weights(self) -> np.ndarray:
        """The weights the conductances hold, without read noise (K, N, N); 0 on open
        cells."""
        return self.weights(*self._switched(self.Gp, self.Gm))

    def read(self, rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
        """A measurement of every device: ``reads`` reads averaged (drift to
        ``drift_time``, faults, read noise); open cells read exactly the off conductance."""
        dev, t = self.cfg.device, self.cfg.drift_time
        out = []
        for G, inst in ((self.Gp, self.inst_p), (self.Gm, self.inst_m)):
            reads = []
            for k, r in enumerate(rngs):
                g, i = G[k], _at(inst, k)
                if t is not None:
                    g = devices.drift(g, t, i, dev)
                noisy = dev.read_noise > 0 or dev.read_noise_add > 0
                n = self.cfg.reads if noisy else 1  # noiseless: one read, exact
                reads.append(np.mean([devices.read(g, i, dev, r) for _ in range(n)], axis=0))
            out.append(np.stack(reads))
        return self._switched(out[0], out[1])

    def read_weights(self, rngs) -> np.ndarray:
        return self.weights(*self.read(rngs))

    def weights(self, Gp: np.ndarray, Gm: np.ndarray) -> np.ndarray:
        """The weights conductances (K, N, N) stand for on this crossbar; 0 on open cells."""
        return np.where(self.open, 0.0, to_weights(Gp, Gm, self.cfg.unit))

    def field(self, Gp: np.ndarray, Gm: np.ndarray, model: str, b: np.ndarray, batch: int,
              gamma: float) -> AffineField:
        """The dynamics these (read) conductances give (``conductance_field``), open cells
        conducting the switch's off conductance and weighing exactly 0 without wires."""
        Gp, Gm = self._switched(Gp, Gm)
        K = Gp.shape[0]
        return conductance_field(Gp, Gm, np.full(K, self.cfg.unit), self.topology, model, b, batch, gamma,
                                 self.cfg.line_resistance, open_cells=self.open, tile_size=self.cfg.tile_size)

    def tiles(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The tiles built (``hw.wires.tiles``): (sending neurons, columns) of each."""
        return tiles(self.topology.n, np.flatnonzero(self.topology.free_mask()), self.cfg.tile_size,
                     self.topology.mask())

    def drive(self, W_goal: np.ndarray, alive: np.ndarray, seen: tuple[np.ndarray, np.ndarray],
              rngs: list[np.random.Generator]) -> np.ndarray:
        """Program the pairs toward ``W_goal``; cells not ``alive`` any more are switched
        off for good. Returns the pulses applied per network (K,).

        An exact device is written to ``to_conductances(W_goal)``. A pulsed device: the
        controller knows it only through measurements (``seen = (Gp, Gm)``, then fresh
        ones in the ``write_verify`` rounds); every cell whose measured weight is off by
        more than ``w_tolerance`` is corrected with the pulse counts that invert the
        device's calibrated response: half of the correction on each device (gradual
        depression), or all of it by potentiating one device (RESET depression: the +
        device to raise the weight, the - device to lower it; a pair is refreshed as in
        the module docstring).
        """
        self.open = self.open | ~alive
        dev, g0 = self.cfg.device, self.cfg.unit
        if _exact(dev):
            tp, tm = self._targets(W_goal)
            pulses = (np.abs(tp - self.Gp) + np.abs(tm - self.Gm)) / (dev.dw_min * dev.g_range)
            self.Gp, self.Gm = self._switched(tp, tm)
            return np.where(self.open, 0.0, np.rint(pulses)).sum((-1, -2))
        goal = np.clip(W_goal, -self.cfg.w_max, self.cfg.w_max)
        total = np.zeros(len(rngs))
        Gp_seen, Gm_seen = seen
        for rounds in range(1 + self.cfg.write_verify):
            if rounds:
                Gp_seen, Gm_seen = self.read(rngs)
            delta = goal - (Gp_seen - Gm_seen) / g0
            delta = np.where(self.open | (np.abs(delta) <= self.cfg.w_tolerance), 0.0, delta)
            for k, r in enumerate(rngs):
                if dev.depression == "reset":
                    n_p, n_m = self._reset_counts(goal[k], delta[k], Gp_seen[k], Gm_seen[k], k)
                else:
                    n_p = devices.pulses_for(g0 * delta[k] / 2, Gp_seen[k], _at(self.est_p, k), dev,
                                             calibrated=True)
                    n_m = devices.pulses_for(-g0 * delta[k] / 2, Gm_seen[k], _at(self.est_m, k), dev,
                                             calibrated=True)
                self.Gp[k] = devices.pulse(self.Gp[k], n_p, _at(self.inst_p, k), dev, r)
                self.Gm[k] = devices.pulse(self.Gm[k], n_m, _at(self.inst_m, k), dev, r)
                total[k] += np.abs(n_p).sum() + np.abs(n_m).sum()
            self.Gp, self.Gm = self._switched(self.Gp, self.Gm)
        return total

    def _reset_counts(self, goal, delta, sp, sm, k) -> tuple[np.ndarray, np.ndarray]:
        """Pulse counts (+, -) of network k for devices depressed only by RESET: the
        correction ``delta`` by potentiating one device; a refresh (both devices RESET,
        ``-(1 + k)`` pulses, the goal re-programmed one-sided from the floors) where the
        potentiated device would pass ``REFRESH_TOP`` of its calibrated window while the
        other holds more than ``REFRESH_OTHER`` of its own."""
        dev, g0 = self.cfg.device, self.cfg.unit
        ep, em = _at(self.est_p, k), _at(self.est_m, k)
        inc_p, inc_m = g0 * np.maximum(delta, 0.0), g0 * np.maximum(-delta, 0.0)

        def level(G, est):  # fraction of the calibrated window
            return (G - est.g_min) / (est.g_max - est.g_min)

        refresh = (((delta > 0) & (level(sp + inc_p, ep) > REFRESH_TOP) & (level(sm, em) > REFRESH_OTHER))
                   | ((delta < 0) & (level(sm + inc_m, em) > REFRESH_TOP) & (level(sp, ep) > REFRESH_OTHER)))
        n_p = devices.pulses_for(inc_p, sp, ep, dev, calibrated=True)
        n_m = devices.pulses_for(inc_m, sm, em, dev, calibrated=True)
        k_p = devices.pulses_for(g0 * np.maximum(goal, 0.0), ep.g_min, ep, dev, calibrated=True)
        k_m = devices.pulses_for(g0 * np.maximum(-goal, 0.0), em.g_min, em, dev, calibrated=True)
        return np.where(refresh, -1 - k_p, n_p), np.where(refresh, -1 - k_m, n_m)


def _at(inst: DeviceInstances, k: int) -> DeviceInstances:
    return DeviceInstances(**{f.name: getattr(inst, f.name)[k] for f in fields(DeviceInstances)})
