"""The flat array layout every backend runs on.

A network is flattened into one global spiking index: neurons of all populations first
(``0 .. N-1``), then all spike sources (``N .. N+S-1``). All projections are merged into
one CSR by presynaptic global index whose target code is ``channel * N + post`` (channel 0
excitatory, 1 inhibitory), so one spike is delivered with one loop over one row. Delays
are integer steps into a ring buffer ``buf[L, 2N]`` (``L`` a power of two > max delay + 1).

Semantics of one step ``m`` (time ``t_m = m dt``), identical in every backend:

1. record the state sampled at ``t_m``;
2. apply current changes due at ``t_m``; sources spiking at ``t_m`` (spike generators, then
   Poisson sources in index order) deliver into slots ``m + delay``;
3. the input arriving at ``t_m`` (``buf[m mod L]``) is added: ``v += jump·(a_e + a_i)``,
   ``i_e += cur_gain·a_e``, ``i_i += cur_gain·a_i``; then the linear dynamics are
   integrated exactly over ``dt`` (refractory neurons are clamped to ``v_reset``);
4. neurons with ``v >= v_th`` (not refractory) spike at ``t_{m+1}``, are reset and deliver
   into slots ``m + 1 + delay`` in ascending index order.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class NeuronTable(NamedTuple):
    """Per-neuron constants (length N); see :mod:`neurosim.neurons.propagators`."""

    v_rest: np.ndarray
    v_th: np.ndarray
    v_reset: np.ndarray
    reset_step: np.ndarray  # v_th - v_reset, subtracted by a soft reset
    soft: np.ndarray  # 1.0 soft reset, 0.0 hard reset
    ref_steps: np.ndarray  # int32
    p_vv: np.ndarray
    p_ve: np.ndarray
    p_vi: np.ndarray
    p_vI: np.ndarray
    d_e: np.ndarray
    d_i: np.ndarray
    jump: np.ndarray  # 1.0: input jumps v (delta synapses); 0.0: input enters the currents
    cur_gain: np.ndarray  # 1 - jump


class NeuronState(NamedTuple):
    """Dynamic state (length N): membrane (V), synaptic currents (A), refractory countdown, external current (A)."""

    v: np.ndarray
    i_e: np.ndarray
    i_i: np.ndarray
    ref: np.ndarray  # int32 steps of refractoriness left
    i_ext: np.ndarray


class Synapses(NamedTuple):
    """Merged CSR over all spiking elements (length N+S rows) and the delay ring buffer."""

    indptr: np.ndarray  # int64, N+S+1
    target: np.ndarray  # int32, channel * N + post
    weight: np.ndarray
    delay: np.ndarray  # int32 steps
    buf: np.ndarray  # (L, 2N)


class Drive(NamedTuple):
    """External drive: Poisson sources, spike generators and current changes."""

    poisson_id: np.ndarray  # int32 global ids
    poisson_p: np.ndarray  # float64 spike probability per step
    poisson_start: np.ndarray  # int64 first step
    poisson_stop: np.ndarray  # int64 first step without spikes
    seed: np.ndarray  # uint64[1], key of the counter-based generator
    gen_step: np.ndarray  # int64, sorted
    gen_id: np.ndarray  # int32
    cur_step: np.ndarray  # int64, sorted
    cur_id: np.ndarray  # int32
    cur_delta: np.ndarray


class Recording(NamedTuple):
    """Per-block recording buffers; counters hold positions that persist across blocks."""

    spike_mask: np.ndarray  # uint8, N+S: record this element's spikes
    spk_step: np.ndarray  # int64, spike time in steps
    spk_id: np.ndarray  # int32 global id
    rec_id: np.ndarray  # int32 neuron of each state column
    rec_var: np.ndarray  # int32 0 v, 1 i_e, 2 i_i
    rec_interval: np.ndarray  # int64[1]
    rec_out: np.ndarray  # (rows, columns)
    rec_step: np.ndarray  # int64 rows
    group_of: np.ndarray  # int32, N+S: group index for rate counts
    counts: np.ndarray  # int32 (block steps, groups)
    counters: np.ndarray  # int64[4]: generator cursor, current cursor, spikes in block, rows in block


GEN_CURSOR, CUR_CURSOR, N_SPIKES, N_ROWS = range(4)
STATE_VARIABLES = {"v": 0, "i_exc": 1, "i_inh": 2}


class Layout(NamedTuple):
    table: NeuronTable
    segments: np.ndarray  # int64 (n_segments, 3): start, stop, 1 if parameters are shared
    state: NeuronState
    syn: Synapses
    drive: Drive
    rec: Recording

    @property
    def n_neurons(self) -> int:
        return self.state.v.shape[0]


def ring_length(max_delay: int) -> int:
    """Smallest power of two that holds slots ``m .. m + 1 + max_delay``."""
    return 1 << int(max_delay + 2 - 1).bit_length()
