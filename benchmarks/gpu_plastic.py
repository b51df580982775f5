"""Plastic network on the GPU against numba: rates and weight statistics.

    python benchmarks/gpu_plastic.py --duration 2          # needs a CUDA GPU

A recurrent network of 800 excitatory CubaLIF and 200 inhibitory LIF neurons driven by 200
Poisson sources, with STDP on input -> E (additive, all-to-all), E -> E (multiplicative,
nearest, triplet terms), E -> I (additive) and an anti-Hebbian I -> E rule, NALSM's astrocyte
modulating E -> E depression and a second modulator gating input potentiation: every plastic
kernel of the cuda backend runs. It is run with numba (seeds 0 and 1) and cuda (seed 0): float
atomics reorder additions on a GPU, so cuda's seed-0 run is another realisation of the same
network and is compared with numba's by statistics, with numba's seed-to-seed spread beside it.
The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def build(seed: int):
    from neurosim import LIF, STDP, CubaLIF, FixedProbability, Network, Uniform

    net = Network(dt="0.1 ms", seed=seed)
    exc = net.population("exc", 800, CubaLIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="2 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    inh = net.population("inh", 200, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="1 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 200, rate="20 Hz")
    p_in = net.connect(noise, exc, FixedProbability(0.1), weight=Uniform("100 pA", "300 pA"),
                       delay=Uniform("0 ms", "1 ms"),
                       plasticity=STDP(a_plus="4 pA", a_minus="4.4 pA", w_min="0 pA", w_max="400 pA"))
    p_ee = net.connect(exc, exc, FixedProbability(0.05), weight=Uniform("20 pA", "80 pA"),
                       delay=Uniform("0.5 ms", "2 ms"),
                       plasticity=STDP(a_plus=0.02, a_minus=0.025, a3_plus=0.01, w_min="1 pA", w_max="150 pA",
                                       traces="nearest"))
    net.connect(exc, inh, FixedProbability(0.1), weight="0.6 mV", delay="0.5 ms",
                plasticity=STDP(a_plus="0.01 mV", a_minus="0.012 mV", w_max="1.5 mV"))
    net.connect(inh, exc, FixedProbability(0.1), weight=Uniform("-300 pA", "-100 pA"), delay="0.8 ms",
                plasticity=STDP(a_plus="-2 pA", a_minus="-1.5 pA", w_min="-400 pA", w_max="0 pA"))
    net.connect(inh, inh, FixedProbability(0.1), weight="-0.5 mV", delay="0.5 ms")
    net.modulator("astro", tau="20 ms", weight=0.002, bias=0.5, targets=[p_ee], drive=[(exc, 1.0), (noise, -1.0)],
                  acts_on="depression", initial=1.0)
    net.modulator("gain", tau="50 ms", weight=0.001, bias=0.9, targets=[p_in], drive=[exc], acts_on="potentiation")
    monitors = [net.spike_monitor(exc), net.spike_monitor(inh)]
    return net, monitors


def run(backend: str, seed: int, duration: float) -> dict:
    net, (m_exc, m_inh) = build(seed)
    initial = [p.synapses.weight.copy() for p in net.projections]
    t0 = time.perf_counter()
    net.run(f"{duration} s", backend=backend)
    wall = time.perf_counter() - t0
    out = {"backend": backend, "seed": seed, "wall_s": wall,
           "rate_exc_hz": m_exc.t.size / 800 / duration, "rate_inh_hz": m_inh.t.size / 200 / duration,
           "modulators": [float(m.value) for m in net.modulators]}
    for k, (p, w0) in enumerate(zip(net.projections, initial)):
        w = p.synapses.weight
        out[f"proj{k}"] = {"mean": float(np.mean(w)), "std": float(np.std(w)), "up": float(np.mean(w > w0)),
                           "down": float(np.mean(w < w0))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=2.0)
    args = ap.parse_args()
    runs = [run("numba", 0, args.duration), run("numba", 1, args.duration), run("cuda", 0, args.duration)]
    for r in runs:
        print(json.dumps(r))
    print(json.dumps({"plastic_runs": runs}))


if __name__ == "__main__":
    main()
