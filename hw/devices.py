"""Resistive-device physics: configs, published presets, and pure, vectorised operations.

Every quantity is SI (siemens, seconds). A device holds a conductance ``g`` inside its
*own* window ``[g_min_i, g_max_i]`` (``DeviceInstances``: the nominal config plus sampled
device-to-device spread of *both* bounds). Operations return new arrays and never mutate
arguments:

* ``program``: write-verify to a target: ``g = clip(Q(target) + write_noise R xi)``,
  ``Q`` = nearest of ``levels`` evenly spaced values in the nominal ``[g_min, g_max]``,
  ``R = g_max - g_min`` (nominal range), ``xi ~ N(0, 1)``.
* ``pulse``: ``n`` identical pulses through the response (``s = dw_min (1 +- up_down) R
  k_i``, ``k_i`` the device's step scale): linear ``dg = s``; soft-bounds ``dg = s
  (g_max_i - g)/R_i`` up, ``s (g - g_min_i)/R_i`` down (geometric, closed form);
  linear-step (aihwkit's ``LinearStepDevice``) ``dg = s (1 - gamma_up (g - g_c)/(g_max -
  g_c))`` up, ``s (1 - gamma_down (g_c - g)/(g_c - g_min))`` down, ``g_c`` the symmetry
  point (affine in g: geometric, closed form); exponential ``dg = s exp(-a u)``, ``u`` the
  normalised distance already travelled from the bound the pulse moves away from. Each
  step is multiplied by ``(1 + c2c_noise xi)``. With ``depression="reset"`` (PCM) a
  device cannot be depressed gradually: ``n < 0`` is one RESET pulse to its own
  ``g_min_i`` followed by ``|n| - 1`` potentiating pulses.
* ``read``: ``g + read_noise |g| xi1 + read_noise_add R xi2``, clipped at 0 S only: the
  relative part is 1/f noise that scales with the current (PCM), the additive part a
  constant noise floor (RRAM, aihwkit).
* ``drift``: ``g (t/t0)^-nu_i`` for ``t > t0`` (Nandakumar et al. 2019 / Joshi et al. 2020).

Stuck devices (``inst.stuck`` -1 / +1) sit at their own ``g_min_i`` / ``g_max_i`` in
every result. No function here draws random numbers except through the given ``rng``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

RESPONSES = ("linear", "soft-bounds", "linear-step", "exponential")
DEPRESSIONS = ("gradual", "reset")
G0 = 2.0**-14  # S, the conductance of unit weight: |W| <= 128 fits in IDEAL's 2**-7 S
_SOFT_BOUNDS_FLOOR = 1e-9  # pulses_for aims at most this close (x R) to a soft bound
MIN_WINDOW = 0.05  # a sampled window is at least this fraction of the nominal range


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

    Conductances in S, times in s; noises are standard deviations. ``write_noise``,
    ``read_noise_add``, ``dw_min``, ``d2d_range`` and ``d2d_floor`` are fractions of the
    nominal range ``R = g_max - g_min``; ``read_noise`` is relative to the conductance
    read; ``d2d_step`` and ``c2c_noise`` are relative. ``d2d_range`` is the std of each
    device's upper bound ``g_max_i`` and (unless ``d2d_floor`` is given) of its lower bound
    ``g_min_i``, drawn independently. ``dw_min`` is the step of one pulse at the start of
    its travel (at the bound it moves away from); for ``linear`` it is the step
    everywhere, for ``linear-step`` the step at the symmetry point ``g_c = g_min +
    symmetry_point R``, which shrinks linearly toward the bound approached, to ``1 -
    gamma_up`` (at ``g_max``) / ``1 - gamma_down`` (at ``g_min``) of it. ``nonlinearity`` is
    the exponent ``a`` of the ``exponential`` response (ignored otherwise).
    ``depression``: ``gradual`` (depressing pulses, mirrored response) or ``reset``
    (PCM: only an abrupt RESET to ``g_min_i`` lowers the conductance).
    """

    name: str
    g_min: float
    g_max: float
    dw_min: float
    levels: Optional[int] = None
    write_noise: float = 0.0
    read_noise: float = 0.0
    read_noise_add: float = 0.0
    drift_nu: float = 0.0
    drift_nu_std: float = 0.0
    drift_t0: float = 1.0
    stuck_min: float = 0.0
    stuck_max: float = 0.0
    d2d_range: float = 0.0
    d2d_floor: Optional[float] = None  # std of g_min_i if it differs (None: d2d_range)
    d2d_step: float = 0.0
    up_down: float = 0.0
    response: str = "linear"
    nonlinearity: float = 0.0
    gamma_up: float = 0.0
    gamma_down: float = 0.0
    symmetry_point: float = 0.5
    c2c_noise: float = 0.0
    depression: str = "gradual"

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
        for f in ("write_noise", "read_noise", "read_noise_add", "drift_nu", "drift_nu_std",
                  "d2d_range", "d2d_step", "nonlinearity", "c2c_noise"):
            if _real(f, getattr(self, f)) < 0:
                raise _bad(f, getattr(self, f), ">= 0")
        if self.d2d_floor is not None and _real("d2d_floor", self.d2d_floor) < 0:
            raise _bad("d2d_floor", self.d2d_floor, ">= 0, or None for d2d_range")
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
        for f in ("gamma_up", "gamma_down"):  # < 1: the step stays > 0 up to the nominal bound
            if not 0.0 <= _real(f, getattr(self, f)) < 1.0:
                raise _bad(f, getattr(self, f), "in [0, 1) (the step at the bound is 1 - gamma of dw_min)")
        if not 0.0 < _real("symmetry_point", self.symmetry_point) < 1.0:
            raise _bad("symmetry_point", self.symmetry_point, "in (0, 1) (a fraction of the window)")
        if self.response not in RESPONSES:
            raise _bad("response", self.response, f"one of {RESPONSES}")
        if self.depression not in DEPRESSIONS:
            raise _bad("depression", self.depression, f"one of {DEPRESSIONS}")

    @property
    def floor_spread(self) -> float:
        """The std of each device's lower bound, as a fraction of the nominal range."""
        return self.d2d_range if self.d2d_floor is None else float(self.d2d_floor)

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
# i.e. 0.0032/2 = 0.0016 of the range at the far bound; c2c 375 %; step d2d 30 %; write
# noise 56 dw_min = 5.6 % ~ 5 % of range). Bound spread: aihwkit draws each bound
# w_b (1 + dtod xi) independently with w_max_dtod = 0.3/1.25 and w_min_dtod = 0.3/0.75,
# i.e. a std of 0.3 weight units on *both* bounds = 0.15 of its range of 2: d2d_range =
# 0.15 (floor and top, each its own draw; the floor is truncated at 0 S, so with g_min =
# 1 uS and a std of 5.85 uS about 43 % of the devices have g_min_i = 0 and the mean floor
# is ~2.9 uS). Soft bounds also fit the HfO2 arrays of Gong, Rasch et al., IEDM 2022.
# Window: g_max 40 uS as in Wan et al., Nature 608, 504 (2022), whose programming-error
# polynomial averages 1.7 uS = 4.3 % of 40 uS; g_min 1 uS and the small drift (nu 0.005
# +- 0.005, a ~6 % decay over 2 days) are assumptions. Read noise: additive and constant,
# 1 % of g_max (aihwkit's ReRamWan2022NoiseModel note: "short-term read noise (about 1 %)",
# w_noise 0.01 ADDITIVE_CONSTANT): read_noise_add = 0.01 of the range (0.39 uS per device
# read), no relative part. Gong & Rasch 2022 measured ~10 % corrupt devices; the preset
# leaves stuck_* at 0 (as aihwkit does): sweep them explicitly.
RRAM = DeviceConfig(
    name="rram", g_min=1e-6, g_max=40e-6, dw_min=0.0016, response="soft-bounds",
    write_noise=0.05, read_noise=0.0, read_noise_add=0.01, drift_nu=0.005, drift_nu_std=0.005,
    drift_t0=1.0, d2d_range=0.15, d2d_step=0.3, c2c_noise=3.75,
)

# GST phase-change memory. Inference statistics: Nandakumar et al., ICECS 2019 (aihwkit
# PCMLikeNoiseModel): g_max 25 uS; programming std (uS) 0.26348 + 1.9650 x - 1.1731 x^2,
# x = g/g_max, mean over x in [0, 1] = 0.855 uS = 3.4 % of 25 uS; drift t0 = 20 s,
# nu = 0.049 (its lower clip, reached for g > 0.2 g_max) with spread 0.008-0.014 -> 0.05
# +- 0.01; 1/f read noise Q_s(g_max) sqrt(ln(t/2 t_read)) = 0.0088 sqrt(ln(1 ms/500 ns))
# = 2.4 % of g for reads 1 ms apart (relative: Joshi et al., Nat. Commun. 11, 2473 (2020)
# use the same model). Pulsed response: exponential step, our single-exponential
# least-squares fit (a = 3.3, first step 9.8 % of range, max trajectory error 4 %) to the
# potentiation curve of aihwkit's PCMPresetDevice = Nandakumar et al., Front. Neurosci.
# 14, 406 (2020) (dw_min 0.01 of [0, 2], A_up -27.235, gamma 2.5, c2c 60 %, step d2d
# 20 %, w_max_dtod 0.1 of w_max 2 = 0.1 of the range on the top, w_min_dtod 0 on the
# floor). Depression is an abrupt RESET (aihwkit: "uni-directional device ... only used as
# a plus-minus pair with refresh", PCMPresetUnitCell): depression="reset"; the reset lands
# exactly on g_min_i here (aihwkit: 0.01 +- 0.02 of w_max, ignored).
PCM = DeviceConfig(
    name="pcm", g_min=0.0, g_max=25e-6, dw_min=0.1, response="exponential", nonlinearity=3.3,
    write_noise=0.034, read_noise=0.024, drift_nu=0.05, drift_nu_std=0.01, drift_t0=20.0,
    d2d_range=0.1, d2d_floor=0.0, d2d_step=0.2, c2c_noise=0.6, depression="reset",
)

# Li/WO3 ECRAM, Tang et al., IEDM 2018: "symmetric and linear update", "up to 1000
# discrete states", good retention (nu = 0). Response: aihwkit's EcRamPresetDevice fit, a
# LinearStepDevice on [-0.8276, 1.1724] (symmetry point w = 0 at 0.8276/2 = 0.4138 of the
# window) with dw_min 0.002 at w = 0 (of a range of 2 -> 0.001), gamma_up 0.1153,
# gamma_down 0.5085 relative to the mean bounds (mean_bound_reference): the up step
# shrinks to 0.885 dw_min at g_max, the down step to 0.49 dw_min at g_min; c2c 30 %
# multiplicative; step d2d 10 %; bound spread w_max_dtod = w_min_dtod = 0.05 relative to
# the bounds -> std 0.0586 and 0.0414 weight units = 0.029 (top) and 0.021 (floor) of the
# range; no write noise in the fit; gamma d2d (5 %) not modelled. The 1-10 uS window and
# 0.5 % (relative) read noise are assumptions (not reported in the fit).
ECRAM = DeviceConfig(
    name="ecram", g_min=1e-6, g_max=10e-6, dw_min=0.001, levels=1000, response="linear-step",
    gamma_up=0.1153, gamma_down=0.5085, symmetry_point=0.4138,
    read_noise=0.005, d2d_range=0.029, d2d_floor=0.021, d2d_step=0.1, c2c_noise=0.3,
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

    Both bounds spread, each with its own draw (aihwkit: ``w_b (1 + w_b_dtod xi)`` per
    bound): ``g_min_i = max(g_min + floor_spread R xi1, 0)`` (a conductance is >= 0 S),
    ``g_max_i = max(g_max + d2d_range R xi2, g_min_i + MIN_WINDOW R)`` (every window at
    least 5 % of the nominal range); ``step_scale = L_step``, log-normal with mean 1 and
    relative std ``d2d_step``; ``nu_i = max(drift_nu + drift_nu_std xi, 0)``; each device is
    stuck at its minimum with probability ``stuck_min``, else at its maximum with
    probability ``stuck_max``. A spread of 0 draws nothing.
    """
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(k) for k in shape)
    R = cfg.g_range
    g_min = np.full(shape, cfg.g_min)
    if cfg.floor_spread > 0:
        g_min = np.maximum(g_min + cfg.floor_spread * R * rng.standard_normal(shape), 0.0)
    g_max = np.full(shape, cfg.g_max)
    if cfg.d2d_range > 0:
        g_max = g_max + cfg.d2d_range * R * rng.standard_normal(shape)
    g_max = np.maximum(g_max, g_min + MIN_WINDOW * R)
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


def _linear_step(s: np.ndarray, up: np.ndarray, cfg: DeviceConfig):
    """The linear-step response as an affine step ``dg = r |B - g|`` toward a virtual
    bound ``B`` (where the step would vanish): ``B = g_c +- D/gamma``, ``r = s gamma/D``,
    ``D = g_max - g_c`` up, ``g_c - g_min`` down, on the *nominal* bounds (aihwkit's
    ``mean_bound_reference``). Returns (linear, B, r); ``linear`` where gamma = 0
    (constant step ``s``; B and r are then placeholders)."""
    gc = cfg.g_min + cfg.symmetry_point * cfg.g_range
    D = np.where(up, cfg.g_max - gc, gc - cfg.g_min)
    gamma = np.where(up, cfg.gamma_up, cfg.gamma_down)
    linear = gamma == 0
    gs = np.where(linear, 1.0, gamma)
    B = gc + np.where(up, 1.0, -1.0) * D / gs
    return linear, B, np.clip(s * gs / D, 0.0, 1.0)


def pulse(g, n, inst: DeviceInstances, cfg: DeviceConfig, rng: np.random.Generator) -> np.ndarray:
    """Apply ``n`` pulses per device (``n > 0`` potentiate, ``n < 0`` depress).

    Linear: ``g + n s + c2c s sqrt(|n|) xi``. Soft bounds (closed form): up
    ``g_max_i - (g_max_i - g)(1 - r)^n``, ``r = s/R_i`` (down mirrored); linear-step
    (closed form, the same geometric sequence toward its virtual bound, see
    ``_linear_step``; gamma = 0 is linear); noise std ``c2c sqrt(sum_k dg_k^2)`` over the
    ``|n|`` nominal steps. Exponential: pulse by pulse (loop to ``max |n|``, vectorised
    over devices), ``dg = s exp(-a u)(1 + c2c xi)``. With ``depression="reset"``, ``n < 0``
    is a RESET to ``g_min_i`` and then ``|n| - 1`` potentiating pulses (``|n|`` pulses in
    all). The result is clipped to each device's window after every pulse of the loop
    (and once after a closed form); stuck devices are pinned.
    """
    g = _clip(_as_g(g, inst), inst)
    n = _as_counts(n, g.shape)
    if cfg.depression == "reset" and (n < 0).any():
        g = _pin(np.where(n < 0, inst.g_min, g), inst)
        n = np.where(n < 0, -n - 1, n)
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
    if cfg.response == "linear-step":
        linear, B, r = _linear_step(s, up, cfg)
        d0 = np.maximum(np.where(up, B - g, g - B), 0.0)  # no step beyond the virtual bound
        q_m = (1.0 - r) ** m
        dg = np.sign(n) * np.where(linear, m * s, d0 * (1.0 - q_m))
        if c2c > 0:
            var = np.where(linear, m * s**2, r * d0**2 * (1.0 - q_m**2) / (2.0 - r))
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


def _inverse(g, target, s_up, s_dn, lo, hi, R, cfg: DeviceConfig) -> np.ndarray:
    """Signed real pulse counts of the noise-free (gradual) response from g to target."""
    up = target > g
    s = np.where(up, s_up, s_dn)
    sign = np.where(up, 1.0, -1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if cfg.response == "linear":
            x = (target - g) / s
        elif cfg.response == "soft-bounds":
            q = 1.0 - np.clip(s / R, 0.0, 1.0)
            d0 = np.where(up, hi - g, g - lo)
            d1 = np.maximum(np.where(up, hi - target, target - lo), _SOFT_BOUNDS_FLOOR * R)
            x = np.where(d1 < d0, np.log(d1 / d0) / np.log(q), 0.0) * sign
        elif cfg.response == "linear-step":
            linear, B, r = _linear_step(s, up, cfg)
            d0 = np.where(up, B - g, g - B)
            d1 = np.maximum(np.where(up, B - target, target - B), _SOFT_BOUNDS_FLOOR * R)
            geo = np.where((d1 < d0) & (d0 > 0), np.log(d1 / d0) / np.log1p(-r), 0.0) * sign
            x = np.where(linear, (target - g) / s, geo)
        else:
            u0 = np.where(up, g - lo, hi - g) / R
            du = np.abs(target - g) / R
            a = cfg.nonlinearity
            grow = np.expm1(a * du) / a if a > 0 else du
            x = (R / s) * np.exp(a * u0) * grow * sign
    return np.where(np.isfinite(x) & (target != g), x, 0.0)


def pulses_for(delta_g, g, inst: DeviceInstances, cfg: DeviceConfig, *, calibrated: bool = False) -> np.ndarray:
    """Integer pulse counts that best realise ``delta_g`` (S) from ``g`` (deterministic).

    Inverts the noise-free response; the target ``g + delta_g`` is clipped to the window.
    Nominal (default): the config's window and step, as a controller without per-device
    calibration would; ``calibrated=True``: the device's own window and step, and 0 for
    stuck devices. Linear: ``round(delta/s)`` (exact). Soft bounds and linear-step:
    ``round(ln(d1/d0)/ln(1 - r))`` (exact), aiming no closer than 1e-9 R to the (virtual)
    bound. Exponential: the continuum inverse ``(R/(s a)) (e^(a u1) - e^(a u0))`` rounded
    (exact as ``a -> 0``; within about a pulse for small steps). ``depression="reset"``: a
    decrease is ``-(1 + k)``, a RESET then ``k`` potentiating pulses from the floor.
    """
    g = _as_g(g, inst)
    d = np.broadcast_to(np.asarray(delta_g, dtype=float), g.shape)
    s_up, s_dn, lo, hi, R = _steps(inst, cfg, calibrated)
    g = np.clip(g, lo, hi)
    target = np.clip(g + d, lo, hi)
    if cfg.depression == "reset":
        down = target < g
        k = np.rint(_inverse(np.where(down, lo, g), target, s_up, s_dn, lo, hi, R, cfg)).astype(np.int64)
        n = np.where(down, -1 - k, k)
    else:
        n = np.rint(_inverse(g, target, s_up, s_dn, lo, hi, R, cfg)).astype(np.int64)
    return np.where(inst.stuck != 0, 0, n) if calibrated else n


def read(g, inst: DeviceInstances, cfg: DeviceConfig, rng: np.random.Generator) -> np.ndarray:
    """One noisy read: ``max(g + read_noise |g| xi1 + read_noise_add R xi2, 0)`` (stuck
    devices read their value).

    The relative part is 1/f noise, which scales with the current (a 0 S device reads
    exactly 0 through it); the additive part is a constant floor (std ``read_noise_add
    R`` at every g, also at 0 S). A cell disconnected by its select switch is not read
    through here (``Crossbar`` gives it its off conductance, noiseless). A read is a
    measurement, not a state: it is not clipped at ``g_max``.
    """
    g = _pin(_as_g(g, inst), inst)
    if cfg.read_noise == 0 and cfg.read_noise_add == 0:
        return g
    noisy = g
    if cfg.read_noise > 0:
        noisy = noisy + cfg.read_noise * np.abs(g) * rng.standard_normal(g.shape)
    if cfg.read_noise_add > 0:
        noisy = noisy + cfg.read_noise_add * cfg.g_range * rng.standard_normal(g.shape)
    return np.maximum(noisy, 0.0)


def drift(g, t, inst: DeviceInstances, cfg: DeviceConfig) -> np.ndarray:
    """Power-law drift ``g (t/t0)^-nu_i`` at time ``t`` (s) after programming.

    ``g`` is the conductance as programmed (drift does not compose: pass the programmed
    value, not an already drifted one). ``t <= t0`` leaves ``g`` unchanged. The result
    stays in the device's window; stuck devices do not drift.
    """
    g = _as_g(g, inst)
    ratio = np.maximum(np.asarray(t, dtype=float) / cfg.drift_t0, 1.0)
    return _clip(g * ratio ** (-inst.nu), inst)
