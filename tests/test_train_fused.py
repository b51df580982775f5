"""The fused multi-step neuron op against the step-by-step PyTorch reference and snnTorch."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import ClassVar

import pytest
import snntorch as snn
import torch

from neurosim.train import functional as F
from neurosim.train.fused import cuba_lif_scan, li_scan, lif_scan
from neurosim.train.modules import LIF
from neurosim.train.surrogates import ATan, FastSigmoid, SURROGATES, Surrogate, has_kernel

T, B, N = 40, 3, 9
D = torch.float64


def _data(seed: int = 0, dtype=D):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=g, dtype=dtype) * 0.7 + 0.35).requires_grad_()
    beta = (torch.rand(N, generator=g, dtype=dtype) * 0.4 + 0.5).requires_grad_()
    theta = (torch.rand(N, generator=g, dtype=dtype) * 0.5 + 0.5).requires_grad_()
    alpha = (torch.rand(N, generator=g, dtype=dtype) * 0.5 + 0.3).requires_grad_()
    u0 = torch.randn(B, N, generator=g, dtype=dtype).requires_grad_()
    i0 = torch.randn(B, N, generator=g, dtype=dtype).requires_grad_()
    ws, wu = torch.randn(T, B, N, generator=g, dtype=dtype), torch.randn(T, B, N, generator=g, dtype=dtype)
    return x, beta, theta, alpha, u0, i0, ws, wu


def _compare(cuba: bool, reset: str, detach: bool, surrogate, mpr=None) -> None:
    x, beta, theta, alpha, u0, i0, ws, wu = _data()
    kw = dict(beta=beta, threshold=theta, reset=reset, detach_reset=detach, surrogate=surrogate, mpr=mpr)
    if cuba:
        p, state, step, scan = F.CubaLIFParameters(alpha=alpha, **kw), F.CubaLIFState(i0, u0), F.cuba_lif_step, cuba_lif_scan
        leaves = [x, beta, theta, alpha, u0, i0]
    else:
        p, state, step, scan = F.LIFParameters(**kw), F.LIFState(u0), F.lif_step, lif_scan
        leaves = [x, beta, theta, u0]
    s_ref, u_ref, last_ref = F.unroll(step, x, state, p)
    s, u, last = scan(x, state, p)
    assert s.dtype == D and torch.equal(s, s_ref), "spikes differ"
    assert torch.allclose(u, u_ref, rtol=0, atol=1e-12)
    assert 0.02 < s.mean() < 0.98  # the test exercises resets

    def loss(s, u, last):
        extra = (last.i * torch.linspace(-1, 1, N, dtype=D)).sum() if cuba else 0
        return (s * ws).sum() + (u * wu).sum() + extra

    g_ref = torch.autograd.grad(loss(s_ref, u_ref, last_ref), leaves)
    g = torch.autograd.grad(loss(s, u, last), leaves)
    for name, a, b in zip(["x", "beta", "theta", "alpha", "u0", "i0"] if cuba else ["x", "beta", "theta", "u0"], g, g_ref):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-9 * float(b.abs().max())), f"d/d{name} differs"


@pytest.mark.parametrize("cuba", [False, True], ids=["lif", "cuba"])
@pytest.mark.parametrize("reset", ["soft", "hard", "none"])
@pytest.mark.parametrize("detach", [True, False], ids=["detach", "through_reset"])
def test_fused_gradients_equal_the_step_by_step_reference(cuba, reset, detach):
    _compare(cuba, reset, detach, ATan(2.0))


@pytest.mark.parametrize("name", [n for n in SURROGATES if n != "atan"])
def test_every_surrogate_in_the_kernel_matches_the_reference(name):
    slope = {"fast_sigmoid": 3.0, "superspike": 5.0, "sigmoid": 4.0, "triangle": 0.8, "rectangular": 0.7}[name]
    _compare(False, "soft", False, SURROGATES[name](slope))


@pytest.mark.parametrize("cuba", [False, True], ids=["lif", "cuba"])
def test_rectifier_in_the_kernel_matches_the_reference(cuba):
    _compare(cuba, "soft", False, ATan(2.0), F.MPR(3.0))


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """A user-defined surrogate the kernels do not know: σ'(x) = k/√π exp(-(k x)²)."""

    slope: float = 2.0
    name: ClassVar[str] = "gaussian"

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return self.slope / math.sqrt(math.pi) * torch.exp(-(self.slope * x) ** 2)


@dataclass(frozen=True)
class SharperATan(ATan):
    """A built-in's subclass with its own formula: must not get the built-in's kernel."""

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().grad(x)


def _gaussian_spike(v: torch.Tensor, k: float) -> torch.Tensor:
    """H(v) whose gradient is the Gaussian's, via its antiderivative erf(k v)/2 (no custom Function)."""
    smooth = 0.5 * torch.erf(k * v)
    return (v > 0).to(v.dtype) + (smooth - smooth.detach())


def _gaussian_reference(x, u0, i0, beta, alpha, theta, reset: str, detach: bool, k: float):
    """LIF (alpha None) or CubaLIF as a plain loop: (spikes [T, ...], membranes [T, ...], last current)."""
    u, i = u0, i0
    r = _gaussian_spike(u - theta, k)
    spikes, membranes = [], []
    for x_t in x.unbind(0):
        if alpha is not None:
            i = alpha * i + x_t
        drive = x_t if alpha is None else i
        rr = r.detach() if detach else r
        u = beta * u + drive - theta * rr if reset == "soft" else beta * ((1 - rr) * u) + drive
        r = _gaussian_spike(u - theta, k)
        spikes.append(r)
        membranes.append(u)
    return torch.stack(spikes), torch.stack(membranes), i


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-10, atol=1e-13 * float(b.abs().max()))


@pytest.mark.parametrize("cuba,reset,detach", [(False, "soft", False), (False, "hard", True), (True, "soft", True),
                                               (True, "hard", False)])
def test_a_custom_surrogate_gets_its_own_gradient(cuba, reset, detach):
    x, beta, theta, alpha, u0, i0, ws, wu = _data(1)
    sg = Gaussian(2.0)
    kw = dict(beta=beta, threshold=theta, reset=reset, detach_reset=detach, surrogate=sg)
    if cuba:
        s, u, last = cuba_lif_scan(x, F.CubaLIFState(i0, u0), F.CubaLIFParameters(alpha=alpha, **kw))
        extra = (last.i * torch.linspace(-1, 1, N, dtype=D)).sum()
        leaves = [x, beta, theta, alpha, u0, i0]
    else:
        s, u, last = lif_scan(x, F.LIFState(u0), F.LIFParameters(**kw))
        extra, leaves = 0, [x, beta, theta, u0]
    s_ref, u_ref, i_ref = _gaussian_reference(x, u0, i0 if cuba else None, beta, alpha if cuba else None, theta,
                                              reset, detach, sg.slope)
    extra_ref = (i_ref * torch.linspace(-1, 1, N, dtype=D)).sum() if cuba else 0
    assert torch.equal(s, s_ref) and torch.allclose(u, u_ref, rtol=0, atol=1e-12)
    assert 0.02 < s.mean() < 0.98
    g = torch.autograd.grad((s * ws).sum() + (u * wu).sum() + extra, leaves)
    g_ref = torch.autograd.grad((s_ref * ws).sum() + (u_ref * wu).sum() + extra_ref, leaves)
    for name, a, b in zip(["x", "beta", "theta", "alpha", "u0", "i0"] if cuba else ["x", "beta", "theta", "u0"],
                          g, g_ref):
        assert _close(a, b), f"d/d{name} differs by {float((a - b).abs().max() / b.abs().max()):.2e}"


def test_a_custom_surrogate_through_the_layer_trains_beta_and_theta_with_its_gradient():
    x, beta, theta, _, _, _, ws, wu = _data(2)
    layer = LIF(beta.detach(), theta.detach(), surrogate=Gaussian(3.0), detach_reset=False, learn_beta=True,
                learn_threshold=True).double()
    out = layer(x)
    g = torch.autograd.grad((out.out * ws).sum() + (out.membrane * wu).sum(), [x, layer.beta, layer.threshold])
    beta, theta = (p.detach().clone().requires_grad_() for p in (layer.beta, layer.threshold))  # float32-rounded
    zeros = torch.zeros_like(x[0])
    s_ref, u_ref, _ = _gaussian_reference(x, zeros, None, beta, None, theta, "soft", False, 3.0)
    g_ref = torch.autograd.grad((s_ref * ws).sum() + (u_ref * wu).sum(), [x, beta, theta])
    assert torch.equal(out.out, s_ref) and all(_close(a, b) for a, b in zip(g, g_ref))


def _graph_nodes(s: torch.Tensor) -> set:
    """Every autograd node in the graph of ``s``."""
    seen, stack = set(), [s.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(f for f, _ in node.next_functions)
    return seen


def _is_fused(s: torch.Tensor) -> bool:
    """Whether the fused op (``_Scan``) is in the graph of ``s``."""
    return any(type(n).__name__ == "_ScanBackward" for n in _graph_nodes(s))


def test_built_in_surrogates_take_the_fused_path_and_others_the_unrolled_one():
    x = torch.randn(5, 2, 3, dtype=D, requires_grad=True)
    for cls in SURROGATES.values():
        assert has_kernel(cls()) and _is_fused(lif_scan(x, None, F.LIFParameters(surrogate=cls()))[0]), cls.name
    for sg in (Gaussian(), SharperATan()):
        assert not has_kernel(sg)
        assert not _is_fused(lif_scan(x, None, F.LIFParameters(surrogate=sg))[0])
        assert not _is_fused(cuba_lif_scan(x, None, F.CubaLIFParameters(surrogate=sg))[0])

    @dataclass(frozen=True)
    class Renamed(ATan):  # the built-in formula under another name: still the kernel's
        name: ClassVar[str] = "renamed"

    assert has_kernel(Renamed()) and _is_fused(lif_scan(x, None, F.LIFParameters(surrogate=Renamed()))[0])


def test_leaky_integrator_scan_equals_its_steps():
    x, beta, *_ = _data()
    u, state = li_scan(x, None, beta)
    _, u_ref, _ = F.unroll(lambda x_t, st, b: F.li_step(x_t, st, b), x, F.LIFState(torch.zeros_like(x[0])), beta)
    assert torch.allclose(u, u_ref, atol=1e-12) and torch.equal(state.u, u[-1])
    g, g_ref = (torch.autograd.grad((v * torch.arange(N, dtype=D)).sum(), [x, beta]) for v in (u, u_ref))
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(g, g_ref))


def test_state_carries_over_between_chunks_with_gradients():
    x, beta, theta, _, u0, _, ws, _ = _data()
    p = F.LIFParameters(beta=beta, threshold=theta)
    s_all, _, _ = lif_scan(x, F.LIFState(u0), p)
    s1, _, mid = lif_scan(x[:15], F.LIFState(u0), p)
    s2, _, _ = lif_scan(x[15:], mid, p)
    assert torch.equal(torch.cat([s1, s2]), s_all)
    g_all = torch.autograd.grad((s_all * ws).sum(), [x, u0, beta])
    g_chunks = torch.autograd.grad((torch.cat([s1, s2]) * ws).sum(), [x, u0, beta])
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(g_all, g_chunks))


def test_the_op_saves_only_the_membrane_and_never_indexes_time():
    x = torch.randn(T, B, N, requires_grad=True)
    saved: dict[int, int] = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        s, u, _ = lif_scan(x, None, F.LIFParameters(beta=0.9))
    big = [n for n in saved.values() if n >= T * B * N]
    assert big == [4 * T * B * N]  # u in float32: 4 bytes per neuron-step
    assert not any("Select" in type(n).__name__ for n in _graph_nodes(s))


def test_a_gradient_constant_over_time_is_not_materialised_but_equal():
    x = torch.randn(T, B, N, dtype=D, requires_grad=True)
    p = F.LIFParameters(beta=0.9, threshold=0.8)
    g_sum = torch.autograd.grad(lif_scan(x, None, p)[0].sum(), x)[0]  # expanded gradient
    g_ones = torch.autograd.grad(lif_scan(x, None, p)[0], x, torch.ones(T, B, N, dtype=D))[0]
    assert torch.equal(g_sum, g_ones)


def _snntorch_run(neuron, x, cuba):
    outs, mems = [], []
    state = [torch.zeros_like(x[0])] * (2 if cuba else 1)
    for x_t in x.unbind(0):
        spk, *state = neuron(x_t, *state)
        outs.append(spk)
        mems.append(state[-1])
    return torch.stack(outs), torch.stack(mems)


# snnTorch's Synaptic "zero" reset also drops the step's input: not the same model, not compared
@pytest.mark.parametrize("cuba,mechanism,reset", [(False, "subtract", "soft"), (False, "zero", "hard"),
                                                  (True, "subtract", "soft")], ids=["Leaky-soft", "Leaky-hard",
                                                                                    "Synaptic-soft"])
@pytest.mark.parametrize("sg", ["atan", "fast_sigmoid"])
def test_equals_snntorch_with_the_same_surrogate(cuba, mechanism, reset, sg):
    torch.manual_seed(0)
    x = (torch.randn(60, 4, 16) * 0.6 + 0.3).requires_grad_()
    spike_grad, surrogate = (snn.surrogate.atan(2.0), ATan(2.0)) if sg == "atan" else \
        (snn.surrogate.fast_sigmoid(10.0), FastSigmoid(10.0))
    beta, theta = torch.full((16,), 0.8), torch.full((16,), 0.9)
    common = dict(threshold=theta.clone(), spike_grad=spike_grad, reset_mechanism=mechanism, learn_beta=True,
                  learn_threshold=True)
    ref = snn.Synaptic(alpha=torch.full((16,), 0.6), beta=beta.clone(), learn_alpha=True, **common) if cuba else \
        snn.Leaky(beta=beta.clone(), **common)
    s_ref, u_ref = _snntorch_run(ref, x, cuba)
    params = [p for p in (ref.beta, ref.threshold) + ((ref.alpha,) if cuba else ())]
    ours = [p.detach().clone().requires_grad_() for p in params]
    kw = dict(beta=ours[0], threshold=ours[1], reset=reset, surrogate=surrogate)
    s, u, _ = cuba_lif_scan(x, None, F.CubaLIFParameters(alpha=ours[2], **kw)) if cuba else \
        lif_scan(x, None, F.LIFParameters(**kw))
    assert torch.equal(s, s_ref) and torch.equal(u, u_ref)
    w = torch.linspace(-1, 1, 16)
    g_ref = torch.autograd.grad((s_ref * w).sum() + (u_ref * w).sum(), [x, *params])
    g = torch.autograd.grad((s * w).sum() + (u * w).sum(), [x, *ours])
    for a, b in zip(g, g_ref):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-6 * float(b.abs().max()))


CUDASIM = """
import numpy as np, torch
from neurosim.train import kernels_cpu as K, kernels_cuda as C
from neurosim.train.fused import ScanConfig
rng = np.random.default_rng(0)
T, M, N = 7, 6, 3
worst = 0.0
for cuba, mode, detach, kind, mpr in [(False, 0, True, 0, False), (True, 1, False, 2, True), (False, 2, False, 3, False)]:
    x = rng.normal(size=(T, M)) * 0.7 + 0.3
    u0, i0 = rng.normal(size=M), (rng.normal(size=M) if cuba else np.zeros(M))
    beta, theta = rng.uniform(0.5, 0.9, N), rng.uniform(0.4, 1.0, N)
    alpha = rng.uniform(0.3, 0.8, N) if cuba else np.zeros(N)
    a, c = (3.0, 0.5 / np.tanh(1.5)) if mpr else (0.0, 0.0)
    cfg = ScanConfig(cuba, mode, detach, kind, 2.0, mpr, a, c)
    t = lambda v: torch.from_numpy(np.ascontiguousarray(v))
    s1, u1, i1 = K.forward(t(x), t(u0), t(i0), t(beta), t(alpha), t(theta), cfg)
    s2, u2, i2 = np.empty((T, M)), np.empty((T, M)), np.empty(M)
    state0, params = np.stack([u0, i0]), np.stack([beta, alpha, theta])
    C.launch_forward(x, state0, params, mode, mpr, a, c, s2, u2, i2)
    assert np.array_equal(s1.numpy(), s2), "spikes"
    gs, gu, gi = rng.normal(size=(T, M)), rng.normal(size=(T, M)), rng.normal(size=M)
    r1 = K.backward(t(gs), t(gu), t(gi), u1, t(u0), t(i0), t(beta), t(alpha), t(theta), cfg, True)
    gx, gstate0, gparams = np.empty((T, M)), np.empty((2, M)), np.empty((3, M))
    C.launch_backward(gs, gu, gi, u2, state0, params, mode, detach, kind, 2.0, mpr, a, c, True, gx, gstate0, gparams)
    r2 = [gx, gstate0[0], gstate0[1], gparams[0], gparams[1], gparams[2]]
    worst = max([worst, np.abs(u1.numpy() - u2).max()] + [np.abs(p.numpy() - q).max() for p, q in zip(r1, r2)])
print("worst", worst)
assert worst < 1e-12
"""


def test_cuda_kernel_in_the_simulator_matches_the_cpu_op():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CUDASIM)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "worst" in done.stdout


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("density", [0.05, 0.6], ids=["events", "dense"])
def test_sparse_linear_equals_linear(dtype, density):
    from neurosim.train.synapses import SparseLinear

    torch.manual_seed(0)
    dense = torch.nn.Linear(37, 23).to(dtype)
    sparse = SparseLinear(37, 23, max_density=0.25).to(dtype)
    sparse.load_state_dict(dense.state_dict())
    x = ((torch.rand(6, 5, 37) < density).to(dtype) * torch.randn(6, 5, 37, dtype=dtype)).requires_grad_()
    g = torch.randn(6, 5, 23, dtype=dtype)
    a, b = dense(x), sparse(x)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(a, b, atol=tol)
    ga = torch.autograd.grad((a * g).sum(), [x, dense.weight, dense.bias])
    gb = torch.autograd.grad((b * g).sum(), [x, sparse.weight, sparse.bias])
    assert all(torch.allclose(p, q, atol=tol) for p, q in zip(ga, gb))
    frozen = x.detach()  # no input gradient: the weight is not kept for one
    gw = [torch.autograd.grad((m(frozen) * g).sum(), m.weight)[0] for m in (dense, sparse)]
    assert torch.allclose(gw[0], gw[1], atol=tol)
    assert isinstance(sparse, torch.nn.Linear) and sparse.state_dict().keys() == dense.state_dict().keys()
