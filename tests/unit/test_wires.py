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
    np.testing.assert_array_equal(out["row_nodes"][0::2], np.repeat(V[:, None], rec.sum(), 1))
    np.testing.assert_array_equal(out["row_nodes"][1::2], np.repeat(-V[:, None], rec.sum(), 1))


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
