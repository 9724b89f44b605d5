"""The SPICE decks of ``circuits.netlist`` as PySpice objects, simulated in process.

PySpice (GPL-3, imported only by this engine; see ``circuits/pyspice_compat.py``) drives
ngspice's shared library, so a deck runs without a subprocess and its circuit is a
Python object a notebook can inspect, modify and simulate again:

* ``circuit_of(deck) -> PySpiceDeck``: the deck translated line by line into a
  ``PySpice.Spice.Netlist.Circuit`` built with PySpice's element methods (``R``, ``C``,
  ``V``, ``I``, ``VCVS``, ``CCCS``, ``VCCS``, ``B``; no ``raw_spice`` is needed), plus the
  dot lines (``.options``, ``.ic``, ``.save``, ``.meas``, ``.tran``/``.op``) as data.
  Names, nodes and values are the deck's (PySpice prepends the type letter itself, so
  ``RW0_2`` is ``circuit.R('W0_2', ...)``): numbers are parsed from its ``%.17g`` text to
  floats and written back by PySpice with ``repr`` (the same doubles, unit-less). The
  grammar is the decks' own (below); any other line is a ``ValueError`` naming it.
* ``run_pyspice(deck, timeout, strict=, max_abs=)``: the contract of
  ``circuits.ngspice.run_ngspice`` (same keys: lower-case node names, ``"time"`` for a
  transient, ``i(vname)`` for branch currents; same refusals as ``NgspiceError``), in
  process; a deck outside the grammar is a ``ValueError`` (``run_ngspice`` leaves it to
  ngspice). Measured against ``ngspice -b`` on the same deck: operating points and the
  end states of transients equal to 1e-16..5e-13 of v_fs (5e-13: still moving at the
  end); points in mid-transient differ by up to ~1e-7 of v_fs,
  because ngspice's number parser is not correctly rounded: ``8.192e-09`` (PySpice's
  ``repr``) and ``8.1919999999999998e-09`` (the deck's ``%.17g``), the same double in
  Python, are read as doubles an ulp apart, and the adaptive time step amplifies that.
  ``.meas`` results are printed by ngspice, not returned (as with ``run_ngspice``).
* ``simulate_circuit(circuit, analysis, ...)``: simulate any ``Circuit`` (e.g.
  ``circuit_of(deck).circuit`` after an edit) the same way; ``PySpiceDeck.simulate()``
  does it with the deck's own analysis, options and initial conditions.

The deck grammar (what ``circuits.netlist`` writes): first line the title; ``*``
comments; ``Rx a b R``; ``Cx a b C [IC=v]``; ``Vx a b [DC] v``; ``Ix a b [DC] i``;
``Ex a b c d gain``; ``Fx a b Vname gain`` (``Vname`` a V source of the deck);
``Gx a b c d gm``; ``Bx a b I = expr`` (numbers, ``+ - * /``, parentheses, ``uramp(...)``,
``V(node)``); ``.options`` (``key=value`` or flags), ``.save v(node) ...``, ``.ic
v(node)=value ...``, ``.tran step stop [start [tmax]] [uic]`` or ``.op`` (exactly one),
``.meas tran|op name ...``, ``.end`` (last).

Running: each simulation loads the circuit, runs it and then removes both the circuit
(``remcirc``) and every plot (``destroy all``): PySpice's own simulator destroys old plots
but never removes circuits, which ngspice keeps (memory grows with every deck). With a
``timeout`` the analysis runs in ngspice's background thread (``bg_run``) and is halted
(``bg_halt``) when the deadline passes; with ``timeout=None`` it is PySpice's own
foreground ``simulator.transient(...)`` / ``operating_point()``, which cannot be
interrupted. One simulation at a time per process (ngspice's shared library holds one
global state): a lock serialises them.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import numpy as np

from .ngspice import _FATAL, MAX_ABS, NgspiceError, _tail, check_vectors
from .pyspice_compat import NOT_ERRORS, apply_shims, ngspice_shared

try:  # before any simulator exists (see pyspice_compat (a)); no library is loaded here
    apply_shims()
except NgspiceError:  # PySpice or libngspice missing: the functions below say so when called
    pass

_RUN_LOCK = threading.RLock()
_ABORTED = re.compile(r"simulation\(s\) aborted|circuit not parsed|simulation interrupted", re.IGNORECASE)

_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NAME = r"[A-Za-z0-9_]+"
_NUM_RE = re.compile(_NUM)
_NODE_RE = re.compile(_NAME)
_ELEMENT_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_OPTION_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?:=([A-Za-z0-9_.+\-]+))?")
_SAVE_RE = re.compile(rf"v\(({_NAME})\)", re.IGNORECASE)
_IC_RE = re.compile(rf"v\(({_NAME})\)=({_NUM})", re.IGNORECASE)
_B_RE = re.compile(r"I\s*=\s*(.+)", re.IGNORECASE)
_EXPR_TOKEN = re.compile(rf"\s*(?:({_NUM})|(uramp)\b|(V)\s*\(\s*({_NAME})\s*\)|([-+*/()]))", re.IGNORECASE)
_MEAS_TOKEN = re.compile(r"[A-Za-z0-9_.+\-=()]+")


class _Bad(Exception):
    """A line outside the grammar (the reason; ``circuit_of`` adds the line)."""


@dataclass(frozen=True)
class Tran:
    """``.tran step stop start max_step [uic]``, seconds (``max_step`` None if absent)."""

    step: float
    stop: float
    start: float = 0.0
    max_step: float | None = None
    uic: bool = False


@dataclass
class PySpiceDeck:
    """A deck as a PySpice ``circuit`` (elements only) and its control lines as data:
    ``analysis`` "tran" (with ``tran``) or "op", ``options`` ((key, value or None), ...)
    in deck order, ``ic`` {node: volts}, ``save`` (node, ...), ``meas`` ((analysis, name,
    *rest), ...) as text tokens."""

    title: str
    circuit: object  # PySpice.Spice.Netlist.Circuit
    analysis: str
    tran: Tran | None = None
    options: tuple = ()
    ic: dict = field(default_factory=dict)
    save: tuple = ()
    meas: tuple = ()

    def spec(self) -> dict:
        """Keyword arguments of ``simulate_circuit`` for this deck."""
        return dict(analysis=self.analysis, tran=self.tran, options=self.options, ic=self.ic, save=self.save,
                    meas=self.meas)

    def simulator(self, ngspice=None):
        """A PySpice ``NgSpiceSharedCircuitSimulator`` of the circuit with the deck's options,
        initial conditions, saves and measures (no analysis yet): e.g.
        ``deck.simulator().transient(deck.tran.step, deck.tran.stop, deck.tran.start,
        deck.tran.max_step, deck.tran.uic)`` is plain PySpice (but see ``simulate``:
        it also cleans ngspice's state afterwards)."""
        return make_simulator(self.circuit, ngspice=ngspice, **{k: v for k, v in self.spec().items()
                                                                 if k not in ("analysis", "tran")})

    def simulate(self, timeout: float | None = 60, *, strict: bool = True,
                 max_abs: float = MAX_ABS) -> dict[str, np.ndarray]:
        """``simulate_circuit`` with this deck's analysis and control lines."""
        return simulate_circuit(self.circuit, timeout=timeout, strict=strict, max_abs=max_abs, **self.spec())


# --------------------------------------------------------------------------- parsing
def _num(tok: str) -> float:
    if not _NUM_RE.fullmatch(tok):
        raise _Bad(f"{tok!r} is not a plain number")
    return float(tok)


def _node(tok: str) -> str:
    if not _NODE_RE.fullmatch(tok):
        raise _Bad(f"{tok!r} is not a node name")
    return tok


def _source_value(rest: list[str]) -> float:
    if len(rest) == 2 and rest[0].upper() == "DC":
        rest = rest[1:]
    if len(rest) != 1:
        raise _Bad("a source takes [DC] and one value")
    return _num(rest[0])


def _expression(text: str) -> str:
    """The B-source expression, checked against the grammar (returned unchanged)."""
    pos, depth, text = 0, 0, text.rstrip()
    while pos < len(text):
        m = _EXPR_TOKEN.match(text, pos)
        if not m:
            raise _Bad(f"unexpected {text[pos:].strip()[:20]!r} in the expression")
        op = m.group(5)
        depth += (op == "(") - (op == ")")
        if depth < 0:
            raise _Bad("unbalanced parentheses in the expression")
        pos = m.end()
    if depth or not text:
        raise _Bad("unbalanced parentheses in the expression" if text else "empty expression")
    return text.strip()


def _element(circuit, line: str, vsources: set[str], controls: list[tuple[str, str]]) -> None:
    tok = line.split()
    name = tok[0]
    if not _ELEMENT_RE.fullmatch(name):
        raise _Bad(f"{name!r} is not an element name")
    kind, suffix = name[0].upper(), name[1:]  # PySpice prepends the type letter itself
    if kind == "B":
        if len(tok) < 4:
            raise _Bad("B takes two nodes and I = expression")
        m = _B_RE.fullmatch(line.split(None, 3)[3].strip())
        if not m:
            raise _Bad("B takes I = expression (only current sources)")
        circuit.B(suffix, _node(tok[1]), _node(tok[2]), current_expression=_expression(m.group(1)))
        return
    if kind == "R":
        if len(tok) != 4:
            raise _Bad("R takes two nodes and a value")
        circuit.R(suffix, _node(tok[1]), _node(tok[2]), _num(tok[3]))
    elif kind == "C":
        ic = None
        if len(tok) == 5:
            key, eq, val = tok[4].partition("=")
            if key.upper() != "IC" or not eq:
                raise _Bad("C takes two nodes, a value and IC=v")
            ic = _num(val)
        elif len(tok) != 4:
            raise _Bad("C takes two nodes, a value and IC=v")
        kw = {} if ic is None else {"initial_condition": ic}
        circuit.C(suffix, _node(tok[1]), _node(tok[2]), _num(tok[3]), **kw)
    elif kind in "VI":
        if len(tok) < 4:
            raise _Bad(f"{kind} takes two nodes and [DC] value")
        value = _source_value(tok[3:])
        add = circuit.V if kind == "V" else circuit.I
        add(suffix, _node(tok[1]), _node(tok[2]), value)
        if kind == "V":
            vsources.add(name.upper())
    elif kind in "EG":
        if len(tok) != 6:
            raise _Bad(f"{kind} takes four nodes and a gain")
        nodes = [_node(t) for t in tok[1:5]]
        if kind == "E":
            circuit.VCVS(suffix, *nodes, voltage_gain=_num(tok[5]))
        else:
            circuit.VCCS(suffix, *nodes, transconductance=_num(tok[5]))
    elif kind == "F":
        if len(tok) != 5:
            raise _Bad("F takes two nodes, a V source and a gain")
        if not _ELEMENT_RE.fullmatch(tok[3]) or tok[3][0].upper() != "V":
            raise _Bad(f"F must sense a V source, got {tok[3]!r}")
        circuit.CCCS(suffix, _node(tok[1]), _node(tok[2]), tok[3], _num(tok[4]))
        controls.append((name, tok[3].upper()))
    else:
        raise _Bad(f"element type {kind!r} is not in the deck grammar")


def circuit_of(deck: str) -> PySpiceDeck:
    """Translate a deck of ``circuits.netlist`` (grammar in the module docstring) into a
    PySpice ``Circuit`` with the same elements (names, nodes, values) and its control
    lines; ``ValueError`` naming the first line outside the grammar."""
    try:
        from PySpice.Spice.Netlist import Circuit
    except ImportError as exc:
        raise NgspiceError(f"PySpice is not installed (optional, GPL-3): {exc}") from None
    lines = deck.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ValueError("empty deck")
    title = lines[0].rstrip("\r")
    circuit = Circuit(title)
    options, ic, save, meas = [], {}, [], []
    analysis, tran, ended = None, None, False
    vsources: set[str] = set()
    controls: list[tuple[str, str]] = []
    for k, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        try:
            if ended:
                if line:
                    raise _Bad("text after .end")
                continue
            if not line or line.startswith("*"):
                continue
            if not line.isascii() or not line.isprintable():
                raise _Bad("non-printable or non-ASCII characters")
            if not line.startswith("."):
                _element(circuit, line, vsources, controls)
                continue
            tok = line.split()
            cmd = tok[0].lower()
            if cmd == ".options":
                for t in tok[1:]:
                    m = _OPTION_RE.fullmatch(t)
                    if not m:
                        raise _Bad(f"option {t!r} is not key=value or a flag")
                    options.append((m.group(1), m.group(2)))
            elif cmd == ".save":
                for t in tok[1:]:
                    m = _SAVE_RE.fullmatch(t)
                    if not m:
                        raise _Bad(f"only v(node) can be saved, got {t!r}")
                    save.append(m.group(1))
            elif cmd == ".ic":
                for t in tok[1:]:
                    m = _IC_RE.fullmatch(t)
                    if not m:
                        raise _Bad(f"{t!r} is not v(node)=value")
                    ic[m.group(1)] = _num(m.group(2))
            elif cmd in (".tran", ".op"):
                if analysis is not None:
                    raise _Bad("a second analysis")
                analysis = cmd[1:]
                if cmd == ".op":
                    if len(tok) != 1:
                        raise _Bad(".op takes no arguments")
                    continue
                args = tok[1:]
                uic = bool(args) and args[-1].lower() == "uic"
                args = args[:-1] if uic else args
                if not 2 <= len(args) <= 4:
                    raise _Bad(".tran takes step stop [start [tmax]] [uic]")
                vals = [_num(a) for a in args]
                tran = Tran(vals[0], vals[1], vals[2] if len(vals) > 2 else 0.0,
                            vals[3] if len(vals) > 3 else None, uic)
            elif cmd in (".meas", ".measure"):
                if len(tok) < 4 or tok[1].lower() not in ("tran", "op") or not _NODE_RE.fullmatch(tok[2]):
                    raise _Bad(".meas takes tran|op, a name and its arguments")
                if not all(_MEAS_TOKEN.fullmatch(t) for t in tok[3:]):
                    raise _Bad("unexpected characters in .meas")
                meas.append(tuple(tok[1:]))
            elif cmd == ".end":
                if len(tok) != 1:
                    raise _Bad(".end takes no arguments")
                ended = True
            else:
                raise _Bad(f"control line {tok[0]!r} is not in the deck grammar")
        except _Bad as exc:
            raise ValueError(f"deck line {k} is outside the grammar ({exc}): {raw.strip()[:120]!r}") from None
        except (ValueError, NameError) as exc:  # PySpice's own (NameError: a duplicate element name)
            raise ValueError(f"deck line {k}: {exc}: {raw.strip()[:120]!r}") from None
    if not ended:
        raise ValueError("the deck has no .end line")
    if analysis is None:
        raise ValueError("the deck has no analysis line (.tran or .op)")
    for fname, vname in controls:
        if vname not in vsources:
            raise ValueError(f"deck element {fname} senses {vname}, which is not a V source of the deck")
    return PySpiceDeck(title, circuit, analysis, tran, tuple(options), ic, tuple(save), tuple(meas))


# --------------------------------------------------------------------------- simulating
def make_simulator(circuit, *, options=(), ic=None, save=(), meas=(), ngspice=None):
    """``circuit.simulator(simulator='ngspice-shared')`` on the shimmed shared instance,
    with ``options`` ((key, value or None), ...), ``ic`` {node: volts}, ``save`` (node, ...)
    and ``meas`` ((analysis, name, *rest), ...) set; no analysis yet. PySpice adds
    ``.options TEMP = 27C`` and ``TNOM = 27C`` (ngspice's defaults) to every deck."""
    ng = ngspice_shared() if ngspice is None else ngspice
    sim = circuit.simulator(simulator="ngspice-shared", ngspice_shared=ng)
    for key, value in (options.items() if isinstance(options, dict) else options):
        if value is None:
            sim.options(key)
        else:
            sim.options(**{key: value})
    if ic:
        sim.initial_condition(**{str(n): float(v) for n, v in ic.items()})
    if save:
        sim.save([f"v({n})" for n in save])  # PySpice's save() takes one iterable
    for m in meas:
        sim.measure(*m)
    return sim


def _errors(ng) -> list[str]:
    """ngspice's error lines of the last command, as PySpice's ``_send_char`` classifies
    them (stderr except warnings and progress notes; stdout lines saying "error")."""
    bad = [ln for ln in ng._stderr if not ln.lstrip().startswith(NOT_ERRORS)]
    return bad + [ln for ln in ng._stdout if "error" in ln.lower()]


def _log(ng) -> str:
    return ng.stdout + "\n" + ng.stderr


def _cleanup(ng) -> None:
    """Remove every circuit and every plot but ``const``: nothing leaks to the next deck.
    Quiet: the loop ends on ngspice's "there is no circuit loaded" (a warning plus
    "Command 'remcirc' is ignored", which PySpice would count as an error)."""
    from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError
    ng.deepxbar_quiet = True
    try:
        for _ in range(1000):
            try:
                ng.exec_command("remcirc")
            except NgSpiceCommandError:
                break
            if any("no circuit loaded" in ln for ln in ng._stderr):
                break
        try:
            ng.destroy()
        except NgSpiceCommandError:
            pass
    finally:
        ng.deepxbar_quiet = False


def _run_background(sim, ng, timeout: float) -> None:
    """Load ``str(sim)``, run it in ngspice's background thread, wait at most ``timeout``
    seconds (then ``bg_halt`` and ``NgspiceError``)."""
    from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError
    ng.load_circuit(str(sim))  # its errors stay in ng.stdout / ng.stderr for the caller
    ng.deepxbar_idle.clear()
    if ng._ngspice_shared.ngSpice_Command(b"bg_run"):  # not exec_command: that clears the log
        raise NgspiceError(f"ngspice refused bg_run\n{_tail(_log(ng))}")
    if not ng.deepxbar_idle.wait(timeout):
        log = _log(ng)
        ng.deepxbar_quiet = True  # "pause requested" goes to stderr
        try:
            ng.exec_command("bg_halt")
        except NgSpiceCommandError:
            pass
        finally:
            ng.deepxbar_quiet = False
        ng.deepxbar_idle.wait(10.0)
        raise NgspiceError(f"ngspice (shared) timed out after {timeout} s\n{_tail(log)}")


def simulate_circuit(circuit, analysis: str = "tran", *, tran: Tran | tuple | None = None, options=(),
                     ic=None, save=(), meas=(), timeout: float | None = 60, strict: bool = True,
                     max_abs: float = MAX_ABS) -> dict[str, np.ndarray]:
    """Simulate a PySpice ``Circuit`` in process; ``run_ngspice``'s return format.

    ``analysis`` "tran" (``tran`` a ``Tran`` or ``(step, stop, start, max_step, uic)``,
    seconds) or "op"; ``options``, ``ic``, ``save``, ``meas`` as in ``PySpiceDeck``.
    Returns ``{name: array}`` of the analysis' plot (lower-case node names, ``"time"``,
    ``i(vname)``). Raises ``NgspiceError`` on an error reported by ngspice (with
    ``strict`` also on a singular matrix, a time step too small, an aborted simulation),
    on no result, non-finite values or any value above ``max_abs``, and after
    ``timeout`` seconds (``None``: no limit, PySpice's own foreground run).
    """
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError, NgSpiceCommandError
    from PySpice.Spice.Simulation import CircuitSimulation
    if analysis not in ("tran", "op"):
        raise ValueError(f"analysis must be 'tran' or 'op', got {analysis!r}")
    if analysis == "tran":
        if tran is None:
            raise ValueError("a transient needs tran=(step, stop, start, max_step, uic)")
        tran = tran if isinstance(tran, Tran) else Tran(*tran)
    ng = ngspice_shared()
    with _RUN_LOCK:
        sim = make_simulator(circuit, options=options, ic=ic, save=save, meas=meas, ngspice=ng)
        args = (tran.step, tran.stop, tran.start, tran.max_step, tran.uic) if analysis == "tran" else ()
        result, failure = None, None
        try:
            _cleanup(ng)
            if timeout is None or not ng.deepxbar_shimmed:  # PySpice's own run (foreground,
                # cannot be interrupted; the only way with an instance created before the shims)
                try:
                    result = sim.transient(*args) if analysis == "tran" else sim.operating_point()
                except NameError as exc:  # PySpice's NgSpiceCommandError, NgSpiceCircuitError,
                    errors = _errors(ng)   # "Simulation failed" (no plot): ngspice's own words
                    failure = (errors[0].strip() if errors else f"{type(exc).__name__}: {exc}")
                    if not strict and isinstance(exc, NgSpiceCommandError):
                        failure = None  # read the plot anyway, as below
            else:
                if analysis == "tran":  # register the analysis without running it
                    CircuitSimulation.transient(sim, *args)
                else:
                    CircuitSimulation.operating_point(sim)
                _run_background(sim, ng, timeout)
            log, errors = _log(ng), _errors(ng)
            if failure is None and errors and strict:
                failure = errors[0].strip()
            if failure is None:  # no usable result, strict or not (ngspice -b exits with 1)
                aborted = [ln.strip() for ln in log.splitlines() if _ABORTED.search(ln)]
                failure = aborted[0] if aborted else None
            if failure is None and strict:
                fatal = [ln.strip() for ln in log.splitlines() if _FATAL.search(ln)]
                failure = fatal[0] if fatal else None
            if failure is not None:
                raise NgspiceError(f"ngspice (shared) reported: {failure}\n{_tail(log)}")
            if result is None:
                names = [p for p in ng.plot_names if p != "const"]
                if not names:
                    raise NgspiceError(f"ngspice (shared) produced no plot\n{_tail(log)}")
                result = ng.plot(sim, ng.last_plot).to_analysis()
            vecs = _vectors(result, analysis)
        except (NgSpiceCircuitError, NgSpiceCommandError) as exc:
            raise NgspiceError(f"ngspice (shared) failed: {type(exc).__name__} {exc}\n{_tail(_log(ng))}") from None
        finally:
            _cleanup(ng)
    return check_vectors(vecs, max_abs, log)


def _vectors(result, analysis: str) -> dict[str, np.ndarray]:
    vecs = {}
    if analysis == "tran":
        vecs["time"] = np.array(result.time, dtype=float)
    for name, wave in result.nodes.items():
        vecs[name.lower()] = np.atleast_1d(np.array(wave, dtype=float))
    for name, wave in result.branches.items():
        key = name.lower()
        key = f"i({key[:-len('#branch')]})" if key.endswith("#branch") else f"i({key})"
        vecs[key] = np.atleast_1d(np.array(wave, dtype=float))
    return vecs


def run_pyspice(deck: str, timeout: float = 60, *, strict: bool = True,
                max_abs: float = MAX_ABS) -> dict[str, np.ndarray]:
    """Run one complete deck in process (PySpice + ngspice's shared library): the
    contract and return format of ``circuits.ngspice.run_ngspice``. A deck outside the
    grammar of ``circuit_of`` is a ``ValueError``."""
    return circuit_of(deck).simulate(timeout, strict=strict, max_abs=max_abs)
