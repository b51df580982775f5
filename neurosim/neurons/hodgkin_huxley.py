"""Hodgkin–Huxley neuron with conductance synapses: the COBAHH benchmark model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import NeuronModel, quantity
from neurosim.neurons.description import Description


@dataclass(frozen=True)
class HodgkinHuxley(NeuronModel):
    """Traub & Miles' Hodgkin–Huxley neuron of the COBAHH benchmark (Brette et al. 2007).

        C dv/dt = g_leak (e_leak - v) - g_na m^3 h (v - e_na) - g_kd n^4 (v - e_k)
                  + g_exc (e_exc - v) + g_inh (e_inh - v) + i_bias + i_ext
        dm/dt = α_m (1 - m) - β_m m   (h, n alike; rates of v - v_t in mV and ms as in the benchmark)
        dg_exc/dt = -g_exc/tau_syn_exc,   dg_inh/dt = -g_inh/tau_syn_inh

    A spike is ``v > v_spike`` (-20 mV) outside a ``t_ref`` (3 ms) dead time after the last
    one; nothing is reset or clamped. Integration: exponential Euler (every equation is linear
    in its own variable; first order in dt), Brian2's method for this model. Gates start at
    their steady state for the initial ``v``. Defaults: the benchmark (area 20000 µm²).
    """

    c_m: Any = quantity("200 pF", "capacitance", "membrane capacitance")
    g_leak: Any = quantity("10 nS", "conductance", "leak conductance")
    e_leak: Any = quantity("-60 mV", "voltage", "leak reversal potential")
    g_na: Any = quantity("20 uS", "conductance", "sodium conductance")
    e_na: Any = quantity("50 mV", "voltage", "sodium reversal potential")
    g_kd: Any = quantity("6 uS", "conductance", "potassium conductance")
    e_k: Any = quantity("-90 mV", "voltage", "potassium reversal potential")
    v_t: Any = quantity("-63 mV", "voltage", "offset of the gating rate functions")
    v_spike: Any = quantity("-20 mV", "voltage", "a spike is counted when v rises above it")
    v_rest: Any = quantity("-60 mV", "voltage", "initial membrane potential (default v_init)")
    e_exc: Any = quantity("0 mV", "voltage", "excitatory reversal potential")
    e_inh: Any = quantity("-80 mV", "voltage", "inhibitory reversal potential")
    tau_syn_exc: Any = quantity("5 ms", "time", "excitatory synaptic time constant")
    tau_syn_inh: Any = quantity("10 ms", "time", "inhibitory synaptic time constant")
    t_ref: Any = quantity("3 ms", "time", "dead time after a spike")
    i_bias: Any = quantity(0.0, "current", "constant bias current")

    #: integration method instead of the description's ("exact", "exponential_euler", "rk4", "rk2", "euler")
    method: str = ""

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (g_leak*(e_leak - v) - g_na*m**3*h*(v - e_na) - g_kd*n**4*(v - e_k) + g_exc*(e_exc - v) + g_inh*(e_inh - v) + i_bias + i_ext)/c_m : volt
            dm/dt = alpha_m*(1 - m) - beta_m*m : 1
            dh/dt = alpha_h*(1 - h) - beta_h*h : 1
            dn/dt = alpha_n*(1 - n) - beta_n*n : 1
            dg_exc/dt = -g_exc/tau_syn_exc : siemens
            dg_inh/dt = -g_inh/tau_syn_inh : siemens
            alpha_m = 0.32*4/exprel((13*mV - v + v_t)/(4*mV))/ms : hertz
            beta_m = 0.28*5/exprel((v - v_t - 40*mV)/(5*mV))/ms : hertz
            alpha_h = 0.128*exp((17*mV - v + v_t)/(18*mV))/ms : hertz
            beta_h = 4/(1 + exp((40*mV - v + v_t)/(5*mV)))/ms : hertz
            alpha_n = 0.032*5/exprel((15*mV - v + v_t)/(5*mV))/ms : hertz
            beta_n = 0.5*exp((10*mV - v + v_t)/(40*mV))/ms : hertz
        """,
        threshold="v > v_spike",
        initial="m = alpha_m/(alpha_m + beta_m); h = alpha_h/(alpha_h + beta_h); n = alpha_n/(alpha_n + beta_n)",
        method="exponential_euler",
        receptors=("g_exc", "g_inh"),
    )
