"""circuits.pyspice: the decks of circuits.netlist as PySpice circuits, simulated in
process through ngspice's shared library, against ``ngspice -b`` (circuits.ngspice)."""
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from circuits.netlist import behavioural_deck, crossbar_deck
from circuits.ngspice import NgspiceError, run_ngspice
from hw.crossbar import to_conductances
from hw.devices import G0, IDEAL
from models.dynamics import deep_field
from models.topology import Topology

PySpice = pytest.importorskip("PySpice", reason="PySpice (optional, GPL-3) not installed")

from circuits.pyspice import Tran, circuit_of, run_pyspice, simulate_circuit  # noqa: E402
from circuits.pyspice_compat import find_library, ngspice_shared  # noqa: E402

pytestmark = [
    pytest.mark.spice,
    pytest.mark.skipif(shutil.which("ngspice") is None or ctypes.util.find_library("ngspice") is None,
                       reason="ngspice or libngspice0 not installed"),
]

GAMMA = 0.5  # leaky DEEP: a unique, attracting equilibrium
V_FS = 0.2  # explicit, so the tolerance "relative to v_fs" does not follow a default


def _network(topo, seed):
    """Random weights on ``topo`` and one sample's initial state (inputs 1, 0, ..., bias 1)."""
    rng = np.random.default_rng(seed)
    W = np.where(topo.mask(), rng.normal(0, 1.0, (topo.n, topo.n)), 0.0)
    s0 = np.concatenate([rng.integers(0, 2, topo.n_in - 1), [1.0], rng.uniform(0, 0.1, topo.n - topo.n_in)])
    return W, s0.astype(float)


def _decks():
    """(label, deck, N) for small random networks (N = 5 and 8): behavioural and crossbar,
    free and nudged, with and without wire resistance, transient and operating point."""
    out = []
    for topo, seed in ((Topology(2, 2, 1), 3), (Topology(3, 3, 2), 4)):
        N = topo.n
        W, s0 = _network(topo, seed)
        free, outs = topo.free_mask(), topo.output_mask()
        f = deep_field(W[None], 1, free, GAMMA)
        y = np.zeros(N)
        y[outs] = np.arange(outs.sum()) % 2
        nudged = f.nudged(0.5, y[outs][None], outs)
        Gp, Gm = to_conductances(W, IDEAL, G0)
        beh = dict(v_fs=V_FS, t_stop=30.0)
        xb = dict(g0=G0, v_fs=V_FS, t_stop=30.0)
        out += [
            (f"beh{N}-tran", behavioural_deck(W, f.d[0, 0], f.c[0, 0], s0, ~free, **beh), N),
            (f"beh{N}-nudged-op", behavioural_deck(W, nudged.d[0, 0], nudged.c[0, 0], s0, ~free, analysis="op",
                                                   **beh), N),
            (f"xbar{N}-r0-tran", crossbar_deck(Gp, Gm, free, s0, GAMMA, 0.0, **xb), N),
            (f"xbar{N}-r1-tran", crossbar_deck(Gp, Gm, free, s0, GAMMA, 1.0, **xb), N),
            (f"xbar{N}-r1-nudged-op", crossbar_deck(Gp, Gm, free, s0, GAMMA, 1.0, beta=0.5, targets=y, outputs=outs,
                                                    analysis="op", **xb), N),
        ]
    return out


DECKS = _decks()
IDS = [label for label, _, _ in DECKS]


# ------------------------------------------------------------------ same numbers as ngspice -b
@pytest.mark.parametrize("label,deck,N", DECKS, ids=IDS)
def test_states_equal_ngspice_batch(label, deck, N):
    ref = run_ngspice(deck)
    got = run_pyspice(deck)
    assert set(got) == set(ref) == ({"time"} if "tran" in label else set()) | {f"n{j}" for j in range(N)}
    s_ref = np.array([ref[f"n{j}"][-1] for j in range(N)]) / V_FS
    s_got = np.array([got[f"n{j}"][-1] for j in range(N)]) / V_FS
    assert np.abs(s_got - s_ref).max() < 1e-9  # measured: 1e-16 (5e-13 on a transient still moving)
    assert np.ptp(s_ref) > 0.05  # the states are not trivial (the check could fail)
    if "tran" in label:
        assert got["time"][-1] == pytest.approx(ref["time"][-1], rel=1e-12)
        assert len(got["time"]) > 50
    else:
        assert all(len(v) == 1 for v in got.values())


# ------------------------------------------------------------------ the Circuit is the deck
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|\S")


def _value(tok: str):
    try:
        return float(tok)
    except ValueError:
        return tok.lower()


def _canon(line: str) -> tuple:
    """An element line with case, whitespace, ``DC`` and number formatting normalised."""
    line = re.sub(r"\s*=\s*", "=", line.strip())
    name = line.split()[0].upper()
    if name[0] == "B":
        _, n1, n2, rest = line.split(None, 3)
        key, _, expr = rest.partition("=")
        return (name, n1.lower(), n2.lower(), key.lower(), tuple(_value(t) for t in _TOKEN.findall(expr)))
    toks = line.split()[1:]
    if name[0] in "VI":
        toks = [t for t in toks if t.upper() != "DC"]
    canon = []
    for t in toks:
        key, eq, val = t.partition("=")
        canon.append((key.lower(), float(val)) if eq else _value(t))
    return (name, *canon)


def _elements(text: str) -> list[tuple]:
    return [_canon(ln) for ln in text.splitlines()[1:] if ln.strip() and ln.strip()[0] not in "*."]


@pytest.mark.parametrize("label,deck,N", DECKS, ids=IDS)
def test_circuit_elements_equal_deck(label, deck, N):
    pd = circuit_of(deck)
    text = str(pd.circuit)
    assert text.splitlines()[0] == f".title {deck.splitlines()[0]}"
    assert not any(ln.startswith(".") for ln in text.splitlines()[1:])  # elements only, no raw_spice
    got, want = _elements(text), _elements(deck)
    assert len(want) > 3 * N and got == want
    lines = deck.splitlines()
    assert pd.title == lines[0]
    assert pd.save == tuple(re.findall(r"v\((\w+)\)", next(ln for ln in lines if ln.startswith(".save"))))
    options = next(ln for ln in lines if ln.startswith(".options")).split()[1:]
    assert pd.options == tuple(tuple(t.split("=")) for t in options) and len(options) > 0
    if "tran" in label:
        step, stop, start, tmax, uic = next(ln for ln in lines if ln.startswith(".tran")).split()[1:]
        assert pd.analysis == "tran" and uic == "uic"
        assert pd.tran == Tran(float(step), float(stop), float(start), float(tmax), True)
        ic = dict(re.findall(r"v\((\w+)\)=(\S+)", next(ln for ln in lines if ln.startswith(".ic"))))
        assert pd.ic == {k: float(v) for k, v in ic.items()} and len(ic) > 0
    else:
        assert pd.analysis == "op" and pd.tran is None and pd.ic == {}


def test_every_element_kind_is_exercised():
    kinds = {name[0] for _, deck, _ in DECKS for name, *_ in _elements(deck)}
    assert kinds == set("RCVIEFGB")


# ------------------------------------------------------------------ outside the grammar
BAD_LINES = [
    "Qfoo a b",  # element type not in the grammar
    "R9 a 0 1k",  # SPICE suffixes are not the decks' numbers
    "R9 a 0",
    "R9 a 0 nan",
    "C9 a 0 1e-12 IC=x",
    "C9 a 0 1e-12 ic",
    "V9 a 0 AC 1",
    "I9 a 0 DC 1 2",
    "E9 a 0 b 1",
    "G9 a 0 b 0 1 2",
    "B9 n0 0 V = V(n0)",  # only current sources
    "B9 n0 0 I = exp(V(n0))",  # only uramp
    "B9 n0 0 I = (V(n0)",
    "F9 n0 0 R3 1",  # F senses a V source
    "F9 n0 0 VNONE 1",  # ... of the deck
    "X1 a b sub",
    ".control",
    ".include /etc/passwd",
    ".param x=1",
    ".tran 1 2 3 4 5 6",
    ".op",  # a second analysis
    ".save i(VI0)",
    ".ic n1=0.1",
    ".options reltol=1e-6;shell",
    "R9 a\u00a00 1",
]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_line_outside_grammar_is_a_value_error(bad):
    deck = DECKS[0][1]
    lines = deck.splitlines()
    broken = "\n".join(lines[:-1] + [bad, lines[-1]]) + "\n"
    with pytest.raises(ValueError) as exc:
        circuit_of(broken)
    msg = str(exc.value)
    assert "\n" not in msg
    assert bad.split()[0] in msg  # names the line (or the element it refers to)
    circuit_of(deck)  # the deck itself is fine


def test_deck_structure_errors():
    deck = DECKS[0][1]
    with pytest.raises(ValueError, match="no .end"):
        circuit_of(deck.replace(".end\n", ""))
    with pytest.raises(ValueError, match="after .end"):
        circuit_of(deck + "R9 a 0 1\n")
    with pytest.raises(ValueError, match="no analysis"):
        circuit_of("\n".join(ln for ln in deck.splitlines() if not ln.startswith(".tran")) + "\n")
    with pytest.raises(ValueError, match="already defined"):
        circuit_of("t\nR1 a 0 1\nR1 a 0 2\n.op\n.end\n")
    with pytest.raises(ValueError, match="empty"):
        circuit_of("")


# ------------------------------------------------------------------ .meas, notebook use
def test_deck_with_measurements_builds_and_runs():
    from deepxbar.spice import with_measurements
    label, deck, N = DECKS[3]
    assert label.endswith("tran")
    mdeck = with_measurements(deck, N)
    meas = [tuple(ln.split()[1:]) for ln in mdeck.splitlines() if ln.startswith(".meas")]
    pd = circuit_of(mdeck)
    assert len(meas) == N and pd.meas == tuple(meas)
    text = str(pd.simulator())
    assert sum(ln.upper().startswith(".MEAS TRAN ") for ln in text.splitlines()) == N
    ref, got = run_ngspice(mdeck), run_pyspice(mdeck)
    assert max(abs(got[f"n{j}"][-1] - ref[f"n{j}"][-1]) for j in range(N)) / V_FS < 1e-9


def test_simulate_an_edited_circuit_and_foreground_run():
    """The notebook path: take the Circuit of a deck, change an element, simulate it;
    PySpice's own foreground run (timeout=None) gives the background run's numbers."""
    label, deck, N = DECKS[1]
    assert label.endswith("op")
    pd = circuit_of(deck)
    base = pd.simulate()
    fg = pd.simulate(timeout=None)
    assert all(np.array_equal(base[k], fg[k]) for k in base)
    src = pd.circuit["VI0"]
    assert float(src.dc_value) == pytest.approx(base["n0"][0], abs=1e-15)
    src.dc_value = 0.123
    edited = simulate_circuit(pd.circuit, **pd.spec())
    assert edited["n0"][0] == pytest.approx(0.123, rel=1e-12)
    assert np.abs(np.array([edited[f"n{j}"][0] - base[f"n{j}"][0] for j in range(N)])).max() > 1e-4


# ------------------------------------------------------------------ state, time, refusals
def _circuits_loaded(ng) -> int:
    ng.deepxbar_quiet = True  # with none loaded ngspice answers on stderr
    try:
        out = ng.exec_command("setcirc", join_lines=False)
    finally:
        ng.deepxbar_quiet = False
    return sum(bool(re.match(r"(Current\s+)?\d+\s", ln)) for ln in out)


def test_runs_leave_no_state_behind():
    ng = ngspice_shared()
    (_, big, _), (_, small, n_small) = DECKS[8], DECKS[0]
    first = run_pyspice(small)
    run_pyspice(big)
    again = run_pyspice(small)
    assert set(again) == {"time"} | {f"n{j}" for j in range(n_small)}
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert ng.plot_names == ["const"] and _circuits_loaded(ng) == 0
    pd = circuit_of(small)  # plain PySpice keeps every circuit: the check above can fail
    sim = pd.simulator()
    sim.transient(pd.tran.step, pd.tran.stop, pd.tran.start, pd.tran.max_step, pd.tran.uic)
    assert _circuits_loaded(ng) == 1
    assert np.array_equal(run_pyspice(small)["n3"], first["n3"]) and _circuits_loaded(ng) == 0


def test_timeout_halts_and_the_next_run_is_clean():
    label, deck, N = DECKS[0]
    ref = run_pyspice(deck)
    slow = deck.replace(next(ln for ln in deck.splitlines() if ln.startswith(".tran")),
                        ".tran 1e-12 1 0 1e-12 uic")
    with pytest.raises(NgspiceError, match="timed out"):
        run_pyspice(slow, timeout=0.2)
    again = run_pyspice(deck)
    assert all(np.array_equal(ref[k], again[k]) for k in ref)


def test_refusals_match_run_ngspice():
    """The unclamped DEEP free phase (gamma = 0) grows without bound: refused as by
    ``run_ngspice``, strict or not; a loop of two voltage sources fails to solve."""
    topo = Topology(2, 2, 1)
    W, s0 = _network(topo, 3)
    free = topo.free_mask()
    f = deep_field(W[None], 1, free, 0.0)
    deck = behavioural_deck(W, f.d[0, 0], f.c[0, 0], s0, ~free, clamps=False, v_fs=V_FS)
    for strict in (True, False):
        with pytest.raises(NgspiceError, match="absurd"):
            run_ngspice(deck, strict=strict)
        with pytest.raises(NgspiceError, match="absurd"):
            run_pyspice(deck, strict=strict)
    loop = "loop\nV1 n0 0 DC 1\nV2 n0 0 DC 2\n.op\n.end\n"
    with pytest.raises(NgspiceError):
        run_ngspice(loop)
    for timeout in (60, None):
        with pytest.raises(NgspiceError, match="reported"):
            run_pyspice(loop, timeout)
    assert run_pyspice(DECKS[1][1])["n0"].shape == (1,)  # and the engine still works


# ------------------------------------------------------------------ the library
def test_library_is_found_in_the_multiarch_folder(monkeypatch):
    monkeypatch.delenv("NGSPICE_LIBRARY_PATH", raising=False)
    path = find_library()
    assert os.path.isabs(path) and os.path.exists(path) and "libngspice.so" in os.path.basename(path)


def test_missing_library_is_one_clear_error():
    """A fresh process with a wrong library path: the same one-line NgspiceError (a
    RuntimeError) at every call, not cffi's "duplicate declaration" at the second."""
    code = ("from circuits.ngspice import NgspiceError\n"
            "from circuits.pyspice import run_pyspice\n"
            "for _ in range(2):\n"
            "    try:\n"
            "        run_pyspice('t\\nV1 n0 0 DC 1\\nR1 n0 0 1\\n.op\\n.end\\n')\n"
            "    except NgspiceError as e:\n"
            "        print(isinstance(e, RuntimeError), e)\n")
    env = dict(os.environ, NGSPICE_LIBRARY_PATH="/nonexistent/libngspice.so.0")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    msg = "True ngspice shared library not found (/nonexistent/libngspice.so.0): install libngspice0 or set " \
          "NGSPICE_LIBRARY_PATH"
    assert out.stdout.splitlines() == [msg, msg]
