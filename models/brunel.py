"""Brunel (2000), model A: a sparsely connected network of excitatory and inhibitory LIF neurons.

N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory spiking
neurons", J. Comput. Neurosci. 8, 183–208 (2000). ``n_exc`` excitatory and
``gamma·n_exc`` inhibitory LIF neurons (τ = 20 ms, θ = 20 mV, V_r = 10 mV, τ_rp = 2 ms,
rest 0 mV), each with fixed in-degrees C_E = ε n_exc and C_I = γ C_E; delta synapses: a
spike moves v by J (excitatory) or −g J (inhibitory) after the delay D = 1.5 ms. External
drive: C_E independent Poisson inputs of rate ν_ext = η ν_thr per neuron, each moving v by J,
where ν_thr = θ / (J C_E τ) is the rate that brings the mean input to threshold. The four
states of the paper's Fig. 8 (``STATES``):

- A (g = 3, η = 2): synchronous regular (SR), neurons fire regularly at high rates;
- B (g = 6, η = 4): synchronous irregular with fast oscillations (SI fast);
- C (g = 5, η = 2): asynchronous irregular (AI), stationary global activity;
- D (g = 4.5, η = 0.9): synchronous irregular with slow oscillations (SI slow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurosim.connectivity import FixedInDegree, Uniform
from neurosim.network import Network
from neurosim.neurons import LIF
from neurosim.units import parse_quantity

#: (g, eta) of the four states of Brunel (2000), Fig. 8
STATES = {"A": (3.0, 2.0), "B": (6.0, 4.0), "C": (5.0, 2.0), "D": (4.5, 0.9)}


@dataclass(frozen=True)
class Params:
    """Parameters of :func:`build`; ``state`` ("A"–"D") sets ``g`` and ``eta`` from :data:`STATES`
    unless they are given."""

    n_exc: int = 10_000
    gamma: float = 0.25
    epsilon: float = 0.1
    state: str = "C"
    g: float | None = None
    eta: float | None = None
    j: Any = "0.1 mV"
    delay: Any = "1.5 ms"
    tau_m: Any = "20 ms"
    theta: Any = "20 mV"
    v_reset: Any = "10 mV"
    t_ref: Any = "2 ms"

    def __post_init__(self):
        if self.state not in STATES:
            raise ValueError(f"model.state: must be one of {', '.join(STATES)} (Brunel 2000, Fig. 8), got {self.state!r}")
        if not isinstance(self.n_exc, int) or self.n_exc < 10:
            raise ValueError(f"model.n_exc: must be an integer >= 10, got {self.n_exc!r}")
        for name in ("gamma", "epsilon"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"model.{name}: must be in (0, 1], got {getattr(self, name)!r}")
        for name in ("g", "eta"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"model.{name}: must be >= 0, got {value!r}")

    @property
    def g_eta(self) -> tuple[float, float]:
        """(g, eta): the given values, else the state's."""
        g, eta = STATES[self.state]
        return (g if self.g is None else self.g), (eta if self.eta is None else self.eta)

    @property
    def n_inh(self) -> int:
        return int(round(self.gamma * self.n_exc))

    @property
    def c_exc(self) -> int:
        return max(1, int(round(self.epsilon * self.n_exc)))

    @property
    def c_inh(self) -> int:
        return max(1, int(round(self.epsilon * self.n_inh)))

    def nu_thr(self) -> float:
        """ν_thr = θ / (J C_E τ) (Hz): the external rate whose mean input reaches threshold."""
        theta = parse_quantity(self.theta, "voltage", "model.theta")
        j = parse_quantity(self.j, "voltage", "model.j")
        tau = parse_quantity(self.tau_m, "time", "model.tau_m")
        return theta / (j * self.c_exc * tau)


def neuron(params: Params) -> LIF:
    """The LIF neuron of the model (rest 0 mV)."""
    return LIF(tau_m=params.tau_m, v_rest="0 mV", v_th=params.theta, v_reset=params.v_reset, t_ref=params.t_ref)


def build(params: Params = Params(), dt: Any = "0.1 ms", seed: int = 0,
          precision: str = "float64", record_spikes: bool = True) -> Network:
    """The network as populations ``exc`` and ``inh``; v starts uniform in [0, θ); spikes recorded if asked."""
    net = Network(dt=dt, seed=seed, precision=precision)
    cell = neuron(params)
    v_init = Uniform("0 mV", params.theta)
    exc = net.population("exc", params.n_exc, cell, v_init=v_init)
    inh = net.population("inh", params.n_inh, cell, v_init=v_init)
    g, eta = params.g_eta
    j = parse_quantity(params.j, "voltage", "model.j")
    for post in (exc, inh):
        net.connect(exc, post, FixedInDegree(params.c_exc), weight=j, delay=params.delay)
        net.connect(inh, post, FixedInDegree(params.c_inh), weight=-g * j, delay=params.delay)
        net.poisson_input(post, params.c_exc, eta * params.nu_thr(), j, name=f"external_{post.name}")
    if record_spikes:
        net.spike_monitor(exc)
        net.spike_monitor(inh)
    return net
