"""``setup``, ``end``, ``run``, ``reset`` and the state queries (PyNN's ``control`` of a backend)."""

from __future__ import annotations

from pyNN import common
from pyNN.common.control import DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from neurosim.pynn import simulator


def setup(timestep=DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY, **extra_params):
    """Start a new simulation with time step ``timestep`` (ms).

    neurosim's own options: ``seed`` (root seed of the native network: Poisson spikes),
    ``backend`` ("auto", "numba", "numpy", ...) and ``precision`` ("float64", "float32").
    """
    common.setup(timestep, min_delay, **extra_params)
    state = simulator.state
    state.clear()
    state.dt = timestep
    state.min_delay = min_delay
    state.max_delay = extra_params.get("max_delay", DEFAULT_MAX_DELAY)
    state.seed = int(extra_params.get("seed", extra_params.get("rng_seed", 0)))
    state.backend = extra_params.get("backend", "auto")
    state.precision = extra_params.get("precision", "float64")
    state.mpi_rank, state.num_processes = 0, 1
    return rank()


def end(compatible_output=True):
    """Write the data asked for by ``record(..., to_file=...)`` and forget the network."""
    state = simulator.state
    for population, variables, filename in state.write_on_end:
        population.write_data(get_io(filename), variables)
    state.write_on_end = []


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize
get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = \
    common.build_state_queries(simulator)
