"""Conductance-based LIF neuron with exponentially decaying synaptic conductances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import quantity
from neurosim.neurons.description import Description
from neurosim.neurons.lif import LIF


@dataclass(frozen=True)
class CobaLIF(LIF):
    """LIF neuron with excitatory and inhibitory conductances (S) and reversal potentials.

        dv/dt = (v_rest - v)/tau_m + (g_exc (e_exc - v) + g_inh (e_inh - v) + i_bias + i_ext)/c_m
        dg_exc/dt = -g_exc/tau_syn_exc,   dg_inh/dt = -g_inh/tau_syn_inh
        g_exc += w (excitatory synapse) or g_inh += w (inhibitory synapse), w >= 0 in siemens

    Threshold, reset and refractoriness as :class:`LIF`. The membrane equation is linear in
    ``v`` with a coefficient that changes with the conductances, so it is integrated by
    exponential Euler (first order in dt; the conductances' decay is exact), as Brian2's
    ``exponential_euler``. Defaults are the COBA benchmark of Brette et al. (2007).
    """

    v_rest: Any = quantity("-60 mV", "voltage", "resting (leak reversal) potential")
    v_reset: Any = quantity("-60 mV", "voltage", "reset potential")
    t_ref: Any = quantity("5 ms", "time", "absolute refractory period")
    e_exc: Any = quantity("0 mV", "voltage", "excitatory reversal potential")
    e_inh: Any = quantity("-80 mV", "voltage", "inhibitory reversal potential")
    tau_syn_exc: Any = quantity("5 ms", "time", "excitatory synaptic time constant")
    tau_syn_inh: Any = quantity("10 ms", "time", "inhibitory synaptic time constant")

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (v_rest - v)/tau_m + (g_exc*(e_exc - v) + g_inh*(e_inh - v) + i_bias + i_ext)/c_m : volt
            dg_exc/dt = -g_exc/tau_syn_exc : siemens
            dg_inh/dt = -g_inh/tau_syn_inh : siemens
        """,
        threshold="v >= v_th",
        reset="v = v_reset + soft*(v - v_th)",
        refractory="v = v_reset",
        method="exponential_euler",
        receptors=("g_exc", "g_inh"),
    )
