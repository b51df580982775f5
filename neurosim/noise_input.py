"""Gaussian white noise into a state variable of every neuron of a target: noise currents,
Ornstein–Uhlenbeck currents and conductances.

``dx = (... + mean) dt + sigma dW`` for a state variable ``x`` (Brian2's ``+ mean + sigma*xi``
in ``dx/dt``), each neuron with its own Wiener process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from neurosim.neurons.dimensions import Dim, named
from neurosim.neurons.equations import ANY, parse_unit_expression
from neurosim.population import Population
from neurosim.subgroup import Subgroup, parent_of
from neurosim.units import active_window, show, window_steps


@dataclass(eq=False)
class NoiseInput:
    """White noise of intensity ``sigma`` ([x]/√s) and drift ``mean`` ([x]/s) into the state
    variable ``variable`` (default: the model's excitatory receptor variable, e.g. ``v`` of a
    LIF, ``i_exc`` of a CubaLIF, ``g_exc`` of a CobaLIF) of every neuron of ``target``.

    Each step, ``a + b·z`` (z standard normal, from the counter-based generator keyed by
    (seed, input, step, neuron)) is added to ``x`` just before the neuron update, after the
    state sample (a sample at ``t_m`` shows ``x(t_m)``; the increment is the noise of
    ``[t_m, t_m+1)``). Where the model's
    step decays ``x`` by a factor ``P = exp(-dt/τ)`` of its own (an exact or exponential-Euler
    model: CubaLIF's currents, CobaLIF's conductances, LIF's ``v``), ``a = mean·τ(1-P)/P`` and
    ``b = sigma·√(τ(1-P²)/2)/P``: the variable then follows the Ornstein–Uhlenbeck process
    ``dx = (-x/τ + mean) dt + sigma dW`` exactly (stationary std ``sigma·√(τ/2)``); where it does
    not decay, ``a = mean·dt`` and ``b = sigma·√dt`` (the exact Wiener increment); for other
    methods the same Euler–Maruyama increment, first order. Variables ``x`` feeds (``v`` of a
    CubaLIF from ``i_exc``) see the noise through the model's own propagation.
    """

    name: str
    target: Population | Subgroup
    sigma: Any
    dt: float
    mean: Any = 0.0
    variable: str | None = None
    start: Any = 0.0
    stop: Any = None

    def __post_init__(self):
        f = f"noise.{self.name}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"noise.name: must be an identifier-like string, got {show(self.name)}")
        if not isinstance(parent_of(self.target), Population):
            raise ValueError(f"{f}.target: {getattr(self.target, 'name', self.target)!r} is not a neuron population")
        model = self.target.model
        if self.variable is None:
            self.variable = model.compiled.state[model.compiled.receptor_rows[0]]
        if self.variable not in model.state_variables:
            raise ValueError(f"{f}.variable: {self.variable!r} is not a state variable of the model "
                             f"(state variables: {', '.join(model.state_variables)})")
        compiled = model.compiled
        x = compiled.state_dims[compiled.state.index(self.variable)]
        self.sigma = self._quantity(self.sigma, x * named("time") ** Fraction(-1, 2), "sigma")
        self.mean = self._quantity(self.mean, x / named("time"), "mean")
        if self.sigma < 0:
            raise ValueError(f"{f}.sigma: must be >= 0, got {show(self.sigma)}")
        self.start, self.stop = active_window(self.start, self.stop, f)

    def _quantity(self, value: Any, dim: Dim, field: str) -> float:
        number, found = parse_unit_expression(value, f"noise.{self.name}.{field}")
        if found != ANY and found != dim:
            raise ValueError(f"noise.{self.name}.{field}: {value!r} is in {found}, but {dim} is expected "
                             f"(the unit of {self.variable} {'per square root of a second' if field == 'sigma' else 'per second'})")
        return number

    def increments(self, decay: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per-neuron ``(a, b)`` of the increment ``a + b z``, given the per-step decay factor
        of the variable (None: no decay factor known)."""
        n, dt = self.target.size, self.dt
        if decay is None:
            return np.full(n, self.mean * dt), np.full(n, self.sigma * math.sqrt(dt))
        p = np.asarray(decay, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(p < 1.0, -dt / np.log(p), np.inf)
            a = np.where(p < 1.0, self.mean * tau * (1.0 - p) / p, self.mean * dt)
            b = np.where(p < 1.0, self.sigma * np.sqrt(tau * (1.0 - p * p) / 2.0) / p, self.sigma * math.sqrt(dt))
        return a, b

    def steps(self) -> tuple[int, int]:
        """First step with noise, first step without (``2**62`` for an open end)."""
        return window_steps(self.start, self.stop, self.dt)
