"""Liquid state machines: faithfulness to NALSM's step, structure, features, readout, protocol."""

from pathlib import Path

import numpy as np
import pytest

from nalsm_reference import simulate
from neurosim.datasets.mnist import load_idx_pair
from neurosim.models.lsm import kernel
from neurosim.models.lsm.encoding import nalsm_probabilities
from neurosim.models.lsm.model import LiquidStateMachine
from neurosim.models.lsm.params import LiquidParams, NeuronParams, PlasticityParams

DATA = Path(__file__).resolve().parent / "data"  # the shipped MNIST fixture (data/mnist/README.md)
MNIST = str(DATA / "mnist")


@pytest.fixture(scope="module")
def images():
    x, y = load_idx_pair(MNIST)
    return x[:40], y[:40]


def small(variant="nalsm", **plasticity):
    liquid = LiquidParams(shape=(5, 5, 4), n_inputs=784, input_density=0.15)
    return LiquidStateMachine.build(liquid, NeuronParams(), PlasticityParams(variant, **plasticity), seed=3)


@pytest.mark.parametrize("variant, kw", [("nalsm", {}), ("stdp", {}), ("static", {}), ("nalsm", {"astro_fraction": 0.5}),
                                         ("nalsm", {"w_astro": 0.2})])
@pytest.mark.parametrize("decay", [1.0, 0.99])
def test_kernel_matches_the_numpy_transcription(images, variant, kw, decay):
    lsm = small(variant, **kw)
    L = lsm.liquid
    probs = nalsm_probabilities(images[0])
    mask = L.dense(np.ones(L.n_synapses)) > 0
    for sample in range(3):
        key = np.uint64(1000 + sample)
        W = lsm.weights.copy()
        counts = np.zeros((1, L.n_liq), np.int64)
        raster = np.zeros((120, L.n_liq), np.uint8)
        kernel.run_sample(120, kernel.BERNOULLI_CURRENT, probs[sample], key, W, *lsm._args(lsm.plastic, decay),
                          counts, raster)
        ref_raster, ref_W, _ = simulate(L.dense(lsm.weights), mask, L.kind, probs[sample, 0], key, 120, lsm.neuron,
                                     lsm.plasticity, lsm.astro_mask, decay)
        assert raster.sum() > 50  # an active liquid
        assert np.array_equal(raster, ref_raster)
        assert np.array_equal(L.dense(W), ref_W)
        assert np.array_equal(counts[0], ref_raster.sum(axis=0))


def test_initialisation_carries_the_traces_as_the_authors_code(images):
    """Phase 1 on three images equals the NumPy transcription chained image by image, each image
    starting from the weights and (``carry_traces``) the STDP traces the previous one left, or
    from zero traces. Exact equality, as for the single sample; the two choices must give
    different weights (the traces at an image onset matter)."""
    from neurosim.models.lsm.model import INIT_KEY

    probs = nalsm_probabilities(images[0][:3])
    learned = []
    for carry in (True, False):
        lsm = small("stdp", carry_traces=carry)
        L = lsm.liquid
        mask = L.dense(np.ones(L.n_synapses)) > 0
        W, x = L.dense(lsm.weights), np.zeros(L.n_total)
        seed = lsm._seed(INIT_KEY)
        for k in range(3):
            key = np.uint64(kernel.splitmix64_jit(seed ^ np.uint64(k)))
            _, W, x = simulate(W, mask, L.kind, probs[k, 0], key, 20, lsm.neuron, lsm.plasticity, lsm.astro_mask,
                               1.0, x0=x if carry else None)
        lsm.initialise(probs, kernel.BERNOULLI_CURRENT, 20)
        assert np.array_equal(L.dense(lsm.weights), W) and np.array_equal(lsm.traces, x)
        assert np.abs(x).max() > 0.05
        learned.append(W)
    assert not np.array_equal(*learned)


def test_branching_factor_of_known_cascades():
    from neurosim.models.lsm.branching import branching_factor

    # a chain 0 -> 1 -> 2 -> 3 fired in sequence: each spike has one predecessor and one successor
    adj = np.zeros((4, 4), bool)
    adj[[0, 1, 2], [1, 2, 3]] = True
    raster = np.zeros((1, 80, 4), np.uint8)
    for k in range(4):
        raster[0, 40 + k, k] = 1
    # neurons 1, 2 have pre = 1 and post = 1; neuron 0 has pre 0 (counted as 1) and post 1;
    # neuron 3 has post 0
    assert branching_factor(raster, adj) == pytest.approx((1 + 1 + 1 + 0) / 4)
    # a fan-out 0 -> {1, 2}: one spike followed by two gives a factor of 2 for neuron 0
    adj = np.zeros((3, 3), bool)
    adj[0, [1, 2]] = True
    raster = np.zeros((1, 80, 3), np.uint8)
    raster[0, 40, 0] = 1
    raster[0, 42, [1, 2]] = 1
    assert branching_factor(raster, adj) == pytest.approx((2 + 0 + 0) / 3)
    # spikes in the ignored margins do not count
    raster[0, 40] = 0
    raster[0, 5, 0] = 1
    assert branching_factor(raster, adj) == pytest.approx(0.0)


def test_readout_normalisation_and_training():
    from neurosim.models.lsm.readout import normalise, train_adadelta, train_logistic

    counts = np.array([[1, 3, 0], [0, 0, 0], [2, 2, 4]])
    x = normalise(counts)
    assert np.allclose(x[0], [0.25, 0.75, 0] / np.float64(0.75)) and not x[1].any() and x.max() == 1.0
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20))
    y = rng.integers(0, 3, 600)
    feats = centres[y] + 0.3 * rng.normal(size=(600, 20))
    split = (feats[:400], y[:400]), (feats[400:500], y[400:500]), (feats[500:], y[500:])
    ada = train_adadelta(*split, n_classes=3, epochs=150, block=100)
    assert ada.test_accuracy > 0.95 and ada.val_curve[ada.best_epoch] == ada.val_accuracy
    assert train_logistic(*split).test_accuracy > 0.95


def test_liquid_structure_follows_the_construction_rules():
    from neurosim.models.lsm.kernel import EXCITATORY, INHIBITORY, INPUT

    lsm = LiquidStateMachine.build(LiquidParams(), NeuronParams(), PlasticityParams(), seed=5)
    L = lsm.liquid
    pre = L.pre()
    assert L.excitatory.sum() == 800 and L.n_liq == 1000
    from_input = pre < 784
    assert from_input.sum() == int(1000 * 784 * 0.15)
    assert len(set(zip(pre[from_input].tolist(), L.post[from_input].tolist()))) == from_input.sum()  # distinct pairs
    assert not np.any(pre[~from_input] - 784 == L.post[~from_input])  # no self-connections
    w = lsm.weights
    kinds = L.kind[pre]
    assert np.all(w[kinds == EXCITATORY] == 3.0) and np.all(w[kinds == INHIBITORY] == -3.0)
    assert set(np.unique(w[kinds == INPUT])) == {-3.0, 3.0}
    assert 0.4 < np.mean(w[kinds == INPUT] > 0) < 0.6
    # the distance law with lambda = 3 and C_EE = 0.2: short links are far more likely than long ones
    d = np.linalg.norm(L.positions[pre[kinds == EXCITATORY] - 784] - L.positions[L.post[kinds == EXCITATORY]], axis=1)
    assert d.max() < 12 and np.mean(d <= 3) > 0.5


def test_event_stream_equal_to_the_bernoulli_draws_gives_the_same_liquid(images):
    from neurosim.engine.rng import uniform

    lsm = small("nalsm")
    L = lsm.liquid
    probs = nalsm_probabilities(images[0][:1])[0]
    key, T = np.uint64(77), 80
    events = np.stack([(uniform(key, t, np.arange(L.n_in)) < probs[0]).astype(float) for t in range(T)])
    rasters = []
    for mode, drive in ((kernel.BERNOULLI_CURRENT, probs), (kernel.EVENT_CURRENT, events)):
        raster = np.zeros((T, L.n_liq), np.uint8)
        kernel.run_sample(T, mode, drive, key, lsm.weights.copy(), *lsm._args(True, 0.99),
                          np.zeros((1, L.n_liq), np.int64), raster)
        rasters.append(raster)
    assert rasters[0].sum() > 20 and np.array_equal(rasters[0], rasters[1])


def test_features_do_not_depend_on_the_batch(images):
    lsm = small()
    drive = nalsm_probabilities(images[0][:6])
    all_counts, _ = lsm.features(drive, kernel.BERNOULLI_CURRENT, np.arange(6), steps=60)
    one, _ = lsm.features(drive[3:4], kernel.BERNOULLI_CURRENT, np.array([3]), steps=60)
    assert np.array_equal(all_counts[3], one[0]) and all_counts.sum() > 0
    binned, rasters = lsm.features(drive, kernel.BERNOULLI_CURRENT, np.arange(6), steps=60, bins=3, record=[1])
    assert np.array_equal(binned.sum(axis=1), all_counts[:, 0]) and np.array_equal(rasters[0].sum(axis=0), binned[1].sum(axis=0))


TINY = {"schema_version": 1, "task": "lsm", "name": "tiny",
        "lsm": {"variant": "nalsm", "seed": 2, "data": MNIST, "samples": [120, 60, 60], "init_samples": 120,
                "shape": [5, 5, 4], "steps": 60, "branching_samples": 5}}


def test_lsm_task_end_to_end(tmp_path):
    import tomli_w
    from neurosim.cli import main
    from neurosim.io import load

    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(TINY))
    assert main(["run", str(path), "--out", str(tmp_path / "tiny.h5"), "--quiet"]) == 0
    res = load(tmp_path / "tiny.h5")
    assert 0.3 < res.metrics["test_accuracy"] <= 1 and res.metrics["val_accuracy"] > 0.3
    assert 0 < res.metrics["branching_factor"] < 10
    assert "substitute protocol" in res.provenance["protocol"]
    assert res.provenance["root_seed"] == 2


@pytest.mark.parametrize("change, message", [
    (("variant", "quantum"), r"lsm\.variant: 'quantum' is not one of"),
    (("samples", [9000, 10, 10]), r"lsm\.samples\.0: asks for 9000 train images"),
    (("data", "/nowhere"), r"lsm\.data: .*no such file"),
    (("weights", [5.0]), r"lsm\.weights\.0: must be <= 3"),
    (("init_samples", 500), r"lsm\.init_samples: 500 exceeds"),
    (("stepz", 10), r"lsm\.stepz: unknown key; did you mean 'steps'\?"),
    (("shape", [5, 5]), r"lsm\.shape: needs at least 3 entries"),
    (("carry_traces", 1), r"lsm\.carry_traces: "),
])
def test_malformed_lsm_tables(tmp_path, capsys, change, message):
    import re
    import tomli_w
    from neurosim.cli import main

    cfg = {**TINY, "lsm": {**TINY["lsm"], change[0]: change[1]}}
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(cfg))
    assert main(["validate", str(path)]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_smoke_scenario_runs_the_ci_protocol(tmp_path, monkeypatch):
    """`scenarios/nalsm_smoke.toml` end to end: a 1000-neuron NALSM on 600/200/200 images."""
    from neurosim.cli import main
    from neurosim.io import load

    monkeypatch.setenv("NEUROSIM_DATA", str(DATA))  # the scenario names the dataset "mnist"
    out = tmp_path / "smoke.h5"
    assert main(["run", "scenarios/nalsm_smoke.toml", "--out", str(out), "--quiet"]) == 0
    metrics = load(out).metrics
    assert metrics["val_accuracy"] > 0.8 and metrics["test_accuracy"] > 0.8
    assert 0.8 < metrics["branching_factor"] < 1.6


def test_nalsm_encoding_with_a_common_normaliser():
    """p = img / Σ img divided by the given peak (the training part's, shared by all parts), else by
    the set's own largest p. Exact: two divisions of small integers' ratios, compared to the same
    closed form."""
    from neurosim.models.lsm.encoding import nalsm_peak

    img = np.array([[[0, 2], [2, 4]], [[1, 1], [0, 0]]], dtype=np.uint8)
    own = nalsm_probabilities(img)
    assert nalsm_peak(img) == 0.5 and np.allclose(own[:, 0], [[0, 0.5, 0.5, 1.0], [1.0, 1.0, 0, 0]])
    shared = nalsm_probabilities(img[:1], peak=nalsm_peak(img))
    assert np.allclose(shared[0, 0], [0, 0.5, 0.5, 1.0])
    alone = nalsm_probabilities(img[:1])  # its own peak 0.5 as well here; a lower peak scales up
    assert np.allclose(nalsm_probabilities(img[:1], peak=0.25)[0, 0], 2 * alone[0, 0])
    with pytest.raises(ValueError, match="lsm.peak"):
        nalsm_probabilities(img, peak=0.0)
