"""Liquid state machines: faithfulness to NALSM's step, structure, features, readout, protocol."""

import numpy as np
import pytest

from nalsm_reference import simulate
from neurosim.datasets.mnist import load_idx_pair
from neurosim.models.lsm import kernel
from neurosim.models.lsm.encoding import nalsm_probabilities
from neurosim.models.lsm.model import LiquidStateMachine
from neurosim.models.lsm.params import LiquidParams, NeuronParams, PlasticityParams

MNIST = "../shared/datasets/mnist"


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
        ref_raster, ref_W = simulate(L.dense(lsm.weights), mask, L.kind, probs[sample, 0], key, 120, lsm.neuron,
                                     lsm.plasticity, lsm.astro_mask, decay)
        assert raster.sum() > 50  # an active liquid
        assert np.array_equal(raster, ref_raster)
        assert np.array_equal(L.dense(W), ref_W)
        assert np.array_equal(counts[0], ref_raster.sum(axis=0))


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
