"""A liquid state machine: build the liquid, initialise it with plasticity, extract features.

    lsm = LiquidStateMachine.build(LiquidParams(), NeuronParams(), PlasticityParams("nalsm"), seed=1)
    lsm.initialise(train_drive, steps=20)          # phase 1: W carries over from sample to sample
    feats = lsm.features(drive, steps=250)         # phase 2: every sample from W_INI, in parallel

Variants: ``static`` (fixed weights of magnitude ``w_init``), ``stdp`` (STDP with a fixed
depression rate) and ``nalsm`` (astrocyte-gated depression).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from neurosim.models.lsm import kernel
from neurosim.models.lsm.liquid import Liquid, build_liquid
from neurosim.models.lsm.params import LiquidParams, NeuronParams, PlasticityParams

#: random-stream keys of the two phases, so their Bernoulli draws never coincide
INIT_KEY, FEATURE_KEY = np.uint64(0x1A17), np.uint64(0xFEA7)


@dataclass
class LiquidStateMachine:
    liquid: Liquid
    neuron: NeuronParams
    plasticity: PlasticityParams
    seed: int
    astro_mask: np.ndarray
    weights: np.ndarray = field(repr=False)
    #: STDP traces of every neuron (inputs first); phase 1 carries them from sample to sample
    traces: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        if self.traces is None:
            self.traces = np.zeros(self.liquid.n_total)

    @classmethod
    def build(cls, liquid: LiquidParams, neuron: NeuronParams, plasticity: PlasticityParams,
              seed: int) -> "LiquidStateMachine":
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
        structure = build_liquid(liquid, rng)
        mask = np.zeros(structure.n_liq, np.uint8)
        mask[rng.permutation(structure.n_liq)[: int(round(plasticity.astro_fraction * structure.n_liq))]] = 1
        return cls(structure, neuron, plasticity, seed, mask, structure.w_init.copy())

    def _seed(self, phase: np.uint64) -> np.uint64:
        return np.random.SeedSequence(self.seed, spawn_key=(2, int(phase))).generate_state(1, np.uint64)[0]

    def _args(self, plastic: bool, decay: float, traces: np.ndarray | None = None) -> tuple:
        """The kernel's arguments after ``W``; ``traces`` (updated in place by ``run_sample``)
        default to zeros."""
        L, n, p = self.liquid, self.neuron, self.plasticity
        traces = np.zeros(L.n_total) if traces is None else traces
        return (L.indptr, L.post, L.kind, L.w_max, L.csc_ptr, L.csc_syn, L.csc_pre, L.n_in,
                n.tau_v, n.v_th, n.t_ref, n.tau_u, n.bias, n.t_lim, n.s_max, n.input_current,
                plastic, np.array(p.rates), p.tau_astro, p.trace_decay, p.trace_increment, decay, self.astro_mask,
                traces)

    @property
    def plastic(self) -> bool:
        return self.plasticity.variant != "static"

    def initialise(self, drives: np.ndarray, mode: int, steps: int = 20,
                   progress: Callable[[int, int], None] | None = None) -> None:
        """Phase 1: present each sample for ``steps`` with plasticity on and no decay; the
        weights carry over, the neuron state and the learning rates restart per sample. The
        STDP traces carry over too when ``plasticity.carry_traces`` (the authors' code never
        resets them), else they restart at zero."""
        if not self.plastic:
            return
        seed = self._seed(INIT_KEY)
        counts = np.zeros((1, self.liquid.n_liq), np.int64)
        empty = np.zeros((0, self.liquid.n_liq), np.uint8)
        for k in range(drives.shape[0]):
            key = np.uint64(kernel.splitmix64_jit(seed ^ np.uint64(k)))
            if not self.plasticity.carry_traces:
                self.traces[:] = 0.0
            kernel.run_sample(steps, mode, drives[k], key, self.weights, *self._args(True, 1.0, self.traces),
                              counts, empty)
            if progress is not None and (k + 1) % 100 == 0:
                progress(k + 1, drives.shape[0])

    def features(self, drives: np.ndarray, mode: int, sample_ids: np.ndarray, steps: int = 250, bins: int = 1,
                 record: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Phase 2: every sample from the initialised weights, plasticity on with decay, in
        parallel. Returns liquid spike counts ``[n, bins, n_liq]`` and the rasters ``[r, steps,
        n_liq]`` of the samples at positions ``record``. Every sample starts from the traces
        phase 1 left (``carry_traces``; the same for all, so features do not depend on the batch)
        or from zero traces."""
        n = drives.shape[0]
        counts = np.zeros((n, bins, self.liquid.n_liq), np.int64)
        record = np.zeros(0, np.int64) if record is None else np.asarray(record, np.int64)
        rasters = np.zeros((record.size, steps, self.liquid.n_liq), np.uint8)
        raster_of = np.full(n, -1, np.int64)
        raster_of[record] = np.arange(record.size)
        decay = self.plasticity.decay if self.plastic else 1.0
        start = self.traces.copy() if self.plasticity.carry_traces else np.zeros(self.liquid.n_total)
        kernel.run_batch(steps, mode, drives, np.asarray(sample_ids, np.int64), self._seed(FEATURE_KEY),
                         self.weights, *self._args(self.plastic, decay, start), counts, rasters, raster_of)
        return counts, rasters
