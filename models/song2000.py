"""Song, Miller & Abbott (2000): competitive Hebbian learning through additive STDP.

S. Song, K. D. Miller, L. F. Abbott, "Competitive Hebbian learning through spike-timing-dependent
synaptic plasticity", Nat. Neurosci. 3, 919–926 (2000), as Brian2's example
``examples/synapses/STDP.py`` builds it (excitatory inputs only), except that the drive is the
paper's conductance ``ge (E_e - v)`` (the example's ``ge (E_e - v_r)`` is a current), integrated
by forward Euler. One conductance-based LIF neuron

    dv/dt = (ge (E_e - v) + E_l - v) / tau_m      spike when v > v_t, then v = v_r
    dge/dt = -ge / tau_e                          (ge dimensionless: in units of the leak)

driven by ``n_inputs`` Poisson sources of ``rate`` through all-to-all synapses onto ``ge``
(delay 0) with initial weights uniform in [0, g_max). Additive pair STDP, all-to-all traces
(tau_pre = tau_post = 20 ms): a post spike adds ``a_pre g_max`` times the pre trace, a pre
arrival subtracts ``depression_ratio a_pre g_max tau_pre/tau_post`` times the post trace,
weights clipped to [0, g_max]. Depression slightly outweighs potentiation (1.05), so the inputs
compete and the weights split into two groups, at 0 and at g_max (the paper's Fig. 2).
``same_step`` pairs a pre arrival and a post spike of one step as Brian2 does (its ``on_pre``
runs before ``on_post``; see :class:`neurosim.plasticity.STDP`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurosim.connectivity import AllToAll, Uniform
from neurosim.network import Network
from neurosim.neurons.user import EquationModel
from neurosim.plasticity import STDP
from neurosim.units import parse_quantity

EQUATIONS = """
    dv/dt = (ge*(e_e - v) + e_l - v)/tau_m : volt
    dge/dt = -ge/tau_e : 1
"""


@dataclass(frozen=True)
class Params:
    """Parameters of :func:`build` (Brian2's example values); ``g_max`` and the weights are
    dimensionless (units of the leak conductance), ``a_pre`` is a fraction of ``g_max``. The
    seed of :func:`build` draws the input spikes and the initial weights."""

    n_inputs: int = 1000
    rate: Any = "15 Hz"
    tau_m: Any = "10 ms"
    tau_e: Any = "5 ms"
    e_e: Any = "0 mV"
    e_l: Any = "-74 mV"
    v_t: Any = "-54 mV"
    v_r: Any = "-60 mV"
    g_max: float = 0.01
    a_pre: float = 0.01
    depression_ratio: float = 1.05
    tau_pre: Any = "20 ms"
    tau_post: Any = "20 ms"
    same_step: bool = True

    def __post_init__(self):
        if not isinstance(self.n_inputs, int) or self.n_inputs < 1:
            raise ValueError(f"model.n_inputs: must be an integer >= 1, got {self.n_inputs!r}")
        for name in ("g_max", "a_pre", "depression_ratio"):
            if not getattr(self, name) > 0:
                raise ValueError(f"model.{name}: must be > 0, got {getattr(self, name)!r}")


def neuron(params: Params) -> EquationModel:
    """The conductance-based LIF neuron (forward Euler, no refractory period); input onto ``ge``."""
    values = {"tau_m": params.tau_m, "tau_e": params.tau_e, "e_e": params.e_e, "e_l": params.e_l,
              "v_t": params.v_t, "v_r": params.v_r}
    return EquationModel(name="song2000", equations=EQUATIONS, threshold="v > v_t", reset="v = v_r",
                         parameters=values, receptors=("ge", "ge"), method="euler")


def plasticity(params: Params) -> STDP:
    """Additive all-to-all STDP: ``a_plus = a_pre g_max``, ``a_minus = depression_ratio a_plus tau_pre/tau_post``."""
    a_plus = params.a_pre * params.g_max
    tau_pre = parse_quantity(params.tau_pre, "time", "model.tau_pre")
    ratio = tau_pre / parse_quantity(params.tau_post, "time", "model.tau_post")
    return STDP(a_plus=a_plus, a_minus=params.depression_ratio * a_plus * ratio, w_max=params.g_max, w_min=0.0,
                tau_pre=params.tau_pre, tau_post=params.tau_post, same_step=params.same_step)


def build(params: Params = Params(), dt: Any = "0.1 ms", seed: int = 0,
          precision: str = "float64", record_spikes: bool = True) -> Network:
    """Sources ``inputs`` -> population ``neuron`` (1 neuron, v starts at v_r) through the plastic
    projection ``inputs_to_neuron``; the neuron's spikes recorded if asked."""
    net = Network(dt=dt, seed=seed, precision=precision)
    inputs = net.poisson_source("inputs", params.n_inputs, params.rate)
    cell = net.population("neuron", 1, neuron(params), v_init=params.v_r)
    net.connect(inputs, cell, AllToAll(), weight=Uniform(0.0, params.g_max),
                plasticity=plasticity(params))
    if record_spikes:
        net.spike_monitor(cell)
    return net
