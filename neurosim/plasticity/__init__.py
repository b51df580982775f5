"""Synaptic plasticity rules: trace-based STDP (descriptions; no network, no backend).

    net.connect(inp, liquid, FixedProbability(0.1), weight="2 mV",
                plasticity=STDP(a_plus="0.01 mV", a_minus="0.012 mV", w_max="5 mV"))

The rules run event-driven inside the engine's compiled loop (see
:class:`neurosim.engine.layout.Plasticity`); learned weights are in
``projection.synapses.weight`` after every run. Learning-rate modulators are network elements
(:class:`neurosim.modulator.Modulator`, made by ``Network.modulator``).
"""

from neurosim.plasticity.stdp import STDP, triplet, vogels_sprekeler

__all__ = ["STDP", "triplet", "vogels_sprekeler"]
