"""Synaptic plasticity: trace-based STDP rules and learning-rate modulators.

    net.connect(inp, liquid, FixedProbability(0.1), weight="2 mV",
                plasticity=STDP(a_plus="0.01 mV", a_minus="0.012 mV", w_max="5 mV"))
    net.modulator("astro", tau="100 ms", weight=0.015, bias=0.15, targets=[...],
                  drive=[(liquid, 1), (inp, -1)], acts_on="depression")

The rules run event-driven inside the engine's compiled loop (see
:class:`neurosim.engine.layout.Plasticity`); learned weights are in
``projection.synapses.weight`` after every run.
"""

from neurosim.plasticity.modulator import Modulator
from neurosim.plasticity.stdp import STDP

__all__ = ["STDP", "Modulator"]
