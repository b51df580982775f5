"""NALSM1000 throughput: feature generation (250 ms samples per second) and the whole
substitute protocol (initialisation on 8000 images, features of 10,000, readout).

    python benchmarks/nalsm.py                 # full protocol
    python benchmarks/nalsm.py --samples 2000  # throughput only, on 2000 images

The last line of the output is one JSON object with ``samples_per_s`` and ``protocol_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from neurosim.datasets.mnist import load_idx_pair, locate, substitute_split
from neurosim.models.lsm.encoding import nalsm_probabilities
from neurosim.models.lsm.kernel import BERNOULLI_CURRENT
from neurosim.models.lsm.model import LiquidStateMachine
from neurosim.models.lsm.params import LiquidParams, NeuronParams, PlasticityParams
from neurosim.models.lsm.readout import normalise, train_logistic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist", help="folder of the IDX files (default: $NEUROSIM_DATA/mnist "
                                                          "or the user cache; neurosim data fetch mnist)")
    parser.add_argument("--samples", type=int, default=0, help="only time features on this many images (0: full protocol)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    images, labels = load_idx_pair(locate(args.data))
    split = substitute_split(images, labels)
    lsm = LiquidStateMachine.build(LiquidParams(), NeuronParams(), PlasticityParams("nalsm"), args.seed)
    warm = nalsm_probabilities(split.train[0][:2])
    lsm.features(warm, BERNOULLI_CURRENT, np.arange(2), 250)  # compile / load the kernels outside the timings
    lsm.initialise(warm, BERNOULLI_CURRENT, 20)
    lsm = LiquidStateMachine.build(LiquidParams(), NeuronParams(), PlasticityParams("nalsm"), args.seed)
    start = time.perf_counter()
    result = {"threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))}
    if args.samples:
        drive = nalsm_probabilities(split.train[0][: args.samples])
        t = time.perf_counter()
        lsm.features(drive, BERNOULLI_CURRENT, np.arange(args.samples), 250)
        result.update(samples=args.samples, feature_s=time.perf_counter() - t)
        result["samples_per_s"] = args.samples / result["feature_s"]
        result["protocol_s"] = None
    else:
        t = time.perf_counter()
        lsm.initialise(nalsm_probabilities(split.train[0]), BERNOULLI_CURRENT, 20)
        result["init_s"] = time.perf_counter() - t
        feats, n, t = [], 0, time.perf_counter()
        for x, _ in (split.train, split.val, split.test):
            counts, _ = lsm.features(nalsm_probabilities(x), BERNOULLI_CURRENT, np.arange(x.shape[0]) + n, 250)
            feats.append(normalise(counts))
            n += x.shape[0]
        result["feature_s"] = time.perf_counter() - t
        result["samples_per_s"] = n / result["feature_s"]
        t = time.perf_counter()
        readout = train_logistic(*[(f, p[1]) for f, p in zip(feats, (split.train, split.val, split.test))])
        result["readout_s"] = time.perf_counter() - t
        result["test_accuracy"] = readout.test_accuracy
        result["protocol_s"] = time.perf_counter() - start
    for key, value in result.items():
        print(f"{key:>14}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
