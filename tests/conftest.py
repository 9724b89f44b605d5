import pytest

from deepxbar.tasks import make_task


@pytest.fixture
def xor_x():
    """The XOR inputs with their bias column (4, 3)."""
    return make_task("xor").X


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
