"""DEEP (Farinha et al. 2020) with the leak of Costa & Santos (2025).

Field: ``ds_j/dt = sum_i W[i,j] s_i - s_j (sum_k W[j,k] + gamma)``; on a crossbar the
first term is neuron j's column current and the second its own row current, so
``f = I_col - I_row - gamma s`` (``field_from_currents``). Update: the trajectory rule
over the nudged phase (``models.learning.deep_update``). Constraint: the inhibition
limit (``TrainConfig.max_inhibition``).
"""
from __future__ import annotations

import numpy as np

from ..dynamics import AffineField, deep_field
from ..learning import deep_update, limit_inhibition
from ..model import predict
from ..stability import jacobian


class Deep:
    name = "deep"
    leak = True
    trajectory = True
    crossbar_deck = True

    def field(self, W, b, batch, free, gamma) -> AffineField:
        return deep_field(W, batch, free, gamma)

    def field_from_currents(self, Mcol, Mrow, b, batch, free, gamma) -> AffineField:
        K, N = Mcol.shape[0], Mcol.shape[-1]
        return AffineField(Mcol - Mrow, np.full((K, batch, N), float(gamma)), np.zeros((K, batch, N)), free)

    def jacobian(self, W, free, gamma) -> np.ndarray:
        return jacobian(W, W.sum(axis=-1) + gamma, free)

    def update(self, free, nudged, cfg, batch):
        dW = deep_update(nudged.path, nudged.hebb, eta=cfg.eta, batch=batch, t2=cfg.t2,
                         beta0=cfg.beta0, beta1=cfg.beta1, drain=cfg.drain)
        return dW, None

    def constrain(self, W, free, cfg) -> np.ndarray:
        if cfg.max_inhibition is None:
            return W
        return limit_inhibition(W, free, cfg.max_inhibition * cfg.gamma)

    def readout(self, s_out) -> np.ndarray:
        return predict(s_out)


MODEL = Deep()
