"""The spiking Legendre Memory Unit: its discretised memory, the network and the task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import tomli_w
import torch
from scipy.special import eval_sh_legendre

from neurosim.cli import main
from neurosim.io import load
from neurosim.models.l2mu import L2MU, L2MUConfig, legendre_matrices, zoh


@pytest.mark.parametrize("order,theta", [(1, 10.0), (4, 7.0), (8, 50.0)])
def test_discretised_a_b_equal_scipy_zero_order_hold(order, theta):
    a, b = legendre_matrices(order, theta)
    ad, bd = zoh(a, b, 1.0)
    ref = scipy.signal.cont2discrete((a, b, np.eye(order), np.zeros((order, 1))), 1.0, method="zoh")
    assert np.allclose(ad, ref[0], rtol=1e-12, atol=1e-14) and np.allclose(bd, ref[1], rtol=1e-12, atol=1e-14)
    assert a[0, 0] == -1 / theta and b[0, 0] == 1 / theta  # A_00 = -1/θ, B_0 = 1/θ
    assert order < 2 or (a[0, 1] == -1 / theta and a[1, 0] == 3 / theta and b[1, 0] == -3 / theta)


def test_a_non_spiking_memory_reconstructs_the_delayed_input():
    d, theta = 6, 50.0
    a, b = zoh(*legendre_matrices(d, theta))
    t = np.arange(600)
    u = np.sin(2 * np.pi * t / 300) + 0.5 * np.sin(2 * np.pi * t / 170)
    m, history = np.zeros(d), []
    for value in u:
        m = a @ m + b[:, 0] * value
        history.append(m)
    history = np.array(history)
    for r in (0.0, 0.5, 1.0):  # u(t - r θ) = Σ_i P̃_i(r) m_i(t), shifted Legendre polynomials
        estimate = history @ np.array([eval_sh_legendre(i, r) for i in range(d)])
        lag = int(round(r * theta))
        assert np.abs(estimate[200:] - u[200 - lag:600 - lag]).max() < 0.05


def test_the_l2mu_memory_cells_hold_the_legendre_delay_line_of_their_input():
    """The network's own wiring: with the u and m populations made linear (spikes = input
    current), e_h = e_m = 0 and e_x = I, every memory row of L2MU.forward must be the LMU memory
    of its input, so Σ_i P̃_i(r) m_i(t) reconstructs u(t − rθ) (Voelker, Kajić & Eliasmith 2019,
    shifted Legendre polynomials computed by scipy, not by the model). Measured error: < 0.02;
    with Ā instead of Āᵀ in the recurrence, or B̄ reversed, it is > 1."""
    from neurosim.train.modules import LayerOutput

    order, theta, steps = 6, 50.0, 600
    model = L2MU(L2MUConfig(channels=2, classes=2, order=order, theta=theta, memory_size=2, hidden_size=4,
                            output_size=2)).double()
    linear = lambda current, state=None: LayerOutput(current, current, None)  # noqa: E731
    model.pop_u.step = model.pop_m.step = linear
    model.encode = lambda x: (x, [])  # the two input channels drive the two memory rows directly
    t = np.arange(steps)
    u = np.stack([np.sin(2 * np.pi * t / 300) + 0.5 * np.sin(2 * np.pi * t / 170), np.cos(2 * np.pi * t / 230)], 1)
    with torch.no_grad():
        model.e_x.weight.copy_(torch.eye(2))
        model.e_h.weight.zero_()
        model.e_m.weight.zero_()
        out = model(torch.from_numpy(u)[:, None, :])
    memory = out.membranes[1][:, 0].numpy().reshape(steps, 2, order)  # (u, m, h, o) after the empty encoder
    for r in (0.0, 0.5, 1.0):
        estimate = memory @ np.array([eval_sh_legendre(i, r) for i in range(order)])
        lag = int(round(r * theta))
        assert np.abs(estimate[200:] - u[200 - lag:steps - lag]).max() < 0.05, r


@pytest.mark.parametrize("neuron", ["lif", "cuba"])
def test_l2mu_runs_and_every_parameter_learns(neuron):
    torch.manual_seed(0)
    model = L2MU(L2MUConfig(channels=6, classes=4, neuron=neuron, memory_size=4, hidden_size=8, pop_size=3,
                            encoding_size=8, output_size=8, theta=3.0))
    out = model(torch.randn(30, 5, 6) * 2)
    assert out.out.shape == (30, 5, 4) and len(out.membranes) == 7
    (out.membranes[-1].mean(0).logsumexp(-1).sum() + out.out.sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert model.e_m.weight.grad.abs().sum() > 0  # zero-initialised, still trained


def test_l2mu_config_is_validated():
    with pytest.raises(ValueError, match="L2MUConfig.order"):
        L2MUConfig(channels=6, classes=4, order=0)
    with pytest.raises(ValueError, match="L2MUConfig.neuron"):
        L2MUConfig(channels=6, classes=4, neuron="adex")


def test_l2mu_task_learns_basic_motions_well_above_chance(tmp_path):
    """BasicMotions: 4 balanced classes, 40 test series, so chance is 0.25 and a model that learns
    nothing scores 0.25 with cross-entropy ln 4 = 1.386. Measured with these settings (seeds 0-15,
    12 epochs, ~6 s): test accuracy 0.75-1.0 in 15 of 16 seeds (seed 0: 0.75, final train loss
    0.49), one seed diverged (0.5). The bars (>= 0.6, i.e. 24 of 40; loss < 0.6 ln 4) fail for an
    untrained model (lr = 0), for a model whose input is cut (encoder output zeroed), and for random
    guessing (P(Bin(40, 1/4) >= 24) ~ 1e-6)."""
    config = {"schema_version": 1, "name": "l2mu", "task": "train",
              "train": {"dataset": "basic_motions", "model": "l2mu", "epochs": 12, "batch_size": 10, "lr": 5e-3,
                        "readout": "mean", "threads": 1, "seed": 0,
                        "l2mu": {"memory_size": 4, "hidden_size": 32, "encoding_size": 32, "output_size": 32}}}
    path = tmp_path / "l2mu.toml"
    path.write_text(tomli_w.dumps(config))
    out = tmp_path / "l2mu.h5"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    metrics = load(out).metrics
    assert metrics["train_loss"].shape == (12,) and "val_accuracy" not in metrics
    chance_loss = math.log(4)
    assert metrics["train_loss"][0] == pytest.approx(chance_loss, abs=0.1)  # starts untrained
    assert metrics["train_loss"][-1] < 0.6 * chance_loss, metrics["train_loss"]
    assert metrics["test_accuracy"] >= 0.6, metrics["test_accuracy"]
    config["train"]["l2mu"]["order"] = 0
    path.write_text(tomli_w.dumps(config))
    assert main(["validate", str(path)]) == 2
