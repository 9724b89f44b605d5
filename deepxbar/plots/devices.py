"""A device preset drawn: its pulse response and its programming-error spread."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw.devices import DeviceConfig, program, pulse, sample_instances


def device_response(cfg: DeviceConfig, path, rng: np.random.Generator, *, devices: int = 4):
    """PNG: conductance over 200 up then 200 down pulses for a few sampled devices (left)
    and the spread of programmed - target at a few targets (right). Returns ``path``."""
    inst = sample_instances(cfg, (devices,), rng)
    g = np.array(inst.g_min)
    trace = [g]
    for step in [1] * 200 + [-1] * 200:
        g = pulse(g, step, inst, cfg, rng)
        trace.append(g)
    uS = 1e6
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(np.arange(401), np.array(trace) * uS)
    ax1.axvline(200, color="grey", lw=0.5)
    ax1.set(xlabel="pulse number", ylabel="conductance (uS)", title=f"{cfg.name}: 200 up, 200 down")
    many = sample_instances(cfg, (2000,), rng)
    for frac in (0.2, 0.5, 0.8):
        target = cfg.g_min + frac * cfg.g_range
        err = program(np.zeros(many.shape), target, many, cfg, rng) - target
        ax2.hist(err[many.stuck == 0] * uS, bins=50, histtype="step", label=f"target {target * uS:.3g} uS")
    ax2.set(xlabel="programmed - target (uS)", ylabel="devices", title="programming error")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
