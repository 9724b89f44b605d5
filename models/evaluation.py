"""Judging trained networks: repeated free phases, success, and stability reports."""
from __future__ import annotations

import numpy as np

from typing import Callable

from .dynamics import AffineField
from .stability import deep_jacobian, gershgorin, jacobian, local_certificate, spectral_abscissa
from .training import Network, TrainConfig, free_phase, predict, target_classes


# Random-stream ids of the judging draws (``default_rng([seed, stream, r])``), apart from
# the training draws (``default_rng(seed)``) and the hardware draws (hw/, stream 7).
EVAL_STREAM = 1    # starts of the success evaluation
BASIN_STREAM = 3   # starts over the whole box (basin accuracy)
NOISE_STREAM = 4   # weight-noise draws (robustness)
BASIN_STARTS = 20  # starts drawn U(0, 1) per pattern for basin accuracy

FieldSource = Callable[[int], AffineField]
"""The field of repeat ``r`` (hardware: a fresh read of the crossbar per inference)."""


def evaluate(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
             repeats: int = 10, solver: str | None = None, *, init_state: float | None = None,
             field: AffineField | FieldSource | None = None, stream: int = EVAL_STREAM) -> dict:
    """Run the free phase ``repeats`` times from fresh random initial states.

    Conditions, all stated: non-input neurons start ~ Uniform(0, ``init_state``)
    (default ``cfg.init_state``, the start of training and inference), drawn from
    generators seeded ``(seed, stream, r)`` so they never reuse the training draws;
    the field is the network's own (default), a given one, or one per repeat (a
    callable ``r -> AffineField``, e.g. a fresh read of a crossbar). Returns arrays
    over (K, repeats, ...): ``outputs`` (K, R, B, n_out), ``correct`` (K, R) every
    pattern classified right, ``right`` (K, R, B) per pattern, ``converged`` (K, R)
    every sample settled (the fast solver stops on the residual; the reference solver
    runs its fixed horizon and is judged on where it stops), ``error`` (K, R) fraction
    of patterns misclassified, plus ``states`` (K, R, B, N), ``fields`` (one per
    repeat) and ``init_state``.
    """
    solver = solver or cfg.solver
    init_state = cfg.init_state if init_state is None else init_state
    classes = target_classes(Y)
    outs, states, rights, conv, fields_ = [], [], [], [], []
    for r in range(repeats):
        rngs = [np.random.default_rng([*np.atleast_1d(s), stream, r]) for s in seeds]
        f = field(r) if callable(field) and not isinstance(field, AffineField) else field
        f, res = free_phase(net, cfg, X, rngs, solver=solver, init_state=init_state, field=f)
        o = res.s[..., net.topology.outputs]
        outs.append(o)
        states.append(res.s)
        fields_.append(f)
        rights.append(predict(o) == classes)
        conv.append(res.converged.all(-1) if solver == "fast" else np.ones(len(seeds), bool))
    right = np.stack(rights, 1)
    return {"outputs": np.stack(outs, 1), "states": np.stack(states, 1), "fields": fields_,
            "field": fields_[-1], "right": right, "correct": right.all(-1),
            "error": 1.0 - right.mean(-1), "converged": np.stack(conv, 1),
            "init_state": float(init_state)}


def basin_accuracy(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
                   starts: int = BASIN_STARTS, field: AffineField | FieldSource | None = None
                   ) -> np.ndarray:
    """Per network (K,): the fraction of (start, pattern) pairs classified right (and
    settled) when the free phase starts from non-input states drawn Uniform(0, 1), the
    whole state box, ``starts`` draws per pattern (stream ``BASIN_STREAM``). 1.0 means
    every equilibrium the network can reach from anywhere answers right."""
    ev = evaluate(net, cfg, X, Y, seeds, starts, "fast", init_state=1.0, field=field,
                  stream=BASIN_STREAM)
    return (ev["right"] & ev["converged"][..., None]).mean((1, 2))


def weight_noise_robustness(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray,
                            seeds: list[int], sigmas, trials: int = 20, repeats: int = 1) -> dict:
    """Accuracy under additive weight noise: for every ``sigma`` and trial, fresh
    ``N(0, sigma^2)`` on every live weight (allowed and not pruned; the others stay 0),
    then ``repeats`` free phases from the training starts. Draws: ``(seed, NOISE_STREAM,
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
                rng = np.random.default_rng([seed, NOISE_STREAM, i, t])
                Ws.append(np.where(net.alive[k], net.W[k] + sigma * rng.standard_normal((N, N)), 0.0))
                keys.append((seed, i, t))
        noisy = Network(net.topology, np.stack(Ws), np.repeat(net.b, trials, 0),
                        np.repeat(net.alive, trials, 0))
        ev = evaluate(noisy, cfg, X, Y, keys, repeats, "fast", stream=NOISE_STREAM)
        ok = ev["right"] & ev["converged"][..., None]
        all_correct[i] = ok.all((1, 2)).reshape(K, trials)
        accuracy[i] = ok.mean((1, 2)).reshape(K, trials)
    return {"sigmas": [float(x) for x in sigmas], "all_correct": all_correct, "accuracy": accuracy}


def stability_report(net: Network, cfg: TrainConfig, X: np.ndarray, seeds: list[int],
                     repeats: int = 10, evaluation: dict | None = None) -> list[dict]:
    """Per network: the paper's global tests on W and the local certificate at every
    free-phase equilibrium reached on the patterns from ``repeats`` random starts.

    The certificate needs a true equilibrium, so the free phases are settled with the
    fast solver (to its residual tolerance) whatever solver trained the network; an
    unsettled free phase (a limit cycle) fails the certificate. ``evaluation``: the
    result of ``evaluate`` with the fast solver and the same repeats, to reuse.
    """
    ev = evaluation or evaluate(net, cfg, X, np.zeros((X.shape[0], net.topology.n_out)), seeds,
                                repeats, "fast")
    free = net.topology.free_mask()
    if cfg.model == "deep":
        J = deep_jacobian(net.W, free, cfg.gamma)
    else:
        J = jacobian(net.W, np.ones(net.W.shape[:-1]), free)
    g = gershgorin(J)
    abscissa = spectral_abscissa(J)
    reports = []
    for k, seed in enumerate(seeds):
        certs = []
        for r in range(repeats):
            for b in range(X.shape[0]):
                c = local_certificate(ev["states"][:, r], ev["fields"][r], k, b)
                c.update(repeat=r, pattern=b, converged=bool(ev["converged"][k, r]))
                c["stable"] = c["stable"] and c["converged"]
                certs.append(c)
        reports.append({
            "seed": int(seed),
            "gershgorin": {key: bool(v[k]) for key, v in g.items()},
            "global_abscissa": float(abscissa[k]),
            "stable": all(c["stable"] for c in certs),
            "local_max_abscissa": max(c["abscissa"] for c in certs),
            "equilibria": certs,
        })
    return reports
