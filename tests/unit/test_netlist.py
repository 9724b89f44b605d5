"""SPICE decks (circuits.netlist) and the ngspice runner (circuits.ngspice)."""
import os
import shutil

import numpy as np
import pytest

from deepxbar.tasks import make_task
from circuits.netlist import (behavioural_deck, crossbar_deck, sanitise, settle_crossbar_spice,
                              settle_spice)
from circuits.ngspice import NgspiceError, parse_raw, run_ngspice
from hw.crossbar import to_conductances
from hw.devices import G0, IDEAL
from hw.wires import effective_matrices
from models.dynamics import AffineField, deep_field
from models.settle import settle
from models.topology import Topology

XOR_X, Y_XOR = make_task("xor").X, make_task("xor").Y

needs_spice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
TOPO = Topology(3, 3, 2)  # N = 8
GAMMA = 0.5  # leaky DEEP: a unique, attracting equilibrium for these weights


def _net(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    W = np.where(TOPO.mask(), rng.normal(0, scale, (TOPO.n, TOPO.n)), 0.0)
    s0 = np.empty((4, TOPO.n))
    s0[:, :3] = XOR_X
    s0[:, 3:] = rng.uniform(0, 0.1, (4, TOPO.n - 3))
    return W, s0


def _fast(field, s0):
    res = settle(field, s0[None], tol=1e-12, max_steps=200_000)
    assert res.converged.all()
    return res.s[0]


def _targets():
    return np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


# ------------------------------------------------------------------ pure text
def test_decks_are_deterministic_complete_text():
    W, s0 = _net()
    free = TOPO.free_mask()
    f = deep_field(W[None], 4, free, GAMMA)
    a = behavioural_deck(W, f.d[0, 0], f.c[0, 0], s0[0], ~free)
    b = behavioural_deck(W.copy(), f.d[0, 0].copy(), f.c[0, 0].copy(), s0[0].copy(), ~free)
    assert a == b
    lines = a.splitlines()
    assert lines[-1] == ".end" and lines[0] == "deepxbar behavioural"
    assert any(ln.startswith(".tran ") and ln.endswith(" uic") for ln in lines)
    assert any(ln.startswith(".ic ") for ln in lines)
    # one VCCS per nonzero A[i, j] into a free neuron, one per d_j, no c (DEEP)
    assert sum(ln.startswith("GA") for ln in lines) == np.count_nonzero(W[:, free])
    assert sum(ln.startswith("GD") for ln in lines) == free.sum()
    assert sum(ln.startswith("BK") for ln in lines) == free.sum()
    Gp, Gm = to_conductances(W, IDEAL, G0)
    for r in (0.0, 2.0):
        x = crossbar_deck(Gp, Gm, free, s0[1], GAMMA, r, g0=G0)
        assert x == crossbar_deck(Gp, Gm, free, s0[1], GAMMA, r, g0=G0)
        assert x.endswith(".end\n") and ".tran " in x
    assert ".op\n.end\n" in behavioural_deck(W, f.d[0, 0], f.c[0, 0], s0[0], ~free, analysis="op")


def test_hostile_titles_are_sanitised():
    W, s0 = _net()
    free = TOPO.free_mask()
    f = deep_field(W[None], 4, free, GAMMA)
    Gp, Gm = to_conductances(W, IDEAL, G0)
    for title in ("x\n.control\nshell touch /tmp/pwned\n.endc", ".control", "*\r\n.endc\n.end",
                  "\n\n.include /etc/passwd", "\u2028.control"):
        for deck in (behavioural_deck(W, f.d[0, 0], f.c[0, 0], s0[0], ~free, title=title),
                     crossbar_deck(Gp, Gm, free, s0[0], GAMMA, 1.0, g0=G0, title=title)):
            lines = deck.split("\n")
            assert not any(ln.lower().startswith((".control", ".endc", ".include", "shell")) for ln in lines)
            assert [ln for ln in lines if ln.startswith(".")][-1] == ".end" and lines.count(".end") == 1
            assert "\r" not in deck and len(deck.splitlines()) == len(lines) - 1
            assert lines[0] and lines[0][0] not in ".*" and "/" not in lines[0]
    assert sanitise("a;b`c$(d)|e") == "abcde"
    assert sanitise("...") == "deepxbar deck"
    with pytest.raises(ValueError):
        behavioural_deck(W, f.d[0, 0], f.c[0, 0], s0[0], ~free, options="x\n.control")
    with pytest.raises(ValueError):
        behavioural_deck(W * np.nan, f.d[0, 0], f.c[0, 0], s0[0], ~free)


def test_parse_raw_ascii_and_binary():
    ascii_raw = (b"Title: t\nDate: x\nPlotname: Transient Analysis\nFlags: real\nNo. Variables: 2\n"
                 b"No. Points: 2\nVariables:\n\t0\ttime\ttime\n\t1\tv(n3)\tvoltage\nValues:\n"
                 b" 0\t0.000000e+00\n\t1.5e-01\n\n 1\t1.0e-03\n\t2.5e-01\n\n")
    (name, v), = parse_raw(ascii_raw)
    assert name == "Transient Analysis"
    np.testing.assert_array_equal(v["time"], [0.0, 1e-3])
    np.testing.assert_array_equal(v["n3"], [0.15, 0.25])
    binary = (b"Title: t\nPlotname: Operating Point\nFlags: real\nNo. Variables: 2\nNo. Points: 1\n"
              b"Variables:\n\t0\tv(n0)\tvoltage\n\t1\ti(vg3)\tcurrent\nBinary:\n"
              + np.array([1.0, -2e-6], "<f8").tobytes())
    (_, v), = parse_raw(binary)
    assert v["n0"][0] == 1.0 and v["i(vg3)"][0] == -2e-6


# ------------------------------------------------------------------ ngspice
@pytest.mark.spice
@needs_spice
def test_hostile_title_is_not_executed(tmp_path):
    W, s0 = _net()
    free = TOPO.free_mask()
    f = deep_field(W[None], 4, free, GAMMA)
    marker = f"/tmp/pwned_deepxbar_{os.getpid()}"
    title = f"x\n.control\nshell touch {marker}\n.endc"
    deck = behavioural_deck(W, f.d[0, 0], f.c[0, 0], s0[0], ~free, title=title, t_stop=5.0)
    assert not any(ln.startswith((".control", "shell")) for ln in deck.splitlines())
    vecs = run_ngspice(deck)
    assert "n3" in vecs
    assert not os.path.exists(marker)
    assert not os.path.exists("/tmp/pwned_deepxbar_") and not os.path.exists(marker.replace("/", ""))


@pytest.mark.spice
@needs_spice
def test_behavioural_equilibrium_matches_fast_solver():
    """Leaky DEEP, 4 samples, free and nudged phase: the ngspice transient (clamped)
    reaches the fast solver's equilibrium from the same initial state."""
    W, s0 = _net()
    free = TOPO.free_mask()
    f = deep_field(W[None], 4, free, GAMMA)
    for field in (f, f.nudged(1.0, _targets(), TOPO.output_mask())):
        ref = _fast(field, s0)
        got = settle_spice(field, s0[None])
        assert got.s.shape == (1, 4, TOPO.n)
        np.testing.assert_array_equal(got.s[0, :, :3], XOR_X)
        assert np.abs(got.s[0] - ref).max() < 1e-4  # measured: 4e-8 (clamp overshoot |f|/1e8)
        assert ((ref == 0) | (ref == 1)).any()  # the clamps were needed


@pytest.mark.spice
@needs_spice
def test_crossbar_deck_agrees_with_numpy():
    """0 ohm crossbar: the software field of W = (Gp - Gm)/g0, free and nudged."""
    W, s0 = _net(seed=1)
    free, out = TOPO.free_mask(), TOPO.output_mask()
    Gp, Gm = to_conductances(W, IDEAL, G0)
    f = deep_field(W[None], 4, free, GAMMA)
    nudged = f.nudged(1.0, _targets(), out)
    ref_free, ref_nudged = _fast(f, s0), _fast(nudged, s0)
    y = np.zeros(TOPO.n)
    for b in (0, 3):
        got = settle_crossbar_spice(Gp, Gm, free, s0[b], GAMMA, 0.0, g0=G0)
        assert np.abs(got.s - ref_free[b]).max() < 1e-4
        y[out] = _targets()[b]
        got = settle_crossbar_spice(Gp, Gm, free, s0[b], GAMMA, 0.0, g0=G0, beta=1.0, targets=y, outputs=out)
        assert np.abs(got.s - ref_nudged[b]).max() < 1e-4


@pytest.mark.spice
@needs_spice
def test_crossbar_with_wires_agrees_with_effective_matrices():
    """10 ohm per segment: the device-level deck settles where the AffineField of
    hw.wires.effective_matrices (as in Crossbar.field) does, to 1e-6 of full scale, and
    visibly away from the wire-free equilibrium."""
    W, s0 = _net(seed=0)
    free = TOPO.free_mask()
    Gp, Gm = to_conductances(W, IDEAL, G0)
    r = 10.0
    Mcol, Mrow = effective_matrices(Gp, Gm, free, r, r)
    field = AffineField(((Mcol - Mrow) / G0)[None], np.full((1, 4, TOPO.n), GAMMA), np.zeros((1, 4, TOPO.n)), free)
    ref = _fast(field, s0)
    ideal = _fast(deep_field(W[None], 4, free, GAMMA), s0)
    shift = 0.0
    for b in (0, 1):
        got = settle_crossbar_spice(Gp, Gm, free, s0[b], GAMMA, r, g0=G0)
        assert np.abs(got.s - ref[b]).max() < 1e-6  # measured: 1e-8..4e-8
        shift = max(shift, np.abs(got.s - ideal[b]).max())
    assert shift > 1e-3  # the wires matter at this resistance


@pytest.mark.spice
@needs_spice
def test_tiled_crossbar_deck_agrees_with_the_tiled_effective_matrices():
    """Tiles of 4 x 4 devices (2 neurons' rows by 4 columns, 8 tiles), each with its own
    drivers, wires and virtual grounds: ngspice settles where the tiled AffineField does,
    and the tiles differ visibly from one array with the same wires."""
    W, s0 = _net(seed=0)
    free, connected = TOPO.free_mask(), TOPO.mask()
    Gp, Gm = to_conductances(W, IDEAL, G0)
    r, T = 10.0, 4
    deck = crossbar_deck(Gp, Gm, free, s0[0], GAMMA, r, g0=G0, tile_size=T, connected=connected)
    assert "in 8 tiles of at most 4 x 4 devices" in deck
    # 4 tile rows (neurons 0-1, 2-3, 4-5, 6-7), each with the columns 3..6 and 7: 5 virtual grounds
    assert sum(ln.startswith("VGt") for ln in deck.splitlines()) == 4 * 5
    fields = {}
    for t in (T, None):
        Mcol, Mrow = effective_matrices(Gp, Gm, free, r, r, t, connected)
        fields[t] = AffineField(((Mcol - Mrow) / G0)[None], np.full((1, 4, TOPO.n), GAMMA),
                                np.zeros((1, 4, TOPO.n)), free)
    ref, untiled = _fast(fields[T], s0), _fast(fields[None], s0)
    for b in (0, 3):
        got = settle_crossbar_spice(Gp, Gm, free, s0[b], GAMMA, r, g0=G0, tile_size=T, connected=connected)
        assert np.abs(got.s - ref[b]).max() < 1e-6  # as one array: ngspice's reltol
    assert np.abs(ref - untiled).max() > 1e-4  # shorter wires, another equilibrium


@pytest.mark.spice
@needs_spice
def test_singular_unclamped_free_phase_is_refused():
    """DEEP (gamma = 0) free phase without the clip has no equilibrium: ngspice's .op
    returns ~1e15 V without an error, the transient grows without bound."""
    W, s0 = _net()
    free = TOPO.free_mask()
    f = deep_field(W[None], 1, free, 0.0)
    arrays = (W, f.d[0, 0], f.c[0, 0], free)
    for analysis in ("op", "tran"):
        deck = behavioural_deck(*arrays[:3], s0[0], ~free, clamps=False, analysis=analysis)
        with pytest.raises(NgspiceError, match="absurd|singular|blew up"):
            run_ngspice(deck, strict=False)
        with pytest.raises(NgspiceError):
            settle_spice(arrays, s0[0], clamps=False, analysis=analysis)


@pytest.mark.spice
@needs_spice
def test_runner_errors():
    with pytest.raises(NgspiceError, match="status|reported"):
        run_ngspice("bad deck\nV1 n0 0 DC 1\nQfoo a b\n.op\n.end\n")
    with pytest.raises(NgspiceError, match="no rawfile|no plot|no points|status"):
        run_ngspice("no analysis\nV1 n0 0 DC 1\nR1 n0 0 1k\n.end\n")
    v = run_ngspice("divider\nV1 a 0 DC 2\nR1 a b 1k\nR2 b 0 1k\n.op\n.end\n")
    assert abs(v["b"][0] - 1.0) < 1e-12
