"""Deploying trained networks on fresh chips, the way inference chips are programmed.

Mapping (``inference_mapping``)
    One-sided differential pairs on a per-cell zero: every device is reset and its floor
    read (``FLOOR_READS`` reads averaged); a cell's zero ``base`` is the higher of its two
    floors, and per network k: ``Gp = base + g0_k max(W, 0)``, ``Gm = base + g0_k
    max(-W, 0)``, so a zero weight is two equal conductances whatever the floors (the
    device of the sign a weight does not have sits at the pair's zero). ``g0_k = (hi -
    lo) / max|W_k|`` (``mapping_window``): ``lo`` the median pair floor, ``hi`` the top
    that 90 % of the devices reach (``REACH``), from the technology's device-to-device
    statistics, so the largest weights of most cells fit. Measured on the default XOR
    nets (seeds 0..9, 10 x 20 chips, RRAM, tolerance 0.01, no compensation; P(all
    correct) at 0 s / 1 day): a common zero at the 99 % floor quantile (the first
    mapping) 0.77 / 0.46; per-cell zero with the pair-floor quantile 0.2 | 0.5 | 0.9
    (top 0.9) 0.88 / 0.68 | 0.91 / 0.69 | 0.91 / 0.64; top quantile 0.5 | 0.9 | 0.99
    (floor 0.5) 0.83 / 0.63 | 0.91 / 0.69 | 0.91 / 0.64 (before the |W| <= 1 clip of the
    default config). Open cells (no connection, pruned) are not programmed and hold 0 S
    (select switch off, no leakage). The leak ``gamma`` is a fixed resistor ``gamma
    g0_k`` in the neuron circuit (not a device): it scales with the same g0, so the
    dynamics are those of ``W = (Gp - Gm) / g0_k``.

Program-and-verify (``program_and_verify``)
    Every device starts from reset (its own floor; the programmer assumes the nominal
    ``g_min``). One iteration: the pulses that the *nominal* response says realise the
    difference between the target and the last verify read (``devices.pulses_for``, what
    a programmer knows; from reset: from ``g_min``), applied (``devices.pulse``), then a
    verify read (``devices.read``); a device whose read is within ``tolerance x (g_max -
    g_min)`` (nominal range) of its target is done and left alone. At most
    ``max_iterations`` iterations. Vectorised over all devices of an array. Devices that
    never pass are reported: stuck, target outside the device's own window, or out of
    iterations.

Drift, compensation and reads (``Deployment``)
    At time t after programming every device drifts from its programmed conductance
    (``devices.drift``). With ``compensation="global"`` the periphery reads a reference
    (the summed conductance of every programmed device of the chip, i.e. the total
    current for 1 V on every row) once right after programming and once at t, and scales
    what it measures by ``alpha = ref(0) / ref(t)``: in the DEEP field the column
    currents and the row currents (the ``sum_k W[j, k]`` term) are scaled by alpha, the
    leak resistor ``gamma g0`` is not (asym-EP: the column currents are scaled, its leak
    and bias are not). Every inference reads every device once with fresh read noise and
    builds the field from those conductances as ``Crossbar.field`` does (line
    resistance: the effective matrices of ``hw/wires.py`` from the conductances read).

Randomness (stream ``models.streams.DEPLOY``): per network seed s, chips and programming
from ``default_rng([s, DEPLOY, 0])``, the read of inference r at time index i from
``default_rng([s, DEPLOY, 1, i, r])``, the reference reads from ``default_rng([s, DEPLOY,
2, j])`` (j = 0 after programming, 1 + i at time index i). A deployment is exactly reproducible and seed s does not depend on the
other seeds deployed with it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Callable

import numpy as np

from models.dynamics import AffineField
from models.evaluation import Evaluation, evaluate
from models.stability import jacobian
from models.streams import DEPLOY, ONCHIP, generators
from models.training import Network, TrainConfig

from . import devices
from .crossbar import conductance_field
from .devices import DeviceConfig, DeviceInstances
from .wires import TILE_SIZE

TOLERANCE = 0.01  # of the nominal window
MAX_ITERATIONS = 20
FLOOR_READS = 8  # reads averaged when a reset device's floor is measured
REACH = (0.5, 0.9)  # quantiles of the pair floor and of the tops: lo, hi (measured: module docstring)
COMPENSATIONS = ("none", "global")

# device status after program-and-verify
CONVERGED, STUCK, OUT_OF_WINDOW, OUT_OF_ITERATIONS = 0, 1, 2, 3


# ---- mapping ------------------------------------------------------------------------------

def mapping_window(device: DeviceConfig, reach=REACH) -> tuple[float, float]:
    """The conductances ``(lo, hi)`` (S) of the mapping: ``lo`` the ``reach_floor``
    quantile of the *pair floor* (the higher of the two reset floors of a cell, where the
    cell's zero sits), ``hi`` the ``1 - reach_top`` quantile of the devices' own tops
    (free devices; ``reach`` one fraction for both or a pair (floor, top)), from the
    device-to-device statistics of the technology (``devices.sample_instances``, 20 000
    pairs, fixed generator: what a mapper knows from characterisation, not the chip at
    hand). ``g0 = (hi - lo) / max|W|``."""
    r_lo, r_hi = (reach, reach) if np.isscalar(reach) else reach
    if not (0 < r_lo <= 1 and 0 < r_hi <= 1):
        raise ValueError(f"reach = {reach!r} is invalid: must be in (0, 1]")
    inst = devices.sample_instances(device, (20_000, 2), np.random.default_rng([DEPLOY, 99]))
    free = inst.stuck == 0
    if not free.any():
        return device.g_min, device.g_max
    pair_floor = inst.g_min.max(axis=1)[free.all(axis=1)] if free.all(axis=1).any() else inst.g_min[free]
    lo = max(device.g_min, float(np.quantile(pair_floor, r_lo)))
    hi = min(device.g_max, float(np.quantile(inst.g_max[free], 1 - r_hi)))
    if not hi > lo:
        raise ValueError(f"device {device.name}: no window is shared by most devices ({lo:.3g} S >= {hi:.3g} S)")
    return lo, hi


def inference_mapping(W: np.ndarray, live: np.ndarray, device: DeviceConfig, reach=REACH,
                      base: np.ndarray | None = None, window: tuple[float, float] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """``g0`` (K,) in S, the targets in S (index -3: G+, G-) of the live cells (0 S on
    open cells) and the window ``(lo, hi)`` used: ``G+ = base + g0 max(W, 0)``, ``G- =
    base + g0 max(-W, 0)``, ``g0 = (hi - lo) / max|W|`` per network (a network without
    weights gets ``g0 = hi - lo``). ``base`` (K, I, N, N): each cell's zero, the higher
    of its two measured reset floors, so a zero weight is two equal conductances whatever
    the floors; None: ``lo`` everywhere (targets (K, 2, N, N)). ``window``: ``(lo, hi)``
    when already known (default: ``mapping_window(device, reach)``)."""
    lo, hi = window if window is not None else mapping_window(device, reach)
    W = np.where(live, W, 0.0)
    wmax = np.abs(W).max(axis=(-1, -2))
    g0 = (hi - lo) / np.where(wmax > 0, wmax, 1.0)
    s = g0[:, None, None]
    up, down = s * np.maximum(W, 0.0), s * np.maximum(-W, 0.0)
    if base is None:
        target = np.stack([lo + up, lo + down], 1)
        return g0, np.where(live[:, None], target, 0.0), (lo, hi)
    target = np.stack([base + up[:, None], base + down[:, None]], 2)
    return g0, np.where(live[:, None, None], target, 0.0), (lo, hi)


# ---- program and verify -------------------------------------------------------------------

@dataclass
class Programmed:
    """The outcome of program-and-verify of an array of devices (one shape throughout):
    ``g`` conductance (S), ``pulses`` applied, ``iterations`` pulse trains applied,
    ``status`` (``CONVERGED``, ``STUCK``, ``OUT_OF_WINDOW``, ``OUT_OF_ITERATIONS``),
    ``verify_error`` the last verify read minus the target (S)."""

    g: np.ndarray
    pulses: np.ndarray
    iterations: np.ndarray
    status: np.ndarray
    verify_error: np.ndarray

    @property
    def converged(self) -> np.ndarray:
        return self.status == CONVERGED


def program_and_verify(target: np.ndarray, inst: DeviceInstances, device: DeviceConfig,
                       rng: np.random.Generator, tolerance: float = TOLERANCE,
                       max_iterations: int = MAX_ITERATIONS,
                       active: np.ndarray | None = None, verify_reads: int = 1) -> Programmed:
    """Program every device (where ``active``, default all) to ``target`` (S) from reset:
    nominal pulses for the difference, verify read, until within ``tolerance`` x the
    nominal range or ``max_iterations`` iterations (module docstring). Inactive devices
    stay reset and count as converged (``verify_error`` 0)."""
    target = np.asarray(target, dtype=float)
    if target.shape != inst.shape:
        raise ValueError(f"target has shape {target.shape}, the devices {inst.shape}")
    active = np.ones(target.shape, bool) if active is None else np.broadcast_to(active, target.shape)
    tol = tolerance * device.g_range
    g = np.array(inst.g_min, dtype=float)  # reset: every device at its own floor
    seen = np.full(target.shape, device.g_min)  # what the programmer assumes of a reset device
    pulses = np.zeros(target.shape, np.int64)
    iterations = np.zeros(target.shape, np.int64)
    done = ~active
    error = np.zeros(target.shape)
    for _ in range(max_iterations):
        n = np.where(done, 0, devices.pulses_for(target - seen, seen, inst, device))  # nominal response
        g = devices.pulse(g, n, inst, device, rng)
        pulses += np.abs(n)
        iterations += n != 0
        seen = np.mean([devices.read(g, inst, device, rng) for _ in range(verify_reads)], axis=0)  # verify
        error = np.where(done, error, seen - target)
        done = done | (np.abs(error) <= tol)
        if done.all():
            break
    lo, hi = inst.g_min - tol, inst.g_max + tol
    status = np.where(done, CONVERGED,
                      np.where(inst.stuck != 0, STUCK,
                               np.where((target < lo) | (target > hi), OUT_OF_WINDOW, OUT_OF_ITERATIONS)))
    return Programmed(g, pulses, iterations, status.astype(np.int8), error)


# ---- fields -------------------------------------------------------------------------------

def onchip_field_source(xbar, model: str, b: np.ndarray, batch: int, gamma: float,
                        seeds: list[int], stream: int = ONCHIP) -> Callable[[int], AffineField]:
    """Inference r on the crossbar ``xbar`` (a ``Crossbar``) as it is: one read of every
    device (fresh read noise from ``default_rng([seed, stream, r])``, drift to its
    ``drift_time``, not the controller's averaged reads) and the field of those
    conductances with its wires (``Crossbar.field``)."""
    one = replace(xbar, cfg=replace(xbar.cfg, reads=1))

    def source(r: int) -> AffineField:
        rngs = generators(seeds, stream, r)
        return one.field(*one.read(rngs), model, b, batch, gamma)
    return source


# ---- deployment ----------------------------------------------------------------------------

def _index(inst: DeviceInstances, k) -> DeviceInstances:
    return DeviceInstances(**{f.name: getattr(inst, f.name)[k] for f in fields(DeviceInstances)})


def _stack(insts: list[DeviceInstances]) -> DeviceInstances:
    return DeviceInstances(**{f.name: np.stack([getattr(i, f.name) for i in insts])
                              for f in fields(DeviceInstances)})


@dataclass
class Deployment:
    """K trained networks, each programmed on ``instances`` fresh chips.

    Arrays are (K, I, 2, N, N) (index 2: the G+ and G- device of a cell): ``G`` the
    programmed conductances (0 S on open cells), ``target``, ``pulses``, ``status``,
    ``verify_error``; ``inst`` the devices (d2d variation); ``g0`` (K,) the unit
    conductance of each network; ``live`` (K, N, N) the programmed cells.
    """

    net: Network
    seeds: list[int]
    device: DeviceConfig
    tolerance: float
    max_iterations: int
    window: tuple[float, float]  # (lo, hi) S, the mapped window
    g0: np.ndarray
    live: np.ndarray
    target: np.ndarray
    G: np.ndarray
    inst: DeviceInstances
    pulses: np.ndarray
    status: np.ndarray
    verify_error: np.ndarray

    @property
    def instances(self) -> int:
        return self.G.shape[1]

    @property
    def cells(self) -> np.ndarray:
        """(K, I, 2, N, N) the programmed devices (both devices of every live cell)."""
        return np.broadcast_to(self.live[:, None, None], self.G.shape)

    def weights(self, G: np.ndarray | None = None) -> np.ndarray:
        """(K, I, N, N) weights held by conductances ``G`` (default: as programmed)."""
        G = self.G if G is None else G
        return np.where(self.live[:, None], (G[:, :, 0] - G[:, :, 1]) / self.g0[:, None, None, None], 0.0)

    def drifted(self, t: float) -> np.ndarray:
        """The conductances t seconds after programming (no read noise)."""
        return np.where(self.cells, devices.drift(self.G, t, self.inst, self.device), 0.0)

    def read(self, G: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        """One read of every device (fresh read noise), one generator per network."""
        out = [devices.read(G[k], _index(self.inst, k), self.device, r) for k, r in enumerate(rngs)]
        return np.where(self.cells, np.stack(out), 0.0)

    def _rngs(self, *key) -> list[np.random.Generator]:
        return generators(self.seeds, DEPLOY, *key)

    def compensation(self, t: float, index: int, how: str) -> np.ndarray:
        """(K, I) the periphery's gain at time t (time index ``index``): 1 without
        compensation; global: ref(0) / ref(t), each one reference read."""
        if how not in COMPENSATIONS:
            raise ValueError(f"compensation must be one of {COMPENSATIONS}, got {how!r}")
        if how == "none":
            return np.ones(self.G.shape[:2])
        ref0 = self.read(self.G, self._rngs(2, 0)).sum((-1, -2, -3))
        ref_t = self.read(self.drifted(t), self._rngs(2, 1 + index)).sum((-1, -2, -3))
        return np.where(ref_t > 0, ref0 / np.where(ref_t > 0, ref_t, 1.0), 1.0)

    def flat_network(self) -> Network:
        """The K x I networks (instance-major within each seed) for batched judging."""
        I = self.instances
        rep = lambda a: np.repeat(a, I, axis=0)
        return Network(self.net.topology, rep(np.where(self.live, self.net.W, 0.0)), rep(self.net.b),
                       rep(self.live))

    def field_source(self, cfg: TrainConfig, batch: int, t: float, index: int, compensation: str = "none",
                     line_resistance: float = 0.0, gain: np.ndarray | None = None,
                     tile_size: int | None = TILE_SIZE) -> Callable[[int], AffineField]:
        """Inference r at time t (time index ``index``): a fresh read of every device,
        the field of the K x I chips (flattened, instance-major within each seed)."""
        K, I = self.G.shape[:2]
        Gt = self.drifted(t)
        gain = self.compensation(t, index, compensation) if gain is None else gain
        flat = lambda a: a.reshape(K * I, *a.shape[2:])
        b = np.repeat(self.net.b, I, axis=0)
        g0 = np.repeat(self.g0, I)

        def source(r: int) -> AffineField:
            G = flat(self.read(Gt, self._rngs(1, index, r)))
            return conductance_field(G[:, 0], G[:, 1], g0, self.net.topology, cfg.model, b, batch,
                                     cfg.gamma, line_resistance, flat(gain), tile_size=tile_size)
        return source


def deploy(net: Network, seeds: list[int], device: DeviceConfig, instances: int,
           tolerance: float = TOLERANCE, max_iterations: int = MAX_ITERATIONS,
           reach=REACH, verify_reads: int = 1) -> Deployment:
    """Map every network, sample ``instances`` chips per network and program them by
    program-and-verify (module docstring). Arrays of a seed come from its own generator."""
    if not (isinstance(instances, (int, np.integer)) and instances >= 1):
        raise ValueError(f"instances = {instances!r} is invalid: must be an integer >= 1")
    if not (math.isfinite(tolerance) and 0 <= tolerance < 1):
        raise ValueError(f"tolerance = {tolerance!r} is invalid: must be in [0, 1) (a fraction of the window)")
    if not (isinstance(max_iterations, (int, np.integer)) and max_iterations >= 1):
        raise ValueError(f"max_iterations = {max_iterations!r} is invalid: must be an integer >= 1")
    if len(seeds) != net.W.shape[0]:
        raise ValueError(f"{len(seeds)} seeds for {net.W.shape[0]} networks")
    n = net.topology.n
    live = net.alive & net.topology.mask()
    Gs, insts, targets, pulses, status, verr = [], [], [], [], [], []
    g0, window = None, mapping_window(device, reach)  # the technology's statistics, once
    for k, seed in enumerate(seeds):
        rng = np.random.default_rng([seed, DEPLOY, 0])
        inst = devices.sample_instances(device, (instances, 2, n, n), rng)
        # reset every device and read its floor (averaged): a cell's zero is the higher
        # of its two floors, so zero weights are two equal conductances
        floor = np.mean([devices.read(inst.g_min, inst, device, rng) for _ in range(FLOOR_READS)], axis=0)
        g0_k, tk, _ = inference_mapping(net.W[k:k + 1], live[k:k + 1], device, reach,
                                        base=floor.max(axis=1)[None], window=window)
        g0 = g0_k if g0 is None else np.concatenate([g0, g0_k])
        act = np.broadcast_to(live[k][None, None], inst.shape)
        p = program_and_verify(tk[0], inst, device, rng, tolerance, max_iterations, act, verify_reads)
        Gs.append(np.where(act, p.g, 0.0))
        insts.append(inst)
        targets.append(tk[0])
        pulses.append(p.pulses)
        status.append(p.status)
        verr.append(p.verify_error)
    return Deployment(net, list(seeds), device, float(tolerance), int(max_iterations), window, g0, live,
                      np.stack(targets), np.stack(Gs), _stack(insts), np.stack(pulses), np.stack(status),
                      np.stack(verr))


# ---- judging ---------------------------------------------------------------------------------

def certify(s: np.ndarray, field: AffineField, margin: float = 1e-9) -> np.ndarray:
    """(K, B) ``models.stability.local_certificate(s, field, k, b)["stable"]`` for every
    network and sample at once: saturated free neurons pushed strictly outward (by more
    than ``margin``) and the Jacobian on the unsaturated free neurons Hurwitz, which is
    when ``J^T P + P J = -I`` has a positive definite solution P (Lyapunov's theorem;
    local_certificate also solves for P, one sample at a time, ~30x slower; the unit
    tests check both agree). Batched: the saturated neurons are padded with -1 on the
    diagonal (the matrix is then block-diagonal: their eigenvalues are -1, the others
    those of the unsaturated block)."""
    f = field(s)
    free = np.broadcast_to(field.free, s.shape)
    low, high = free & (s <= 0.0), free & (s >= 1.0)
    pushed = (np.where(low, f < -margin, True) & np.where(high, f > margin, True)).all(-1)
    idx = np.flatnonzero(field.free)
    n = len(idx)
    if n == 0:
        return pushed
    eye = np.eye(n)
    A = field.A[:, idx][:, :, idx]                                   # (K, n, n)
    d = np.broadcast_to(field.d, s.shape)[..., idx]                  # (K, B, n)
    J = np.swapaxes(A, -1, -2)[:, None] - d[..., None] * eye         # (K, B, n, n)
    inside = (free & ~low & ~high)[..., idx]
    keep = inside[..., :, None] & inside[..., None, :]
    J = np.where(keep, J, 0.0) - (~inside)[..., None] * eye
    return pushed & (np.linalg.eigvals(J).real.max(-1) < 0)


def certified(ev: Evaluation) -> np.ndarray:
    """(K, R) every equilibrium of the inference passes the local certificate (``certify``)
    and every sample settled."""
    R = ev.right.shape[1]
    return np.stack([certify(ev.states[:, r], ev.fields[r]).all(-1) & ev.converged[:, r]
                     for r in range(R)], 1)


def judge(dep: Deployment, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, times, repeats: int,
          compensation: str = "none", line_resistance: float = 0.0,
          on_time: Callable[[int], None] | None = None, tile_size: int | None = TILE_SIZE) -> dict:
    """Inference on the deployed chips at every time (s after programming).

    ``repeats`` inferences per chip and time, each a fresh read of every device, the free
    phase settled with the fast solver from starts ~ Uniform(0, ``cfg.init_state``) (the
    run's training and inference start; the starts of inference r are those of repeat r
    of the software evaluation, the same for every chip and time). Returns arrays over
    (T, K, I): ``accuracy`` (fraction of (inference, pattern) pairs right and settled),
    ``all_correct`` and ``stable`` (fraction of inferences with every pattern right and
    settled / every equilibrium certified), and over (T, K, I, R) ``ok`` (every pattern
    right and settled) and ``certified`` (every equilibrium certified, settled);
    ``gain`` (T, K, I) the compensation, ``conductance_ratio`` (T,) the mean over live
    programmed devices (G > 0) of gain x G(t) / G(0), ``weight_error_rms`` (T,) of the
    compensated, drifted weights (no read noise) against the trained ones.
    """
    K, I = dep.G.shape[:2]
    flat_net = dep.flat_network()
    keys = [s for s in dep.seeds for _ in range(I)]
    T = len(times)
    out = {k: np.zeros((T, K, I)) for k in ("accuracy", "all_correct", "stable", "gain")}
    out["ok"] = np.zeros((T, K, I, repeats), bool)
    out["certified"] = np.zeros((T, K, I, repeats), bool)
    out["conductance_ratio"], out["weight_error_rms"] = np.zeros(T), np.zeros(T)
    cells = dep.cells & (dep.G > 0)
    W_goal = np.where(dep.live, dep.net.W, 0.0)[:, None]
    for i, t in enumerate(times):
        gain = dep.compensation(float(t), i, compensation)
        Gt = dep.drifted(float(t))
        ratio = gain[:, :, None, None, None] * Gt / np.where(cells, dep.G, 1.0)
        out["conductance_ratio"][i] = ratio[cells].mean() if cells.any() else 1.0
        dW = gain[..., None, None] * dep.weights(Gt) - W_goal
        out["weight_error_rms"][i] = math.sqrt((dW[np.broadcast_to(dep.live[:, None], dW.shape)] ** 2).mean()) \
            if dep.live.any() else 0.0
        src = dep.field_source(cfg, X.shape[0], float(t), i, compensation, line_resistance, gain, tile_size)
        ev = evaluate(flat_net, cfg, X, Y, keys, repeats, "fast", field=src)
        ok = ev.ok  # (K I, R, B)
        cert = certified(ev)
        out["ok"][i] = ok.all(-1).reshape(K, I, repeats)
        out["certified"][i] = cert.reshape(K, I, repeats)
        out["accuracy"][i] = ok.mean((1, 2)).reshape(K, I)
        out["all_correct"][i] = ok.all(-1).mean(1).reshape(K, I)
        out["stable"][i] = cert.mean(1).reshape(K, I)
        out["gain"][i] = gain
        if on_time is not None:
            on_time(i)
    return out


def global_jacobians(dep: Deployment, cfg: TrainConfig, t: float, line_resistance: float = 0.0,
                     tile_size: int | None = TILE_SIZE) -> np.ndarray:
    """(K, I, n_free, n_free) the Jacobian of the field the chips hold at time t (drifted
    conductances, no read noise, wires included), for the paper's global tests."""
    K, I = dep.G.shape[:2]
    G = dep.drifted(t).reshape(K * I, 2, *dep.G.shape[-2:])
    f = conductance_field(G[:, 0], G[:, 1], np.repeat(dep.g0, I), dep.net.topology, cfg.model,
                          np.repeat(dep.net.b, I, axis=0), 1, cfg.gamma, line_resistance, tile_size=tile_size)
    J = jacobian(f.A, f.d[:, 0], f.free)
    return J.reshape(K, I, *J.shape[1:])


def programming_summary(dep: Deployment) -> dict:
    """Pulses per programmed device (mean), the programming error rms in weight units
    (programmed - trained, live cells, no read noise) and as a fraction of the window
    (per device, conductance - target), and the devices that did not converge."""
    cells = dep.cells
    live = np.broadcast_to(dep.live[:, None], dep.weights().shape)
    dW = dep.weights() - np.where(dep.live, dep.net.W, 0.0)[:, None]
    dG = (dep.G - dep.target) / dep.device.g_range
    st = dep.status[cells]
    return {
        "pulses_mean": float(dep.pulses[cells].mean()) if cells.any() else 0.0,
        "program_error_rms": float(np.sqrt((dW[live] ** 2).mean())) if live.any() else 0.0,
        "program_error_rms_window": float(np.sqrt((dG[cells] ** 2).mean())) if cells.any() else 0.0,
        "devices": int(cells.sum()),
        "unconverged_devices": int((st != CONVERGED).sum()),
        "unconverged": {"stuck": int((st == STUCK).sum()), "out_of_window": int((st == OUT_OF_WINDOW).sum()),
                        "out_of_iterations": int((st == OUT_OF_ITERATIONS).sum())},
    }
