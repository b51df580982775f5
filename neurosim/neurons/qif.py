"""Quadratic integrate-and-fire neuron (Latham et al. 2000; Ermentrout's theta neuron in v)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import NeuronModel, quantity
from neurosim.neurons.description import Description


@dataclass(frozen=True)
class QIF(NeuronModel):
    """QIF neuron with exponential current synapses (A).

        tau_m dv/dt = (v - v_rest)(v - v_crit)/delta_v + R (i_exc + i_inh + i_bias + i_ext),  R = tau_m/c_m
        v >= v_peak  ->  spike; v = v_reset;  v clamped to v_reset for t_ref

    Below ``v_crit`` a neuron relaxes to ``v_rest``; above it, ``v`` blows up in finite time.
    With a constant input ``i`` above rheobase ``i_rh = c_m (v_crit - v_rest)^2/(4 tau_m delta_v)``,
    ``b = sqrt(delta_v R (i - i_rh))`` and ``m = (v_rest + v_crit)/2``, the time from ``v_reset``
    to ``v_peak`` is ``(tau_m delta_v / b) (atan((v_peak - m)/b) - atan((v_reset - m)/b))``.
    Integration: classical RK4 (fourth order in dt).
    """

    tau_m: Any = quantity("10 ms", "time", "membrane time constant")
    c_m: Any = quantity("200 pF", "capacitance", "membrane capacitance")
    v_rest: Any = quantity("-65 mV", "voltage", "stable fixed point without input")
    v_crit: Any = quantity("-50 mV", "voltage", "unstable fixed point (threshold) without input")
    delta_v: Any = quantity("15 mV", "voltage", "curvature scale of the quadratic")
    v_peak: Any = quantity("20 mV", "voltage", "spike cut-off")
    v_reset: Any = quantity("-70 mV", "voltage", "reset potential")
    t_ref: Any = quantity(0.0, "time", "absolute refractory period")
    i_bias: Any = quantity(0.0, "current", "constant bias current")
    tau_syn_exc: Any = quantity("5 ms", "time", "excitatory synaptic time constant")
    tau_syn_inh: Any = quantity("10 ms", "time", "inhibitory synaptic time constant")

    #: integration method instead of the description's ("exact", "exponential_euler", "rk4", "rk2", "euler")
    method: str = ""

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = ((v - v_rest)*(v - v_crit)/delta_v)/tau_m + (i_exc + i_inh + i_bias + i_ext)/c_m : volt
            di_exc/dt = -i_exc/tau_syn_exc : amp
            di_inh/dt = -i_inh/tau_syn_inh : amp
        """,
        threshold="v >= v_peak",
        reset="v = v_reset",
        refractory="v = v_reset",
        method="rk4",
        receptors=("i_exc", "i_inh"),
    )

    def validate(self) -> None:
        super().validate()
        self._positive("delta_v")
        self._require(self.v_crit > self.v_rest, "v_crit", "must be above v_rest")
        self._threshold_above_reset("v_peak", "v_reset")
