"""Run a test network on every rank of ``mpirun -n K`` (or alone); rank 0 saves what it recorded.

    mpirun -n K python tests/mpi/run_network.py NAME OUT.npz

NAME: ``random`` (tests/test_engine.py's mixed network: currents, generators, Poisson sources,
delays 0 and more, state samples, rates) or ``pd14`` (the microcircuit at scale 0.02).
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(name: str):
    if name == "random":
        from test_engine import random_network

        net, monitors = random_network(block_steps=50, spike_capacity=4096)
        return net, monitors, "60 ms"
    from neurosim.models import pd14

    net = pd14.build(pd14.Params(scale=0.02, k_scale=1.0, thalamus=True, thalamus_start="20 ms"), seed=4)
    net.block_steps = 300
    return net, net.monitors, "0.1 s"


def main() -> None:
    from neurosim.distributed import launched_by_mpirun, world

    name, out = sys.argv[1], sys.argv[2]
    net, monitors, duration = build(name)
    comm = world() if launched_by_mpirun() else None
    net.distribute(comm)
    net.run(duration, backend="numba")
    if comm is None or comm.rank == 0:
        from neurosim.monitors import RateMonitor, StateMonitor

        data = {}
        for k, m in enumerate(monitors):
            data[f"{k}_t"] = m.t
            if isinstance(m, StateMonitor):
                data.update({f"{k}_{var}": m[var] for var in m.variables})
            elif isinstance(m, RateMonitor):
                data[f"{k}_rate"] = m.rate
            else:
                data[f"{k}_i"] = m.i
        data["spike_counts"] = np.array([net.spike_counts.get(g.name, 0) for g in net.groups])
        np.savez(out, **data)


if __name__ == "__main__":
    main()
