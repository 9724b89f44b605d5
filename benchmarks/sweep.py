"""A 4-point write-noise sweep x 10 seeds on XOR with the RRAM preset (default config):
wall time with 1 Dask worker vs 2.

    python benchmarks/sweep.py
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from deepxbar.sweep import execute, make_spec, parse_grid, write_outputs


def main() -> None:
    spec = make_spec("rram", "xor", 10, None, parse_grid(["write_noise=0,0.01,0.02,0.05"]))
    print("| workers | wall s | runs |")
    print("|---|---|---|")
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            n = execute(spec, Path(d), workers, None, progress=False)
            df = write_outputs(Path(d), spec)
            print(f"| {workers} | {time.perf_counter() - t:.1f} | {n} |", flush=True)
    print("\naccuracy and success by write noise (the last sweep):")
    print(df.groupby("param_write_noise")[["accuracy", "success", "stable"]].mean().to_string())


if __name__ == "__main__":
    main()
