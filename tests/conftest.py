import subprocess
import sys

import pytest

from deepxbar.tasks import make_task


@pytest.fixture
def xor_x():
    """The XOR inputs with their bias column (4, 3)."""
    return make_task("xor").X


def _run_cli(*args, timeout: float = 300):
    p = subprocess.run([sys.executable, "-m", "deepxbar.cli", *args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="session")
def cli():
    """``cli(*args, timeout=300)``: the real console entry point in a subprocess ->
    (exit code, stdout, stderr)."""
    return _run_cli
