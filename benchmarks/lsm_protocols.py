"""LSM variants on reduced MNIST-substitute protocols: the measurements behind docs/lsm.md.

    python benchmarks/lsm_protocols.py --variant stdp --stride 8                 # LSM + STDP, traces carried
    python benchmarks/lsm_protocols.py --variant stdp --reset-traces --per-part-peak   # the code before the fix
    python benchmarks/lsm_protocols.py --variant nalsm --stride 8
    python benchmarks/lsm_protocols.py --variant static --w 0.8 --init 0 --stride 8

Initialisation with plasticity on ``--init`` images drawn as repeated permutations of the 8000
substitute training images (20 ms each), then features of ``--n`` train / validation / test
images (250 ms each; training images every ``--stride``-th of the 8000, so that both writer
groups of the MNIST test set are in it), then the logistic and NALSM (Adadelta) readouts. The
last line is one JSON object: branching factor, mean rate, fraction of neurons above 0.3 spikes
per step, accuracies (validation, test), times.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from neurosim.datasets.mnist import load_idx_pair, locate, substitute_split
from neurosim.models.lsm.branching import branching_factor
from neurosim.models.lsm.encoding import nalsm_peak, nalsm_probabilities
from neurosim.models.lsm.kernel import BERNOULLI_CURRENT
from neurosim.models.lsm.model import LiquidStateMachine
from neurosim.models.lsm.params import LiquidParams, NeuronParams, PlasticityParams
from neurosim.models.lsm.readout import normalise, train_adadelta, train_logistic


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="mnist", help="IDX folder (default: $NEUROSIM_DATA/mnist or the user cache)")
    p.add_argument("--variant", default="stdp", choices=["static", "stdp", "nalsm"])
    p.add_argument("--init", type=int, default=8000, help="initialisation presentations")
    p.add_argument("--n", type=int, nargs=3, default=[1000, 300, 300], metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--stride", type=int, default=1, help="training images: every stride-th of the 8000")
    p.add_argument("--w", type=float, default=3.0, help="initial weight magnitude")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reset-traces", action="store_true", help="restart the STDP traces at every image")
    p.add_argument("--per-part-peak", action="store_true", help="normalise every part by its own peak")
    return p.parse_args()


def main() -> None:
    a = arguments()
    x, y = load_idx_pair(locate(a.data))
    split = substitute_split(x.reshape(x.shape[0], -1), y)
    strides = (a.stride, 1, 1)
    parts = [(q[0][::s][:n], q[1][::s][:n]) for q, n, s in zip((split.train, split.val, split.test), a.n, strides)]
    peak = None if a.per_part_peak else nalsm_peak(split.train[0])
    lsm = LiquidStateMachine.build(LiquidParams(w_init=a.w), NeuronParams(),
                                   PlasticityParams(a.variant, carry_traces=not a.reset_traces), a.seed)
    start = time.perf_counter()
    if lsm.plastic and a.init:
        rng = np.random.default_rng(a.seed)
        train = split.train[0]
        order = np.concatenate([rng.permutation(train.shape[0]) for _ in range(a.init // train.shape[0] + 1)])
        lsm.initialise(nalsm_probabilities(train, peak)[order[: a.init]], BERNOULLI_CURRENT, 20)
    t_init, start = time.perf_counter() - start, time.perf_counter()
    counts, offset, bf = [], 0, float("nan")
    for k, (images, _) in enumerate(parts):
        c, rasters = lsm.features(nalsm_probabilities(images, peak), BERNOULLI_CURRENT,
                                  np.arange(images.shape[0]) + offset, 250, 1, np.arange(10) if k == 0 else None)
        if k == 0:
            bf = branching_factor(rasters, lsm.liquid.adjacency())
        counts.append(c[:, 0])
        offset += images.shape[0]
    t_feat = time.perf_counter() - start
    data = [(normalise(c), q[1]) for c, q in zip(counts, parts)]
    logistic, adadelta = train_logistic(*data), train_adadelta(*data, epochs=300)
    print(json.dumps({
        "variant": a.variant, "carry_traces": not a.reset_traces, "common_peak": not a.per_part_peak,
        "stride": a.stride, "init": a.init, "n": a.n, "branching_factor": round(bf, 3),
        "rate_hz": round(float(counts[0].mean() / 250 * 1000), 1),
        "saturated_fraction": round(float(np.mean(counts[0].mean(0) > 0.3 * 250)), 3),
        "logistic_val_test": [round(logistic.val_accuracy, 4), round(logistic.test_accuracy, 4)],
        "adadelta_val_test": [round(adadelta.val_accuracy, 4), round(adadelta.test_accuracy, 4)],
        "init_s": round(t_init, 1), "features_s": round(t_feat, 1)}))


if __name__ == "__main__":
    main()
