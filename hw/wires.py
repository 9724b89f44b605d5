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
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def check_conductances(Gp, Gm) -> tuple[np.ndarray, np.ndarray]:
    """Two square, equal-shaped, finite, non-negative conductance matrices (S)."""
    Gp, Gm = np.asarray(Gp, dtype=float), np.asarray(Gm, dtype=float)
    if Gp.ndim != 2 or Gp.shape[0] != Gp.shape[1] or Gm.shape != Gp.shape:
        raise ValueError(f"Gp and Gm must be square and of the same shape, got {Gp.shape}, {Gm.shape}")
    for name, G in (("Gp", Gp), ("Gm", Gm)):
        if not (np.isfinite(G).all() and (G >= 0).all()):
            raise ValueError(f"{name} must be finite and >= 0")
    return Gp, Gm


def _check(Gp, Gm, receiving, r_row, r_col):
    Gp, Gm = check_conductances(Gp, Gm)
    receiving = np.asarray(receiving)
    if receiving.dtype != bool or receiving.shape != (Gp.shape[0],):
        raise ValueError(f"receiving must be a boolean mask of shape ({Gp.shape[0]},)")
    out = []
    for name, r in (("r_row", r_row), ("r_col", r_col)):
        r = float(r)
        if not (np.isfinite(r) and r >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {r}")
        out.append(r)
    return Gp, Gm, receiving, out[0], out[1]


def _devices(Gp, Gm, cols):
    """(2N, C) conductances of the physical cells, rows interleaved [+0, -0, +1, -1, ...]."""
    D = np.empty((2 * Gp.shape[0], len(cols)))
    D[0::2], D[1::2] = Gp[:, cols], Gm[:, cols]
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
                       r_row: float, r_col: float) -> tuple[np.ndarray, np.ndarray]:
    """Column and row current matrices of the crossbar, for one programming state.

    Parameters
    ----------
    Gp, Gm : (N, N) device conductances in siemens (finite, >= 0; 0 is an open cell).
    receiving : (N,) bool, the neurons that have a physical column.
    r_row, r_col : resistance in ohms of one row / column wire segment (finite, >= 0).

    Returns
    -------
    Mcol : (N, N), ``I_col = V @ Mcol`` (amperes for V in volts); columns of
        non-receiving neurons are 0.
    Mrow : (N, N), ``I_row = V @ Mrow``; diagonal when there is no wire resistance.

    Notes
    -----
    With wires, the nodal matrix (4NC unknowns, or 2NC if one kind of wire is ideal) is
    factorised once by ``splu`` and solved for the N right-hand sides ``V = e_i``. The
    currents are summed over the devices, ``G (v_row - v_col)``, rather than read off
    the first/last wire segment: that does not cancel when r is tiny.
    """
    Gp, Gm, receiving, r_row, r_col = _check(Gp, Gm, receiving, r_row, r_col)
    N = Gp.shape[0]
    cols = np.flatnonzero(receiving)
    if (r_row == 0 and r_col == 0) or len(cols) == 0:
        Wd = np.where(receiving[None, :], Gp - Gm, 0.0)
        return Wd, np.diag(Wd.sum(axis=1))
    R, C = 2 * N, len(cols)
    D = _devices(Gp, Gm, cols)
    U = np.zeros((R, N))                 # driver voltages of the right-hand side V = e_i
    U[0::2][np.arange(N), np.arange(N)] = 1.0
    U[1::2][np.arange(N), np.arange(N)] = -1.0
    Dg = sp.diags(D.ravel())             # node (r, c) -> index r * C + c
    first = np.arange(R) * C             # row nodes next to the drivers
    if r_row > 0:
        Lx = (1.0 / r_row) * sp.kron(sp.eye(R), _wire(C, 0))
    if r_col > 0:
        Ly = (1.0 / r_col) * sp.kron(_wire(R, R - 1), sp.eye(C))
    if r_row > 0 and r_col > 0:
        A = sp.bmat([[Lx + Dg, -Dg], [-Dg, Ly + Dg]], format="coo")
        b = np.zeros((2 * R * C, N))
        b[first] = U / r_row
    elif r_row > 0:                      # ideal columns: column nodes at 0 V
        A, b = (Lx + Dg).tocoo(), np.zeros((R * C, N))
        b[first] = U / r_row
    else:                                # ideal rows: row nodes at the driver voltage
        A = (Ly + Dg).tocoo()
        b = (D[:, :, None] * U[:, None, :]).reshape(R * C, N)
    # A is symmetric positive definite (every node reaches a source through wires): a
    # symmetric ordering without pivoting keeps the fill low.
    lu = spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                   options=dict(SymmetricMode=True))
    z = lu.solve(b)
    x = z[: R * C].reshape(R, C, N) if r_row > 0 else np.broadcast_to(U[:, None, :], (R, C, N))
    y = z[-R * C:].reshape(R, C, N) if r_col > 0 else 0.0
    J = D[:, :, None] * (x - y)          # device currents, row -> column
    drv = J.sum(axis=1)                  # (R, N): current of each driver
    Mcol = np.zeros((N, N))
    Mcol[:, cols] = J.sum(axis=0).T
    return Mcol, (drv[0::2] + drv[1::2]).T


def nodal_solve_full(Gp: np.ndarray, Gm: np.ndarray, receiving: np.ndarray,
                     r_row: float, r_col: float, V: np.ndarray) -> dict:
    """Solve the whole grid for one voltage vector, node by node (the reference check).

    Every node's KCL equation is stamped edge by edge in a plain loop; nodes joined to a
    source by ideal wires are known. Unknowns are measured from a reference, the driver
    voltage for row nodes and 0 V for column nodes (``v = w + ref``): the wire drops are
    then computed directly, not as differences of ~1 V node voltages. Currents are read
    where edges leave a source's group (the first row and last column segments).

    Returns
    -------
    dict with ``I_col`` (N,) indexed by neuron (0 if not receiving), ``I_row`` (N,),
    ``I_drv`` (2N,) the current of each driver, ``row_nodes`` and ``col_nodes`` (2N, C)
    node voltages (physical rows interleaved as in the module docstring).
    """
    Gp, Gm, receiving, r_row, r_col = _check(Gp, Gm, receiving, r_row, r_col)
    V = np.asarray(V, dtype=float)
    N = Gp.shape[0]
    if V.shape != (N,) or not np.isfinite(V).all():
        raise ValueError(f"V must be finite of shape ({N},)")
    cols = np.flatnonzero(receiving)
    R, C = 2 * N, len(cols)
    ref, group, edges = {}, {}, []       # group: the source a known node is tied to
    for r in range(R):
        i, sign = divmod(r, 2)
        ref["d", r], group["d", r] = (-V[i] if sign else V[i]), ("d", r)
        for c in range(C):
            ref["x", r, c] = ref["d", r]
            edges.append((("x", r, c), ("y", r, c), Gm[i, cols[c]] if sign else Gp[i, cols[c]]))
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
    unknown = {n: k for k, n in enumerate(n for n in nodes if n not in group)}
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
        sol = spla.spsolve(A, rhs)
        w.update({n: sol[k] for n, k in unknown.items()})
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
    I_col = np.zeros(N)
    I_col[cols] = I_phys
    volts = np.array([w[n] + ref.get(n, 0.0) for n in nodes]).reshape(2, R, C)
    return dict(I_col=I_col, I_row=I_drv[0::2] + I_drv[1::2], I_drv=I_drv,
                row_nodes=volts[0], col_nodes=volts[1])
