"""Resource guards: the memory (and, where it is cheap to say, the time) a command will
need, estimated from the sizes asked for before anything is allocated.

A command refuses (bad input, exit code 2) when its estimate exceeds this machine's
physical memory, unless given ``--force``; before a long or large run it says its
estimate in one line on stderr. The estimates are labelled as such: they count the
float64 arrays the code keeps alive at its peak, with constants measured on this
project's code (below), and say nothing of other programs using the memory.

Memory, in float64 arrays of the sizes asked for (K networks of N neurons, batches of B
samples, I chips or noise draws per network); measured with ``tracemalloc`` (every numpy
allocation) around ``deepxbar.experiment.run``, ``hw.deploy.deploy`` + ``judge`` and
``hw.montecarlo.monte_carlo`` on XOR networks of N = 14 to 204 neurons and breast-cancer
networks of 53 (K = 2 to 16, I = 10 to 40), on a 2-core x86-64 machine with 23.5 GiB
(numpy 2.3, the machine the tests of issue 12 ran on):

* training and judging in software: 7.3 to 7.5 K x N x N arrays (weights, masks, the
  path integrals and Hebbian sums of the phases, the update, the Jacobians of the
  stability report) -> ``SOFTWARE_WEIGHT_ARRAYS``; on a crossbar 38 (the conductances
  and ten arrays of device parameters per sign, reads, the fields) -> ``HARDWARE_...``;
* the batch: 8.7 K x B x N arrays (states, fields, the nudged phase's targets) ->
  ``STATE_ARRAYS``; judging keeps states and fields of every (start, sample) pair ->
  ``JUDGE_STATE_ARRAYS`` K x N each;
* deployment: 41 to 69 K x I x N x N arrays (conductances, targets, pulses, status,
  verify errors and device parameters of both devices of every cell, the judged fields)
  -> ``CHIP_ARRAYS``; plus the batched certificate's Jacobians (``hw.deploy.certify``:
  one of the free neurons per chip and judged sample, and its temporaries) ->
  ``CERTIFY_ARRAYS`` per judged sample;
* the wire solve of one tile (``hw.wires._block_matrices``) holds right-hand sides,
  solution, voltages and currents: 3.2 copies of (unknowns x sending neurons) measured
  -> ``WIRE_COPIES``.

Time (software, numpy engine): ``SECONDS_PER_NEURON2`` per network, training sample,
epoch and N^2 (a free and a nudged phase; a sample judged per epoch counts half),
measured 3e-8 to 8e-8 s for XOR networks of N = 14 to 204 (and 5.5e-8 s implied by the
213 s a seed of the digits preset, N = 203, in README's "Real data": 310 s estimated); networks
whose phases settle slowly take far longer (2e-6 s for XOR at N = 304 and 404, the
default config being tuned for 10 hidden neurons): the estimate is rough either way.
Per equilibrium certified when judging
``SECONDS_PER_CERTIFICATE`` + ``SECONDS_PER_CERTIFICATE_N3`` N^3 (a Lyapunov solve, with
the evaluation's and the basin's phases; measured 1.4e-4 s at N = 14, 7.6e-3 s at 104,
0.075 s at 204, 0.5 s at 404), on the machine above, with ``--seeds`` 10 to 1,000.
"""
from __future__ import annotations

import os
import sys

from .options import UsageError

FLOAT = 8  # bytes
SOFTWARE_WEIGHT_ARRAYS = 8
HARDWARE_WEIGHT_ARRAYS = 40
STATE_ARRAYS = 12
JUDGE_STATE_ARRAYS = 3
HISTORY_COLUMNS = 16  # epochs x K: the metrics of every epoch
CHIP_ARRAYS = 48
CERTIFY_ARRAYS = 4
WIRE_COPIES = 4
BASELINE = 300 * 2**20  # bytes: Python, numpy, numba, scipy, matplotlib loaded (maxrss of a tiny run ~260 MB)

SECONDS_PER_NEURON2 = 8e-8
SECONDS_PER_CERTIFICATE = 1.25e-4
SECONDS_PER_CERTIFICATE_N3 = 7.5e-9

LONG_RUN = 60.0  # s: a run whose estimate is longer says so before it starts
LARGE_RUN = 2**30  # bytes: so does a run whose estimate is larger


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def describe(nbytes: float) -> str:
    """A size in binary units: ``74.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError  # pragma: no cover


def duration(seconds: float) -> str:
    """A duration in the unit that reads best: ``40 s``, ``12 min``, ``3.5 h``, ``2.1 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def wire_solve_memory(n: int, receiving: int, tile_size: int | None) -> int:
    """Bytes of the wire solve of the largest tile of a crossbar of ``n`` neurons with
    ``receiving`` columns, cut into tiles of ``tile_size`` devices (None: one array):
    ``WIRE_COPIES`` arrays of (2 x 2 rows x columns unknowns) x (sending neurons)."""
    rows = n if tile_size is None else min(n, tile_size // 2)
    cols = receiving if tile_size is None else min(receiving, tile_size)
    return WIRE_COPIES * FLOAT * (2 * 2 * rows * cols) * rows


def train_memory(networks: int, n: int, batch: int, judged: int, epochs: int, hardware: bool = False,
                 wires: int = 0) -> int:
    """Bytes to train and judge ``networks`` networks of ``n`` neurons in batches of
    ``batch`` samples for ``epochs`` epochs, judging keeping ``judged`` (start, sample)
    pairs, on crossbars when ``hardware``, ``wires`` the bytes of one wire solve."""
    weights = HARDWARE_WEIGHT_ARRAYS if hardware else SOFTWARE_WEIGHT_ARRAYS
    per_network = n * n * weights + n * (STATE_ARRAYS * batch + JUDGE_STATE_ARRAYS * judged) + HISTORY_COLUMNS * epochs
    return BASELINE + FLOAT * networks * per_network + wires


def train_seconds(networks: int, n: int, samples: int, epochs: int, certificates: int) -> float:
    """Seconds to train ``networks`` networks of ``n`` neurons in software for ``epochs``
    epochs of ``samples`` settled samples each, then certify ``certificates`` equilibria
    per network (constants: module docstring)."""
    train = SECONDS_PER_NEURON2 * networks * samples * epochs * n * n
    judge = networks * certificates * (SECONDS_PER_CERTIFICATE + SECONDS_PER_CERTIFICATE_N3 * n ** 3)
    return train + judge


def chips_memory(networks: int, chips: int, n: int, free: int, samples: int, wires: int = 0) -> int:
    """Bytes to program and judge ``chips`` chips for each of ``networks`` networks of
    ``n`` neurons (``free`` of them not inputs) on ``samples`` samples (``hw.deploy``:
    the batched certificate holds a Jacobian of the free neurons per chip and sample),
    ``wires`` one wire solve."""
    per_chip = CHIP_ARRAYS * n * n + CERTIFY_ARRAYS * samples * free * free
    return BASELINE + FLOAT * networks * chips * per_chip + wires


def noise_memory(networks: int, draws: int, n: int, samples: int) -> int:
    """Bytes to judge ``draws`` noisy copies of each of ``networks`` networks of ``n``
    neurons at once on ``samples`` samples (``models.evaluation.weight_noise_robustness``)."""
    copies = networks * draws
    return BASELINE + FLOAT * copies * (SOFTWARE_WEIGHT_ARRAYS * n * n + STATE_ARRAYS * samples * n)


def check_memory(nbytes: int, command: str, asked: str, what: str, force: bool) -> None:
    """Refuse (UsageError, one line, exit code 2) an estimate above this machine's
    physical memory unless ``force``: ``asked`` names the options that set the sizes,
    ``what`` says what the memory is for."""
    total = physical_memory()
    if force or total is None or nbytes <= total:
        return
    raise UsageError(f"deepxbar {command}: error: {asked}: about {describe(nbytes)} of memory for {what} "
                     f"(estimate); this machine has {describe(total)} (--force to try anyway)")


def announce(command: str, nbytes: int, seconds: float | None, what: str) -> bool:
    """Say the estimate in one line on stderr when the run is long (``LONG_RUN``) or
    large (``LARGE_RUN``); returns whether it did."""
    if nbytes < LARGE_RUN and (seconds is None or seconds < LONG_RUN):
        return False
    took = f" and roughly {duration(seconds)}" if seconds is not None else ""
    print(f"deepxbar {command}: estimate: about {describe(nbytes)} of memory{took} for {what} (rough: "
          f"constants measured on a 2-core machine, deepxbar/resources.py)", file=sys.stderr, flush=True)
    return True
