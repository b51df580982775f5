"""Run a test network on every rank of ``mpirun -n K`` (or alone); rank 0 saves what it recorded.

    mpirun -n K python tests/mpi/run_network.py NAME OUT.npz

NAME: ``random`` (tests/test_engine.py's mixed network: currents, generators, Poisson sources,
delays 0 and more, state samples, rates), ``delayed`` (delays from neurons of at least 0.5 ms:
spikes exchanged every 6 steps; a spike buffer that fills every few steps),
``delayed_sources`` (the same with delayed synapses from its Poisson sources: exchanged every
step) or ``pd14`` (the microcircuit at scale 0.02). The exchange interval is saved too.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def delayed(source_delay: str):
    from neurosim import LIF, FixedProbability, Network, Uniform

    net = Network(dt="0.1 ms", seed=7, block_steps=45, spike_capacity=400)
    lif = LIF(v_rest="-60 mV", v_th="-50 mV", v_reset="-60 mV", t_ref="2 ms")
    exc = net.population("exc", 120, lif, v_init=Uniform("-60 mV", "-50 mV"))
    inh = net.population("inh", 30, lif, v_init=Uniform("-60 mV", "-50 mV"))
    noise = net.poisson_source("noise", 40, rate="300 Hz")
    net.connect(noise, exc, FixedProbability(0.3), weight="1.5 mV", delay=source_delay)
    net.connect(noise, inh, FixedProbability(0.3), weight="1.5 mV")
    net.connect(exc, exc, FixedProbability(0.1), weight="0.4 mV", delay=Uniform("0.5 ms", "3 ms"))
    net.connect(exc, inh, FixedProbability(0.2), weight="0.6 mV", delay="0.5 ms")
    net.connect(inh, exc, FixedProbability(0.3), weight="-1.5 mV", delay=Uniform("0.5 ms", "1 ms"))
    monitors = [net.spike_monitor(exc), net.spike_monitor(inh), net.spike_monitor(noise),
                net.state_monitor(exc, ["v"], indices=[0, 5, 77])]
    return net, monitors, "80 ms"


def build(name: str):
    if name == "delayed":
        return delayed("0 ms")
    if name == "delayed_sources":
        return delayed("0.7 ms")
    if name == "random":
        from test_engine import random_network

        net, monitors = random_network(block_steps=50, spike_capacity=4096)
        return net, monitors, "60 ms"
    from neurosim.models import pd14

    net = pd14.build(pd14.Params(scale=0.02, k_scale=1.0), seed=4)
    net.block_steps = 300
    return net, net.monitors, "0.1 s"


class Alone:
    """The communicator of one process, for ``exchange_interval``."""

    @staticmethod
    def allgather(value: int) -> list[int]:
        return [value]


def main() -> None:
    from neurosim.distributed import launched_by_mpirun, world

    name, out = sys.argv[1], sys.argv[2]
    net, monitors, duration = build(name)
    comm = world() if launched_by_mpirun() else None
    net.distribute(comm)
    net.run(duration, backend="numba")
    from neurosim.engine.ranks import exchange_interval

    every = exchange_interval(net.layout, comm or Alone())
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
        data["every"] = np.array(every)
        np.savez(out, **data)


if __name__ == "__main__":
    main()
