"""Surrogates, the rectifier, resets, encoders, losses and the neuron layers' mapping to the
simulator's neuron models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import snntorch as snn
import torch

import neurosim
from neurosim.train import encoders, losses
from neurosim.train import functional as F
from neurosim.train.kernels_cpu import dphi, phi, surrogate_grad
from neurosim.train.modules import LI, LIF, SNN, CubaLIF, RLIF
from neurosim.train.surrogates import SURROGATES, ATan, Surrogate, heaviside, surrogate

#: smooth primitives whose derivative each surrogate is, for finite differences
PRIMITIVES = {
    "atan": lambda x, k: torch.atan(0.5 * math.pi * k * x) / math.pi,
    "fast_sigmoid": lambda x, k: x / (1 + k * x.abs()),
    "superspike": lambda x, k: x / (1 + k * x.abs()),
    "sigmoid": lambda x, k: torch.sigmoid(k * x),
    "triangle": lambda x, k: torch.where(k * x < 0, (1 + (k * x).clamp(-1, 0)) ** 2 / 2,
                                         1 - (1 - (k * x).clamp(0, 1)) ** 2 / 2),
    "rectangular": lambda x, k: (k * x + 0.5).clamp(0, 1),
}


@pytest.mark.parametrize("name", list(SURROGATES))
def test_surrogate_derivatives_match_finite_differences_and_the_kernel(name):
    k = 1.7
    sg = SURROGATES[name](k)
    x = torch.linspace(-2.0, 2.0, 4001, dtype=torch.float64)
    x = x[(x - 1 / k).abs().gt(1e-3) & (x + 1 / k).abs().gt(1e-3) & (x - 0.5 / k).abs().gt(1e-3)
          & (x + 0.5 / k).abs().gt(1e-3) & x.abs().gt(1e-3)]  # away from kinks
    h = 1e-6
    fd = (PRIMITIVES[name](x + h, k) - PRIMITIVES[name](x - h, k)) / (2 * h)
    assert torch.allclose(sg.grad(x), fd, atol=1e-6)
    kernel = torch.tensor([surrogate_grad(sg.kind, k, float(v)) for v in x], dtype=torch.float64)
    assert torch.allclose(kernel, sg.grad(x), atol=1e-12)


@pytest.mark.parametrize("name,factory", [("atan", snn.surrogate.atan), ("fast_sigmoid", snn.surrogate.fast_sigmoid),
                                          ("sigmoid", snn.surrogate.sigmoid)])
def test_surrogates_equal_snntorch_closed_forms(name, factory):
    x = torch.linspace(-1, 1, 201, requires_grad=True)
    ref = torch.autograd.grad(factory(3.0)(x).sum(), x)[0]
    ours = torch.autograd.grad(heaviside(x, surrogate(name, 3.0)).sum(), x)[0]
    assert torch.allclose(ours, ref, rtol=1e-6)
    assert torch.equal(heaviside(x, ATan()), (x > 0).float())


def test_surrogates_validate_and_default_like_the_libraries():
    assert ATan().slope == 2.0 and surrogate("fast_sigmoid").slope == 25.0 and surrogate("superspike").slope == 100.0
    assert surrogate({"name": "sigmoid", "slope": 5}) == SURROGATES["sigmoid"](5.0)
    with pytest.raises(ValueError, match="ATan.slope"):
        ATan(0.0)
    with pytest.raises(ValueError, match="unknown surrogate"):
        surrogate("tanh")
    assert isinstance(surrogate("triangle"), Surrogate)


def test_mpr_fixes_0_half_1_and_is_monotone():
    m = F.MPR(3.0)
    u = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    assert torch.allclose(m.phi(u), u, atol=1e-15)
    grid = torch.linspace(-1, 2, 3001, dtype=torch.float64)
    assert torch.all(torch.diff(m.phi(grid)) > 0)
    inside = grid[(grid > 0.1) & (grid < 0.4)]
    assert torch.all(m.phi(inside) < inside)  # pushed towards 0 below 1/2
    kernel = torch.tensor([phi(float(v), True, m.alpha, m.scale) for v in grid], dtype=torch.float64)
    assert torch.allclose(kernel, m.phi(grid), atol=1e-14)
    slope = torch.autograd.functional.jacobian(lambda v: m.phi(v).sum(), grid)
    assert torch.allclose(torch.tensor([dphi(float(v), True, m.alpha, m.scale) for v in grid], dtype=torch.float64),
                          slope, atol=1e-9)
    with pytest.raises(ValueError, match="MPR.alpha"):
        F.MPR(0.0)


def test_soft_reset_keeps_the_residual_above_threshold_hard_reset_drops_it():
    x = torch.tensor([1.3, 0.0, 0.0, 0.25], dtype=torch.float64).view(4, 1, 1)
    for reset, expected in (("soft", [1.3, 0.3, 0.3, 0.55]), ("hard", [1.3, 0.0, 0.0, 0.25])):
        s, u, _ = F.unroll(F.lif_step, x, F.LIFState(torch.zeros(1, 1, dtype=torch.float64)),
                           F.LIFParameters(beta=1.0, threshold=1.0, reset=reset))
        assert torch.allclose(u.flatten(), torch.tensor(expected, dtype=torch.float64))
        assert s.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]


def test_parameters_are_validated_naming_the_field():
    with pytest.raises(ValueError, match="LIFParameters.reset"):
        F.LIFParameters(reset="zero")
    with pytest.raises(ValueError, match="LIFParameters.beta"):
        F.LIFParameters(beta=1.5)
    with pytest.raises(ValueError, match="CubaLIFParameters.alpha"):
        F.CubaLIFParameters(alpha=-0.1)
    with pytest.raises(ValueError, match="LIF.threshold"):
        LIF(0.9, threshold=0.0)


def test_layers_map_to_the_simulators_neurons_and_back():
    dt = 1e-3
    neuron = neurosim.LIF(tau_m="20 ms", v_rest="-70 mV", v_reset="-70 mV", v_th="-55 mV", t_ref=0.0, reset="soft")
    layer = LIF.from_neuron(neuron, dt, learn_threshold=True)
    assert float(layer.beta) == pytest.approx(math.exp(-dt / 0.02), rel=1e-7) and float(layer.threshold.detach()) == 1.0
    back = layer.to_neuron()
    assert back.tau_m == pytest.approx(0.02, rel=1e-5) and back.v_th == pytest.approx(-0.055) and back.reset == "soft"
    with torch.no_grad():
        layer.threshold.fill_(1.2)
    assert layer.to_neuron().v_th == pytest.approx(-0.070 + 1.2 * 0.015)
    per_neuron = LIF.from_neuron(neurosim.LIF(tau_m=np.array([0.01, 0.02]), v_rest=0.0, v_reset=0.0, v_th=0.01,
                                              t_ref=0.0), dt)
    assert per_neuron.beta.shape == (2,) and per_neuron.to_neuron().tau_m == pytest.approx([0.01, 0.02], rel=1e-5)
    cuba = CubaLIF.from_neuron(neurosim.CubaLIF(tau_m=0.01, tau_syn_exc=0.004, tau_syn_inh=0.004, v_rest=0.0,
                                                v_reset=0.0, v_th=0.02, t_ref=0.0), dt)
    assert float(cuba.alpha) == pytest.approx(math.exp(-0.25), rel=1e-7)
    assert cuba.to_neuron().tau_syn_inh == pytest.approx(0.004, rel=1e-5)
    assert LI.from_tau(0.02, dt).tau_m == pytest.approx(0.02, rel=1e-5)


@pytest.mark.parametrize("neuron,field", [
    (neurosim.LIF(), "t_ref"),
    (neurosim.LIF(t_ref=0.0, v_reset="-70 mV"), "v_reset"),
    (neurosim.LIF(t_ref=0.0, i_bias="10 pA"), "i_bias"),
    (neurosim.CubaLIF(t_ref=0.0), "tau_syn_inh"),
])
def test_untrainable_neurons_are_refused_naming_the_field(neuron, field):
    cls = CubaLIF if isinstance(neuron, neurosim.CubaLIF) else LIF
    with pytest.raises(ValueError, match=rf"\.{field}"):
        cls.from_neuron(neuron, 1e-3)


def test_step_api_equals_the_fused_layer_and_recurrence_uses_unbind():
    torch.manual_seed(0)
    x = torch.randn(20, 2, 5) + 0.5
    for layer in (LIF(0.8), CubaLIF(0.6, 0.8), LI(0.9)):
        whole = layer(x)
        state, outs = None, []
        for x_t in x.unbind(0):
            o = layer.step(x_t, state)
            outs.append(o.out)
            state = o.state
        assert torch.allclose(torch.stack(outs), whole.out, atol=1e-6)
    rec = RLIF(5, 0.8)
    out = rec(x.requires_grad_())
    out.out.sum().backward()
    nodes, stack = set(), [out.out.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in nodes:
            nodes.add(node)
            stack.extend(f for f, _ in node.next_functions)
    names = {type(n).__name__ for n in nodes}
    assert "UnbindBackward0" in names and not any("Select" in n for n in names)


def test_snn_static_input_state_and_scoped_reset():
    torch.manual_seed(0)
    layers = lambda: (torch.nn.Linear(6, 8), LIF(0.9, 0.5), torch.nn.Linear(8, 3), LI(0.8))  # noqa: E731
    net = SNN(*layers())
    x = torch.rand(4, 6)
    static = net.run(x, steps=12)
    assert torch.allclose(static.out, net(x.expand(12, 4, 6)), atol=1e-6)
    assert len(static.membranes) == 2 and static.membranes[0].shape == (12, 4, 8)
    a, b = SNN(*layers(), stateful=True), SNN(*layers(), stateful=True)
    b.load_state_dict(a.state_dict())
    seq = torch.rand(12, 4, 6)
    whole = a(seq)
    a.reset_state()
    assert torch.allclose(torch.cat([a(seq[:5]), a(seq[5:])]), whole, atol=1e-6)
    b(seq[:5])
    a.reset_state()  # resets a only
    assert b._state is not None and a._state is None
    b.detach_state()
    assert all(t.grad_fn is None for s in b._state for t in s)


def test_encoder_statistics():
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    spikes = encoders.rate(p.expand(1000, 5), 200, generator=g)
    assert spikes.shape == (200, 1000, 5)
    n = 200 * 1000
    assert torch.all((spikes.mean((0, 1)) - p).abs() <= 5 * torch.sqrt(p * (1 - p) / n) + 1e-12)
    lat = encoders.latency(torch.tensor([[1.0, 0.5, 0.0, 0.005]]), 11)
    assert lat.sum(0).tolist() == [[1.0, 1.0, 0.0, 0.0]]  # one spike each; 0 and sub-threshold silent
    assert lat[:, 0, :2].argmax(0).tolist() == [0, 5]  # larger inputs fire earlier: t = (1 - x)(T - 1)
    ramp = (torch.arange(65) / 64).view(65, 1, 1)
    events = encoders.delta(ramp, 0.125)
    assert int(events.sum()) == 8 and events.min() == 0  # rises only; one event per 0.125
    down = encoders.delta(ramp.flip(0), 0.25)
    assert int(down.sum()) == -4
    direct = encoders.direct(torch.ones(2, 3), 7)
    assert direct.shape == (7, 2, 3) and direct.stride(0) == 0


def test_losses():
    torch.manual_seed(0)
    y = torch.tensor([0, 2])
    spikes = (torch.rand(10, 2, 3) < 0.5).float()
    ref = sum(torch.nn.functional.cross_entropy(s, y) for s in spikes) / 10
    assert torch.allclose(losses.rate_ce(spikes, y), ref)
    rates = spikes.mean(0)
    target = torch.tensor([[0.8, 0.2, 0.2], [0.2, 0.2, 0.8]])
    assert torch.allclose(losses.count_mse(spikes, y), ((rates - target) ** 2).mean())
    u = torch.randn(10, 2, 3)
    assert torch.allclose(losses.membrane_ce(u, y, "max"), torch.nn.functional.cross_entropy(u.max(0).values, y))
    assert torch.allclose(losses.membrane_ce(u, y, "mean"), torch.nn.functional.cross_entropy(u.mean(0), y))
    assert losses.rmp_loss([torch.tensor([0.0, 1.0, 1.0])], 0.5) == 0
    assert losses.rmp_loss([torch.tensor([0.2, 2.2])], 1.0) == pytest.approx((0.04 + 0.04) / 2)


def test_rmp_loss_takes_one_threshold_per_layer_and_per_neuron():
    a, b = torch.tensor([[0.3, 0.7]]), torch.tensor([[0.4, 2.6]])
    # layer a at θ = 1/2 (values 0, 1): 0.3 -> 0, 0.7 -> 1; layer b per neuron θ = (1, 2): 0.4 -> 0, 2.6 -> 4
    per_layer = ((0.09 + 0.09) / 2 + (0.16 + 1.96) / 2) / 2
    assert float(losses.rmp_loss([a, b], [0.5, torch.tensor([1.0, 2.0])])) == pytest.approx(per_layer, rel=1e-6)
    shared = ((0.09 + 0.09) / 2 + (0.16 + 2.56) / 2) / 2  # b at θ = 1/2: 2.6 -> 1
    assert float(losses.rmp_loss([a, b], torch.tensor(0.5))) == pytest.approx(shared, rel=1e-6)
    with pytest.raises(ValueError, match="2 thresholds for 1 membrane"):
        losses.rmp_loss([a], [0.5, 0.5])
    with pytest.raises(ValueError, match="at least one"):
        losses.rmp_loss([], 0.5)
    assert losses.accuracy(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])) == 0.5
