"""Judging trained networks: repeated free phases, success, and stability reports."""
from __future__ import annotations

import numpy as np

from .stability import deep_jacobian, gershgorin, jacobian, local_certificate, spectral_abscissa
from .training import Network, TrainConfig, free_phase, predict, target_classes


def evaluate(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
             repeats: int = 10, solver: str | None = None) -> dict:
    """Run the free phase ``repeats`` times from fresh random initial states.

    The draws come from generators seeded ``(seed, 1, r)`` so they never reuse the
    training draws. Returns arrays over (K, repeats, ...): ``outputs`` (K, R, B, n_out),
    ``correct`` (K, R) every pattern classified right, ``converged`` (K, R) every sample
    settled (the fast solver stops on the residual; the reference solver runs its fixed
    horizon and is judged on where it stops), ``error`` (K, R) fraction of patterns
    misclassified, plus ``states`` (K, R, B, N) and the field.
    """
    solver = solver or cfg.solver
    classes = target_classes(Y)
    outs, states, correct, error, conv = [], [], [], [], []
    field = None
    for r in range(repeats):
        rngs = [np.random.default_rng([s, 1, r]) for s in seeds]
        field, res = free_phase(net, cfg, X, rngs, solver=solver)
        o = res.s[..., net.topology.outputs]
        outs.append(o)
        states.append(res.s)
        right = predict(o) == classes
        correct.append(right.all(-1))
        error.append(1.0 - right.mean(-1))
        conv.append(res.converged.all(-1) if solver == "fast" else np.ones(len(seeds), bool))
    return {"outputs": np.stack(outs, 1), "states": np.stack(states, 1), "field": field,
            "correct": np.stack(correct, 1), "error": np.stack(error, 1),
            "converged": np.stack(conv, 1)}


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
    field = ev["field"]
    reports = []
    for k, seed in enumerate(seeds):
        certs = []
        for r in range(repeats):
            for b in range(X.shape[0]):
                c = local_certificate(ev["states"][:, r], field, k, b)
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
