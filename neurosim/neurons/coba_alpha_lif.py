"""Conductance-based LIF neuron with alpha-shaped synaptic conductances (PyNN's ``IF_cond_alpha``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import quantity
from neurosim.neurons.description import Description
from neurosim.neurons.lif import LIF


@dataclass(frozen=True)
class CobaAlphaLIF(LIF):
    """LIF neuron with alpha-shaped conductances peaking at the weight (S), PyNN's ``IF_cond_alpha``.

        dv/dt = (v_rest - v)/tau_m + (g_exc (e_exc - v) + g_inh (e_inh - v) + i_bias + i_ext)/c_m
        dg_exc/dt = (e y_exc - g_exc)/tau_syn_exc,   dy_exc/dt = -y_exc/tau_syn_exc   (inh alike)
        y_exc += w on a spike: g_exc(t) = w (t/tau) e^{1 - t/tau}, peak w at t = tau

    Exponential Euler, as :class:`~neurosim.neurons.CobaLIF`.
    """

    e_exc: Any = quantity("0 mV", "voltage", "excitatory reversal potential")
    e_inh: Any = quantity("-70 mV", "voltage", "inhibitory reversal potential")
    tau_syn_exc: Any = quantity("0.3 ms", "time", "excitatory rise time (time to peak)")
    tau_syn_inh: Any = quantity("0.5 ms", "time", "inhibitory rise time (time to peak)")

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (v_rest - v)/tau_m + (g_exc*(e_exc - v) + g_inh*(e_inh - v) + i_bias + i_ext)/c_m : volt
            dg_exc/dt = (e*y_exc - g_exc)/tau_syn_exc : siemens
            dy_exc/dt = -y_exc/tau_syn_exc : siemens
            dg_inh/dt = (e*y_inh - g_inh)/tau_syn_inh : siemens
            dy_inh/dt = -y_inh/tau_syn_inh : siemens
        """,
        threshold="v >= v_th",
        reset="v = v_reset + soft*(v - v_th)",
        refractory="v = v_reset",
        method="exponential_euler",
        receptors=("y_exc", "y_inh"),
    )
