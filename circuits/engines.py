"""Every engine by name: what settles the phases of training, verify, sweeps and deploys.

An engine is ``engine(field, s0, *, steps, accumulate=False, hebbian=False)`` returning
``models.settle.SettleResult`` (``models.training.Engine``). The factories take the
training config (its ``dt``; numpy also its solver, tolerance and step cap) and the
unit conductance ``g0`` of the chip the phases run on (None: the conventions of
``circuits.physics``). Add an engine: one entry here.
"""
from __future__ import annotations

from typing import Callable

from models.training import Engine, TrainConfig, numpy_engine


def _brian2(cfg: TrainConfig, g0: float | None) -> Engine:
    from .brian import Brian2Engine
    return Brian2Engine(dt=cfg.dt) if g0 is None else Brian2Engine(dt=cfg.dt, g0=g0)


def _spice(runner: str) -> Callable[[TrainConfig, float | None], Engine]:
    def make(cfg: TrainConfig, g0: float | None) -> Engine:
        from .spice_engine import SpiceEngine
        return SpiceEngine(dt=cfg.dt, runner=runner)
    return make


ENGINES: dict[str, Callable[[TrainConfig, float | None], Engine]] = {
    "numpy": lambda cfg, g0: numpy_engine(cfg),  # the models/ solver of the config
    "brian2": _brian2,                            # the behavioural circuit model, physical units
    "spice": _spice("spice"),                     # ngspice -b, a transient per sample and phase
    "pyspice": _spice("pyspice"),                 # the same decks through PySpice, in process
}


def names() -> tuple[str, ...]:
    return tuple(ENGINES)


def make_engine(name: str, cfg: TrainConfig, g0: float | None = None) -> Engine:
    """The engine ``name`` for ``cfg``; ValueError naming the choices otherwise."""
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")
    return ENGINES[name](cfg, g0)
