"""Interrupts lose nothing: real signals (SIGINT as a kill(2) or as a terminal's Ctrl-C to
the whole process group, SIGTERM) sent to the real command line in a subprocess."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from deepxbar.cli import main


class Command:
    """``python -m deepxbar.cli ARGS`` in its own session, its stderr read as it comes."""

    def __init__(self, args, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "deepxbar.cli", *args], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.err = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while chunk := self.proc.stderr.read1(4096):
            self.err += chunk

    def wait_for(self, ready, timeout=120.0):
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.proc.poll() is None, f"ended early: {self.stderr()}"
            assert time.monotonic() < deadline, "not ready in time"
            time.sleep(0.01)

    def send(self, sig, group=False):
        (os.killpg if group else os.kill)(self.proc.pid, sig)

    def finish(self, timeout=120.0) -> tuple[int, list[str]]:
        """Exit code and the lines of stderr (progress bars left out)."""
        code = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        self.reader.join(timeout=10)
        return code, self.lines()

    def stderr(self) -> str:
        return self.err.decode(errors="replace")

    def lines(self) -> list[str]:
        text = self.stderr()
        assert "Traceback" not in text, text
        parts = (seg.strip() for line in text.split("\n") for seg in line.split("\r"))
        return [p for p in parts if p and not p.startswith(("train ", "sweep runs"))]


def _hidden(folder):
    return [p for p in folder.rglob(".*")]


@pytest.mark.parametrize("phase", ["training", "writing"])
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_train_leaves_no_run_folder(tmp_path, sig, code, phase):
    work = tmp_path / "work"
    work.mkdir()
    epochs = "100000" if phase == "training" else "30"
    cmd = Command(["train", "--task", "xor", "--seeds", "2", "--epochs", epochs, "--out", "run"], cwd=work)
    if phase == "training":
        cmd.wait_for(lambda: "train xor" in cmd.stderr())  # training has begun (its progress bar)
        time.sleep(1.0)
    else:  # the run folder's hidden temporary sibling is being filled
        cmd.wait_for(lambda: any(work.glob(".run.*")))
    cmd.send(sig)
    exit_code, lines = cmd.finish()
    assert exit_code == code, cmd.stderr()
    assert len(lines) == 1 and lines[0].startswith("deepxbar") and ("interrupted" in lines[0]
                                                                    or "terminated" in lines[0]), lines
    assert list(work.iterdir()) == []  # neither the run folder nor its hidden temporary sibling


SWEEP = ["sweep", "--grid", "write_noise=0,0.01", "--task", "xor", "--seeds", "2", "--epochs", "200",
         "--workers", "2", "--json"]


@pytest.mark.parametrize("sig, group, code", [(signal.SIGINT, False, 130), (signal.SIGTERM, False, 143),
                                              (signal.SIGINT, True, 130)], ids=["SIGINT", "SIGTERM", "ctrl-c"])
def test_an_interrupted_sweep_keeps_its_runs_stops_its_workers_and_resumes(tmp_path, capsys, sig, group, code):
    out = tmp_path / "sweep"
    cmd = Command([*SWEEP, "--out", str(out)], cwd=tmp_path)
    runs = out / "runs"
    cmd.wait_for(lambda: runs.exists() and any(runs.glob("*.json")))  # a run has finished
    workers = psutil.Process(cmd.proc.pid).children(recursive=True)
    assert workers
    cmd.send(sig, group)
    exit_code, lines = cmd.finish()
    assert exit_code == code, cmd.stderr()
    kept = list(runs.glob("*.json"))
    assert len(lines) == 1, lines
    assert f"{len(kept)} of 4 runs finished are kept in {out}: deepxbar sweep --resume {out}" in lines[0]
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, alive  # the cluster was shut down: no worker left behind
    assert not _hidden(out)  # no half-written record
    for p in kept:
        json.loads(p.read_text())
    assert main(["sweep", "--resume", str(out), "--workers", "0", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["runs"] == 4 and s["ran"] == 4 - len(kept)
