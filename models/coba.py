"""The COBA benchmark network of Brette et al. (2007), benchmark 1, after Vogels & Abbott (2005).

4000 conductance-based LIF neurons (3200 excitatory, 800 inhibitory), random connectivity with
probability 0.02 (about 80 inputs each), exponentially decaying conductances (5 ms / 10 ms)
jumping by 6 nS (excitatory) and 67 nS (inhibitory) per spike, no external drive: the
activity is started by the initial state and sustains itself. Neuron: C = 200 pF,
g_L = 10 nS (τ_m = 20 ms), E_L = V_reset = -60 mV, V_th = -50 mV, 5 ms refractory with v
clamped, E_exc = 0 mV, E_inh = -80 mV (the defaults of :class:`~neurosim.neurons.CobaLIF`).

Initial state as in Brian's benchmark script (COBA.py of the paper's supplement, the same as
Brian2's ``examples/COBAHH.py``): v ~ E_L + N(-5 mV, 5 mV), g_exc ~ N(40 nS, 15 nS),
g_inh ~ N(200 nS, 120 nS) (in units of g_L: N(4, 1.5) and N(20, 12)), set through the
populations' ``initial``. ``method`` chooses the integration (default: CobaLIF's exponential
Euler; Brian's script integrates with ``euler``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neurosim.connectivity import FixedProbability, Normal
from neurosim.models.cuba import check_ei_sizes
from neurosim.network import Network
from neurosim.neurons import CobaLIF, NeuronModel

NEURON = CobaLIF(
    tau_m="20 ms", c_m="200 pF", v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="5 ms",
    e_exc="0 mV", e_inh="-80 mV", tau_syn_exc="5 ms", tau_syn_inh="10 ms",
)


@dataclass(frozen=True)
class Params:
    """Parameters of :func:`build`; ``k`` is the expected in-degree (p = k / n).

    ``g_init``: draw the initial conductances as the benchmark does (:func:`set_initial_state`);
    False starts them at 0 (then the network stays silent: nothing drives it).
    ``autapses``: Brian's ``Synapses(Pe, P).connect(p=...)`` allows them, so they are allowed here.
    ``method``: the integration method ("" for CobaLIF's own, exponential Euler; "euler" as Brian's script).
    """

    n: int = 4000
    k: float = 80.0
    w_exc: Any = "6 nS"
    w_inh: Any = "67 nS"
    delay: Any = "0 ms"
    exc_fraction: float = 0.8
    autapses: bool = True
    g_init: bool = True
    method: str = ""

    def __post_init__(self):
        check_ei_sizes(self.n, self.k, self.exc_fraction)


#: Brian's initial conductances
G_INIT = {"g_exc": Normal("40 nS", "15 nS"), "g_inh": Normal("200 nS", "120 nS")}
#: Brian's initial membrane potential: E_L + N(-5 mV, 5 mV)
V_INIT = Normal("-65 mV", "5 mV")


def build(params: Params = Params(), dt: Any = "0.1 ms", seed: int = 0,
          precision: str = "float64", record_spikes: bool = True) -> Network:
    """The COBA network as two populations ``exc`` and ``inh``, spikes recorded if asked."""
    neuron = dataclasses.replace(NEURON, method=params.method)
    return ei_network(params, neuron, G_INIT if params.g_init else {}, Network(dt=dt, seed=seed, precision=precision),
                      record_spikes)


def ei_network(params: Any, neuron: NeuronModel, initial: dict, net: Network, record_spikes: bool) -> Network:
    """Brette et al.'s random E/I network of ``neuron`` (COBA, COBAHH): populations ``exc`` and
    ``inh``, connection probability k/n, conductance weights onto the exc / inh receptors."""
    n_exc = int(round(params.n * params.exc_fraction))
    exc = net.population("exc", n_exc, neuron, v_init=V_INIT, initial=initial)
    inh = net.population("inh", params.n - n_exc, neuron, v_init=V_INIT, initial=initial)
    p = params.k / params.n
    for pre, w, receptor in ((exc, params.w_exc, "exc"), (inh, params.w_inh, "inh")):
        for post in (exc, inh):
            net.connect(pre, post, FixedProbability(p, allow_autapses=params.autapses), weight=w,
                        delay=params.delay, receptor=receptor)
    if record_spikes:
        net.spike_monitor(exc)
        net.spike_monitor(inh)
    return net
