"""A thin runner around ``ngspice -b`` (batch mode) and a parser of its rawfiles.

``run_ngspice(deck)`` writes the deck to a fresh temporary directory, runs
``ngspice -b -r out.raw deck.cir`` there and returns every vector of the last plot of
the rawfile as a NumPy array, keyed by its name in lower case with ``v(...)`` removed
from node voltages (``"time"``, ``"n3"``, ``"i(vsense0)"``...). Binary and ASCII
rawfiles are both read (a user ``.spiceinit`` may set ``filetype=ascii``).

ngspice is chatty: ``Note:`` lines, gmin-stepping messages and warnings are not errors
by themselves. What is refused (``NgspiceError``, with the tail of the log):

* a non-zero exit status, a timeout, a missing or empty rawfile;
* non-finite values, or any value above ``max_abs`` (1e6) in magnitude: ngspice solves a
  singular circuit (the unclamped free phase of DEEP) *silently* to |V| ~ 1e14;
* with ``strict`` (the default), a log that reports a singular matrix, a time step too
  small or an aborted simulation: the numbers it still writes are then meaningless
  (with gmin stepping they are set by the gmin shunt, not by the circuit).

No ``.control`` block is used or needed: the decks of ``circuits.netlist`` are plain
netlists, which is also why they cannot run shell commands.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

NGSPICE = "ngspice"
MAX_ABS = 1e6  # volts (or amperes): anything above is the singular-circuit signature
_FATAL = re.compile(
    r"singular matrix|timestep too small|simulation\(s\) aborted|run simulation\(s\) aborted|"
    r"error on line|fatal error|unknown subckt|could not find",
    re.IGNORECASE,
)


class NgspiceError(RuntimeError):
    """ngspice failed, or returned results that cannot be trusted."""


_NOISE = re.compile(r"DRAM|pages|program size|^\s*Stack|elapsed time|analysis time", re.IGNORECASE)


def _tail(text: str, n: int = 15) -> str:
    """The last ``n`` informative lines of the log (memory statistics left out)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not _NOISE.search(ln)]
    return "\n".join(lines[-n:])


def ngspice_available() -> bool:
    return shutil.which(NGSPICE) is not None


def run_ngspice(deck: str, timeout: float = 60, *, strict: bool = True,
                max_abs: float = MAX_ABS) -> dict[str, np.ndarray]:
    """Run one complete deck (title line ... ``.end``) and return its vectors.

    Returns ``{name: array}`` for the last plot of the rawfile (one entry per point;
    an ``.op`` gives arrays of length 1). Raises ``NgspiceError`` as described in the
    module docstring.
    """
    exe = shutil.which(NGSPICE)
    if exe is None:
        raise NgspiceError("ngspice not found on PATH")
    with tempfile.TemporaryDirectory(prefix="deepxbar-spice-") as tmp:
        cir = os.path.join(tmp, "deck.cir")
        raw = os.path.join(tmp, "out.raw")
        with open(cir, "w", encoding="ascii") as fh:
            fh.write(deck if deck.endswith("\n") else deck + "\n")
        try:
            proc = subprocess.run([exe, "-b", "-r", raw, cir], cwd=tmp, capture_output=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            log = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
            raise NgspiceError(f"ngspice timed out after {timeout} s\n{_tail(log)}") from None
        log = proc.stdout.decode(errors="replace") + "\n" + proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise NgspiceError(f"ngspice exited with status {proc.returncode}\n{_tail(log)}")
        if strict:
            bad = [ln.strip() for ln in log.splitlines() if _FATAL.search(ln)]
            if bad:
                raise NgspiceError(f"ngspice reported: {bad[0]}\n{_tail(log)}")
        if not os.path.exists(raw) or os.path.getsize(raw) == 0:
            raise NgspiceError(f"ngspice wrote no rawfile\n{_tail(log)}")
        with open(raw, "rb") as fh:
            data = fh.read()
    try:
        plots = parse_raw(data)
    except ValueError as exc:
        raise NgspiceError(f"unreadable rawfile: {exc}\n{_tail(log)}") from None
    if not plots:
        raise NgspiceError(f"the rawfile holds no plot\n{_tail(log)}")
    return check_vectors(plots[-1][1], max_abs, log)


def check_vectors(vecs: dict[str, np.ndarray], max_abs: float, log: str) -> dict[str, np.ndarray]:
    """``vecs`` if they hold points, all finite and below ``max_abs`` (time excepted);
    otherwise ``NgspiceError`` with the tail of the ngspice ``log``."""
    if not vecs or len(next(iter(vecs.values()))) == 0:
        raise NgspiceError(f"ngspice returned no points\n{_tail(log)}")
    for name, v in vecs.items():
        if not np.isfinite(v).all():
            raise NgspiceError(f"non-finite values in {name}\n{_tail(log)}")
        if name not in ("time", "frequency") and np.abs(v).max() > max_abs:
            raise NgspiceError(
                f"absurd value {np.abs(v).max():.3g} in {name} (> {max_abs:g}): singular or unbounded circuit\n"
                f"{_tail(log)}")
    return vecs


def _key(name: str) -> str:
    name = name.strip().lower()
    m = re.fullmatch(r"v\((.*)\)", name)
    return m.group(1) if m else name


def parse_raw(data: bytes) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Every plot of an ngspice rawfile (binary or ASCII, real or complex), in order:
    a list of ``(plotname, {vector: array})``."""
    plots = []
    pos = 0
    while pos < len(data):
        # header: ASCII lines up to "Binary:" or "Values:"
        header, nvars, npts, names, complex_ = {}, None, None, [], False
        plotname = ""
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                if plots or not data[pos:].strip():
                    return plots
                raise ValueError("truncated header")
            line = data[pos:nl].decode("ascii", errors="replace")
            pos = nl + 1
            if not line.strip() and nvars is None:
                continue
            key, _, val = line.partition(":")
            key = key.strip().lower()
            if key == "plotname":
                plotname = val.strip()
            elif key == "flags":
                complex_ = "complex" in val.lower()
            elif key == "no. variables":
                nvars = int(val)
            elif key == "no. points":
                npts = int(val)
            elif key == "variables":
                if nvars is None:
                    raise ValueError("Variables before No. Variables")
                for _ in range(nvars):
                    nl = data.find(b"\n", pos)
                    parts = data[pos:nl].decode("ascii", errors="replace").split()
                    pos = nl + 1
                    if len(parts) < 2:
                        raise ValueError("bad variable line")
                    names.append(_key(parts[1]))
            elif key in ("binary", "values"):
                header["kind"] = key
                break
        if nvars is None or npts is None or len(names) != nvars:
            raise ValueError("incomplete header")
        width = 2 if complex_ else 1
        if header["kind"] == "binary":
            n = npts * nvars * width
            buf = np.frombuffer(data, dtype="<f8", count=n, offset=pos)
            pos += 8 * n
            arr = buf.reshape(npts, nvars, width)
        else:
            arr = np.empty((npts, nvars, width))
            tokens = []
            need = npts * (nvars * width + 1)  # each point starts with its index
            while len(tokens) < need:
                nl = data.find(b"\n", pos)
                nl = len(data) if nl < 0 else nl
                if pos >= len(data):
                    raise ValueError("truncated values")
                tokens.extend(data[pos:nl].decode("ascii").replace(",", " ").split())
                pos = nl + 1
            k = 0
            for p in range(npts):
                k += 1  # point index
                for v in range(nvars):
                    arr[p, v] = [float(t) for t in tokens[k:k + width]]
                    k += width
        vecs = {}
        for v, name in enumerate(names):
            col = arr[:, v, 0] if width == 1 else arr[:, v, 0] + 1j * arr[:, v, 1]
            vecs[name] = np.array(col)
        plots.append((plotname, vecs))
    return plots
