"""The shims PySpice 1.5 needs to drive Debian's ngspice 39 in shared-library mode.

Licence: PySpice is GPL-3 (deepxbar is MIT). It is installed with deepxbar (pinned 1.5)
but imported only by this module and ``circuits/pyspice.py`` (the in-process ngspice
engine, ``--engine pyspice``), never at the import of ``circuits`` or of anything else.

``ngspice_shared()`` applies the shims once (idempotently) and returns the process-wide
``NgSpiceShared`` instance (ngspice id 0); ``import circuits.pyspice`` already applies
them (without loading the library), so that a notebook's own
``circuit.simulator(simulator='ngspice-shared')`` finds the library too. Measured with
PySpice 1.5, Debian's ngspice 39 (``libngspice0``) and NumPy 2.3:

(a) **Library path.** PySpice looks for ``libngspice.so`` (the development symlink, which
    Debian's ``libngspice0`` does not ship); the runtime library is
    ``/usr/lib/<multiarch>/libngspice.so.0``. ``NgSpiceShared.LIBRARY_PATH`` is set to it
    (``$NGSPICE_LIBRARY_PATH`` wins when set) *before* the first instance is created:
    PySpice runs ``ffi.cdef`` before ``dlopen``, so a failed first load leaves cffi with
    the declarations and every retry in the same process fails with "duplicate
    declaration". Hence the path is checked first, and a failure is remembered and
    re-raised as the same one-line ``NgspiceError`` instead of retried.
(b) **Chatty stderr.** PySpice's ``_send_char`` callback marks *every* stderr line that
    does not start with ``Warning:`` as an error, and ``exec_command('run')`` then raises
    ``NgSpiceCommandError: Command 'run' failed``. ngspice writes its progress notes there
    (``Note: Starting dynamic gmin stepping``, ``Trying gmin = ...``, ``Supplies reduced
    to ...``, ``Using SPARSE ...``), so a deck that converges by gmin or source stepping
    would "fail". The wrapper takes over stderr: every line is kept in the instance's
    stderr (``ng.stderr``) and logged at DEBUG (logger ``circuits.pyspice_compat``); the
    error flag is set, as PySpice does, for every line *but* those notes and
    ``Warning:`` lines. PySpice itself logs stderr at WARNING/ERROR, which with no logging
    configured prints every "Warning: Further gmin increment" of every deck on the
    terminal; ``run_ngspice`` keeps the log silent too and shows its tail only in an
    ``NgspiceError``. stdout goes to PySpice's own callback unchanged. The callback is
    bound when the instance is created, so the wrapper is installed on the class before.
(c) **Version table.** PySpice 1.5 knows ngspice up to 34 and logs "Unsupported Ngspice
    version 39" (then uses its last table, which is right for 39): 39 is mapped to the
    last table, which silences the warning.
(d) **Background runs.** PySpice's ``_background_thread_running`` callback returns None
    (cffi prints "TypeError: an integer is required" at every ``bg_run``) and stores the
    flag inverted (ngspice passes *true* when the background thread has stopped). The
    replacement returns 0, keeps ``is_running`` right and sets the instance's
    ``deepxbar_idle`` event when the thread stops: ``circuits.pyspice`` waits on it with a
    timeout (the only way to bound an in-process run is ``bg_run`` + ``bg_halt``).

The wrapper of (b) also keeps quiet (logs at DEBUG, no error flag) while the instance's
``deepxbar_quiet`` is true: ``circuits.pyspice`` sets it while it removes old circuits,
where "there aren't any circuits loaded" is the expected end of the loop.

Other facts worth knowing (handled in ``circuits/pyspice.py``): an ``.op`` gives
1-element ``WaveForm`` s (``float(x[0])`` or ``np.asarray(x)``); vector and branch names
come back lower-case; PySpice's simulator destroys old plots before each run but never
removes old circuits (ngspice keeps every circuit sourced: ``remcirc`` is needed).
PySpice's subprocess mode is not used.
"""
from __future__ import annotations

import ctypes.util
import glob
import logging
import os
import platform
import sysconfig
import threading

from .ngspice import NgspiceError

_log = logging.getLogger(__name__)

# stderr lines of ngspice that are progress notes, not errors (shim b)
BENIGN_STDERR = ("Note:", "Trying", "Supplies reduced", "Using")
NOT_ERRORS = BENIGN_STDERR + ("Warning:",)  # PySpice too lets warnings pass

_lock = threading.Lock()
_instance = None
_failure: str | None = None


def find_library() -> str | None:
    """Path (or soname) of ngspice's shared library: ``$NGSPICE_LIBRARY_PATH`` if set,
    else ``libngspice.so.0`` / ``libngspice.so`` in the multiarch library folder (or the
    usual lib folders), else what ``ctypes.util.find_library('ngspice')`` finds; None."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        return env
    arch = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    folders = [f"/usr/lib/{arch}", f"/lib/{arch}", "/usr/local/lib", "/usr/lib64", "/usr/lib"]
    for folder in folders:
        for name in ("libngspice.so.0", "libngspice.so"):
            path = os.path.join(folder, name)
            if os.path.exists(path):
                return path
    found = sorted(glob.glob("/usr/lib/*/libngspice.so.0"))  # another multiarch folder
    if found:
        return found[0]
    return ctypes.util.find_library("ngspice")


def _quiet_send_char_factory(original, ffi, ffi_string_utf8):
    def _send_char(message_c, ngspice_id, user_data):
        message = ffi_string_utf8(message_c)
        prefix, _, content = message.partition(" ")
        if prefix != "stderr":
            return original(message_c, ngspice_id, user_data)  # stdout: PySpice's own
        self = ffi.from_handle(user_data)
        self._stderr.append(content)
        if content.strip() == "Note: can't find init file.":
            self._spinit_not_found = True
        if not (content.lstrip().startswith(NOT_ERRORS) or self.deepxbar_quiet):
            self._error_in_stderr = True  # as PySpice: exec_command then raises
        _log.debug("ngspice stderr: %s", content)
        return self.send_char(message, ngspice_id)

    _send_char.deepxbar_shim = True
    _send_char.__wrapped__ = original
    return _send_char


def _background_thread_running(is_idle, ngspice_id, user_data):
    """ngspice's ``BGThreadRunning`` callback: ``is_idle`` is true when the background
    thread has *stopped*. PySpice's own returns None (cffi then prints "TypeError: an
    integer is required" on every background run) and stores the flag inverted."""
    from PySpice.Spice.NgSpice.Shared import ffi
    self = ffi.from_handle(user_data)
    self._is_running = not is_idle
    (self.deepxbar_idle.set if is_idle else self.deepxbar_idle.clear)()
    return 0


_background_thread_running.deepxbar_shim = True


def apply_shims() -> None:
    """Install shims (a)-(d) on PySpice's ``NgSpiceShared`` class; idempotent. Raises
    ``NgspiceError`` when PySpice is not installed or the library cannot be found."""
    try:
        from PySpice.Spice.NgSpice import Shared
        from PySpice.Spice.NgSpice.SimulationType import SIMULATION_TYPE
    except ImportError as exc:
        raise NgspiceError(f"PySpice is not installed (optional, GPL-3): {exc}") from None
    cls = Shared.NgSpiceShared
    if not getattr(cls._send_char, "deepxbar_shim", False):  # (b)
        if cls._instances:
            _log.warning("an NgSpiceShared instance was created before deepxbar's shims: it keeps "
                         "PySpice's callbacks (gmin-stepping notes fail runs, no timeouts); "
                         "import circuits.pyspice before simulating with PySpice")
        cls._send_char = staticmethod(_quiet_send_char_factory(cls._send_char, Shared.ffi,
                                                               Shared.ffi_string_utf8))
    SIMULATION_TYPE.setdefault(39, SIMULATION_TYPE["last"])  # (c)
    if not getattr(cls._background_thread_running, "deepxbar_shim", False):  # (d)
        cls._background_thread_running = staticmethod(_background_thread_running)
    # attributes the shimmed callbacks read (class defaults, per-instance when set)
    cls.deepxbar_quiet = False
    if not isinstance(getattr(cls, "deepxbar_idle", None), threading.Event):
        cls.deepxbar_idle = threading.Event()
    if not cls._instances:  # (a): only matters before the first instance
        path = find_library()
        if path is None or (os.path.isabs(path) and not os.path.exists(path)):
            raise NgspiceError(f"ngspice shared library not found ({path or 'libngspice.so.0'}): "
                               "install libngspice0 or set NGSPICE_LIBRARY_PATH")
        # PySpice formats LIBRARY_PATH with the ngspice id ("libngspice{}.so"): escape braces
        cls.LIBRARY_PATH = path.replace("{", "{{").replace("}", "}}")


def ngspice_shared():
    """The process-wide ``NgSpiceShared`` instance (ngspice id 0), shims applied (its
    ``deepxbar_shimmed`` is False if PySpice created it before the shims were installed).

    Not thread-safe beyond its creation: ngspice's shared library holds one global
    simulator state, so simulate from one thread at a time (``circuits.pyspice`` holds a
    lock around each run)."""
    global _instance, _failure
    if _instance is not None:
        return _instance
    with _lock:
        if _instance is not None:
            return _instance
        if _failure is not None:  # a failed load cannot be retried in this process (see (a))
            raise NgspiceError(_failure)
        apply_shims()
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared
        preexisting = bool(NgSpiceShared._instances)
        try:
            ng = NgSpiceShared.new_instance()
        except Exception as exc:  # OSError from dlopen, NameError from ngSpice_Init...
            _failure = (f"cannot load ngspice's shared library {NgSpiceShared.LIBRARY_PATH!r}: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            raise NgspiceError(_failure) from None
        ng.deepxbar_idle = threading.Event()
        ng.deepxbar_quiet = False
        # an instance PySpice created before the shims keeps PySpice's callbacks (bound at
        # its creation): no idle event, so circuits.pyspice cannot bound its runs
        ng.deepxbar_shimmed = not preexisting
        _instance = ng
        return ng
