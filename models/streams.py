"""The random streams of the project, named once.

Every draw comes from ``numpy.random.default_rng`` seeded by the network's seed, plus a
stream id that keeps one kind of draw apart from every other:

* training (initial weights, initial states, pruning draws, weight noise of noise-aware
  training): ``default_rng(seed)``, no stream id;
* ``EVAL`` (1): starts of the success evaluation, ``[seed, EVAL, repeat]``;
* ``PLOT`` (2): starts of the decision map, ``[seed, PLOT]``;
* ``BASIN`` (3): starts over the whole box, ``[seed, BASIN, start]``;
* ``NOISE`` (4): weight-noise draws of the robustness report, ``[seed, NOISE, sigma, trial]``;
* ``SHUFFLE`` (5): the order of the samples in minibatch training, ``[seed, SHUFFLE]``;
* ``HARDWARE`` (7): device variation and noise of hardware training, ``[seed, HARDWARE]``;
* ``DEPLOY`` (12): chips and programming ``[seed, DEPLOY, 0]``, inference reads
  ``[seed, DEPLOY, 1, time, repeat]``, reference reads ``[seed, DEPLOY, 2, j]``;
* ``ONCHIP`` (13): the reads of the on-chip judgement of hardware training,
  ``[seed, ONCHIP, repeat]``.
"""
from __future__ import annotations

import numpy as np

EVAL = 1
PLOT = 2
BASIN = 3
NOISE = 4
SHUFFLE = 5
HARDWARE = 7
DEPLOY = 12
ONCHIP = 13


def generators(seeds, *key: int) -> list[np.random.Generator]:
    """One generator per seed: ``default_rng([seed, *key])`` (``default_rng(seed)`` without
    a key: the training stream). A seed may itself be a sequence (e.g. ``(seed, sigma,
    trial)``), flattened in front of the key."""
    if not key:
        return [np.random.default_rng(s) for s in seeds]
    return [np.random.default_rng([*np.atleast_1d(s), *key]) for s in seeds]
