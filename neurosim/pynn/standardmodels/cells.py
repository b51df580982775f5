"""PyNN's standard cell types on neurosim's neuron models.

Each class adds to PyNN's definition (parameter names, defaults, units: mV, nA, nF, ms, µS):

- ``translations``: PyNN name -> native field of the neurosim model, in SI (mV -> V: x 1e-3,
  nA -> A: x 1e-9, nF -> F: x 1e-9, ms -> s: x 1e-3, µS -> S: x 1e-6, nS -> S: x 1e-9);
- ``native_model``: the neurosim model class the native parameters are given to;
- ``state_variables``: PyNN state variable -> (native state variable, SI per PyNN unit);
- ``weight_scale``: SI per PyNN weight unit (nA for current, µS for conductance, mV for
  voltage-jump synapses).

Models: ``IF_curr_exp`` -> :class:`~neurosim.neurons.CubaLIF`, ``IF_curr_alpha`` ->
:class:`~neurosim.neurons.AlphaLIF`, ``IF_curr_delta`` -> :class:`~neurosim.neurons.LIF`,
``IF_cond_exp`` -> :class:`~neurosim.neurons.CobaLIF`, ``IF_cond_exp_gsfa_grr`` ->
:class:`~neurosim.neurons.CobaAdaptLIF`, ``IF_cond_alpha`` -> :class:`~neurosim.neurons.CobaAlphaLIF`, ``EIF_cond_exp_isfa_ista`` -> :class:`~neurosim.neurons.CobaAdEx`, ``EIF_cond_alpha_isfa_ista`` ->
:class:`~neurosim.neurons.CobaAlphaAdEx`, ``Izhikevich`` ->
:class:`~neurosim.neurons.Izhikevich` (c_m = 1 pF, so 1 nA is 1000 mV/ms of the paper's
``I``, as PyNN's NEST and Brian2 backends), ``HH_cond_exp`` ->
:class:`~neurosim.neurons.HodgkinHuxley` (spike: v > -20 mV with a 3 ms dead time, neurosim's
COBAHH convention). Spike sources become native Poisson sources and spike generators.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pyNN.standardmodels import build_translations, cells

from neurosim.neurons import (AlphaLIF, CobaAdaptLIF, CobaAdEx, CobaAlphaAdEx, CobaAlphaLIF, CobaLIF, CubaLIF,
                              HodgkinHuxley, Izhikevich as NativeIzhikevich, LIF)

MV, NA, NF, MS, US, NS = 1e-3, 1e-9, 1e-9, 1e-3, 1e-6, 1e-9


_LIF = (
    ("v_rest", "v_rest", MV), ("v_reset", "v_reset", MV), ("cm", "c_m", NF), ("tau_m", "tau_m", MS),
    ("tau_refrac", "t_ref", MS), ("v_thresh", "v_th", MV), ("i_offset", "i_bias", NA),
)
_SYN = (("tau_syn_E", "tau_syn_exc", MS), ("tau_syn_I", "tau_syn_inh", MS))
_REV = (("e_rev_E", "e_exc", MV), ("e_rev_I", "e_inh", MV))
_CURR_VARS = {"v": ("v", MV), "isyn_exc": ("i_exc", NA), "isyn_inh": ("i_inh", NA)}
_COND_VARS = {"v": ("v", MV), "gsyn_exc": ("g_exc", US), "gsyn_inh": ("g_inh", US)}


class NativeCell:
    """What a neurosim cell type adds to PyNN's: see the module docstring."""

    native_model: ClassVar[Any] = None
    state_variables: ClassVar[dict[str, tuple[str, float]]] = {}
    weight_scale: ClassVar[float] = NA
    #: fixed native parameters that PyNN does not set
    fixed: ClassVar[dict[str, Any]] = {}


class IF_curr_exp(NativeCell, cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    translations = build_translations(*_LIF, *_SYN)
    native_model = CubaLIF
    state_variables = _CURR_VARS


class IF_curr_alpha(NativeCell, cells.IF_curr_alpha):
    __doc__ = cells.IF_curr_alpha.__doc__
    translations = build_translations(*_LIF, *_SYN)
    native_model = AlphaLIF
    state_variables = _CURR_VARS


class IF_curr_delta(NativeCell, cells.IF_curr_delta):
    __doc__ = cells.IF_curr_delta.__doc__
    translations = build_translations(*_LIF)
    native_model = LIF
    state_variables = {"v": ("v", MV)}
    weight_scale = MV


class IF_cond_exp(NativeCell, cells.IF_cond_exp):
    __doc__ = cells.IF_cond_exp.__doc__
    translations = build_translations(*_LIF, *_SYN, *_REV)
    native_model = CobaLIF
    state_variables = _COND_VARS
    weight_scale = US


class IF_cond_alpha(NativeCell, cells.IF_cond_alpha):
    __doc__ = cells.IF_cond_alpha.__doc__
    translations = build_translations(*_LIF, *_SYN, *_REV)
    native_model = CobaAlphaLIF
    state_variables = _COND_VARS
    weight_scale = US


class IF_cond_exp_gsfa_grr(NativeCell, cells.IF_cond_exp_gsfa_grr):
    __doc__ = cells.IF_cond_exp_gsfa_grr.__doc__
    translations = build_translations(
        *_LIF, *_SYN, *_REV, ("tau_sfa", "tau_s", MS), ("e_rev_sfa", "e_s", MV), ("q_sfa", "q_s", NS),
        ("tau_rr", "tau_r", MS), ("e_rev_rr", "e_r", MV), ("q_rr", "q_r", NS))
    native_model = CobaAdaptLIF
    state_variables = {**_COND_VARS, "g_s": ("g_s", NS), "g_r": ("g_r", NS)}
    weight_scale = US


class EIF_cond_exp_isfa_ista(NativeCell, cells.EIF_cond_exp_isfa_ista):
    __doc__ = cells.EIF_cond_exp_isfa_ista.__doc__
    translations = build_translations(
        ("cm", "c_m", NF), ("tau_refrac", "t_ref", MS), ("v_spike", "v_peak", MV), ("v_reset", "v_reset", MV),
        ("v_rest", "v_rest", MV), ("tau_m", "g_leak", "1e-6*cm/tau_m", "1e3*c_m/g_leak"),
        ("i_offset", "i_bias", NA), ("a", "a", NS), ("b", "b", NA), ("delta_T", "delta_t", MV),
        ("tau_w", "tau_w", MS), ("v_thresh", "v_t", MV), *_SYN, *_REV,
    )
    native_model = CobaAdEx
    state_variables = {**_COND_VARS, "w": ("w", NA)}
    weight_scale = US


class EIF_cond_alpha_isfa_ista(NativeCell, cells.EIF_cond_alpha_isfa_ista):
    __doc__ = cells.EIF_cond_alpha_isfa_ista.__doc__
    translations = EIF_cond_exp_isfa_ista.translations
    native_model = CobaAlphaAdEx
    state_variables = EIF_cond_exp_isfa_ista.state_variables
    weight_scale = US


class Izhikevich(NativeCell, cells.Izhikevich):
    __doc__ = cells.Izhikevich.__doc__
    # u (mV/ms) is native u (V) per ms: u_SI = 1e-3 u; b (/ms) is native b (dimensionless)
    translations = build_translations(
        ("a", "a", 1e3), ("b", "b"), ("c", "c", MV), ("d", "d", MV), ("i_offset", "i_bias", NA),
    )
    native_model = NativeIzhikevich
    state_variables = {"v": ("v", MV), "u": ("u", MV)}
    weight_scale = MV
    fixed = {"c_m": 1e-12}


class HH_cond_exp(NativeCell, cells.HH_cond_exp):
    __doc__ = cells.HH_cond_exp.__doc__
    receptor_types = ("excitatory", "inhibitory")
    translations = build_translations(
        ("gbar_Na", "g_na", US), ("gbar_K", "g_kd", US), ("g_leak", "g_leak", US), ("cm", "c_m", NF),
        ("v_offset", "v_t", MV), ("e_rev_Na", "e_na", MV), ("e_rev_K", "e_k", MV), ("e_rev_leak", "e_leak", MV),
        *_REV, *_SYN, ("i_offset", "i_bias", NA),
    )
    native_model = HodgkinHuxley
    state_variables = {**_COND_VARS, "m": ("m", 1.0), "h": ("h", 1.0), "n": ("n", 1.0)}
    weight_scale = US


class SpikeSourcePoisson(NativeCell, cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = build_translations(("rate", "rate"), ("start", "start", MS), ("duration", "duration", MS))


class SpikeSourceArray(NativeCell, cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = build_translations(("spike_times", "spike_times"))


AVAILABLE = ("IF_curr_exp", "IF_curr_alpha", "IF_curr_delta", "IF_cond_exp", "IF_cond_alpha", "IF_cond_exp_gsfa_grr",
             "EIF_cond_exp_isfa_ista", "EIF_cond_alpha_isfa_ista", "Izhikevich", "HH_cond_exp", "SpikeSourcePoisson",
             "SpikeSourceArray")


def _missing(pynn_class: type) -> type:
    """A cell type neurosim has no model for: constructing it raises NotImplementedError."""

    def __init__(self, **parameters):
        raise NotImplementedError(f"neurosim.pynn: {pynn_class.__name__} has no neurosim model; available cell "
                                  f"types: {', '.join(AVAILABLE)}")

    return type(pynn_class.__name__, (pynn_class,), {"__init__": __init__, "__doc__": pynn_class.__doc__})


SpikeSourceGamma = _missing(cells.SpikeSourceGamma)
SpikeSourcePoissonRefractory = _missing(cells.SpikeSourcePoissonRefractory)
SpikeSourceInhGamma = _missing(cells.SpikeSourceInhGamma)
GIF_cond_exp = _missing(cells.GIF_cond_exp)

__all__ = [*AVAILABLE, "GIF_cond_exp", "SpikeSourceGamma", "SpikeSourcePoissonRefractory", "SpikeSourceInhGamma"]
