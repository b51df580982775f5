"""Place recognition by modular ensembles: what each part buys, and one module against Brian2.

    python benchmarks/vpr.py brian2 --images 60 --rounds 3     # one module, neurosim vs Brian2, interleaved
    python benchmarks/vpr.py single --places 200                # one network vs the ensemble, same neurons
    python benchmarks/vpr.py scaling --places 100,250,500,1000  # wall time against the number of places

All on the offline substitute route (:func:`neurosim.datasets.traverses.substitute`), with the
scenario's defaults (modules of 100 excitatory neurons for 50 places, 20 epochs).

- ``brian2``: one module of ``--n-exc`` neurons trains on ``--images`` preprocessed places, in
  neurosim (:mod:`neurosim.models.diehl_cook`) and in Brian2 as a Brian2 user writes the
  network from the paper (runtime mode, the default code generation target;
  ``NeuronGroup``\\ s with the paper's equations, event-driven trace ``Synapses`` with the
  pre/post pathways of the rule, a ``PoissonGroup`` whose ``rates`` change per image, the
  weights normalised through ``S.w``, one ``run`` for each presentation and rest). Rounds
  alternate the two; ``images_per_s`` are medians, ``ratio`` = neurosim / Brian2.
- ``single``: recall@1 (with and without hyperactive-neuron removal) of the ensemble and of one
  Diehl & Cook network with as many neurons trained on every place.
- ``scaling``: training and inference wall time per route length; inference shows every image
  to every module, so its work grows with places x modules.

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from neurosim.datasets.traverses import substitute
from neurosim.models import diehl_cook as dc
from neurosim.models import vpr


def _route(places: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    route = substitute(places, seed)
    return vpr.preprocess(route.reference), vpr.preprocess(route.query)


def _evaluate(trained, params: dc.Params, cuts, reference: np.ndarray, query: np.ndarray, seed: int = 2) -> dict:
    ensemble = dc.ensemble(params, seed, trained)
    start = time.perf_counter()
    ref, qry = ensemble.responses(reference), ensemble.responses(query)
    infer_s = time.perf_counter() - start
    n = reference.shape[0]
    order = np.random.default_rng(0).permutation(n)
    cal, test = np.sort(order[:n // 5]), np.sort(order[n // 5:])
    assignments = vpr.assign(ref, cuts, params.n_exc)
    e = vpr.evaluate(ref, qry, assignments, cal, test)
    return {"recall_at_1": e.regularised.recall_at_1, "recall_at_1_unregularised": e.unregularised.recall_at_1,
            "threshold": e.threshold, "infer_s": infer_s}


def scaling(args) -> dict:
    out = []
    for places in args.places:
        reference, query = _route(places)
        params, cuts = dc.Params(n_exc=args.n_exc), vpr.regions(places, args.per_module)
        start = time.perf_counter()
        trained = vpr.train_modules(params, reference, cuts, args.epochs, seed=1)
        train_s = time.perf_counter() - start
        row = {"places": places, "modules": len(cuts), "train_s": train_s,
               **_evaluate(trained, params, cuts, reference, query)}
        print(row, flush=True)
        out.append(row)
    return {"scaling": out}


def single(args) -> dict:
    places = args.places[0]
    reference, query = _route(places)
    cuts = vpr.regions(places, args.per_module)
    params = dc.Params(n_exc=args.n_exc)
    ensemble = _evaluate(vpr.train_modules(params, reference, cuts, args.epochs, seed=1), params, cuts, reference,
                         query)
    whole = dc.Params(n_exc=args.n_exc * len(cuts))
    one = _evaluate(vpr.train_modules(whole, reference, [(0, places)], args.epochs, seed=1), whole,
                    [(0, places)], reference, query)
    return {"places": places, "neurons": args.n_exc * len(cuts), "ensemble": ensemble, "single_network": one}


def brian2_module(n_exc: int, images: np.ndarray, p: dc.Params, seed: int) -> float:
    """Train one module on ``images`` in Brian2 (the paper's network); returns wall seconds."""
    import brian2 as b2

    b2.start_scope()
    b2.seed(seed)
    b2.defaultclock.dt = p.dt * b2.second
    membrane = """
        dv/dt = ((v_rest - v) + ge*(0*mV - v) + gi*(e_inh - v)) / tau_m : volt (unless refractory)
        dge/dt = -ge/(1*ms) : 1
        dgi/dt = -gi/(2*ms) : 1
    """
    exc = b2.NeuronGroup(n_exc, membrane + "dtheta/dt = -theta/(1e7*ms) : volt",
                         threshold="v > -52*mV + theta", reset="v = -65*mV; theta += 0.05*mV",
                         refractory=5 * b2.ms, method="exponential_euler",
                         namespace={"v_rest": -65 * b2.mV, "e_inh": -100 * b2.mV, "tau_m": 100 * b2.ms})
    inh = b2.NeuronGroup(n_exc, membrane, threshold="v > -40*mV", reset="v = -45*mV", refractory=2 * b2.ms,
                         method="exponential_euler",
                         namespace={"v_rest": -60 * b2.mV, "e_inh": -85 * b2.mV, "tau_m": 10 * b2.ms})
    exc.v, inh.v = -65 * b2.mV, -60 * b2.mV
    inputs = b2.PoissonGroup(784, rates=0 * b2.Hz)
    learned = b2.Synapses(inputs, exc, model="""
        w : 1
        post2before : 1
        dpre/dt = -pre/(20*ms) : 1 (event-driven)
        dpost1/dt = -post1/(20*ms) : 1 (event-driven)
        dpost2/dt = -post2/(40*ms) : 1 (event-driven)
    """, on_pre="ge_post += w; pre = 1.; w = clip(w - 0.0001*post1, 0, 1)",
        on_post="post2before = post2; w = clip(w + 0.01*pre*post2before, 0, 1); post1 = 1.; post2 = 1.")
    learned.connect()
    learned.w = "0.3*rand()"
    to_inh = b2.Synapses(exc, inh, on_pre="ge_post += 10.4")
    to_inh.connect(j="i")
    lateral = b2.Synapses(inh, exc, on_pre="gi_post += 17.0")
    lateral.connect(condition="i != j")
    spikes = b2.SpikeMonitor(exc)
    net = b2.Network(exc, inh, inputs, learned, to_inh, lateral, spikes)
    start = time.perf_counter()
    for image in images:
        intensity = p.intensity
        while True:
            w = np.asarray(learned.w[:]).reshape(784, n_exc)
            learned.w[:] = (w * (p.weight_sum / w.sum(axis=0))).ravel()
            before = spikes.num_spikes
            inputs.rates = image * intensity / 8.0 * b2.Hz
            net.run(p.t_present * b2.second, namespace={})  # no look-up in this frame
            fired = spikes.num_spikes - before  # during the presentation, as neurosim counts
            inputs.rates = 0 * b2.Hz
            net.run(p.t_rest * b2.second, namespace={})
            if fired >= p.min_spikes or (intensity + 1) / 8 * 255 * p.dt > 1:
                break
            intensity += 1
    return time.perf_counter() - start


def neurosim_module(n_exc: int, images: np.ndarray, p: dc.Params, seed: int) -> float:
    circuit = dc.build(p, seed)
    circuit.net.warm_up()
    start = time.perf_counter()
    circuit.responses(images)
    return time.perf_counter() - start


def brian2(args) -> dict:
    images = _route(args.images)[0]
    p = dc.Params(n_exc=args.n_exc)
    brian2_module(args.n_exc, images[:2], p, 0)  # code generation and compilation, untimed
    rates: dict[str, list[float]] = {"neurosim": [], "brian2": []}
    for r in range(args.rounds):
        for name, fn in (("neurosim", neurosim_module), ("brian2", brian2_module)):
            rates[name].append(len(images) / fn(args.n_exc, images, p, r))
            print(name, r, f"{rates[name][-1]:.2f} images/s", flush=True)
    median = {k: statistics.median(v) for k, v in rates.items()}
    return {"n_exc": args.n_exc, "images": args.images, "images_per_s": median, "ratio": median["neurosim"] / median["brian2"],
            "all": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("brian2", "single", "scaling"))
    parser.add_argument("--places", default="200", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-exc", type=int, default=100)
    parser.add_argument("--per-module", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps({"brian2": brian2, "single": single, "scaling": scaling}[args.what](args)))


if __name__ == "__main__":
    main()
