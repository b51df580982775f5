"""The cuda backend: its kernels under numba's CUDA simulator match the numba backend bit for
bit (float64), block by block; registry, ``auto`` and ``neurosim info``; on a GPU, statistics."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neurosim.engine.registry import backend_status, resolve_backend_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a child process: numba reads NUMBA_ENABLE_CUDASIM when it is imported.
SIMULATED = r"""
import json, sys
sys.path.insert(0, "tests")
import numpy as np
from neurosim import LIF, FromArrays, Network, STDP
from neurosim.engine.registry import backend_status, get_backend, resolve_backend_name
from neurosim.engine import cuda_kernels
from test_engine import random_network

assert cuda_kernels.SIMULATED
report = {"auto": resolve_backend_name("auto"), "cuda_usable": backend_status()["cuda"][0]}


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
                            st.vars.copy(), st.ref.copy(), st.i_ext.copy(), layout.syn.buf.copy()])
        return ran


def compare(label, make, durations):
    runs = {}
    for name in ("numba", "cuda"):
        net, mons = make()
        backend = Recorder(name)
        for d in durations:
            if callable(d):
                d(net)
            else:
                net.run(d, backend=backend)
        runs[name] = (net, mons, backend.blocks, backend.early)
    (_, ma, ba, early), (_, mc, bc, _) = runs["numba"], runs["cuda"]
    blocks_equal = len(ba) == len(bc) and all(
        all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, c)) for a, c in zip(ba, bc))
    monitors_equal = all(np.array_equal(a.t, c.t) and np.array_equal(a.i, c.i) for a, c in zip(ma[:3], mc[:3]))
    monitors_equal &= all(np.array_equal(ma[3][v], mc[3][v]) for v in ("v", "i_exc", "i_inh"))
    monitors_equal &= np.array_equal(ma[4]["v"], mc[4]["v"]) and np.array_equal(ma[5].rate, mc[5].rate)
    report[label] = {"blocks": len(ba), "early_returns": int(early),
                     "spikes": int(sum(m.t.size for m in ma[:3])), "blocks_equal": bool(blocks_equal),
                     "monitors_equal": bool(monitors_equal)}


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

net = Network()
pre = net.spike_source("pre", 1, times=[1e-3], indices=[0])
post = net.population("post", 1, LIF())
net.connect(pre, post, FromArrays([0], [0]), weight="1 mV", plasticity=STDP(a_plus="0.1 mV", a_minus="0.1 mV", w_max="5 mV"))
try:
    net.run("1 ms", backend="cuda")
    report["plastic"] = "ran"
except ValueError as exc:
    report["plastic"] = str(exc)
def kick(net):  # the host edits the state between runs: the device copy must follow
    net.layout.state.v[::2] += 4e-3
    net.layout.state.i_ext[:10] += 1e-10


compare("host_edit", lambda: random_network(), ["10 ms", kick, "10 ms"])
print(json.dumps(report))
"""


def test_cuda_kernels_under_the_simulator_match_numba_bit_for_bit():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-c", SIMULATED], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["cuda_usable"] and report["auto"] == "numba"  # auto never picks the simulator
    one, split = report["one_block"], report["split"]
    assert one["spikes"] > 150 and one["blocks"] == 1
    assert one["blocks_equal"] and one["monitors_equal"]
    assert split["blocks"] > 5 and split["early_returns"] > 3  # the spike buffer forced early returns
    assert split["blocks_equal"] and split["monitors_equal"]
    assert report["host_edit"]["blocks_equal"] and report["host_edit"]["monitors_equal"]
    assert report["plastic"] == "simulation.backend: the cuda backend does not support plastic projections yet"


def test_cuda_is_registered_and_auto_picks_it_only_with_a_gpu():
    from neurosim.engine.cuda_backend import gpu_probe
    from neurosim.info import collect, format_info

    gpu, why = gpu_probe()
    assert "cuda" in backend_status()
    assert resolve_backend_name("auto") == ("cuda" if gpu else "numba")
    info = collect()
    assert info["auto_backend"] == resolve_backend_name("auto")
    assert why in info["auto_reason"] and info["cuda"] == {"usable": gpu, "detail": why}
    assert f"auto backend: {info['auto_backend']} (" in format_info(info)


def test_cuda_on_a_gpu_agrees_with_numba_statistically_or_is_refused_without_one():
    """With a GPU: CUBA's mean rate within 1 % of numba's (float atomics reorder additions, so the
    runs need not agree bit for bit). Without one, asking for ``cuda`` names the reason."""
    from neurosim.engine.cuda_backend import gpu_probe
    from neurosim.models.cuba import Params, build

    if not gpu_probe()[0]:
        with pytest.raises(ValueError, match=r"simulation\.backend: 'cuda' is not usable here"):
            resolve_backend_name("cuda")
        return
    rates = {}
    for backend in ("numba", "cuda"):
        net = build(Params(n=4000), seed=0)
        net.run("1 s", backend=backend)
        rates[backend] = sum(m.t.size for m in net.monitors) / 4000
    assert rates["cuda"] == pytest.approx(rates["numba"], rel=0.01)
    assert np.isfinite(rates["cuda"]) and 5.0 < rates["cuda"] < 6.5
