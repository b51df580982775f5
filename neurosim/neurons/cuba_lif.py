"""Current-based LIF neuron with exponential excitatory and inhibitory synaptic currents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurosim.neurons.lif import LIF
from neurosim.neurons.base import quantity
from neurosim.neurons.propagators import synapse_to_membrane


@dataclass(frozen=True)
class CubaLIF(LIF):
    """LIF neuron driven by exponentially decaying synaptic currents (A).

        C dv/dt = -C (v - v_rest)/tau_m + i_exc + i_inh + i_bias + i_ext
        di_exc/dt = -i_exc/tau_syn_exc,   di_inh/dt = -i_inh/tau_syn_inh
        i_exc += w (w > 0) or i_inh += w (w < 0) on each arriving spike

    Threshold, reset and refractoriness as :class:`LIF` (the currents keep decaying while
    ``v`` is clamped). A weight is a current; a spike of weight ``w`` alone gives the
    postsynaptic potential ``w/C tau_m tau_s/(tau_s - tau_m) (e^{-t/tau_s} - e^{-t/tau_m})``.
    """

    tau_syn_exc: Any = quantity("5 ms", "time", "excitatory synaptic time constant")
    tau_syn_inh: Any = quantity("10 ms", "time", "inhibitory synaptic time constant")

    state_variables: ClassVar[tuple[str, ...]] = ("v", "i_exc", "i_inh")
    weight_dimension: ClassVar[str] = "current"
    receptor_targets: ClassVar[tuple[str, str]] = ("i_exc", "i_inh")

    def validate(self) -> None:
        super().validate()
        self._positive("tau_syn_exc", "tau_syn_inh")

    def kernel_table(self, n: int, dt: float, population: str) -> dict[str, np.ndarray]:
        table = super().kernel_table(n, dt, population)
        p = self.per_neuron(n, population)
        table.update(
            p_ve=synapse_to_membrane(p["tau_m"], p["tau_syn_exc"], p["c_m"], dt),
            p_vi=synapse_to_membrane(p["tau_m"], p["tau_syn_inh"], p["c_m"], dt),
            d_e=np.exp(-dt / p["tau_syn_exc"]),
            d_i=np.exp(-dt / p["tau_syn_inh"]),
        )
        return table
