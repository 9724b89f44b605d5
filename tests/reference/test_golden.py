"""The behaviour recorded before the restructuring of issue 10 (tests/golden/), reproduced.

Every run of tests/golden/runs.json is trained again through the command line and its
weights, metrics, summary and config compared with the recorded ones: integers, booleans
and strings exactly, floating-point values to 1e-9 relative (1e-12 absolute). On the
machine that recorded them they agree bitwise; the tolerance lets another CPU's BLAS
kernels round differently, and any change of behaviour moves values by far more.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RUNS = {k: v for k, v in json.loads((GOLDEN / "runs.json").read_text()).items() if not k.startswith("_")}
VOLATILE = {"wall_seconds", "run_dir", "deepxbar_version"}  # what a re-run may change
RTOL, ATOL = 1e-9, 1e-12


def same(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) - VOLATILE == set(b) - VOLATILE, f"{where}: keys differ"
        for k in set(a) - VOLATILE:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert isinstance(b, (int, float)), f"{where}: {a!r} vs {b!r}"
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL), \
            f"{where}: {a!r} vs {b!r}"
    else:
        assert a == b and type(a) is type(b), f"{where}: {a!r} vs {b!r}"


def same_arrays(a: np.ndarray, b: np.ndarray, where: str) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype, f"{where}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    if a.dtype.kind == "f":
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=ATOL, err_msg=where)
    else:
        np.testing.assert_array_equal(b, a, err_msg=where)


def rows(path: Path) -> list[dict]:
    with path.open() as f:
        return [{k: float(v) if k != "seed" else int(v) for k, v in r.items()} for r in csv.DictReader(f)]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_restructured_code_reproduces_recorded_runs(name, tmp_path, cli):
    run = tmp_path / "run"
    code, out, err = cli(*RUNS[name], "--quiet", "--json", "--out", str(run))
    assert code == 0, err
    ref = GOLDEN / name
    files = sorted(p.name for p in ref.iterdir())
    assert files and all((run / f).exists() for f in files), files
    for f in files:
        if f.endswith(".npz"):
            with np.load(ref / f) as a, np.load(run / f) as b:
                assert sorted(a.files) == sorted(b.files), f
                for k in a.files:
                    same_arrays(a[k], b[k], f"{name}/{f}:{k}")
        elif f.endswith(".json"):
            same(json.loads((ref / f).read_text()), json.loads((run / f).read_text()), f"{name}/{f}")
        else:
            same(rows(ref / f), rows(run / f), f"{name}/{f}")
