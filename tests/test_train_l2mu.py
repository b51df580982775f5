"""The spiking Legendre Memory Unit: its discretised memory, the network and the task."""

from __future__ import annotations

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


def test_l2mu_task_trains_on_basic_motions(tmp_path):
    config = {"schema_version": 1, "name": "l2mu", "task": "train",
              "train": {"dataset": "basic_motions", "model": "l2mu", "epochs": 2, "batch_size": 10, "lr": 5e-3,
                        "readout": "mean", "threads": 1,
                        "l2mu": {"memory_size": 4, "hidden_size": 16, "encoding_size": 16, "output_size": 16}}}
    path = tmp_path / "l2mu.toml"
    path.write_text(tomli_w.dumps(config))
    out = tmp_path / "l2mu.h5"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    metrics = load(out).metrics
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["train_loss"].shape == (2,) and "val_accuracy" not in metrics
    config["train"]["l2mu"]["order"] = 0
    path.write_text(tomli_w.dumps(config))
    assert main(["validate", str(path)]) == 2
