"""The COBAHH benchmark network of Brette et al. (2007), benchmark 3.

4000 Hodgkin–Huxley neurons of Traub & Miles' type (3200 excitatory, 800 inhibitory; the
defaults of :class:`~neurosim.neurons.HodgkinHuxley`: area 20000 µm², C = 200 pF,
g_L = 10 nS, g_Na = 20 µS, g_K = 6 µS, V_T = -63 mV), random connectivity with probability
0.02, exponentially decaying conductances (5 ms / 10 ms) jumping by 6 nS / 67 nS per spike
(the weights of Brian2's ``examples/COBAHH.py``), no external drive. A spike is counted when v
crosses -20 mV, at most once per 3 ms.

Initial state as in Brian2's example: v ~ E_L + N(-5 mV, 5 mV), g_exc ~ N(40 nS, 15 nS),
g_inh ~ N(200 nS, 120 nS), and the gates m, h, n at 0 (the example leaves them at their
default; ``gates_at_zero=False`` keeps neurosim's steady state for the initial v), set through
the populations' ``initial``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurosim.models.coba import G_INIT, ei_network
from neurosim.models.cuba import check_ei_sizes
from neurosim.network import Network
from neurosim.neurons import HodgkinHuxley

NEURON = HodgkinHuxley()  # the defaults are the benchmark's


@dataclass(frozen=True)
class Params:
    """Parameters of :func:`build`; ``k`` is the expected in-degree (p = k / n)."""

    n: int = 4000
    k: float = 80.0
    w_exc: Any = "6 nS"
    w_inh: Any = "67 nS"
    delay: Any = "0 ms"
    exc_fraction: float = 0.8
    autapses: bool = True
    g_init: bool = True
    gates_at_zero: bool = True

    def __post_init__(self):
        check_ei_sizes(self.n, self.k, self.exc_fraction)


def build(params: Params = Params(), dt: Any = "0.1 ms", seed: int = 0,
          precision: str = "float64", record_spikes: bool = True) -> Network:
    """The COBAHH network as two populations ``exc`` and ``inh``, spikes recorded if asked."""
    initial = {**(G_INIT if params.g_init else {}), **(dict.fromkeys(("m", "h", "n"), 0.0) if params.gates_at_zero else {})}
    return ei_network(params, NEURON, initial, Network(dt=dt, seed=seed, precision=precision), record_spikes)
