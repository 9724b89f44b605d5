"""Asymmetric (vector-field) equilibrium propagation, Scellier et al. 2018: the baseline.

Field: ``ds_j/dt = sum_i W[i,j] s_i + b_j - s_j`` (a fixed unit leak, biases); on a
crossbar only the column currents enter. Update: ``dW = eta/(beta B) s^0 (s^beta -
s^0)``, ``db`` likewise. No leak parameter, no constraint.
"""
from __future__ import annotations

import numpy as np

from ..dynamics import AffineField, asym_ep_field
from ..learning import asym_ep_update
from ..model import predict
from ..stability import jacobian


class AsymEP:
    name = "asym-ep"
    leak = False
    trajectory = False
    crossbar_deck = False

    def field(self, W, b, batch, free, gamma) -> AffineField:
        return asym_ep_field(W, b, batch, free)

    def field_from_currents(self, Mcol, Mrow, b, batch, free, gamma) -> AffineField:
        K, N = Mcol.shape[0], Mcol.shape[-1]
        return AffineField(Mcol, np.ones((K, batch, N)), np.broadcast_to(b[:, None, :], (K, batch, N)).copy(), free)

    def jacobian(self, W, free, gamma) -> np.ndarray:
        return jacobian(W, np.ones(W.shape[:-1]), free)

    def update(self, free, nudged, cfg, batch):
        return asym_ep_update(free.s, nudged.s, eta=cfg.eta, beta=cfg.beta)

    def constrain(self, W, free, cfg) -> np.ndarray:
        return W

    def readout(self, s_out) -> np.ndarray:
        return predict(s_out)


MODEL = AsymEP()
