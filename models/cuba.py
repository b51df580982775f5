"""The CUBA benchmark network of Brette et al. (2007), after Vogels & Abbott (2005).

4000 current-based LIF neurons (80 % excitatory), random connectivity with probability
0.02 (about 80 inputs each), exponential synaptic currents (5 ms / 10 ms), no external
drive: the leak reversal (-49 mV) lies above threshold (-50 mV), so neurons fire on their
own. Brian's voltage jumps of +1.62 mV / -9 mV equal currents of C·Δv/τ_m = 16.2 pA / -90 pA.
Initial v ~ U(-60 mV, -50 mV). All published engines give 5.6–5.9 Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurosim.connectivity import FixedProbability, Uniform
from neurosim.network import Network
from neurosim.neurons import CubaLIF

NEURON = CubaLIF(
    tau_m="20 ms", c_m="200 pF", v_rest="-49 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="5 ms",
    tau_syn_exc="5 ms", tau_syn_inh="10 ms",
)


def check_ei_sizes(n: int, k: float, exc_fraction: float) -> None:
    """The size checks of an E/I benchmark network (CUBA, COBA, COBAHH): n neurons, in-degree k."""
    if n < 2:
        raise ValueError(f"model.n: must be >= 2, got {n!r}")
    if not 0 < k <= n - 1:
        raise ValueError(f"model.k: must be in (0, n - 1], got {k!r}")
    if not 0 < exc_fraction < 1:
        raise ValueError(f"model.exc_fraction: must be in (0, 1), got {exc_fraction!r}")


@dataclass(frozen=True)
class Params:
    """Parameters of :func:`build`; ``k`` is the expected in-degree (p = k / n)."""

    n: int = 4000
    k: float = 80.0
    w_exc: Any = "16.2 pA"
    w_inh: Any = "-90 pA"
    weight_scale: float = 1.0
    delay: Any = "0 ms"
    exc_fraction: float = 0.8

    def __post_init__(self):
        check_ei_sizes(self.n, self.k, self.exc_fraction)


def build(params: Params = Params(), dt: Any = "0.1 ms", seed: int = 0,
          precision: str = "float64", record_spikes: bool = True) -> Network:
    """The CUBA network as two populations ``exc`` and ``inh``, spikes recorded if asked."""
    from neurosim.units import parse_quantity

    net = Network(dt=dt, seed=seed, precision=precision)
    n_exc = int(round(params.n * params.exc_fraction))
    v_init = Uniform("-60 mV", "-50 mV")
    exc = net.population("exc", n_exc, NEURON, v_init=v_init)
    inh = net.population("inh", params.n - n_exc, NEURON, v_init=v_init)
    p = params.k / params.n
    w_e = parse_quantity(params.w_exc, "current", "model.w_exc") * params.weight_scale
    w_i = parse_quantity(params.w_inh, "current", "model.w_inh") * params.weight_scale
    for pre, w in ((exc, w_e), (inh, w_i)):
        for post in (exc, inh):
            net.connect(pre, post, FixedProbability(p), weight=w, delay=params.delay)
    if record_spikes:
        net.spike_monitor(exc)
        net.spike_monitor(inh)
    return net
