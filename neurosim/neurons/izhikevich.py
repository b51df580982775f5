"""Izhikevich (2003) simple spiking neuron."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from neurosim.neurons.base import NeuronModel, quantity
from neurosim.neurons.description import Description


@dataclass(frozen=True)
class Izhikevich(NeuronModel):
    """Izhikevich's model with its published constants in mV and ms, made unit-consistent.

        dv/dt = (0.04/mV v^2 + 5 v + 140 mV - u)/ms + (i_bias + i_ext)/c_m
        du/dt = a (b v - u)
        v >= v_peak (30 mV)  ->  spike; v = c, u += d;     a spike adds its weight to v (V)

    The paper's input ``I`` (mV/ms) is ``(i_bias + i_ext)/c_m``: with the default
    ``c_m = 1 nF``, I = 10 is 10 nA. ``a`` is a rate (0.02/ms = 20 Hz), ``b`` dimensionless,
    ``c`` and ``d`` voltages. Integration: classical RK4 (fourth order in dt). The initial
    ``u`` is ``b v``. Defaults: regular spiking (RS).
    """

    a: Any = quantity("20 Hz", "frequency", "recovery rate (the paper's a, per ms)")
    b: Any = quantity(0.2, "dimensionless", "sensitivity of u to v")
    c: Any = quantity("-65 mV", "voltage", "reset potential")
    d: Any = quantity("8 mV", "voltage", "jump of u at a spike")
    v_peak: Any = quantity("30 mV", "voltage", "spike cut-off")
    v_rest: Any = quantity("-65 mV", "voltage", "initial membrane potential (default v_init)")
    c_m: Any = quantity("1 nF", "capacitance", "scale of the input: I (mV/ms) = i/c_m")
    t_ref: Any = quantity(0.0, "time", "absolute refractory period")
    i_bias: Any = quantity(0.0, "current", "constant bias current")

    #: integration method instead of the description's ("exact", "exponential_euler", "rk4", "rk2", "euler")
    method: str = ""

    description: ClassVar[Description] = Description(
        equations="""
            dv/dt = (0.04/mV*v**2 + 5*v + 140*mV - u)/ms + (i_bias + i_ext)/c_m : volt
            du/dt = a*(b*v - u) : volt
        """,
        threshold="v >= v_peak",
        reset="v = c; u += d",
        refractory="v = c",
        initial="u = b*v",
        method="rk4",
        receptors=("v", "v"),
    )
