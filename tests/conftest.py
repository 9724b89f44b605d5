import numpy as np
import pytest

from models.topology import Topology

XOR_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)


@pytest.fixture
def xor_x():
    return XOR_X.copy()


def random_states(topo: Topology, X: np.ndarray, K: int, rng: np.random.Generator, high=0.1):
    s0 = np.empty((K, X.shape[0], topo.n))
    s0[..., : topo.n_in] = X
    s0[..., topo.n_in:] = rng.uniform(0, high, (K, X.shape[0], topo.n - topo.n_in))
    return s0


def run_cli(*args, timeout: float = 300):
    """The real console entry point in a subprocess: exit code, stdout, stderr."""
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "deepxbar.cli", *args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def cli():
    """``cli(*args, timeout=300)``: the console entry point in a subprocess -> (code, stdout, stderr)."""
    return run_cli
