"""C export (neurosim.hardware.c): the gcc-compiled runtime is bit-identical to the NumPy
integer emulator (LIF, CubaLIF, soft/hard reset, recurrence, leaky readout, saturation, left
and right shifts); the integer model keeps the float model's digits accuracy; the flash/RAM
footprint is reported and checked against the profile; unsupported graphs are refused."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import tomli_w
import torch

from neurosim.cli import main
from neurosim.hardware import c as hc
from neurosim.hardware.c import integer
from neurosim.hardware.graph import (Affine, Conv2d, Flatten, LayerGraph, Leaky, Spiking, float_outputs, from_model,
                                     to_model)
from neurosim.train.data import load_digits
from neurosim.train.model_io import load_model


def lif_readout(seed=0, scale=0.2) -> LayerGraph:
    rng = np.random.default_rng(seed)
    return LayerGraph((Flatten((1, 4, 5)),
                       Affine(rng.normal(0, scale, (32, 20)), rng.normal(0, 0.1, 32)),
                       Spiking(32, rng.uniform(0.6, 0.97, 32), rng.uniform(0.7, 1.3, 32), "hard"),
                       Affine(rng.normal(0, scale, (7, 32)), rng.normal(0, 0.1, 7)),
                       Leaky(7, rng.uniform(0.8, 0.99, 7))), (1, 4, 5), 1e-3, 20)


def cuba_recurrent(seed=1, scale=0.5) -> LayerGraph:
    rng = np.random.default_rng(seed)
    return LayerGraph((Affine(rng.normal(0, scale, (24, 20)), rng.normal(0, 0.1, 24)),
                       Spiking(24, rng.uniform(0.6, 0.97, 24), 1.0, "soft", alpha=rng.uniform(0.3, 0.9, 24)),
                       Affine(rng.normal(0, scale, (16, 24))),
                       Spiking(16, 0.9, rng.uniform(0.7, 1.3, 16), "hard", recurrent=rng.normal(0, 0.6, (16, 16))),
                       Affine(rng.normal(0, scale, (5, 16)), rng.normal(0, 0.1, 5)),
                       Leaky(5, 0.95)), (20,), 1e-3, 20)


def soft_spiking_output(seed=2, scale=0.5) -> LayerGraph:
    """Ends in a spiking layer (the readout is spikes); soft reset, CubaLIF + recurrent."""
    rng = np.random.default_rng(seed)
    return LayerGraph((Affine(rng.normal(0, scale, (20, 20)), rng.normal(0, 0.1, 20)),
                       Spiking(20, 0.8, 1.0, "soft", recurrent=rng.normal(0, 0.4, (20, 20))),
                       Affine(rng.normal(0, scale, (6, 20))),
                       Spiking(6, 0.9, 0.8, "soft", alpha=0.7)), (20,), 1e-3, 20, {"type": "rate"})


def saturating(seed=3) -> LayerGraph:
    """Large weights: currents of tens of thresholds saturate int16 (both signs); left shifts."""
    return cuba_recurrent(seed, scale=3.0)


GRAPHS = {"lif_readout": lif_readout, "cuba_recurrent": cuba_recurrent, "soft_spiking_output": soft_spiking_output,
          "saturating": saturating}


def random_int_model(seed: int) -> hc.IntModel:
    """An integer model with arbitrary int8/int16 values (not from the quantiser)."""
    rng = np.random.default_rng(seed)
    sizes, layers = [12, 17, 9, 4], []
    kinds = ["cuba", "lif", "li"]
    for k, kind in enumerate(kinds):
        n_in, n_out = sizes[k], sizes[k + 1]
        layers.append(integer.IntLayer(
            kind=kind, weight=rng.integers(-127, 128, (n_out, n_in)).astype(np.int8),
            bias=rng.integers(-2 ** 18, 2 ** 18, n_out).astype(np.int32), shift=int(rng.integers(-4, 9)),
            beta=rng.integers(0, 4097, n_out).astype(np.int16),
            alpha=rng.integers(0, 4097, n_out).astype(np.int16) if kind == "cuba" else None,
            threshold=rng.integers(1, 32768, n_out).astype(np.int16) if kind != "li" else None,
            recurrent=rng.integers(-127, 128, (n_out, n_out)).astype(np.int8) if kind == "lif" else None,
            reset=["soft", "hard"][seed % 2] if kind == "cuba" else ["hard", "soft"][seed % 2]))
    return hc.IntModel(layers, (sizes[0],), 1.0, 50, False)


@pytest.mark.parametrize("name", list(GRAPHS))
def test_compiled_c_is_bit_identical_to_the_integer_emulator(name, tmp_path):
    graph = GRAPHS[name]()
    model = hc.quantize(graph)
    report = hc.export(graph, tmp_path / "c")
    assert report["footprint"]["flash_bytes"] > 0
    rng = np.random.default_rng(7)
    x_int = rng.integers(-128, 128, (300, 6, model.n_input)).astype(np.int8)   # 300 steps, 6 streams
    if not model.static_input:
        x_int = (rng.random((300, 6, model.n_input)) < 0.3).astype(np.int8)
    want, record = hc.run(model, x_int, record=True)
    got = hc.run_compiled(tmp_path / "c", x_int)
    assert got.dtype == np.int32 and got.shape == (300, 6, model.n_output)
    np.testing.assert_array_equal(got, want)
    spikes = np.concatenate([r["s"].ravel() for r, L in zip(record, model.layers) if L.spiking])
    assert 0.01 < spikes.mean() < 0.95  # the network is active
    if name == "saturating":
        u = np.concatenate([r["u"].ravel() for r in record] + [r["i"].ravel() for r in record])
        assert u.max() == 32767 and u.min() == -32768
        assert min(L.shift for L in model.layers) < 0
    if name == "lif_readout":
        assert max(L.shift for L in model.layers) > 0  # a rounding right shift


@pytest.mark.parametrize("seed", [0, 1])
def test_arbitrary_integer_models_run_bit_identically(seed, tmp_path):
    model = random_int_model(seed)
    hc.write(model, tmp_path / "c")
    x_int = np.random.default_rng(seed).integers(-128, 128, (200, 4, model.n_input)).astype(np.int8)
    want, record = hc.run(model, x_int, record=True)
    np.testing.assert_array_equal(hc.run_compiled(tmp_path / "c", x_int), want)
    u = np.concatenate([r["u"].ravel() for r in record])
    assert u.max() == 32767 and u.min() == -32768  # saturation both ways was exercised


def test_static_input_predict_and_reload(tmp_path):
    graph = lif_readout()
    model = hc.quantize(graph)
    hc.write(model, tmp_path / "c")
    x = np.random.default_rng(0).uniform(0, 1, (9, 1, 4, 5))
    x_int = hc.quantize_input(model, x)
    assert x_int.shape == (9, 20) and x_int.dtype == np.int8
    np.testing.assert_array_equal(hc.run_compiled(tmp_path / "c", x_int), hc.run(model, x_int))
    np.testing.assert_array_equal(hc.run_compiled(tmp_path / "c", x_int, steps=5), hc.run(model, x_int, steps=5))
    y = hc.predict(tmp_path / "c", x)
    assert y.shape == (graph.steps, 9, 7)
    np.testing.assert_array_equal(y, hc.emulate(model, x))
    np.testing.assert_array_equal(hc.predict(model, x), y)
    reloaded = hc.load(tmp_path / "c")
    np.testing.assert_array_equal(hc.run(reloaded, x_int), hc.run(model, x_int))


def test_integer_model_tracks_the_float_graph():
    """The scales mean what they say: at the first step the dequantised integer membrane differs
    from the float one by at most the weight/bias rounding (inputs on the 1/64 grid are exact)
    plus one state unit; over all steps the readouts stay strongly correlated."""
    graph = lif_readout()
    model = hc.quantize(graph)
    x = np.random.default_rng(4).integers(0, 65, (50, 1, 4, 5)) / 64.0
    with torch.no_grad():
        ref = to_model(graph).double().run(torch.from_numpy(x), steps=graph.steps)
    out, record = hc.run(model, hc.quantize_input(model, x), record=True)
    L, affine = model.layers[0], graph.layers[1]
    u_int = record[0]["u"][0] / L.state_scale
    u_float = ref.membranes[0].numpy()[0].reshape(50, -1)
    bound = (np.abs(L.weight * model.input_scale / L.acc_scale - affine.weight) @ x.reshape(50, -1).T).T \
        + np.abs(L.bias / L.acc_scale - affine.bias) + 1.0 / L.state_scale
    assert np.all(np.abs(u_int - u_float) <= bound)
    assert np.abs(u_int - u_float).max() < 0.02 * graph.layers[2].threshold.max()
    em = out / model.output_scale
    assert np.corrcoef(em.ravel(), ref.out.numpy().ravel())[0, 1] > 0.98


# ------------------------------------------------------------------------------ digits
@pytest.fixture(scope="module")
def digits_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    config = {"schema_version": 1, "name": "digits", "task": "train",
              "train": {"dataset": "digits", "steps": 8, "encoder": {"type": "direct"},
                        "neuron": {"model": "LIF", "tau_m": "10 ms", "reset": "hard"},
                        "layers": [{"type": "linear", "size": 128}, {"type": "lif"},
                                   {"type": "linear", "size": 10}, {"type": "li", "tau_m": "20 ms"}],
                        "epochs": 4, "batch_size": 32, "lr": 5e-3, "seed": 3, "threads": 1},
              "output": {"overwrite": "overwrite"}}
    (folder / "digits.toml").write_text(tomli_w.dumps(config))
    assert main(["run", str(folder / "digits.toml"), "--out", str(folder / "digits.h5"), "--quiet"]) == 0
    model, description = load_model(folder / "digits.model.pt")
    return from_model(model, description)


def test_digits_accuracy_float_vs_integer_emulator_vs_c(digits_graph, tmp_path, record_property):
    graph = digits_graph
    x, y = load_digits().test
    with torch.no_grad():
        ref = to_model(graph).run(torch.from_numpy(x), steps=graph.steps).out.numpy()
    report = hc.export(graph, tmp_path / "c")
    model = hc.load(tmp_path / "c")
    em = hc.emulate(model, x)
    cc = hc.predict(tmp_path / "c", x)
    np.testing.assert_array_equal(cc, em)  # C == integer emulator, bit for bit (dequantised)

    def accuracy(out):
        return float((out.max(axis=0).argmax(axis=-1) == y).mean())
    acc = {"float": accuracy(ref), "integer": accuracy(em), "c": accuracy(cc)}
    record_property("digits_accuracy", json.dumps(acc))
    record_property("digits_footprint", json.dumps(report["footprint"]))
    print("digits accuracy", acc, "flash", report["flash_bytes"], "ram", report["ram_bytes"])
    assert acc["float"] > 0.85
    assert abs(acc["c"] - acc["float"]) <= 0.02
    # the footprint: weights 64x128 + 128x10 int8, int32 biases, int16 decays/thresholds
    fp = report["footprint"]
    assert fp["const_data_bytes"] == (64 * 128 + 128 * 10) + 4 * (128 + 10) + 2 * (128 + 10) + 2 * 128 + 2 * 40
    assert fp["flash_bytes"] == fp["const_data_bytes"] + fp["code_bytes"] and 0 < fp["code_bytes"] < 8192
    assert fp["state_bytes"] == 2 * 138 + 2 + 2 + 4 * 128 + 128  # u, i (1 value + 2 bytes padding), cur, s
    assert report["profile"] == "cortex_m4" and report["flash_bytes"] < 524288


# ------------------------------------------------------------------------------ profiles and errors
def test_footprint_limits_name_the_exceeded_field(tmp_path):
    graph = lif_readout()
    tiny_flash = tmp_path / "tiny_flash.toml"
    tiny_flash.write_text('name = "tiny"\ntarget = "c"\n[limits]\nflash_bytes = 1000\nram_bytes = 100000\n')
    with pytest.raises(ValueError, match="flash_bytes"):
        hc.export(graph, tmp_path / "a", tiny_flash)
    assert not (tmp_path / "a").exists()
    good = hc.export(graph, tmp_path / "ok")
    before = (tmp_path / "ok" / "model.h").read_bytes()
    with pytest.raises(ValueError, match="flash_bytes"):
        hc.export(graph, tmp_path / "ok", tiny_flash)  # an earlier good export is left whole
    assert (tmp_path / "ok" / "model.h").read_bytes() == before and good["flash_bytes"] > 1000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    tiny_ram = tmp_path / "tiny_ram.toml"
    tiny_ram.write_text('name = "tiny"\ntarget = "c"\n[limits]\nflash_bytes = 100000\nram_bytes = 200\n')
    with pytest.raises(ValueError, match="ram_bytes"):
        hc.export(graph, tmp_path / "b", tiny_ram)
    four_bit = tmp_path / "four.toml"
    four_bit.write_text('name = "four"\ntarget = "c"\n[limits]\nweight_bits = 4\n')
    with pytest.raises(ValueError, match="weight_bits"):
        hc.export(graph, tmp_path / "c", four_bit)
    with pytest.raises(ValueError, match="target"):
        hc.export(graph, tmp_path / "d", "onnx_edge")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    # 700 x 800 int8 weights (560 kB) exceed the Cortex-M4's 512 KiB flash and fit the M7's 2 MiB
    rng = np.random.default_rng(0)
    big = LayerGraph((Affine(rng.normal(0, 0.1, (800, 700))), Spiking(800, 0.9, 1.0),
                      Affine(rng.normal(0, 0.1, (2, 800))), Leaky(2, 0.9)), (700,), 1e-3, 5)
    model = hc.quantize(big)
    with pytest.raises(ValueError, match="flash_bytes"):
        hc.export_model(model, tmp_path / "big")
    assert hc.footprint(model)["flash_bytes"] < 2 * 1024 * 1024


def test_unsupported_graphs_are_refused_naming_the_layer():
    rng = np.random.default_rng(0)
    conv = LayerGraph((Conv2d(rng.normal(size=(2, 1, 3, 3)), (1, 5, 5)), Spiking(18, 0.9, 1.0)), (1, 5, 5), 1e-3, 4)
    with pytest.raises(ValueError, match=r"layers\[0\] \(Conv2d\)"):
        hc.quantize(conv)
    no_affine = LayerGraph((Spiking(4, 0.9, 1.0), Affine(np.ones((2, 4))), Leaky(2, 0.9)), (4,), 1e-3, 4)
    with pytest.raises(ValueError, match=r"layers\[0\] \(Spiking\): .*Affine"):
        hc.quantize(no_affine)
    readout_inside = LayerGraph((Affine(np.ones((3, 4))), Leaky(3, 0.9), Affine(np.ones((2, 3))), Spiking(2, 0.9, 1.0)),
                                (4,), 1e-3, 4)
    with pytest.raises(ValueError, match=r"layers\[2\] \(Affine\): .*Leaky readout"):
        hc.quantize(readout_inside)
    dangling = LayerGraph((Affine(np.ones((3, 4))), Spiking(3, 0.9, 1.0), Affine(np.ones((2, 3)))), (4,), 1e-3, 4)
    with pytest.raises(ValueError, match=r"layers\[2\] \(Affine\)"):
        hc.quantize(dangling)
    with pytest.raises(ValueError, match=r"layers\[0\] \(Affine\)\.weight"):  # refused by the graph itself
        LayerGraph((Affine(np.ones((3, 5))), Leaky(3, 0.9)), (4,), 1e-3, 4)
    model = hc.quantize(lif_readout())
    with pytest.raises(ValueError, match="x_int"):
        hc.run(model, np.zeros((3, 21), np.int8))
    with pytest.raises(ValueError, match="x: needs shape"):
        hc.emulate(model, np.zeros((3, 20)))


def test_runtime_sources_are_integer_only_and_allocation_free():
    runtime = pathlib.Path(integer.__file__).parent / "runtime"
    for name in ("neurosim_snn.c", "neurosim_snn.h"):
        text = (runtime / name).read_text()
        for word in ("float", "double", "malloc", "stdlib.h", "math.h"):
            assert word not in text.replace("floating point", ""), (name, word)


def test_calibration_tightens_the_readout_range_and_keeps_the_outputs():
    graph = lif_readout()
    x = np.random.default_rng(9).uniform(0, 1, (64, 1, 4, 5))
    bound, calibrated = integer.quantize(graph), integer.quantize(graph, calibration=x)
    assert calibrated.output_scale > 2 * bound.output_scale  # the measured peak is far below the worst case
    reference = float_outputs(graph, x)
    for model in (bound, calibrated):  # hidden spikes may flip, so compare typical errors and decisions
        y = integer.emulate(model, x)
        assert np.median(np.abs(y - reference)) < 0.01 * np.abs(reference).max()
        assert np.array_equal(y.max(0).argmax(-1), reference.max(0).argmax(-1))


def test_inputs_beyond_the_quantised_range_warn():
    model = integer.quantize(lif_readout())  # input_max 1: scale 64
    with pytest.warns(RuntimeWarning, match="2 input values exceed the int8 range"):
        q = integer.quantize_input(model, np.concatenate([np.full((1, 1, 4, 5), 0.5), np.full((1, 1, 4, 5), 0.0)])
                                   + np.pad(np.array([[[[3.0, -3.0]]]]), ((0, 1), (0, 0), (0, 3), (0, 3))))
    assert q.max() == 127 and q.min() == -128 and q[1].max() == 0
