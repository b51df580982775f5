"""Leaky integrate-and-fire neuron with delta (voltage-jump) synapses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from neurosim.neurons.base import NeuronModel, quantity
from neurosim.neurons.propagators import membrane_propagators


@dataclass(frozen=True)
class LIF(NeuronModel):
    """Leaky integrate-and-fire neuron; a presynaptic spike makes ``v`` jump by the weight (V).

        C dv/dt = -C (v - v_rest)/tau_m + i_bias + i_ext,    v += w  on each arriving spike
        v >= v_th  ->  spike; hard reset v = v_reset, or soft reset v -= v_th - v_reset
        for t_ref after a spike v is clamped to v_reset and arriving spikes are discarded

    Every field accepts a number (SI), a unit string (``"20 ms"``) or a per-neuron array.
    Integration is exact (see :mod:`neurosim.neurons.propagators`).
    """

    tau_m: Any = quantity("20 ms", "time", "membrane time constant")
    c_m: Any = quantity("200 pF", "capacitance", "membrane capacitance")
    v_rest: Any = quantity("-65 mV", "voltage", "resting (leak reversal) potential")
    v_th: Any = quantity("-50 mV", "voltage", "firing threshold")
    v_reset: Any = quantity("-65 mV", "voltage", "reset potential")
    t_ref: Any = quantity("2 ms", "time", "absolute refractory period")
    i_bias: Any = quantity(0.0, "current", "constant bias current")
    reset: str = "hard"

    state_variables: ClassVar[tuple[str, ...]] = ("v",)
    weight_dimension: ClassVar[str] = "voltage"
    receptor_targets: ClassVar[tuple[str, str]] = ("v", "v")

    def kernel_table(self, n: int, dt: float, population: str) -> dict[str, np.ndarray]:
        """Per-neuron arrays of the generic engine neuron (see ``neurosim.engine.layout``)."""
        p = self.per_neuron(n, population)
        p_vv, p_vI = membrane_propagators(p["tau_m"], p["c_m"], dt)
        zeros = np.zeros(n)
        return {
            "v_rest": p["v_rest"],
            "v_th": p["v_th"],
            "v_reset": p["v_reset"],
            "reset_step": p["v_th"] - p["v_reset"],
            "soft": np.full(n, 1.0 if self.reset == "soft" else 0.0),
            "ref_steps": np.floor(p["t_ref"] / dt + 1e-9),
            "p_vv": p_vv,
            "p_ve": zeros,
            "p_vi": zeros,
            "p_vI": p_vI,
            "d_e": zeros,
            "d_i": zeros,
            "i_bias": p["i_bias"],
        }
