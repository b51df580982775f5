"""Adaptive-threshold LIF neuron (Bellec et al. 2018's ALIF; Diehl & Cook 2015's θ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import quantity
from neurosim.neurons.cuba_lif import CubaLIF
from neurosim.neurons.description import Description


@dataclass(frozen=True)
class ALIF(CubaLIF):
    """CubaLIF neuron whose threshold jumps by ``theta_plus`` at each spike and decays back.

        dv/dt = (v_rest - v)/tau_m + (i_exc + i_inh + i_bias + i_ext)/c_m
        dtheta/dt = -theta/tau_theta            (current synapses as CubaLIF)
        v >= v_th + theta  ->  spike; v = v_reset (soft: v -= v_th + theta - v_reset); theta += theta_plus

    The system is linear, so integration is exact. With ``tau_theta`` long (Diehl & Cook use
    1e7 s) θ is the homeostatic threshold; with ``tau_theta`` of hundreds of ms it is
    Bellec's adaptation (β a with a jump of β/τ_a per spike).
    """

    tau_theta: Any = quantity("200 ms", "time", "threshold adaptation time constant")
    theta_plus: Any = quantity("1 mV", "voltage", "threshold increase per spike")

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (v_rest - v)/tau_m + (i_exc + i_inh + i_bias + i_ext)/c_m : volt
            di_exc/dt = -i_exc/tau_syn_exc : amp
            di_inh/dt = -i_inh/tau_syn_inh : amp
            dtheta/dt = -theta/tau_theta : volt
        """,
        threshold="v >= v_th + theta",
        reset="v = v_reset + soft*(v - v_th - theta); theta += theta_plus",
        refractory="v = v_reset",
        method="exact",
        receptors=("i_exc", "i_inh"),
    )

    def validate(self) -> None:
        super().validate()
        self._require(self.theta_plus >= 0, "theta_plus", "must be >= 0")
