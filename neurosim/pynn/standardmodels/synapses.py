"""PyNN's static synapse and pair STDP on neurosim's projections and trace STDP.

Native synapse parameters keep PyNN's names and units (weight in nA, µS or mV by the target
cell type, delay in ms); the projection converts them to SI when it builds the native
connection. STDP maps onto :class:`~neurosim.plasticity.STDP` with all-to-all traces
(``tau_pre = tau_plus``, ``tau_post = tau_minus``, increments 1):

- additive: ``Δw = +A_plus w_max e^{-Δt/tau_plus}`` after a pre-before-post pair and
  ``-A_minus w_max e^{-Δt/tau_minus}`` after post-before-pre (PyNN's and NEST's scaling by
  ``w_max``), so ``a_plus = A_plus w_max``, ``a_minus = A_minus w_max``;
- multiplicative: ``Δw = +A_plus (w_max - w) e^{...}`` and ``-A_minus (w - w_min) e^{...}``.

The synaptic delay counts as axonal for STDP (neurosim pairs the presynaptic *arrival* with
the postsynaptic spike): a ``dendritic_delay_fraction`` other than 0 (PyNN's default is 1) gives
a warning, as its Δt differs from NEST's by the delay (PyNN's Brian2 backend refuses it).
"""

from __future__ import annotations

import warnings

import numpy as np
from pyNN.standardmodels import build_translations, synapses

from neurosim.plasticity import STDP

from neurosim.pynn.simulator import state


def _minimum_delay() -> float:
    return state.min_delay


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self):
        return _minimum_delay()

    def native_plasticity(self, weight_scale: float) -> None:
        """No plasticity."""
        return None


class STDPMechanism(synapses.STDPMechanism):
    __doc__ = synapses.STDPMechanism.__doc__
    base_translations = build_translations(
        ("weight", "weight"), ("delay", "delay"), ("dendritic_delay_fraction", "dendritic_delay_fraction"))

    def _get_minimum_delay(self):
        return _minimum_delay()

    def native_plasticity(self, weight_scale: float) -> STDP:
        """The native rule (SI weights: PyNN's weight unit times ``weight_scale``)."""
        if self.voltage_dependence is not None:
            raise NotImplementedError("neurosim.pynn: STDP with a voltage dependence has no neurosim rule")
        td, wd = self.timing_dependence, self.weight_dependence
        if not isinstance(td, SpikePairRule):
            raise NotImplementedError(f"neurosim.pynn: timing dependence {type(td).__name__} has no neurosim rule "
                                      "(SpikePairRule has)")
        if not isinstance(wd, (AdditiveWeightDependence, MultiplicativeWeightDependence)):
            raise NotImplementedError(f"neurosim.pynn: weight dependence {type(wd).__name__} has no neurosim rule "
                                      "(AdditiveWeightDependence and MultiplicativeWeightDependence have)")
        if self.dendritic_delay_fraction != 0:
            warnings.warn("neurosim.pynn: STDP treats every synaptic delay as axonal (the presynaptic arrival "
                          "is paired with the postsynaptic spike), not as dendritic_delay_fraction="
                          f"{self.dendritic_delay_fraction} says; pass dendritic_delay_fraction=0 to silence this",
                          stacklevel=2)
        t, w = _values(td), _values(wd)
        w_max, w_min = w["w_max"] * weight_scale, w["w_min"] * weight_scale
        if isinstance(wd, AdditiveWeightDependence):
            a_plus, a_minus, dependence = t["A_plus"] * w_max, t["A_minus"] * w_max, "additive"
        else:
            a_plus, a_minus, dependence = t["A_plus"], t["A_minus"], "multiplicative"
        return STDP(a_plus=a_plus, a_minus=a_minus, w_max=w_max, w_min=w_min, tau_pre=t["tau_plus"] * 1e-3,
                    tau_post=t["tau_minus"] * 1e-3, dependence=dependence)


def _values(component) -> dict[str, float]:
    """The component's parameters (PyNN names and units); one value each (neurosim's rules are per projection)."""
    out = {}
    for name, value in component.parameter_space.items():
        if not value.is_homogeneous:
            raise NotImplementedError(f"neurosim.pynn: STDP parameter {name} must be the same for every synapse")
        value.shape = (1,)
        out[name] = float(np.atleast_1d(value.evaluate(simplify=True))[0])
    return out


class AdditiveWeightDependence(synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = build_translations(("w_max", "w_max"), ("w_min", "w_min"))
    possible_models = {"stdp"}


class MultiplicativeWeightDependence(synapses.MultiplicativeWeightDependence):
    __doc__ = synapses.MultiplicativeWeightDependence.__doc__
    translations = build_translations(("w_max", "w_max"), ("w_min", "w_min"))
    possible_models = {"stdp"}


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = build_translations(("tau_plus", "tau_plus"), ("tau_minus", "tau_minus"),
                                      ("A_plus", "A_plus"), ("A_minus", "A_minus"))
    possible_models = {"stdp"}
