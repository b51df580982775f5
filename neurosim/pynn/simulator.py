"""The state of a ``neurosim.pynn`` simulation (PyNN's ``simulator`` module of a backend).

PyNN objects (populations, projections, current sources, recorders) only describe the model
until the first ``run``: :meth:`State.run_until` then builds one native
:class:`~neurosim.network.Network` from them (:meth:`State.build`) and runs it; later runs
continue it. Times are in ms here (PyNN's units) and in s in the native network.

neurosim freezes a network's structure at its first run, so a population, projection,
current source or recording added after a run (without ``reset()``) raises ``RuntimeError``.
Parameters (``Population.set``), Poisson rates, spike times, weights (``Projection.set``) and
state (``initialize``) may change between runs: they are written into the running network.
``reset()`` drops the native network; the next run builds it again at t = 0 from the PyNN
description (same seed: same Poisson spikes, same weights as last set through PyNN).
"""

from __future__ import annotations

from typing import Any

from pyNN import common

from neurosim.network import Network

name = "neurosim"


class ID(int, common.IDMixin):
    """A cell's PyNN id (an int)."""

    def __init__(self, n: int):
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """Time step, registries of the PyNN objects, and the native network once built."""

    def __init__(self):
        common.control.BaseState.__init__(self)
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self._min_delay: Any = "auto"
        self.max_delay: Any = 10.0
        self.seed = 0
        self.backend = "auto"
        self.precision = "float64"
        self.clear()

    # ------------------------------------------------------------------ registry
    def clear(self) -> None:
        """Forget every object (``setup`` / ``end``)."""
        self.recorders = set()
        self.populations: list[Any] = []
        self.projections: list[Any] = []
        self.current_sources: list[tuple[Any, Any]] = []
        self.id_counter = 0
        self.segment_counter = -1
        self.net: Network | None = None
        self.reset()

    def reset(self) -> None:
        """Back to t = 0: the native network is dropped and built again by the next run."""
        self.net = None
        self.running = False
        self.t_start = 0
        self.segment_counter += 1

    def structure_changed(self, what: str) -> None:
        """Refuse a change of structure (``what``) once the native network exists."""
        if self.net is not None:
            raise RuntimeError(f"neurosim.pynn: cannot add {what} after run(): neurosim freezes the network's "
                               "structure at its first run; create it before running, or call reset() first")

    # ------------------------------------------------------------------ time
    @property
    def t(self) -> float:
        """Current time (ms)."""
        return 0.0 if self.net is None else self.net._step * self.dt

    @property
    def min_delay(self) -> float:
        """The smallest delay (ms); with setup(min_delay="auto"), that of the projections made so
        far (rounded to the time step), or the time step if there are none."""
        if self._min_delay != "auto":
            return self._min_delay
        delays = [float(prj._delay.min()) for prj in self.projections if prj._delay.size]
        return max(self.dt, round(min(delays) / self.dt) * self.dt) if delays else self.dt

    @min_delay.setter
    def min_delay(self, value: Any) -> None:
        self._min_delay = value

    @property
    def dt_s(self) -> float:
        return self.dt * 1e-3

    def build(self) -> Network:
        """The native network of every PyNN object created so far (the first run's layout)."""
        net = Network(dt=self.dt_s, seed=self.seed, precision=self.precision)
        for pop in self.populations:
            pop._build(net)
        if not net.populations:  # neurosim runs a network of neurons: one silent neuron for source-only models
            from neurosim.neurons import LIF
            net.population("silent", 1, LIF(i_bias=0.0))
        for prj in self.projections:
            prj._build(net)
        for source, cells in self.current_sources:
            source._build(net, cells)
        for rec in sorted(self.recorders, key=lambda r: int(r.population.first_id)):
            rec._build(net)
        return net

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        """Advance to ``tstop`` (ms), rounded to the time grid."""
        if self.net is None:
            self.net = self.build()
        n = int(round((tstop - self.t) / self.dt))
        if n > 0:
            self.net.run(n * self.dt_s, backend=self.backend)
        self.running = True


state = State()
