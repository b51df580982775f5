"""The Brian2 backend against neurosim's own engine: spike times, state traces, CUBA statistics.

Brian runs in runtime mode with numpy code generation (no compilation). Spike times are
compared after the stamp convention of :mod:`neurosim.engine.brian2_backend` (neurosim
stamps a spike of step m with t_{m+1}, Brian with t_m), with a tolerance of 1e-3 dt.
"""

import numpy as np
import pytest

import brian2  # in the dev extra: a missing brian2 must fail, not skip

from neurosim import LIF, CubaLIF, FixedProbability, FromArrays, Network, OneToOne, STDP
from neurosim.engine.brian2_backend import NOMINAL_DT, Brian2Backend, translate
from neurosim.engine.registry import backend_status, resolve_backend_name
from neurosim.models import cuba
from test_engine import random_network, spike_data

DT = 1e-4
TOL = 1e-3 * DT


@pytest.fixture(autouse=True)
def numpy_codegen():
    old = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = "numpy"
    yield
    brian2.prefs.codegen.target = old


def brian():
    return Brian2Backend(target="numpy")


def assert_same_spikes(a, b):
    (ta, ia), (tb, ib) = a, b
    assert ta.size == tb.size
    assert np.array_equal(ia, ib)
    assert np.max(np.abs(ta - tb), initial=0.0) <= TOL


def model(kind, **kw):
    base = {"v_rest": "-65 mV", "v_reset": "-65 mV", "v_th": "-50 mV", "t_ref": "2 ms", **kw}
    return LIF(**base) if kind == "lif" else CubaLIF(**base)


def single_neuron(kind, drive, reset="hard"):
    net = Network(dt=DT)
    pop = net.population("p", 1, model(kind, reset=reset))
    if drive == "current":
        net.current(pop, amplitudes=["0.9 nA", "1.4 nA", "0.5 nA"], times=["0 ms", "40 ms", "70 ms"])
    else:  # dense spike input: many arrivals fall into refractory periods
        times = np.round(np.arange(0.0, 0.1, 7 * DT) / DT) * DT
        src = net.spike_source("s", 2, times=np.concatenate([times, times[::3] + 2 * DT]),
                               indices=[0] * times.size + [1] * times[::3].size)
        weight = "4 mV" if kind == "lif" else "2.5 nA"
        net.connect(src, pop, FromArrays([0, 1], [0, 0], delay=[0.0, 3 * DT]), weight=weight)
    spikes = net.spike_monitor(pop)
    variables = ("v",) if kind == "lif" else ("v", "i_exc")
    states = net.state_monitor(pop, variables)
    return net, spikes, states, variables


def test_registered_with_probe():
    assert backend_status()["brian2"][0]
    assert resolve_backend_name("brian2") == "brian2"


@pytest.mark.parametrize("kind", ["lif", "cuba"])
@pytest.mark.parametrize("drive", ["current", "spikes"])
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_single_neuron_same_spikes_and_traces(kind, drive, reset):
    out = []
    for backend in ("numpy", brian()):
        net, spikes, states, variables = single_neuron(kind, drive, reset)
        net.run("100 ms", backend=backend)
        out.append((spikes, states))
    (sa, xa), (sb, xb) = out
    assert sa.t.size >= 5  # it fires
    assert_same_spikes((sa.t, sa.i), (sb.t, sb.i))
    assert np.array_equal(xa.t, xb.t)
    for var in variables:
        scale = np.max(np.abs(xa[var]))
        assert np.max(np.abs(xa[var] - xb[var])) <= 1e-12 * scale


def test_brian_stamps_one_step_earlier():
    """The documented convention: Brian's own SpikeMonitor says t_m where neurosim says t_{m+1}."""
    net, spikes, _, _ = single_neuron("cuba", "current")
    net.run("100 ms", backend="numpy")
    other, _, _, _ = single_neuron("cuba", "current")
    tr = translate(other.layout, DT)
    tr.net.run(1000 * DT * brian2.second)
    assert np.max(np.abs(np.asarray(tr.spikes.t_) + DT - spikes.t)) <= TOL


def deterministic_network():
    """Spike sources, delays 0..5 steps, LIF (hard and soft reset, t_ref 0) and CubaLIF, recurrence."""
    net = Network(dt=DT)
    src = net.spike_source("src", 3, times=np.arange(0, 0.05, 0.0013), indices=np.arange(39) % 3)
    cub = net.population("cub", 4, CubaLIF(v_rest="-60 mV", v_reset="-62 mV", v_th="-50 mV", t_ref="1 ms",
                                             tau_syn_exc=["2 ms", "5 ms", "20 ms", "3 ms"]))
    soft = net.population("soft", 3, LIF(v_rest="-60 mV", v_reset="-60 mV", v_th="-52 mV", reset="soft", t_ref=0.0))
    hard = net.population("hard", 2, LIF(v_rest="-60 mV", v_reset="-65 mV", v_th="-52 mV", t_ref=0.0))
    net.connect(src, cub, FromArrays(np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3),
                                 delay=np.tile([0.0, 2 * DT, 5 * DT, DT], 3)), weight="1.2 nA")
    net.connect(src, soft, FixedProbability(1.0), weight="3 mV")
    net.connect(src, hard, FixedProbability(1.0), weight="4.5 mV", delay=DT)
    net.connect(cub, soft, FixedProbability(1.0), weight="1 mV", delay=3 * DT)
    net.connect(soft, hard, FixedProbability(1.0), weight="2 mV")  # delay 0 onto hard reset, t_ref 0
    net.connect(hard, cub, FixedProbability(1.0), weight="-0.8 nA", delay=DT)
    net.current(cub, amplitudes=["0 nA", "0.3 nA"], times=["0 ms", "20 ms"])
    mons = [net.spike_monitor(g) for g in (src, cub, soft, hard)]
    mons.append(net.state_monitor(cub, ("v", "i_exc", "i_inh"), interval="0.3 ms"))
    mons.append(net.rate_monitor(cub))
    return net, mons


def test_small_deterministic_network_same_spike_trains():
    out = []
    for backend in ("numpy", brian()):
        net, mons = deterministic_network()
        net.run("60 ms", backend=backend)
        out.append(mons)
    a, b = out
    assert all(m.t.size > 5 for m in a[:4])
    for ma, mb in zip(a[:4], b[:4]):
        assert_same_spikes((ma.t, ma.i), (mb.t, mb.i))
    for var in ("v", "i_exc", "i_inh"):
        assert np.allclose(a[4][var], b[4][var], rtol=1e-12, atol=1e-18)
    assert np.array_equal(a[5].rate, b[5].rate)


def test_random_network_with_poisson_drive_spike_for_spike():
    """Mixed LIF/CubaLIF network of test_engine: Poisson input (neurosim's counter-based draws fed
    to a SpikeGeneratorGroup), heterogeneous delays and thresholds, currents, soft reset."""
    out = []
    for backend in ("numba", brian()):
        net, mons = random_network()
        net.run("60 ms", backend=backend)
        out.append(mons)
    a, b = out
    for sa, sb in zip(spike_data(a), spike_data(b)):
        assert_same_spikes(sa, sb)
    for var in ("v", "i_exc", "i_inh"):
        assert np.allclose(a[3][var], b[3][var], rtol=1e-12, atol=1e-18)
    assert np.array_equal(a[5].rate, b[5].rate)


def test_continuing_runs_full_spike_buffer_and_switching_backends():
    ref_net, ref = random_network()
    ref_net.run("60 ms", backend="numba")
    # 300-step blocks overflow the 504-spike buffer: early returns, the rest handed out later
    split_net, split = random_network(block_steps=300, spike_capacity=64)
    split_net.run("25 ms", backend=brian())
    split_net.run("35 ms", backend=brian())
    switched, sw = random_network()
    switched.run("25 ms", backend="numba")  # the ring buffer's pending input carries over
    switched.run("35 ms", backend=brian())
    for other in (split, sw):
        for sa, sb in zip(spike_data(ref), spike_data(other)):
            assert_same_spikes(sa, sb)
        assert np.array_equal(ref[3].t, other[3].t)
        assert np.allclose(ref[3]["v"], other[3]["v"], rtol=1e-12)
    assert np.array_equal(ref[5].rate, split[5].rate)


def isi_cv(t, i, n):
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    cvs = []
    for k in range(n):
        isi = np.diff(t[i == k])
        if isi.size >= 3:
            cvs.append(isi.std() / isi.mean())
    return np.array(cvs)


def test_cuba_rate_and_isi_cv_agree():
    from scipy.stats import ks_2samp

    res = []
    for backend in ("numba", brian()):
        net = cuba.build(cuba.Params(), seed=1)
        net.run("1 s", backend=backend)
        t = np.concatenate([m.t for m in net.monitors])
        i = np.concatenate([m.i + m.target.offset for m in net.monitors])
        res.append((t.size / 4000.0, isi_cv(t, i, 4000)))
    (rate_a, cv_a), (rate_b, cv_b) = res
    assert 3.0 < rate_a < 10.0
    assert abs(rate_b / rate_a - 1) < 0.03
    assert cv_a.size > 1000 and cv_b.size > 1000
    assert ks_2samp(cv_a, cv_b).pvalue > 0.01
    assert abs(cv_a.mean() - cv_b.mean()) < 0.02


def test_plastic_projections_are_rejected():
    net = Network(dt=DT)
    src = net.spike_source("s", 1, times=[0.001], indices=[0])
    pop = net.population("p", 1, model("lif"))
    net.connect(src, pop, OneToOne(), weight="1 mV", plasticity=STDP(a_plus=0.01, a_minus=0.01, w_max="2 mV"))
    with pytest.raises(ValueError, match="plastic"):
        net.run("5 ms", backend=brian())


def test_nominal_dt_is_only_a_time_axis():
    """Brian's clock step does not enter the dynamics: a network with dt = 0.25 ms runs unchanged."""
    assert NOMINAL_DT == pytest.approx(1e-4)
    out = []
    for backend in ("numpy", brian()):
        net = Network(dt="0.25 ms")
        pop = net.population("p", 2, model("cuba"))
        net.current(pop, amplitudes=["0.9 nA"])
        net.connect(pop, pop, FromArrays([0], [1]), weight="1 nA", delay="1 ms")
        mon = net.spike_monitor(pop)
        net.run("80 ms", backend=backend)
        out.append((mon.t, mon.i))
    assert out[0][0].size > 5
    assert_same_spikes(out[0], out[1])
