"""Engine semantics: delays, inputs, monitors, backends agreeing spike for spike, reproducibility."""

import os
import subprocess
import sys

import numpy as np
import pytest

from neurosim import (
    LIF, CubaLIF, FixedInDegree, FixedProbability, FromArrays, Network, Normal, OneToOne, Uniform,
)
from neurosim.models import cuba

BACKENDS = ["numba", "numpy"]
REST = -65e-3


def lif(**kw):
    return LIF(**{"v_rest": "-65 mV", "v_reset": "-65 mV", "v_th": "-50 mV", "t_ref": "2 ms", **kw})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("delay_steps", [0, 1, 3, 17])
def test_source_spike_arrives_exactly_delay_steps_later(backend, delay_steps):
    dt = 1e-4
    net = Network(dt=dt)
    src = net.spike_source("s", 1, times=[10 * dt], indices=[0])
    pop = net.population("p", 1, lif())
    net.connect(src, pop, OneToOne(), weight="2 mV", delay=delay_steps * dt)
    mon = net.state_monitor(pop, "v")
    net.run(40 * dt, backend=backend)
    v = mon["v"][:, 0]
    changed = np.flatnonzero(v != REST)[0]
    # the jump lands at t = 10 dt + delay; samples are right-continuous, so that sample shows it
    assert changed == 10 + delay_steps
    assert v[changed] == pytest.approx(REST + 2e-3, rel=1e-12)
    assert v[changed + 1] == pytest.approx(REST + 2e-3 * np.exp(-dt / 20e-3), rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("delay_steps", [0, 5])
def test_neuron_spike_arrives_exactly_delay_steps_later(backend, delay_steps):
    dt = 1e-4
    net = Network(dt=dt)
    driver = net.population("driver", 1, lif())
    target = net.population("target", 1, lif())
    net.current(driver, amplitudes="1 nA")
    net.connect(driver, target, OneToOne(), weight="1 mV", delay=delay_steps * dt)
    spikes = net.spike_monitor(driver)
    mon = net.state_monitor(target, "v")
    net.run("10 ms", backend=backend)
    first_spike_step = int(round(spikes.t[0] / dt))
    changed = np.flatnonzero(mon["v"][:, 0] != REST)[0]
    assert changed == first_spike_step + delay_steps


def random_network(backend_seed=0, precision="float64", block_steps=10_000, spike_capacity=1 << 20):
    """Mixed LIF / CubaLIF recurrent network with Poisson drive, delays and heterogeneous thresholds."""
    net = Network(dt="0.1 ms", seed=backend_seed, precision=precision, block_steps=block_steps,
                  spike_capacity=spike_capacity)
    rng = np.random.default_rng(42)
    exc = net.population("exc", 160, CubaLIF(v_rest="-60 mV", v_th=rng.uniform(-52e-3, -48e-3, 160),
                                             v_reset="-60 mV", t_ref="2 ms"),
                         v_init=Uniform("-60 mV", "-50 mV"))
    inh = net.population("inh", 40, LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", reset="soft", t_ref=0.0),
                         v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 50, rate="200 Hz")
    stim = net.spike_source("stim", 2, times=["5 ms", "5 ms", "20.3 ms"], indices=[0, 1, 0])
    net.connect(noise, exc, FixedProbability(0.3), weight="60 pA", delay=Uniform("0.1 ms", "2 ms"))
    net.connect(noise, inh, FixedProbability(0.3), weight="1.2 mV")
    net.connect(stim, exc, FixedInDegree(1), weight="300 pA")
    net.connect(exc, exc, FixedProbability(0.1), weight=Normal("40 pA", "10 pA"), delay="1 ms")
    net.connect(exc, inh, FixedProbability(0.2), weight="0.8 mV", delay="0.5 ms")
    net.connect(inh, exc, FixedProbability(0.2), weight="-120 pA")
    net.connect(inh, inh, FixedProbability(0.2), weight="-0.5 mV", delay="0.3 ms")
    net.current(exc, times=["0 ms", "30 ms"], amplitudes=["0 pA", "80 pA"], indices=range(0, 160, 3))
    monitors = [net.spike_monitor(exc), net.spike_monitor(inh), net.spike_monitor(noise),
                net.state_monitor(exc, ("v", "i_exc", "i_inh"), indices=[0, 5, 7], interval="0.5 ms"),
                net.state_monitor(inh, "v", indices=[1]), net.rate_monitor(exc)]
    return net, monitors


def spike_data(monitors):
    return [(m.t, m.i) for m in monitors[:3]]


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_numba_and_numpy_agree_spike_for_spike(precision):
    results = {}
    for backend in BACKENDS:
        net, mons = random_network(precision=precision)
        net.run("60 ms", backend=backend)
        results[backend] = mons
    a, b = results["numba"], results["numpy"]
    assert sum(t.size for t, _ in spike_data(a)) > 300  # the network is active
    for (ta, ia), (tb, ib) in zip(spike_data(a), spike_data(b)):
        assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
    for var in ("v", "i_exc", "i_inh"):
        assert np.array_equal(a[3][var], b[3][var])
    assert np.array_equal(a[5].rate, b[5].rate)


def test_continuing_runs_and_block_boundaries_do_not_change_results():
    ref_net, ref = random_network()
    ref_net.run("60 ms")
    split_net, split = random_network(block_steps=7, spike_capacity=64)  # forces early block returns
    split_net.run("25 ms")
    split_net.run("35 ms")
    assert split_net.t == pytest.approx(0.06)
    for (ta, ia), (tb, ib) in zip(spike_data(ref), spike_data(split)):
        assert np.array_equal(ta, tb) and np.array_equal(ia, ib)
    assert np.array_equal(ref[3]["v"], split[3]["v"]) and np.array_equal(ref[3].t, split[3].t)


def test_same_seed_same_spikes_different_seed_different():
    runs = []
    for seed in (1, 1, 2):
        net, mons = random_network(backend_seed=seed)
        net.run("40 ms")
        runs.append(spike_data(mons))
    same = all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(runs[0], runs[1]))
    diff = any(x[0].shape != y[0].shape or not np.array_equal(x[0], y[0]) for x, y in zip(runs[0], runs[2]))
    assert same and diff


def test_results_do_not_depend_on_the_thread_count():
    code = (
        "import numpy as np, sys; sys.path.insert(0, 'tests'); from test_engine import random_network;"
        "net, m = random_network(); net.run('40 ms'); print(int(np.sum(m[0].i * 1000 + m[0].t * 1e4)))"
    )
    outs = []
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True, cwd=os.path.dirname(os.path.dirname(__file__))).stdout)
    assert outs[0] == outs[1] and outs[0].strip()


def test_monitors_subset_interval_and_rate():
    net, mons = random_network()
    sub = net.spike_monitor(net.groups[0], indices=[3, 4, 5, 150], name="subset")
    net.run("60 ms")
    full_t, full_i = mons[0].t, mons[0].i
    keep = np.isin(full_i, [3, 4, 5, 150])
    assert np.array_equal(sub.t, full_t[keep]) and np.array_equal(sub.i, full_i[keep])
    state = mons[3]
    assert np.allclose(np.diff(state.t), 0.5e-3) and state["v"].shape == (120, 3)
    rate = mons[5]
    assert rate.rate.sum() * 160 * 1e-4 == pytest.approx(full_t.size)


def test_poisson_source_rate_and_spike_source_times():
    net = Network(dt="0.1 ms", seed=3)
    src = net.poisson_source("noise", 200, rate="50 Hz", start="100 ms", stop="900 ms")
    gen = net.spike_source("gen", 3, times=["1 ms", "2.5 ms", "2.5 ms"], indices=[2, 0, 1])
    net.population("sink", 1, LIF())
    pm, gm = net.spike_monitor(src), net.spike_monitor(gen)
    net.run("1 s")
    count = pm.t.size
    expected = 200 * 0.8 * 50
    assert abs(count - expected) < 4 * np.sqrt(expected)
    assert pm.t.min() >= 0.1 and pm.t.max() < 0.9
    assert gm.t.tolist() == pytest.approx([1e-3, 2.5e-3, 2.5e-3]) and gm.i.tolist() == [2, 0, 1]


def test_step_current_changes_at_the_given_times():
    net = Network(dt="0.1 ms")
    pop = net.population("p", 1, lif(v_th="0 mV"))
    net.current(pop, times=["0 ms", "10 ms", "30 ms"], amplitudes=["0 pA", "100 pA", "0 pA"])
    mon = net.state_monitor(pop, "v")
    net.run("50 ms")
    t, v = mon.t, mon["v"][:, 0]
    on = (t > 10e-3) & (t <= 30e-3)
    assert v[on] == pytest.approx(REST + 10e-3 * (1 - np.exp(-(t[on] - 10e-3) / 20e-3)), rel=1e-9)
    assert np.all(v[t <= 10e-3] == REST)
    after = t > 30e-3
    v30 = REST + 10e-3 * (1 - np.exp(-1))
    assert v[after] == pytest.approx(REST + (v30 - REST) * np.exp(-(t[after] - 30e-3) / 20e-3), rel=1e-9)


def test_cuba_benchmark_rate_is_in_the_published_band():
    net = cuba.build(seed=0)
    net.run("1 s")
    n_spikes = sum(m.t.size for m in net.monitors)
    rate = n_spikes / 4000 / 1.0
    assert 5.5 <= rate <= 6.0


@pytest.mark.parametrize(
    "action, message",
    [
        (lambda net, p: net.run("-1 ms"), r"simulation\.duration"),
        (lambda net, p: net.run("0.2 ms", backend="warp-drive"), r"simulation\.backend: unknown backend"),
        (lambda net, p: net.run("0.15 ms"), r"simulation\.duration: .* not a multiple of dt"),
        (lambda net, p: net.state_monitor(p, "i_exc"), r"'i_exc' is not a state variable of LIF"),
        (lambda net, p: net.spike_monitor(p, indices=[5]), r"indices must lie in \[0, 2\)"),
        (lambda net, p: net.current(p, amplitudes="1 mV"), r"current\.p\.amplitudes: '1 mV' is a voltage"),
        (lambda net, p: net.current(p, amplitudes="1 nA", times="0.05 ms") and net.run("1 ms"),
         r"current\.p\.times: .* not a multiple of dt"),
        (lambda net, p: net.population("p", 3, LIF()), r"population\.p: a population of that name exists"),
        (lambda net, p: net.population("q", 0, LIF()), r"population\.q\.size: must be a positive integer"),
        (lambda net, p: net.spike_source("s", 2, times=[0.0, 1e-3], indices=[0]), r"population\.s\.indices"),
        (lambda net, p: net.poisson_source("n", 2, rate="-5 Hz"), r"population\.n\.rate: must be >= 0"),
    ],
)
def test_bad_input_names_the_field(action, message):
    net = Network(dt="0.1 ms")
    pop = net.population("p", 2, LIF())
    with pytest.raises(ValueError, match=message):
        action(net, pop)


@pytest.mark.parametrize("kwargs, field", [(dict(dt="0 ms"), "dt"), (dict(precision="float16"), "precision"),
                                           (dict(seed=-1), "seed"), (dict(dt="1 mV"), "dt")])
def test_bad_network_settings(kwargs, field):
    with pytest.raises(ValueError, match=rf"simulation\.{field}"):
        Network(**kwargs)


def test_structure_is_frozen_after_the_first_run():
    net = Network()
    pop = net.population("p", 2, LIF())
    net.run("1 ms")
    with pytest.raises(RuntimeError, match="frozen"):
        net.population("q", 2, LIF())
    with pytest.raises(RuntimeError, match="frozen"):
        net.connect(pop, pop, FromArrays([0], [1]), weight="1 mV")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_poisson_sources_deliver_the_exact_mean_rate(backend):
    """p = rate·dt per step (Brian2's PoissonGroup): 5 kHz at dt = 0.1 ms gives 0.5 spikes per
    step on average; the old 1 - exp(-rate dt) gave 0.39 (3.9 kHz)."""
    net = Network(dt="0.1 ms", seed=4)
    net.population("sink", 1, LIF())
    half = net.poisson_source("half", 1000, "5 kHz")
    every = net.poisson_source("every", 3, "10 kHz")  # rate·dt = 1: a spike in every step
    s_half, s_every = net.spike_monitor(half), net.spike_monitor(every)
    net.run("20 ms", backend=backend)
    trials = 1000 * 200
    assert abs(s_half.t.size - trials / 2) < 5 * np.sqrt(trials / 4)  # binomial, 5 sigma
    assert s_every.t.size == 3 * 200


def test_poisson_sources_refuse_more_than_one_spike_per_step():
    net = Network(dt="0.1 ms")
    with pytest.raises(ValueError, match=r"population\.p\.rate: 20000 Hz asks for 2 spikes per step"):
        net.poisson_source("p", 3, "20 kHz")
