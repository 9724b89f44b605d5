"""The crossbar: signed weights as differential conductance pairs on the rows.

``W[i, j] = (Gp[i, j] - Gm[i, j]) / g0``: neuron i drives +V_i onto its + row and -V_i
onto its - row, columns sit at virtual ground, so the column currents are
``g0 sum_i W[i, j] V_i`` and neuron i's own row current is ``g0 V_i sum_k W[i, k]``: the
two terms of the DEEP field (DEEP-MODEL.md). This module is the one place that maps
w <-> g. Reads apply read noise, faults and drift; programming goes through the device
response, so conductances stay within each device's window, except cells switched off
by pruning (both devices at 0 S, an open cell, for good).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from models.dynamics import AffineField, asym_ep_field, deep_field
from models.topology import Topology

from . import devices
from .devices import IDEAL, DeviceConfig, DeviceInstances
from .wires import effective_matrices


@dataclass(frozen=True)
class CrossbarConfig:
    """A crossbar built from one device type.

    ``g0`` (S) is the unit conductance (``W = (Gp - Gm)/g0``), so weights up to
    ``w_max = (g_max - g_min)/g0`` fit; ``line_resistance`` (ohm) per wire segment of
    rows and columns; ``write_verify`` read-back-and-correct rounds after each update;
    ``drift_time`` (s after programming) at which reads happen (None: no drift);
    ``reads`` reads averaged per measurement; ``deadband`` in standard deviations of a
    measured weight (at least one pulse): smaller errors are not chased.
    """

    device: DeviceConfig = IDEAL
    g0: float | None = None  # default: the device window / 4 (IDEAL: devices.G0)
    line_resistance: float = 0.0
    write_verify: int = 0
    drift_time: float | None = None
    reads: int = 8  # reads averaged per measurement
    deadband: float = 8.0  # cells whose error is below this many read-noise deviations are left alone

    def __post_init__(self) -> None:
        if self.g0 is not None and not (math.isfinite(self.g0) and self.g0 > 0):
            raise ValueError(f"g0 = {self.g0!r} is invalid: must be a finite conductance > 0 S")
        if not (math.isfinite(self.line_resistance) and self.line_resistance >= 0):
            raise ValueError(f"line_resistance = {self.line_resistance!r} is invalid: must be finite and >= 0 ohm")
        if not (isinstance(self.write_verify, int) and self.write_verify >= 0):
            raise ValueError(f"write_verify = {self.write_verify!r} is invalid: must be an integer >= 0")
        if self.drift_time is not None and not (math.isfinite(self.drift_time) and self.drift_time >= 0):
            raise ValueError(f"drift_time = {self.drift_time!r} is invalid: must be finite and >= 0 s")
        if not (isinstance(self.reads, int) and self.reads >= 1):
            raise ValueError(f"reads = {self.reads!r} is invalid: must be an integer >= 1")
        if not (math.isfinite(self.deadband) and self.deadband >= 0):
            raise ValueError(f"deadband = {self.deadband!r} is invalid: must be finite and >= 0")

    @property
    def unit(self) -> float:
        """The unit conductance g0 actually used (S)."""
        if self.g0 is not None:
            return self.g0
        # |W| <= 4 holds every trained XOR network of the default config (max 2.6)
        return devices.G0 if self.device == IDEAL else self.device.g_range / 4

    @property
    def w_max(self) -> float:
        return self.device.g_range / self.unit

    @property
    def w_tolerance(self) -> float:
        """Errors (weight units) the controller leaves alone: ``deadband`` standard
        deviations of a measured weight (two devices, ``reads`` reads at mid-window), and
        at least one pulse."""
        dev = self.device
        sigma = dev.read_noise * (dev.g_min + dev.g_range / 2) * math.sqrt(2 / self.reads)
        return max(dev.dw_min * dev.g_range, self.deadband * sigma) / self.unit


def to_conductances(W: np.ndarray, device: DeviceConfig, g0: float) -> tuple[np.ndarray, np.ndarray]:
    """The differential mapping ``Gp - Gm = g0 W``.

    Exact devices: one-sided, ``Gp = g_min + g0 max(W, 0)``, ``Gm = g_min + g0 max(-W, 0)``
    (exact in floating point when g_min = 0 and g0 is a power of two). Pulsed devices:
    centred on the middle of the window, ``g_mid +- g0 W / 2``, so that an update moves
    both devices by half in opposite directions, away from the bounds.
    """
    if _exact(device):
        return device.g_min + g0 * np.maximum(W, 0.0), device.g_min + g0 * np.maximum(-W, 0.0)
    mid = device.g_min + device.g_range / 2
    return mid + g0 * W / 2, mid - g0 * W / 2


def to_weights(Gp: np.ndarray, Gm: np.ndarray, g0: float) -> np.ndarray:
    return (Gp - Gm) / g0


def _exact(device: DeviceConfig) -> bool:
    """A continuous, noiseless, linear device without variation realises any change
    exactly: its update is the target itself (this is what makes IDEAL hardware equal
    software training)."""
    return (device.levels is None and device.response == "linear" and device.c2c_noise == 0
            and device.write_noise == 0 and device.d2d_step == 0 and device.d2d_range == 0
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
        to its top, average reads (the bottom is taken as nominal). Without this the
        nominal inversion pulls each weight toward the middle of its devices' own
        windows (soft bounds), a random offset of up to ~1 weight unit with RRAM."""
        dev = self.cfg.device
        n_up = int(min(20_000, math.ceil((16 if dev.response == "soft-bounds" else 2) / dev.dw_min)))
        est = []
        for inst in (self.inst_p, self.inst_m):
            tops = []
            for k, r in enumerate(rngs):
                i = _at(inst, k)
                g = devices.pulse(np.full(i.shape, dev.g_min), np.full(i.shape, n_up), i, dev, r)
                tops.append(np.mean([devices.read(g, i, dev, r) for _ in range(10)], axis=0))
            top = np.maximum(np.stack(tops), dev.g_min + 0.05 * dev.g_range)
            shape = top.shape
            est.append(DeviceInstances(np.full(shape, dev.g_min), top, np.ones(shape), np.zeros(shape),
                                       np.zeros(shape, dtype=np.int8)))
        return est[0], est[1]

    def _targets(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.clip(W, -self.cfg.w_max, self.cfg.w_max)
        return to_conductances(w, self.cfg.device, self.cfg.unit)

    def _write(self, W, rngs) -> tuple[np.ndarray, np.ndarray]:
        """Direct programming of the targets (write noise, quantisation), per network."""
        tp, tm = self._targets(W)
        dev = self.cfg.device
        Gp = np.stack([devices.program(tp[k], tp[k], _at(self.inst_p, k), dev, r) for k, r in enumerate(rngs)])
        Gm = np.stack([devices.program(tm[k], tm[k], _at(self.inst_m, k), dev, r) for k, r in enumerate(rngs)])
        return np.where(self.open, 0.0, Gp), np.where(self.open, 0.0, Gm)

    def programmed_weights(self) -> np.ndarray:
        """The weights the conductances hold, without read noise (K, N, N)."""
        return np.where(self.open, 0.0, to_weights(self.Gp, self.Gm, self.cfg.unit))

    def read(self, rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
        """A measurement of every device: ``reads`` reads averaged (drift to
        ``drift_time``, faults, read noise)."""
        dev, t = self.cfg.device, self.cfg.drift_time
        out = []
        for G, inst in ((self.Gp, self.inst_p), (self.Gm, self.inst_m)):
            reads = []
            for k, r in enumerate(rngs):
                g, i = G[k], _at(inst, k)
                if t is not None:
                    g = devices.drift(g, t, i, dev)
                n = self.cfg.reads if dev.read_noise > 0 else 1  # noiseless: one read, exact
                reads.append(np.mean([devices.read(g, i, dev, r) for _ in range(n)], axis=0))
            out.append(np.where(self.open, 0.0, np.stack(reads)))
        return out[0], out[1]

    def read_weights(self, rngs) -> np.ndarray:
        Gp, Gm = self.read(rngs)
        return np.where(self.open, 0.0, to_weights(Gp, Gm, self.cfg.unit))

    def field(self, Gp: np.ndarray, Gm: np.ndarray, model: str, b: np.ndarray, batch: int,
              gamma: float) -> AffineField:
        """The dynamics these (read) conductances give. Without wire resistance it is the
        software field of ``W = (Gp - Gm)/g0`` exactly; with it, the column and row
        currents are the effective matrices of one sparse nodal solve per network."""
        topo = self.topology
        free = topo.free_mask()
        W = np.where(self.open, 0.0, to_weights(Gp, Gm, self.cfg.unit))
        r = self.cfg.line_resistance
        if r == 0:
            return deep_field(W, batch, free, gamma) if model == "deep" else asym_ep_field(W, b, batch, free)
        mats = [effective_matrices(Gp[k], Gm[k], free, r, r) for k in range(W.shape[0])]
        Mcol = np.stack([m[0] for m in mats]) / self.cfg.unit
        Mrow = np.stack([m[1] for m in mats]) / self.cfg.unit
        K, N = W.shape[0], topo.n
        if model == "deep":  # C dV/dt = I_col - I_row - gamma g0 V
            return AffineField(Mcol - Mrow, np.full((K, batch, N), float(gamma)), np.zeros((K, batch, N)), free)
        return AffineField(Mcol, np.ones((K, batch, N)), np.broadcast_to(b[:, None, :], (K, batch, N)).copy(), free)

    def drive(self, W_goal: np.ndarray, alive: np.ndarray, seen: tuple[np.ndarray, np.ndarray],
              rngs: list[np.random.Generator]) -> np.ndarray:
        """Program the pairs toward ``W_goal``; cells not ``alive`` any more are switched
        off for good. Returns the pulses applied per network (K,).

        An exact device is written to ``to_conductances(W_goal)``. A pulsed device: the
        controller knows it only through measurements (``seen = (Gp, Gm)``, then fresh
        ones in the ``write_verify`` rounds); every cell whose measured weight is off by
        more than ``w_tolerance`` gets half of the correction on each device, as the
        pulse counts that invert the device's calibrated response.
        """
        self.open = self.open | ~alive
        dev, g0 = self.cfg.device, self.cfg.unit
        if _exact(dev):
            tp, tm = self._targets(W_goal)
            pulses = (np.abs(tp - self.Gp) + np.abs(tm - self.Gm)) / (dev.dw_min * dev.g_range)
            self.Gp, self.Gm = np.where(self.open, 0.0, tp), np.where(self.open, 0.0, tm)
            return np.where(self.open, 0.0, np.rint(pulses)).sum((-1, -2))
        goal = np.clip(W_goal, -self.cfg.w_max, self.cfg.w_max)
        total = np.zeros(len(rngs))
        Gp_seen, Gm_seen = seen
        for rounds in range(1 + self.cfg.write_verify):
            if rounds:
                Gp_seen, Gm_seen = self.read(rngs)
            delta = goal - (Gp_seen - Gm_seen) / g0
            delta = np.where(self.open | (np.abs(delta) <= self.cfg.w_tolerance), 0.0, delta)
            for G, seen_G, inst, est, sign in ((self.Gp, Gp_seen, self.inst_p, self.est_p, 1.0),
                                               (self.Gm, Gm_seen, self.inst_m, self.est_m, -1.0)):
                for k, r in enumerate(rngs):
                    n = devices.pulses_for(sign * g0 * delta[k] / 2, seen_G[k], _at(est, k), dev,
                                           calibrated=True)
                    G[k] = devices.pulse(G[k], n, _at(inst, k), dev, r)
                    total[k] += np.abs(n).sum()
            self.Gp = np.where(self.open, 0.0, self.Gp)
            self.Gm = np.where(self.open, 0.0, self.Gm)
        return total


def _at(inst: DeviceInstances, k: int) -> DeviceInstances:
    return DeviceInstances(**{f.name: getattr(inst, f.name)[k] for f in fields(DeviceInstances)})
