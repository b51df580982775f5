"""The layer graph every exporter reads, target profiles, and the results file as a model source."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.hardware import graph as G
from neurosim.hardware import profiles
from neurosim.train.modules import LI, LIF, SNN, CubaLIF, RLIF


def _snn() -> tuple[SNN, dict]:
    torch.manual_seed(0)
    model = SNN(torch.nn.Conv2d(1, 4, 3), CubaLIF(alpha=0.7, beta=0.85, reset="hard"), torch.nn.AvgPool2d(2),
                torch.nn.Flatten(), torch.nn.Dropout(0.1), torch.nn.Linear(36, 20),
                RLIF(20, beta=torch.linspace(0.8, 0.95, 20), threshold=0.9, reset="soft"),
                torch.nn.Linear(20, 5), LI(0.9))
    description = {"model": "snn", "dt": 1e-3, "steps": 7, "input_shape": [1, 8, 8], "encoder": {"type": "direct"}}
    return model.eval(), description


def test_graph_round_trip_computes_the_same_model():
    model, description = _snn()
    graph = G.from_model(model, description)
    assert [type(layer).__name__ for layer in graph.layers] == [
        "Conv2d", "Spiking", "SumPool2d", "Flatten", "Affine", "Spiking", "Affine", "Leaky"]
    assert graph.layers[1].size == 4 * 6 * 6 and graph.layers[1].cuba and graph.layers[1].reset == "hard"
    assert graph.layers[2].scale == 0.25 and graph.layers[3].out_shape == (36,)
    np.testing.assert_array_equal(graph.layers[5].recurrent, model.layers[6].recurrent.weight.detach().double())
    x = torch.rand(3, 1, 8, 8) * 2
    rebuilt = G.to_model(graph).eval()
    with torch.no_grad():
        a, b = model.run(x, steps=7), rebuilt.run(x, steps=7)
    assert a.membranes[1].abs().sum() > 0 and (a.membranes[0] > 0.9).any()  # the spiking layers are active
    for u, v in zip(a.membranes, b.membranes):
        torch.testing.assert_close(u, v, rtol=0, atol=1e-6)
    np.testing.assert_allclose(G.float_outputs(graph, x.numpy()), a.out.numpy(), atol=1e-6)


def test_graph_refuses_what_does_not_export():
    model, description = _snn()
    model.layers[2] = torch.nn.MaxPool2d(2)
    with pytest.raises(ValueError, match=r"layers\[2\]: MaxPool2d"):
        G.from_model(model, description)
    with pytest.raises(ValueError, match="model"):
        G.from_model(model, {**description, "model": "l2mu"})
    with pytest.raises(ValueError, match="Spiking.beta"):
        G.Spiking(3, beta=1.5, threshold=1.0)
    with pytest.raises(ValueError, match=r"Spiking.threshold: must be > 0, got 0 \(neuron 1\)"):
        G.Spiking(3, beta=0.5, threshold=[1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="Spiking.reset"):
        G.Spiking(3, beta=0.5, threshold=1.0, reset="none")
    with pytest.raises(ValueError, match="Spiking.recurrent"):
        G.Spiking(3, beta=0.5, threshold=1.0, recurrent=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="Affine.bias"):
        G.Affine(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="LayerGraph.dt"):
        G.LayerGraph((G.Leaky(2, 0.5),), (2,), 0.0, 5)
    with pytest.raises(ValueError, match="LayerGraph.layers"):
        G.LayerGraph((), (2,), 1e-3, 5)


def test_graph_layers_are_read_only():
    layer = G.Spiking(2, beta=[0.5, 0.6], threshold=1.0)
    with pytest.raises(ValueError):
        layer.beta[0] = 0.1
    with pytest.raises(AttributeError):
        layer.size = 3


def test_profiles_load_check_and_name_the_limit(tmp_path):
    assert {"loihi1", "loihi2", "cortex_m4", "cortex_m7", "onnx_edge"} <= set(profiles.available())
    loihi1, loihi2 = profiles.load("loihi1"), profiles.load("loihi2")
    assert loihi1.target == loihi2.target == "loihi"
    assert loihi1.limit("neurons_per_core") == 1024 < loihi2.limit("neurons_per_core")
    loihi1.check({"neurons_per_core": 1024, "unlisted": 1e9})
    with pytest.raises(ValueError, match="neurons_per_core = 1025, above the limit of 1024"):
        loihi1.check({"neurons_per_core": 1025})
    edge = profiles.load("onnx_edge")
    edge.require_subset("ops", ["Gemm", "Add"])
    with pytest.raises(ValueError, match="ops LSTM not supported"):
        edge.require_subset("ops", ["Gemm", "LSTM"])
    with pytest.raises(ValueError, match="unknown 'loihi3'"):
        profiles.load("loihi3")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntarget = "fpga"\n')
    with pytest.raises(ValueError, match="target must be one of"):
        profiles.load(bad)
    bad.write_text('name = "x"\ntarget = "c"\n[limits]\nflash_bytes = -1\n')
    with pytest.raises(ValueError, match="limits.flash_bytes"):
        profiles.load(bad)
    custom = tmp_path / "mcu.toml"
    custom.write_text('name = "tiny"\ntarget = "c"\n[limits]\nflash_bytes = 1024\n')
    assert profiles.load(custom).limit("flash_bytes") == 1024


def test_per_neuron_parameters_of_a_convolutional_layer_keep_their_order():
    beta = torch.rand(2, 3, 3) * 0.5 + 0.4
    model = SNN(torch.nn.Conv2d(1, 2, 2), LIF(beta=beta, threshold=0.5, reset="hard"), torch.nn.Flatten(),
                torch.nn.Linear(18, 3), LI(0.9)).eval()
    description = {"model": "snn", "dt": 1e-3, "steps": 5, "input_shape": [1, 4, 4]}
    graph = G.from_model(model, description)
    np.testing.assert_array_equal(graph.layers[1].beta, beta.double().numpy().reshape(-1))
    x = torch.rand(4, 1, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(G.to_model(graph).eval()(x, steps=5), model(x, steps=5), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="Spiking.threshold: needs one value or 18"):
        G.Spiking(18, beta=0.5, threshold=np.ones(4))


def test_graph_checks_every_shape_on_construction():
    conv = G.Conv2d(np.zeros((2, 1, 3, 3)), (1, 5, 5))
    graph = G.LayerGraph((conv, G.Spiking(18, 0.9, 1.0), G.Flatten((2, 3, 3)), G.Affine(np.zeros((4, 18))),
                          G.Leaky(4, 0.9)), (1, 5, 5), 1e-3, 3)
    assert graph.shapes == ((1, 5, 5), (2, 3, 3), (2, 3, 3), (18,), (4,), (4,))
    with pytest.raises(ValueError, match=r"layers\[2\] \(Affine\).weight: takes 18 flat inputs, gets shape "
                                         r"\(2, 3, 3\) \(put a Flatten before it\)"):
        G.LayerGraph((conv, G.Spiking(18, 0.9, 1.0), G.Affine(np.zeros((4, 18)))), (1, 5, 5), 1e-3, 3)
    with pytest.raises(ValueError, match=r"layers\[0\] \(Conv2d\).input_shape: \(1, 5, 5\) does not match"):
        G.LayerGraph((conv,), (1, 6, 6), 1e-3, 3)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Spiking\).size: 20 does not match the 18 features"):
        G.LayerGraph((conv, G.Spiking(20, 0.9, 1.0)), (1, 5, 5), 1e-3, 3)


def test_a_series_model_steps_over_its_length():
    model = SNN(torch.nn.Linear(6, 8), LIF(0.9, reset="hard"), torch.nn.Linear(8, 3), LI(0.9)).eval()
    description = {"model": "snn", "dt": 1e-3, "steps": 100, "input_shape": [6, 100], "series": True,
                   "encoder": {"type": "direct"}}
    graph = G.from_model(model, description)
    assert graph.input_shape == (6,) and graph.steps == 100 and graph.encoder == {"type": "series"}
    delta = G.from_model(model, {**description, "encoder": {"type": "delta", "threshold": 0.1}})
    assert delta.encoder["type"] == "delta"
