"""Leaky integrate-and-fire neuron with delta (voltage-jump) synapses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import NeuronModel, quantity
from neurosim.neurons.description import Description


@dataclass(frozen=True)
class LIF(NeuronModel):
    """Leaky integrate-and-fire neuron; a presynaptic spike makes ``v`` jump by the weight (V).

        dv/dt = (v_rest - v)/tau_m + (i_bias + i_ext)/c_m,    v += w  on each arriving spike
        v >= v_th  ->  spike; hard reset v = v_reset, or soft reset v -= v_th - v_reset
        for t_ref after a spike v is clamped to v_reset and arriving spikes are discarded

    Every field accepts a number (SI), a unit string (``"20 ms"``) or a per-neuron array.
    Integration is exact.
    """

    tau_m: Any = quantity("20 ms", "time", "membrane time constant")
    c_m: Any = quantity("200 pF", "capacitance", "membrane capacitance")
    v_rest: Any = quantity("-65 mV", "voltage", "resting (leak reversal) potential")
    v_th: Any = quantity("-50 mV", "voltage", "firing threshold")
    v_reset: Any = quantity("-65 mV", "voltage", "reset potential")
    t_ref: Any = quantity("2 ms", "time", "absolute refractory period")
    i_bias: Any = quantity(0.0, "current", "constant bias current")
    reset: str = "hard"
    #: integration method instead of the description's ("exact", "exponential_euler", "rk4", "rk2", "euler")
    method: str = ""
    #: refractory timing: "grid" (whole steps from the spike's step) or "continuous" (``t_ref`` from
    #: the interpolated threshold crossing; see docs/models.md)
    timing: str = "grid"

    description: ClassVar[Description] = Description(
        equations="dv/dt = (v_rest - v)/tau_m + (i_bias + i_ext)/c_m : volt",
        threshold="v >= v_th",
        reset="v = v_reset + soft*(v - v_th)",
        refractory="v = v_reset",
        method="exact",
        receptors=("v", "v"),
    )

    def validate(self) -> None:
        super().validate()
        self._threshold_above_reset()
        if self.reset not in ("hard", "soft"):
            raise ValueError(f"{type(self).__name__}.reset: must be 'hard' or 'soft', got {self.reset!r}")

    def extra_parameters(self) -> dict[str, float]:
        return {"soft": 1.0 if self.reset == "soft" else 0.0}
