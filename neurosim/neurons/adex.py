"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import NeuronModel, quantity
from neurosim.neurons.description import Description

_MEMBRANE = "(g_leak*(v_rest - v_c) + g_leak*delta_t*exp((v_c - v_t)/delta_t) - w + {input})/c_m"
#: the dynamics see v capped at v_peak (NEST's aeif models): a Runge–Kutta stage past the peak
#: can neither overflow the exponential nor give w a spurious jump
_CAPPED = "v_c = clip(v, -inf, v_peak) : volt"


@dataclass(frozen=True)
class AdEx(NeuronModel):
    """AdEx neuron with exponential current synapses (A).

        C dv/dt = g_L (v_rest - v) + g_L Δ_T exp((v - v_T)/Δ_T) - w + i_exc + i_inh + i_bias + i_ext
        τ_w dw/dt = a (v - v_rest) - w
        v > v_peak  ->  spike; v = v_reset, w += b;  v clamped to v_reset for t_ref
        di_exc/dt = -i_exc/tau_syn_exc,   di_inh/dt = -i_inh/tau_syn_inh

    The right-hand sides see ``v`` capped at ``v_peak`` (as NEST's ``aeif_*`` models do), so a
    Runge–Kutta stage past the peak can neither overflow the exponential nor give ``w`` a
    spurious jump. Integration: classical RK4 (fourth order in dt). Defaults: Brette &
    Gerstner (2005), Fig. 2.
    """

    c_m: Any = quantity("281 pF", "capacitance", "membrane capacitance")
    g_leak: Any = quantity("30 nS", "conductance", "leak conductance")
    v_rest: Any = quantity("-70.6 mV", "voltage", "leak reversal potential")
    v_t: Any = quantity("-50.4 mV", "voltage", "exponential threshold (rheobase) potential")
    delta_t: Any = quantity("2 mV", "voltage", "slope factor")
    v_peak: Any = quantity("0 mV", "voltage", "spike cut-off: a spike when v exceeds it (NEST's default)")
    v_reset: Any = quantity("-70.6 mV", "voltage", "reset potential")
    tau_w: Any = quantity("144 ms", "time", "adaptation time constant")
    a: Any = quantity("4 nS", "conductance", "subthreshold adaptation")
    b: Any = quantity("80.5 pA", "current", "spike-triggered adaptation")
    t_ref: Any = quantity(0.0, "time", "absolute refractory period")
    i_bias: Any = quantity(0.0, "current", "constant bias current")
    tau_syn_exc: Any = quantity("5 ms", "time", "excitatory synaptic time constant")
    tau_syn_inh: Any = quantity("10 ms", "time", "inhibitory synaptic time constant")

    #: integration method instead of the description's ("exact", "exponential_euler", "rk4", "rk2", "euler")
    method: str = ""

    description: ClassVar[Description] = Description(
        equations=f"""
            dv/dt = {_MEMBRANE.format(input="i_exc + i_inh + i_bias + i_ext")} : volt
            dw/dt = (a*(v_c - v_rest) - w)/tau_w : amp
            {_CAPPED}
            di_exc/dt = -i_exc/tau_syn_exc : amp
            di_inh/dt = -i_inh/tau_syn_inh : amp
        """,
        threshold="v > v_peak",
        reset="v = v_reset; w += b",
        refractory="v = v_reset",
        method="rk4",
        receptors=("i_exc", "i_inh"),
    )

    def validate(self) -> None:
        super().validate()
        self._positive("g_leak", "delta_t")
        self._threshold_above_reset("v_peak", "v_reset")


@dataclass(frozen=True)
class CobaAdEx(AdEx):
    """:class:`AdEx` with exponential conductance synapses (S) and reversal potentials.

        C dv/dt = ... + g_exc (e_exc - v) + g_inh (e_inh - v) + i_bias + i_ext
        dg_exc/dt = -g_exc/tau_syn_exc,   dg_inh/dt = -g_inh/tau_syn_inh
    """

    e_exc: Any = quantity("0 mV", "voltage", "excitatory reversal potential")
    e_inh: Any = quantity("-80 mV", "voltage", "inhibitory reversal potential")

    description: ClassVar[Description] = Description(
        equations=f"""
            dv/dt = {_MEMBRANE.format(input="g_exc*(e_exc - v_c) + g_inh*(e_inh - v_c) + i_bias + i_ext")} : volt
            dw/dt = (a*(v_c - v_rest) - w)/tau_w : amp
            {_CAPPED}
            dg_exc/dt = -g_exc/tau_syn_exc : siemens
            dg_inh/dt = -g_inh/tau_syn_inh : siemens
        """,
        threshold="v > v_peak",
        reset="v = v_reset; w += b",
        refractory="v = v_reset",
        method="rk4",
        receptors=("g_exc", "g_inh"),
    )
