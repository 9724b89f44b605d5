"""The physical conventions of every circuit deepxbar builds, stated once.

The models in ``models/`` are dimensionless: a neuron state ``s`` in ``[0, 1]``, weights
``W``, a field ``f(s)`` and a model time ``t``. A circuit realises them with four
numbers, the same for the SPICE decks (``circuits/netlist.py``), the Brian2 model
(``circuits/brian.py``), the energy and latency reports (``circuits/energy.py``) and
the README:

======================  =======================  =========================================
quantity                symbol / default         relation to the model
======================  =======================  =========================================
full-scale voltage      ``V_FS`` = 0.2 V          neuron voltage ``V = V_FS * s`` (rails 0
                                                 and V_FS); a low read voltage, so that
                                                 reading a device does not disturb it
integrator capacitance  ``C`` = 1 pF              one capacitor per non-input neuron
unit conductance        ``g0`` (S)                ``W = (G+ - G-) / g0``: the crossbar's
                                                 ``CrossbarConfig.unit``; ideal devices
                                                 ``hw.devices.G0`` = 2**-14 S = 61.0 uS; a
                                                 hardware run has its own (e.g. RRAM with
                                                 ``weight_clip`` 1: 9.75 uS)
time constant           ``tau = C / g0``          model time ``t`` is ``t * tau`` seconds
                                                 (16.4 ns with the ideal g0)
current                 ``g0 * V_FS``             the field ``f`` is the current
                                                 ``I = g0 V_FS f`` into a neuron
======================  =======================  =========================================

So ``C dV_j/dt = g0 V_FS f_j(V / V_FS)``, i.e. ``ds/dt = f(s) / tau``: the circuit is the
continuous-time flow of the field, and the Euler map of ``models.settle`` with step
``dt`` samples it every ``dt * tau`` seconds. Energies scale as ``C V_FS**2`` (about
0.04 fJ per neuron and unit of ``s**2``), independent of ``g0``; times scale as ``tau``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

V_FS = 0.2  # V, full scale of a neuron's voltage
C = 1e-12  # F, integrator capacitance of a neuron
G0_IDEAL = 2.0**-14  # S, the unit conductance of ideal devices (= hw.devices.G0)


@dataclass(frozen=True)
class Physical:
    """One circuit's scale: ``v_fs`` (V), ``C`` (F), ``g0`` (S). ``tau = C / g0``."""

    g0: float = G0_IDEAL
    v_fs: float = V_FS
    C: float = C

    def __post_init__(self) -> None:
        for name in ("g0", "v_fs", "C"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} = {v!r} is invalid: must be a finite number > 0")

    @property
    def tau(self) -> float:
        """Seconds per unit of model time."""
        return self.C / self.g0

    @property
    def i_unit(self) -> float:
        """Amperes per unit of field (``g0 * v_fs``)."""
        return self.g0 * self.v_fs

    def seconds(self, t_model: float) -> float:
        return t_model * self.tau

    def volts(self, s):
        return s * self.v_fs


DEFAULT = Physical()
