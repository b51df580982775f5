"""A training layer that runs any described neuron model's own step, in torch.

:class:`DescribedLayer` takes a neuron model instance (``neurosim.neurons.LIF``, ``CubaLIF``,
``AlphaLIF``, ``ALIF``, ... any model whose threshold is an inequality) and runs the step the
engine runs, :attr:`~neurosim.neurons.description.CompiledModel.torch_source`, generated from the
same description as the NumPy/numba/CUDA step (nothing of the model is written here), bound to
torch by :func:`torch_namespace` (below):

- each time step ``m``: ``x[m]`` (times ``input_scale``, SI units of the model's weight dimension:
  V for LIF, A for CubaLIF/ALIF/AlphaLIF) is added to the receptor variable (``receptor="exc"``:
  the excitatory one, e.g. ``i_exc``; ``"inh"``: the inhibitory one), as the engine adds arriving
  spikes' weights before the step; then the step;
- the spike is ``H(lhs - rhs)`` of the threshold ``lhs >= rhs`` (``>``, ``<``, ``<=`` alike), masked by
  ``ref <= 0``, with the surrogate gradient ``σ'((lhs - rhs)/threshold_scale)/threshold_scale``;
- resets are ``spike*a + (1 - spike)*b`` (differentiable in the spike; ``detach_reset=True``
  stops the gradient through the spike there, as snnTorch's ``detach_reset``); the refractory
  clamp and the refractory counter are plain ``torch.where`` (no gradient through ``ref``).

Forward this is the engine's step: in float64 the spikes and states equal the NumPy backend's
(see ``tests/test_train_described.py``). State is in SI; the model's rows (propagators,
parameters, constants of :meth:`~neurosim.neurons.base.NeuronModel.kernel_rows`) are frozen
buffers. Time is the first axis: ``x`` is ``[T, B, n]``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from neurosim.neurons.base import NeuronModel
from neurosim.neurons.codegen import compile_source
from neurosim.train.surrogates import Surrogate, heaviside as surrogate_heaviside, surrogate as make_surrogate
from neurosim.units import parse_quantity

State = dict[str, Tensor]


def torch_namespace(surrogate, threshold_scale: float = 1.0, detach_reset: bool = False) -> dict[str, Callable]:
    """Torch functions for :attr:`~neurosim.neurons.description.CompiledModel.torch_source`.

    ``heaviside(x)`` is the spike ``x > 0`` and ``heaviside_ge(x)`` the spike ``x >= 0`` (``x`` is
    the threshold's ``lhs - rhs``), float tensors whose gradient is the surrogate's
    ``σ'(x/threshold_scale)/threshold_scale`` (:mod:`neurosim.train.surrogates`, the slopes of which
    are meant for a threshold distance of order 1: ``threshold_scale`` is that distance in the
    threshold's SI unit; forward the division changes nothing). ``heaviside_ge(x)`` is computed as
    ``1 - H(-x)``: its gradient is ``σ'(-x)``, the same for every built-in surrogate (all are even).

    ``spike_where(spike, a, b)`` is a reset, ``spike*a + (1 - spike)*b``: exactly ``a`` or ``b``
    forward (for finite ``a``, ``b``), and differentiable in ``spike`` (``d/dspike = a - b``, the
    gradient through the reset). ``detach_reset=True`` stops that path (snnTorch's ``detach_reset``):
    the reset still happens, gradients flow only through ``a`` and ``b``. ``where`` (the refractory
    clamp, ``n_ref``) is :func:`torch.where`.
    """
    scale = float(threshold_scale)
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"threshold_scale: must be a finite number > 0, got {threshold_scale!r}")
    inv = 1.0 / scale

    def heaviside(x):
        return surrogate_heaviside(x * inv, surrogate)

    def heaviside_ge(x):
        return 1 - surrogate_heaviside(-(x * inv), surrogate)

    def spike_where(spike, a, b):
        if detach_reset:
            spike = spike.detach()
        return spike * a + (1 - spike) * b

    def _t(x, like):
        return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=like.dtype, device=like.device)

    def clip(x, lo, hi):
        return torch.minimum(torch.maximum(x, _t(lo, x)), _t(hi, x))

    def phi1(a, h):
        a, h = torch.broadcast_tensors(_t(a, h), _t(h, a))
        zero = a == 0
        return torch.where(zero, h, torch.expm1(a * h) / torch.where(zero, torch.ones_like(a), a))

    def exprel(x):
        zero = x == 0
        return torch.where(zero, torch.ones_like(x), torch.expm1(x) / torch.where(zero, torch.ones_like(x), x))

    def where(c, a, b):
        if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
            return torch.where(c, torch.as_tensor(a), torch.as_tensor(b))
        return torch.where(c, a, b)

    return {
        "heaviside": heaviside, "heaviside_ge": heaviside_ge, "spike_where": spike_where, "where": where,
        "exp": torch.exp, "expm1": torch.expm1, "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs,
        "tanh": torch.tanh, "sin": torch.sin, "cos": torch.cos, "clip": clip, "pow": torch.pow, "phi1": phi1,
        "exprel": exprel,
    }



def default_threshold_scale(model: NeuronModel, n: int, name: str = "layer") -> float:
    """The distance from reset to threshold (mean ``|v_th - v_reset|``, else ``|v_peak - v_reset|``,
    in V), else 1: the ``x`` of the surrogate is ``(lhs - rhs)/threshold_scale``."""
    values = model.parameter_values(n, name)
    for top in ("v_th", "v_peak"):
        if top in values and "v_reset" in values:
            d = float(np.mean(np.abs(values[top] - values["v_reset"])))
            if d > 0:
                return d
    return 1.0


class DescribedLayer(nn.Module):
    """``size`` neurons of ``model`` stepped with ``dt`` (s or a unit string); see the module docstring.

    ``surrogate``: a :class:`~neurosim.train.surrogates.Surrogate` or its name (default ``atan``);
    ``threshold_scale``: SI distance that the surrogate's ``x = 1`` stands for (default
    :func:`default_threshold_scale`); ``input_scale``: factor from ``x`` to SI (``1e-12``: ``x`` in pA);
    ``v_init``: initial membrane potentials (SI, default the model's ``v_rest``), the other state
    variables from the model's ``initial``; ``dtype``: of rows and state (default torch's default).
    """

    def __init__(self, model: NeuronModel, dt: Any, size: int, surrogate: str | Surrogate = "atan",
                 threshold_scale: float | None = None, detach_reset: bool = False, receptor: str = "exc",
                 input_scale: float = 1.0, v_init: Any = None, dtype: torch.dtype | None = None,
                 name: str = "layer"):
        super().__init__()
        if not isinstance(model, NeuronModel):
            raise ValueError(f"DescribedLayer.model: expected a neuron model instance, got {model!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"DescribedLayer.size: must be a positive integer, got {size!r}")
        if receptor not in ("exc", "inh"):
            raise ValueError(f"DescribedLayer.receptor: must be 'exc' or 'inh', got {receptor!r}")
        self.model, self.size, self.name = model, int(size), name
        self.dt = parse_quantity(dt, "time", "DescribedLayer.dt")
        if not self.dt > 0:
            raise ValueError(f"DescribedLayer.dt: must be > 0, got {dt!r}")
        c = model.compiled
        self.compiled = c
        self.surrogate = make_surrogate(surrogate)
        self.threshold_scale = float(default_threshold_scale(model, self.size, name) if threshold_scale is None
                                     else threshold_scale)
        self.detach_reset = bool(detach_reset)
        self.input_scale = float(input_scale)
        self.receptor = receptor
        self.receptor_index = c.receptor_rows[0 if receptor == "exc" else 1]
        self.state_names: tuple[str, ...] = c.state
        namespace = torch_namespace(self.surrogate, self.threshold_scale, self.detach_reset)
        self._step = compile_source(c.torch_source, "step", namespace, f"<torch step of {c.name}>")
        dtype = dtype or torch.get_default_dtype()
        rows, ref_steps = model.kernel_rows(self.size, self.dt, name)
        self._rows = tuple(f"row_{r}" for r in c.rows)
        for r, buf in zip(c.rows, self._rows):
            self.register_buffer(buf, torch.tensor(np.array(rows[r], np.float64), dtype=dtype), persistent=False)
        self.register_buffer("ref_steps", torch.tensor(np.array(ref_steps, np.int32)), persistent=False)
        if v_init is None:
            values = model.per_neuron(self.size, name)
            if "v_rest" not in values:
                raise ValueError("DescribedLayer.v_init: the neuron model has no v_rest to start from; give v_init")
            v0 = values["v_rest"]
        else:
            v0 = np.broadcast_to(np.asarray(v_init, np.float64), (self.size,))
        init = model.initial_state(np.array(v0, np.float64), name)
        for x in self.state_names:
            self.register_buffer(f"init_{x}", torch.tensor(np.array(init[x], np.float64), dtype=dtype), persistent=False)

    def extra_repr(self) -> str:
        return (f"{type(self.model).__name__}, size={self.size}, dt={self.dt:g}, surrogate={self.surrogate.name}"
                f"(slope={self.surrogate.slope:g}), threshold_scale={self.threshold_scale:g}, "
                f"detach_reset={self.detach_reset}, receptor={self.receptor!r}")

    def initial_state(self, batch: int) -> State:
        """The initial state of ``batch`` copies: ``{x: [batch, size]}`` for every state variable, and ``ref`` (int32)."""
        state = {x: getattr(self, f"init_{x}").expand(batch, self.size).clone() for x in self.state_names}
        state["ref"] = torch.zeros(batch, self.size, dtype=torch.int32, device=self.ref_steps.device)
        return state

    def step(self, state: State, x: Tensor | None = None, current: Tensor | None = None) -> tuple[Tensor, State]:
        """One step: add ``x * input_scale`` to the receptor variable, then the model's step.
        ``current``: the external current ``i_ext`` (A) during the step. Returns (spikes, new state)."""
        s = [state[v] for v in self.state_names]
        if x is not None:
            s[self.receptor_index] = s[self.receptor_index] + x * self.input_scale
        i_ext = current if current is not None else s[0].new_zeros(())
        *new, ref, spike = self._step(*s, state["ref"], i_ext, *[getattr(self, b) for b in self._rows],
                                      self.ref_steps)
        out = dict(zip(self.state_names, new))
        out["ref"] = ref
        return spike, out

    def forward(self, x: Tensor, state: State | None = None, current: Tensor | None = None,
                record: bool = False):
        """Run ``x`` (``[T, B, size]``, or ``[T, size]``); ``current`` (A) alike or None.

        Returns ``(spikes [T, B, size], final state)``, and with ``record`` a third item: each state
        variable after each step, ``{x: [T, B, size]}``.
        """
        squeeze = x.dim() == 2
        if squeeze:
            x = x.unsqueeze(1)
            current = None if current is None else current.unsqueeze(1)
        if x.dim() != 3 or x.shape[-1] != self.size:
            raise ValueError(f"DescribedLayer: input must be [T, B, {self.size}], got {tuple(x.shape)}")
        state = self.initial_state(x.shape[1]) if state is None else state
        spikes, trace = [], {v: [] for v in self.state_names}
        for m in range(x.shape[0]):
            spike, state = self.step(state, x[m], None if current is None else current[m])
            spikes.append(spike)
            if record:
                for v in self.state_names:
                    trace[v].append(state[v])
        out = torch.stack(spikes)
        if squeeze:
            out = out.squeeze(1)
        if not record:
            return out, state
        rec = {v: torch.stack(t) for v, t in trace.items()}
        if squeeze:
            rec = {v: t.squeeze(1) for v, t in rec.items()}
        return out, state, rec
