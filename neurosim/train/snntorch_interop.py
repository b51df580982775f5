"""Convert snnTorch ``nn.Sequential`` models to neurosim :class:`~neurosim.train.modules.SNN` and back.

An snnTorch sequential model (neurons with ``init_hidden=True``) is called once per time step,
``out_t = model(x_t)``; the converted ``SNN`` takes the whole sequence ``[T, B, ...]`` and gives
the same outputs at every step (spikes, and the last layer's membrane in ``run().membranes[-1]``)::

    snn.Leaky(beta, threshold, reset_mechanism)       <->  LIF(beta, threshold, reset)
    snn.Synaptic(alpha, beta, threshold, ...)         <->  CubaLIF(alpha, beta, threshold, ...)
    snn.RLeaky(beta, linear_features=N)               <->  RLIF(N, recurrent_bias=True)
    snn.Leaky(beta, reset_mechanism="none") (last)    <-   LI(beta): the readout is its membrane
    reset_mechanism "subtract" / "zero" / "none"      <->  reset "soft" / "hard" / "none"
    surrogate.atan(alpha) / fast_sigmoid(slope) / sigmoid(slope)  <->  ATan / FastSigmoid / Sigmoid
    other modules (nn.Linear, nn.Conv2d, pooling, nn.Flatten)      copied as they are

Other neurosim surrogates are callables that snnTorch accepts as ``spike_grad`` unchanged.
Learnable β, α and thresholds stay learnable. snnTorch always detaches the reset and has no
rectifier, so layers with ``detach_reset=False`` or ``mpr`` have no snnTorch equivalent.
``Synaptic`` and ``RLeaky`` with ``reset_mechanism="zero"`` also discard the step's input after
a spike (``u = (1 - r)(β u + x)``), unlike ``Leaky`` and neurosim's hard reset, so they are
refused too.

β and time: snnTorch has no time step; neurosim layers carry ``dt`` (seconds, default 1 ms) and
``β = exp(-dt/τ_m)``, ``α = exp(-dt/τ_syn)`` (the exact decay of ``dτ/dt`` dynamics over one step).
snnTorch's NIR export writes ``τ = dt/(1 - β)`` instead (the Euler step); the two agree to
first order in dt/τ (β = 0.9 at dt = 1 ms: 9.49 ms here, 10 ms there).
"""

from __future__ import annotations

import copy
import inspect

import snntorch as snn
import torch
from torch import nn

from neurosim.train.modules import LI, LIF, SNN, CubaLIF, NeuronLayer, Neurons, RLIF
from neurosim.train.surrogates import ATan, FastSigmoid, Sigmoid, Surrogate

_RESETS = {"subtract": "soft", "zero": "hard", "none": "none"}
_MECHANISMS = {v: k for k, v in _RESETS.items()}
_SNNTORCH_SURROGATES = {"atan": (ATan, "alpha"), "fast_sigmoid": (FastSigmoid, "slope"), "sigmoid": (Sigmoid, "slope")}


def _surrogate_from(fn, where: str) -> Surrogate:
    if isinstance(fn, Surrogate):
        return fn
    name = getattr(fn, "__qualname__", "").split(".<locals>")[0]
    if name in _SNNTORCH_SURROGATES:
        cls, arg = _SNNTORCH_SURROGATES[name]
        return cls(float(inspect.getclosurevars(fn).nonlocals[arg]))
    raise ValueError(f"{where}.spike_grad: no neurosim surrogate for {fn!r} (use atan, fast_sigmoid, sigmoid "
                     f"or a neurosim surrogate)")


def _check_snntorch(m: nn.Module, where: str) -> None:
    if not m.init_hidden:
        raise ValueError(f"{where}: needs init_hidden=True to run inside nn.Sequential")
    for attr, ok in (("inhibition", False), ("state_quant", False), ("surrogate_disable", False),
                     ("reset_delay", True)):
        if bool(getattr(m, attr, ok)) != ok:
            raise ValueError(f"{where}.{attr}: {getattr(m, attr)!r} has no neurosim equivalent")
    if float(m.graded_spikes_factor) != 1.0:
        raise ValueError(f"{where}.graded_spikes_factor: must be 1, got {float(m.graded_spikes_factor)}")
    if isinstance(m, (snn.Synaptic, snn.RLeaky)) and m._reset_mechanism == "zero":
        raise ValueError(f"{where}.reset_mechanism: snnTorch's 'zero' reset of {type(m).__name__} also drops the "
                         f"input of the step; neurosim's hard reset does not")


def _clone(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone()


def _neuron_from(m: nn.Module, where: str, dt: float) -> nn.Module:
    _check_snntorch(m, where)
    common = dict(threshold=_clone(m.threshold), reset=_RESETS[m._reset_mechanism], detach_reset=True,
                  surrogate=_surrogate_from(m.spike_grad, where), learn_beta=isinstance(m.beta, nn.Parameter),
                  learn_threshold=isinstance(m.threshold, nn.Parameter), dt=dt)
    if isinstance(m, snn.RLeaky):
        if not (m.all_to_all and isinstance(m.recurrent, nn.Linear)):
            raise ValueError(f"{where}: only all-to-all linear recurrence (linear_features=N) is supported")
        layer = RLIF(m.recurrent.in_features, _clone(m.beta), recurrent_bias=m.recurrent.bias is not None, **common)
        layer.recurrent.load_state_dict(m.recurrent.state_dict())
        return layer
    if isinstance(m, snn.Synaptic):
        return CubaLIF(_clone(m.alpha), _clone(m.beta), learn_alpha=isinstance(m.alpha, nn.Parameter), **common)
    if type(m) is snn.Leaky:
        return LIF(_clone(m.beta), **common)
    raise ValueError(f"{where}: {type(m).__name__} is not supported (Leaky, Synaptic, RLeaky)")


def from_snntorch(model: nn.Sequential, dt: float = 1e-3) -> SNN:
    """The neurosim ``SNN`` computing what the snnTorch sequential ``model`` computes step by step."""
    layers = []
    for k, m in enumerate(model):
        where = f"layer {k} ({type(m).__name__})"
        layers.append(_neuron_from(m, where, dt) if isinstance(m, snn.SpikingNeuron) else copy.deepcopy(m))
    return SNN(*layers)


def _neuron_to(m: Neurons, where: str, last: bool) -> nn.Module:
    if isinstance(m, LI):
        if not last:
            raise ValueError(f"{where}: an LI readout maps to snnTorch only as the last layer")
        return snn.Leaky(beta=_clone(m.beta), reset_mechanism="none", learn_beta=isinstance(m.beta, nn.Parameter),
                         init_hidden=True, output=True)
    assert isinstance(m, NeuronLayer)
    if not m.detach_reset or m.mpr is not None:
        raise ValueError(f"{where}: snnTorch always detaches the reset and has no rectifier "
                         f"(detach_reset={m.detach_reset}, mpr={m.mpr})")
    sg = m.surrogate
    spike_grad = {ATan: lambda: snn.surrogate.atan(sg.slope), FastSigmoid: lambda: snn.surrogate.fast_sigmoid(sg.slope),
                  Sigmoid: lambda: snn.surrogate.sigmoid(sg.slope)}.get(type(sg), lambda: sg)()
    common = dict(threshold=_clone(m.threshold), spike_grad=spike_grad, learn_beta=isinstance(m.beta, nn.Parameter),
                  learn_threshold=isinstance(m.threshold, nn.Parameter), reset_mechanism=_MECHANISMS[m.reset],
                  init_hidden=True, output=last)
    if isinstance(m, RLIF):
        out = snn.RLeaky(beta=_clone(m.beta), linear_features=m.recurrent.in_features, **common)
        if m.recurrent.bias is None:
            out.recurrent = nn.Linear(m.recurrent.in_features, m.recurrent.out_features, bias=False)
        out.recurrent.load_state_dict(m.recurrent.state_dict())
        return out
    if isinstance(m, CubaLIF):
        return snn.Synaptic(alpha=_clone(m.alpha), beta=_clone(m.beta), learn_alpha=isinstance(m.alpha, nn.Parameter),
                            **common)
    if type(m) is LIF:
        return snn.Leaky(beta=_clone(m.beta), **common)
    raise ValueError(f"{where}: {type(m).__name__} has no snnTorch equivalent")


def to_snntorch(net: SNN) -> nn.Sequential:
    """The snnTorch sequential model (``init_hidden=True``; the last neuron layer with ``output=True``)
    computing what ``net`` computes, step by step."""
    layers = list(net.layers)
    last = max((k for k, m in enumerate(layers) if isinstance(m, Neurons)), default=-1)
    return nn.Sequential(*(
        _neuron_to(m, f"layer {k} ({type(m).__name__})", k == last) if isinstance(m, Neurons) else copy.deepcopy(m)
        for k, m in enumerate(layers)))
