"""Record the golden runs of runs.json into this folder (one sub-folder per run):
weights.npz, metrics.csv, summary.json, config.json and, for hardware runs,
conductances.npz, exactly as ``deepxbar train`` writes them.

    python tests/golden/record.py [NAME ...]   (default: every run)
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEPT = ("weights.npz", "metrics.csv", "summary.json", "config.json", "conductances.npz")


def commands() -> dict[str, list[str]]:
    return {k: v for k, v in json.loads((HERE / "runs.json").read_text()).items() if not k.startswith("_")}


def main(names: list[str]) -> None:
    runs = commands()
    unknown = sorted(set(names) - set(runs))
    if unknown:
        sys.exit(f"unknown run(s) {', '.join(unknown)}; runs.json has {', '.join(runs)}")
    for name, argv in runs.items():
        if names and name not in names:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            subprocess.run([sys.executable, "-m", "deepxbar.cli", *argv, "--quiet", "--json", "--out", str(run)],
                           check=True, stdout=subprocess.DEVNULL)
            dest = HERE / name
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            for f in KEPT:
                if (run / f).exists():
                    shutil.copy(run / f, dest / f)
        print(f"recorded {name}: {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
