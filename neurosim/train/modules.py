"""Neuron layers (thin modules around the functional steps and fused scans) and the ``SNN``
container.

Shapes are time-major: a layer takes ``[T, B, ...]`` and returns a :class:`LayerOutput`
``(out, membrane, state)`` with spikes (or the membrane, for the ``LI`` readout), the
membrane sequence and the final state; ``step`` takes one time step ``[B, ...]``. State is
explicit (``None`` = at rest); :class:`SNN` threads it through its layers and, only when
``stateful=True``, keeps it between calls until its own ``reset_state()``.

Units and the mapping to the simulator's neuron models (one description for simulation,
training and export). A layer built with ``from_neuron(neuron, dt)`` works in
dimensionless training units::

    u     = (v - v_rest) / v_scale,  v_scale = v_th - v_rest of the neuron it was built from
    θ     = (v_th - v_rest) / v_scale          (1 at construction unless ``threshold`` is given; learnable)
    β     = exp(-dt / tau_m)                   (membrane decay per step; learnable)
    α     = exp(-dt / tau_syn)                 (CubaLIF synaptic decay per step; learnable)
    reset = neuron.reset                       ("soft": u -= θ, "hard": u = 0, i.e. v_reset = v_rest)

and ``to_neuron()`` maps back: ``tau_m = -dt / ln β``, ``v_th = v_rest + θ v_scale``,
``tau_syn_exc = tau_syn_inh = -dt / ln α``, other fields unchanged. A weight of 1 onto a LIF
layer is a jump of ``v_scale`` volts; onto a CubaLIF layer it is a current jump that raises u
by 1 in the following step (see ``docs/training.md`` for the simulator's order of
operations). Training layers have no refractory period and no bias current, and reset to
rest, so ``from_neuron`` requires ``t_ref < dt``, ``i_bias = 0``, ``v_reset = v_rest`` and,
for CubaLIF, ``tau_syn_exc = tau_syn_inh``. A layer built from β directly uses
``v_rest = 0``, ``v_scale = 1 V``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

import neurosim
from neurosim.train import functional as F
from neurosim.train.fused import cuba_lif_scan, li_scan, lif_scan
from neurosim.train.surrogates import Surrogate, surrogate as make_surrogate


class LayerOutput(NamedTuple):
    out: Tensor
    membrane: Tensor
    state: NamedTuple


def _param(module: nn.Module, name: str, value: Any, learn: bool, low: float, high: float) -> None:
    """Register ``value`` as a parameter (``learn``) or buffer after checking low <= value <= high
    (low excluded when it is 0 and high is infinite, i.e. for thresholds)."""
    t = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()
    strict = high == math.inf
    ok = bool(torch.all((t > low) if strict else (t >= low)) and torch.all(t <= high)) and bool(torch.isfinite(t).all())
    if not ok:
        bound = f"> {low:g}" if strict else f"in [{low:g}, {high:g}]"
        raise ValueError(f"{type(module).__name__}.{name}: must be {bound}, got {value!r}")
    if learn:
        module.register_parameter(name, nn.Parameter(t))
    else:
        module.register_buffer(name, t)


def _decay(tau: np.ndarray | float, dt: float) -> np.ndarray:
    return np.exp(-dt / np.asarray(tau, dtype=np.float64))


def _tau(decay: Tensor, dt: float, field: str) -> float | np.ndarray:
    d = decay.detach().double().cpu().numpy()
    if np.any(d <= 0) or np.any(d >= 1):
        raise ValueError(f"{field}: a decay of {d} per step has no finite positive time constant")
    return _si(-dt / np.log(d))


def _si(value: Any) -> float | np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _check_dt(dt: float) -> float:
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not 0 < dt < math.inf:
        raise ValueError(f"dt: must be a time step > 0 in seconds, got {dt!r}")
    return float(dt)


def _check_trainable(neuron: neurosim.LIF, dt: float) -> None:
    name = type(neuron).__name__
    if np.any(np.floor(np.asarray(neuron.t_ref) / dt + 1e-9) > 0):
        raise ValueError(f"{name}.t_ref: training layers have no refractory period; need t_ref < dt = {dt:g} s, "
                         f"got {neuron.t_ref!r} s")
    if np.any(np.asarray(neuron.i_bias) != 0):
        raise ValueError(f"{name}.i_bias: training layers take their bias from the synapse layer; need 0, "
                         f"got {neuron.i_bias!r} A")
    if not np.allclose(neuron.v_reset, neuron.v_rest, rtol=0, atol=1e-12):
        raise ValueError(f"{name}.v_reset: training layers reset to rest; need v_reset = v_rest "
                         f"({neuron.v_rest!r} V), got {neuron.v_reset!r} V")
    if isinstance(neuron, neurosim.CubaLIF) and not np.allclose(neuron.tau_syn_exc, neuron.tau_syn_inh, rtol=1e-12):
        raise ValueError(f"{name}.tau_syn_inh: training layers have one synaptic time constant; need "
                         f"tau_syn_inh = tau_syn_exc ({neuron.tau_syn_exc!r} s), got {neuron.tau_syn_inh!r} s")


class Neurons(nn.Module):
    """Base of the layers with dynamics over time (spiking layers and the LI readout)."""


class NeuronLayer(Neurons):
    """Base of the spiking layers: parameters in training units plus the neuron they map to.

    ``beta``, ``threshold`` (and ``alpha`` for CubaLIF) are numbers or per-neuron tensors
    (any shape broadcastable to the features), learnable if ``learn_*``; ``reset`` is
    "soft", "hard" or "none"; ``surrogate`` a name, ``{"name", "slope"}`` or a
    :class:`~neurosim.train.surrogates.Surrogate`; ``mpr`` the optional rectifier.
    """

    neuron_class: type[neurosim.LIF] = neurosim.LIF

    def __init__(self, beta: float | Tensor, threshold: float | Tensor, *, reset: str, detach_reset: bool,
                 surrogate: str | Surrogate | dict, mpr: F.MPR | None, learn_beta: bool, learn_threshold: bool,
                 dt: float, neuron: neurosim.LIF | None, alpha: float | Tensor | None = None,
                 learn_alpha: bool = False):
        super().__init__()
        self.dt = _check_dt(dt)
        self.reset = reset
        self.detach_reset = detach_reset
        self.surrogate = make_surrogate(surrogate)
        self.mpr = mpr
        _param(self, "beta", beta, learn_beta, 0.0, 1.0)
        _param(self, "threshold", threshold, learn_threshold, 0.0, math.inf)
        if alpha is not None:
            _param(self, "alpha", alpha, learn_alpha, 0.0, 1.0)
        if neuron is None:
            neuron = self.neuron_class(tau_m=1.0, v_rest=0.0, v_reset=0.0, v_th=1.0, t_ref=0.0)
        self.neuron = neuron
        self.v_scale = np.asarray(neuron.v_th, dtype=np.float64) - np.asarray(neuron.v_rest, dtype=np.float64)
        self.parameters_()  # validates reset, detach_reset, surrogate and mpr

    def parameters_(self) -> F.LIFParameters:
        """The functional parameters (β clamped into [0, 1] as snnTorch does)."""
        return F.LIFParameters(beta=self.beta.clamp(0, 1), threshold=self.threshold, reset=self.reset,
                               detach_reset=self.detach_reset, surrogate=self.surrogate, mpr=self.mpr)

    @classmethod
    def _from_neuron_args(cls, neuron: neurosim.LIF, dt: float, threshold: float | Tensor) -> dict:
        dt = _check_dt(dt)
        if not isinstance(neuron, cls.neuron_class):
            raise ValueError(f"{cls.__name__}.from_neuron: needs a neurosim.{cls.neuron_class.__name__}, "
                             f"got {type(neuron).__name__}")
        _check_trainable(neuron, dt)
        return {"beta": _decay(neuron.tau_m, dt), "threshold": threshold, "reset": neuron.reset, "dt": dt,
                "neuron": neuron}

    def to_neuron(self) -> neurosim.LIF:
        """The simulator's neuron with the layer's (trained) parameters, see the module docstring."""
        if self.reset not in ("soft", "hard"):
            raise ValueError(f"{type(self).__name__}.reset: {self.reset!r} has no simulator neuron (soft or hard)")
        theta = self.threshold.detach().double().cpu().numpy()
        v_th = np.asarray(self.neuron.v_rest, dtype=np.float64) + theta * self.v_scale
        return dataclasses.replace(self.neuron, tau_m=_tau(self.beta, self.dt, f"{type(self).__name__}.beta"),
                                   v_th=_si(v_th), reset=self.reset, **self._extra_fields())

    def _extra_fields(self) -> dict:
        return {}

    def options(self) -> dict:
        """The training options (JSON-able) that are not neuron parameters."""
        return {"detach_reset": self.detach_reset, "surrogate": self.surrogate.to_dict(),
                "mpr_alpha": None if self.mpr is None else self.mpr.alpha,
                "learn_beta": isinstance(self.beta, nn.Parameter),
                "learn_threshold": isinstance(self.threshold, nn.Parameter)}

    def extra_repr(self) -> str:
        return f"reset={self.reset!r}, surrogate={self.surrogate}, dt={self.dt:g}"


class LIF(NeuronLayer):
    """Leaky integrate-and-fire layer (snnTorch ``Leaky``); equations in :mod:`neurosim.train.functional`."""

    def __init__(self, beta: float | Tensor = 0.9, threshold: float | Tensor = 1.0, *, reset: str = "soft",
                 detach_reset: bool = True, surrogate: str | Surrogate | dict = "atan", mpr: F.MPR | None = None,
                 learn_beta: bool = False, learn_threshold: bool = False, dt: float = 1e-3,
                 neuron: neurosim.LIF | None = None):
        super().__init__(beta, threshold, reset=reset, detach_reset=detach_reset, surrogate=surrogate, mpr=mpr,
                         learn_beta=learn_beta, learn_threshold=learn_threshold, dt=dt, neuron=neuron)

    @classmethod
    def from_neuron(cls, neuron: neurosim.LIF, dt: float, *, threshold: float | Tensor = 1.0,
                    **options: Any) -> "LIF":
        """A layer of the simulator's ``neurosim.LIF`` at time step ``dt`` (s) with threshold θ
        (training units, 1 = the neuron's v_th); ``options``: surrogate, detach_reset, mpr,
        learn_beta, learn_threshold."""
        return cls(**cls._from_neuron_args(neuron, dt, threshold), **options)

    def forward(self, x: Tensor, state: F.LIFState | None = None) -> LayerOutput:
        s, u, state = lif_scan(x, state, self.parameters_())
        return LayerOutput(s, u, state)

    def step(self, x: Tensor, state: F.LIFState | None = None) -> LayerOutput:
        """One time step (online use): ``x`` [B, ...]."""
        state = F.LIFState(torch.zeros_like(x)) if state is None else state
        s, state = F.lif_step(x, state, self.parameters_())
        return LayerOutput(s, state.u, state)


class CubaLIF(NeuronLayer):
    """Current-based LIF layer (snnTorch ``Synaptic``): ``i' = α i + x`` drives the LIF membrane."""

    neuron_class = neurosim.CubaLIF

    def __init__(self, alpha: float | Tensor = 0.8, beta: float | Tensor = 0.9, threshold: float | Tensor = 1.0, *,
                 reset: str = "soft", detach_reset: bool = True, surrogate: str | Surrogate | dict = "atan",
                 mpr: F.MPR | None = None, learn_alpha: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, dt: float = 1e-3, neuron: neurosim.CubaLIF | None = None):
        super().__init__(beta, threshold, reset=reset, detach_reset=detach_reset, surrogate=surrogate, mpr=mpr,
                         learn_beta=learn_beta, learn_threshold=learn_threshold, dt=dt, neuron=neuron,
                         alpha=alpha, learn_alpha=learn_alpha)

    @classmethod
    def from_neuron(cls, neuron: neurosim.CubaLIF, dt: float, *, threshold: float | Tensor = 1.0,
                    **options: Any) -> "CubaLIF":
        """A layer of the simulator's ``neurosim.CubaLIF`` at time step ``dt`` (s), threshold θ."""
        return cls(alpha=_decay(neuron.tau_syn_exc, dt), **cls._from_neuron_args(neuron, dt, threshold), **options)

    def parameters_(self) -> F.CubaLIFParameters:
        base = super().parameters_()
        return F.CubaLIFParameters(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
                                   alpha=self.alpha.clamp(0, 1))

    def _extra_fields(self) -> dict:
        tau_syn = _tau(self.alpha, self.dt, "CubaLIF.alpha")
        return {"tau_syn_exc": tau_syn, "tau_syn_inh": tau_syn}

    def options(self) -> dict:
        return {**super().options(), "learn_alpha": isinstance(self.alpha, nn.Parameter)}

    def forward(self, x: Tensor, state: F.CubaLIFState | None = None) -> LayerOutput:
        s, u, state = cuba_lif_scan(x, state, self.parameters_())
        return LayerOutput(s, u, state)

    def step(self, x: Tensor, state: F.CubaLIFState | None = None) -> LayerOutput:
        state = F.CubaLIFState(torch.zeros_like(x), torch.zeros_like(x)) if state is None else state
        s, state = F.cuba_lif_step(x, state, self.parameters_())
        return LayerOutput(s, state.u, state)


class LI(Neurons):
    """Leaky-integrator readout ``u_t = β u_{t-1} + x_t`` (no spikes); its output is the membrane.

    Built from a membrane time constant with ``LI.from_tau(tau_m, dt)``; ``tau_m`` maps back.
    """

    def __init__(self, beta: float | Tensor = 0.9, *, learn_beta: bool = False, dt: float = 1e-3):
        super().__init__()
        self.dt = _check_dt(dt)
        _param(self, "beta", beta, learn_beta, 0.0, 1.0)

    @classmethod
    def from_tau(cls, tau_m: float | np.ndarray, dt: float, **options: Any) -> "LI":
        if np.any(np.asarray(tau_m) <= 0):
            raise ValueError(f"LI.tau_m: must be > 0, got {tau_m!r}")
        return cls(_decay(tau_m, _check_dt(dt)), dt=dt, **options)

    @property
    def tau_m(self) -> float | np.ndarray:
        return _tau(self.beta, self.dt, "LI.beta")

    def forward(self, x: Tensor, state: F.LIFState | None = None) -> LayerOutput:
        u, state = li_scan(x, state, self.beta.clamp(0, 1))
        return LayerOutput(u, u, state)

    def step(self, x: Tensor, state: F.LIFState | None = None) -> LayerOutput:
        state = F.LIFState(torch.zeros_like(x)) if state is None else state
        u, state = F.li_step(x, state, self.beta.clamp(0, 1))
        return LayerOutput(u, u, state)

    def extra_repr(self) -> str:
        return f"dt={self.dt:g}"


class _Recurrent:
    """All-to-all recurrence ``x_t + V s_{t-1}`` (snnTorch ``RLeaky``/``RSynaptic`` with
    ``all_to_all=True``): the previous spikes are recomputed from the state with their
    surrogate gradient, so the state is the same as the feed-forward layer's."""

    recurrent: nn.Linear

    def _loop(self, x: Tensor, state: NamedTuple, step) -> LayerOutput:
        p = self.parameters_()
        outs, membranes = [], []
        for x_t in x.unbind(0):
            s, state = step(x_t + self.recurrent(F.fire(state.u, p)), state, p)
            outs.append(s)
            membranes.append(state.u)
        return LayerOutput(torch.stack(outs), torch.stack(membranes), state)


class RLIF(_Recurrent, LIF):
    """LIF layer of ``size`` neurons with all-to-all recurrent weights ``recurrent`` (V, [size, size])."""

    def __init__(self, size: int, beta: float | Tensor = 0.9, threshold: float | Tensor = 1.0, *,
                 recurrent_bias: bool = False, **options: Any):
        super().__init__(beta, threshold, **options)
        self.recurrent = nn.Linear(size, size, bias=recurrent_bias)

    @classmethod
    def from_neuron(cls, neuron: neurosim.LIF, dt: float, size: int, *, threshold: float | Tensor = 1.0,
                    **options: Any) -> "RLIF":
        return cls(size, **cls._from_neuron_args(neuron, dt, threshold), **options)

    def forward(self, x: Tensor, state: F.LIFState | None = None) -> LayerOutput:
        return self._loop(x, F.LIFState(torch.zeros_like(x[0])) if state is None else state, F.lif_step)


class RCubaLIF(_Recurrent, CubaLIF):
    """CubaLIF layer of ``size`` neurons with all-to-all recurrent weights ``recurrent``."""

    def __init__(self, size: int, alpha: float | Tensor = 0.8, beta: float | Tensor = 0.9,
                 threshold: float | Tensor = 1.0, *, recurrent_bias: bool = False, **options: Any):
        super().__init__(alpha, beta, threshold, **options)
        self.recurrent = nn.Linear(size, size, bias=recurrent_bias)

    @classmethod
    def from_neuron(cls, neuron: neurosim.CubaLIF, dt: float, size: int, *, threshold: float | Tensor = 1.0,
                    **options: Any) -> "RCubaLIF":
        return cls(size, alpha=_decay(neuron.tau_syn_exc, dt), **cls._from_neuron_args(neuron, dt, threshold),
                   **options)

    def forward(self, x: Tensor, state: F.CubaLIFState | None = None) -> LayerOutput:
        zeros = torch.zeros_like(x[0])
        return self._loop(x, F.CubaLIFState(zeros, zeros) if state is None else state, F.cuba_lif_step)


class SNNOutput(NamedTuple):
    out: Tensor
    #: membrane sequences of the layers with dynamics, in order
    membranes: tuple[Tensor, ...]
    #: final states of those layers
    state: tuple


class SNN(nn.Module):
    """Layers applied in order to ``[T, B, ...]`` sequences.

    Synapse layers (any other module: ``nn.Linear``, ``nn.Conv2d``, pooling, ``nn.Flatten``,
    ``nn.Dropout``) run once over all T·B rows; neuron layers run their fused scan. ``run``
    returns the output of the last layer, the membranes and the final states; ``forward``
    only the output. With ``steps=T`` the input is static ``[B, ...]`` (direct current
    coding): the synapse layers before the first neuron layer run once and their output is
    repeated over T steps. State starts at rest on every call unless ``stateful=True``, in
    which case it carries over until ``reset_state()`` (``detach_state()`` cuts the graph
    for truncated BPTT); either way it belongs to this container alone.
    """

    def __init__(self, *layers: nn.Module, stateful: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.stateful = stateful
        self._state: tuple | None = None

    def run(self, x: Tensor, state: tuple | None = None, steps: int | None = None) -> SNNOutput:
        if state is None and self.stateful:
            state = self._state
        states = list(state) if state is not None else [None] * sum(isinstance(m, Neurons) for m in self.layers)
        h, k, membranes = x, 0, []
        timed = steps is None
        for layer in self.layers:
            if isinstance(layer, Neurons):
                if not timed:
                    h, timed = h.unsqueeze(0).expand(steps, *h.shape), True
                out = layer(h, states[k])
                h, states[k] = out.out, out.state
                membranes.append(out.membrane)
                k += 1
            elif timed:
                h = layer(h.flatten(0, 1)).unflatten(0, h.shape[:2])
            else:
                h = layer(h)
        if not timed:
            h = h.unsqueeze(0).expand(steps, *h.shape)
        if self.stateful:
            self._state = tuple(states)
        return SNNOutput(h, tuple(membranes), tuple(states))

    def forward(self, x: Tensor, steps: int | None = None) -> Tensor:
        return self.run(x, steps=steps).out

    def reset_state(self) -> None:
        """Forget the carried state (``stateful=True``): the next call starts at rest."""
        self._state = None

    def detach_state(self) -> None:
        """Keep the carried state's values but cut its graph (truncated BPTT)."""
        if self._state is not None:
            self._state = tuple(type(s)(*(t.detach() for t in s)) for s in self._state)
