"""The user-facing network: describe populations, sources, connections and monitors, then run.

    net = Network(dt="0.1 ms", seed=1)
    exc = net.population("exc", 3200, CubaLIF(...), v_init=Uniform("-60 mV", "-50 mV"))
    net.connect(exc, exc, FixedProbability(0.02), weight="16.2 pA")
    spikes = net.spike_monitor(exc)
    net.run("1 s")            # may be called again: continues from the current state

``exc[:800]`` is a :class:`~neurosim.subgroup.Subgroup`: it can be connected, stimulated and
recorded like a population; ``net.spike_monitor([exc, inh])`` records several groups in one
monitor with global neuron ids (:class:`~neurosim.monitors.MergedSpikeMonitor`).

The user says what the model is; the engine (a backend of :mod:`neurosim.engine`) decides
how to run it. The structure is frozen by the first ``run``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from neurosim import checkpoint
from neurosim.connectivity.connectors import Connector, grid_positions
from neurosim.engine.footprint import check_fits
from neurosim.engine.layout import N_ROWS, N_SPIKES, SPIKE_SLACK, Layout, spike_slack
from neurosim.distributed import merged_block
from neurosim.engine.ranks import RankBackend
from neurosim.engine.registry import Backend, get_backend, resolve_backend_name
from neurosim.flatten import block_steps_for, build_layout, generator_spikes
from neurosim.inputs import CurrentInput
from neurosim.modulator import Modulator
from neurosim.monitors import MergedSpikeMonitor, Monitor, RateMonitor, SpikeMonitor, StateMonitor
from neurosim.neurons.base import NeuronModel
from neurosim.noise_input import NoiseInput
from neurosim.poisson_input import PoissonInput
from neurosim.population import Group, PoissonSource, Population, SpikeSource
from neurosim.projection import Projection
from neurosim.sinks import MemorySink, Sink
from neurosim.subgroup import Subgroup, parent_of
from neurosim.units import parse_quantity, show, steps

PRECISIONS = ("float32", "float64")
#: progress callback: (steps done in this run, steps of this run)
Progress = Callable[[int, int], None]


class Network:
    """A spiking network with time step ``dt`` (s), root ``seed`` and float ``precision``.

    Every random choice (connectivity, initial values, Poisson spikes) derives from ``seed``
    through :class:`numpy.random.SeedSequence` keyed by the element's kind and creation
    index, so a run is reproducible whatever the backend's thread count. ``threads`` > 1 splits
    the neurons of a static network into that many parts that the numba backend runs in
    parallel (:class:`~neurosim.engine.layout.Parts`), with the same spikes as one thread.
    """

    def __init__(self, dt: Any = "0.1 ms", seed: int = 0, precision: str = "float64",
                 block_steps: int = 10_000, spike_capacity: int = 1 << 20, threads: int = 1):
        self.dt = parse_quantity(dt, "time", "simulation.dt")
        if not self.dt > 0:
            raise ValueError(f"simulation.dt: must be > 0, got {show(dt)}")
        if precision not in PRECISIONS:
            raise ValueError(f"simulation.precision: must be one of {PRECISIONS}, got {precision!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"simulation.seed: must be a non-negative integer, got {show(seed)}")
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"simulation.threads: must be a positive integer, got {show(threads)}")
        self.seed = int(seed)
        self.threads = int(threads)
        #: the MPI communicator when the network is one rank's share (:meth:`distribute`)
        self.comm: Any = None
        self.precision = precision
        #: bytes the layout may take (None: the memory available when it is built); see engine/footprint.py
        self.memory_limit: float | None = None
        self.block_steps = int(block_steps)
        self.spike_capacity = int(spike_capacity)
        self.groups: list[Group] = []
        self.projections: list[Projection] = []
        self.currents: list[CurrentInput] = []
        self.poisson_inputs: list[PoissonInput] = []
        self.noise_inputs: list[NoiseInput] = []
        self.monitors: list[Monitor] = []
        self.modulators: list[Modulator] = []
        self._layout: Layout | None = None
        self._step = 0
        #: the backend of the latest run and whether a checkpoint was restored (see :mod:`neurosim.checkpoint`)
        self._ran_on: str | None = None
        self._restored = False
        #: spikes emitted so far by each group (name -> count), recorded or not
        self.spike_counts: dict[str, int] = {}

    # ----------------------------------------------------------------- description
    def rng(self, kind: str, index: int) -> np.random.Generator:
        """Generator for element ``index`` of ``kind``: independent of creation of other kinds."""
        kinds = {"connect": 1, "v_init": 2, "initial": 5}
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(kinds[kind], index)))

    @property
    def populations(self) -> list[Population]:
        return [g for g in self.groups if isinstance(g, Population)]

    def _add_group(self, group: Group) -> Group:
        self._check_mutable()
        if any(g.name == group.name for g in self.groups):
            raise ValueError(f"population.{group.name}: a population of that name exists already")
        self.groups.append(group)
        return group

    def population(self, name: str, size: int, model: NeuronModel, v_init: Any = None,
                   positions: Any = None, grid: tuple[int, int, int] | None = None,
                   initial: dict[str, Any] | None = None) -> Population:
        """Add ``size`` neurons of ``model``; ``grid=(nx, ny, nz)`` places them on a 3-D grid;
        ``initial`` sets state variables other than ``v`` (see :class:`Population`)."""
        if grid is not None:
            if int(np.prod(grid)) != size:
                raise ValueError(f"population.{name}.grid: {grid} holds {int(np.prod(grid))} neurons, not {size}")
            positions = grid_positions(tuple(grid))
        return self._add_group(Population(self, name, size, model=model, v_init=v_init, positions=positions,
                                          initial=initial))

    def poisson_source(self, name: str, size: int, rate: Any, start: Any = 0.0, stop: Any = None) -> PoissonSource:
        """Add ``size`` independent Poisson sources of ``rate`` (Hz, scalar or one per source) in [start, stop).

        Each source spikes at most once per step, with probability ``rate·dt`` (as Brian2's
        ``PoissonGroup``): the mean rate is exact, and ``rate·dt > 1`` is refused (ValueError
        naming the field). Drive that needs several spikes per step, such as Brunel's C_ext·ν_ext
        onto each neuron, takes that many sources of the single rate.
        """
        return self._add_group(PoissonSource(self, name, size, rate=rate, start=start, stop=stop))

    def spike_source(self, name: str, size: int, times: Any, indices: Any) -> SpikeSource:
        """Add ``size`` sources that spike at ``times`` (s), source ``indices[k]`` at ``times[k]``."""
        return self._add_group(SpikeSource(self, name, size, times=times, indices=indices))

    def _own(self, group: Any, field: str) -> Group | Subgroup:
        if not isinstance(parent_of(group), Group):
            raise ValueError(f"{field}: expected a population of this network, got {group!r}")
        if group.network is not self:
            raise ValueError(f"{field}: population {group.name!r} belongs to another network")
        return group

    def connect(self, pre: Group | Subgroup, post: Population | Subgroup, connector: Connector,
                weight: Any = None, delay: Any = None, receptor: str = "auto", name: str | None = None,
                plasticity: Any = None) -> Projection:
        """Connect ``pre`` to ``post``: see :class:`~neurosim.projection.Projection`; ``plasticity``
        (e.g. :class:`~neurosim.plasticity.STDP`) makes the weights learn."""
        self._check_mutable()
        name = name or f"{getattr(pre, 'name', '?')}_to_{getattr(post, 'name', '?')}"
        self._own(pre, f"connection.{name}.pre")
        self._own(post, f"connection.{name}.post")
        if not isinstance(parent_of(post), Population):
            raise ValueError(f"connection.{name}.post: {post.name!r} is a spike source and cannot receive synapses")
        if any(p.name == name for p in self.projections):
            raise ValueError(f"connection.{name}: a connection of that name exists already")
        proj = Projection(name, pre, post, connector, weight, delay, receptor, self.dt,
                          self.rng("connect", len(self.projections)), np.dtype(self.precision), plasticity)
        self.projections.append(proj)
        return proj

    def modulator(self, name: str, tau: Any, weight: Any, bias: Any, targets: Any, drive: Any = (),
                  acts_on: str = "depression", initial: Any = None) -> Modulator:
        """Add a learning-rate modulator: ``A <- A + (weight * sum_g c_g n_g + bias - A) / (tau/dt)``
        each step, ``A`` the learning-rate factor of ``targets``; see :class:`~neurosim.modulator.Modulator`."""
        self._check_mutable()
        if any(m.name == name for m in self.modulators):
            raise ValueError(f"modulator.{name}: a modulator of that name exists already")
        mod = Modulator(self, name, tau, weight, bias, targets, drive, acts_on, initial)
        for m in self.modulators:
            for k, target in enumerate(mod.targets):
                if target in m.targets:
                    raise ValueError(f"modulator.{name}.targets.{k}: the {target[1]} of {target[0].name!r} is "
                                     f"modulated by {m.name!r} already")
        mod.index = len(self.modulators)
        self.modulators.append(mod)
        return mod

    def current(self, target: Population | Subgroup, amplitudes: Any, times: Any = 0.0,
                indices: Any = None) -> CurrentInput:
        """Inject a piecewise-constant current: ``amplitudes[k]`` (A) from ``times[k]`` (s) on."""
        self._check_mutable()
        self._own(target, "current.target")
        if not isinstance(parent_of(target), Population):
            raise ValueError(f"current.target: {target.name!r} is a spike source")
        inp = CurrentInput(target, times=times, amplitudes=amplitudes, indices=indices)
        self.currents.append(inp)
        return inp

    def poisson_input(self, target: Population | Subgroup, n: int, rate: Any, weight: Any, receptor: str = "auto",
                      start: Any = 0.0, stop: Any = None, name: str | None = None) -> PoissonInput:
        """Independent Poisson input from ``n`` virtual synapses of ``rate`` and ``weight`` into
        every neuron of ``target``: see :class:`~neurosim.poisson_input.PoissonInput` (Brian2's
        ``PoissonInput``)."""
        self._check_mutable()
        name = name or f"{getattr(parent_of(target), 'name', 'input')}_poisson_{len(self.poisson_inputs)}"
        self._own(target, f"input.{name}.target")
        if any(i.name == name for i in self.poisson_inputs):
            raise ValueError(f"input.{name}: an input of that name exists already")
        inp = PoissonInput(name, target, n, rate, weight, self.dt, receptor, start, stop)
        self.poisson_inputs.append(inp)
        return inp

    def noise_input(self, target: Population | Subgroup, sigma: Any, mean: Any = 0.0, variable: str | None = None,
                    start: Any = 0.0, stop: Any = None, name: str | None = None) -> NoiseInput:
        """White noise ``sigma`` (intensity, [x]/√s) and drift ``mean`` ([x]/s) into state variable
        ``variable`` of every neuron of ``target``: see :class:`~neurosim.noise_input.NoiseInput`
        (Ornstein–Uhlenbeck currents and conductances, integrated exactly)."""
        self._check_mutable()
        name = name or f"{getattr(parent_of(target), 'name', 'noise')}_noise_{len(self.noise_inputs)}"
        self._own(target, f"noise.{name}.target")
        if any(i.name == name for i in self.noise_inputs):
            raise ValueError(f"noise.{name}: a noise input of that name exists already")
        noise = NoiseInput(name, target, sigma, self.dt, mean, variable, start, stop)
        self.noise_inputs.append(noise)
        return noise

    def _add_monitor(self, monitor: Monitor) -> Monitor:
        self._check_mutable()
        for target in getattr(monitor, "targets", (monitor.target,)):
            self._own(target, f"record.{monitor.name}.population")
        if any(m.name == monitor.name for m in self.monitors):
            raise ValueError(f"record.{monitor.name}: a monitor of that name exists already")
        self.monitors.append(monitor)
        return monitor

    def spike_monitor(self, target: Any, indices: Any = None, name: str | None = None,
                      sink: Sink | None = None) -> SpikeMonitor | MergedSpikeMonitor:
        """Record the spikes of a population or subgroup (local ids), or of a list of them in one
        :class:`~neurosim.monitors.MergedSpikeMonitor` (global ids; ``indices`` not allowed)."""
        if isinstance(target, (list, tuple)):
            if not target or indices is not None:
                raise ValueError(f"record.{name or 'spikes'}.populations: a merged spike monitor needs at least "
                                 "one population and records all their neurons (no indices)")
            for k, g in enumerate(target):
                self._own(g, f"record.{name or 'spikes'}.populations.{k}")
            name = name or "spikes_" + "_".join(g.name for g in target)
            return self._add_monitor(MergedSpikeMonitor(name, target[0], sink or MemorySink(), targets=target))
        return self._add_monitor(SpikeMonitor(name or f"spikes_{target.name}", target, sink or MemorySink(),
                                              indices=indices))

    def state_monitor(self, target: Population | Subgroup, variables: Any = ("v",), indices: Any = None,
                      interval: Any = None, name: str | None = None, sink: Sink | None = None) -> StateMonitor:
        return self._add_monitor(StateMonitor(name or f"state_{target.name}", target, sink or MemorySink(),
                                              variables=variables, indices=indices, interval=interval))

    def rate_monitor(self, target: Group | Subgroup, name: str | None = None,
                     sink: Sink | None = None) -> RateMonitor:
        return self._add_monitor(RateMonitor(name or f"rate_{target.name}", target, sink or MemorySink()))

    def distribute(self, comm: Any) -> None:
        """Make this network one rank's share of the network all ranks of ``comm`` (an mpi4py
        communicator) describe alike: see :mod:`neurosim.distributed`. Call on every rank before
        the network is built; the recordings then arrive on rank 0."""
        self._check_mutable()
        self.comm = comm if comm is not None and comm.size > 1 else None

    def _check_mutable(self) -> None:
        if self._layout is not None:
            raise RuntimeError("the network's structure is frozen once it has run; build a new Network")

    # ----------------------------------------------------------------- simulation
    @property
    def t(self) -> float:
        """Current simulation time (s)."""
        return self._step * self.dt

    @property
    def layout(self) -> Layout:
        """The flat arrays the engine runs on (built on first access)."""
        if self._layout is None:
            if not self.populations:
                raise ValueError("model: the network has no neuron population")
            check_fits(self, self.memory_limit, "Network.memory_limit (bytes)")
            self.block_steps = block_steps_for(self, self.block_steps)
            # room for two steps of every element spiking, and a step's repeated generator spikes
            self.spike_capacity = max(self.spike_capacity, 2 * sum(g.size for g in self.groups)
                                      + spike_slack(*generator_spikes(self)))
            if self.comm is not None and any(p.plasticity is not None for p in self.projections):
                raise ValueError("simulation: plastic networks run in one process; run this one without mpirun")
            self._layout = build_layout(self)
        return self._layout

    def backend_name(self, backend: str = "auto") -> str:
        """The backend ``backend`` stands for on this network (``auto``: by its size and plasticity,
        see :func:`neurosim.engine.registry.auto_choice`)."""
        return resolve_backend_name(backend, sum(p.size for p in self.populations),
                                    any(p.plasticity is not None for p in self.projections))

    def warm_up(self, backend: str | Backend = "auto") -> None:
        """Build the layout and compile (or load from cache) the backend's kernel: a run of 0 steps."""
        engine = get_backend(self.backend_name(backend)) if isinstance(backend, str) else backend
        engine.run_block(self.layout, self._step, 0)

    def run(self, duration: Any, backend: str | Backend = "auto", progress: Progress | None = None) -> None:
        """Simulate ``duration`` (s, or a unit string) more, continuing from the current state."""
        n = steps(parse_quantity(duration, "time", "simulation.duration"), self.dt, "simulation.duration")
        engine = get_backend(self.backend_name(backend)) if isinstance(backend, str) else backend
        layout = self.layout
        if self.comm is not None:
            if engine.name != "numba":
                raise ValueError(f"simulation.backend: a network spread over MPI ranks runs on the numba backend, "
                                 f"not {engine.name!r}")
            engine = RankBackend(self.comm)
        elif layout.n_parts > 1 and engine.name != "numba":
            raise ValueError(f"simulation.threads: only the numba backend runs a network on several threads "
                             f"(threads = {self.threads}); the backend is {engine.name!r}")
        name = getattr(engine, "name", type(engine).__name__)  # a caller's own backend object may have none
        if self._restored and name not in checkpoint.BACKENDS:
            raise NotImplementedError(f"restore: a restored network runs on the {' or '.join(checkpoint.BACKENDS)} "
                                      f"backend, not {name!r} (it keeps state of its own)")
        self._ran_on = name
        done = 0
        while done < n:
            ran = engine.run_block(layout, self._step, min(n - done, self.block_steps))
            if ran == 0:  # a block starts with an empty spike buffer: one step's spikes do not fit
                slack = int(layout.rec.counters[SPIKE_SLACK])
                raise ValueError(f"Network.spike_capacity: {layout.rec.spk_step.shape[0]} places cannot hold the "
                                 f"spikes of one step ({sum(g.size for g in self.groups)} elements and {slack} "
                                 f"repeated spike-generator spikes); raise it")
            self._hand_out(layout, ran)
            self._step += ran
            done += ran
            if progress is not None:
                progress(done, n)

    def save_state(self, path: Any) -> None:
        """Write the full state (neurons, spikes in flight, weights, plasticity, modulators, step,
        spike counts, monitors' in-memory data) to one ``.npz`` file, atomically: see
        :mod:`neurosim.checkpoint`. A run continued after :meth:`restore` of it, in this network or
        a new one built by the same code, is bit for bit the uninterrupted run (numpy, numba)."""
        checkpoint.save(self, path)

    def restore(self, path: Any) -> None:
        """Load a state written by :meth:`save_state` into this network, which must have the same
        structure (ValueError naming what differs)."""
        checkpoint.restore(self, path)

    def _spikes_per_step(self, g: Group | Subgroup, ran: int, spk_step: np.ndarray,
                         spk_id: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Spikes ``g`` emitted in each step of the block: a group's count, or a subgroup's from
        the spike buffer (its neurons are recorded; a neuron's spike of step m is stamped m+1)."""
        if not isinstance(g, Subgroup):
            return counts[:ran, self.groups.index(g)]
        sel = (spk_id >= g.offset) & (spk_id < g.offset + g.size)
        lag = 1 if isinstance(g.parent, Population) else 0
        return np.bincount(spk_step[sel] - lag - self._step, minlength=ran)[:ran]

    def _hand_out(self, layout: Layout, ran: int) -> None:
        """Give the block's recordings to the monitors' sinks and clear the buffers (distributed:
        the recordings of all ranks, on rank 0)."""
        rec = layout.rec
        if self.comm is not None:
            sources = np.array([not isinstance(g, Population) for g in self.groups])
            merged = merged_block(self.comm, layout, sources)
            if merged is None:
                return
            spk_step, spk_id, samples, counts = merged
        else:
            n_spk, n_rows = int(rec.counters[N_SPIKES]), int(rec.counters[N_ROWS])
            spk_step, spk_id, samples, counts = rec.spk_step[:n_spk], rec.spk_id[:n_spk], rec.rec_out[:n_rows], rec.counts
        self._give(ran, spk_step, spk_id, samples, rec.rec_step[:samples.shape[0]], counts)
        rec.counters[N_SPIKES] = 0
        rec.counters[N_ROWS] = 0
        rec.counts[:ran] = 0

    def _give(self, ran: int, spk_step: np.ndarray, spk_id: np.ndarray, samples: np.ndarray, rec_step: np.ndarray,
              counts: np.ndarray) -> None:
        """Hand a block's spikes (steps, ids), state samples, their steps and the groups' spike
        counts per step to the monitors' sinks."""
        n_spk = spk_step.size
        col = 0
        for m in self.monitors:
            if isinstance(m, SpikeMonitor):
                g = m.target
                sel = (spk_id >= g.offset) & (spk_id < g.offset + g.size)
                local = spk_id[sel].astype(np.int64) - g.offset
                keep = np.isin(local, m.indices) if m.indices.size < g.size else slice(None)
                m.sink.append(m, {"t": spk_step[sel][keep] * self.dt, "i": local[keep]})
            elif isinstance(m, MergedSpikeMonitor):
                sel = np.zeros(n_spk, bool)
                for g in m.targets:
                    sel |= (spk_id >= g.offset) & (spk_id < g.offset + g.size)
                m.sink.append(m, {"t": spk_step[sel] * self.dt, "i": spk_id[sel].astype(np.int64)})
            elif isinstance(m, StateMonitor):
                width = m.indices.size
                rows = rec_step % m.interval_steps(self.dt) == 0
                block = {"t": rec_step[rows] * self.dt}
                for var in m.variables:
                    block[var] = samples[:, col:col + width][rows].copy()
                    col += width
                m.sink.append(m, block)
            elif isinstance(m, RateMonitor):
                rate = self._spikes_per_step(m.target, ran, spk_step, spk_id, counts) / (m.target.size * self.dt)
                m.sink.append(m, {"t": (self._step + np.arange(ran)) * self.dt, "rate": rate})
        for g, count in zip(self.groups, counts[:ran].sum(axis=0)):
            self.spike_counts[g.name] = self.spike_counts.get(g.name, 0) + int(count)
