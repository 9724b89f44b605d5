"""The crossbar with wire resistance: the once-per-programming-state matrices against the
node-by-node reference solve, the zero-wire closed forms and an exact series circuit."""
import numpy as np
import pytest

from hw.wires import effective_matrices, nodal_solve_full


def _xbar(N, n_in=2, seed=0, p_open=0.2):
    """Random differential pairs in [1e-6, 1e-4] S, a fraction of them exactly 0 (open)."""
    rng = np.random.default_rng(seed)
    Gp, Gm = rng.uniform(1e-6, 1e-4, (2, N, N))
    Gp[rng.random((N, N)) < p_open] = 0.0
    Gm[rng.random((N, N)) < p_open] = 0.0
    receiving = np.arange(N) >= n_in
    return Gp, Gm, receiving, rng


def _closed_forms(Gp, Gm, receiving):
    Wd = (Gp - Gm) * receiving[None, :]
    return Wd, np.diag(Wd.sum(axis=1))


def test_zero_wires_give_the_closed_forms_exactly():
    Gp, Gm, rec, rng = _xbar(7)
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, 0.0, 0.0)
    Mc0, Mr0 = _closed_forms(Gp, Gm, rec)
    # Tolerance 0: no solve is involved, the same float operations give the same bits.
    np.testing.assert_array_equal(Mcol, Mc0)
    np.testing.assert_array_equal(Mrow, Mr0)
    # The reference solve (no unknowns left: every node is tied to a source) sums the same
    # device currents in another order: a few ulp of the largest current.
    V = rng.uniform(-1, 1, 7)
    out = nodal_solve_full(Gp, Gm, rec, 0.0, 0.0, V)
    scale = np.abs(Mc0).sum()
    np.testing.assert_allclose(out["I_col"], V @ Mc0, rtol=0, atol=1e-14 * scale)
    np.testing.assert_allclose(out["I_row"], V @ Mr0, rtol=0, atol=1e-14 * scale)


@pytest.mark.parametrize("N", [6, 16])
@pytest.mark.parametrize("r_row, r_col", [(1.0, 1.0), (1.0, 3.0), (0.0, 1.0), (1.0, 0.0)])
def test_effective_matrices_match_the_full_nodal_solve(N, r_row, r_col):
    Gp, Gm, rec, rng = _xbar(N, seed=N)
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, r_row, r_col)
    assert not Mcol[:, ~rec].any()       # inputs have no physical column
    for _ in range(3):
        V = rng.uniform(-1, 1, N)
        out = nodal_solve_full(Gp, Gm, rec, r_row, r_col, V)
        scale = max(np.abs(out["I_col"]).max(), np.abs(out["I_row"]).max())
        # 1e-10 of the largest current: two independent sparse solves of a diagonally
        # dominant system (all wire drops < 1 % of V) agree to ~1e-14 here; the margin
        # covers other BLAS/SuperLU builds.
        np.testing.assert_allclose(V @ Mcol, out["I_col"], rtol=0, atol=1e-10 * scale)
        np.testing.assert_allclose(V @ Mrow, out["I_row"], rtol=0, atol=1e-10 * scale)
        # Current conservation: what the 2N sources deliver reaches the virtual grounds.
        # The reference reads driver currents from wire drops computed directly (not as
        # differences of ~1 V node voltages), so this holds to ~1e-14; 1e-12 leaves margin.
        assert abs(out["I_drv"].sum() - out["I_col"].sum()) <= 1e-12 * scale


def test_rows_are_interleaved_plus_minus():
    Gp, Gm, rec, rng = _xbar(5)
    V = rng.uniform(-1, 1, 5)
    out = nodal_solve_full(Gp, Gm, rec, 0.0, 2.0, V)   # ideal rows: nodes at the driver
    (row_nodes, _), = out["nodes"]
    np.testing.assert_array_equal(row_nodes[0::2], np.repeat(V[:, None], rec.sum(), 1))
    np.testing.assert_array_equal(row_nodes[1::2], np.repeat(-V[:, None], rec.sum(), 1))


def test_vanishing_wires_approach_the_closed_forms_linearly():
    Gp, Gm, rec, _ = _xbar(10, seed=3)
    Mc0, Mr0 = _closed_forms(Gp, Gm, rec)
    scale = np.abs(Mc0).max()
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, 1e-9, 1e-9)
    # The wire correction is ~ r G (number of cells) ~ 1e-9 * 1e-4 * 30 relative, far below
    # 1e-9; device currents are summed as G (v_row - v_col), so the tiny r does not cancel.
    np.testing.assert_allclose(Mcol, Mc0, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(Mrow, Mr0, rtol=0, atol=1e-9 * scale)
    # First order in r: doubling a small r doubles the deviation. The second-order term is
    # ~ r G (cells) ~ 1e-5 of the first, the rounding of the difference ~ 1e-10: 1e-3.
    d1, d2 = (np.concatenate([m - m0 for m, m0 in zip(effective_matrices(Gp, Gm, rec, r, r), (Mc0, Mr0))])
              for r in (1e-3, 2e-3))
    assert np.linalg.norm(d2) / np.linalg.norm(d1) == pytest.approx(2.0, rel=1e-3)


@pytest.mark.parametrize("plus", [True, False])
def test_single_device_is_an_exact_series_circuit(plus):
    N, i, j = 5, 1, 3
    Gp, Gm = np.zeros((N, N)), np.zeros((N, N))
    G, r_row, r_col = 1e-4, 2.0, 3.0
    (Gp if plus else Gm)[i, j] = G
    rec = np.arange(N) >= 2
    row, col = 2 * i + (0 if plus else 1), int(np.flatnonzero(rec).tolist().index(j))
    # driver -> (col + 1) row segments -> device -> (2N - row) column segments -> ground
    R_tot = r_row * (col + 1) + 1 / G + r_col * (2 * N - row)
    V = np.array([0.3, 0.8, -0.5, 0.1, 0.6])
    expected = (1 if plus else -1) * V[i] / R_tot
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, r_row, r_col)
    out = nodal_solve_full(Gp, Gm, rec, r_row, r_col, V)
    # A series circuit of 1e4 ohm plus a few ohm: both solves are exact up to ~10 ulp.
    for I_col, I_row in ((V @ Mcol, V @ Mrow), (out["I_col"], out["I_row"])):
        np.testing.assert_allclose(I_col[j], expected, rtol=1e-12)
        np.testing.assert_allclose(I_row[i], expected, rtol=1e-12)
        assert np.count_nonzero(I_col) == 1
    # The IR drop reduces the current below the ideal G V.
    assert 0 < abs(expected) < G * abs(V[i])


def test_n64_runs():
    N = 64
    Gp, Gm, rec, rng = _xbar(N, n_in=3, seed=64)
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, 1.0, 1.0)   # 15,616 unknowns
    assert Mcol.shape == Mrow.shape == (N, N)
    assert np.isfinite(Mcol).all() and np.isfinite(Mrow).all()
    assert not Mcol[:, ~rec].any()
    V = rng.uniform(0, 1, N)
    out = nodal_solve_full(Gp, Gm, rec, 1.0, 1.0, V)
    scale = np.abs(out["I_col"]).max()
    # As for N = 16 (agreement measured ~1e-13 here).
    np.testing.assert_allclose(V @ Mcol, out["I_col"], rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(V @ Mrow, out["I_row"], rtol=0, atol=1e-10 * scale)


def test_no_receiving_column():
    Gp, Gm, _, _ = _xbar(4)
    rec = np.zeros(4, bool)
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, 1.0, 1.0)
    assert not Mcol.any() and not Mrow.any()
    out = nodal_solve_full(Gp, Gm, rec, 1.0, 1.0, np.ones(4))
    assert not out["I_col"].any() and not out["I_row"].any()


@pytest.mark.parametrize("key, bad", [
    ("r_row", -1.0), ("r_row", np.inf), ("r_col", np.nan), ("r_col", -1e-3), ("Gp", -1.0),
    ("Gm", np.nan), ("receiving", np.ones(4, int)), ("receiving", np.ones(3, bool)),
])
def test_invalid_arguments_refused(key, bad):
    Gp, Gm, rec, _ = _xbar(4)
    args = dict(Gp=Gp, Gm=Gm, receiving=rec, r_row=1.0, r_col=1.0)
    if key in ("Gp", "Gm"):
        args[key][0, 3] = bad            # one bad device
    else:
        args[key] = bad
    with pytest.raises(ValueError, match=key):
        effective_matrices(**args)
    with pytest.raises(ValueError, match=key):
        nodal_solve_full(**args, V=np.zeros(4))


# ------------------------------------------------------------------------------ tiles
from hw.wires import check_tile_size, tiles  # noqa: E402


def test_tiles_cut_rows_in_pairs_and_columns_and_skip_empty_blocks():
    cols = np.arange(3, 12)                      # 9 receiving neurons of 12
    t = tiles(12, cols, 8)                       # 4 neurons (8 rows) by 8 columns
    assert [(r.tolist(), c.tolist()) for r, c in t] == [
        ([0, 1, 2, 3], list(range(3, 11))), ([0, 1, 2, 3], [11]),
        ([4, 5, 6, 7], list(range(3, 11))), ([4, 5, 6, 7], [11]),
        ([8, 9, 10, 11], list(range(3, 11))), ([8, 9, 10, 11], [11])]
    connected = np.zeros((12, 12), bool)
    connected[0, 11] = connected[9, 4] = True
    assert [(r[0], c[0]) for r, c in tiles(12, cols, 8, connected)] == [(0, 11), (8, 3)]
    assert len(tiles(12, cols, None)) == 1 and tiles(12, cols[:0], 8) == []


@pytest.mark.parametrize("bad", [0, 1, 3, -2, 2.0, True, "8"])
def test_tile_size_must_be_an_even_integer(bad):
    with pytest.raises(ValueError, match="tile_size"):
        check_tile_size(bad)
    Gp, Gm, rec, _ = _xbar(4)
    with pytest.raises(ValueError, match="tile_size"):
        effective_matrices(Gp, Gm, rec, 1.0, 1.0, tile_size=bad)


def test_one_tile_that_holds_everything_is_the_untiled_array_bit_for_bit():
    Gp, Gm, rec, _ = _xbar(9, seed=5)
    for r in ((0.0, 0.0), (1.0, 2.0)):
        untiled = effective_matrices(Gp, Gm, rec, *r)
        for a, b in zip(untiled, effective_matrices(Gp, Gm, rec, *r, tile_size=18)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("T", [2, 4, 6])
@pytest.mark.parametrize("r_row, r_col", [(1.0, 1.0), (2.0, 0.5), (0.0, 1.0), (1.0, 0.0)])
def test_tiled_matrices_match_the_tiled_nodal_solve(T, r_row, r_col):
    Gp, Gm, rec, rng = _xbar(7, seed=T)
    connected = rng.random((7, 7)) < 0.5
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, r_row, r_col, tile_size=T, connected=connected)
    for _ in range(2):
        V = rng.uniform(-1, 1, 7)
        out = nodal_solve_full(Gp, Gm, rec, r_row, r_col, V, tile_size=T, connected=connected)
        assert len(out["nodes"]) == len(tiles(7, np.flatnonzero(rec), T, connected))
        scale = max(np.abs(out["I_col"]).max(), np.abs(out["I_row"]).max())
        # as for the untiled array: two independent solves, 1e-10 of the largest current
        np.testing.assert_allclose(V @ Mcol, out["I_col"], rtol=0, atol=1e-10 * scale)
        np.testing.assert_allclose(V @ Mrow, out["I_row"], rtol=0, atol=1e-10 * scale)


def test_a_device_in_a_tile_sees_only_its_tiles_wires():
    """One device at (i, j): the series circuit driver -> row segments of its tile ->
    device -> column segments of its tile -> the tile's virtual ground."""
    N, T, i, j = 10, 4, 5, 8                     # neuron 5: tile row 2 (neurons 4, 5), row 3 in it
    Gp, Gm = np.zeros((N, N)), np.zeros((N, N))
    G, r_row, r_col = 1e-4, 2.0, 3.0
    Gp[i, j] = G
    rec = np.arange(N) >= 2                      # columns 2..9: j = 8 is the 7th, local column 2
    R_tot = r_row * (2 + 1) + 1 / G + r_col * (T - 2)
    V = np.linspace(-0.5, 0.9, N)
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, r_row, r_col, tile_size=T)
    np.testing.assert_allclose((V @ Mcol)[j], V[i] / R_tot, rtol=1e-12)
    np.testing.assert_allclose((V @ Mrow)[i], V[i] / R_tot, rtol=1e-12)
    assert np.count_nonzero(V @ Mcol) == 1


def test_without_wires_tiles_change_nothing_and_smaller_tiles_drop_less():
    N = 24
    Gp, Gm, rec, _ = _xbar(N, n_in=4, seed=11, p_open=0.0)
    ideal = _closed_forms(Gp, Gm, rec)
    for a, b in zip(ideal, effective_matrices(Gp, Gm, rec, 0.0, 0.0, tile_size=8)):
        np.testing.assert_array_equal(a, b)
    err = {T: np.abs(effective_matrices(Gp, Gm, rec, 5.0, 5.0, tile_size=T)[0] - ideal[0]).max()
           for T in (None, 16, 8)}
    # IR drop grows with the wire length (~ T^2 cells' currents through T segments)
    assert err[8] < 0.5 * err[16] < 0.5 * err[None]


def test_tiles_not_built_carry_nothing_even_with_leaking_cells():
    N = 8
    Gp, Gm, rec, _ = _xbar(N, seed=2, p_open=0.0)
    connected = np.zeros((N, N), bool)
    connected[:4, 2:] = True                     # only neurons 0..3 send: tile rows 0, 1 of T=4
    off = 1e-7
    Gp[4:], Gm[4:] = off, off                    # leaking switches in unconnected cells
    Mcol, Mrow = effective_matrices(Gp, Gm, rec, 1.0, 1.0, tile_size=4, connected=connected)
    assert not Mcol[4:].any() and not Mrow[4:].any()
    full, _ = effective_matrices(Gp, Gm, rec, 1.0, 1.0, tile_size=4)
    assert np.abs(full[4:]).max() > 0             # if they were built, they would load the wires
