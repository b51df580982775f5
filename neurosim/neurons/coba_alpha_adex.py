"""Adaptive exponential integrate-and-fire neuron with alpha-shaped conductances (PyNN's
``EIF_cond_alpha_isfa_ista``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from neurosim.neurons.adex import CobaAdEx
from neurosim.neurons.description import Description

_ALPHA_ADEX = "(g_leak*(v_rest - v_c) + g_leak*delta_t*exp((v_c - v_t)/delta_t) - w + {input})/c_m"


@dataclass(frozen=True)
class CobaAlphaAdEx(CobaAdEx):
    """:class:`~neurosim.neurons.CobaAdEx` with alpha-shaped conductances peaking at the weight
    (PyNN's ``EIF_cond_alpha_isfa_ista``): ``dg/dt = (e y - g)/tau``, ``dy/dt = -y/tau``, ``y += w``."""

    description: ClassVar[Description] = Description(
        equations=f"""
            dv/dt = {_ALPHA_ADEX.format(input="g_exc*(e_exc - v_c) + g_inh*(e_inh - v_c) + i_bias + i_ext")} : volt
            dw/dt = (a*(v_c - v_rest) - w)/tau_w : amp
            v_c = clip(v, -inf, v_peak) : volt
            dg_exc/dt = (e*y_exc - g_exc)/tau_syn_exc : siemens
            dy_exc/dt = -y_exc/tau_syn_exc : siemens
            dg_inh/dt = (e*y_inh - g_inh)/tau_syn_inh : siemens
            dy_inh/dt = -y_inh/tau_syn_inh : siemens
        """,
        threshold="v > v_peak",
        reset="v = v_reset; w += b",
        refractory="v = v_reset",
        method="rk4",
        receptors=("y_exc", "y_inh"),
    )
