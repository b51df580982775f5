"""First-compile and cached-start times of the numba kernel of every neuron model.

    python benchmarks/compile_times.py                  # every model of neurosim.neurons.MODELS
    python benchmarks/compile_times.py --models LIF,AdEx

Each measurement runs in a fresh Python process with a fresh numba cache directory shared by
the run: a 50-neuron recurrent network of the model runs 10 ms on the numba backend, and the
time of its first ``Network.run`` (compilation or cache load included) is reported.

- ``shared_phases_s``: the first run of a warm-up model written as equations
  (``dv/dt = -v/tau``), which also compiles the phases every model shares (sources,
  plasticity, delivery: compiled once, then cached).
- per model ``first_compile_s``: the first run of that model (its generated neuron update and
  the block loop; the shared phases load from the cache);
- per model ``cached_start_s``: the same run in a new process, everything loaded from the cache.

The last line of the output is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = """
import time
import neurosim.neurons as nn
from neurosim.network import Network
from neurosim.connectivity import FixedProbability
if {name!r} == "warmup":
    model = nn.EquationModel(name="warmup", equations="dv/dt = -v/tau : volt", threshold="v > v_th",
                             reset="v = 0*mV", parameters={{"tau": "10 ms", "v_th": "1 mV", "v_rest": "0 mV"}})
else:
    model = getattr(nn, {name!r})()
net = Network(dt=1e-4, seed=1)
pop = net.population("p", 50, model)
net.connect(pop, pop, FixedProbability(0.2), weight=0.0)
net.spike_monitor(pop)
t = time.perf_counter()
net.run("10 ms", backend="numba")
print(time.perf_counter() - t)
"""


def _time(name: str, cache: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", _CHILD.format(name=name)], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from neurosim.neurons import MODELS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    args = parser.parse_args()
    names = [m for m in args.models.split(",") if m]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r} (known: {', '.join(MODELS)})")
    result: dict[str, dict[str, float] | float] = {}
    with tempfile.TemporaryDirectory() as cache:
        result["shared_phases_s"] = round(_time("warmup", cache), 2)
        print(f"warm-up model with the shared phases: {result['shared_phases_s']:.2f} s", flush=True)
        for name in names:
            first, cached = _time(name, cache), _time(name, cache)
            result[name] = {"first_compile_s": round(first, 2), "cached_start_s": round(cached, 2)}
            print(f"{name:15s} first compile {first:6.2f} s   cached start {cached:5.2f} s", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
