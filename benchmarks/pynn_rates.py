"""Population rates of PyNN's benchmark networks through ``neurosim.pynn`` against the same
networks written in neurosim's own API, over independent network realisations, interleaved:
the table in docs/pynn.md.

    python benchmarks/pynn_rates.py --model cuba --realisations 24
    python benchmarks/pynn_rates.py --model coba --realisations 24
    python benchmarks/pynn_rates.py --model brunel --realisations 10

``cuba`` / ``coba``: PyNN's ``examples/VAbenchmarks.py`` (4000 neurons, p = 0.02, 1 s; COBA
with its 50 ms Poisson kick); every projection gets its own generator (PyNN 0.13 gives the
projections of one generator the same random numbers, see docs/pynn.md); natively
``models/cuba.py`` with PyNN's 0.2 ms delay, and COBA with the same parameters. ``brunel``:
PyNN's ``examples/brunel.py`` network (4000 + 1000 ``IF_curr_alpha``, 100 ms, every neuron
recorded). COBA runs whose activity dies out after the kick are reported and left out of the
means. The last line is a JSON object: mean ± standard error per population and side, and
the difference in standard errors.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from neurosim.connectivity import FixedProbability, OneToOne, Uniform
from neurosim.models import cuba
from neurosim.network import Network
from neurosim.neurons import AlphaLIF, CobaLIF

#: PyNN's brunel.py at its default downscaling: sizes, in-degree, J_eff (mV), tau_syn (ms), theta, g, eta
NE, NI, CE, J_EFF, TAU_SYN, THETA, G, ETA = 4000, 1000, 400, 5.0, 0.1, 20.0, 5.0, 2.0
JE_NA = (J_EFF / TAU_SYN) * 0.00041363506632638  # the script's PSP-to-current factor (nA)
P_RATE_HZ = 1000 * ETA * THETA / (J_EFF * CE * 20.0) * CE


def pynn_va(model: str, seed: int) -> tuple[float, float, float]:
    import neurosim.pynn as sim

    sim.setup(timestep=0.1, min_delay=0.2, max_delay=1.0)
    p = dict(tau_m=20.0, tau_syn_E=5.0, tau_syn_I=10.0, v_reset=-60.0, v_thresh=-50.0, cm=0.2, tau_refrac=5.0)
    if model == "coba":
        cell, w_e, w_i = sim.IF_cond_exp(v_rest=-60.0, e_rev_E=0.0, e_rev_I=-80.0, **p), 4e-3, 51e-3
    else:
        cell, w_e, w_i = sim.IF_curr_exp(v_rest=-49.0, **p), 0.0162, -0.09
    e, i = sim.Population(3200, cell), sim.Population(800, cell)
    for pop in (e, i):
        pop.initialize(v=sim.RandomDistribution("uniform", low=-60.0, high=-50.0, rng=sim.NumpyRNG(seed)))
        pop.record("spikes")
    for k, (pre, post, w, receptor) in enumerate([(e, e, w_e, "excitatory"), (e, i, w_e, "excitatory"),
                                                  (i, e, w_i, "inhibitory"), (i, i, w_i, "inhibitory")]):
        conn = sim.FixedProbabilityConnector(0.02, rng=sim.NumpyRNG(1000 * seed + k + 1))
        sim.Projection(pre, post, conn, sim.StaticSynapse(weight=w, delay=0.2), receptor_type=receptor)
    if model == "coba":
        kick = sim.Population(20, sim.SpikeSourcePoisson(rate=100.0, duration=50.0))
        for post in (e, i):
            sim.Projection(kick, post, sim.FixedProbabilityConnector(0.01, rng=sim.NumpyRNG(1000 * seed + 9)),
                           sim.StaticSynapse(weight=0.1), receptor_type="excitatory")
    sim.run(1000.0)
    rates = e.mean_spike_count(), i.mean_spike_count()
    sim.end()
    return rates[0], rates[1], 1.0


def native_va(model: str, seed: int) -> tuple[float, float, float]:
    if model == "cuba":
        net = cuba.build(cuba.Params(delay="0.2 ms"), seed=seed, record_spikes=False)
        e, i = net.groups[0], net.groups[1]
    else:
        net = Network(dt="0.1 ms", seed=seed)
        m = CobaLIF(tau_m="20 ms", c_m="200 pF", v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="5 ms",
                    e_exc="0 mV", e_inh="-80 mV", tau_syn_exc="5 ms", tau_syn_inh="10 ms")
        e = net.population("e", 3200, m, v_init=Uniform("-60 mV", "-50 mV"))
        i = net.population("i", 800, m, v_init=Uniform("-60 mV", "-50 mV"))
        kick = net.poisson_source("kick", 20, rate=100.0, start=0.0, stop=0.05)
        for pre, w, receptor in ((e, "4 nS", "exc"), (i, "51 nS", "inh")):
            for post in (e, i):
                net.connect(pre, post, FixedProbability(0.02, allow_autapses=True), weight=w, delay="0.2 ms",
                            receptor=receptor)
        for post in (e, i):
            net.connect(kick, post, FixedProbability(0.01), weight="0.1 uS", delay="0.1 ms", receptor="exc")
    return _run_native(net, e, i, 1.0)


def pynn_brunel(seed: int) -> tuple[float, float, float]:
    import neurosim.pynn as sim

    sim.setup(timestep=0.1, max_delay=1.5, seed=seed)
    rng = sim.NumpyRNG(1000 + seed, parallel_safe=True)
    cell = sim.IF_curr_alpha(tau_m=20.0, tau_syn_E=TAU_SYN, tau_syn_I=TAU_SYN, tau_refrac=2.0, v_rest=0.0,
                             v_reset=0.0, v_thresh=THETA, cm=0.001)
    e, i = sim.Population(NE, cell), sim.Population(NI, cell)
    for pop in (e, i):
        pop.initialize(v=sim.RandomDistribution("uniform", low=0.0, high=THETA, rng=rng))
        pop.record("spikes")
    for k, (pre, post, w, receptor) in enumerate([(e, e, JE_NA, "excitatory"), (e, i, JE_NA, "excitatory"),
                                                  (i, e, -G * JE_NA, "inhibitory"), (i, i, -G * JE_NA, "inhibitory")]):
        conn = sim.FixedProbabilityConnector(0.1, rng=sim.NumpyRNG(1000 * seed + k + 1))
        sim.Projection(pre, post, conn, sim.StaticSynapse(weight=w, delay=1.5), receptor_type=receptor)
    for post, size in ((e, NE), (i, NI)):
        drive = sim.Population(size, sim.SpikeSourcePoisson(rate=P_RATE_HZ))
        sim.Projection(drive, post, sim.OneToOneConnector(), sim.StaticSynapse(weight=JE_NA, delay=0.1),
                       receptor_type="excitatory")
    sim.run(100.0)
    rates = e.mean_spike_count(), i.mean_spike_count()
    sim.end()
    return rates[0], rates[1], 0.1


def native_brunel(seed: int) -> tuple[float, float, float]:
    net = Network(dt="0.1 ms", seed=seed)
    m = AlphaLIF(tau_m="20 ms", c_m="1 pF", v_rest="0 mV", v_reset="0 mV", v_th="20 mV", t_ref="2 ms",
                 tau_syn_exc="0.1 ms", tau_syn_inh="0.1 ms")
    e = net.population("e", NE, m, v_init=Uniform("0 mV", "20 mV"))
    i = net.population("i", NI, m, v_init=Uniform("0 mV", "20 mV"))
    for pre, w, receptor in ((e, JE_NA, "exc"), (i, -G * JE_NA, "inh")):
        for post in (e, i):
            net.connect(pre, post, FixedProbability(0.1, allow_autapses=True), weight=w * 1e-9, delay="1.5 ms",
                        receptor=receptor)
    for post, size in ((e, NE), (i, NI)):
        drive = net.poisson_source(f"drive_{post.name}", size, rate=P_RATE_HZ)
        net.connect(drive, post, OneToOne(), weight=JE_NA * 1e-9, delay="0.1 ms", receptor="exc")
    return _run_native(net, e, i, 0.1)


def _run_native(net: Network, e, i, duration_s: float) -> tuple[float, float, float]:
    se, si = net.spike_monitor(e), net.spike_monitor(i)
    net.run(duration_s)
    return se.t.size / e.size, si.t.size / i.size, duration_s


def summary(counts: list[tuple[float, float, float]]) -> dict[str, list[float]]:
    rates = np.array([(a / t, b / t) for a, b, t in counts])
    sem = rates.std(axis=0, ddof=1) / math.sqrt(len(rates)) if len(rates) > 1 else np.full(2, np.nan)
    return {"exc_hz": [float(rates[:, 0].mean()), float(sem[0])], "inh_hz": [float(rates[:, 1].mean()), float(sem[1])],
            "n": len(rates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["cuba", "coba", "brunel"], default="cuba")
    parser.add_argument("--realisations", type=int, default=10)
    args = parser.parse_args()
    sides = {"pynn": (lambda s: pynn_brunel(s)) if args.model == "brunel" else (lambda s: pynn_va(args.model, s)),
             "native": (lambda s: native_brunel(s)) if args.model == "brunel" else (lambda s: native_va(args.model, s))}
    results: dict[str, list] = {"pynn": [], "native": []}
    died = {"pynn": 0, "native": 0}
    for seed in range(1, args.realisations + 1):
        for side in (("pynn", "native") if seed % 2 else ("native", "pynn")):
            exc, inh, t = sides[side](seed)
            print(f"{side:6s} seed {seed}: exc {exc / t:.3f} Hz, inh {inh / t:.3f} Hz", flush=True)
            if args.model == "coba" and exc / t < 1.0:
                died[side] += 1
                continue
            results[side].append((exc, inh, t))
    out = {side: summary(r) for side, r in results.items()}
    out["difference_in_se"] = {pop: (out["pynn"][pop][0] - out["native"][pop][0])
                               / math.hypot(out["pynn"][pop][1], out["native"][pop][1]) for pop in ("exc_hz", "inh_hz")}
    out["died_out"] = died
    print(json.dumps({"model": args.model, **out}))


if __name__ == "__main__":
    main()
