"""ONNX export (neurosim.hardware.onnx): the stateful step graph and the unrolled graph run in
onnxruntime and agree with the PyTorch model ``graph.to_model`` (LIF, CubaLIF, a recurrent
layer, a leaky readout).

What is asserted: spikes are **identical** and float32 states/readouts agree within 1e-5
(absolute). That is only meaningful if no neuron sits near its threshold, where a float32
rounding difference (about 1e-6 here) could flip a spike; so every test also asserts, on the
float64 trajectory of the same model and inputs, that no membrane comes within 1e-4 of its
threshold (the seeds are fixed; a change that breaks this fails loudly instead of flaking)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from neurosim.hardware import profiles
from neurosim.hardware import onnx as hx
from neurosim.hardware.graph import Affine, Conv2d, Flatten, LayerGraph, Leaky, Spiking, SumPool2d, to_model

T, B = 12, 5
MARGIN = 1e-4


def lif_graph(seed: int = 0) -> LayerGraph:
    """LIF (hard reset) + LI readout on spike-like sequence inputs (rate encoder: unrolled over x[t])."""
    rng = np.random.default_rng(seed)
    return LayerGraph((Affine(rng.normal(0, 0.5, (24, 16)), rng.normal(0, 0.1, 24)),
                       Spiking(24, rng.uniform(0.7, 0.95, 24), rng.uniform(0.8, 1.2, 24), "hard"),
                       Affine(rng.normal(0, 0.4, (6, 24)), rng.normal(0, 0.1, 6)),
                       Leaky(6, 0.9)), (16,), 1e-3, T, {"type": "rate", "gain": 1.0})


def cuba_recurrent_graph(seed: int = 1) -> LayerGraph:
    """Flatten -> CubaLIF (soft reset) -> recurrent LIF (hard reset) -> LI; direct input."""
    rng = np.random.default_rng(seed)
    return LayerGraph((Flatten((1, 4, 4)),
                       Affine(rng.normal(0, 0.4, (20, 16)), rng.normal(0, 0.1, 20)),
                       Spiking(20, rng.uniform(0.7, 0.95, 20), 1.0, "soft", alpha=rng.uniform(0.5, 0.8, 20)),
                       Affine(rng.normal(0, 0.6, (12, 20))),
                       Spiking(12, 0.85, rng.uniform(0.8, 1.2, 12), "hard", recurrent=rng.normal(0, 0.5, (12, 12))),
                       Affine(rng.normal(0, 0.5, (5, 12)), rng.normal(0, 0.1, 5)),
                       Leaky(5, rng.uniform(0.8, 0.95, 5))), (1, 4, 4), 1e-3, T)


def conv_graph(seed: int = 2) -> LayerGraph:
    rng = np.random.default_rng(seed)
    return LayerGraph((Conv2d(rng.normal(0, 0.5, (3, 1, 3, 3)), (1, 6, 6), rng.normal(0, 0.1, 3)),
                       Spiking(48, 0.9, 1.0, "hard"),
                       SumPool2d(2, (3, 4, 4), 0.25), Flatten((3, 2, 2)),
                       Affine(rng.normal(0, 0.5, (4, 12))), Leaky(4, 0.9)), (1, 6, 6), 1e-3, T)


def inputs(graph: LayerGraph, seed: int, scale: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(100 + seed)
    if graph.encoder["type"] == "direct":
        return rng.uniform(0, scale, (B, *graph.input_shape)).astype(np.float32)
    return (rng.random((T, B, *graph.input_shape)) < 0.3).astype(np.float32) * scale


def session(path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def assert_far_from_threshold(graph: LayerGraph, x: np.ndarray) -> None:
    """No spiking membrane of the float64 trajectory within MARGIN of its threshold."""
    model = to_model(graph).double()
    static = graph.encoder["type"] == "direct"
    with torch.no_grad():
        out = model.run(torch.from_numpy(x).double(), steps=graph.steps if static else None)
    k = 0
    for layer in graph.layers:
        if isinstance(layer, (Spiking, Leaky)):
            if isinstance(layer, Spiking):
                u = out.membranes[k].numpy().reshape(graph.steps, x.shape[1 - static], -1)
                margin = np.abs(u - layer.threshold).min()
                assert margin > MARGIN, f"test data: a membrane within {margin:.2e} of threshold"
                assert 0.02 < (u > layer.threshold).mean() < 0.9  # the layer is active, not saturated
            k += 1


@pytest.mark.parametrize("make", [lif_graph, cuba_recurrent_graph])
def test_step_graph_in_onnxruntime_matches_torch_step_by_step(make, tmp_path):
    graph = make()
    x = inputs(graph, 0)
    assert_far_from_threshold(graph, x)
    report = hx.export_step(graph, tmp_path / "step.onnx")
    assert report["inputs"] == ["x", *hx.state_names(graph)]
    sess = session(tmp_path / "step.onnx")
    model = to_model(graph)
    static = graph.encoder["type"] == "direct"
    state_ort = hx.zero_state(graph, B)
    state_t = None
    worst = 0.0
    for t in range(T):
        x_t = x if static else x[t]
        out_ort, *new = sess.run(None, {"x": x_t, **state_ort})
        state_ort = dict(zip(hx.state_names(graph), new))
        with torch.no_grad():
            ref = model.run(torch.from_numpy(x_t)[None], state=state_t)
        state_t = ref.state
        ref_states = [v.numpy() for s in ref.state for v in ((s.i, s.u) if hasattr(s, "i") else (s.u,))]
        # the readout (LI membrane) and every state, fed back into onnxruntime at the next step
        np.testing.assert_allclose(out_ort, ref.out[0].numpy(), rtol=0, atol=1e-5)
        for got, want in zip(new, ref_states):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
            worst = max(worst, float(np.abs(got - want).max()))
        # spikes of every spiking layer identical: recomputed from the membranes
        k = 0
        for layer in graph.layers:
            if isinstance(layer, (Spiking, Leaky)):
                if isinstance(layer, Spiking):
                    u_ort = state_ort[f"u{k}"]
                    np.testing.assert_array_equal(u_ort > layer.threshold, ref.state[k].u.numpy() > layer.threshold)
                k += 1
    assert worst < 1e-5


@pytest.mark.parametrize("make", [lif_graph, cuba_recurrent_graph])
def test_unrolled_graph_in_onnxruntime_matches_torch(make, tmp_path):
    graph = make()
    x = inputs(graph, 1)
    assert_far_from_threshold(graph, x)
    report = hx.export_unrolled(graph, tmp_path / "unrolled.onnx")
    static = graph.encoder["type"] == "direct"
    assert report["static_input"] is static and report["steps"] == T
    out = session(tmp_path / "unrolled.onnx").run(None, {"x": x})[0]
    with torch.no_grad():
        ref = to_model(graph).run(torch.from_numpy(x), steps=T if static else None).out.numpy()
    assert out.shape == (T, B, graph.layers[-1].size)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


def test_the_batch_dimension_is_dynamic(tmp_path):
    graph = cuba_recurrent_graph()
    hx.export(graph, tmp_path / "m.onnx")
    x = inputs(graph, 2)
    one = session(tmp_path / "m.unrolled.onnx").run(None, {"x": x[:1]})[0]
    all_ = session(tmp_path / "m.unrolled.onnx").run(None, {"x": x})[0]
    np.testing.assert_allclose(one[:, 0], all_[:, 0], rtol=0, atol=1e-6)


def test_conv_and_pool_layers_export(tmp_path):
    graph = conv_graph()
    report = hx.export(graph, tmp_path / "conv.onnx")
    assert {"Conv", "AveragePool"} <= set(report["ops"])
    x = inputs(graph, 3)
    assert_far_from_threshold(graph, x)
    out = session(tmp_path / "conv.unrolled.onnx").run(None, {"x": x})[0]
    with torch.no_grad():
        ref = to_model(graph).run(torch.from_numpy(x), steps=T).out.numpy()
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


def test_export_writes_single_checked_files_within_the_profile(tmp_path):
    graph = cuba_recurrent_graph()
    report = hx.export(graph, tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.unrolled.onnx"]  # no .onnx.data
    allowed = set(profiles.load("onnx_edge").limit("ops"))
    for path in report["files"]:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        assert set(hx.graph_ops(model)) <= allowed
        assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert set(report["ops"]) <= allowed and {"Gemm", "Greater", "Cast"} <= set(report["ops"])
    assert report["model_bytes"] == sum((tmp_path / n).stat().st_size for n in ("m.onnx", "m.unrolled.onnx"))


def test_profile_limits_are_enforced(tmp_path):
    graph = lif_graph()
    small = tmp_path / "tiny.toml"
    small.write_text('name = "tiny"\ntarget = "onnx"\n[limits]\nopset = 17\nmodel_bytes = 1000\n')
    with pytest.raises(ValueError, match="model_bytes"):
        hx.export(graph, tmp_path / "m.onnx", small)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]  # nothing written that broke the profile
    no_gemm = tmp_path / "nogemm.toml"
    no_gemm.write_text('name = "nogemm"\ntarget = "onnx"\n[limits]\nopset = 17\n'
                       'ops = ["MatMul", "Add", "Sub", "Mul", "Greater", "Cast", "Constant", "Identity"]\n')
    with pytest.raises(ValueError, match="ops Gemm"):
        hx.export(graph, tmp_path / "m.onnx", no_gemm)
    with pytest.raises(ValueError, match="target"):
        hx.export(graph, tmp_path / "m.onnx", "cortex_m4")
    with pytest.raises(ValueError, match="opset"):
        hx.export_step(graph, tmp_path / "m.onnx", opset=18)
    with pytest.raises(ValueError, match=r"\.onnx"):
        hx.export(graph, tmp_path / "m.bin")
