"""Conductance-based LIF neuron with spike-frequency adaptation and relative refractoriness
(Muller et al. 2007; PyNN's ``IF_cond_exp_gsfa_grr``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import quantity
from neurosim.neurons.description import Description
from neurosim.neurons.coba_lif import CobaLIF


@dataclass(frozen=True)
class CobaAdaptLIF(CobaLIF):
    """:class:`~neurosim.neurons.CobaLIF` with a spike-frequency adaptation and a relative
    refractory conductance (Muller et al. 2007; PyNN's ``IF_cond_exp_gsfa_grr``):

        C dv/dt = ... + g_s (e_s - v) + g_r (e_r - v),   dg_s/dt = -g_s/tau_s,   dg_r/dt = -g_r/tau_r
        at a spike: v = v_reset, g_s += q_s, g_r += q_r
    """

    tau_s: Any = quantity("100 ms", "time", "adaptation time constant")
    e_s: Any = quantity("-75 mV", "voltage", "adaptation reversal potential")
    q_s: Any = quantity("15 nS", "conductance", "adaptation conductance per spike")
    tau_r: Any = quantity("2 ms", "time", "relative refractory time constant")
    e_r: Any = quantity("-75 mV", "voltage", "relative refractory reversal potential")
    q_r: Any = quantity("3000 nS", "conductance", "relative refractory conductance per spike")

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (v_rest - v)/tau_m + (g_exc*(e_exc - v) + g_inh*(e_inh - v) + i_adapt + i_bias + i_ext)/c_m : volt
            i_adapt = g_s*(e_s - v) + g_r*(e_r - v) : amp
            dg_exc/dt = -g_exc/tau_syn_exc : siemens
            dg_inh/dt = -g_inh/tau_syn_inh : siemens
            dg_s/dt = -g_s/tau_s : siemens
            dg_r/dt = -g_r/tau_r : siemens
        """,
        threshold="v >= v_th",
        reset="v = v_reset; g_s += q_s; g_r += q_r",
        refractory="v = v_reset",
        method="exponential_euler",
        receptors=("g_exc", "g_inh"),
    )
