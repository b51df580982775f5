"""SparseLinear: the event path against nn.Linear (exactly where no rounding can occur, within the
float rounding bound otherwise), the measured choice of path, and where float32 differences come from."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from neurosim.train import synapses
from neurosim.train.modules import LIF
from neurosim.train.surrogates import ATan
from neurosim.train.synapses import SparseLinear


def _pair(k: int, n: int, dtype: torch.dtype, max_density=1.0, bias: bool = True):
    dense = torch.nn.Linear(k, n, bias=bias).to(dtype)
    sparse = SparseLinear(k, n, bias=bias, max_density=max_density).to(dtype)
    sparse.load_state_dict(dense.state_dict())
    return dense, sparse


def _grads(module, x, g):
    x = x.detach().clone().requires_grad_()
    y = module(x)
    params = [module.weight] + ([module.bias] if module.bias is not None else [])
    return (y, *torch.autograd.grad((y * g).sum(), [x, *params]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_event_path_is_exact_where_the_sums_are_exact(dtype, monkeypatch):
    """Dyadic values whose every partial sum is representable: any order of summation gives the exact
    result, so the event path must equal nn.Linear bit for bit. Small blocks (several per layer, a
    ragged last one), rows of 0, 1, 2, 3, 5 and all-K events: a blocking or event-grouping bug shows."""
    monkeypatch.setattr(synapses, "BLOCK_BYTES", 1)
    monkeypatch.setattr(synapses, "MIN_BLOCK", 16)
    k, n, rows = 150, 70, 700  # blocks of 16 outputs: 4 full + 6
    gen = torch.Generator().manual_seed(0)
    dense, sparse = _pair(k, n, dtype)
    with torch.no_grad():
        dense.weight.copy_(torch.randint(-64, 65, (n, k), generator=gen).to(dtype) / 16)
        dense.bias.copy_(torch.randint(-64, 65, (n,), generator=gen).to(dtype) / 16)
        sparse.load_state_dict(dense.state_dict())
    values = torch.tensor([1.0, 2.0, -1.0, 0.5], dtype=dtype)
    x = values[torch.randint(0, 4, (rows, k), generator=gen)] * (torch.rand(rows, k, generator=gen) < 0.1)
    for r, count in enumerate((0, 1, 2, 3, 5)):
        x[r] = 0
        x[r, :count] = 1.0
    x[5] = 1.0
    x = x.view(7, 100, k)
    g = torch.randint(-64, 65, (7, 100, n), generator=gen).to(dtype) / 16
    # |partial sums| <= 150 * 8 (forward), 700 * 8 (weight gradient), on a grid of 1/32: exact in float32
    a, b = _grads(dense, x, g), _grads(sparse, x, g)
    assert sparse.last_choice[0] == "events"
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def _gamma(m: torch.Tensor, u: float) -> torch.Tensor:
    """Higham's γ_m = m u / (1 - m u): the bound on the relative error of a sum of m rounded terms."""
    m = m.to(torch.float64)
    return m * u / (1 - m * u)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_event_path_error_is_within_the_rounding_bound(dtype):
    """Random values, 8000 rows (the T·B = 500·16 of the benchmark): the event path's forward product
    and weight gradient differ from the exact (float64 from the same inputs, float32: products exact)
    result by at most γ_{m+2}·Σ|terms|, m the events summed into that element (row r: its events;
    dW[:, j]: the events of input j), i.e. plain float rounding of a sum of that length."""
    k, n, rows, density = 64, 48, 8000, 0.3
    gen = torch.Generator().manual_seed(1)
    dense, sparse = _pair(k, n, dtype)
    mask = torch.rand(rows, k, generator=gen) < density
    x = torch.randn(rows, k, generator=gen).to(dtype) * mask
    g = torch.randn(rows, n, generator=gen).to(dtype)
    y, _, gw, _ = _grads(sparse, x, g)
    assert sparse.last_choice[0] == "events"
    u = 2.0 ** -24 if dtype == torch.float32 else 2.0 ** -53
    x64, w64, b64, g64 = (t.detach().double() for t in (x, sparse.weight, sparse.bias, g))
    exact_y = x64 @ w64.T + b64
    exact_gw = g64.T @ x64
    bound_y = _gamma(mask.sum(1, keepdim=True) + 2, u) * (x64.abs() @ w64.abs().T + b64.abs())
    bound_gw = _gamma(mask.sum(0, keepdim=True) + 1, u) * (g64.abs().T @ x64.abs())
    if dtype == torch.float64:  # the reference itself is rounded in float64 (m terms): allow for it too
        bound_y, bound_gw = 2 * bound_y, 2 * bound_gw
    err_y, err_gw = (y.double() - exact_y).abs(), (gw.double() - exact_gw).abs()
    assert bool((err_y <= bound_y).all()), float((err_y / bound_y).max())
    assert bool((err_gw <= bound_gw).all()), float((err_gw / bound_gw).max())
    # and the bound is a worst case: the actual errors are far below it
    assert float((err_gw / bound_gw.clamp_min(1e-300)).max()) < 0.5


def _lif_grads(linear, x):
    linear.zero_grad(set_to_none=True)
    lif = LIF(0.9375, 1.0, reset="hard", surrogate=ATan(2.0))
    spikes = lif(linear(x)).out
    spikes.sum().backward()
    return spikes.detach(), linear.weight.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lif_weight_gradient_differs_only_in_rows_of_flipped_neurons(dtype):
    """Linear + LIF, loss = spike count. A neuron's weight-gradient row depends on that neuron's own
    trajectory only, so where the event path's rounding of the input current flips none of its
    spikes, its row equals nn.Linear's to rounding; a flipped spike (a membrane within rounding of
    the threshold) changes that neuron's later trajectory and its row by O(1) relative to that row,
    which is what the benchmark's ``weight_grad_rel_diff`` of ~1e-2 at T = 500, N = 4096 in float32
    was (13 of 33M spikes, all in one neuron). In float64 nothing flips here."""
    T, B, K, N = 200, 8, 256, 256
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(T, B, K, generator=gen) < 0.1).to(dtype)
    dense, sparse = _pair(K, N, dtype, bias=False)
    with torch.no_grad():
        dense.weight.copy_((torch.rand(N, K, generator=gen, dtype=dtype) * 2 - 1) * (3.0 / K ** 0.5))
        sparse.load_state_dict(dense.state_dict())
    s_dense, g_dense = _lif_grads(dense, x)
    s_sparse, g_sparse = _lif_grads(sparse, x)
    assert sparse.last_choice[0] == "events"
    flipped = (s_dense != s_sparse).flatten(0, 1).any(0)  # [N]
    if dtype == torch.float64:
        assert not flipped.any()
    same = ~flipped
    row_scale = g_dense.abs().amax(1, keepdim=True).clamp_min(1e-30)
    rel = ((g_sparse - g_dense).abs() / row_scale)[same]
    assert float(rel.max()) < (1e-4 if dtype == torch.float32 else 1e-10)


def test_auto_choice_follows_the_density_and_is_visible(monkeypatch, caplog):
    k, n = 40, 30
    dense, sparse = _pair(k, n, torch.float32, max_density="auto")
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(6, 50, k, generator=gen) < 0.1).float()
    g = torch.randn(6, 50, n, generator=gen)
    monkeypatch.setenv(synapses.ENV_MAX_DENSITY, "0.2")
    a, b = _grads(dense, x, g), _grads(sparse, x, g)
    assert sparse.last_choice[0] == "events" and sparse.last_choice[2] == 0.2
    assert all(torch.allclose(p, q, atol=1e-5) for p, q in zip(a, b))
    monkeypatch.setenv(synapses.ENV_MAX_DENSITY, "0.05")
    b = _grads(sparse, x, g)
    assert sparse.last_choice[0] == "dense"
    assert all(torch.equal(p, q) for p, q in zip(a, b))  # the dense path is nn.Linear's own
    assert sparse.path_counts == {"events": 1, "dense": 1}
    assert "last: dense" in repr(sparse) and "max_density='auto'" in repr(sparse)
    monkeypatch.setenv(synapses.ENV_MAX_DENSITY, "auto")  # calibrated: a threshold in [0, 1], logged once
    monkeypatch.setattr(synapses, "_CALIBRATIONS", {})
    with caplog.at_level(logging.INFO, logger="neurosim.train.synapses"):
        sparse(x)
        sparse(x)
    path, density, limit = sparse.last_choice
    assert 0 <= limit <= 1 and path == ("events" if density <= limit else "dense")
    assert sum("input density" in r.getMessage() for r in caplog.records) == 1
    monkeypatch.setenv(synapses.ENV_MAX_DENSITY, "lots")
    with pytest.raises(ValueError, match=synapses.ENV_MAX_DENSITY):
        sparse(x)


def test_calibration_leaves_the_random_states_alone():
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    cal = synapses.calibrate(33, 17, torch.float64, force=True)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(np_state[1], np.random.get_state()[1])
    assert synapses.calibrate(33, 17, torch.float64) is cal  # cached per process
    assert cal.dtype == "float64" and cal.threads == torch.get_num_threads()
    for rows in (1, 100, 10_000):
        assert 0 <= cal.crossover(rows, True) <= 1 and 0 <= cal.crossover(rows, False) <= 1


def test_fixed_max_density_and_its_validation():
    for bad in (1.5, -0.1, "sometimes"):
        with pytest.raises(ValueError, match="max_density"):
            SparseLinear(4, 3, max_density=bad)
    dense, sparse = _pair(8, 5, torch.float32, max_density=0)
    x = torch.zeros(4, 8)
    x[0, 0] = 1
    assert torch.equal(sparse(x), dense(x)) and sparse.last_choice is None  # 0: always nn.Linear, no counting
    sparse.max_density = 1.0
    sparse(torch.ones(4, 8))
    assert sparse.last_choice == ("events", 1.0, 1.0)
