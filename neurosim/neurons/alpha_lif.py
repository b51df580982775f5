"""LIF neuron with alpha-shaped synaptic currents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import quantity
from neurosim.neurons.description import Description
from neurosim.neurons.lif import LIF


@dataclass(frozen=True)
class AlphaLIF(LIF):
    """LIF neuron whose synaptic currents are alpha functions peaking at the weight (A).

        dv/dt = (v_rest - v)/tau_m + (i_exc + i_inh + i_bias + i_ext)/c_m
        di_exc/dt = (e y_exc - i_exc)/tau_syn_exc,   dy_exc/dt = -y_exc/tau_syn_exc   (inh alike)
        y_exc += w on an excitatory spike: i_exc(t) = w (t/tau) e^{1 - t/tau}, peak w at t = tau

    (NEST's ``iaf_psc_alpha``.) Threshold, reset and refractoriness as :class:`LIF`; the
    system is linear, so integration is exact.
    """

    tau_syn_exc: Any = quantity("2 ms", "time", "excitatory synaptic time constant (time to peak)")
    tau_syn_inh: Any = quantity("2 ms", "time", "inhibitory synaptic time constant (time to peak)")

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (v_rest - v)/tau_m + (i_exc + i_inh + i_bias + i_ext)/c_m : volt
            di_exc/dt = (e*y_exc - i_exc)/tau_syn_exc : amp
            dy_exc/dt = -y_exc/tau_syn_exc : amp
            di_inh/dt = (e*y_inh - i_inh)/tau_syn_inh : amp
            dy_inh/dt = -y_inh/tau_syn_inh : amp
        """,
        threshold="v >= v_th",
        reset="v = v_reset + soft*(v - v_th)",
        refractory="v = v_reset",
        method="exact",
        receptors=("y_exc", "y_inh"),
    )
