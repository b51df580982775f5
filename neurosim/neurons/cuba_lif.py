"""Current-based LIF neuron with exponential excitatory and inhibitory synaptic currents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import quantity
from neurosim.neurons.description import Description
from neurosim.neurons.lif import LIF


@dataclass(frozen=True)
class CubaLIF(LIF):
    """LIF neuron driven by exponentially decaying synaptic currents (A).

        dv/dt = (v_rest - v)/tau_m + (i_exc + i_inh + i_bias + i_ext)/c_m
        di_exc/dt = -i_exc/tau_syn_exc,   di_inh/dt = -i_inh/tau_syn_inh
        i_exc += w (w > 0) or i_inh += w (w < 0) on each arriving spike

    Threshold, reset and refractoriness as :class:`LIF` (the currents keep decaying while
    ``v`` is clamped). A weight is a current; a spike of weight ``w`` alone gives the
    postsynaptic potential ``w/C tau_m tau_s/(tau_s - tau_m) (e^{-t/tau_s} - e^{-t/tau_m})``.
    Integration is exact.
    """

    tau_syn_exc: Any = quantity("5 ms", "time", "excitatory synaptic time constant")
    tau_syn_inh: Any = quantity("10 ms", "time", "inhibitory synaptic time constant")

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (v_rest - v)/tau_m + (i_exc + i_inh + i_bias + i_ext)/c_m : volt
            di_exc/dt = -i_exc/tau_syn_exc : amp
            di_inh/dt = -i_inh/tau_syn_inh : amp
        """,
        threshold="v >= v_th",
        reset="v = v_reset + soft*(v - v_th)",
        refractory="v = v_reset",
        method="exact",
        receptors=("i_exc", "i_inh"),
    )
