"""The cuda backend: its kernels under numba's CUDA simulator match the numba backend bit for
bit (float64), block by block, with and without plasticity (STDP, modulators), and the NumPy
reference for every neuron model of ``neurosim.neurons.MODELS`` (the neuron kernel is generated
from the models' descriptions); these run in a child process with ``NUMBA_ENABLE_CUDASIM=1``, GPU or not. Registry, ``auto``'s rule (with a
stubbed GPU) and ``neurosim info``. On a real GPU only (skipped, with the reason, elsewhere):
statistics against numba."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neurosim import LIF, STDP, FixedProbability, Network
from neurosim.engine import registry
from neurosim.engine.cuda_backend import gpu_probe
from neurosim.engine.registry import CUDA_MIN_NEURONS, backend_status, resolve_backend_name

GPU, GPU_WHY = gpu_probe()
needs_gpu = pytest.mark.skipif(not GPU, reason=f"needs a real CUDA GPU: {GPU_WHY}")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a child process: numba reads NUMBA_ENABLE_CUDASIM when it is imported.
PRELUDE = r"""
import json, sys
sys.path.insert(0, "tests")
import numpy as np
from neurosim import LIF, CubaLIF, FixedProbability, Network, STDP, Uniform
from neurosim.engine.registry import backend_status, get_backend, resolve_backend_name
from neurosim.engine import cuda_kernels
from neurosim.monitors import RateMonitor, SpikeMonitor, StateMonitor

assert cuda_kernels.SIMULATED
report = {"auto": resolve_backend_name("auto", 10**6, False), "cuda_usable": backend_status()["cuda"][0]}


class Recorder:
    '''Wraps a backend; after every block, copies the host arrays Network._hand_out reads.'''

    def __init__(self, name):
        self.inner, self.blocks, self.early = get_backend(name), [], 0

    def run_block(self, layout, step0, n):
        ran = self.inner.run_block(layout, step0, n)
        self.early += ran < n
        rec, st = layout.rec, layout.state
        ns, nr = int(rec.counters[2]), int(rec.counters[3])
        self.blocks.append([np.array([ran]), rec.counters.copy(), rec.spk_step[:ns].copy(), rec.spk_id[:ns].copy(),
                            rec.rec_out[:nr].copy(), rec.rec_step[:nr].copy(), rec.counts[:ran].copy(),
                            st.vars.copy(), st.ref.copy(), st.i_ext.copy(), layout.syn.buf.copy(),
                            layout.syn.weight.copy()]
                           + [a.copy() for a in layout.plastic])  # learning: weights, traces, queues, modulators
        return ran


def same_monitor(a, c):
    eq = np.array_equal
    if isinstance(a, SpikeMonitor):
        return eq(a.t, c.t) and eq(a.i, c.i)
    if isinstance(a, StateMonitor):
        return eq(a.t, c.t) and all(eq(a[v], c[v]) for v in a.variables)
    assert isinstance(a, RateMonitor)
    return eq(a.t, c.t) and eq(a.rate, c.rate)


def compare(label, make, durations, reference="numba"):
    runs = {}
    for name in (reference, "cuda"):
        net, mons = make()
        backend = Recorder(name)
        for d in durations:
            if callable(d):
                d(net)
            else:
                net.run(d, backend=backend)
        runs[name] = (net, mons, backend.blocks, backend.early)
    (_, ma, ba, early), (_, mc, bc, _) = runs[reference], runs["cuda"]
    blocks_equal = len(ba) == len(bc) and all(
        all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, c)) for a, c in zip(ba, bc))
    monitors_equal = len(ma) == len(mc) and all(same_monitor(a, c) for a, c in zip(ma, mc))
    report[label] = {"blocks": len(ba), "early_returns": int(early),
                     "spikes": int(sum(m.t.size for m in ma if isinstance(m, SpikeMonitor))),
                     "blocks_equal": bool(blocks_equal), "monitors_equal": bool(monitors_equal)}
    return runs
"""

SIMULATED = PRELUDE + r"""
from test_engine import random_network

# delays (uniform, random, 0), Poisson input, spike generators, step currents, LIF and CubaLIF,
# soft and hard resets, state and rate monitors
compare("one_block", lambda: random_network(), ["30 ms"])
def small_buffer():
    net, mons = random_network(block_steps=40)
    rec = net.layout.rec  # a spike buffer smaller than Network allows: early returns every few steps
    net._layout = net.layout._replace(rec=rec._replace(spk_step=np.zeros(300, np.int64), spk_id=np.zeros(300, np.int32)))
    return net, mons


# many blocks, early returns when the spike buffer could overflow, a continued run
compare("split", small_buffer, ["12 ms", "8 ms"])


def kick(net):  # the host edits the state between runs: the device copy must follow
    net.layout.state.vars[0, ::2] += 4e-3
    net.layout.state.i_ext[:10] += 1e-10


compare("host_edit", lambda: random_network(), ["10 ms", kick, "10 ms"])


def driven(precision):  # per-target Poisson inputs (alias tables and rejection), noise inputs, delayed recurrence
    net = Network(dt="0.1 ms", seed=3, precision=precision, block_steps=70)
    lif = net.population("p", 30, LIF(v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", tau_m="20 ms", t_ref="2 ms"))
    cuba = net.population("q", 12, CubaLIF(v_rest="-65 mV", v_th="-55 mV", tau_syn_exc="5 ms"))
    net.poisson_input(lif, 1000, "16 Hz", "0.2 mV")
    net.poisson_input(cuba, 200, "5000 Hz", "12 pA", start="1 ms", stop="30 ms")
    net.poisson_input(lif[5:20], 40, "9000 Hz", "0.02 mV")
    net.noise_input(cuba, "300 pA/ms**0.5", mean="40 pA/ms")
    net.noise_input(cuba[4:8], "1 mV/ms**0.5", variable="v", start="2 ms", stop="15 ms")
    net.connect(lif, cuba, FixedProbability(0.3), weight="30 pA", delay=Uniform("0.2 ms", "1.5 ms"))
    net.connect(cuba, lif, FixedProbability(0.3), weight="0.5 mV", delay="0.6 ms")
    return net, [net.spike_monitor(lif), net.spike_monitor(cuba), net.state_monitor(cuba, ["v", "i_exc"], interval="0.3 ms"),
                 net.rate_monitor(lif)]


compare("drive", lambda: driven("float64"), ["25 ms", "15 ms"])


def rated():  # a static projection of one weight: every row delivers a shared value until set_weights
    net = Network(dt="0.1 ms", seed=4, block_steps=50)
    src = net.poisson_source("src", 20, rate="50 Hz")
    cells = net.population("cells", 15, LIF(v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", t_ref="1 ms"))
    net.connect(src, cells, FixedProbability(0.5), weight="2 mV")
    return net, [net.spike_monitor(cells), net.spike_monitor(src)]


def retune(net):  # rates, weights and a state changed through the network's interface between runs
    src, cells = net.groups
    src.set_rate(np.linspace(0.0, 900.0, 20))
    proj = net.projections[0]
    proj.set_weights(np.linspace(1e-3, 6e-3, proj.weights.size))
    cells.set_state("v", -52e-3)


compare("between_runs", rated, ["10 ms", retune, "10 ms"])
from test_spike_slack import _repeating

compare("repeats", lambda: _repeating(capacity=13), ["4 ms"])  # a generator repeating an element in a step
print(json.dumps(report))
"""


# Plasticity: a small recurrent network in which every plastic projection learns, run with the
# recurrent projection (exc -> exc) under each of all_to_all / nearest x additive /
# multiplicative (exc -> inh under the opposite one); delays of 0 and more steps in one row,
# rows of delayed plastic synapses only and rows mixing plastic and static synapses, hard
# bounds reached, an anti-Hebbian inhibitory projection, NALSM's astrocyte (drive from the
# liquid and, negatively, the input, acting on depression) and a second modulator; runs of
# several blocks (early returns on a small spike buffer), host edits between runs.
LEARNING_NETWORK = r"""
def learning_network(ee, ei, triplet=False):
    net = Network(dt="0.1 ms", seed=3, block_steps=60)
    rng = np.random.default_rng(11)
    exc = net.population("exc", 40, CubaLIF(v_rest="-60 mV", v_th=rng.uniform(-52e-3, -48e-3, 40),
                                            v_reset="-60 mV", t_ref="1 ms"), v_init=Uniform("-60 mV", "-50 mV"))
    inh = net.population("inh", 10, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="0.5 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 16, rate="400 Hz")
    stim = net.spike_source("stim", 2, times=["3 ms", "3 ms", "9.1 ms", "14 ms"], indices=[0, 1, 0, 1])
    pa = dict(a_plus="3 pA", a_minus="3.5 pA", w_min="0 pA", w_max="150 pA")
    pm = dict(a_plus=0.08, a_minus=0.1, w_min="5 pA", w_max="150 pA")
    rules = {"additive": pa, "multiplicative": pm}
    if triplet:  # triplet terms and same-step pairing on the recurrent and E->I rules
        pa3, pm3 = dict(a3_plus="2 pA", a3_minus="1 pA"), dict(a3_plus=0.04, a3_minus=0.03)
        rules = {"additive": {**pa, **pa3, "same_step": True}, "multiplicative": {**pm, **pm3, "same_step": True}}
    p_in = net.connect(noise, exc, FixedProbability(0.3), weight=Uniform("40 pA", "90 pA"),  # reaches w_max
                       delay=Uniform("0 ms", "1 ms"), plasticity=STDP(**{**pa, "w_max": "90 pA"}, tau_pre="10 ms"))
    net.connect(stim, exc, FixedProbability(0.5), weight="120 pA", delay="0.4 ms",  # rows of delayed plastic only
                plasticity=STDP(**pa, traces="nearest"))
    p_ee = net.connect(exc, exc, FixedProbability(0.15), weight=Uniform("20 pA", "80 pA"),
                       delay=Uniform("0 ms", "1.2 ms"),
                       plasticity=STDP(**rules[ee[1]], traces=ee[0], tau_post="15 ms"))
    volts = {"additive": dict(a_plus="0.03 mV", a_minus="0.04 mV", w_max="2 mV"),
             "multiplicative": dict(a_plus=0.05, a_minus=0.07, w_min="0.1 mV", w_max="2 mV")}
    if triplet:
        volts = {"additive": {**volts["additive"], "a3_plus": "0.02 mV", "tau_y": "30 ms", "same_step": True},
                 "multiplicative": {**volts["multiplicative"], "a3_minus": 0.05, "tau_x": "50 ms"}}
    net.connect(exc, inh, FixedProbability(0.3), weight="0.9 mV", delay="0.5 ms",
                plasticity=STDP(**volts[ei[1]], traces=ei[0]))
    net.connect(inh, exc, FixedProbability(0.3), weight=Uniform("-150 pA", "-60 pA"),  # anti-Hebbian
                plasticity=STDP(a_plus="-2 pA", a_minus="-1.5 pA", w_min="-200 pA", w_max="0 pA"))
    net.connect(inh, inh, FixedProbability(0.3), weight="-0.5 mV", delay="0.3 ms")
    net.connect(noise, inh, FixedProbability(0.3), weight="0.6 mV", delay="0.7 ms")  # static, in plastic rows
    net.modulator("astro", tau="2 ms", weight=0.02, bias=0.15, targets=[p_ee], drive=[(exc, 1.0), (noise, -1.0)],
                  acts_on="depression", initial=1.0)
    net.modulator("gain", tau="3 ms", weight=0.05, bias=0.9, targets=[p_in], drive=[exc], acts_on="potentiation")
    monitors = [net.spike_monitor(exc), net.spike_monitor(inh), net.spike_monitor(noise), net.spike_monitor(stim),
                net.state_monitor(exc, ("v", "i_exc", "i_inh"), indices=[0, 3], interval="0.3 ms"),
                net.rate_monitor(exc)]
    rec = net.layout.rec  # a spike buffer smaller than Network allows: early returns every few steps
    small = rec._replace(spk_step=np.zeros(100, np.int64), spk_id=np.zeros(100, np.int32))
    net._layout = net.layout._replace(rec=small)
    return net, monitors


def edit(net):  # the host edits weights and a modulator between runs: the device copy must follow
    layout = net.layout
    pos = net.projections[2].placed.positions()
    layout.syn.weight[pos[::3]] = np.minimum(layout.syn.weight[pos[::3]] * 1.2, 150e-12)
    layout.plastic.mod_state[0] = 0.4
"""

SIMULATED_PLASTIC = PRELUDE + LEARNING_NETWORK + r"""
OTHER = {"all_to_all": "nearest", "nearest": "all_to_all", "additive": "multiplicative", "multiplicative": "additive"}
for ee, triplet in ((("all_to_all", "additive"), False), (("nearest", "multiplicative"), False),
                    (("all_to_all", "multiplicative"), False), (("nearest", "additive"), False),
                    (("all_to_all", "additive"), True), (("nearest", "multiplicative"), True)):
    ei = (OTHER[ee[0]], OTHER[ee[1]])
    label = ee[0] + "_" + ee[1] + ("_triplet" if triplet else "")
    initial = [p.synapses.weight.copy() for p in learning_network(ee, ei, triplet)[0].projections]
    runs = compare(label, lambda: learning_network(ee, ei, triplet), ["9 ms", "6 ms", edit, "7 ms"])
    (na, _, ba, _), (nc, _, bc, _) = runs["numba"], runs["cuda"]
    r = report[label]
    r["up"] = [int(np.sum(p.synapses.weight > w0)) for p, w0 in zip(na.projections, initial)]
    r["down"] = [int(np.sum(p.synapses.weight < w0)) for p, w0 in zip(na.projections, initial)]
    r["at_w_max"] = int(np.sum(na.projections[0].synapses.weight == 90e-12))  # clipped
    r["weights_equal"] = all(np.array_equal(a.synapses.weight, c.synapses.weight)
                             for a, c in zip(na.projections, nc.projections))
    r["max_weight_difference"] = max(float(np.max(np.abs(a.synapses.weight - c.synapses.weight), initial=0))
                                     for a, c in zip(na.projections, nc.projections))
    r["modulators"] = [[m.value for m in na.modulators], [m.value for m in nc.modulators]]
    field = {name: 12 + i for i, name in enumerate(nc.layout.plastic._fields)}  # Recorder's list: 12 arrays first
    r["arrivals_pending"] = int(max(b[field["pend_n"]].sum() for b in ba))  # delayed plastic spikes in flight
    r["fired_pending"] = int(max(b[field["counters"]][0] for b in ba))  # spikes carried into the next block

import neurosim.engine.device_sync as device_sync
device_sync.COMPARE_LIMIT = 0  # every array remembered by its CRC-32, as arrays above 2^25 elements are
runs = compare("by_checksum", lambda: learning_network(("nearest", "additive"), ("all_to_all", "multiplicative")),
               ["9 ms", edit, "6 ms"])
from neurosim.engine.cuda_backend import LAUNCH_INFO
report["launch"] = [list(LAUNCH_INFO["grid"]), LAUNCH_INFO["plastic"]]
report["by_checksum"]["weights_equal"] = all(np.array_equal(a.synapses.weight, c.synapses.weight) for a, c in
                                             zip(runs["numba"][0].projections, runs["cuda"][0].projections))
print(json.dumps(report))
"""


# The persistent kernel with 80 threads in one block (the simulator runs each as a Python thread,
# with real barriers): spikes spread over groups of 32 or 64 lanes, idle threads beyond the last
# whole group, every phase's grid-stride loops split between threads. Thread order varies, so
# float additions into the ring buffer may be reordered: the static network is built so that
# they are exact in any order (every synapse delayed, weights multiples of 2^-13 V) and must equal
# numba bit for bit; the plastic one must give numba's spikes and learned weights exactly (each
# weight is updated by one thread per phase) and its state to rounding.
SIMULATED_THREADS = PRELUDE + LEARNING_NETWORK + r"""
from neurosim import Uniform
from neurosim.engine.cuda_backend import LAUNCH_INFO


def dyadic():
    net = Network(dt="0.1 ms", seed=8, block_steps=30)
    exc = net.population("exc", 40, LIF(v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", tau_m="10 ms", t_ref="1 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    src = net.poisson_source("src", 30, rate="800 Hz")
    stim = net.spike_source("stim", 3, times=["1 ms"] * 3, indices=[0, 1, 2])
    net.connect(src, exc, FixedProbability(0.4), weight=2.0 ** -12, delay=Uniform("0.2 ms", "0.8 ms"))
    net.connect(exc, exc, FixedProbability(0.3), weight=2.0 ** -13, delay=Uniform("0.2 ms", "1 ms"))
    net.connect(stim, exc, FixedProbability(1.0), weight=2.0 ** -11, delay="0.2 ms")
    return net, [net.spike_monitor(exc), net.spike_monitor(src), net.state_monitor(exc, ["v"], interval="0.2 ms")]


compare("static", dyadic, ["6 ms"])
report["static"]["buffered_only"] = bool(np.all(dyadic()[0].layout.syn.delay > 0))
report["static"]["launch"] = list(LAUNCH_INFO["grid"])
runs = compare("plastic", lambda: learning_network(("all_to_all", "additive"), ("nearest", "multiplicative"), True),
               ["6 ms", edit, "4 ms"])
(na, ma, _, _), (nc, mc, _, _) = runs["numba"], runs["cuda"]
r = report["plastic"]
r["launch"] = [list(LAUNCH_INFO["grid"]), LAUNCH_INFO["plastic"]]
r["spikes_equal"] = all(same_monitor(a, c) for a, c in zip(ma, mc) if isinstance(a, SpikeMonitor))
r["weights_equal"] = all(np.array_equal(a.synapses.weight, c.synapses.weight)
                         for a, c in zip(na.projections, nc.projections))
r["learned"] = int(sum(np.sum(a.synapses.weight != w0) for a, w0 in
                       zip(na.projections, [p.synapses.weight for p in learning_network(
                           ("all_to_all", "additive"), ("nearest", "multiplicative"), True)[0].projections])))
r["modulators_equal"] = [m.value for m in na.modulators] == [m.value for m in nc.modulators]
states = [(a, c) for a, c in zip(ma, mc) if isinstance(a, StateMonitor)]
r["state_rel_diff"] = max(float(np.max(np.abs(a[v] - c[v]) / np.maximum(np.abs(a[v]), 1e-30)))
                          for a, c in states for v in a.variables)
print(json.dumps(report))
"""


# Postsynaptic ("pull") delivery (NEUROSIM_CUDA_DELIVERY): forced on every step (one thread, then
# 80 threads: no atomics, every target walks its synapses in numba's order, generators before
# Poisson sources, a generator spiking twice in a step onto multapses), and chosen by load (auto:
# the steps of a volley, when at least 1/16 of the neurons spiked); every run equal to numba bit
# for bit, block by block (states, ring buffer, recordings).
SIMULATED_PULL = PRELUDE + r"""
import os
from neurosim import FromArrays, Uniform
from neurosim.engine.cuda_backend import LAUNCH_INFO
from test_engine import random_network


def volleys():
    net = Network(dt="0.1 ms", seed=6)
    cells = net.population("cells", 64, LIF(v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", tau_m="10 ms",
                                            t_ref="2 ms"), v_init=Uniform("-65 mV", "-55 mV"))
    noise = net.poisson_source("noise", 20, rate="300 Hz")
    stim = net.spike_source("stim", 1, times=["2 ms", "6 ms"], indices=[0, 0])
    net.connect(stim, cells, FixedProbability(1.0), weight="20 mV")  # every cell spikes in the step
    net.connect(noise, cells, FixedProbability(0.3), weight="2.5 mV")
    net.connect(cells, cells, FixedProbability(0.2), weight=Uniform("0.1 mV", "0.6 mV"), delay=Uniform("0 ms", "1 ms"))
    twice = net.spike_source("twice", 2, times=["9 ms", "9 ms", "9 ms"], indices=[1, 0, 1])
    # two synapses from generator 1 onto every cell of a sink (no spikes), delay 0: numba adds its two
    # spikes as v + w1 + w2 + w1 + w2, which rounds differently from v + w1 + w1 + w2 + w2 in some 17 %
    # of the cells
    sink = net.population("sink", 64, LIF(v_rest="-65 mV", v_th="1 V", v_reset="-65 mV"),
                          v_init=Uniform("-65 mV", "-55 mV"))
    pre, post = np.repeat([1, 0], [128, 64]), np.concatenate([np.repeat(np.arange(64), 2), np.arange(64)])
    weight = np.concatenate([np.tile([0.13, 0.031], 64), np.full(64, 0.09)])
    net.connect(twice, sink, FromArrays(pre, post, weight=weight, delay=0.0))
    return net, [net.spike_monitor(cells), net.state_monitor(cells, ["v"], indices=[0, 3, 9]),
                 net.state_monitor(sink, ["v"])]


def run(label, mode, make, durations):
    os.environ["NEUROSIM_CUDA_DELIVERY"] = mode
    compare(label, make, durations)
    report[label]["launch"] = {k: LAUNCH_INFO[k] for k in ("pull", "pulled_steps", "pulled_source_steps")}


run("pull", "pull", random_network, ["20 ms"])
run("pull_twice", "pull", volleys, ["10 ms"])
run("auto", "auto", volleys, ["10 ms"])
run("push", "push", volleys, ["10 ms"])
os.environ["NEUROSIM_CUDA_GRID"] = "1,80"
run("pull_threads", "pull", random_network, ["5 ms"])
print(json.dumps(report))
"""


# Every neuron model of MODELS in one small network (per-neuron bias rows, so no population shares
# its parameters), connected at random with delays (0 to 1.5 ms: into the state and into the ring
# buffer), inhibitory projections on each model's inhibitory receptor, Poisson input, spike
# generators, step currents on two populations; every state variable of every neuron sampled
# every step. Run in blocks of 40 steps, with a host edit of the state in between, against the
# NumPy reference (the model's step as NumPy evaluates it).
SIMULATED_MODELS = PRELUDE + r"""
from neurosim.engine import cuda_neurons
from neurosim.neurons import MODELS

# i_bias per model (A) that makes its defaults spike within a few ms; 2 nA for a model added later
BIAS = {"LIF": 300e-12, "CubaLIF": 300e-12, "CobaLIF": 300e-12, "AlphaLIF": 300e-12, "ALIF": 300e-12,
        "AdEx": 1e-9, "CobaAdEx": 1e-9, "Izhikevich": 10e-9, "HodgkinHuxley": 1e-9, "QIF": 2e-9}
EXC = {"voltage": "0.5 mV", "current": "40 pA", "conductance": "2 nS"}
INH = {"voltage": "-0.5 mV", "current": "-60 pA", "conductance": "3 nS"}


def model_network():
    net = Network(dt="0.1 ms", seed=5, block_steps=40)
    rng = np.random.default_rng(7)
    pops = []
    for name, cls in MODELS.items():
        model = cls(i_bias=BIAS.get(name, 2e-9) * rng.uniform(0.9, 1.6, 4))
        pops.append(net.population(name, 4, model, v_init=Uniform(model.v_rest - 5e-3, model.v_rest + 2e-3)))
    noise = net.poisson_source("noise", 6, rate="500 Hz")
    stim = net.spike_source("stim", 2, times=["2 ms", "2 ms", "7.3 ms"], indices=[0, 1, 0])
    for post in pops:
        dim = post.model.weight_dimension
        net.connect(noise, post, FixedProbability(0.5), weight=EXC[dim], delay=Uniform("0 ms", "1 ms"))
        net.connect(stim, post, FixedProbability(0.5), weight=EXC[dim])
        for pre in pops:
            if rng.random() < 0.4:
                net.connect(pre, post, FixedProbability(0.5), weight=EXC[dim], delay=Uniform("0 ms", "1.5 ms"))
            if rng.random() < 0.2:
                net.connect(pre, post, FixedProbability(0.5), weight=INH[dim], delay="0.3 ms", receptor="inh",
                            name=f"{pre.name}_inh_{post.name}")
    net.current(pops[0], times=["0 ms", "6 ms"], amplitudes=["0 pA", "-100 pA"], indices=[0, 2])
    net.current(pops[-1], times=["4 ms"], amplitudes=["200 pA"])
    monitors = [net.spike_monitor(p) for p in pops] + [net.spike_monitor(noise), net.spike_monitor(stim)]
    monitors += [net.state_monitor(p, p.model.state_variables) for p in pops]
    monitors += [net.rate_monitor(p) for p in pops[:2]]
    return net, monitors


def kick(net):  # the host edits the state (v of every model) between runs
    net.layout.state.vars[0, ::3] += 1e-3


runs = compare("models", model_network, ["8 ms", kick, "7 ms"], reference="numpy")
net, mons = runs["cuda"][0], runs["cuda"][1]
pops = net.populations
report["models"]["names"] = [p.model.__class__.__name__ for p in pops]
report["models"]["expected"] = sorted(MODELS)
report["models"]["spikes_per_model"] = [int(m.t.size) for m in mons[:len(pops)]]
report["models"]["layout_models"] = len(net.layout.models)
report["models"]["state_rows"] = [int(net.layout.state.vars.shape[0]), max(len(p.model.state_variables) for p in pops)]
report["models"]["samples"] = [int(m.t.size) for m in mons[len(pops) + 2:2 * len(pops) + 2]]
from neurosim.engine import cuda_persistent
from neurosim.engine.cuda_backend import LAUNCH_INFO
cuda_persistent.persistent_kernel(tuple(net.layout.models), True, False, LAUNCH_INFO["pull"])  # the same again: cached
report["models"]["kernel_cache"] = list(cuda_persistent.persistent_kernel.cache_info()[:2])  # hits, misses
report["models"]["hand_written_lif_gone"] = not hasattr(cuda_kernels, "neurons") and "p_vv" not in open(
    cuda_kernels.__file__).read()
print(json.dumps(report))
"""


# The generated neuron kernel of every model, compiled to PTX (NVVM, sm_80; no GPU needed) with
# the argument types the backend launches it with, in float64 and float32.
PTX = r"""
import json, re, sys, types
import numba
import numba.cuda.dispatcher
import numpy as np
from numba import cuda
from neurosim import Network
from neurosim.engine.cuda_neurons import model_of, neuron_step
from neurosim.neurons import MODELS

# device functions are compiled for the current device's compute capability: there is none here
numba.cuda.dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(8, 0))
report = {}
for precision in ("float64", "float32"):
    net = Network(dt="0.1 ms", precision=precision)
    for name, cls in MODELS.items():
        net.population(name, 2, cls())
    lay = net.layout
    st = lay.state
    i = np.int64(0)
    args = (i, i, st.vars.reshape(-1), st.ref, st.i_ext, lay.table.params, lay.table.ref_steps,
            model_of(lay.segments, lay.n_neurons))
    ptx, _ = cuda.compile_ptx(neuron_step(tuple(lay.models)).py_func, tuple(numba.typeof(a) for a in args),
                              device=True, cc=(8, 0))
    report[precision] = {"entry": ".func" in ptx, "f64": len(re.findall(r"\.f64\b", ptx)),
                         "models": len(lay.models)}

# the persistent kernel (both barrier variants; static, plastic, and static able to pull), typed as
# the backend launches it;
# the plastic layout has triplet terms, same-step pairing and a modulator
sys.path.insert(0, "tests")
from neurosim import CubaLIF, FixedProbability, STDP
from neurosim.engine import cuda_persistent as Q
from neurosim.engine.cuda_backend import _padded
from neurosim.engine.cuda_plasticity import host_arrays
from test_engine import random_network


def plastic_network():
    net = Network(dt="0.1 ms", precision="float32")
    pop = net.population("pop", 10, CubaLIF())
    proj = net.connect(pop, pop, FixedProbability(0.5), weight="10 pA", delay="1 ms",
                       plasticity=STDP(a_plus="1 pA", a_minus="1 pA", a3_plus="1 pA", a3_minus="1 pA", w_max="1 nA",
                                       same_step=True))
    net.modulator("astro", tau="2 ms", weight=0.02, bias=0.15, targets=[proj], drive=[pop])
    return net


from neurosim.engine.incoming import incoming

static = random_network()[0]
for label, net in (("static", static), ("plastic", plastic_network()), ("pull", static)):
    lay = net.layout
    tab, st, syn, drv, rec = lay.table, lay.state, lay.syn, lay.drive, lay.rec
    n = st.vars.shape[1]
    sizes = Q.Sizes(*([1] * len(Q.Sizes._fields)))
    cells = Q.Cells(st.vars.reshape(-1), st.ref, st.i_ext, tab.params, tab.ref_steps, model_of(lay.segments, n),
                    syn.buf, syn.buffered.astype(np.uint8))
    args = (0, 10, np.uint64(drv.seed[0]), sizes, Q.Csr(syn.indptr, syn.target, syn.weight, syn.delay, syn.row_delay,
                                                         syn.row_uniform, syn.row_weight), cells,
            Q.Drive(*(_padded(getattr(drv, f)) for f in Q.Drive._fields)),
            Q.Record(rec.spike_mask, rec.group_of, rec.spk_step, rec.spk_id, rec.counts, rec.rec_id, rec.rec_var,
                     rec.rec_out),
            Q.Lists(np.zeros(Q.N_COUNTERS, np.int64), np.zeros(1, np.int64), np.zeros(4, np.int32),
                    np.zeros((2, n), np.int32)), host_arrays(lay.plastic),
            Q.Pull(*incoming(syn.indptr, syn.target, 0, n), np.zeros(n, np.int32)),
            Q.Pull(*(_padded(a) for a in incoming(syn.indptr, syn.target, n, syn.indptr.size - 1)),
                   np.zeros(syn.indptr.size - 1 - n, np.int32)))
    for one_block in (True, False):
        kernel = Q.persistent_kernel(tuple(lay.models), one_block, label == "plastic", label == "pull")
        ptx, _ = cuda.compile_ptx(kernel.py_func, tuple(numba.typeof(a) for a in args), cc=(8, 0))
        # a grid barrier needs the cooperative-groups intrinsic (numba then launches cooperatively)
        report[f"{label}_{'block' if one_block else 'grid'}"] = [".entry" in ptx, "CGGetIntrinsicHandle" in ptx,
                                                                  ptx.count("bar.sync")]
print(json.dumps(report))
"""


def _child(script: str, **env_vars: str) -> dict:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": ROOT, **env_vars}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cuda_kernels_under_the_simulator_match_numba_bit_for_bit():
    report = _child(SIMULATED)
    assert report["cuda_usable"] and report["auto"] == "numba"  # auto never picks the simulator, even for 10^6
    one, split = report["one_block"], report["split"]
    assert one["spikes"] > 150 and one["blocks"] == 1
    assert one["blocks_equal"] and one["monitors_equal"]
    assert split["blocks"] > 5 and split["early_returns"] > 3  # the spike buffer forced early returns
    assert split["blocks_equal"] and split["monitors_equal"]
    assert report["host_edit"]["blocks_equal"] and report["host_edit"]["monitors_equal"]
    drive = report["drive"]  # Poisson and noise inputs drawn on the device as on the host
    assert drive["spikes"] > 400 and drive["blocks"] == 7, drive
    assert drive["blocks_equal"] and drive["monitors_equal"], drive
    between = report["between_runs"]  # set_rate, set_weights, set_state reach the device copies
    assert between["spikes"] > 100 and between["blocks_equal"] and between["monitors_equal"], between
    repeats = report["repeats"]  # steps 2..29 one per block: the buffer holds 13 spikes, a step records 8
    assert repeats["blocks"] == 30 and repeats["early_returns"] == 29 and repeats["spikes"] == 29 * (5 + 3), repeats
    assert repeats["blocks_equal"] and repeats["monitors_equal"], repeats


def test_cuda_plasticity_under_the_simulator_matches_numba_bit_for_bit():
    """STDP (all-to-all / nearest, additive / multiplicative, triplet terms, same-step pairing,
    delays, hard bounds) and modulators: spikes, samples, weights, traces, queues and modulator
    values equal block for block."""
    report = _child(SIMULATED_PLASTIC)
    for label in ("all_to_all_additive", "nearest_multiplicative", "all_to_all_multiplicative", "nearest_additive",
                  "all_to_all_additive_triplet", "nearest_multiplicative_triplet"):
        r = report[label]
        assert r["spikes"] > 200 and r["blocks"] > 6 and r["early_returns"] > 2, r
        assert r["blocks_equal"] and r["monitors_equal"], r
        assert r["weights_equal"] and r["max_weight_difference"] == 0.0, r
        assert r["modulators"][0] == r["modulators"][1], r
        assert r["modulators"][0][0] not in (0.4, 1.0) and r["modulators"][0][1] != 0.9, r  # they integrated
        assert r["at_w_max"] > 0, r  # hard bounds
        assert all(u > 0 for u in r["up"][:5]) and all(d > 0 for d in r["down"][:5]), r  # every plastic one learned
        assert r["up"][5:] == [0, 0] and r["down"][5:] == [0, 0], r  # the static ones did not
        assert r["arrivals_pending"] > 0 and r["fired_pending"] > 0, r  # state carried across blocks
    assert report["launch"] == [[1, 1], True], report  # one launch of the plastic persistent kernel per block
    by_checksum = report["by_checksum"]  # host edits are seen when arrays are compared by CRC-32
    assert by_checksum["blocks_equal"] and by_checksum["monitors_equal"] and by_checksum["weights_equal"]


def test_many_threads_of_the_persistent_kernel_under_the_simulator_share_the_work_exactly():
    """80 threads in one block: every synapse delivered once (a double or missed delivery changes
    the buffered sums), every plastic weight updated once per phase."""
    report = _child(SIMULATED_THREADS, NEUROSIM_CUDA_GRID="1,80")
    static = report["static"]
    assert static["launch"] == [1, 80] and static["buffered_only"], static
    assert static["spikes"] > 100 and static["blocks"] == 2, static
    assert static["blocks_equal"] and static["monitors_equal"], static
    plastic = report["plastic"]
    assert plastic["launch"] == [[1, 80], True], plastic
    assert plastic["spikes"] > 80 and plastic["blocks"] >= 4 and plastic["early_returns"] >= 2, plastic
    assert plastic["spikes_equal"] and plastic["weights_equal"] and plastic["modulators_equal"], plastic
    assert plastic["learned"] > 100, plastic
    assert plastic["state_rel_diff"] < 1e-12, plastic


def test_pulled_delivery_under_the_simulator_matches_numba_bit_for_bit():
    """Neuron and source spikes delivered postsynaptically every step, or in the steps of high load only:
    state, ring buffer and recordings equal numba's block by block, with one thread and with 80."""
    report = _child(SIMULATED_PULL)
    for label, steps in (("pull", 200), ("pull_twice", 100), ("pull_threads", 50)):
        r = report[label]
        assert r["launch"] == {"pull": True, "pulled_steps": steps, "pulled_source_steps": steps}, r  # every step
        assert r["spikes"] > 80 and r["blocks_equal"] and r["monitors_equal"], r
    auto = report["auto"]  # the volleys' steps pulled, the others pushed
    assert auto["launch"]["pull"] and 2 <= auto["launch"]["pulled_steps"] <= 50, auto
    assert 2 <= auto["launch"]["pulled_source_steps"] <= 90, auto
    assert auto["spikes"] > 128 and auto["blocks_equal"] and auto["monitors_equal"], auto
    assert report["push"]["launch"] == {"pull": False, "pulled_steps": 0, "pulled_source_steps": 0}, report["push"]
    assert report["push"]["blocks_equal"] and report["push"]["spikes"] == auto["spikes"], report["push"]


def test_every_neuron_model_under_the_simulator_matches_numpy_bit_for_bit():
    """All models of ``MODELS`` in one network: spikes, every state variable at every step, the
    state and the ring buffer after each block equal the NumPy reference's (float64)."""
    r = _child(SIMULATED_MODELS)["models"]
    assert sorted(r["names"]) == r["expected"] and r["layout_models"] == len(r["expected"]), r
    assert r["state_rows"][0] == r["state_rows"][1] >= 6, r  # K: the most state variables (HodgkinHuxley: 6)
    assert all(s > 0 for s in r["spikes_per_model"]), r  # every model spiked
    assert all(s == 150 for s in r["samples"]), r  # 15 ms sampled every step
    assert r["blocks"] >= 4 and r["blocks_equal"] and r["monitors_equal"], r
    assert r["kernel_cache"][0] >= 1 and r["kernel_cache"][1] == 1, r  # generated once per tuple of models
    assert r["hand_written_lif_gone"], r


def _nvvm_usable() -> tuple[bool, str]:
    try:
        from numba.cuda.cudadrv import nvvm

        nvvm.NVVM()
        return True, ""
    except Exception as exc:  # no CUDA toolkit (libNVVM) here
        return False, f"numba.cuda cannot compile to PTX here: {type(exc).__name__}: {exc}"


@pytest.mark.skipif(not _nvvm_usable()[0], reason=_nvvm_usable()[1])
def test_generated_neuron_kernel_compiles_to_ptx_for_every_model():
    """What the simulator cannot show: the generated device code types and compiles for a GPU
    (all models in one step; the persistent kernel with and without plasticity); float32 layouts
    compute the neuron step in float32 throughout."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, "-c", PTX], env={**env, "PYTHONPATH": ROOT}, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    from neurosim.neurons import MODELS

    for precision in ("float64", "float32"):
        assert report[precision]["entry"] and report[precision]["models"] == len(MODELS), report
    assert report["float64"]["f64"] > 0 and report["float32"]["f64"] == 0, report
    for label in ("static", "plastic", "pull"):  # triplet terms, same-step pairing, modulators, pulled delivery
        assert report[f"{label}_block"][:2] == [True, False] and report[f"{label}_grid"][:2] == [True, True], report
    # the plastic kernel's two extra barriers per step (depression | potentiation | neurons)
    assert report["plastic_block"][2] == report["static_block"][2] + 2, report


def _network(neurons: int, plastic: bool) -> Network:
    net = Network(dt="0.1 ms", seed=1)
    pop = net.population("pop", neurons, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV"))
    if plastic:
        small = net.population("small", 20, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV"))
        net.connect(small, small, FixedProbability(0.2), weight="0.5 mV",
                    plasticity=STDP(a_plus="0.01 mV", a_minus="0.01 mV", w_max="1 mV"))
    else:
        net.connect(pop, pop, FixedProbability(1e-6), weight="0.5 mV")
    return net


@pytest.mark.parametrize("gpu", [True, False])
def test_auto_picks_cuda_only_for_large_static_networks_on_a_gpu(monkeypatch, gpu):
    """The rule, with the GPU probe stubbed: plastic -> numba, small -> numba, large static ->
    cuda with a GPU, numba without; through the registry and ``Network.backend_name``."""
    monkeypatch.setitem(registry._AUTO_PROBES, "cuda", lambda: (gpu, "stub GPU" if gpu else "stub: no GPU"))
    big = CUDA_MIN_NEURONS
    expect_big = "cuda" if gpu else "numba"
    assert resolve_backend_name("auto", big, plastic=False) == expect_big
    assert resolve_backend_name("auto", 10 * big, plastic=False) == expect_big
    assert resolve_backend_name("auto", big - 1, plastic=False) == "numba"
    assert resolve_backend_name("auto", 10 * big, plastic=True) == "numba"
    assert resolve_backend_name("auto") == "numba"  # size not given
    assert _network(big, plastic=False).backend_name() == expect_big
    assert _network(big, plastic=True).backend_name() == "numba"
    assert _network(1000, plastic=False).backend_name() == "numba"
    assert _network(big, plastic=False).backend_name("numpy") == "numpy"  # named backends are kept
    small = _network(100, plastic=True)
    small.run("1 ms")  # auto: numba here (cuda could not run without a GPU)
    assert small.t == pytest.approx(1e-3)


def test_cuda_is_registered_and_info_states_the_auto_rule():
    from neurosim.info import collect, format_info

    assert "cuda" in backend_status()
    info = collect()
    assert info["cuda"] == {"usable": GPU, "detail": GPU_WHY}
    auto = info["auto"]
    assert auto["rule"] == registry.AUTO_RULE and f"{CUDA_MIN_NEURONS:,}" in auto["rule"]
    assert auto["large_static"] == ("cuda" if GPU else "numba") and GPU_WHY in auto["reason"]
    text = format_info(info)
    assert f"auto backend: decided per network: {registry.AUTO_RULE}" in text
    assert f"static networks of {CUDA_MIN_NEURONS:,}+ neurons -> {auto['large_static']}" in text


@pytest.mark.skipif(GPU, reason="a CUDA GPU is usable here")
def test_cuda_is_refused_without_a_gpu_naming_the_reason():
    with pytest.raises(ValueError, match=r"simulation\.backend: 'cuda' is not usable here"):
        resolve_backend_name("cuda")


@needs_gpu
@pytest.mark.parametrize("grid", [None, "1,256"])
def test_cuda_on_a_gpu_agrees_with_numba_statistically(monkeypatch, grid):
    """CUBA's mean rate within 1 % of numba's (float atomics reorder additions, so the runs need
    not agree bit for bit), run by the persistent kernel over 16 blocks with grid barriers
    (cooperative launch) and as one block with block barriers."""
    from neurosim.engine import cuda_backend
    from neurosim.models.cuba import Params, build

    if grid:
        monkeypatch.setenv("NEUROSIM_CUDA_GRID", grid)
    rates = {}
    for backend in ("numba", "cuda"):
        net = build(Params(n=4000), seed=0)
        net.run("1 s", backend=backend)
        rates[backend] = sum(m.t.size for m in net.monitors) / 4000
    assert cuda_backend.LAUNCH_INFO["grid"][0] == (1 if grid else 16)
    assert rates["cuda"] == pytest.approx(rates["numba"], rel=0.01)
    assert np.isfinite(rates["cuda"]) and 5.0 < rates["cuda"] < 6.5


@needs_gpu
def test_pulled_delivery_on_a_gpu_repeats_exactly(monkeypatch):
    """CUBA (no sources) with every step pulled: no float atomics, so two runs give the same
    spikes and final state bit for bit, and the rate agrees with numba's within 1 %."""
    from neurosim.engine import cuda_backend
    from neurosim.models.cuba import Params, build

    monkeypatch.setenv("NEUROSIM_CUDA_DELIVERY", "pull")
    runs = []
    for _ in range(2):
        net = build(Params(n=4000), seed=0)
        net.run("1 s", backend="cuda")
        assert cuda_backend.LAUNCH_INFO["pull"] and cuda_backend.LAUNCH_INFO["pulled_steps"] > 0
        runs.append(([(m.t.copy(), m.i.copy()) for m in net.monitors], net.layout.state.vars.copy()))
    (spikes_a, state_a), (spikes_b, state_b) = runs
    assert all(np.array_equal(ta, tb) and np.array_equal(ia, ib) for (ta, ia), (tb, ib) in zip(spikes_a, spikes_b))
    assert np.array_equal(state_a, state_b)
    reference = build(Params(n=4000), seed=0)
    reference.run("1 s", backend="numba")
    rate = sum(t.size for t, _ in spikes_a)
    assert rate == pytest.approx(sum(m.t.size for m in reference.monitors), rel=0.01) and rate > 0


@needs_gpu
def test_cuda_plasticity_on_a_gpu_agrees_with_numba():
    """benchmarks/gpu_plastic.py's network (every plastic kernel: STDP of each kind, triplet
    terms, the astrocyte and a gain modulator) for 1 s: rates within 1 %, modulators and every
    projection's mean weight within 1e-6 of numba's (an H200 reproduced numba's spikes exactly)."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import gpu_plastic

    a, c = gpu_plastic.run("numba", 0, 1.0), gpu_plastic.run("cuda", 0, 1.0)
    assert c["rate_exc_hz"] == pytest.approx(a["rate_exc_hz"], rel=0.01) and a["rate_exc_hz"] > 5
    assert c["rate_inh_hz"] == pytest.approx(a["rate_inh_hz"], rel=0.01) and a["rate_inh_hz"] > 5
    assert c["modulators"] == pytest.approx(a["modulators"], rel=1e-6)
    for k in range(4):  # the plastic projections learned, on both
        assert a[f"proj{k}"]["up"] > 0.1 and a[f"proj{k}"]["down"] > 0.1
        assert c[f"proj{k}"]["mean"] == pytest.approx(a[f"proj{k}"]["mean"], rel=1e-6)


def test_synced_copies_see_host_edits_by_copy_and_by_checksum(monkeypatch):
    import neurosim.engine.device_sync as device_sync

    for limit in (10, 0):  # remembered as copies, then as CRC-32 fingerprints
        monkeypatch.setattr(device_sync, "COMPARE_LIMIT", limit)
        synced, host = device_sync.SyncedCopies(), np.arange(8, dtype=np.float64)
        assert synced.changed("w", host)
        synced.remember("w", host)
        assert not synced.changed("w", host)
        host[3] = np.nextafter(host[3], 10)  # the smallest edit
        assert synced.changed("w", host)
        synced.remember("w", host)
        assert not synced.changed("w", host.copy())
