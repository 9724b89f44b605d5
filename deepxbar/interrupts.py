"""Interrupts as exceptions: SIGINT (Ctrl-C) raises ``KeyboardInterrupt`` (Python's own
handler), SIGTERM raises ``Terminated``, a ``KeyboardInterrupt`` too, so that every
``finally`` and ``except BaseException`` on the way out runs (a run folder's hidden
temporary sibling removed, a Dask cluster shut down) whichever of the two stopped the
command. ``exit_code`` gives the shell's convention: 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is when it arrives."""

    signum = signal.SIGTERM


def exit_code(e: BaseException) -> int:
    """128 + the number of the signal that raised ``e`` (130 for a plain KeyboardInterrupt)."""
    return 128 + int(getattr(e, "signum", signal.SIGINT))


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def terminate_as_interrupt():
    """Within the block SIGTERM raises ``Terminated`` (a KeyboardInterrupt); the previous
    handler is restored after it. A no-op outside the main thread (no handler can be set)."""
    if not _main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred():
    """Within the block (a shutdown that must finish: closing a Dask cluster) SIGINT and
    SIGTERM are remembered instead of raised; the first one is raised after the block
    (``KeyboardInterrupt`` or ``Terminated``), unless an exception already leaves it."""
    if not _main_thread():
        yield
        return
    pending: list[int] = []

    def remember(signum, frame):
        pending.append(signum)

    previous = {s: signal.signal(s, remember) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if pending:
        raise Terminated() if pending[0] == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def ignored():
    """Within the block SIGINT is ignored (SIG_IGN): processes started in it (Dask's
    workers) inherit that and leave a Ctrl-C to their parent, which shuts them down. A
    SIGINT that arrives within the block is lost. A no-op outside the main thread."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
