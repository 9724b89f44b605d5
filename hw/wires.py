"""The DEEP crossbar with wire (line) resistance, reduced to two matrices per programming state.

Geometry (fixed)
----------------
* ``Gp, Gm`` (N, N), siemens, >= 0: the differential pair of the connection ``i -> j``,
  ``W = (Gp - Gm) / G0``. Only the neurons of the boolean mask ``receiving`` (N,) get a
  physical column, in neuron order: column ``c`` belongs to neuron ``cols[c]`` with
  ``cols = flatnonzero(receiving)``, ``C = len(cols)``.
* Rows, ``R = 2N``, **interleaved**: physical row ``2i`` is the "+" row of neuron ``i``,
  driven by an ideal source at ``+V_i``, row ``2i + 1`` its "-" row, driven at ``-V_i``.
  It carries ``Gp[i, cols]`` ("+") or ``Gm[i, cols]`` ("-"). The pair sits side by side,
  so both see nearly the same column wire drop.
* Each row wire starts at its driver (column position 0) and runs across the C columns:
  one segment ``r_row`` from the driver to cell 0, one between consecutive cells.
* Each column wire runs across the 2N rows, from row 0 to row 2N-1, and ends at a
  virtual-ground sense amplifier at exactly 0 V after row 2N-1: one segment ``r_col``
  between consecutive cells, one from the last cell to the virtual ground.
* The device of cell (r, c) joins row node (r, c) to column node (r, c).

Outputs, linear in V: ``I_col[j]``, the current into the virtual ground of neuron ``j``
(0 for non-receiving neurons), and ``I_row[i]``, the **sum** of the currents that the "+"
and the "-" driver of ``i`` deliver into their rows (each counted out of its source; the
"-" driver at ``-V_i`` sinks ``V_i sum Gm``, so this is "+" delivered minus "-" sunk).
With ``r_row = r_col = 0``: ``I_col = V @ ((Gp - Gm) * receiving)`` and
``I_row[i] = V_i sum_{j receiving} (Gp - Gm)[i, j]``, the DEEP column and leak terms.

A zero resistance on one kind of wire while the other is resistive is exact too: its
nodes are then known (row nodes at the driver voltage, column nodes at 0 V).

Tiles (``tile_size`` T)
-----------------------
A large network does not fit one array: the 2N x C grid above is cut into tiles of at
most T x T devices (``tiles``): every T physical rows (T/2 neurons, pairs kept
together) by every T columns, row-major. Each tile is an array of its own with the
geometry above: its own drivers at its left edge (copies of +V_i and -V_i, ideal
buffers), its own wires and its own virtual-ground sense amplifiers at the bottom of its
columns. A neuron's column current is the sum of its tiles' column currents, its row
current the sum of the currents of all its driver copies (the periphery adds them, at
the tile edge, exactly). Tiles whose block holds no connection of the topology are not
built (a layered network skips most of its blocks). Without wire resistance tiling
changes nothing; with it, the wires are shorter, so IR drop falls with T. T = None is
one array of any size.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

TILE_SIZE = 256  # default devices per side of a tile (issue 11: arrays of 256 x 256)
NODE_VOLTAGE_SLACK = 1e-6  # V per volt of drive: how far a solved node may stray outside the drives


class SingularNodalMatrix(RuntimeError):
    """The nodal matrix of a crossbar with resistive wires cannot be solved in floating
    point: the wires' conductance is lost against the devices' (or overflows). The
    message is one line naming the wire resistance and the device conductances."""


def _wires(r_row: float, r_col: float) -> str:
    return (f"line resistance {r_row:g} ohm" if r_row == r_col or r_col == 0 else
            f"line resistance {r_col:g} ohm" if r_row == 0 else
            f"line resistances {r_row:g} ohm (rows) and {r_col:g} ohm (columns)")


def _breakdown(r_row: float, r_col: float, D: np.ndarray, what: str) -> SingularNodalMatrix:
    """The error of a nodal matrix that is ``what`` ("singular", ...), in the physical
    terms that caused it: the wire resistance and conductance against the devices'."""
    wires = _wires(r_row, r_col)
    live = np.asarray(D)[np.asarray(D) > 0]
    devices = f"devices of ~{np.median(live):.2g} S" if live.size else "no conducting device"
    with np.errstate(divide="ignore", over="ignore"):
        g = 1.0 / np.float64(max(r_row, r_col))
    return SingularNodalMatrix(f"{wires} makes the crossbar's nodal matrix {what} (wire conductance "
                               f"{g:.3g} S per segment against {devices})")


def _check_wire_conductance(r_row: float, r_col: float, D: np.ndarray) -> None:
    """SingularNodalMatrix for a positive wire resistance whose conductance 1/r overflows."""
    for r in (r_row, r_col):
        with np.errstate(divide="ignore", over="ignore"):
            if r > 0 and not np.isfinite(1.0 / np.float64(r)):
                raise SingularNodalMatrix(f"{_wires(r_row, r_col)} is too small to solve: its conductance "
                                          "1/r overflows (use 0 for ideal wires)")


def check_conductances(Gp, Gm) -> tuple[np.ndarray, np.ndarray]:
    """Two square, equal-shaped, finite, non-negative conductance matrices (S)."""
    Gp, Gm = np.asarray(Gp, dtype=float), np.asarray(Gm, dtype=float)
    if Gp.ndim != 2 or Gp.shape[0] != Gp.shape[1] or Gm.shape != Gp.shape:
        raise ValueError(f"Gp and Gm must be square and of the same shape, got {Gp.shape}, {Gm.shape}")
    for name, G in (("Gp", Gp), ("Gm", Gm)):
        if not (np.isfinite(G).all() and (G >= 0).all()):
            raise ValueError(f"{name} must be finite and >= 0")
    return Gp, Gm


def _check(Gp, Gm, receiving, r_row, r_col, tile_size=None, connected=None):
    Gp, Gm = check_conductances(Gp, Gm)
    N = Gp.shape[0]
    receiving = np.asarray(receiving)
    if receiving.dtype != bool or receiving.shape != (N,):
        raise ValueError(f"receiving must be a boolean mask of shape ({N},)")
    out = []
    for name, r in (("r_row", r_row), ("r_col", r_col)):
        r = float(r)
        if not (np.isfinite(r) and r >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {r}")
        out.append(r)
    check_tile_size(tile_size)
    if connected is not None and (np.asarray(connected).dtype != bool or np.shape(connected) != (N, N)):
        raise ValueError(f"connected must be a boolean mask of shape ({N}, {N})")
    return Gp, Gm, receiving, out[0], out[1]


def check_tile_size(tile_size) -> None:
    """None (one array of any size) or an even integer >= 2 (a tile holds whole +/- row pairs)."""
    if tile_size is None:
        return
    if isinstance(tile_size, bool) or not isinstance(tile_size, (int, np.integer)) \
            or tile_size < 2 or tile_size % 2:
        raise ValueError(f"tile_size = {tile_size!r} is invalid: must be an even integer >= 2 "
                         "(devices per side of a tile; a tile holds whole +/- row pairs)")


def tiles(n: int, cols: np.ndarray, tile_size: int | None,
          connected: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The tiles of a crossbar: ``(neurons, columns)`` index arrays per tile, row-major.

    Physical rows are cut every ``tile_size`` rows (``tile_size / 2`` sending neurons, each
    with its + and - row), the columns ``cols`` (neuron ids) every ``tile_size`` columns.
    A tile is built only where ``connected`` (N, N), the topology's connection mask, has
    a connection in its block (all blocks when None); blocks without a column are never
    built. ``tile_size`` None: one array of any size.
    """
    check_tile_size(tile_size)
    cols = np.asarray(cols, dtype=int)
    if len(cols) == 0 or n == 0:
        return []
    if tile_size is None:
        return [(np.arange(n), cols)]
    per = tile_size // 2
    out = []
    for a in range(0, n, per):
        rows = np.arange(a, min(a + per, n))
        for c in range(0, len(cols), tile_size):
            cs = cols[c:c + tile_size]
            if connected is None or np.asarray(connected)[np.ix_(rows, cs)].any():
                out.append((rows, cs))
    return out


def _devices(Dp, Dm):
    """(2n, C) conductances of the physical cells of a block, rows interleaved [+0, -0, +1, -1, ...]."""
    D = np.empty((2 * Dp.shape[0], Dp.shape[1]))
    D[0::2], D[1::2] = Dp, Dm
    return D


def _wire(n: int, end: int) -> sp.spmatrix:
    """Laplacian (unit segments) of a wire of n nodes, plus a unit segment from node `end`
    to a node held at a known voltage (the driver or the virtual ground)."""
    d = np.zeros(n)
    d[:-1] += 1.0
    d[1:] += 1.0
    d[end] += 1.0
    off = -np.ones(n - 1)
    return sp.diags([off, d, off], [-1, 0, 1])


def effective_matrices(Gp: np.ndarray, Gm: np.ndarray, receiving: np.ndarray,
                       r_row: float, r_col: float, tile_size: int | None = None,
                       connected: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Column and row current matrices of the crossbar, for one programming state.

    Parameters
    ----------
    Gp, Gm : (N, N) device conductances in siemens (finite, >= 0; 0 is an open cell).
    receiving : (N,) bool, the neurons that have a physical column.
    r_row, r_col : resistance in ohms of one row / column wire segment (finite, >= 0).
    tile_size : devices per side of a tile (``tiles``); None: one array.
    connected : (N, N) bool, the topology's connections: tiles without any are not built.

    Returns
    -------
    Mcol : (N, N), ``I_col = V @ Mcol`` (amperes for V in volts); columns of
        non-receiving neurons are 0. With tiles, the sum of every tile's column currents.
    Mrow : (N, N), ``I_row = V @ Mrow``; diagonal when there is no wire resistance.

    Notes
    -----
    Each tile is a crossbar of its own: its own row drivers (copies of +V_i, -V_i at the
    tile's edge) and virtual grounds (at the tile's end of each column), its own wires.
    Without wire resistance tiles change nothing. With wires, the nodal matrix of each
    tile (4nC unknowns, or 2nC if one kind of wire is ideal) is factorised once by
    ``splu`` and solved for its n right-hand sides ``V = e_i``. The currents are summed
    over the devices, ``G (v_row - v_col)``, rather than read off the first/last wire
    segment: that does not cancel when r is tiny.
    """
    Gp, Gm, receiving, r_row, r_col = _check(Gp, Gm, receiving, r_row, r_col, tile_size, connected)
    N = Gp.shape[0]
    cols = np.flatnonzero(receiving)
    if (r_row == 0 and r_col == 0) or len(cols) == 0:
        Wd = np.where(receiving[None, :], Gp - Gm, 0.0)
        if connected is not None and tile_size is not None:  # cells of tiles not built carry nothing
            built = np.zeros((N, N), dtype=bool)
            for rows, cs in tiles(N, cols, tile_size, connected):
                built[np.ix_(rows, cs)] = True
            Wd = np.where(built, Wd, 0.0)
        return Wd, np.diag(Wd.sum(axis=1))
    Mcol, Mrow = np.zeros((N, N)), np.zeros((N, N))
    for rows, cs in tiles(N, cols, tile_size, connected):
        Jcol, drv = _block_matrices(Gp[np.ix_(rows, cs)], Gm[np.ix_(rows, cs)], r_row, r_col)
        Mcol[np.ix_(rows, cs)] += Jcol
        Mrow[np.ix_(rows, rows)] += drv
    return Mcol, Mrow


def _block_matrices(Dp: np.ndarray, Dm: np.ndarray, r_row: float, r_col: float) -> tuple[np.ndarray, np.ndarray]:
    """One array of n sending neurons (2n rows) by C columns with resistive wires: the
    column currents (n, C) and the driver currents (n, n) for unit drives ``V = e_i``."""
    n, C = Dp.shape
    R = 2 * n
    D = _devices(Dp, Dm)
    _check_wire_conductance(r_row, r_col, D)
    U = np.zeros((R, n))                 # driver voltages of the right-hand side V = e_i
    U[0::2][np.arange(n), np.arange(n)] = 1.0
    U[1::2][np.arange(n), np.arange(n)] = -1.0
    Dg = sp.diags(D.ravel())             # node (r, c) -> index r * C + c
    first = np.arange(R) * C             # row nodes next to the drivers
    if r_row > 0:
        Lx = (1.0 / r_row) * sp.kron(sp.eye(R), _wire(C, 0))
    if r_col > 0:
        Ly = (1.0 / r_col) * sp.kron(_wire(R, R - 1), sp.eye(C))
    if r_row > 0 and r_col > 0:
        A = sp.bmat([[Lx + Dg, -Dg], [-Dg, Ly + Dg]], format="coo")
        b = np.zeros((2 * R * C, n))
        b[first] = U / r_row
    elif r_row > 0:                      # ideal columns: column nodes at 0 V
        A, b = (Lx + Dg).tocoo(), np.zeros((R * C, n))
        b[first] = U / r_row
    else:                                # ideal rows: row nodes at the driver voltage
        A = (Ly + Dg).tocoo()
        b = (D[:, :, None] * U[:, None, :]).reshape(R * C, n)
    # A is symmetric positive definite (every node reaches a source through wires): a
    # symmetric ordering without pivoting keeps the fill low.
    try:
        lu = spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options=dict(SymmetricMode=True))
    except RuntimeError as e:            # SuperLU: "Factor is exactly singular"
        raise _breakdown(r_row, r_col, D, "singular") from e
    z = lu.solve(b)
    # Every node lies between the drives (-1 and +1 V here) in a resistive network (the
    # maximum principle); a solve that strays outside lost the wires in rounding.
    if not (np.isfinite(z).all() and np.abs(z).max(initial=0.0) <= 1.0 + NODE_VOLTAGE_SLACK):
        raise _breakdown(r_row, r_col, D, "numerically singular (node voltages outside the drives)")
    x = z[: R * C].reshape(R, C, n) if r_row > 0 else np.broadcast_to(U[:, None, :], (R, C, n))
    y = z[-R * C:].reshape(R, C, n) if r_col > 0 else 0.0
    J = D[:, :, None] * (x - y)          # device currents, row -> column
    drv = J.sum(axis=1)                  # (R, n): current of each driver
    return J.sum(axis=0).T, (drv[0::2] + drv[1::2]).T


def nodal_solve_full(Gp: np.ndarray, Gm: np.ndarray, receiving: np.ndarray,
                     r_row: float, r_col: float, V: np.ndarray, tile_size: int | None = None,
                     connected: np.ndarray | None = None) -> dict:
    """Solve the whole grid for one voltage vector, node by node (the reference check).

    Every node's KCL equation is stamped edge by edge in a plain loop, tile by tile
    (``tiles``); nodes joined to a source by ideal wires are known. Unknowns are
    measured from a reference, the driver voltage for row nodes and 0 V for column nodes
    (``v = w + ref``): the wire drops are then computed directly, not as differences of
    ~1 V node voltages. Currents are read where edges leave a source's group (the first
    row and last column segments).

    Returns
    -------
    dict with ``I_col`` (N,) indexed by neuron (0 if not receiving), ``I_row`` (N,),
    ``I_drv`` (2N,) the current of each driver (summed over the tiles' copies), and
    ``nodes``: per tile, ``(row_nodes, col_nodes)`` (2n, C) node voltages (physical rows
    interleaved as in the module docstring).
    """
    Gp, Gm, receiving, r_row, r_col = _check(Gp, Gm, receiving, r_row, r_col, tile_size, connected)
    V = np.asarray(V, dtype=float)
    N = Gp.shape[0]
    if V.shape != (N,) or not np.isfinite(V).all():
        raise ValueError(f"V must be finite of shape ({N},)")
    I_col, I_drv, nodes = np.zeros(N), np.zeros(2 * N), []
    for rows, cs in tiles(N, np.flatnonzero(receiving), tile_size, connected):
        out = _nodal_block(Gp[np.ix_(rows, cs)], Gm[np.ix_(rows, cs)], r_row, r_col, V[rows])
        I_col[cs] += out[0]
        I_drv[np.ravel(np.column_stack([2 * rows, 2 * rows + 1]))] += out[1]
        nodes.append(out[2:])
    return dict(I_col=I_col, I_row=I_drv[0::2] + I_drv[1::2], I_drv=I_drv, nodes=nodes)


def _nodal_block(Dp, Dm, r_row, r_col, V):
    """The node-by-node solve of one array (n neurons' rows by C columns) at drives V (n,):
    column currents (C,), driver currents (2n,), row and column node voltages (2n, C)."""
    n, C = Dp.shape
    R = 2 * n
    _check_wire_conductance(r_row, r_col, np.concatenate([Dp.ravel(), Dm.ravel()]))
    ref, group, edges = {}, {}, []       # group: the source a known node is tied to
    for r in range(R):
        i, sign = divmod(r, 2)
        ref["d", r], group["d", r] = (-V[i] if sign else V[i]), ("d", r)
        for c in range(C):
            ref["x", r, c] = ref["d", r]
            edges.append((("x", r, c), ("y", r, c), Dm[i, c] if sign else Dp[i, c]))
            if r_row == 0:
                group["x", r, c] = ("d", r)
            else:
                edges.append((("d", r) if c == 0 else ("x", r, c - 1), ("x", r, c), 1.0 / r_row))
    for c in range(C):
        group["g", c] = ("g", c)
        for r in range(R):
            if r_col == 0:
                group["y", r, c] = ("g", c)
            else:
                edges.append((("y", r, c), ("g", c) if r == R - 1 else ("y", r + 1, c), 1.0 / r_col))
    nodes = [(k, r, c) for k in "xy" for r in range(R) for c in range(C)]
    unknown = {nd: k for k, nd in enumerate(nd for nd in nodes if nd not in group)}
    rows, cs, vals, rhs = [], [], [], np.zeros(len(unknown))
    for a, b, g in edges:                # KCL at p: sum g (w_p - w_q) = -sum g (ref_p - ref_q)
        for p, q in ((a, b), (b, a)):
            if p in unknown:
                rows.append(unknown[p]); cs.append(unknown[p]); vals.append(g)
                if q in unknown:         # a known node has w = 0
                    rows.append(unknown[p]); cs.append(unknown[q]); vals.append(-g)
                rhs[unknown[p]] -= g * (ref.get(p, 0.0) - ref.get(q, 0.0))
    w = dict.fromkeys(group, 0.0)
    if unknown:
        A = sp.coo_matrix((vals, (rows, cs)), shape=(len(unknown),) * 2).tocsc()
        with warnings.catch_warnings():  # a singular matrix: a warning and NaN, raised below
            warnings.simplefilter("ignore", spla.MatrixRankWarning)
            sol = spla.spsolve(A, rhs)
        if not np.isfinite(sol).all():
            raise _breakdown(r_row, r_col, np.concatenate([Dp.ravel(), Dm.ravel()]), "singular")
        w.update({nd: sol[k] for nd, k in unknown.items()})
    I_drv, I_phys = np.zeros(R), np.zeros(C)
    for a, b, g in edges:
        ga, gb = group.get(a), group.get(b)
        if ga == gb:
            continue
        cur = g * ((w[a] - w[b]) + (ref.get(a, 0.0) - ref.get(b, 0.0)))   # from a to b
        for grp, s in ((ga, 1.0), (gb, -1.0)):
            if grp is not None and grp[0] == "d":
                I_drv[grp[1]] += s * cur
            elif grp is not None:
                I_phys[grp[1]] -= s * cur
    volts = np.array([w[nd] + ref.get(nd, 0.0) for nd in nodes]).reshape(2, R, C)
    if np.abs(volts).max(initial=0.0) > (1.0 + NODE_VOLTAGE_SLACK) * np.abs(V).max(initial=0.0):
        raise _breakdown(r_row, r_col, np.concatenate([Dp.ravel(), Dm.ravel()]),
                         "numerically singular (node voltages outside the drives)")
    return I_phys, I_drv, volts[0], volts[1]
