"""How the device-level crossbar deck with wire resistance scales in ngspice (`.op`).

    python benchmarks/spice_scale.py                       # N = 16, 32, 64, default variants
    python benchmarks/spice_scale.py --sizes 64 --variants deck,fast
    python benchmarks/spice_scale.py --ngspice /opt/deepxbar/ngspice-klu/bin/ngspice
    python benchmarks/spice_scale.py --sizes 32 --variants deck,deck:pivrel=1e-9,deck:noopiter

One random DEEP network per size (complete topology by default; ``--topology layered``),
devices uniform in 1-100 uS, 1 ohm per wire segment, the physical scale of
``circuits.physics`` (g0 = 2**-14 S, V_FS = 0.2 V), leak ``gamma = 1`` and a nudge toward
targets in [0.3, 0.7] on every free neuron whose ``beta`` is raised until the DC solution
lies inside the rails (so the rail clamps carry nothing at the operating point and a deck
without them is the same circuit; ``--nudge 0`` turns it off). Every deck variant is timed
through ``circuits.ngspice.run_ngspice`` (``--ngspice`` swaps the binary; ``.options acct``
added for ngspice's statistics; the deck's own ``.save`` of the neurons), then run once
more with ``.save all`` (untimed) to compare every node with the first variant and with the
``hw/wires.py`` model: its sparse ``effective_matrices`` solve plus the N x N DC solve for
the neurons (``hw s``), and ``nodal_solve_full`` for every wire node.

Variants (``--variants``, comma separated; ``NAME:opt1=v,opt2`` appends ``.options opt1=v opt2``):

* ``deck``: ``circuits.netlist.crossbar_deck(..., analysis="op", clamps=False)``, as the
  project writes it (E drivers + 0 V sensors, 0 V virtual grounds, F elements);
  ``deck+clamps`` the same with the B-source rail clamps.
* ``norton``: the same circuit with no branch equations: each row driver ``E + 0 V source
  + first wire segment`` as its Norton equivalent (``G`` from the neuron voltage into the
  first row node, the first segment's resistor to ground), each virtual ground + ``FC``
  as the last column segment to ground + a ``G`` reading its current, ``FRP + FRM`` as two
  ``G`` elements reading the first row segments, the nudge ``R + V`` as ``R + I``, input
  rows as constant current sources, no capacitors (open at DC).
* ``norton+mk``: ``norton`` plus one 0 F capacitor per node, written so that ngspice's
  internal matrix numbering (first touch in device setup) is the pivot order that
  Sparse 1.3's Markowitz search will pick itself, simulated here on the matrix
  structure: no row/column exchanges during the reordering.
* ``fast`` (= ``norton+nd``): ``norton+mk`` plus 0 F capacitors joining the nodes of each
  nested-dissection separator of the wire grid (neurons in the top separator), which
  steer the Markowitz search into a nested-dissection-like order (about 40 % less fill).
* ``fast+clamps`` etc.: any variant with ``+clamps`` keeps the rail clamps. B sources are
  set up before any capacitor, so they number the neurons first; ``fast+clamps`` places
  the first pivots so that Sparse's first swaps move the neurons to where the order
  eliminates them (``norton+mk+clamps`` does not, and pays for row/column exchanges).

0 F capacitors are open circuits in every analysis: the circuit is unchanged; the
columns ``dV deck`` (all nodes common with ``deck``) and ``dV hw`` show it.
"""
from __future__ import annotations

import argparse
import heapq
import re
import resource
import shutil
import subprocess
import sys
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from circuits import ngspice as ngs  # noqa: E402
from circuits.netlist import DEFAULT_OPTIONS, crossbar_deck  # noqa: E402
from hw.wires import effective_matrices, nodal_solve_full  # noqa: E402
from models.topology import Topology  # noqa: E402

try:
    from circuits.physics import DEFAULT as _PHYS
    G0, V_FS, C_NEURON = _PHYS.g0, _PHYS.v_fs, _PHYS.C
except ImportError:  # the conventions of circuits/physics.py
    G0, V_FS, C_NEURON = 2.0**-14, 0.2, 1e-12

CLAMP_GAIN = 1e8


def num(x: float) -> str:
    return f"{float(x):.17g}"


# --------------------------------------------------------------------------- the network
@dataclass
class Problem:
    Gp: np.ndarray
    Gm: np.ndarray
    free: np.ndarray
    s0: np.ndarray
    gamma: float
    beta: float
    targets: np.ndarray
    outputs: np.ndarray
    r: float

    @property
    def N(self) -> int:
        return self.Gp.shape[0]

    def deck_kwargs(self) -> dict:
        kw = dict(g0=G0, v_fs=V_FS, C=C_NEURON, analysis="op")
        if self.beta > 0:
            kw.update(beta=self.beta, targets=self.targets, outputs=self.outputs)
        return kw


def hw_solve(p: Problem) -> tuple[np.ndarray, float]:
    """DC neuron voltages (N,) of the unclamped circuit from hw/wires.py, and seconds."""
    t = time.perf_counter()
    Mcol, Mrow = effective_matrices(p.Gp, p.Gm, p.free, p.r, p.r)
    K = Mcol - Mrow                      # I_col - I_row = V @ K
    f = np.flatnonzero(p.free)
    inp = np.flatnonzero(~p.free)
    V = np.where(p.free, 0.0, V_FS * p.s0)
    nud = p.beta * G0 * (p.outputs if p.beta > 0 else np.zeros(p.N))
    # free j: sum_i V_i K[i, j] - (gamma g0 + nud_j) V_j + nud_j v_fs y_j = 0
    A = K[np.ix_(f, f)].T - np.diag(p.gamma * G0 + nud[f])
    b = -(V[inp] @ K[np.ix_(inp, f)]) - nud[f] * V_FS * (p.targets[f] if p.beta > 0 else 0.0)
    V[f] = np.linalg.solve(A, b)
    return V, time.perf_counter() - t


def hw_nodes(p: Problem, V: np.ndarray) -> dict[str, float]:
    """Every node voltage of the wire grid (names as in the decks) from nodal_solve_full."""
    out = nodal_solve_full(p.Gp, p.Gm, p.free, p.r, p.r, V)
    cols = np.flatnonzero(p.free)
    res = {f"n{j}": V[j] for j in range(p.N)}
    for r in range(2 * p.N):
        for c, j in enumerate(cols):
            res[f"x{r}_{j}"] = out["row_nodes"][r, c]
            res[f"y{r}_{j}"] = out["col_nodes"][r, c]
    return res


def make_problem(N: int, topology: str, seed: int, nudge: str, r: float = 1.0) -> Problem:
    rng = np.random.default_rng(seed)
    n_in, n_out = max(2, N // 16), max(1, N // 8)
    top = Topology(n_in, N - n_in - n_out, n_out, topology)
    mask = top.mask()
    Gp = np.where(mask, rng.uniform(1e-6, 100e-6, (N, N)), 0.0)
    Gm = np.where(mask, rng.uniform(1e-6, 100e-6, (N, N)), 0.0)
    s0 = rng.uniform(0.0, 1.0, N)
    s0[n_in - 1] = 1.0                   # the bias input
    free = top.free_mask()
    targets = rng.uniform(0.3, 0.7, N)
    p = Problem(Gp, Gm, free, s0, 1.0, 0.0, targets, free.copy(), r)
    if nudge == "auto":
        beta = 0.0
        while True:
            p.beta = beta
            V, _ = hw_solve(p)
            s = V[free] / V_FS
            if (s > 0.02).all() and (s < 0.98).all():
                break
            beta = 0.5 if beta == 0 else 2 * beta
            if beta > 2**16:
                raise RuntimeError("no nudge puts the DC point inside the rails")
    else:
        p.beta = float(nudge)
    return p


# --------------------------------------------------------------------------- deck variants
def _markowitz_order(n: int, entries, prio) -> list[int]:
    """The pivot sequence of Sparse 1.3's diagonal Markowitz search (spOrderAndFactor
    with DIAGONAL_PIVOTING, MODIFIED_MARKOWITZ off) on a structure with a full diagonal:
    at each step the smallest (off-diagonal row count) x (off-diagonal column count),
    ties to the lowest ``prio``. ``entries``: (row, col) off-diagonal structural nonzeros."""
    rows = [set() for _ in range(n)]
    cols = [set() for _ in range(n)]
    for r, c in entries:
        if r != c:
            rows[r].add(c)
            cols[c].add(r)
    heap = [(len(rows[i]) * len(cols[i]), prio[i], i) for i in range(n)]
    heapq.heapify(heap)
    done = [False] * n
    order = []
    while heap:
        prod, _, i = heapq.heappop(heap)
        if done[i] or prod != len(rows[i]) * len(cols[i]):
            continue
        done[i] = True
        order.append(i)
        R, C = cols[i], rows[i]
        for r in R:
            s = rows[r]
            s.discard(i)
            s |= C
            s.discard(r)
        for c in C:
            s = cols[c]
            s.discard(i)
            s |= R
            s.discard(c)
        for u in R | C:
            heapq.heappush(heap, (len(rows[u]) * len(cols[u]), prio[u], u))
        rows[i] = cols[i] = set()
    return order


def norton_deck(p: Problem, *, order: str | None = None, clamps: bool = False, minsep: int = 8,
                options: str = DEFAULT_OPTIONS, open_cells=None) -> tuple[str, float]:
    """The crossbar of ``crossbar_deck`` for a DC operating point, with no branch
    equations (see the module docstring); ``order`` None, "markowitz" or "nd". Returns
    the deck and the seconds spent on the ordering. Needs both wire resistances > 0."""
    N, r = p.N, p.r
    if not r > 0:
        raise ValueError("the Norton form needs wire resistance > 0 (r = 0 has no first segment)")
    cols = np.flatnonzero(p.free)
    R, c0 = 2 * N, cols[0]
    off = np.zeros((N, N), bool) if open_cells is None else open_cells
    res, gs, isrc = [], [], []           # (name, a, b, value), (name, o+, o-, c+, c-, gain), (name, a, b, I)
    for rr in range(R):
        i, minus = divmod(rr, 2)
        sg = -1.0 if minus else 1.0
        x0 = f"x{rr}_{c0}"
        res.append((f"RD{rr}", x0, "0", r))
        if p.free[i]:
            gs.append((f"GD{rr}", "0", x0, f"n{i}", "0", sg / r))
        else:
            isrc.append((f"ID{rr}", "0", x0, sg * V_FS * p.s0[i] / r))
        for a, b in zip(cols[:-1], cols[1:]):
            res.append((f"RW{rr}_{b}", f"x{rr}_{a}", f"x{rr}_{b}", r))
    for rr in range(R):
        i, minus = divmod(rr, 2)
        G = p.Gm if minus else p.Gp
        for j in cols:
            if G[i, j] > 0:
                name = f"RO{rr}_{j}" if off[i, j] else f"R{rr}_{j}"
                res.append((name, f"x{rr}_{j}", f"y{rr}_{j}", 1.0 / G[i, j]))
    for j in cols:
        for rr in range(R):
            res.append((f"RC{rr}_{j}", f"y{rr}_{j}", "0" if rr == R - 1 else f"y{rr + 1}_{j}", r))
    for j in cols:
        gs.append((f"GC{j}", "0", f"n{j}", f"y{R - 1}_{j}", "0", 1.0 / r))
        gs.append((f"GRP{j}", "0", f"n{j}", f"x{2 * j}_{c0}", "0", 1.0 / r))
        gs.append((f"GRM{j}", "0", f"n{j}", f"x{2 * j + 1}_{c0}", "0", 1.0 / r))
        if p.gamma > 0:
            res.append((f"RL{j}", f"n{j}", "0", 1.0 / (p.gamma * G0)))
        if p.beta > 0 and p.outputs[j]:
            res.append((f"RN{j}", f"n{j}", "0", 1.0 / (p.beta * G0)))
            isrc.append((f"IN{j}", "0", f"n{j}", p.beta * G0 * V_FS * p.targets[j]))
    lines = ["deepxbar crossbar op (Norton form)",
             f"* N={N}, {R} rows x {len(cols)} columns, {num(r)} ohm per segment"]
    lines += [f"{nm} {a} {b} {num(v)}" for nm, a, b, v in res]
    lines += [f"{nm} {a} {b} {c} {d} {num(g)}" for nm, a, b, c, d, g in gs]
    lines += [f"{nm} {a} {b} DC {num(v)}" for nm, a, b, v in isrc]
    clamp_cols = list(cols) if clamps else []
    t_order = 0.0
    if order:
        t = time.perf_counter()
        ids: dict[str, int] = {}

        def nid(s):
            return ids.setdefault(s, len(ids))

        ent = []
        for _, a, b, _v in res:
            ia = nid(a) if a != "0" else None
            ib = nid(b) if b != "0" else None
            if ia is not None and ib is not None:
                ent += [(ia, ib), (ib, ia)]
        for _, o1, o2, c1, c2, _g in gs:
            ent += [(nid(o), nid(c)) for o in (o1, o2) for c in (c1, c2) if o != "0" and c != "0"]
        names = list(ids)
        pairs = []
        if order == "nd":
            seps = []
            neurons = [ids[f"n{j}"] for j in cols]

            def x(rr, c):
                return ids[f"x{rr}_{cols[c]}"]

            def y(rr, c):
                return ids[f"y{rr}_{cols[c]}"]

            def dissect(r0, r1, q0, q1, top=False):
                h, w = r1 - r0, q1 - q0
                if max(h, w) < 3:
                    return
                if h >= w:               # cut the column wires at row rm
                    rm = (r0 + r1) // 2
                    S = [y(rm, c) for c in range(q0, q1)]
                    parts = ((r0, rm, q0, q1), (rm + 1, r1, q0, q1))
                else:                    # cut the row wires at column cm
                    cm = (q0 + q1) // 2
                    S = [x(rr, cm) for rr in range(r0, r1)]
                    parts = ((r0, r1, q0, cm), (r0, r1, cm + 1, q1))
                if top:
                    S = S + neurons
                if len(S) >= minsep:
                    seps.append(S)
                for part in parts:
                    dissect(*part)

            dissect(0, R, 0, len(cols), top=True)
            pairs = [(a, b) for S in seps for k, a in enumerate(S) for b in S[k + 1:]]
            ent += pairs + [(b, a) for a, b in pairs]
        seq = _markowitz_order(len(names), ent, list(range(len(names))))
        if clamps and order == "nd":
            # B sources are set up before any capacitor (and in reverse deck order), so
            # the k neurons take the first k positions. At step i <= k Sparse keeps the
            # smallest product found scanning down from the last position, i.e. the
            # highest-placed node of minimal product, and swaps it with the neuron at i.
            # So the first k pivots are placed where the neurons are eliminated (in
            # the last, nested-dissection separator), the first pivot highest, and the
            # neurons touched first are those eliminated last: after the k swaps the
            # matrix is in `seq` order.
            neur = {ids[f"n{j}"] for j in cols}
            k = len(neur)
            last_first = [u for u in reversed(seq) if u in neur]          # touch order of the B sources
            slots = sorted((pos for pos, u in enumerate(seq) if u in neur), reverse=True)
            layout = list(seq)
            for i, pos in enumerate(slots):
                layout[pos] = seq[i]
            seq = [u for u in layout[k:]] if all(u not in neur for u in seq[:k]) else seq
            clamp_cols = [int(names[u][1:]) for u in reversed(last_first)]  # deck order: last line first
        t_order = time.perf_counter() - t
        if pairs:
            lines.append("* 0 F capacitors (open circuits): nested-dissection separators, steering Sparse's ordering")
            lines += [f"CS{k} {names[a]} {names[b]} 0" for k, (a, b) in enumerate(pairs)]
        lines.append("* 0 F capacitors (open circuits): ngspice sets them up first, last line first, so"
                     " the matrix is numbered in the pivot order")
        lines += [f"CO{k} {names[k]} 0 0" for k in reversed(seq)]
    if clamp_cols:
        gc = num(CLAMP_GAIN * G0)
        lines.append(f"* rail clamps at 0 and {num(V_FS)} V")
        lines += [f"BK{j} n{j} 0 I = {gc} * (uramp(V(n{j}) - {num(V_FS)}) - uramp(-V(n{j})))" for j in clamp_cols]
    if options:
        lines.append(f".options {options}")
    lines.append(".save " + " ".join(f"v(n{j})" for j in cols))
    lines += [".op", ".end"]
    return "\n".join(lines) + "\n", t_order


def build(p: Problem, variant: str) -> tuple[str, float]:
    """(deck text, seconds to write it) of a variant name (see the module docstring)."""
    name, _, opts = variant.partition(":")
    base, clamps = (name[:-len("+clamps")], True) if name.endswith("+clamps") else (name, False)
    t = time.perf_counter()
    if base == "deck":
        deck = crossbar_deck(p.Gp, p.Gm, p.free, p.s0, p.gamma, p.r, clamps=clamps, **p.deck_kwargs())
    elif base in ("norton", "norton+mk", "norton+nd", "fast"):
        order = {"norton": None, "norton+mk": "markowitz"}.get(base, "nd")
        deck, _ = norton_deck(p, order=order, clamps=clamps)
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    if opts:
        extra = " ".join(o for o in opts.split(",") if o)
        deck = deck.replace("\n.op\n", f"\n.options {extra}\n.op\n")
    return deck, time.perf_counter() - t


def with_saves(deck: str, save_all: bool) -> str:
    deck = deck.replace("\n.op\n", "\n.options acct\n.op\n")
    if save_all:
        deck = re.sub(r"\n\.save [^\n]*\n", "\n.save all\n", deck)
    return deck


def deck_size(deck: str) -> tuple[int, int]:
    """(elements, nodes other than ground) of a deck of R, C, V, I, B, E, G, F lines."""
    n_el, nodes = 0, set()
    for ln in deck.splitlines()[1:]:
        t = ln.split()
        if not t or t[0][0] in "*.+":
            continue
        n_el += 1
        k = t[0][0].upper()
        nodes.update(t[1:5] if k in "EG" else t[1:3])
    nodes.discard("0")
    return n_el, len(nodes)


# --------------------------------------------------------------------------- running ngspice
@contextmanager
def _spy(exe: str | None):
    """run_ngspice with another binary, keeping the log and the child's CPU seconds."""
    seen = {}

    def run(*a, **k):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(*a, **k)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        seen["cpu"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        seen["log"] = proc.stdout.decode(errors="replace")
        return proc

    old_sub, old_exe = ngs.subprocess, ngs.NGSPICE
    ngs.subprocess = types.SimpleNamespace(run=run, TimeoutExpired=subprocess.TimeoutExpired,
                                           DEVNULL=subprocess.DEVNULL)
    if exe:
        ngs.NGSPICE = exe
    try:
        yield seen
    finally:
        ngs.subprocess, ngs.NGSPICE = old_sub, old_exe


_ACCT = {"iters": r"Total iterations\s*=\s*(\S+)", "eqs": r"Circuit Equations\s*=\s*(\S+)",
         "fill": r"fill-in non-zeroes\s*=\s*(\S+)", "reorder": r"Matrix reorder time\s*=\s*(\S+)",
         "factor": r"Matrix factor time\s*=\s*(\S+)", "analysis": r"Total analysis time \(seconds\)\s*=\s*(\S+)"}


def run(deck: str, exe: str | None, timeout: float) -> dict:
    with _spy(exe) as seen:
        t = time.perf_counter()
        try:
            vecs = ngs.run_ngspice(deck, timeout)
            err = None
        except ngs.NgspiceError as exc:
            vecs, err = {}, str(exc).splitlines()[0]
        wall = time.perf_counter() - t
    out = dict(vecs=vecs, wall=wall, cpu=seen.get("cpu", float("nan")), err=err)
    log = seen.get("log", "")
    for k, pat in _ACCT.items():
        m = re.search(pat, log)
        out[k] = float(m.group(1)) if m else float("nan")
    return out


def _nodes(vecs: dict) -> dict[str, float]:
    return {k: float(v[-1]) for k, v in vecs.items() if re.fullmatch(r"[nxy]\d+(_\d+)?", k)}


def maxdiff(a: dict, b: dict, keys=None) -> float:
    keys = (a.keys() & b.keys()) if keys is None else keys
    return max((abs(a[k] - b[k]) for k in keys), default=float("nan"))


# --------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="16,32,64", help="neuron counts, comma separated")
    ap.add_argument("--variants", default="deck,norton,norton+mk,fast",
                    help="comma separated variant names, each optionally NAME:opt=v,opt2 (see above)")
    ap.add_argument("--ngspice", default=None, help="ngspice binary (default: the one on PATH)")
    ap.add_argument("--topology", default="complete", choices=("complete", "layered"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nudge", default="auto", help="beta of the nudge: 'auto' (DC point inside the rails) or a number")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per ngspice run")
    ap.add_argument("--repeat", type=int, default=1, help="runs per variant, the fastest shown (runs over 10 s: once)")
    ap.add_argument("--no-grid-check", action="store_true",
                    help="compare the neurons only (no second, untimed run with .save all)")
    ap.add_argument("--write", metavar="DIR", help="also write every deck to DIR")
    args = ap.parse_args()
    # options may contain commas: split variants at commas followed by a variant name
    variants = re.split(r",(?=(?:deck|norton|fast)\b)", args.variants)
    exe = args.ngspice or shutil.which(ngs.NGSPICE)
    print(f"ngspice: {exe}; topology {args.topology}; 1 ohm per segment; g0 = {G0:.4g} S, v_fs = {V_FS} V; "
          f"devices 1-100 uS")
    hdr = (f"{'N':>3} {'variant':<28} {'elements':>8} {'nodes':>6} {'eqs':>6} {'fill':>7} {'iter':>4} "
           f"{'ngspice s':>9} {'cpu s':>6} {'reorder':>7} {'write s':>7} {'hw s':>6} "
           f"{'dV hw':>8} {'dV grid':>8} {'dV deck':>8}")
    for N in (int(s) for s in args.sizes.split(",")):
        p = make_problem(N, args.topology, args.seed, args.nudge)
        V_hw, t_hw = min((hw_solve(p) for _ in range(3)), key=lambda o: o[1])
        grid = None if args.no_grid_check else hw_nodes(p, V_hw)
        free_keys = [f"n{j}" for j in np.flatnonzero(p.free)]
        hw = {f"n{j}": V_hw[j] for j in range(N)}
        print(f"\nN={N}: beta={p.beta:g} (nudge), DC states in [{V_hw[p.free].min() / V_FS:.3f}, "
              f"{V_hw[p.free].max() / V_FS:.3f}]\n{hdr}", flush=True)
        ref = None
        for v in variants:
            deck, t_write = build(p, v)
            if args.write:
                Path(args.write).mkdir(parents=True, exist_ok=True)
                Path(args.write, f"N{N}_{re.sub(r'[^A-Za-z0-9+=._-]', '_', v)}.cir").write_text(deck)
            n_el, n_nodes = deck_size(deck)
            best = None
            for _ in range(args.repeat):       # timed: the deck's own .save (the neurons)
                o = run(with_saves(deck, False), exe, args.timeout)
                if best is None or o["wall"] < best["wall"]:
                    best = o
                if o["wall"] > 10 or o["err"]:  # slow ones once
                    break
            o = best
            nodes = _nodes(o["vecs"])
            if grid is not None and o["err"] is None:  # untimed: every node
                nodes = _nodes(run(with_saves(deck, True), exe, args.timeout)["vecs"]) or nodes
            if v == variants[0] and o["err"] is None:
                ref = nodes
            d_hw = maxdiff(nodes, hw, free_keys) if nodes else float("nan")
            d_grid = maxdiff(nodes, grid) if (nodes and grid) else float("nan")
            d_ref = maxdiff(nodes, ref) if (nodes and ref is not None and ref is not nodes) else float("nan")
            line = (f"{N:>3} {v:<28} {n_el:>8} {n_nodes:>6} {o['eqs']:>6.0f} {o['fill']:>7.0f} {o['iters']:>4.0f} "
                    f"{o['wall']:>9.2f} {o['cpu']:>6.2f} {o['reorder']:>7.2f} {t_write:>7.2f} {t_hw:>6.3f} "
                    f"{d_hw:>8.1e} {d_grid:>8.1e} {d_ref:>8.1e}")
            if o["err"]:
                line += f"  FAILED: {o['err'][:80]}"
            print(line, flush=True)
    print("\nngspice s: wall time of run_ngspice (deck write, ngspice -b, rawfile read); cpu s: ngspice's CPU;"
          "\nreorder: ngspice's 'Matrix reorder time' (Sparse's first ordering + factorisation); eqs, fill, iter:"
          "\nits acct counts; write s: writing the deck (incl. the ordering simulation); hw s: effective_matrices"
          "\n+ the N x N DC solve; dV hw: max |V| difference on the neurons vs hw, dV grid: on every node vs"
          "\nhw.wires.nodal_solve_full, dV deck: on every node common with the first variant (volts).")


if __name__ == "__main__":
    main()
