"""snnTorch sequential models <-> neurosim SNN with identical forward outputs."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snntorch import utils
from torch import nn

from neurosim.train.modules import LI, LIF, SNN, CubaLIF, RLIF
from neurosim.train.snntorch_interop import from_snntorch, to_snntorch
from neurosim.train.surrogates import ATan, FastSigmoid, Sigmoid, Triangle


def _step_by_step(model: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    utils.reset(model)
    spikes, mems = [], []
    for x_t in x.unbind(0):
        s, m = model(x_t)
        spikes.append(s)
        mems.append(m)
    return torch.stack(spikes), torch.stack(mems)


def test_snntorch_model_converts_with_identical_outputs_and_back():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(20, 30), snn.Leaky(0.9, init_hidden=True, learn_threshold=True),
        nn.Linear(30, 25), snn.Synaptic(0.7, 0.85, init_hidden=True, spike_grad=snn.surrogate.fast_sigmoid(10),
                                        learn_beta=True),
        nn.Linear(25, 16), snn.RLeaky(0.8, linear_features=16, init_hidden=True),
        nn.Linear(16, 5), snn.Leaky(torch.full((5,), 0.95), init_hidden=True, output=True, reset_mechanism="zero",
                                    spike_grad=snn.surrogate.sigmoid(5)))
    x = torch.rand(50, 4, 20) * 2
    spikes, mems = _step_by_step(model, x)
    assert 0.01 < spikes.mean() < 0.5
    net = from_snntorch(model, dt=1e-3)
    kinds = [type(m) for m in net.layers]
    assert kinds[1::2] == [LIF, CubaLIF, RLIF, LIF]
    assert net.layers[1].threshold.requires_grad and net.layers[3].beta.requires_grad
    assert net.layers[3].surrogate == FastSigmoid(10.0) and net.layers[7].surrogate == Sigmoid(5.0)
    assert net.layers[7].reset == "hard" and net.layers[1].surrogate == ATan(2.0)
    out = net.run(x)
    assert torch.equal(out.out, spikes) and torch.equal(out.membranes[-1], mems)
    back = to_snntorch(net)
    assert torch.equal(_step_by_step(back, x)[0], spikes)


def test_neurosim_model_converts_to_snntorch_with_an_li_readout_and_custom_surrogate():
    torch.manual_seed(1)
    net = SNN(nn.Linear(8, 12), LIF(0.85, 0.7, surrogate=Triangle(0.5)), nn.Linear(12, 3), LI(0.9))
    x = torch.rand(30, 2, 8) * 2
    out = net.run(x)
    spikes, mems = _step_by_step(to_snntorch(net), x)
    assert torch.allclose(mems, out.out, atol=1e-6)
    back = from_snntorch(to_snntorch(net))
    assert isinstance(back.layers[1].surrogate, Triangle)


def test_models_without_an_equivalent_are_refused():
    with pytest.raises(ValueError, match="reset_mechanism"):
        from_snntorch(nn.Sequential(nn.Linear(2, 2), snn.Synaptic(0.5, 0.5, init_hidden=True, reset_mechanism="zero")))
    with pytest.raises(ValueError, match="init_hidden"):
        from_snntorch(nn.Sequential(nn.Linear(2, 2), snn.Leaky(0.5)))
    with pytest.raises(ValueError, match="detach"):
        to_snntorch(SNN(nn.Linear(2, 2), LIF(0.5, detach_reset=False)))
    with pytest.raises(ValueError, match="last layer"):
        to_snntorch(SNN(nn.Linear(2, 2), LI(0.5), nn.Linear(2, 2), LIF(0.5)))
