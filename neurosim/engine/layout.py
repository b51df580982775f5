"""The flat array layout every backend runs on.

A network is flattened into one global spiking index: neurons of all populations first
(``0 .. N-1``), then all spike sources (``N .. N+S-1``). Populations are segments; each
segment runs one compiled neuron model (``Layout.models``, see
:mod:`neurosim.neurons.description`). The state variables of all neurons live in one array
``vars[K, N]`` (row ``k`` of a neuron: the ``k``-th state variable of its model; ``v`` is row
0) and their constants in ``table.params[P, N]``. All projections are merged into one CSR by
presynaptic global index whose target is a *state code* ``row * N + post``: the variable a
spike adds its weight to (the model's receptor: v for ``LIF``'s delta synapses, i_exc or i_inh
for ``CubaLIF``'s currents, g_exc or g_inh for conductances). One spike is delivered with one
loop over one row.

Semantics of one step ``m`` (time ``t_m = m dt``), identical in every backend:

1. apply current changes due at ``t_m``; sources spiking at ``t_m`` (spike generators, then
   Poisson sources in index order) deliver their synapses;
2. input due at ``t_m`` that waited in the ring buffer (``buf[m mod L]``, summed per state
   code in delivery order) is added to the state;
3. the state is sampled for the monitors (so samples include every jump at ``t_m``);
4. every neuron takes its model's step (integration over ``dt``; refractory clamp; threshold;
   reset): neurons that spiked spike at ``t_{m+1}`` and deliver their synapses in ascending
   index order.

Delivering a synapse of delay ``d`` steps from a spike at ``t``: if it is due at the next
moment the state is touched (``d = 0``), its weight is added to ``vars`` at once, one
synapse at a time in delivery order; otherwise it is added to ``buf[(t/dt + d) mod L]``
(``L`` a power of two > max delay + 1) and joins the state in step 2 of the step it is due.

With plastic projections, a plasticity phase runs between steps 1 and 2 (see
:class:`Plasticity`): plastic synapses with a delay are not written into the ring buffer when
their spike is emitted but when it arrives, with the weight they have then.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class NeuronTable(NamedTuple):
    """Per-neuron constants: the runtime rows of each neuron's model (row ``k`` of a neuron is the
    ``k``-th name of its model's ``CompiledModel.rows``: parameters, propagators, constants)."""

    params: np.ndarray  # (P, N) in the network's precision; P = the most rows any model reads
    ref_steps: np.ndarray  # int32 (N,): refractory steps after a spike


class NeuronState(NamedTuple):
    """Dynamic state: the model's state variables (row ``k`` of a neuron is the ``k``-th state
    variable of its model), refractory countdown, external current (A)."""

    vars: np.ndarray  # (K, N); K = the most state variables any model has
    ref: np.ndarray  # int32 steps of refractoriness left
    i_ext: np.ndarray


class Synapses(NamedTuple):
    """Merged CSR over all spiking elements (N+S rows per part, see :class:`Parts`) and the
    delay ring buffer.

    Rows whose synapses share one delay (``row_delay >= 0``) or one weight
    (``row_uniform``) are delivered without per-synapse loads of those values.
    """

    indptr: np.ndarray  # int64, T (N+S) + 1: row t (N+S) + j holds element j's synapses onto part t
    target: np.ndarray  # int32 state code, row * N + post
    weight: np.ndarray  # the live weights: plastic synapses change them during a run
    delay: np.ndarray  # steps: uint8, uint16 or uint32 (the smallest that holds the longest)
    row_delay: np.ndarray  # int32 per row: shared delay; -1 mixed; -2 has plastic synapses; -3 only delayed plastic
    row_weight: np.ndarray  # per row: the weight shared by the whole row (valid where row_uniform)
    row_uniform: np.ndarray  # uint8 per row: 1 if all weights of the row are equal
    buf: np.ndarray  # (L, K N) input waiting for its step, by state code
    buffered: np.ndarray  # uint8[K]: 1 if some delayed synapse targets that state row


class Parts(NamedTuple):
    """The neurons split into ``T`` parts of consecutive indices, each updated and reached by one
    thread: part ``t`` holds neurons ``bounds[t] .. bounds[t+1]-1`` and the synapses onto them
    (rows ``t (N+S) + j`` of the merged CSR), and runs the segments
    ``segments[seg_ptr[t]:seg_ptr[t+1]]`` (the populations cut at the bounds). Every target lies
    in one part and receives its input in the order of one thread, so spikes do not depend on
    ``T``. One part: the plain kernel."""

    bounds: np.ndarray  # int64 (T+1,)
    segments: np.ndarray  # int64 (S', 5): like Layout.segments
    seg_ptr: np.ndarray  # int64 (T+1,)


class Plasticity(NamedTuple):
    """Trace-based STDP and modulators (:mod:`neurosim.plasticity`); arrays are empty (and
    ``flags[0] == 0``) when no projection is plastic, so that case runs the plain code.

    Indices: ``p`` a plastic projection, ``g`` a delay group (the plastic synapses of one row
    that share a delay), ``j`` a global element; ``L`` is the ring length of ``Synapses.buf``.
    The plastic synapses are listed twice, by row and delay (``grp_*``, for presynaptic
    spikes) and by postsynaptic neuron (``csc_*``, for postsynaptic ones), each entry with
    what its update needs, so that only the weight itself is a scattered access.

    Step ``m`` runs, after its sources have spiked (phase 1), the plasticity phase for the
    spikes at ``t_m`` (neurons that spiked at the end of step ``m-1``, then sources):

    a. arrivals: delay groups due at ``m`` (``pend[m mod L]``) deliver their weights into
       ``buf[m mod L]`` and are depressed; the delay-0 groups of the elements in ``fired``
       are depressed; their delayed groups are queued in ``pend[(m + d) mod L]``;
    b. post spikes: the incoming plastic synapses (``csc``) of the neurons in ``fired`` are
       potentiated, reading the presynaptic trace ``trace[(m - delay) mod L]`` (the trace of
       the arrivals before ``t_m``; with same-step pairing plus the arrival at ``t_m``, if
       ``hit[(m - delay) mod L]`` of the presynaptic element is set);
    c. traces: ``trace[(m+1) mod L] = (trace[m mod L] (+ inc if the element spiked at t_m)) * decay``
       (nearest: ``inc`` replaces the value);
    d. modulators integrate the spike counts at ``t_m`` and set ``lr``; ``hit[(m+1) mod L]`` is
       cleared for the spikes at ``t_{m+1}``.

    The weight updates of (a) and (b) are :func:`neurosim.plasticity.rules.depress` and
    ``potentiate``; a depression also reads the presynaptic element's slow trace
    ``trace[(m - delay) mod L, grp_ycol]``, a potentiation the postsynaptic neuron's
    ``trace[m mod L, csc_ycol]`` (triplet STDP).
    """

    flags: np.ndarray  # uint8[1]: 1 if any projection is plastic
    counters: np.ndarray  # int64[1]: number of elements in ``fired``
    a_plus: np.ndarray  # (P,) per plastic projection: pair amplitudes
    a_minus: np.ndarray
    a3_plus: np.ndarray  # (P,): triplet amplitudes (0: pair STDP)
    a3_minus: np.ndarray
    w_min: np.ndarray
    w_max: np.ndarray
    soft: np.ndarray  # (P,): 1 multiplicative (soft bounds), 0 additive
    hard: np.ndarray  # (P,): 1 - soft
    alpha: np.ndarray  # (P,): subtracted from the postsynaptic trace at presynaptic arrivals
    same: np.ndarray  # uint8 (P,): 1 if a presynaptic arrival pairs with a postsynaptic spike of its step
    x_inc: np.ndarray  # (P,): increment of the presynaptic trace (for same-step pairing)
    x_near: np.ndarray  # uint8 (P,): 1 if the presynaptic trace is nearest-spike
    lr: np.ndarray  # (P, 2): learning-rate factors (potentiation, depression)
    skip: np.ndarray  # uint8 (n synapses): 1 for plastic synapses with a delay (delivered on arrival)
    row_grp: np.ndarray  # int64 (N+S+1,): delay groups of row j are row_grp[j] .. row_grp[j+1]
    grp_ptr: np.ndarray  # int64 (G+1,): synapses of group g are entries grp_ptr[g] .. grp_ptr[g+1] of:
    grp_pos: np.ndarray  # int64: merged-CSR position (entries by row, delay, position)
    grp_col: np.ndarray  # int64: trace column of the postsynaptic neuron
    grp_ycol: np.ndarray  # int64: slow (triplet) trace column of the presynaptic element (a3_minus = 0: any column)
    grp_proj: np.ndarray  # int32: plastic projection
    grp_delay: np.ndarray  # int32 (G,)
    pend: np.ndarray  # int32 (L, groups with a delay): groups arriving at each ring slot
    pend_n: np.ndarray  # int64 (L,)
    csc_ptr: np.ndarray  # int64 (N+S+1,): incoming plastic synapses of neuron i are entries csc_ptr[i] .. of:
    csc_pos: np.ndarray  # int64: merged-CSR position (entries by post, position)
    csc_col: np.ndarray  # int64: trace column of the presynaptic element
    csc_ycol: np.ndarray  # int64: slow (triplet) trace column of the postsynaptic neuron (a3_plus = 0: any column)
    csc_pre: np.ndarray  # int32: the presynaptic element
    csc_proj: np.ndarray  # int32: plastic projection
    csc_delay: np.ndarray  # int32: delay (steps)
    watch: np.ndarray  # uint8 (N+S,): 1 if the element has outgoing or incoming plastic synapses
    fired: np.ndarray  # int32 (N+S,): watched elements that spiked at the current time
    last: np.ndarray  # int64 (N+S,): step of each element's latest spike (-1: none)
    hit: np.ndarray  # uint8 (L, N+S) if a projection pairs same-step spikes, else (L, 0): hit[s mod L, j] = 1 if j spiked at t_s
    gcount: np.ndarray  # int64 (groups,): spikes of each group at the current time
    trace: np.ndarray  # (L, columns): trace[m mod L] holds the traces at t_m (before its spikes)
    tset: np.ndarray  # int64 (sets, 3): first element, size, first column of each trace set
    t_inc: np.ndarray  # (sets,)
    t_decay: np.ndarray  # (sets,): exp(-dt / tau)
    t_nearest: np.ndarray  # uint8 (sets,)
    mod_state: np.ndarray  # float64 (M,): modulator values
    mod_tau: np.ndarray  # float64 (M,): time constants in steps
    mod_weight: np.ndarray  # float64 (M,)
    mod_bias: np.ndarray  # float64 (M,)
    mod_drive_ptr: np.ndarray  # int64 (M+1,)
    mod_group: np.ndarray  # int32: driving group index
    mod_coef: np.ndarray  # float64
    mod_target_ptr: np.ndarray  # int64 (M+1,)
    mod_proj: np.ndarray  # int32: plastic projection
    mod_kind: np.ndarray  # int32: 0 potentiation, 1 depression


class NoPlasticity(Plasticity):
    """The (empty) :class:`Plasticity` of a network without plastic projections: a type of its
    own, so that compiled backends specialise on it and drop the plasticity code."""

    __slots__ = ()


class Drive(NamedTuple):
    """External drive: Poisson sources, spike generators, current changes and per-target
    Poisson inputs (:class:`neurosim.poisson_input.PoissonInput`).

    Input ``q`` adds ``k·input_w[q]`` to state row ``inputs[q, 2]`` of every neuron ``j`` in
    ``inputs[q, 0] <= j < inputs[q, 1]`` in steps ``inputs[q, 4] <= m < inputs[q, 5]``, with
    ``k ~ Binomial(inputs[q, 3], p)`` drawn with key ``input_seed[q]`` (step ``m``, element
    ``j``; :mod:`neurosim.engine.rng`): from the alias table ``input_prob/input_alias[t0:t1]``
    (``t0, t1 = inputs[q, 6:8]``) as ``input_real[q, 0] + index`` when it is not empty, else
    by rejection with ``q = input_real[q, 1]`` and ``flip = inputs[q, 8]``. Noise input ``q``
    (:class:`neurosim.noise_input.NoiseInput`) adds ``a + b z`` to its state row, ``z`` a
    standard normal drawn with key ``noise_seed[q]`` (:func:`neurosim.engine.rng.normal`).
    """

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
    inputs: np.ndarray  # int64 (Q, 9): first, stop, state row, n, first step, stop step, t0, t1, flip
    input_real: np.ndarray  # float64 (Q, 2): first count of the alias table, min(p, 1 - p)
    input_w: np.ndarray  # (Q,) weight per input spike, network precision
    input_seed: np.ndarray  # uint64 (Q,): generator key of each input
    input_prob: np.ndarray  # float64 (T,): alias tables, concatenated
    input_alias: np.ndarray  # float64 (T,): alias indices (as floats)
    noises: np.ndarray  # int64 (Q', 6): first, stop, state row, first step, stop step, offset o into noise_a/b
    noise_seed: np.ndarray  # uint64 (Q',): generator key of each noise input
    noise_a: np.ndarray  # float64: per target neuron j, noise_a[o + j - first] + noise_b[...] z is added
    noise_b: np.ndarray  # float64


class Recording(NamedTuple):
    """Per-block recording buffers; counters hold positions that persist across blocks."""

    spike_mask: np.ndarray  # uint8, N+S: record this element's spikes
    spk_step: np.ndarray  # int64, spike time in steps
    spk_id: np.ndarray  # int32 global id
    rec_id: np.ndarray  # int32 neuron of each state column
    rec_var: np.ndarray  # int32 state row of the recorded variable
    rec_interval: np.ndarray  # int64[1]
    rec_out: np.ndarray  # (rows, columns)
    rec_step: np.ndarray  # int64 rows
    group_of: np.ndarray  # int32, N+S: group index for rate counts
    counts: np.ndarray  # int32 (block steps, groups)
    counters: np.ndarray  # int64[5]: generator cursor, current cursor, spikes in block, rows in block, slack


#: slots of ``Recording.counters``; ``SPIKE_SLACK``: the spikes one step can record beyond one per
#: element (a spike generator may repeat an element in a step, :func:`spike_slack`), so a block
#: stops before a step when fewer than ``N + S + slack`` places are left
GEN_CURSOR, CUR_CURSOR, N_SPIKES, N_ROWS, SPIKE_SLACK = range(5)


def spike_slack(gen_step: np.ndarray, gen_id: np.ndarray) -> int:
    """The most repeated generator spikes (spikes of an element already spiking) in one step of
    ``gen_step``/``gen_id`` (sorted by step, then id)."""
    repeat = (gen_step[1:] == gen_step[:-1]) & (gen_id[1:] == gen_id[:-1])
    if not repeat.any():
        return 0
    return int(np.unique(gen_step[1:][repeat], return_counts=True)[1].max())
#: columns of ``Layout.segments``
SEG_START, SEG_STOP, SEG_SHARED, SEG_CONSTANT, SEG_MODEL = range(5)


class Layout(NamedTuple):
    table: NeuronTable
    segments: np.ndarray  # int64 (n_segments, 5): start, stop, shared parameters, constant i_ext, model
    state: NeuronState
    syn: Synapses
    drive: Drive
    rec: Recording
    plastic: Plasticity
    #: the compiled neuron models (``neurosim.neurons.description.CompiledModel``), by model index
    models: tuple = ()
    #: per segment, the SI values of its model's parameters (for backends that integrate the
    #: equations themselves, such as Brian2)
    parameters: tuple = ()
    #: the time step (s)
    dt: float = 0.0
    #: the neurons' parts (one unless the network runs on several threads)
    parts: Parts | None = None

    @property
    def n_neurons(self) -> int:
        return self.state.vars.shape[1]

    @property
    def n_parts(self) -> int:
        return 1 if self.parts is None else self.parts.bounds.size - 1


def ring_length(max_delay: int) -> int:
    """Smallest power of two that holds slots ``m .. m + 1 + max_delay``."""
    return 1 << int(max_delay + 2 - 1).bit_length()


def empty_plasticity(n_groups: int, ring: int, dtype: np.dtype) -> Plasticity:
    """The arrays of a network without plasticity (typed like the real ones, never read)."""
    i32, i64, f64 = np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.float64)
    w, u8 = np.zeros(0, dtype), np.zeros(0, np.uint8)
    return NoPlasticity(
        flags=np.zeros(1, np.uint8), counters=np.zeros(1, np.int64),
        a_plus=w, a_minus=w, a3_plus=w, a3_minus=w, w_min=w, w_max=w, soft=w, hard=w, alpha=w, same=u8, x_inc=w,
        x_near=u8, lr=np.zeros((0, 2), dtype), skip=u8,
        row_grp=np.zeros(1, np.int64), grp_ptr=np.zeros(1, np.int64), grp_pos=i64, grp_col=i64, grp_ycol=i64,
        grp_proj=i32, grp_delay=i32, pend=np.zeros((ring, 0), np.int32), pend_n=np.zeros(ring, np.int64),
        csc_ptr=np.zeros(1, np.int64), csc_pos=i64, csc_col=i64, csc_ycol=i64, csc_pre=i32, csc_proj=i32,
        csc_delay=i32, watch=u8, fired=i32, last=i64, hit=np.zeros((ring, 0), np.uint8),
        gcount=np.zeros(n_groups, np.int64),
        trace=np.zeros((ring, 0), dtype), tset=np.zeros((0, 3), np.int64), t_inc=w, t_decay=w, t_nearest=u8,
        mod_state=f64, mod_tau=f64, mod_weight=f64, mod_bias=f64, mod_drive_ptr=np.zeros(1, np.int64),
        mod_group=i32, mod_coef=f64, mod_target_ptr=np.zeros(1, np.int64), mod_proj=i32, mod_kind=i32,
    )


def column_sets(pl: Plasticity) -> np.ndarray:
    """The trace set (row of ``pl.tset``: first element, size, first column) of every trace column."""
    sets = pl.tset.astype(np.int64)
    col_set = np.zeros(pl.trace.shape[1], np.int64)
    for t, (_, size, col) in enumerate(sets):
        col_set[col:col + size] = t
    return col_set
