"""neurosim.hardware.loihi: Lava's bit-accurate vectors, Dense timing, quantisation, netx files,
core mapping and the quantised digits accuracy."""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pytest

from neurosim.hardware import profiles
from neurosim.hardware.graph import Affine, Conv2d, Flatten, LayerGraph, Leaky, Spiking, float_outputs
from neurosim.hardware.loihi import (emulate, encode, export, lava_dense_weights, map_network, predict, quantize,
                                     read_netx, reference_run, run_lif, run_network, write_netx)
from neurosim.hardware.loihi.emulator import dense_accumulate
from neurosim.hardware.loihi.netx import netx_weight_bits
from neurosim.hardware.loihi.quantize import (LoihiLayer, LoihiNetwork, chain_matrix, current_decay,
                                              quantize_weights, voltage_decay)


# ------------------------------------------------------------------ Lava's TestLIFProcessModelsFixed

def test_lava_vector_no_decay():
    # bias 2 << 6 = 128 per step, vth 8 << 6 = 512: spikes on the 5th and 10th step
    trace = run_lif(np.zeros(10), du=0, dv=0, vth=8, bias_mant=2, bias_exp=6, size=10)
    expected = np.zeros((10, 10), bool)
    expected[4:10:5] = True
    assert np.array_equal(trace.spikes, expected)


def test_lava_vector_impulse_du():
    a_in = np.zeros(8, np.int64)
    a_in[0] = 128
    trace = run_lif(a_in, du=2047, dv=0, vth=256, bias_mant=0, bias_exp=1)
    assert trace.u[:, 0].tolist() == [1 << (13 - j) for j in range(8)]
    assert (trace.u[:, 0] >> 6).tolist() == [1 << (7 - j) for j in range(8)]


def test_lava_vector_impulse_dv():
    a_in = np.zeros(8, np.int64)
    a_in[0] = 128
    trace = run_lif(a_in, du=0, dv=2048, vth=256, bias_mant=0, bias_exp=1)
    assert trace.v[:, 0].tolist() == [8192, 12286, 14331, 15351, 15859, 16111, 16235, 16295]
    shifted = trace.v[:, 0] >> 6
    shifted[1:] += 1  # Lava's compensation of the ds_offset drift
    assert shifted.tolist() == [128, 192, 224, 240, 248, 252, 254, 255]


def test_lava_vector_scaling_of_bias():
    trace = run_lif(np.zeros(1), du=0, dv=0, vth=2 ** 17, bias_mant=2 ** 12 - 1, bias_exp=5)
    assert trace.v[0, 0] == (2 ** 12 - 1) * 2 ** 5


# ------------------------------------------------------------------ hand-built networks

def _layer(w, du=4095, dv=0, vth=131071, readout=True, rec=None, bias=0, exp=0, name="layer0", mode=None):
    n = w.shape[0]
    return LoihiLayer(name=name, shape=(n,), du=du, dv=dv, vth=vth, bias_mant=np.full(n, bias, np.int64),
                      bias_exp=np.full(n, 6, np.int64), scale=np.ones(n), readout=readout,
                      weight=np.asarray(w, np.int64), weight_exp=exp,
                      sign_mode=mode or ("mixed" if (w < 0).any() and (w > 0).any()
                                         else "inhibitory" if (w < 0).any() else "excitatory"),
                      weight_rec=rec, source_shape=(w.shape[1],))


def _spike_net(*layers, steps=10):
    return LoihiNetwork(tuple(layers), (layers[0].weight.shape[1],), steps, 1e-3, "spikes", None,
                        {"type": "rate"}, True, {})


def test_dense_buffers_one_step():
    net = _spike_net(_layer(np.array([[10, 0], [0, -20]])))
    spikes = np.zeros((4, 1, 2), np.uint8)
    spikes[0, 0, 0] = 1  # input 0 fires at step 0
    spikes[2, 0, 1] = 1  # input 1 fires at step 2
    v = run_network(net, spikes, 4).v[0][:, 0]
    # du = 4095: u holds only this step's input (<< 6); dv = 0: v integrates it
    assert v.tolist() == [[0, 0], [640, 0], [640, 0], [640, -1280]]


def test_recurrent_dense_also_one_step():
    # a neuron driven past threshold at step 1 spikes; its self-connection arrives one step later
    layer = _layer(np.array([[100]]), vth=99, readout=False, rec=np.array([[50]]))
    net = _spike_net(layer)
    spikes = np.zeros((4, 1, 1), np.uint8)
    spikes[0] = 1
    trace = run_network(net, spikes, 4, record_v="all")
    assert trace.spikes[0][:, 0, 0].tolist() == [False, True, False, False]
    assert trace.v[0][:, 0, 0].tolist() == [0, 0, 50 * 64, 50 * 64]


def test_dense_exponent_shifts_the_sum():
    spikes = np.array([[1, 1, 1], [1, 0, 0]], np.uint8)
    w_t = np.array([[3, -3], [3, -3], [1, -1]], np.int64)  # [n_in, N]
    out = np.zeros((2, 2), np.int64)
    dense_accumulate(spikes, w_t, np.int64(-2), out)
    # (3 + 3 + 1) >> 2 = 1, (-7) >> 2 = -2 (floor); one spike: 3 >> 2 = 0, -3 >> 2 = -1
    assert out.tolist() == [[1, -2], [0, -1]]
    out[:] = 0
    dense_accumulate(spikes, w_t, np.int64(3), out)
    assert out.tolist() == [[56, -56], [24, -24]]


def test_lava_weight_clip_and_truncation():
    w = np.array([[-300, -3, 3, 300]])
    assert lava_dense_weights(w, "mixed").tolist() == [[-256, -4, 2, 254]]
    assert lava_dense_weights(np.array([[0, 7, 300]]), "excitatory", 6).tolist() == [[0, 4, 252]]
    assert lava_dense_weights(np.array([[-7, -300]]), "inhibitory").tolist() == [[-7, -255]]


# 24-bit edges; the sequences were checked by hand against Lava 0.10 (fixed_pt) running the same
# network loaded from write_netx's .net: 60 inputs firing every step into +-254 weights.
WRAP_U = [0, 975360, 1950719, 2925840, 3900723, 4875368, 5849775, 6823945, 7797877, -8005646, -7032188]
CLIP_V = [0, 975360, 1950720, 2926080, 3901440, 4876800, 5852160, 6827520, 7802880, 0, 975360]


def test_u_wraps_and_v_clips_at_24_bits():
    w = np.stack([np.full(60, 254), np.full(60, -254)]).astype(np.int64)
    spikes = np.ones((11, 1, 60), np.uint8)
    wrap = run_network(_spike_net(_layer(w, du=0, dv=4095)), spikes, 11, record_v="all")
    assert wrap.v[0][:, 0, 0].tolist() == WRAP_U          # v follows u, which wraps past 2^23
    assert wrap.v[0][:, 0, 1].tolist() == [-x for x in WRAP_U]
    clip = run_network(_spike_net(_layer(w, du=4095, dv=0)), spikes, 11, record_v="all")
    assert clip.v[0][:, 0, 0].tolist() == CLIP_V          # clipped to 2^23 - 1 > vth << 6: spike, reset
    assert clip.spikes[0][:, 0, 0].tolist() == [v == 0 and i == 9 for i, v in enumerate(CLIP_V)]
    assert clip.v[0][9:, 0, 1].tolist() == [-(2 ** 23 - 1)] * 2


def test_lif_exact_wrap_edges():
    # Lava's wrap: u > 2^23 -> u - 2^24; u <= -2^23 -> u + 2^24 (2^23 itself stays)
    a = np.array([2 ** 17, 0], np.int64)
    assert run_lif(a, du=4095, dv=0, vth=1).u[0, 0] == 2 ** 23
    assert run_lif(a + [1, 0], du=4095, dv=0, vth=1).u[0, 0] == 2 ** 23 + 64 - 2 ** 24
    assert run_lif(-a, du=4095, dv=0, vth=1).u[0, 0] == 2 ** 23


# ------------------------------------------------------------------ quantisation

def test_weight_quantisation_grid():
    w = np.array([-260.0, -3.2, -0.9, 0.2, 1.1, 2.9, 253.5, 400.0])
    q = quantize_weights(w, "mixed")
    assert np.all(q % 2 == 0) and q.min() >= -254 and q.max() <= 254
    assert q.tolist() == [-254, -4, 0, 0, 2, 2, 254, 254]
    assert quantize_weights(np.array([0.4, 100.6, 300.0]), "excitatory").tolist() == [0, 101, 255]
    assert quantize_weights(np.array([-300.0, -2.6]), "inhibitory").tolist() == [-255, -3]
    assert quantize_weights(np.array([40.0, -40.0]), "mixed", weight_exp=2).tolist() == [10, -10]
    assert current_decay(0.5) == 2047 and current_decay(0.0) == 4095 and current_decay(1.0) == 0
    assert voltage_decay(0.5) == 2048 and voltage_decay(1.0) == 0


def _mlp(rng, reset="hard", recurrent=False, cuba=False, encoder=None, theta=1.0):
    return LayerGraph((
        Affine(rng.normal(0, 0.4, (24, 16)), rng.normal(0, 0.1, 24)),
        Spiking(24, beta=0.9, threshold=1.0, reset=reset),
        Affine(rng.normal(0, 0.5, (12, 24)), rng.normal(0, 0.1, 12)),
        Spiking(12, beta=np.linspace(0.85, 0.95, 12), threshold=theta, reset=reset,
                alpha=np.full(12, 0.6) if cuba else None,
                recurrent=rng.normal(0, 0.3, (12, 12)) if recurrent else None),
        Affine(rng.normal(0, 0.5, (5, 12))),
        Leaky(5, beta=0.9)), (16,), 1e-3, 12, encoder or {"type": "direct"})


def test_quantiser_scales_and_errors():
    rng = np.random.default_rng(0)
    graph = _mlp(rng, recurrent=True, cuba=True, theta=np.linspace(0.8, 1.2, 12))
    net = quantize(graph)
    assert [layer.kind for layer in net.layers] == ["input", "dense_rec", "dense"]
    hidden = net.layers[1]
    assert hidden.weight.dtype == np.int64 and np.all(hidden.weight % 2 == 0)
    assert 250 <= max(np.abs(hidden.weight).max(), np.abs(hidden.weight_rec).max()) <= 254  # ~fills 8 bits
    assert hidden.du == current_decay(0.6) and hidden.weight_exp == 0
    # per-neuron thresholds are exact: scale_i = vth / θ_i
    np.testing.assert_allclose(hidden.vth / hidden.scale, np.linspace(0.8, 1.2, 12))
    rep = net.errors["layers"][1]
    # rounding to even mantissas: at most one mantissa unit, 1 / scale_i in weight units
    w_top = max(np.abs(graph.layers[2].weight).max(), np.abs(graph.layers[3].recurrent).max())
    assert rep["weight"]["max_rel"] <= 1 / (hidden.scale.min() * np.abs(graph.layers[2].weight).max()) + 1e-9
    assert rep["weight_rec"]["max_rel"] <= 1 / (hidden.scale.min() * np.abs(graph.layers[3].recurrent).max()) + 1e-9
    assert 1 / (hidden.scale.min() * w_top) < 1.5 / 250  # θ spans 0.8..1.2
    assert rep["threshold_rel"] < 1e-12 and rep["alpha_error"] <= 0.5 / 4096 and rep["weight_bits"] == 8
    assert rep["beta_error"] <= 0.05 + 0.5 / 4096  # one dv per layer for β in 0.85..0.95
    readout = net.layers[-1]
    assert readout.readout and readout.vth == 2 ** 17 - 1 and readout.du == 4095
    assert net.delays == [0, 1, 2] and net.latency == 2
    json.dumps(net.errors)


def test_exponent_choice_without_netx():
    rng = np.random.default_rng(1)
    small = LayerGraph((Affine(rng.normal(0, 1.0, (4, 3))), Spiking(4, 0.9, 1.0),
                        Affine(rng.normal(0, 1e-4, (3, 4))), Spiking(3, 0.9, 1.0), Affine(np.ones((2, 3))),
                        Leaky(2, 0.9)), (3,), 1e-3, 5)
    net = quantize(small, netx=False)
    tiny = net.layers[1]
    # weights 1e-4 of θ: an exponent < 0 keeps 8-bit mantissas while vth stays within 17 bits
    assert tiny.weight_exp < 0 and np.abs(tiny.weight).max() >= 250 and tiny.vth <= 2 ** 17 - 1
    assert quantize(small).layers[1].weight_exp == 0  # netx: exponent 0 (integers in the file)
    with pytest.raises(ValueError, match="fractional"):
        write_netx(net, "/tmp/never_written.net")


def test_emulator_matches_float_reference_without_decay():
    # du = 4095 and dv = 0 make every operation exact: integer and float dynamics coincide
    rng = np.random.default_rng(2)
    w1 = rng.integers(-40, 40, (20, 30)) * 2
    net = _spike_net(_layer(w1, dv=0, vth=300, readout=False, bias=3, name="layer0"),
                     _layer(rng.integers(-100, 100, (6, 20)) * 2, dv=0, name="layer1"), steps=15)
    spikes = (rng.random((15, 4, 30)) < 0.3).astype(np.uint8)
    emu, ref = run_network(net, spikes, 15, record_v="all"), reference_run(net, spikes, 15)
    for k in range(2):
        assert np.array_equal(emu.spikes[k], ref.spikes[k])
        assert np.array_equal(emu.v[k], ref.v[k])
    assert emu.spikes[0].sum() > 20


def test_emulator_tracks_float_reference_with_decay():
    rng = np.random.default_rng(3)
    graph = LayerGraph((Affine(rng.normal(0, 0.5, (8, 10)), rng.normal(0, 0.1, 8)), Leaky(8, 0.93)),
                       (10,), 1e-3, 20)
    net = quantize(graph)
    x = rng.uniform(0, 1, (5, 10))
    mant, _ = net.host.bias_mant(x)
    emu, ref = run_network(net, mant, 20), reference_run(net, mant, 20)
    err = np.abs(emu.v[0] - ref.v[0])
    t = np.arange(1, 21)[:, None, None]
    assert np.all(err <= t * t)  # truncation: < 1 unit per decay, accumulated
    assert np.abs(ref.v[0]).max() > 1e5
    # and the dequantised readout follows the float model (LI: u' = βu + Wx + b)
    y = predict(net, x)
    cur = x @ graph.layers[0].weight.T + graph.layers[0].bias
    u, want = np.zeros_like(cur), []
    for _ in range(20):
        u = 0.93 * u + cur
        want.append(u)
    np.testing.assert_allclose(y, np.array(want), atol=0.02 * np.abs(want).max())


# ------------------------------------------------------------------ netx files

def test_netx_schema_and_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    graph = _mlp(rng, recurrent=True, cuba=True)
    net = quantize(graph)
    path = write_netx(net, tmp_path / "mlp.net")
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == ["layer", "simulation"]
        assert sorted(f["layer"].keys()) == ["0", "1", "2"]
        types = [f["layer"][str(i)]["type"] for i in range(3)]
        assert all(t.dtype == np.dtype("S10") and t.shape == (1,) for t in types)
        assert [t[0] for t in types] == [b"input", b"dense_rec", b"dense"]
        l0, l1, l2 = (f["layer"][str(i)] for i in range(3))
        assert l0["shape"].dtype == np.int64 and l0["shape"][()].tolist() == [24]
        assert "weight" not in l0 and sorted(l0["neuron"].keys()) == sorted(
            ["type", "iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike"])
        assert l1["weight"].dtype == np.float32 and l1["weight"].shape == (12, 24)
        assert l1["weight_rec"].shape == (12, 12) and l1["bias"].shape == (12,)
        assert np.array_equal(l1["weight"][()], np.rint(l1["weight"][()]))
        assert l1["neuron"]["type"][()] == b"CUBA"
        assert l1["neuron"]["iDecay"][()] == net.layers[1].du + 1
        assert l1["neuron"]["vDecay"][()] == net.layers[1].dv
        assert l1["neuron"]["vThMant"][()] == net.layers[1].vth
        assert l2["shape"][()].tolist() == [5] and l2["weight"].shape == (5, 12) and "bias" not in l2
        assert f["simulation"]["Ts"][()] == 1 and f["simulation"]["tSample"][()] == 12
        assert l1["weight"].compression is None
    back = read_netx(path)
    assert [layer.kind for layer in back.layers] == ["input", "dense_rec", "dense"]
    assert back.layers[-1].readout and back.input_mode == "bias"
    mant, _ = net.host.bias_mant(rng.uniform(0, 1, (3, 16)))
    a, b = run_network(net, mant, 14, "all"), run_network(back, mant, 14, "all")
    for k in range(3):
        assert np.array_equal(a.spikes[k], b.spikes[k]) and np.array_equal(a.v[k], b.v[k])
    assert sum(s.sum() for s in a.spikes) > 0


def test_netx_conv_flatten_and_spike_input(tmp_path):
    rng = np.random.default_rng(5)
    graph = LayerGraph((
        Conv2d(rng.normal(0, 0.5, (2, 1, 3, 3)), (1, 6, 6), rng.normal(0, 0.1, 2)),
        Spiking(32, 0.9, 1.0),
        Conv2d(rng.normal(0, 0.5, (3, 2, 3, 3)), (2, 4, 4), rng.normal(0, 0.1, 3)),
        Spiking(12, 0.9, 1.0),
        Flatten((3, 2, 2)),
        Affine(rng.normal(0, 0.5, (4, 12))),
        Leaky(4, 0.9)), (1, 6, 6), 1e-3, 8, {"type": "rate", "gain": 1.0})
    net = quantize(graph)
    assert [layer.kind for layer in net.layers] == ["conv", "conv", "dense"] and net.input_mode == "spikes"
    path = write_netx(net, tmp_path / "conv.net")
    with h5py.File(path, "r") as f:
        kinds = [f["layer"][str(i)]["type"][0] for i in range(len(f["layer"]))]
        assert kinds == [b"input", b"conv", b"conv", b"flatten", b"dense"]
        assert "neuron" not in f["layer"]["0"] and f["layer"]["0"]["shape"][()].tolist() == [1, 6, 6]
        conv = f["layer"]["2"]
        assert conv["weight"].shape == (3, 2, 3, 3, 1) and conv["shape"][()].tolist() == [3, 2, 2]
        assert conv["bias"].shape == (3,) and conv["kernelSize"][()].tolist() == [3, 3]
        assert f["layer"]["3"]["shape"][()].tolist() == [12]
    back = read_netx(path)
    assert [layer.kind for layer in back.layers] == ["conv", "conv", "dense"] and back.input_mode == "spikes"
    x = rng.uniform(0, 1, (3, 1, 6, 6))
    trace = emulate(net, x, record_v="all")
    enc = np.concatenate([encode(net, x).reshape(8, 3, -1), np.zeros((3, 3, 36))])
    again = run_network(back, enc, 11, "all")
    for k in range(3):
        assert np.array_equal(trace.spikes[k], again.spikes[k]) and np.array_equal(trace.v[k], again.v[k])
    assert trace.spikes[0].sum() > 0
    # the kernel mantissas expand to the float conv's map (per-channel scale)
    m, _ = chain_matrix([graph.layers[2]], (2, 4, 4))
    second = net.layers[1]
    np.testing.assert_allclose(second.effective_weight() / second.scale[:, None], m, atol=np.abs(m).max() / 254)


def test_netx_weight_optimisation_replay():
    mant, bits, exp = netx_weight_bits(np.array([[-128, 64, 126]]))
    assert exp == -1 and mant.tolist() == [[-256, 128, 252]]
    with pytest.raises(ValueError, match="all zero"):
        netx_weight_bits(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="-256..254"):
        netx_weight_bits(np.array([[-3, 300]]))


# ------------------------------------------------------------------ mapping

def test_mapper_on_both_profiles():
    rng = np.random.default_rng(6)
    net = quantize(_mlp(rng, recurrent=True))
    for name in ("loihi1", "loihi2"):
        rep = map_network(net, profiles.load(name))
        assert rep["cores"] == 3 and rep["chips"] == 1
        assert [p["cores"] for p in rep["layers"]] == [1, 1, 1]
        assert rep["layers"][1]["fan_in_per_core"] == 24 + 12
        assert rep["usage"]["weight_bits"] == 8
    big = LayerGraph((Affine(np.ones((3000, 4))), Spiking(3000, 0.9, 1.0), Affine(rng.normal(0, 0.1, (2, 3000))),
                      Leaky(2, 0.9)), (4,), 1e-3, 4)
    l1 = map_network(quantize(big), profiles.load("loihi1"))
    assert [p["cores"] for p in l1["layers"]] == [3, 1]  # 1024 neurons per core
    assert map_network(quantize(big), profiles.load("loihi2"))["cores"] == 2


def test_mapper_names_the_limit_exceeded():
    rng = np.random.default_rng(7)
    wide = LayerGraph((Affine(rng.normal(0, 1, (8, 3))), Spiking(8, 0.9, 1.0),
                       Affine(rng.normal(0, 0.1, (5000, 8))), Spiking(5000, 0.9, 1.0),
                       Affine(rng.normal(0, 0.1, (3, 5000))), Leaky(3, 0.9)), (3,), 1e-3, 4)
    with pytest.raises(ValueError, match="fan_in_per_core"):
        map_network(quantize(wide), profiles.load("loihi1"))  # 5000 inputs > 4096 axons per core
    assert map_network(quantize(wide), profiles.load("loihi2"))["cores"] == 3
    prof = profiles.Profile("tiny", "loihi", "", {"chips": 1, "cores_per_chip": 2, "neurons_per_core": 1024,
                                                  "synapses_per_core": 100, "fan_in_per_core": 4096})
    with pytest.raises(ValueError, match="synapses_per_core"):
        map_network(quantize(wide), prof)
    prof = profiles.Profile("tiny", "loihi", "", {"chips": 1, "cores_per_chip": 2, "neurons_per_core": 8,
                                                  "synapses_per_core": 10 ** 6, "fan_in_per_core": 10 ** 6})
    with pytest.raises(ValueError, match="cores_per_chip"):
        map_network(quantize(wide), prof)
    prof = profiles.Profile("narrow", "loihi", "", {**profiles.load("loihi2").limits, "weight_bits": 6})
    with pytest.raises(ValueError, match="weight_bits"):
        map_network(quantize(wide), prof)
    prof = profiles.Profile("empty", "loihi", "", {**profiles.load("loihi2").limits, "neurons_per_core": 0})
    with pytest.raises(ValueError, match="neurons_per_core = 0 leaves no room"):
        map_network(quantize(wide), prof)
    with pytest.raises(ValueError, match="profile: 'cortex_m4' is a c profile, not for target 'loihi'"):
        map_network(quantize(wide), "cortex_m4")


def test_a_convolution_straight_into_the_readout_quantises():
    rng = np.random.default_rng(3)
    graph = LayerGraph((Conv2d(rng.normal(0, 0.5, (2, 1, 3, 3)), (1, 5, 5), rng.normal(0, 0.1, 2)),
                        Leaky(18, 0.9)), (1, 5, 5), 1e-3, 6, {"type": "rate", "gain": 1.0})
    net = quantize(graph)
    assert net.layers[0].readout and net.errors["layers"][0]["readout_range"] == "bound"
    assert predict(net, rng.uniform(0, 1, (2, 1, 5, 5))).shape == (6, 2, 18)


def test_the_exported_net_and_host_part_run_like_the_quantised_network(tmp_path):
    from neurosim.hardware.loihi import load

    rng = np.random.default_rng(4)
    graph = LayerGraph((Affine(rng.normal(0, 0.4, (16, 6)), rng.normal(0, 0.1, 16)), Spiking(16, 0.9, 1.0),
                        Affine(rng.normal(0, 0.4, (3, 16))), Leaky(3, 0.95)), (6,), 1e-3, 8)
    export(graph, tmp_path / "m.net")
    x = rng.uniform(0, 1, (5, 6))
    exported, direct = load(tmp_path / "m.net"), quantize(graph)
    np.testing.assert_array_equal(emulate(exported, x).spikes[0], emulate(direct, x).spikes[0])
    np.testing.assert_array_equal(predict(exported, x).argmax(-1), predict(direct, x).argmax(-1))
    spikes_in = LayerGraph(graph.layers, (6,), 1e-3, 8, {"type": "rate", "gain": 1.0})
    export(spikes_in, tmp_path / "m.net")  # no host part now: the stale one goes
    assert not (tmp_path / "m.host.npz").exists()


# ------------------------------------------------------------------ digits, export, bad input

def test_digits_accuracy_within_one_point(tmp_path):
    import torch
    from torch import nn

    from neurosim.hardware.graph import from_model
    from neurosim.train.data import load_digits
    from neurosim.train.modules import LI, LIF, SNN

    torch.manual_seed(0)
    data = load_digits()
    xtr, ytr = (torch.tensor(a) for a in data.train)
    xte, yte = data.test
    model = SNN(nn.Flatten(), nn.Linear(64, 64), LIF(beta=0.9, threshold=1.0, reset="hard"), nn.Linear(64, 10),
                LI(beta=0.95))
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(8):
        perm = torch.randperm(len(ytr))
        for i in range(0, len(ytr), 64):
            idx = perm[i:i + 64]
            loss = nn.functional.cross_entropy(model(xtr[idx], steps=10).max(0).values, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        float_out = model(torch.tensor(xte), steps=10).numpy()
    acc_float = float((float_out.max(0).argmax(1) == yte).mean())
    graph = from_model(model, {"model": "snn", "input_shape": [1, 8, 8], "dt": 1e-3, "steps": 10,
                               "encoder": {"type": "direct"}})
    report = export(graph, tmp_path / "digits.net")
    assert report["cores"] == 2 and (tmp_path / "digits.net").is_file() and (tmp_path / "digits.host.npz").is_file()
    json.dumps(report)
    out = predict(quantize(graph), xte)
    assert out.shape == (10, len(yte), 10)
    acc_loihi = float((out.max(0).argmax(1) == yte).mean())
    assert acc_float > 0.9
    assert acc_loihi >= acc_float - 0.01, (acc_float, acc_loihi)


def test_bad_inputs_name_the_field(tmp_path):
    rng = np.random.default_rng(8)
    with pytest.raises(ValueError, match=r"layers\[1\].*soft"):
        quantize(_mlp(rng, reset="soft"))
    with pytest.raises(ValueError, match="graph"):
        quantize("not a graph")
    with pytest.raises(ValueError, match="input_range"):
        quantize(_mlp(rng), input_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="encoder"):
        quantize(_mlp(rng, encoder={"type": "delta", "threshold": 0.1}))
    with pytest.raises(ValueError, match="Leaky"):
        quantize(LayerGraph((Affine(np.ones((2, 2))), Leaky(2, 0.9), Affine(np.ones((2, 2))), Spiking(2, 0.9, 1.0)),
                            (2,), 1e-3, 3))
    net = quantize(_mlp(rng))
    with pytest.raises(ValueError, match="x"):
        predict(net, np.zeros((2, 15)))
    with pytest.raises(ValueError, match="path"):
        write_netx(net, tmp_path / "model.h5")
    with pytest.raises(ValueError, match="out"):
        export(_mlp(rng), tmp_path / "model.onnx")
    with pytest.raises(ValueError, match="profile"):
        export(_mlp(rng), tmp_path / "model.net", profiles.load("onnx_edge"))
    with pytest.raises(ValueError, match="du"):
        run_lif(np.zeros(3), du=5000, dv=0, vth=1)
    with pytest.raises(ValueError, match="inputs"):
        run_network(net, np.zeros((2, 3), np.int64), 4)
    with pytest.raises(ValueError, match="sign_mode"):
        quantize_weights(np.ones(2), "both")


def test_pooling_chain_becomes_dense_and_series_is_refused():
    from neurosim.hardware.graph import SumPool2d
    rng = np.random.default_rng(9)
    graph = LayerGraph((
        Conv2d(rng.normal(0, 0.5, (2, 1, 3, 3)), (1, 6, 6)), Spiking(32, 0.9, 1.0),
        SumPool2d(2, (2, 4, 4), 0.25), Flatten((2, 2, 2)), Affine(rng.normal(0, 0.5, (3, 8))),
        Leaky(3, 0.9)), (1, 6, 6), 1e-3, 6)
    net = quantize(graph)
    assert [layer.kind for layer in net.layers] == ["input", "dense"]
    assert net.layers[1].weight.shape == (3, 32)  # pool, flatten and affine composed
    m, _ = chain_matrix(list(graph.layers[2:5]), (2, 4, 4))
    np.testing.assert_allclose(net.layers[1].effective_weight() / net.layers[1].scale[:, None], m,
                               atol=np.abs(m).max() / 250)
    y = predict(net, rng.uniform(0, 1, (2, 1, 6, 6)))
    assert y.shape == (6, 2, 3) and np.all(np.isfinite(y))
    series = LayerGraph((Affine(np.ones((4, 6))), Spiking(4, 0.9, 1.0), Affine(np.ones((2, 4))), Leaky(2, 0.9)),
                        (6,), 1e-3, 100, {"type": "series"})
    with pytest.raises(ValueError, match=r"encoder.type: 'series' inputs do not map to Loihi"):
        quantize(series)


def test_calibration_sets_the_readout_range_from_the_float_model():
    rng = np.random.default_rng(6)
    graph = _mlp(rng, recurrent=False, cuba=False, theta=1.0)
    x = rng.uniform(0, 1, (32, *graph.input_shape))
    bound, calibrated = quantize(graph), quantize(graph, calibration=x)
    assert bound.errors["layers"][-1]["readout_range"] == "bound"
    assert calibrated.errors["layers"][-1]["readout_range"] == "calibration"
    # the 24-bit v leaves room: here the 8-bit weights, not the readout range, set the scale
    np.testing.assert_array_equal(calibrated.layers[-1].scale, bound.layers[-1].scale)
    reference = float_outputs(graph, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no saturated readout on the calibration samples
        y = predict(calibrated, x)
    assert np.array_equal(y.max(0).argmax(-1), reference.max(0).argmax(-1))
