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
