"""Resistive-device physics: configs, published presets, and pure, vectorised operations.

Every quantity is SI (siemens, seconds). A device holds a conductance ``g`` inside its
*own* window ``[g_min_i, g_max_i]`` (``DeviceInstances``: the nominal config plus sampled
device-to-device spread). Operations return new arrays and never mutate arguments:

* ``program``: write-verify to a target: ``g = clip(Q(target) + write_noise R xi)``,
  ``Q`` = nearest of ``levels`` evenly spaced values in the nominal ``[g_min, g_max]``,
  ``R = g_max - g_min`` (nominal range), ``xi ~ N(0, 1)``.
* ``pulse``: ``n`` identical pulses through the response (step at the start of travel
  ``s = dw_min (1 +- up_down) R k_i``, ``k_i`` the device's step scale):
  linear ``dg = s``; soft-bounds ``dg = s (g_max_i - g)/R_i`` up, ``s (g - g_min_i)/R_i``
  down (geometric, closed form); exponential ``dg = s exp(-a u)``, ``u`` the normalised
  distance already travelled from the bound the pulse moves away from. Each step is
  multiplied by ``(1 + c2c_noise xi)``.
* ``read``: ``g + read_noise |g| xi`` (read noise is *relative to g*: 1/f noise scales
  with the current), clipped at 0 S only.
* ``drift``: ``g (t/t0)^-nu_i`` for ``t > t0`` (Nandakumar et al. 2019 / Joshi et al. 2020).

Stuck devices (``inst.stuck`` -1 / +1) sit at their own ``g_min_i`` / ``g_max_i`` in
every result. No function here draws random numbers except through the given ``rng``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

RESPONSES = ("linear", "soft-bounds", "exponential")
G0 = 2.0**-14  # S, the conductance of unit weight: |W| <= 128 fits in IDEAL's 2**-7 S
_SOFT_BOUNDS_FLOOR = 1e-9  # pulses_for aims at most this close (x R) to a soft bound


def _bad(field: str, value, allowed: str) -> ValueError:
    return ValueError(f"DeviceConfig.{field} = {value!r} is invalid: must be {allowed}")


def _real(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(field, value, "a real number")
    if not math.isfinite(float(value)):
        raise _bad(field, value, "finite")
    return float(value)


@dataclass(frozen=True)
class DeviceConfig:
    """Nominal device model (frozen; make variants with ``dataclasses.replace``).

    Conductances in S, times in s; noises are standard deviations. ``write_noise`` and
    ``dw_min`` are fractions of the nominal range ``R = g_max - g_min``; ``read_noise`` is
    relative to the conductance read; ``d2d_*`` and ``c2c_noise`` are relative.
    ``dw_min`` is the step of one pulse at the start of its travel (at the bound it
    moves away from); for ``linear`` it is the step everywhere. ``nonlinearity`` is the
    exponent ``a`` of the ``exponential`` response (ignored otherwise).
    """

    name: str
    g_min: float
    g_max: float
    dw_min: float
    levels: Optional[int] = None
    write_noise: float = 0.0
    read_noise: float = 0.0
    drift_nu: float = 0.0
    drift_nu_std: float = 0.0
    drift_t0: float = 1.0
    stuck_min: float = 0.0
    stuck_max: float = 0.0
    d2d_range: float = 0.0
    d2d_step: float = 0.0
    up_down: float = 0.0
    response: str = "linear"
    nonlinearity: float = 0.0
    c2c_noise: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise _bad("name", self.name, "a non-empty string")
        g_min, g_max = _real("g_min", self.g_min), _real("g_max", self.g_max)
        if g_min < 0:
            raise _bad("g_min", self.g_min, ">= 0 S")
        if g_max <= g_min:
            raise _bad("g_max", self.g_max, f"> g_min (= {g_min!r} S)")
        lv = self.levels
        if lv is not None and (isinstance(lv, bool) or not isinstance(lv, (int, np.integer)) or lv < 2):
            raise _bad("levels", lv, "an integer >= 2, or None for continuous")
        for f in ("write_noise", "read_noise", "drift_nu", "drift_nu_std", "d2d_range",
                  "d2d_step", "nonlinearity", "c2c_noise"):
            if _real(f, getattr(self, f)) < 0:
                raise _bad(f, getattr(self, f), ">= 0")
        if _real("drift_t0", self.drift_t0) <= 0:
            raise _bad("drift_t0", self.drift_t0, "> 0 s")
        for f in ("stuck_min", "stuck_max"):
            if not 0.0 <= _real(f, getattr(self, f)) <= 1.0:
                raise _bad(f, getattr(self, f), "in [0, 1]")
        if self.stuck_min + self.stuck_max > 1.0:
            raise _bad("stuck_max", self.stuck_max,
                       f"such that stuck_min + stuck_max <= 1 (sum = {self.stuck_min + self.stuck_max!r})")
        if not 0.0 < _real("dw_min", self.dw_min) <= 1.0:
            raise _bad("dw_min", self.dw_min, "in (0, 1] (a fraction of g_max - g_min)")
        if not -1.0 < _real("up_down", self.up_down) < 1.0:
            raise _bad("up_down", self.up_down, "in (-1, 1)")
        if self.response not in RESPONSES:
            raise _bad("response", self.response, f"one of {RESPONSES}")

    @property
    def g_range(self) -> float:
        """Nominal window ``g_max - g_min`` (S)."""
        return self.g_max - self.g_min


# ---- presets (data). aihwkit's normalised fits are converted to fractions of the window:
# its dw_min is in weight units over a range of 2 ------------------------------------------

# Every nonideality zero; continuous; linear. 2**-7 S = 128 G0 and the pulse step
# 2**-14 * 2**-7 = 2**-21 S = G0/128 are powers of two, so w <-> g and n pulses are exact.
IDEAL = DeviceConfig(name="ideal", g_min=0.0, g_max=2.0**-7, dw_min=2.0**-14)

# HfO2 ReRAM. Pulsed response: soft bounds, the loose fit of Gong et al., Nat. Commun. 9,
# 2102 (2018) in aihwkit's ReRamSBPresetDevice (dw_min 0.002 at w = 0 of [-0.75, 1.25],
# i.e. 0.0032/2 = 0.0016 of the range at the far bound; c2c 375 %; bound and step d2d
# 30 %; write noise 56 dw_min = 5.6 % ~ 5 % of range). Soft bounds also fit the HfO2 arrays
# of Gong, Rasch et al., IEDM 2022. Window: g_max 40 uS as in Wan et al., Nature 608, 504
# (2022), whose programming-error polynomial averages 1.7 uS = 4.3 % of 40 uS; g_min 1 uS
# and the small drift (nu 0.005 +- 0.005, a ~6 % decay over 2 days) are assumptions; read
# noise ~1 % (aihwkit's note on Wan 2022). Gong & Rasch 2022 measured ~10 % corrupt
# devices; the preset leaves stuck_* at 0 (as aihwkit does): sweep them explicitly.
RRAM = DeviceConfig(
    name="rram", g_min=1e-6, g_max=40e-6, dw_min=0.0016, response="soft-bounds",
    write_noise=0.05, read_noise=0.01, drift_nu=0.005, drift_nu_std=0.005, drift_t0=1.0,
    d2d_range=0.3, d2d_step=0.3, c2c_noise=3.75,
)

# GST phase-change memory. Inference statistics: Nandakumar et al., ICECS 2019 (aihwkit
# PCMLikeNoiseModel): g_max 25 uS; programming std (uS) 0.26348 + 1.9650 x - 1.1731 x^2,
# x = g/g_max, mean over x in [0, 1] = 0.855 uS = 3.4 % of 25 uS; drift t0 = 20 s,
# nu = 0.049 (its lower clip, reached for g > 0.2 g_max) with spread 0.008-0.014 -> 0.05
# +- 0.01; 1/f read noise Q_s(g_max) sqrt(ln(t/2 t_read)) = 0.0088 sqrt(ln(1 ms/500 ns))
# = 2.4 % of g for reads 1 ms apart (Joshi et al., Nat. Commun. 11, 2473 (2020) use the
# same model). Pulsed response: exponential step, our single-exponential least-squares fit
# (a = 3.3, first step 9.8 % of range, max trajectory error 4 %) to the potentiation curve
# of aihwkit's PCMPresetDevice = Nandakumar et al., Front. Neurosci. 14, 406 (2020)
# (dw_min 0.01 of [0, 2], A_up -27.235, gamma 2.5, c2c 60 %, step d2d 20 %, bound d2d
# 10 %). The real device's depression is an abrupt RESET; here it mirrors potentiation.
PCM = DeviceConfig(
    name="pcm", g_min=0.0, g_max=25e-6, dw_min=0.1, response="exponential", nonlinearity=3.3,
    write_noise=0.034, read_noise=0.024, drift_nu=0.05, drift_nu_std=0.01, drift_t0=20.0,
    d2d_range=0.1, d2d_step=0.2, c2c_noise=0.6,
)

# Li/WO3 ECRAM, Tang et al., IEDM 2018: "symmetric and linear update", "up to 1000
# discrete states", good retention (nu = 0). Linear step from aihwkit's EcRamPresetDevice
# fit (dw_min 0.002 of a range of 2 -> 0.001; c2c 30 % multiplicative; step d2d 10 %;
# bound d2d 5 %; no write noise in the fit). The 1-10 uS window and 0.5 % read noise are
# assumptions (not reported in the fit).
ECRAM = DeviceConfig(
    name="ecram", g_min=1e-6, g_max=10e-6, dw_min=0.001, levels=1000, response="linear",
    read_noise=0.005, d2d_range=0.05, d2d_step=0.1, c2c_noise=0.3,
)

PRESETS: dict[str, DeviceConfig] = {c.name: c for c in (IDEAL, RRAM, PCM, ECRAM)}


def get_preset(name: str) -> DeviceConfig:
    """The preset called ``name`` (case-insensitive); ValueError naming the allowed ones."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise ValueError(f"device preset {name!r} is unknown: allowed are {', '.join(PRESETS)}")
    return PRESETS[key]


# ---- device-to-device instances ----------------------------------------------------

@dataclass(frozen=True, eq=False)
class DeviceInstances:
    """Per-device quantities of an array (read-only arrays of one shape).

    ``g_min``/``g_max`` the device's own window (S); ``step_scale`` multiplies its pulse
    step; ``nu`` its drift exponent; ``stuck`` -1 stuck at ``g_min``, +1 at ``g_max``, 0 free.
    """

    g_min: np.ndarray
    g_max: np.ndarray
    step_scale: np.ndarray
    nu: np.ndarray
    stuck: np.ndarray

    def __post_init__(self) -> None:
        shapes = {np.shape(a) for a in (self.g_min, self.g_max, self.step_scale, self.nu, self.stuck)}
        if len(shapes) != 1:
            raise ValueError(f"DeviceInstances arrays must share one shape, got {sorted(shapes)}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.g_min))


def _lognormal(rel_std: float, shape, rng: np.random.Generator) -> np.ndarray:
    """Positive factors with mean 1 and relative std ``rel_std`` (ones if 0, no draw)."""
    if rel_std == 0:
        return np.ones(shape)
    sigma = math.sqrt(math.log1p(rel_std**2))
    return np.exp(sigma * rng.standard_normal(shape) - sigma**2 / 2)


def sample_instances(cfg: DeviceConfig, shape, rng: np.random.Generator) -> DeviceInstances:
    """Sample device-to-device variation for an array of ``shape``.

    ``g_min_i = g_min`` (the floor is kept); ``g_max_i = g_min + R L_range``;
    ``step_scale = L_step``; ``L`` log-normal with mean 1 and relative std ``d2d_*``;
    ``nu_i = max(drift_nu + drift_nu_std xi, 0)``; each device is stuck at its minimum
    with probability ``stuck_min``, else at its maximum with probability ``stuck_max``.
    """
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(k) for k in shape)
    g_min = np.full(shape, cfg.g_min)
    g_max = cfg.g_min + cfg.g_range * _lognormal(cfg.d2d_range, shape, rng)
    step = _lognormal(cfg.d2d_step, shape, rng)
    nu = np.full(shape, cfg.drift_nu)
    if cfg.drift_nu_std > 0:
        nu = np.maximum(nu + cfg.drift_nu_std * rng.standard_normal(shape), 0.0)
    stuck = np.zeros(shape, dtype=np.int8)
    if cfg.stuck_min > 0 or cfg.stuck_max > 0:
        u = rng.random(shape)
        stuck[u < cfg.stuck_min] = -1
        stuck[(u >= cfg.stuck_min) & (u < cfg.stuck_min + cfg.stuck_max)] = 1
    for a in (g_min, g_max, step, nu, stuck):
        a.setflags(write=False)
    return DeviceInstances(g_min, g_max, step, nu, stuck)


def _as_g(g, inst: DeviceInstances, what: str = "g") -> np.ndarray:
    g = np.array(g, dtype=float)  # a copy: arguments are never mutated
    if g.shape != inst.shape:
        raise ValueError(f"{what} has shape {g.shape}, the device array has shape {inst.shape}")
    return g


def _pin(g: np.ndarray, inst: DeviceInstances) -> np.ndarray:
    """Stuck devices at their stuck value; the others unchanged."""
    if not inst.stuck.any():
        return g
    return np.where(inst.stuck < 0, inst.g_min, np.where(inst.stuck > 0, inst.g_max, g))


def _clip(g: np.ndarray, inst: DeviceInstances) -> np.ndarray:
    return _pin(np.clip(g, inst.g_min, inst.g_max), inst)


# ---- operations -----------------------------------------------------------------------

def program(g, target, inst: DeviceInstances, cfg: DeviceConfig, rng: np.random.Generator) -> np.ndarray:
    """Write ``target`` (S) directly: ``clip(Q(clip(target)) + write_noise R xi)``.

    ``Q`` rounds to ``levels`` evenly spaced values of the nominal window (identity if
    ``levels`` is None); the result is clipped to each device's own window; stuck devices
    keep their stuck value. ``g`` (the present state) only fixes the shape: a
    write-verify program does not depend on it.
    """
    g = _as_g(g, inst)
    t = np.clip(np.broadcast_to(np.asarray(target, dtype=float), g.shape), cfg.g_min, cfg.g_max)
    if cfg.levels is not None:
        dq = cfg.g_range / (cfg.levels - 1)
        t = cfg.g_min + np.rint((t - cfg.g_min) / dq) * dq
    if cfg.write_noise > 0:
        t = t + cfg.write_noise * cfg.g_range * rng.standard_normal(g.shape)
    return _clip(t, inst)


def _as_counts(n, shape) -> np.ndarray:
    n = np.asarray(n)
    if not np.issubdtype(n.dtype, np.integer):
        if not np.all(np.isfinite(n)) or np.any(n != np.rint(n)):
            raise ValueError("pulse counts n must be integers")
    return np.broadcast_to(n.astype(np.int64), shape)


def _steps(inst: DeviceInstances, cfg: DeviceConfig, calibrated: bool = True):
    """Absolute first steps (S) up and down, and the window (lo, hi, R) used."""
    if calibrated:
        lo, hi, k = inst.g_min, inst.g_max, inst.step_scale
    else:
        lo, hi, k = np.full(inst.shape, cfg.g_min), np.full(inst.shape, cfg.g_max), 1.0
    s = cfg.dw_min * cfg.g_range * k
    return s * (1 + cfg.up_down), s * (1 - cfg.up_down), lo, hi, hi - lo


def pulse(g, n, inst: DeviceInstances, cfg: DeviceConfig, rng: np.random.Generator) -> np.ndarray:
    """Apply ``n`` pulses per device (``n > 0`` potentiate, ``n < 0`` depress).

    Linear: ``g + n s + c2c s sqrt(|n|) xi``. Soft bounds (closed form): up
    ``g_max_i - (g_max_i - g)(1 - r)^n``, ``r = s/R_i`` (down mirrored), noise std
    ``c2c sqrt(sum_k dg_k^2)`` over the ``|n|`` nominal steps. Exponential: pulse by pulse
    (loop to ``max |n|``, vectorised over devices), ``dg = s exp(-a u)(1 + c2c xi)``.
    The result is clipped to each device's window after every pulse of the loop (and
    once after a closed form); stuck devices are pinned.
    """
    g = _clip(_as_g(g, inst), inst)
    n = _as_counts(n, g.shape)
    s_up, s_dn, lo, hi, R = _steps(inst, cfg)
    up, m = n > 0, np.abs(n).astype(float)
    s = np.where(up, s_up, s_dn)
    c2c = cfg.c2c_noise
    if cfg.response == "linear":
        dg = np.sign(n) * m * s
        if c2c > 0:
            dg = dg + c2c * s * np.sqrt(m) * rng.standard_normal(g.shape)
        return _clip(g + dg, inst)
    if cfg.response == "soft-bounds":
        r = np.clip(s / R, 0.0, 1.0)
        d0 = np.where(up, hi - g, g - lo)  # distance to the bound approached
        d1 = d0 * (1.0 - r) ** m
        dg = np.sign(n) * (d0 - d1)
        if c2c > 0:  # sum_k (r d0 q^k)^2 = r d0^2 (1 - q^2m) / (2 - r)
            var = r * d0**2 * (1.0 - (1.0 - r) ** (2 * m)) / (2.0 - r)
            dg = dg + c2c * np.sqrt(var) * rng.standard_normal(g.shape)
        return _clip(g + dg, inst)
    a, sign = cfg.nonlinearity, np.sign(n)
    for k in range(int(m.max(initial=0))):
        active = m > k
        travelled = np.where(up, g - lo, hi - g) / R
        dg = sign * s * np.exp(-a * np.clip(travelled, 0.0, 1.0))
        if c2c > 0:
            dg = dg * (1.0 + c2c * rng.standard_normal(g.shape))
        g = np.clip(np.where(active, g + dg, g), lo, hi)
    return _pin(g, inst)


def pulses_for(delta_g, g, inst: DeviceInstances, cfg: DeviceConfig, *, calibrated: bool = False) -> np.ndarray:
    """Integer pulse counts that best realise ``delta_g`` (S) from ``g`` (deterministic).

    Inverts the noise-free response; the target ``g + delta_g`` is clipped to the window.
    Nominal (default): the config's window and step, as a controller without per-device
    calibration would; ``calibrated=True``: the device's own window and step, and 0 for
    stuck devices. Linear: ``round(delta/s)`` (exact). Soft bounds:
    ``round(ln(d1/d0)/ln(1 - r))`` (exact), aiming no closer than 1e-9 R to the bound.
    Exponential: the continuum inverse ``(R/(s a)) (e^(a u1) - e^(a u0))`` rounded
    (exact as ``a -> 0``; within about a pulse for small steps).
    """
    g = _as_g(g, inst)
    d = np.broadcast_to(np.asarray(delta_g, dtype=float), g.shape)
    s_up, s_dn, lo, hi, R = _steps(inst, cfg, calibrated)
    g = np.clip(g, lo, hi)
    target = np.clip(g + d, lo, hi)
    up = target > g
    s = np.where(up, s_up, s_dn)
    with np.errstate(divide="ignore", invalid="ignore"):
        if cfg.response == "linear":
            x = (target - g) / s
        elif cfg.response == "soft-bounds":
            q = 1.0 - np.clip(s / R, 0.0, 1.0)
            d0 = np.where(up, hi - g, g - lo)
            d1 = np.maximum(np.where(up, hi - target, target - lo), _SOFT_BOUNDS_FLOOR * R)
            x = np.where(d1 < d0, np.log(d1 / d0) / np.log(q), 0.0) * np.where(up, 1.0, -1.0)
        else:
            u0 = np.where(up, g - lo, hi - g) / R
            du = np.abs(target - g) / R
            a = cfg.nonlinearity
            grow = np.expm1(a * du) / a if a > 0 else du
            x = (R / s) * np.exp(a * u0) * grow * np.where(up, 1.0, -1.0)
    x = np.where(np.isfinite(x) & (target != g), x, 0.0)
    n = np.rint(x).astype(np.int64)
    return np.where(inst.stuck != 0, 0, n) if calibrated else n


def read(g, inst: DeviceInstances, cfg: DeviceConfig, rng: np.random.Generator) -> np.ndarray:
    """One noisy read: ``max(g + read_noise |g| xi, 0)`` (stuck devices read their value).

    Read noise is relative to the conductance (1/f noise scales with the current), so a
    zeroed (pruned, 0 S) device reads exactly 0. A read is a measurement, not a state: it
    is not clipped at ``g_max``.
    """
    g = _pin(_as_g(g, inst), inst)
    if cfg.read_noise == 0:
        return g
    return np.maximum(g + cfg.read_noise * np.abs(g) * rng.standard_normal(g.shape), 0.0)


def drift(g, t, inst: DeviceInstances, cfg: DeviceConfig) -> np.ndarray:
    """Power-law drift ``g (t/t0)^-nu_i`` at time ``t`` (s) after programming.

    ``g`` is the conductance as programmed (drift does not compose: pass the programmed
    value, not an already drifted one). ``t <= t0`` leaves ``g`` unchanged. The result
    stays in the device's window; stuck devices do not drift.
    """
    g = _as_g(g, inst)
    ratio = np.maximum(np.asarray(t, dtype=float) / cfg.drift_t0, 1.0)
    return _clip(g * ratio ** (-inst.nu), inst)


def plot_device(cfg: DeviceConfig, path, rng: np.random.Generator, *, devices: int = 4):
    """PNG: conductance over 200 up then 200 down pulses for a few sampled devices (left)
    and the spread of programmed - target at a few targets (right). Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = sample_instances(cfg, (devices,), rng)
    g = np.array(inst.g_min)
    trace = [g]
    for step in [1] * 200 + [-1] * 200:
        g = pulse(g, step, inst, cfg, rng)
        trace.append(g)
    uS = 1e6
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(np.arange(401), np.array(trace) * uS)
    ax1.axvline(200, color="grey", lw=0.5)
    ax1.set(xlabel="pulse number", ylabel="conductance (uS)", title=f"{cfg.name}: 200 up, 200 down")
    many = sample_instances(cfg, (2000,), rng)
    for frac in (0.2, 0.5, 0.8):
        target = cfg.g_min + frac * cfg.g_range
        err = program(np.zeros(many.shape), target, many, cfg, rng) - target
        ax2.hist(err[many.stuck == 0] * uS, bins=50, histtype="step", label=f"target {target * uS:.3g} uS")
    ax2.set(xlabel="programmed - target (uS)", ylabel="devices", title="programming error")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
