"""neurosim.engine.jit_cache: a cached kernel is recompiled when code it compiles in from another
module changes (plain numba ``cache=True`` would load the stale machine code), and loaded from
the cache when nothing changed."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from numba.core.caching import NullCache

from neurosim.engine import jit_cache

ROOT = Path(__file__).resolve().parents[1]

HELPER = '''
from neurosim.engine.jit_cache import njit

OFFSET = 0.0


@njit(cache=True, inline="always")
def scaled(x):
    return x * 2.0 + OFFSET
'''
KERNEL = '''
from neurosim.engine.jit_cache import njit
from pkg.helper import scaled


@njit(cache=True)
def kernel(x):
    return scaled(x) + 1.0


def specialised(c):
    @njit(cache=True)
    def closure_kernel(x):  # one index file for every c, one entry per c
        return scaled(x) + c
    return closure_kernel
'''
PLAIN = '''
from numba import njit
from pkg.helper import scaled


@njit(cache=True)
def plain_kernel(x):
    return scaled(x) + 1.0
'''
RUN = '''
import json
from pkg.kernel import kernel, specialised
from pkg.plain import plain_kernel

closures = [specialised(1.0), specialised(-1.0)]
ours, plain, spec = kernel(1.0), plain_kernel(1.0), [k(1.0) for k in closures]
kernels = [kernel, *closures]
assert spec == [ours, ours - 2.0], (spec, ours)
print(json.dumps({"ours": ours, "plain": plain, "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
                  "misses": sum(sum(k.stats.cache_misses.values()) for k in kernels)}))
'''


def _run(tmp: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{tmp}{os.pathsep}{ROOT}", "PYTHONDONTWRITEBYTECODE": "1",
           "NUMBA_CACHE_DIR": str(tmp / "numba_cache")}
    proc = subprocess.run([sys.executable, "-c", RUN], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def test_editing_an_inlined_helper_in_another_module_recompiles_and_unchanged_code_loads(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name, text in {"__init__": "", "helper": HELPER, "kernel": KERNEL, "plain": PLAIN}.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(text))

    first = _run(tmp_path)
    assert first == {"ours": 3.0, "plain": 3.0, "hits": 0, "misses": 3}
    assert _run(tmp_path) == {"ours": 3.0, "plain": 3.0, "hits": 3, "misses": 0}  # loaded, not compiled

    _edit(pkg / "helper.py", "x * 2.0", "x * 3.25")  # the helper's code
    edited = _run(tmp_path)
    assert edited["ours"] == 4.25 and edited["misses"] == 3 and edited["hits"] == 0
    assert edited["plain"] == 3.0  # plain numba: kernel file unchanged, so the stale machine code is loaded
    assert _run(tmp_path)["hits"] == 3

    _edit(pkg / "helper.py", "OFFSET = 0.0", "OFFSET = 0.5")  # a global constant the helper reads
    assert _run(tmp_path) == {"ours": 4.75, "plain": 3.0, "hits": 0, "misses": 3}
    assert _run(tmp_path) == {"ours": 4.75, "plain": 3.0, "hits": 3, "misses": 0}


def test_the_numba_kernel_fingerprint_covers_the_plasticity_rules_and_the_rng(monkeypatch):
    from neurosim.engine import numba_backend, rng
    from neurosim.plasticity import rules

    funcs, _ = jit_cache.reached(numba_backend._before_neurons.py_func)
    for func in (rules.potentiate, rules.depress, rules.same_step_trace, rules.next_trace, rules.modulator_step,
                 rng.splitmix64, rng.uniform_jit.py_func):
        assert func in funcs, func.__qualname__
    # the weight updates are generated from the rule's statements: other statements, other code
    altered = rules._generate("potentiate", rules.POTENTIATION[:-1] + (("moved", "w - dw"),),
                              rules.POTENTIATION_ARGS, {})
    assert jit_cache._code_token(altered.__code__) != jit_cache._code_token(rules.potentiate.__code__)
    before = jit_cache.fingerprint(numba_backend._before_neurons.py_func)
    assert jit_cache.fingerprint(numba_backend._before_neurons.py_func) == before  # deterministic
    monkeypatch.setattr(rng, "_STEP_KEY", rng._STEP_KEY + np.uint64(2))  # a constant frozen into the kernel
    assert jit_cache.fingerprint(numba_backend._before_neurons.py_func) != before


def test_the_block_kernel_fingerprint_covers_the_generated_neuron_update():
    from neurosim.engine import numba_backend
    from neurosim.neurons import LIF, CubaLIF

    lif, cuba = numba_backend.block_kernel((LIF().compiled,)), numba_backend.block_kernel((CubaLIF().compiled,))
    funcs, text = jit_cache.reached(lif.py_func)
    assert numba_backend._before_neurons.py_func in funcs and numba_backend._after_neurons.py_func in funcs
    assert any(f.__name__.startswith("segment_0_") for f in funcs)  # the generated model loop is part of the key
    assert jit_cache.fingerprint(lif.py_func) != jit_cache.fingerprint(cuba.py_func)
    # the same models compiled afresh (as in a new process) give the same key: the cache is found again
    numba_backend.block_kernel.cache_clear()
    numba_backend.update_function.cache_clear()
    assert jit_cache.fingerprint(numba_backend.block_kernel((LIF().compiled,)).py_func) == \
        jit_cache.fingerprint(lif.py_func)


def test_a_models_block_kernel_loads_from_the_cache_in_a_new_process(tmp_path):
    child = (
        "import numba, sys\n"
        "from neurosim.network import Network\n"
        "from neurosim.neurons import Izhikevich\n"
        "from neurosim.engine.numba_backend import block_kernel\n"
        "net = Network(dt=1e-4, seed=0)\n"
        "pop = net.population('p', 5, Izhikevich(i_bias='10 nA'))\n"
        "net.run('1 ms', backend='numba')\n"
        "k = block_kernel(net.layout.models)\n"
        "print(sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values()))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert runs[0].stdout.split() == ["0", "1"]  # compiled
    assert runs[1].stdout.split() == ["1", "0"]  # loaded


def test_every_cached_kernel_of_the_engine_and_models_uses_the_dependency_cache():
    import importlib

    from neurosim.train import kernels_cpu

    names = ["neurosim.engine.numba_backend", "neurosim.engine.rng", "neurosim.models.chain_rng",
             "neurosim.models.overlap_mc", "neurosim.models.hopfield.classical", "neurosim.models.lsm.kernel"]
    dispatchers = [v for n in names for v in vars(importlib.import_module(n)).values()
                   if isinstance(v, numba.core.dispatcher.Dispatcher)
                   and v.py_func.__module__ == n]
    dispatchers += [kernels_cpu._forward_kernel(False), kernels_cpu._backward_kernel(True, 0, True)]
    cached = [d for d in dispatchers if not isinstance(d._cache, NullCache)]
    assert len(cached) >= 25 and all(isinstance(d._cache, jit_cache.DependencyCache) for d in cached)
    assert {"_before_neurons", "_after_neurons", "uniform_jit", "scan_forward", "scan_backward"} <= \
        {d.py_func.__name__ for d in cached}


def test_explicit_signatures_are_refused():
    with pytest.raises(TypeError, match="signatures"):
        jit_cache.njit("float64(float64)", cache=True)


def test_two_models_kernels_loaded_from_the_cache_in_one_process_keep_their_own_code(tmp_path):
    """numba names compiled functions after their qualified name and a per-process counter: two
    kernels compiled in different processes and loaded into one could define one symbol twice,
    and a call in the second reached the first model's neuron update (COBAHH ran CobaLIF's)."""
    child = (
        "from neurosim.network import Network\n"
        "from neurosim.neurons import CobaLIF, HodgkinHuxley\n"
        "def run(model, bias):\n"
        "    net = Network(dt=1e-4, seed=0)\n"
        "    pop = net.population('p', 3, model(i_bias=bias))\n"
        "    net.run('50 ms', backend='numba')\n"
        "    return net.spike_counts['p']\n"
        "import sys\n"
        "order = sys.argv[1].split(',')\n"
        "out = {name: run({'coba': CobaLIF, 'hh': HodgkinHuxley}[name], {'coba': '400 pA', 'hh': '1 nA'}[name]) for name in order}\n"
        "print(out.get('coba', -1), out.get('hh', -1))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    run = lambda order: subprocess.run([sys.executable, "-c", child, order], env=env, capture_output=True,  # noqa: E731
                                       text=True, check=True).stdout.split()
    alone = {"coba": run("coba")[0], "hh": run("hh")[1]}  # each compiled in a process of its own
    assert int(alone["coba"]) > 0 and int(alone["hh"]) > 0
    assert run("coba,hh") == [alone["coba"], alone["hh"]]  # both loaded from the cache into one process
    assert run("hh,coba") == [alone["coba"], alone["hh"]]
