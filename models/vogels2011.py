"""Vogels et al. (2011): inhibitory plasticity balances a recurrent conductance-based network.

T. P. Vogels, H. Sprekeler, F. Zenke, C. Clopath, W. Gerstner, "Inhibitory plasticity balances
excitation and inhibition in sensory pathways and memory networks", Science 334, 1569–1573
(2011); parameters of its recurrent network as in Brian2's ``examples/frompapers/Vogels_et_al_2011.py``.

``n_exc`` = 8000 excitatory and ``n_inh`` = 2000 inhibitory conductance-based LIF neurons
(C = 200 pF, g_L = 10 nS, so τ_m = 20 ms; E_L = V_reset = -60 mV, V_th = -50 mV, 5 ms
refractory, E_exc = 0 mV, E_inh = -80 mV, conductances decaying with 5 ms / 10 ms), each
driven by a constant 200 pA (above the 100 pA rheobase g_L (V_th - E_L): alone a neuron
fires regularly). Every pair is connected with probability ``epsilon`` = 0.02, no delays:
E→E and E→I with 0.3 nS, I→I with 3 nS, and I→E plastic, starting at ``w_ie`` (0 nS) under
the inhibitory STDP of the paper (:func:`~neurosim.plasticity.vogels_sprekeler`: learning
rate ``eta`` = 0.01 nS, time constant 20 ms, target rate ``rho_0`` = 3 Hz, weights in
[0, ``w_max`` = 100 nS]). Without inhibition onto them the excitatory neurons fire fast; the
I→E weights grow until every excitatory neuron fires near ``rho_0``: about 30 % above it at
this in-degree (each inhibitory spike delays its target's next spike, a correlation the rule's
fixed point neglects), within a few % at 4x the in-degree and 1/4 the weights
(``tests/test_vogels2011.py``).

Differences from Brian2's script: v starts uniform in [E_L, V_th) (Brian's starts at 0 V,
above threshold, so that every neuron spikes in the first step); plasticity is on from t = 0
(Brian's first second runs with eta = 0, the network without plasticity: ``eta = 0`` here);
no autapses; exponential-Euler integration (Brian's script: ``euler``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurosim.connectivity import FixedProbability, Uniform
from neurosim.network import Network
from neurosim.neurons import CobaLIF
from neurosim.plasticity import STDP, vogels_sprekeler


@dataclass(frozen=True)
class Params:
    """Parameters of :func:`build` (weights in siemens or unit strings; ``eta = 0`` keeps the
    I→E weights at ``w_ie``)."""

    n_exc: int = 8000
    n_inh: int = 2000
    epsilon: float = 0.02
    w_exc: Any = "0.3 nS"
    w_ii: Any = "3 nS"
    w_ie: Any = "0 nS"
    i_bias: Any = "200 pA"
    rho_0: Any = "3 Hz"
    eta: Any = "0.01 nS"
    tau_stdp: Any = "20 ms"
    w_max: Any = "100 nS"

    def __post_init__(self):
        for name in ("n_exc", "n_inh"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"model.{name}: must be an integer >= 1, got {value!r}")
        if not 0 < self.epsilon <= 1:
            raise ValueError(f"model.epsilon: must be in (0, 1], got {self.epsilon!r}")


def neuron(params: Params) -> CobaLIF:
    """The conductance-based LIF neuron of the paper, driven by the constant ``i_bias`` (A)."""
    return CobaLIF(tau_m="20 ms", c_m="200 pF", v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="5 ms",
                   e_exc="0 mV", e_inh="-80 mV", tau_syn_exc="5 ms", tau_syn_inh="10 ms", i_bias=params.i_bias)


def rule(params: Params) -> STDP:
    """The I→E plasticity: Vogels–Sprekeler iSTDP with target rate ``rho_0``."""
    return vogels_sprekeler(params.eta, params.rho_0, params.w_max, tau=params.tau_stdp)


def build(params: Params = Params(), dt: Any = "0.1 ms", seed: int = 0,
          precision: str = "float64", record_spikes: bool = True) -> Network:
    """The network as populations ``exc`` and ``inh``; the plastic projection is ``inh_to_exc``;
    spikes recorded if asked."""
    net = Network(dt=dt, seed=seed, precision=precision)
    cell = neuron(params)
    v_init = Uniform("-60 mV", "-50 mV")
    exc = net.population("exc", params.n_exc, cell, v_init=v_init)
    inh = net.population("inh", params.n_inh, cell, v_init=v_init)
    p = FixedProbability(params.epsilon)
    net.connect(exc, exc, p, weight=params.w_exc, receptor="exc")
    net.connect(exc, inh, p, weight=params.w_exc, receptor="exc")
    net.connect(inh, inh, p, weight=params.w_ii, receptor="inh")
    net.connect(inh, exc, p, weight=params.w_ie, receptor="inh", plasticity=rule(params))
    if record_spikes:
        net.spike_monitor(exc)
        net.spike_monitor(inh)
    return net
