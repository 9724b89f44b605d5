"""Judging trained networks: repeated free phases, success, and stability reports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import model as models
from .dynamics import AffineField
from .stability import gershgorin, local_certificate, spectral_abscissa
from .streams import BASIN, EVAL, NOISE, generators
from .training import Network, TrainConfig, free_phase, target_classes

BASIN_STARTS = 20  # starts drawn U(0, 1) per pattern for basin accuracy


@dataclass(frozen=True)
class Evaluation:
    """Repeated free phases of K networks, arrays over (K, repeats, ...): ``outputs`` (K,
    R, B, n_out), ``states`` (K, R, B, N), ``right`` (K, R, B) per pattern, ``correct``
    (K, R) every pattern right, ``error`` (K, R) fraction misclassified, ``converged``
    (K, R) every sample settled (the fast solver stops on the residual; the reference
    solver runs its fixed horizon and is judged where it stops); ``fields`` one per
    repeat; ``init_state`` the starts' bound."""

    outputs: np.ndarray
    states: np.ndarray
    right: np.ndarray
    correct: np.ndarray
    error: np.ndarray
    converged: np.ndarray
    fields: list
    init_state: float

    @property
    def ok(self) -> np.ndarray:
        """(K, R, B) right and settled."""
        return self.right & self.converged[..., None]

    @property
    def success(self) -> np.ndarray:
        """(K,) every pattern right and settled on every repeat."""
        return self.correct.all(1) & self.converged.all(1)

    @property
    def accuracy(self) -> np.ndarray:
        """(K,) fraction of (repeat, pattern) pairs right and settled."""
        return self.ok.mean((1, 2))


@dataclass(frozen=True)
class StabilityReport:
    """One network: the paper's global tests on its Jacobian (``gershgorin``: diagonal,
    rows, columns, hurwitz), the global spectral abscissa, the local certificate at every
    equilibrium reached (``equilibria``: one dict per (repeat, pattern)), their largest
    abscissa and ``stable`` (every one certified)."""

    seed: int
    gershgorin: dict[str, bool]
    spectral_abscissa_global: float
    spectral_abscissa_local_max: float
    stable: bool
    equilibria: list[dict]

    @property
    def certified(self) -> int:
        return sum(e["stable"] for e in self.equilibria)

FieldSource = Callable[[int], AffineField]
"""The field of repeat ``r`` (hardware: a fresh read of the crossbar per inference)."""


def evaluate(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
             repeats: int = 10, solver: str | None = None, *, init_state: float | None = None,
             field: AffineField | FieldSource | None = None, stream: int = EVAL) -> Evaluation:
    """Run the free phase ``repeats`` times from fresh random initial states.

    Conditions, all stated: non-input neurons start ~ Uniform(0, ``init_state``)
    (default ``cfg.init_state``, the start of training and inference), drawn from
    generators seeded ``(seed, stream, r)`` so they never reuse the training draws;
    the field is the network's own (default), a given one, or one per repeat (a
    callable ``r -> AffineField``, e.g. a fresh read of a crossbar).
    """
    solver = solver or cfg.solver
    init_state = cfg.init_state if init_state is None else init_state
    classes = target_classes(Y)
    readout = models.get(cfg.model).readout
    outs, states, rights, conv, fields_ = [], [], [], [], []
    for r in range(repeats):
        rngs = generators(seeds, stream, r)
        f = field(r) if callable(field) and not isinstance(field, AffineField) else field
        f, res = free_phase(net, cfg, X, rngs, solver=solver, init_state=init_state, field=f)
        o = res.s[..., net.topology.outputs]
        outs.append(o)
        states.append(res.s)
        fields_.append(f)
        rights.append(readout(o) == classes)
        conv.append(res.converged.all(-1) if solver == "fast" else np.ones(len(seeds), bool))
    right = np.stack(rights, 1)
    return Evaluation(np.stack(outs, 1), np.stack(states, 1), right, right.all(-1), 1.0 - right.mean(-1),
                      np.stack(conv, 1), fields_, float(init_state))


def basin_accuracy(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
                   starts: int = BASIN_STARTS, field: AffineField | FieldSource | None = None
                   ) -> np.ndarray:
    """Per network (K,): the fraction of (start, pattern) pairs classified right (and
    settled) when the free phase starts from non-input states drawn Uniform(0, 1), the
    whole state box, ``starts`` draws per pattern (stream ``models.streams.BASIN``). 1.0 means
    every equilibrium the network can reach from anywhere answers right."""
    return evaluate(net, cfg, X, Y, seeds, starts, "fast", init_state=1.0, field=field, stream=BASIN).accuracy


def weight_noise_robustness(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray,
                            seeds: list[int], sigmas, trials: int = 20, repeats: int = 1) -> dict:
    """Accuracy under additive weight noise: for every ``sigma`` and trial, fresh
    ``N(0, sigma^2)`` on every live weight (allowed and not pruned; the others stay 0),
    then ``repeats`` free phases from the training starts. Draws: ``(seed, NOISE,
    sigma index, trial)``. Returns per sigma arrays (len(sigmas), K, trials):
    ``all_correct`` (every pattern right on every repeat, settled) and ``accuracy``
    (fraction of (repeat, pattern) pairs right and settled).
    """
    K, N, _ = net.W.shape
    all_correct = np.zeros((len(sigmas), K, trials), bool)
    accuracy = np.zeros((len(sigmas), K, trials))
    for i, sigma in enumerate(sigmas):
        Ws, keys = [], []
        for k, seed in enumerate(seeds):
            for t in range(trials):
                rng = generators([seed], NOISE, i, t)[0]
                Ws.append(np.where(net.alive[k], net.W[k] + sigma * rng.standard_normal((N, N)), 0.0))
                keys.append((seed, i, t))
        noisy = Network(net.topology, np.stack(Ws), np.repeat(net.b, trials, 0),
                        np.repeat(net.alive, trials, 0))
        ok = evaluate(noisy, cfg, X, Y, keys, repeats, "fast", stream=NOISE).ok
        all_correct[i] = ok.all((1, 2)).reshape(K, trials)
        accuracy[i] = ok.mean((1, 2)).reshape(K, trials)
    return {"sigmas": [float(x) for x in sigmas], "all_correct": all_correct, "accuracy": accuracy}


def stability_report(net: Network, cfg: TrainConfig, X: np.ndarray, seeds: list[int],
                     repeats: int = 10, evaluation: Evaluation | None = None) -> list[StabilityReport]:
    """Per network: the paper's global tests on its Jacobian and the local certificate at
    every free-phase equilibrium reached on the patterns from ``repeats`` random starts.

    The certificate needs a true equilibrium, so the free phases are settled with the
    fast solver (to its residual tolerance) whatever solver trained the network; an
    unsettled free phase (a limit cycle) fails the certificate. ``evaluation``: the
    result of ``evaluate`` with the fast solver and the same repeats, to reuse.
    """
    ev = evaluation or evaluate(net, cfg, X, np.zeros((X.shape[0], net.topology.n_out)), seeds,
                                repeats, "fast")
    J = models.get(cfg.model).jacobian(net.W, net.topology.free_mask(), cfg.gamma)
    g = gershgorin(J)
    abscissa = spectral_abscissa(J)
    reports = []
    for k, seed in enumerate(seeds):
        certs = []
        for r in range(repeats):
            for b in range(X.shape[0]):
                c = local_certificate(ev.states[:, r], ev.fields[r], k, b)
                c.update(repeat=r, pattern=b, converged=bool(ev.converged[k, r]))
                c["stable"] = c["stable"] and c["converged"]
                certs.append(c)
        reports.append(StabilityReport(int(seed), {key: bool(v[k]) for key, v in g.items()}, float(abscissa[k]),
                                       max(c["abscissa"] for c in certs), all(c["stable"] for c in certs), certs))
    return reports
