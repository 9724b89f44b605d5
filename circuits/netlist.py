"""SPICE decks of DEEP networks, written as plain netlist text (no PySpice objects).

Two realisations of one sample's dynamics, both complete standalone decks (title line,
elements, ``.options``, ``.save``, analysis, ``.end``) that ``ngspice -b -r out.raw
deck.cir`` runs as they are. Neuron ``j`` is node ``n{j}`` at ``V_j = v_fs * s_j``;
non-input neurons integrate on a capacitor ``C`` to ground, inputs are voltage sources.
The defaults of ``v_fs``, ``C`` and ``g0`` are the project's physical conventions
(``circuits/physics.py``: 0.2 V, 1 pF, 2**-14 S). ``tau = C / g0`` is the unit of model
time: ``t_stop`` and ``t_step`` are given in units of tau (model time) and written in
seconds (``t * tau``).

* ``behavioural_deck``: the ``AffineField`` of one sample, ``f(s) = s A - d s + c``,
  as ``C dV_j/dt = g0 (sum_i A[i,j] V_i - d_j V_j + c_j v_fs)``: one VCCS (G element) per
  nonzero ``A[i, j]`` into a non-input ``j``, one VCCS for ``d_j``, one current source
  for ``c_j``.
* ``crossbar_deck``: the device-level crossbar of ``hw/wires.py``: one resistor per
  device, rows interleaved ``[+0, -0, +1, -1, ...]``, each row driven by a VCVS (E) at
  ``+V_i`` / ``-V_i`` through a 0 V source that senses the driver current, columns of
  the receiving neurons ending in 0 V sources (exact virtual grounds and current
  sensors), CCCS (F) elements feeding each column current into its neuron and drawing
  each neuron's own row-driver currents out of it, the leak ``gamma g0`` as a resistor
  to ground, the nudge ``beta g0`` as a resistor to a target source, optional wire
  resistance per segment (row: driver to cell 0, then between cells; column: between
  cells, then the last row to the virtual ground). Cells switched off by their select
  switch (``open_cells``) have no device resistor; a leaking switch (an off conductance
  > 0) is a resistor ``RO...`` of 1/G_off. ``notes`` become comment lines (sanitised).

The clip to ``[0, v_fs]`` (the projected dynamics of ``models.settle``)
------------------------------------------------------------------------
Each non-input neuron gets a stiff, ideal-diode-like clamp, one B source::

    I(n_j -> 0) = G_c * (uramp(V_j - v_fs) - uramp(-V_j)),      G_c = clamp_gain * g0

Inside the rails it carries nothing, so the dynamics are exactly the affine ones; past
a rail it is a conductance ``clamp_gain`` times stronger than the unit weight, so a
neuron pushed outward by a current ``g0 f`` sits ``f / clamp_gain`` (in units of v_fs)
beyond the rail (1e-8 for ``clamp_gain = 1e8`` and ``|f| <= 1``), and is released as soon
as the push turns inward. This is the penalty form of the projection: it converges to
the projected dynamics as ``clamp_gain -> inf``, has the same equilibria up to
``O(|f| / clamp_gain)``, and needs no access to a neuron's total current (which the
crossbar deck spreads over several F elements). The clamp's time constant is
``tau / clamp_gain``: stiff, hence ``method=gear`` (trapezoidal integration rings on it).

Names: every node and element name is generated from indices; the only free text, the
title, is sanitised (``[A-Za-z0-9 _.-]`` kept, no newline, never starting with ``.``
or ``*``). The decks contain no ``.control`` block.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np

from hw.wires import check_conductances, effective_matrices, tiles
from models.dynamics import AffineField, affine, projected_residual

from .ngspice import NgspiceError, run_ngspice
from .physics import C as C_NEURON, G0_IDEAL, V_FS

DEFAULT_OPTIONS = "method=gear reltol=1e-6 abstol=1e-15 vntol=1e-9"
ANALYSES = ("tran", "op")


# --------------------------------------------------------------------------- helpers
def sanitise(text: object, default: str = "deepxbar deck", max_len: int = 80, extra: str = "") -> str:
    """User text safe for a title or comment line: only ``[A-Za-z0-9 _.-]`` and the
    characters of ``extra`` (comments allow ``(),:``), one line, never starting with
    ``.``, ``*`` or ``-``; ``default`` if nothing is left."""
    s = re.sub(rf"[^A-Za-z0-9 _.\-{re.escape(extra)}]", "", str(text))
    s = s.lstrip(" .*-")[:max_len].rstrip()
    return s or default


def _num(x: float) -> str:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"non-finite value {x!r} in a netlist")
    return f"{x:.17g}"


def _positive(name: str, x: float) -> float:
    x = float(x)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be finite and > 0, got {x!r}")
    return x


def _vec(name: str, x, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.shape != (n,) or not np.isfinite(x).all():
        raise ValueError(f"{name} must be finite of shape ({n},), got shape {x.shape}")
    return x


def _mask(name: str, m, n: int) -> np.ndarray:
    m = np.asarray(m)
    if m.dtype != bool or m.shape != (n,):
        raise ValueError(f"{name} must be a boolean mask of shape ({n},)")
    return m


def _tail(lines: list[str], free: np.ndarray, s0: np.ndarray, N: int, v_fs: float, C: float,
          g0: float, clamps: bool, clamp_gain: float, analysis: str, t_stop: float, t_step: float,
          t_max: float | None, options: str) -> list[str]:
    """Capacitors, initial conditions, clamps, options, saves, analysis, .end."""
    if analysis not in ANALYSES:
        raise ValueError(f"analysis must be one of {ANALYSES}, got {analysis!r}")
    if not re.fullmatch(r"[A-Za-z0-9 _.=+\-]*", options):
        raise ValueError(f"options {options!r}: only [A-Za-z0-9 _.=+-] allowed")
    tau = C / g0
    idx = np.flatnonzero(free)
    lines.append("* neuron integrators")
    for j in idx:
        lines.append(f"C{j} n{j} 0 {_num(C)} IC={_num(v_fs * s0[j])}")
    if clamps:
        gc = _num(_positive("clamp_gain", clamp_gain) * g0)
        lines.append(f"* rail clamps at 0 and {_num(v_fs)} V: I = G_c (uramp(V - v_fs) - uramp(-V))")
        for j in idx:
            lines.append(f"BK{j} n{j} 0 I = {gc} * (uramp(V(n{j}) - {_num(v_fs)}) - uramp(-V(n{j})))")
    if options:
        lines.append(f".options {options}")
    lines.append(".save " + " ".join(f"v(n{j})" for j in range(N)))
    if analysis == "tran":
        t_stop, t_step = _positive("t_stop", t_stop), _positive("t_step", t_step)
        t_max = t_step if t_max is None else _positive("t_max", t_max)
        if idx.size:
            lines.append(".ic " + " ".join(f"v(n{j})={_num(v_fs * s0[j])}" for j in idx))
        lines.append(f".tran {_num(t_step * tau)} {_num(t_stop * tau)} 0 {_num(t_max * tau)} uic")
    else:
        lines.append(".op")
    lines.append(".end")
    return lines


# --------------------------------------------------------------------------- decks
def behavioural_deck(A, d, c, s0, inputs_mask, v_fs: float = V_FS, C: float = C_NEURON, g0: float = G0_IDEAL,
                     t_stop: float = 200.0, t_step: float = 0.5, title: str = "deepxbar behavioural",
                     *, clamps: bool = True, clamp_gain: float = 1e8, analysis: str = "tran",
                     t_max: float | None = None, options: str = DEFAULT_OPTIONS) -> str:
    """One sample's ``AffineField`` as VCCS elements; see the module docstring.

    ``A`` (N, N), ``d`` (N,), ``c`` (N,) of one sample, ``s0`` (N,) initial states (the
    inputs' values clamp them), ``inputs_mask`` (N,) bool. ``t_stop``, ``t_step``,
    ``t_max`` (maximum internal step, default ``t_step``) in units of ``tau = C / g0``.
    ``analysis="op"`` writes a DC operating point instead (capacitors open).
    """
    A = np.asarray(A, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.isfinite(A).all():
        raise ValueError(f"A must be a finite square matrix, got shape {A.shape}")
    N = A.shape[0]
    d, c, s0 = _vec("d", d, N), _vec("c", c, N), _vec("s0", s0, N)
    inputs = _mask("inputs_mask", inputs_mask, N)
    v_fs, C, g0 = _positive("v_fs", v_fs), _positive("C", C), _positive("g0", g0)
    free = ~inputs
    lines = [sanitise(title, "deepxbar behavioural"),
             f"* behavioural DEEP network: N={N}, tau=C/g0={_num(C / g0)} s, v_fs={_num(v_fs)} V",
             "* inputs (clamped)"]
    for i in np.flatnonzero(inputs):
        lines.append(f"VI{i} n{i} 0 DC {_num(v_fs * s0[i])}")
    lines.append("* C dV_j/dt = g0 (sum_i A[i,j] V_i - d_j V_j + c_j v_fs)")
    for j in np.flatnonzero(free):
        for i in range(N):
            if A[i, j] != 0.0:
                lines.append(f"GA{i}_{j} 0 n{j} n{i} 0 {_num(g0 * A[i, j])}")
        if d[j] != 0.0:
            lines.append(f"GD{j} n{j} 0 n{j} 0 {_num(g0 * d[j])}")
        if c[j] != 0.0:
            lines.append(f"IB{j} 0 n{j} DC {_num(g0 * c[j] * v_fs)}")
    deck = _tail(lines, free, s0, N, v_fs, C, g0, clamps, clamp_gain, analysis, t_stop, t_step, t_max,
                 options)
    return "\n".join(deck) + "\n"


def _wires(line_resistance) -> tuple[float, float]:
    if np.ndim(line_resistance) == 0:
        r_row = r_col = float(line_resistance)
    else:
        r_row, r_col = (float(x) for x in line_resistance)
    for name, r in (("r_row", r_row), ("r_col", r_col)):
        if not (math.isfinite(r) and r >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {r!r}")
    return r_row, r_col


def crossbar_deck(Gp, Gm, receiving, s0, gamma: float = 0.0, line_resistance=0.0, *,
                  g0: float = G0_IDEAL, v_fs: float = V_FS, C: float = C_NEURON, beta: float = 0.0,
                  targets=None, outputs=None, t_stop: float = 200.0, t_step: float = 0.5,
                  title: str = "deepxbar crossbar", clamps: bool = True, clamp_gain: float = 1e8,
                  analysis: str = "tran", t_max: float | None = None,
                  options: str = DEFAULT_OPTIONS, open_cells=None, notes=(), tile_size: int | None = None,
                  connected=None) -> str:
    """The device-level crossbar of one sample; see the module docstring.

    ``Gp, Gm`` (N, N) siemens (0: open cell, no resistor); ``receiving`` (N,) bool, the
    neurons with a column: they are the non-input (integrating) neurons, the others are
    inputs held at ``v_fs * s0``. ``line_resistance`` ohms per wire segment, a number
    (rows and columns) or ``(r_row, r_col)``. ``g0`` the unit conductance
    (``CrossbarConfig.unit``): the leak is ``gamma g0``, the nudge ``beta g0`` toward
    ``v_fs * targets[j]`` on the ``outputs`` (N,) mask, ``tau = C / g0``. ``tile_size``
    and ``connected`` (the topology's (N, N) mask) cut the array into the tiles of
    ``hw.wires.tiles``, each with its own drivers, wires and virtual grounds (names
    prefixed ``t<k>_`` when there are several); None: one array.
    The dynamics: ``C dV_j/dt = I_col[j] - I_row[j] - gamma g0 V_j (+ beta g0 (v_fs y_j - V_j))``,
    i.e. the ``AffineField`` of ``hw.crossbar.Crossbar.field``.
    """
    Gp, Gm = check_conductances(Gp, Gm)
    N = Gp.shape[0]
    free = _mask("receiving", receiving, N)
    s0 = _vec("s0", s0, N)
    v_fs, C, g0 = _positive("v_fs", v_fs), _positive("C", C), _positive("g0", g0)
    gamma, beta = float(gamma), float(beta)
    if not (math.isfinite(gamma) and gamma >= 0 and math.isfinite(beta) and beta >= 0):
        raise ValueError(f"gamma and beta must be finite and >= 0, got {gamma!r}, {beta!r}")
    if beta > 0:
        if targets is None or outputs is None:
            raise ValueError("beta > 0 needs targets (N,) and outputs (N,) bool")
        targets, outputs = _vec("targets", targets, N), _mask("outputs", outputs, N)
    r_row, r_col = _wires(line_resistance)
    off = np.zeros((N, N), dtype=bool) if open_cells is None else np.asarray(open_cells)
    if off.dtype != bool or off.shape != (N, N):
        raise ValueError(f"open_cells must be a boolean mask of shape ({N}, {N})")
    cols = np.flatnonzero(free)
    R = 2 * N
    blocks = tiles(N, cols, tile_size, connected)
    lines = [sanitise(title, "deepxbar crossbar"),
             f"* device-level DEEP crossbar: N={N}, {R} rows x {len(cols)} columns"
             + (f" in {len(blocks)} tiles of at most {tile_size} x {tile_size} devices" if len(blocks) > 1 else "")
             + f", r_row={_num(r_row)} ohm, r_col={_num(r_col)} ohm, g0={_num(g0)} S, tau={_num(C / g0)} s, "
             f"v_fs={_num(v_fs)} V"]
    lines += [f"* {sanitise(n, '', 240, extra='(),:')}" for n in notes]
    lines.append("* inputs (clamped)")
    for i in np.flatnonzero(~free):
        lines.append(f"VI{i} n{i} 0 DC {_num(v_fs * s0[i])}")
    feeds = []
    for k, (neurons, cs) in enumerate(blocks):
        t = f"t{k}_" if len(blocks) > 1 else ""  # names of one tile's elements and nodes
        lines += _tile(t, neurons, cs, Gp, Gm, off, r_row, r_col, len(blocks) > 1)
        feeds += [f"FC{t}{j} 0 n{j} VG{t}{j} 1" for j in cs]
        feeds += [f"FR{pm}{t}{i} n{i} 0 VS{t}{2 * i + m} 1" for i in neurons if free[i]
                  for m, pm in enumerate("PM")]
    lines.append("* integrators: + column currents, - own row-driver currents (every tile), leak, nudge")
    lines += feeds
    for j in cols:
        if gamma > 0:
            lines.append(f"RL{j} n{j} 0 {_num(1.0 / (gamma * g0))}")
        if beta > 0 and outputs[j]:
            lines.append(f"RN{j} n{j} t{j} {_num(1.0 / (beta * g0))}")
            lines.append(f"VT{j} t{j} 0 DC {_num(v_fs * targets[j])}")
    deck = _tail(lines, free, s0, N, v_fs, C, g0, clamps, clamp_gain, analysis, t_stop, t_step, t_max,
                 options)
    return "\n".join(deck) + "\n"


def _tile(t: str, neurons, cols, Gp, Gm, off, r_row: float, r_col: float, several: bool) -> list[str]:
    """The elements of one tile (``hw.wires``): the rows of ``neurons`` by the columns
    ``cols``, its drivers, wires, devices and virtual grounds; ``t`` prefixes its names."""
    where = f"tile {t[:-1]}: neurons {neurons[0]}..{neurons[-1]} x columns {cols[0]}..{cols[-1]}" if several else ""
    rows = [r for i in neurons for r in (2 * i, 2 * i + 1)]

    def xnode(r, j):  # row wire node at the cell of column j
        return f"x{t}{r}_{j}" if r_row > 0 else f"x{t}{r}"

    def ynode(r, j):  # column wire node at the cell of row r
        return f"y{t}{r}_{j}" if r_col > 0 else f"g{t}{j}"

    lines = [f"* {where}"] if several else []
    lines.append("* row drivers (+V_i, -V_i) and their 0 V current sensors")
    for r in rows:
        i, minus = divmod(r, 2)
        lines.append(f"ER{t}{r} e{t}{r} 0 n{i} 0 {'-1' if minus else '1'}")
        lines.append(f"VS{t}{r} e{t}{r} {f's{t}{r}' if r_row > 0 else xnode(r, None)} DC 0")
    if r_row > 0:
        lines.append("* row wire segments")
        for r in rows:
            prev = f"s{t}{r}"
            for j in cols:
                lines.append(f"RW{t}{r}_{j} {prev} {xnode(r, j)} {_num(r_row)}")
                prev = xnode(r, j)
    lines.append("* devices: R<row>_<neuron> = 1/G of the device (row 2i: G+ of neuron i, 2i+1: G-)")
    leak = []
    for r in rows:
        i, minus = divmod(r, 2)
        G = Gm if minus else Gp
        for j in cols:
            if G[i, j] > 0 and not off[i, j]:
                lines.append(f"R{t}{r}_{j} {xnode(r, j)} {ynode(r, j)} {_num(1.0 / G[i, j])}")
            elif G[i, j] > 0:
                leak.append((r, j))
    n_off = int(off[np.ix_(neurons, cols)].sum())
    if n_off:
        lines.append(f"* switched-off cells (select switch open): {n_off} cells, "
                     f"{len(leak)} devices leak through their switch (RO<row>_<neuron> = 1/G_off)")
        for r, j in leak:
            G = Gm if r % 2 else Gp
            lines.append(f"RO{t}{r}_{j} {xnode(r, j)} {ynode(r, j)} {_num(1.0 / G[r // 2, j])}")
    if r_col > 0:
        lines.append("* column wire segments")
        for j in cols:
            for a, r in enumerate(rows):
                nxt = f"g{t}{j}" if a == len(rows) - 1 else ynode(rows[a + 1], j)
                lines.append(f"RC{t}{r}_{j} {ynode(r, j)} {nxt} {_num(r_col)}")
    lines.append("* virtual grounds (0 V sources sense the column currents)")
    lines += [f"VG{t}{j} g{t}{j} 0 DC 0" for j in cols]
    return lines


# --------------------------------------------------------------------------- settling
T_CHUNK = 200.0  # model time (units of tau) of one transient
MAX_CHUNKS = 20  # a phase gets at most this many chunks: 4000 tau (66 us with the ideal g0)
SETTLE_TOL = 1e-6  # projected residual (units of V_fs per tau) below which a phase has settled
# (ngspice's own accuracy, reltol 1e-6 on the node voltages, leaves residuals of ~1e-7)


@dataclass(frozen=True)
class SpiceSettle:
    """States read back from ngspice, ``s = V / v_fs`` at the end of the last chunk
    (the shape of the ``s0`` given); ``residual`` the largest projected residual of
    the clipped end state per sample (the ``s0`` shape without its last axis),
    ``settled`` whether it is below ``tol``, ``t_end`` the model time simulated (units
    of tau); ``seconds`` the wall time spent (total)."""

    s: np.ndarray
    seconds: float
    residual: np.ndarray
    settled: np.ndarray
    t_end: np.ndarray


def _states(vecs: dict, N: int, v_fs: float, analysis: str, t_end: float, clamps: bool,
            bound: float) -> np.ndarray:
    if analysis == "tran":
        t = vecs.get("time")
        if t is None or t[-1] < t_end * (1 - 1e-9):
            raise NgspiceError(f"transient stopped at {None if t is None else t[-1]!r} s < {t_end!r} s")
    try:
        s = np.array([vecs[f"n{j}"][-1] for j in range(N)]) / v_fs
    except KeyError as exc:
        raise NgspiceError(f"node {exc} missing from the ngspice output") from None
    # a clamped neuron overshoots a rail by |f| / clamp_gain only; an unclamped one may go
    # anywhere finite, but not to the 1e14 V of a singular circuit
    lim = 1e-3 if clamps else bound
    if not np.isfinite(s).all() or (s < -lim).any() or (s > 1 + lim).any():
        raise NgspiceError(f"ngspice result blew up: states in [{s.min():.3g}, {s.max():.3g}] (x v_fs)")
    return s


def _residual(s, A, d, c, free) -> float:
    """Largest projected residual of the clipped state under ``f(s) = s A - d s + c``."""
    x = np.clip(s, 0.0, 1.0)
    f = affine(x, A, d, c, free)
    return float(np.abs(projected_residual(x, f)).max(initial=0.0))


def _chunked(deck_from, s0, N, v_fs, clamps, bound, analysis, chunk, max_chunks, tol, field, runner,
             timeout, tau):
    """Run ``deck_from(start, t_stop)`` chunk after chunk, each from the end state of the
    last, until the projected residual under ``field = (A, d, c, free)`` is below
    ``tol`` or ``max_chunks`` chunks ran (an ``.op`` is one solve). Returns
    ``(s, residual, t_end)``."""
    start = np.asarray(s0, dtype=float)
    chunks = 1 if analysis == "op" else max_chunks
    for n in range(1, chunks + 1):
        vecs = runner(deck_from(start, chunk), timeout)
        s = _states(vecs, N, v_fs, analysis, chunk * tau, clamps, bound)
        r = _residual(s, *field)
        if tol is None or r <= tol:
            break
        start = s
    return s, r, n * chunk if analysis == "tran" else 0.0


def settle_spice(field, s0, *, v_fs: float = V_FS, C: float = C_NEURON, g0: float = G0_IDEAL,
                 t_stop: float = T_CHUNK, t_step: float = 0.5, clamps: bool = True,
                 clamp_gain: float = 1e8, analysis: str = "tran", tol: float | None = SETTLE_TOL,
                 max_chunks: int = MAX_CHUNKS, bound: float = 1e3, timeout: float = 60,
                 title: str = "deepxbar settle", runner=run_ngspice) -> SpiceSettle:
    """Settle with ngspice (behavioural deck), one deck per sample, in chunks.

    ``field`` is an ``AffineField`` with ``s0`` (K, B, N), or a tuple ``(A, d, c, free)``
    of one sample (``A`` (N, N), ``d``, ``c``, ``free`` (N,)) with ``s0`` (N,). Each
    sample runs transients of ``t_stop`` (units of tau), each from where the last
    ended, until its projected residual is below ``tol`` or ``max_chunks`` ran (a phase
    that does not settle, e.g. a limit cycle, is reported in ``settled``, not raised).
    ``runner(deck, timeout) -> vectors`` is ``circuits.ngspice.run_ngspice`` (a
    subprocess) or ``circuits.pyspice.run_pyspice`` (in process). Raises
    ``NgspiceError`` when ngspice fails or the result blew up (the singular, unclamped
    free phase: |s| > 1e-3 beyond a clamped rail, or > ``bound`` unclamped).
    """
    t0 = time.perf_counter()
    one = not isinstance(field, AffineField)
    if one:
        A, d, c, free = (np.asarray(x, dtype=float) for x in field)
        blocks = [((A, d, c, free.astype(bool)), np.asarray(s0, dtype=float), title)]
    else:
        s0 = np.asarray(s0, dtype=float)
        K, B, N = s0.shape
        d = np.broadcast_to(field.d, (K, B, N))
        c = np.broadcast_to(field.c, (K, B, N))
        blocks = [((field.A[k], d[k, b], c[k, b], np.asarray(field.free, bool)), s0[k, b],
                   f"{sanitise(title)} k{k} b{b}") for k in range(K) for b in range(B)]
    out = []
    for (A, d_, c_, free), start, name in blocks:
        def deck_from(x, t, A=A, d_=d_, c_=c_, free=free, name=name):
            return behavioural_deck(A, d_, c_, x, ~free, v_fs, C, g0, t, t_step, name, clamps=clamps,
                                    clamp_gain=clamp_gain, analysis=analysis)
        out.append(_chunked(deck_from, start, len(start), v_fs, clamps, bound, analysis, t_stop, max_chunks,
                            tol, (A, d_, c_, free), runner, timeout, C / g0))
    s = np.stack([o[0] for o in out])
    res = np.array([o[1] for o in out])
    t_end = np.array([o[2] for o in out])
    shape = () if one else s0.shape[:2]
    settled = res <= (np.inf if tol is None else tol)
    return SpiceSettle(s.reshape(np.shape(s0)), time.perf_counter() - t0, res.reshape(shape),
                       settled.reshape(shape), t_end.reshape(shape))


def crossbar_field(Gp, Gm, receiving, gamma: float, line_resistance, g0: float, beta: float = 0.0,
                   targets=None, outputs=None, tile_size: int | None = None, connected=None):
    """``(A, d, c, free)`` of one sample on the crossbar with wires (the effective
    matrices of ``hw.wires``): what the device-level deck's flow is, in model units."""
    r_row, r_col = _wires(line_resistance)
    Mcol, Mrow = effective_matrices(Gp, Gm, receiving, r_row, r_col, tile_size, connected)
    N = len(receiving)
    d = np.full(N, float(gamma))
    c = np.zeros(N)
    if beta > 0:
        d = d + beta * outputs
        c = beta * outputs * targets
    return (Mcol - Mrow) / g0, d, c, np.asarray(receiving, dtype=bool)


def settle_crossbar_spice(Gp, Gm, receiving, s0, gamma: float = 0.0, line_resistance=0.0, *,
                          g0: float = G0_IDEAL, v_fs: float = V_FS, C: float = C_NEURON, beta: float = 0.0,
                          targets=None, outputs=None, t_stop: float = T_CHUNK, t_step: float = 0.5,
                          clamps: bool = True, clamp_gain: float = 1e8, analysis: str = "tran",
                          tol: float | None = SETTLE_TOL, max_chunks: int = MAX_CHUNKS, bound: float = 1e3,
                          timeout: float = 60, title: str = "deepxbar crossbar", open_cells=None,
                          notes=(), runner=run_ngspice, tile_size: int | None = None,
                          connected=None) -> SpiceSettle:
    """Settle one sample on the device-level crossbar deck, in chunks as
    ``settle_spice``; states ``V / v_fs`` (N,). The residual is that of the flow the
    deck realises (``crossbar_field``: wires through ``hw.wires.effective_matrices``)."""
    t0 = time.perf_counter()
    field = crossbar_field(Gp, Gm, receiving, gamma, line_resistance, g0, beta,
                           None if targets is None else np.asarray(targets, float),
                           None if outputs is None else np.asarray(outputs, bool), tile_size, connected)

    def deck_from(x, t):
        return crossbar_deck(Gp, Gm, receiving, x, gamma, line_resistance, g0=g0, v_fs=v_fs, C=C, beta=beta,
                             targets=targets, outputs=outputs, t_stop=t, t_step=t_step, title=title,
                             clamps=clamps, clamp_gain=clamp_gain, analysis=analysis, open_cells=open_cells,
                             notes=notes, tile_size=tile_size, connected=connected)
    s, r, t_end = _chunked(deck_from, s0, len(np.asarray(s0)), v_fs, clamps, bound, analysis, t_stop,
                           max_chunks, tol, field, runner, timeout, C / g0)
    return SpiceSettle(s, time.perf_counter() - t0, np.array(r), np.array(r <= (np.inf if tol is None else tol)),
                       np.array(t_end))
