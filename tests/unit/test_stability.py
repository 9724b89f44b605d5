import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.dynamics import deep_field
from models.settle import settle
from models.model import get
from models.stability import (gershgorin, local_certificate, lyapunov_certificate,
                              spectral_abscissa)
from models.topology import Topology


def test_deep_jacobian_entries():
    rng = np.random.default_rng(0)
    t = Topology(2, 2, 1)
    W = t.init_weights(rng, 1, 1.0)[0]
    J = get("deep").jacobian(W, t.free_mask(), gamma=0.5)
    nin = [2, 3, 4]
    for a, j in enumerate(nin):
        for c, i in enumerate(nin):
            want = -W[j].sum() - 0.5 if i == j else W[i, j]
            assert abs(J[a, c] - want) < 1e-14


def test_gershgorin_tests_on_known_matrices():
    J = np.array([[-3.0, 1.0], [1.0, -3.0]])
    g = gershgorin(J)
    assert g["diagonal"] and g["rows"] and g["columns"] and g["hurwitz"]
    J = np.array([[-1.0, 2.0], [0.1, -3.0]])  # rows fail on row 0, columns pass
    g = gershgorin(J)
    assert not g["rows"] and g["columns"] and g["hurwitz"]
    assert not gershgorin(np.array([[1.0, 0.0], [0.0, -1.0]]))["diagonal"]


@st.composite
def dominant_matrices(draw):
    """J with a negative diagonal that strictly dominates its rows (or its columns): the
    off-diagonal entries are drawn, then J[a, a] = -(sum of |off-diagonal| of row a, or
    column a) - slack_a with slack_a > 0. The premise of the paper's test holds by
    construction, so the test below always runs its conclusions."""
    n = draw(st.integers(1, 6))
    J = draw(arrays(np.float64, (n, n), elements=st.floats(-3, 3)))
    slack = draw(arrays(np.float64, (n,), elements=st.floats(1e-3, 3)))
    by_rows = draw(st.booleans())
    np.fill_diagonal(J, 0.0)
    off = np.abs(J).sum(axis=1 if by_rows else 0)
    np.fill_diagonal(J, -off - slack)
    return J, by_rows


@settings(max_examples=100, deadline=None)
@given(dominant_matrices())
def test_gershgorin_implies_hurwitz_and_lyapunov(case):
    J, by_rows = case
    n = J.shape[0]
    g = gershgorin(J)
    assert g["diagonal"] and g["rows" if by_rows else "columns"] and g["hurwitz"]
    # every Gershgorin disc lies left of -min(slack): so does the spectrum
    assert spectral_abscissa(J) < 0
    P = lyapunov_certificate(J)
    assert P is not None
    assert np.linalg.eigvalsh(P).min() > 0
    # J^T P + P J = -I to rounding
    assert np.allclose(J.T @ P + P @ J, -np.eye(n), atol=1e-8 * max(1.0, np.abs(P).max()))


@st.composite
def non_dominant_matrices(draw):
    """Counter-examples: one diagonal entry J[a, a] is >= 0, or its magnitude is at most
    both the row's and the column's off-diagonal sums (row and column dominance fail)."""
    n = draw(st.integers(2, 6))
    J = draw(arrays(np.float64, (n, n), elements=st.floats(-3, 3)))
    a = draw(st.integers(0, n - 1))
    b = (a + 1) % n
    J[a, b] = draw(st.floats(0.1, 3))  # row a and column b have some off-diagonal mass
    J[b, a] = draw(st.floats(0.1, 3))
    np.fill_diagonal(J, -np.abs(np.diagonal(J)))
    row = np.abs(J[a]).sum() - abs(J[a, a])
    col = np.abs(J[:, a]).sum() - abs(J[a, a])
    if draw(st.booleans()):
        J[a, a] = draw(st.floats(0, 3))
    else:
        J[a, a] = -draw(st.floats(0, 0.999)) * min(row, col)  # margin for rounding
    return J


@settings(max_examples=100, deadline=None)
@given(non_dominant_matrices())
def test_gershgorin_does_not_claim_counter_examples(J):
    g = gershgorin(J)
    assert not g["hurwitz"]
    assert not g["diagonal"] or not (g["rows"] or g["columns"])


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (4, 4), elements=st.floats(-3, 3)), st.floats(1e-3, 2))
def test_gershgorin_never_certifies_an_unstable_matrix(J, excess):
    # Shift any matrix so that its spectral abscissa is +excess: not Hurwitz, whatever
    # J was, so the paper's test must not pass it (and no certificate exists).
    J = J - (spectral_abscissa(J) - excess) * np.eye(4)
    assert spectral_abscissa(J) > 0
    assert not gershgorin(J)["hurwitz"]
    assert lyapunov_certificate(J) is None


def test_lyapunov_refused_when_not_hurwitz():
    assert lyapunov_certificate(np.array([[0.1, 0.0], [0.0, -1.0]])) is None


def test_local_certificate_at_a_leaky_equilibrium(xor_x):
    # Strong leak: J = W^T - diag(W1 + gamma) is diagonally dominant; neurons with a
    # net negative drive sit at 0 pushed outward, the others form a Hurwitz block.
    rng = np.random.default_rng(3)
    t = Topology(3, 3, 1)
    W = t.init_weights(rng, 1, 0.05)
    field = deep_field(W, 4, t.free_mask(), gamma=1.0)
    s0 = np.concatenate([xor_x[None], np.full((1, 4, 4), 0.05)], axis=-1)
    r = settle(field, s0, tol=1e-12)
    c = local_certificate(r.s, field, 0, 1)
    assert c["stable"] and c["pushed_outward"] and c["abscissa"] < 0 and c["n_free"] >= 1


def test_local_certificate_flags_an_unstable_free_block():
    # Hidden h and output y excite each other (W = 2 both ways): J = [[-2-g, 2], [2, -2-g]]
    # has eigenvalue -g; a negative leak (an amplifying neuron) makes it unstable.
    t = Topology(1, 1, 1)
    W = np.zeros((1, 3, 3))
    W[0, 1, 2] = W[0, 2, 1] = 2.0
    field = deep_field(W, 1, t.free_mask(), gamma=-0.5)
    s = np.array([[[0.0, 0.5, 0.5]]])
    c = local_certificate(s, field, 0, 0)
    J = get("deep").jacobian(W[0], t.free_mask(), gamma=-0.5)
    assert np.isclose(c["abscissa"], spectral_abscissa(J))
    assert c["abscissa"] > 0 and not c["stable"]
