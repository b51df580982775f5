"""Brian2 backend: the flat layout translated into a Brian2 network, results in neurosim's format.

Brian integrates every neuron model from its own description (:mod:`neurosim.neurons.description`:
equations, threshold, reset, refractory clamp, method) with its own state updater; static and
plastic networks (any mix of the models of :data:`neurosim.neurons.MODELS` or user models,
delays, spike and Poisson sources, currents, STDP, modulators) give the spikes of neurosim's
own backends and states that agree to rounding (see "Agreement" below).

``backend="brian2"`` runs a network on `Brian2 <https://brian2.readthedocs.io>`_ (runtime mode,
codegen target of Brian's preferences or the one given) and fills ``layout.rec`` and
``layout.state`` exactly as the engine contract asks, so ``Network._hand_out``, monitors and
sinks work unchanged. :func:`translate` builds the Brian2 objects from a layout.

Translation (``N`` neurons, ``S`` sources, see :mod:`neurosim.engine.layout`)
---------------------------------------------------------------------------

- neurons (:mod:`neurosim.engine.brian2_neurons`): one ``NeuronGroup`` per model
  (``layout.models``; its neurons from all segments running it), clock step the network's
  ``dt``. Its equations are the description's, as written (they are Brian syntax and already
  unit-checked), with ``method=`` the description's method (Brian's ``exact``,
  ``exponential_euler``, ``rk4``, ``rk2``, ``euler``), plus

  - every model parameter (the model's fields and extra ones such as ``soft``, from
    ``model.parameter_values``) as ``<name> : <SI unit> (constant[, shared])``: shared where the
    whole group agrees. The parameters come from ``layout.dt`` / ``layout.parameters`` when the
    layout carries them, else from the ``Network`` holding the layout; ``layout.table.params``
    (neurosim's derived propagators) is not used;
  - ``i_ext : amp`` (the external current, constant over a step as in neurosim), neurosim's own
    refractory counter ``ref``, ``clamp`` and ``ref_steps = floor(t_ref/dt)``;
  - an infinite ``clip`` bound takes the unit of the clipped value (neurosim's ``inf`` matches
    any unit, Brian's is dimensionless): ``clip(v, -inf, v_peak)`` -> ``clip(v, (-inf*volt), v_peak)``;
  - Brian's ``exact`` solves the equations with symbolic parameters, so its closed form
    divides by differences of rates (``1/tau_m - 1/tau_syn``) and is NaN where two coincide:
    neurons of an ``exact`` model whose equation parameters of one unit coincide (e.g.
    ``tau_syn_exc == tau_m``) form a group of their own whose equations name the coinciding
    parameters alike, so sympy solves the degenerate case.

  One step runs neurosim's step semantics in Brian's schedule: the state updater integrates
  (slot ``groups``); then (``after_groups``) ``clamp = int(ref > 0); ref -= clamp`` and, on a
  custom event ``clamping`` (``clamp > 0``), the refractory statements (e.g. ``v = v_reset``)
  on the integrated state; the threshold is ``(<threshold>) and clamp == 0`` on that state; the
  reset (moved to ``after_thresholds``, i.e. *before* synaptic propagation as in neurosim:
  input arriving in a neuron's spike step is added after its reset) is the description's
  statements, then ``ref = ref_steps``. So for ``floor(t_ref/dt)`` steps after a spike the
  clamped variables are held and the neuron cannot spike; input arriving then is added (a state
  sample shows it) and a clamped variable loses it at the next clamp. Brian's own
  ``refractory`` is not used. The initial state is ``layout.state.vars`` (row ``k`` of a neuron:
  the ``k``-th state variable of its model).
- static synapses: one ``Synapses`` object per (presynaptic group: a neuron group or the
  sources) x (target group, target variable), the state codes ``row * N + post`` of the merged
  CSR resolved to (group, variable, index); ``syn_w : <unit of the variable>``,
  ``on_pre = "<var>_post += syn_w"``; per-synapse delays ``d dt`` (a shared delay / weight where
  the whole object has one).
- sources (spike sources and Poisson sources): one ``SpikeGeneratorGroup`` with the exact
  spikes neurosim produces (Poisson spikes from neurosim's counter-based generator
  :mod:`neurosim.engine.rng`, so both simulate the same input).
- per-target Poisson inputs and noise inputs: ``NetworkOperation`` objects add neurosim's own
  counts times the weight at the start of every step (slot ``before_start``) and its Gaussian
  increments after the state sample (``before_groups``), the same counter-based draws,
  so in runtime mode only; the sum is formed after the step's source and delayed arrivals
  (neurosim adds the inputs before the delayed arrivals), which agrees to rounding.
- currents: every change of ``i_ext`` is an event of an "inject" ``SpikeGeneratorGroup`` with a
  synapse ``i_ext_post += delta`` (exact, also in standalone mode). The same group carries the
  input pending in the ring buffer ``layout.syn.buf`` when the translation starts after step 0.
- runs use an empty run namespace (``namespace={}``): names resolve to the groups' variables,
  Brian's units, constants and functions only, never to the caller's Python variables.

Agreement
---------

Brian evaluates the same method as neurosim, in its own arithmetic: ``exact`` closed forms
(sympy's solution vs neurosim's matrix exponential, both exact up to rounding) agree to ~1e-14
of a variable's range; explicit schemes (``rk4``, ``exponential_euler``, ...) compute the same
formula in another order of operations, ~1e-13 after a run through spike upstrokes. Spike times
are identical unless a threshold crossing lies within that rounding of the threshold (not seen
in the tests, including chaotic 200-neuron runs; in principle a long chaotic run can diverge
from there on).

Time stamps and the step order
------------------------------

Brian's step ``n`` (time ``t_n``) runs: monitors (``start``), integration (``groups``),
threshold, reset, synaptic propagation, ...; neurosim's step ``m`` adds the arrivals due at
``t_m``, samples, integrates, thresholds, resets and delivers. With Brian step ``n`` =
neurosim step ``m``:

- a neuron spike detected in step ``m`` is stamped ``t_m`` by Brian and ``t_{m+1}`` by neurosim
  (the backend reports ``t_{m+1}``);
- neurosim's delay 0 (arrival before the integration of step ``m+1``) is Brian's delay 0
  (``on_pre`` in step ``m`` after the thresholder); delay ``d`` steps is Brian's ``d dt``;
- a source spike at neurosim time ``t_m`` (delivered at the start of step ``m``) is a Brian
  generator spike at ``t_{m-1}`` (delivered in step ``m-1``); the source spikes of the first
  step of a translation (and the buffer's input due then) are added to the initial state, their
  delayed synapses become inject events;
- neurosim samples the state after the arrivals at ``t_m``: a ``StateMonitor`` with
  ``when="start"`` at ``t_m`` sees the same state.

Plasticity (STDP and modulators, :mod:`neurosim.plasticity`)
-------------------------------------------------------------

Neurosim runs the plasticity phase of step ``m`` (the spikes at ``t_m``: neurons detected in
step ``m-1``, sources of step ``m``) before the state sample and the integration of step ``m``;
in Brian those spikes belong to step ``m-1``. The translation runs that phase at the *start* of
Brian step ``m`` (slot ``before_start``, before the ``StateMonitor``), so a run of ``n`` steps
leaves the spikes of its last step unpaired, as neurosim does, and the weights handed back are
the ones numba leaves. Brian clears spike spaces at the end of each run, so the phase reads
flags that are state variables instead (custom events, evaluated in ``before_start``):

- ``spk`` (every neuron group): set by the reset, event ``fired`` (``spk > 0.5``) in the next step;
- relay elements ``R`` (a ``NeuronGroup``), one per (presynaptic trace set and element, delay
  ``D``) -- neurosim's delay groups: a spike of element ``j`` sets ``hit`` of its relay element
  with delay ``D`` through a ``Synapses`` with delay ``D dt`` (synapses slot of Brian step
  ``m-1+D``), so event ``arrive`` (``hit > 0.5``) is the arrival at ``t_{m+D}``. The relay
  element holds the trace of the arrivals ``y = x_pre(t - D)`` that potentiation reads.
- one ``Synapses`` per (plastic projection, target group and variable) from ``R`` to the
  neurons, with the weight ``w`` (Brian name ``syn_w``, as in static synapses, so it cannot
  clash with a model variable such as AdEx's ``w``; in the target variable's unit) and the
  rule's constants (shared), and ``pos`` (the merged-CSR position, for the way back).
  ``on_pre`` (event ``arrive``, order 0): ``<var>_post += w``, then
  ``w = clip(w - eta_- A-(w) (xp_post - alpha), w_min, w_max)``: the weight a delayed synapse delivers is
  its weight at arrival, before that arrival's depression; ``on_post`` (event ``fired``,
  order 1, after every depression of the step): ``w = clip(w + eta_+ A+(w) y_pre, ...)``.
- traces are left limits: the events read ``xp`` (neurons, one variable per postsynaptic trace
  set) and ``y`` (relay elements) before this step's spikes are added; a ``run_regularly`` in
  ``before_groups`` then computes ``x <- (x + inc flag) d`` (all-to-all) or
  ``x <- (inc if flag else x) d`` (nearest) and clears the flags, once per step, by
  multiplication with neurosim's ``d = exp(-dt/tau)`` (a Brian shared constant). So an arrival
  and a post spike in the same step do not pair: each reads the other's trace from before.
- the updates are written one operation per statement in neurosim's order of operations
  (so Brian's sympy-based code generation cannot reassociate them); with the numpy target
  weights are bit-identical to numba's; compiled targets (Cython, ``cpp_standalone``, Brian's
  default ``-ffast-math``) agree to rounding (~1e-13 relative seen).
- modulators: one ``NeuronGroup`` of size 1 each (variable ``A``) counts the spikes of its drive
  groups (neurons: ``Synapses`` on ``fired``; sources: on their spikes, in the previous step's
  synapses slot) and updates ``A <- A + (weight sum_g c_g n_g + bias - A) / (tau/dt)`` in
  ``before_groups`` after the step's updates; the plastic ``Synapses`` read it as a linked
  variable ``eta_p`` / ``eta_d``. All of this is plain Brian code: it runs in runtime and
  ``cpp_standalone`` mode.
- starting at ``step0`` (a fresh network, or one another backend ran): the traces of the layout's
  ring become ``xp``/``y``; the spikes at ``t_step0`` (neurons whose ``last`` is ``step0``,
  whose delay-0 weights are already in the state: flag ``mute`` on their relay elements; the
  sources of ``step0``) become initial flags, and the arrivals waiting in ``pend`` plus the
  delayed synapses of those spikes become events of an inject ``SpikeGeneratorGroup`` onto ``R``.
- after every run the weights (``layout.syn.weight``, then the projections' ``synapses.weight``),
  ``mod_state`` and ``lr`` come back; the neuron spikes of the last step (flag ``spk``) are left
  as numba leaves them: their delay-0 plastic input is added to ``layout.state`` (Brian adds it
  at the start of its next step) and they are noted for the next plasticity phase (``last``,
  ``fired``, ``counters[0]``, ``gcount``), so another backend, or a new translation (``mute``),
  pairs, counts and queues them. The rest of the transient plasticity state (trace ring,
  arrivals in flight) stays in Brian and is emptied in the layout.

Limits: a model translates when Brian reads its equations (Brian's default functions and
constants; units with integer exponents; no model variable named like the translation's own:
``i_ext``, ``ref``, ``clamp``, ``ref_steps``, ``spk``, ``xp<k>``, ``inc<k>``, ``dec<k>``,
``near<k>``); float32 layouts are simulated in float64 (plastic weights then agree with numba's
float32 arithmetic only to float32 rounding); Brian's synaptic queues and the plasticity
traces are not copied back into ``layout.syn.buf`` / ``layout.plastic``, so a run that
continues on another backend after ``brian2`` loses the delayed spikes in flight at the switch
and starts plastic projections with empty traces (learned weights, modulator values and the
spikes of the last step, still to be paired, counted and delivered, are kept); a block whose
recorded spikes do not fit into the spike buffer returns early as in the other backends, with
the rest of the simulated block handed out by the following calls (``layout.state`` and the
learned weights are then already at the end of the simulated block).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.engine.brian2_neurons import Neurons, network_inputs
from neurosim.engine.device_sync import SyncedCopies
from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, Layout, column_sets
from neurosim.engine.rng import _S11, _STEP_KEY, _TO_UNIT, splitmix64
from neurosim.plasticity import rules


def available() -> tuple[bool, str]:
    """Registry probe: usable when Brian2 imports."""
    try:
        import brian2
    except Exception as exc:  # ImportError, or a broken installation
        return False, f"brian2 is not importable ({type(exc).__name__}: {exc})"
    return True, f"brian2 {brian2.__version__}"


CODEGEN_TARGETS = ("numpy", "cython")


def check_target(target: str | None) -> None:
    """A Brian codegen target this backend runs (runtime mode), or ``None`` (Brian's preference)."""
    if target is not None and target not in CODEGEN_TARGETS:
        raise ValueError(f"simulation.backend: brian2 code generation target must be one of {CODEGEN_TARGETS} "
                         f"(or None for Brian's preference), got {target!r}")


def write_back_plasticity(layout: Layout, tr: "Translation", step: int) -> None:
    """Copy the learned weights and the modulator values from Brian into ``layout`` (where the
    other backends leave them), and empty the layout's transient plasticity state (traces,
    arrivals in flight), which lives in Brian while it runs. ``step``: the first step Brian has
    not simulated.

    The neuron spikes of the block's last step (stamped ``t_step``) are left as numba's
    ``_emit_plastic`` leaves them: their delay-0 plastic synapses are delivered into
    ``layout.state`` (Brian delivers them at the start of its next step) and they are noted for
    the next plasticity phase (``last``, ``fired``, ``counters[0]``, ``gcount``). A translation
    starting at ``step`` reads them back (``mute``: their input is in the state already)."""
    syn, pl = layout.syn, layout.plastic
    for s in tr.plastic:
        syn.weight[np.asarray(s.pos[:], np.int64)] = np.asarray(s.syn_w_[:])
    for m, g in enumerate(tr.modulators):
        a = float(g.A[0])
        pl.mod_state[m] = a
        targets = slice(pl.mod_target_ptr[m], pl.mod_target_ptr[m + 1])
        pl.lr[pl.mod_proj[targets], pl.mod_kind[targets]] = a
    pl.trace[...] = 0
    pl.pend_n[:] = 0
    pl.last[:] = -1
    pl.gcount[:] = 0
    # the spikes of the last step: flag ``spk`` (set by the reset, cleared in the next step)
    fired = np.flatnonzero(tr.neurons.gather("spk") > 0.5)
    pl.last[fired] = step
    np.add.at(pl.gcount, layout.rec.group_of[fired], 1)
    watched = fired[pl.watch[fired] != 0]
    pl.fired[:watched.size] = watched
    pl.counters[0] = watched.size
    plastic = np.zeros(syn.target.size, bool)
    plastic[pl.grp_pos] = True
    pos = _outgoing(layout, fired)  # by neuron, then merged position: numba's order of delivery
    pos = pos[plastic[pos] & (syn.delay[pos] == 0)]
    code = syn.target[pos].astype(np.int64)  # state code r N + i
    n = max(layout.n_neurons, 1)
    np.add.at(layout.state.vars, (code // n, code % n), syn.weight[pos])


# --------------------------------------------------------------------------- input events
def poisson_spikes(layout: Layout, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson spikes of steps ``a <= step < b`` exactly as neurosim draws them: (steps, global ids),
    ordered by step, then id."""
    drv = layout.drive
    ids = drv.poisson_id.astype(np.int64)
    if ids.size == 0 or b <= a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    seed = np.uint64(drv.seed[0])
    out_s, out_i = [], []
    chunk = max(1, (1 << 20) // ids.size)
    elements = ids.astype(np.uint64)[None, :]
    for c0 in range(a, b, chunk):
        st = np.arange(c0, min(b, c0 + chunk), dtype=np.int64)
        with np.errstate(over="ignore"):
            key = splitmix64(seed ^ (st.astype(np.uint64)[:, None] * _STEP_KEY))
            u = (splitmix64(key ^ elements) >> _S11) * _TO_UNIT
        fire = (u < drv.poisson_p[None, :]) & (drv.poisson_start[None, :] <= st[:, None]) \
            & (st[:, None] < drv.poisson_stop[None, :])
        r, c = np.nonzero(fire)
        out_s.append(st[r])
        out_i.append(ids[c])
    return np.concatenate(out_s), np.concatenate(out_i)


def source_spikes(layout: Layout, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """All source spikes (spike generators, then Poisson) of steps ``a <= step < b``, in
    neurosim's order: by step, generators before Poisson sources."""
    drv = layout.drive
    lo, hi = np.searchsorted(drv.gen_step, [a, b], side="left")
    ps, pi = poisson_spikes(layout, a, b)
    steps = np.concatenate([drv.gen_step[lo:hi].astype(np.int64), ps])
    ids = np.concatenate([drv.gen_id[lo:hi].astype(np.int64), pi])
    kind = np.concatenate([np.zeros(hi - lo, np.int8), np.ones(ps.size, np.int8)])
    order = np.lexsort((kind, steps))
    return steps[order], ids[order]


def _outgoing(layout: Layout, ids: np.ndarray) -> np.ndarray:
    """Merged-CSR positions of the synapses of elements ``ids``."""
    ip = layout.syn.indptr
    if ids.size == 0:
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(ip[j], ip[j + 1]) for j in ids])


# --------------------------------------------------------------------------- plasticity
#: Brian's schedule of the plasticity phase (see the module docstring): the events of the spikes
#: at t_m are found, then arrivals (depression) before post spikes (potentiation), all before the
#: StateMonitor (``start``, order 0); traces and modulators follow in ``before_groups``
_EVENTS_AT = ("before_start", -10)
_PRE_AT, _POST_AT, _COUNT_AT = ("before_start", 0), ("before_start", 1), ("before_start", 2)
_TRACES_AT = ("before_groups", 0)


def _trace_code(x: str, flag: str, inc: str, dec: str, near: str) -> str:
    """``x <- (x + inc flag) dec`` (all-to-all, ``near`` 0) or ``x <- (inc if flag else x) dec``
    (nearest, ``near`` 1), flags in {0, 1}: one operation per statement, so Brian evaluates
    exactly neurosim's ``(x + inc) * d``, ``inc * d`` or ``x * d`` (``x * 1 + 0``, ``x * 0 + inc``
    are exact)."""
    u = f"_{x}"
    return (f"{u}k = {flag} * {near}\n{u}keep = 1 - {u}k\n{u}old = {x} * {u}keep\n{u}add = {inc} * {flag}\n"
            f"{u}sum = {u}old + {u}add\n{x} = {u}sum * {dec}\n")


def _rule_code(potentiate: bool, x: str, y: str, eta: str | None) -> str:
    """One weight update (:data:`neurosim.plasticity.rules.POTENTIATION` or ``DEPRESSION``) as
    Brian code, reading the traces ``x`` and ``y`` and the learning-rate factor ``eta`` (None: 1)."""
    names = {"w": "syn_w", "x": x, "y": y, "lr": eta or "1.0", "lo": "w_min", "hi": "w_max", "soft": "soft_bound",
             "hard": "hard_bound", "alpha": "alpha", "a2": "a_plus" if potentiate else "a_minus",
             "a3": "a3_plus" if potentiate else "a3_minus"}
    statements = rules.POTENTIATION if potentiate else rules.DEPRESSION
    return rules.brian2_code(statements, names, "_p_" if potentiate else "_d_")


#: the presynaptic trace of a potentiation with same-step pairing: ``y + inc`` (all-to-all) or
#: ``inc`` (nearest) if the relay is hit now (:func:`neurosim.plasticity.rules.same_step_trace`,
#: branch-free: ``y - y * reset`` is ``y`` or exactly 0)
_SAME_STEP_CODE = ("_s_reset = hit_pre * near_pre\n_s_gone = y_pre * _s_reset\n_s_kept = y_pre - _s_gone\n"
                   "_s_add = inc_pre * hit_pre\n_s_x = _s_kept + _s_add\n")


class _PlasticPlan:
    """What the Brian translation of a layout's plasticity needs, in numpy (no Brian objects).

    ``R``: one relay element per (presynaptic trace column, delay): it holds the trace of the
    arrivals ``y = x_pre(t - D)`` and is flagged (``hit``) one step before an arrival.
    ``step0``'s own spikes (neurons whose ``last`` is ``step0``, sources spiking then) and the
    arrivals waiting in ``pend`` become initial flags and inject events.
    """

    def __init__(self, layout: Layout, step0: int, src_ids0: np.ndarray):
        syn, pl = layout.syn, layout.plastic
        n = layout.n_neurons
        ring = syn.buf.shape[0]
        mask = ring - 1
        self.pos = pl.grp_pos.astype(np.int64)  # plastic synapses, by (row, delay): neurosim's delay groups
        entry_grp = np.repeat(np.arange(pl.grp_delay.size), np.diff(pl.grp_ptr))
        self.delay = pl.grp_delay[entry_grp].astype(np.int64)
        self.proj = pl.grp_proj.astype(np.int64)
        self.row = syn.target[self.pos].astype(np.int64) // max(n, 1)
        self.post = syn.target[self.pos].astype(np.int64) % max(n, 1)
        pre_col_at, post_ycol_at = np.zeros(syn.target.size, np.int64), np.zeros(syn.target.size, np.int64)
        pre_col_at[pl.csc_pos], post_ycol_at[pl.csc_pos] = pl.csc_col, pl.csc_ycol
        pre_col, post_ycol = pre_col_at[self.pos], post_ycol_at[self.pos]
        pre_ycol, post_col = pl.grp_ycol.astype(np.int64), pl.grp_col.astype(np.int64)
        sets = pl.tset.astype(np.int64)  # trace sets: (first element, size, first column)
        col_set = column_sets(pl)
        # the main group's traces xp<set> each synapse reads: fast (depression), slow (potentiation)
        self.post_set, self.post_yset = col_set[post_col], col_set[post_ycol]
        self.post_sets = np.unique(np.concatenate([self.post_set, self.post_yset]))
        self.inc, self.dec, self.near = (pl.t_inc.astype(np.float64), pl.t_decay.astype(np.float64),
                                         pl.t_nearest.astype(np.float64))
        # relay elements: unique (presynaptic column, its slow column, delay); y and y2 their traces
        keys, self.r_of = np.unique(np.stack([pre_col, pre_ycol, self.delay]), axis=1, return_inverse=True)
        self.r_of = self.r_of.reshape(-1)
        r_col, r_ycol, self.r_delay = keys[0], keys[1], keys[2]
        r_set, r_yset = col_set[r_col], col_set[r_ycol]
        self.r_pre = r_col - sets[r_set, 2] + sets[r_set, 0]  # the element whose spikes arrive
        self.r_inc, self.r_dec, self.r_near = self.inc[r_set], self.dec[r_set], self.near[r_set]
        self.r_inc2, self.r_dec2, self.r_near2 = self.inc[r_yset], self.dec[r_yset], self.near[r_yset]
        n_r = r_col.size
        sent = (step0 - self.r_delay) & mask
        self.r_y, self.r_y2 = pl.trace[sent, r_col].astype(np.float64), pl.trace[sent, r_ycol].astype(np.float64)
        # the spikes at t_step0: neurons (emitted by the previous block, delay-0 synapses delivered
        # then) and the sources of step0 (not emitted yet)
        self.fired0 = pl.last[:n] == step0
        spiked0 = np.zeros(syn.indptr.size - 1, bool)
        spiked0[:n] = self.fired0
        spiked0[src_ids0] = True
        self.hit = np.zeros(n_r)
        now = spiked0[self.r_pre] & (self.r_delay == 0)
        self.hit[now] = 1.0
        self.mute = (now & (self.r_pre < n)).astype(np.float64)  # their weights are in the state already
        due = []  # arrivals after step0: (relay element, step)
        for s in range(step0, step0 + ring):
            groups = pl.pend[s & mask, :pl.pend_n[s & mask]]
            if groups.size:
                entries = np.concatenate([np.arange(pl.grp_ptr[g], pl.grp_ptr[g + 1]) for g in groups])
                r = np.unique(self.r_of[entries])
                if s == step0:
                    self.hit[r] = 1.0
                else:
                    due.append((r, np.full(r.size, s)))
        later = spiked0[self.r_pre] & (self.r_delay > 0)
        due.append((np.flatnonzero(later), step0 + self.r_delay[later]))
        self.inject_r = np.concatenate([d[0] for d in due]).astype(np.int64)
        self.inject_step = np.concatenate([d[1] for d in due]).astype(np.int64)
        # the main group's postsynaptic traces x_post(step0)
        self.xp = {}
        for t in self.post_sets:
            a, size, col = sets[t]
            values = np.zeros(n)
            values[a:a + size] = pl.trace[step0 & mask, col:col + size]
            self.xp[int(t)] = values
        # modulators: (modulator, drive entry) -> group, coefficient; targets -> (projection, kind)
        self.mods = []
        for m in range(pl.mod_state.size):
            d0, d1 = pl.mod_drive_ptr[m], pl.mod_drive_ptr[m + 1]
            t0, t1 = pl.mod_target_ptr[m], pl.mod_target_ptr[m + 1]
            self.mods.append(dict(state=float(pl.mod_state[m]), tau=float(pl.mod_tau[m]),
                                  weight=float(pl.mod_weight[m]), bias=float(pl.mod_bias[m]),
                                  groups=pl.mod_group[d0:d1].astype(np.int64), coefs=pl.mod_coef[d0:d1].astype(float),
                                  targets=list(zip(pl.mod_proj[t0:t1].tolist(), pl.mod_kind[t0:t1].tolist()))))
        self.eta = {}  # (projection, 0 potentiation | 1 depression) -> modulator
        for m, mod in enumerate(self.mods):
            for q, kind in mod["targets"]:
                self.eta[(q, kind)] = m
        self.rule = {k: getattr(pl, k) for k in ("a_plus", "a_minus", "a3_plus", "a3_minus", "w_min", "w_max", "soft",
                                                  "hard", "alpha", "same")}

    def static_mask(self, n_synapses: int) -> np.ndarray:
        keep = np.ones(n_synapses, bool)
        keep[self.pos] = False
        return keep

    def neuron_lines(self) -> list[str]:
        lines = ["spk : 1"]
        for t in self.post_sets:
            lines += [f"xp{t} : 1", f"inc{t} : 1 (constant, shared)", f"dec{t} : 1 (constant, shared)",
                      f"near{t} : 1 (constant, shared)"]
        return lines

    def init_neurons(self, neurons) -> None:
        for plan, group in zip(neurons.plans, neurons.groups):
            group.spk = self.fired0[plan.ids].astype(np.float64)
            for t, values in self.xp.items():
                setattr(group, f"xp{t}", values[plan.ids])
                for name, arr in (("inc", self.inc), ("dec", self.dec), ("near", self.near)):
                    setattr(group, f"{name}{t}", float(arr[t]))
            code = "".join(_trace_code(f"xp{t}", "spk", f"inc{t}", f"dec{t}", f"near{t}") for t in self.post_sets)
            group.run_regularly(code + "spk = 0\n", when=_TRACES_AT[0], order=_TRACES_AT[1])
            group.thresholder["fired"].when, group.thresholder["fired"].order = _EVENTS_AT

    def _relay_group(self, b2, neurons, sources, clock, step0: int, dt: float, objects: list):
        """The relay elements, flagged by the spikes (after their delays) and the inject events."""
        n = neurons.n
        n_r = self.r_pre.size
        traces = "".join(f"y{k} : 1\ninc{k} : 1 (constant)\ndec{k} : 1 (constant)\nnear{k} : 1 (constant)\n"
                         for k in ("", "2"))
        relay = b2.NeuronGroup(n_r, "hit : 1\nmute : 1\n" + traces, events={"arrive": "hit > 0.5"}, clock=clock)
        relay.thresholder["arrive"].when, relay.thresholder["arrive"].order = _EVENTS_AT
        relay.hit, relay.mute, relay.y, relay.y2 = self.hit, self.mute, self.r_y, self.r_y2
        relay.inc, relay.dec, relay.near = self.r_inc, self.r_dec, self.r_near
        relay.inc2, relay.dec2, relay.near2 = self.r_inc2, self.r_dec2, self.r_near2
        relay.run_regularly(_trace_code("y", "hit", "inc", "dec", "near") + _trace_code("y2", "hit", "inc2", "dec2", "near2")
                            + "hit = 0\nmute = 0\n", when=_TRACES_AT[0], order=_TRACES_AT[1])
        objects.append(relay)
        # relays: a spike of element j flags its relay element of delay D, D steps later, in the
        # synapses slot of the step before the arrival
        from_neurons = np.flatnonzero(self.r_pre < n)
        for g, sel, local in neurons.split_ids(self.r_pre[from_neurons]):
            r = from_neurons[sel]
            objects.append(_relay(b2, neurons.groups[g], relay, local, r, self.r_delay[r], dt, clock))
        sel = np.flatnonzero(self.r_pre >= n)
        if sel.size:
            objects.append(_relay(b2, sources, relay, self.r_pre[sel] - n, sel, self.r_delay[sel], dt, clock))
        if self.inject_r.size:
            inject = b2.SpikeGeneratorGroup(n_r, self.inject_r, (self.inject_step - 1 - step0) * dt * b2.second,
                                            clock=clock)
            objects += [inject, _relay(b2, inject, relay, np.arange(n_r), np.arange(n_r), np.zeros(n_r, np.int64),
                                       dt, clock)]
        return relay

    def build(self, b2, layout: Layout, neurons, sources, clock, src_ids0: np.ndarray, step0: int,
              dt: float) -> tuple[list, list, list]:
        """The relay group, relays, plastic synapses and modulators: (objects, plastic Synapses, modulator groups)."""
        n = layout.n_neurons
        syn = layout.syn
        objects, relay = [], None
        if self.r_pre.size:
            relay = self._relay_group(b2, neurons, sources, clock, step0, dt, objects)
        # modulators: one group each; counts per drive entry (neurons: 'fired' events, sources: spikes)
        mod_groups = []
        for m, mod in enumerate(self.mods):
            k_n = len(mod["groups"])
            lines = ["A : 1", "weight : 1 (constant)", "bias : 1 (constant)", "tau : 1 (constant)"]
            lines += [f"n{k} : 1\nc{k} : 1 (constant)" for k in range(k_n)]
            mg = b2.NeuronGroup(1, "\n".join(lines), clock=clock)
            mg.A, mg.weight, mg.bias, mg.tau = mod["state"], mod["weight"], mod["bias"], mod["tau"]
            code = []
            for k, (g, c) in enumerate(zip(mod["groups"], mod["coefs"])):
                setattr(mg, f"c{k}", c)
                members = np.flatnonzero(layout.rec.group_of == g)
                setattr(mg, f"n{k}", float(np.count_nonzero(np.isin(src_ids0, members))))
                code.append(f"_d{k} = c{k} * n{k}")
                if k:
                    code.append(f"_s{k} = _s{k - 1} + _d{k}")
                else:
                    code.append("_s0 = _d0")
                pres = [(neurons.groups[g], local, "fired") for g, _, local in neurons.split_ids(members[members < n])]
                srcs = members[members >= n] - n
                if srcs.size:
                    pres.append((sources, srcs, "spike"))
                for pre_group, ids, on_event in pres:
                    s = b2.Synapses(pre_group, mg, on_pre=f"n{k}_post += 1", on_event={"pre": on_event}, clock=clock)
                    s.connect(i=ids.astype(np.int64), j=np.zeros(ids.size, np.int64))
                    if on_event == "fired":
                        s.pre.when, s.pre.order = _COUNT_AT
                    objects.append(s)
            code += [f"_u1 = weight * _s{k_n - 1}" if k_n else "_u1 = weight * 0.0", "_u2 = _u1 + bias",
                     "_u3 = _u2 - A", "_u4 = _u3 / tau", "A = A + _u4"]
            code += [f"n{k} = 0" for k in range(k_n)]
            mg.run_regularly("\n".join(code) + "\n", when=_TRACES_AT[0], order=_TRACES_AT[1] + 1)
            objects.append(mg)
            mod_groups.append(mg)
        # plastic synapses: one Synapses per (projection, target group and variable), relay -> neurons
        plastic = []
        n_rows = layout.state.vars.shape[0]
        for q in np.unique(self.proj):
            in_q = np.flatnonzero(self.proj == q)
            for g, var, sel_q, local in neurons.split_codes(self.row[in_q] * max(n, 1) + self.post[in_q], n_rows):
                sel = in_q[sel_q]
                t, ty = int(self.post_set[sel[0]]), int(self.post_yset[sel[0]])
                eta_p, eta_d = self.eta.get((int(q), 0)), self.eta.get((int(q), 1))
                unit = neurons.unit(g, var)
                # amplitudes carry the weight unit and ``soft_bound`` its inverse, so that Brian's unit check
                # accepts the branch-free rule (the SI values are neurosim's: dimensionless rates for
                # the multiplicative rule, soft = 1)
                lines = [f"syn_w : {unit}", "pos : integer (constant)"]
                lines += [f"{k} : {unit} (constant, shared)" for k in ("a_plus", "a_minus", "a3_plus", "a3_minus",
                                                                      "w_min", "w_max")]
                lines += [f"soft_bound : {neurons.unit(g, var, -1)} (constant, shared)",
                          "hard_bound : 1 (constant, shared)", "alpha : 1 (constant, shared)"]
                if eta_p is not None or eta_d is not None:
                    lines.append("mod_index : integer (constant)")
                lines += [f"eta_{s} : 1 (linked)" for s, e in (("p", eta_p), ("d", eta_d)) if e is not None]
                on_pre = (f"_keep = 1 - mute_pre\n_v = syn_w * _keep\n{var}_post += _v\n"
                          + _rule_code(False, f"xp{t}_post", "y2_pre", "eta_d" if eta_d is not None else None))
                same = bool(self.rule["same"][q])
                on_post = ((_SAME_STEP_CODE if same else "")
                           + _rule_code(True, "_s_x" if same else "y_pre", f"xp{ty}_post",
                                        "eta_p" if eta_p is not None else None))
                s = b2.Synapses(relay, neurons.groups[g], model="\n".join(lines), on_pre=on_pre, on_post=on_post,
                                on_event={"pre": "arrive", "post": "fired"}, clock=clock)
                s.connect(i=self.r_of[sel], j=local)
                s.syn_w_ = syn.weight[self.pos[sel]].astype(np.float64)
                s.pos = self.pos[sel]
                for k in ("a_plus", "a_minus", "a3_plus", "a3_minus", "w_min", "w_max", "alpha"):
                    setattr(s, k + "_", float(self.rule[k][q]))
                s.soft_bound_, s.hard_bound_ = float(self.rule["soft"][q]), float(self.rule["hard"][q])
                if eta_p is not None or eta_d is not None:
                    s.mod_index = 0
                for name, e in (("eta_p", eta_p), ("eta_d", eta_d)):
                    if e is not None:
                        setattr(s, name, b2.linked_var(mod_groups[e], "A", index="mod_index"))
                s.pre.when, s.pre.order = _PRE_AT
                s.post.when, s.post.order = _POST_AT
                objects.append(s)
                plastic.append(s)
        return objects, plastic, mod_groups


def _relay(b2, source, relay, i, j, d, dt, clock):
    """``Synapses`` that flag relay elements ``j`` ``d`` steps after a spike of ``i``."""
    d = np.asarray(d, np.int64)
    d_shared = bool(d.size and np.all(d == d[0]))
    kwargs = {"delay": float(d[0]) * dt * b2.second} if d_shared else {}
    s = b2.Synapses(source, relay, on_pre="hit_post = 1", clock=clock, **kwargs)
    s.connect(i=np.asarray(i, np.int64), j=np.asarray(j, np.int64))
    if not d_shared:
        s.delay = d.astype(np.float64) * dt * b2.second
    return s


# --------------------------------------------------------------------------- translation
@dataclass
class Translation:
    """The Brian2 objects of one translated layout; Brian time 0 is neurosim step ``base``."""

    base: int
    dt: float
    net: Any  # brian2.Network
    neurons: Neurons  # the NeuronGroups and the map from global ids onto them
    sources: Any  # SpikeGeneratorGroup or None
    spikes: list = field(default_factory=list)  # SpikeMonitor per neuron group (empty: spikes not recorded)
    states: list = field(default_factory=list)  # (group, StateMonitor, variables, local ids) per recorded group
    state_every: int = 1  # steps between two StateMonitor samples
    plastic: list = field(default_factory=list)  # plastic Synapses (variables ``w`` and merged position ``pos``)
    modulators: list = field(default_factory=list)  # one NeuronGroup (variable ``A``) per modulator

    def set_source_spikes(self, steps: np.ndarray, ids: np.ndarray, n_neurons: int) -> None:
        """Feed source spikes at neurosim steps ``steps`` (> base) to the generator (Brian step ``step - 1``)."""
        import brian2 as b2

        if self.sources is not None:
            self.sources.set_spikes((ids - n_neurons).astype(np.int64),
                                    (steps - 1 - self.base).astype(np.float64) * self.dt * b2.second)

    def neuron_spikes(self, clear: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The recorded neuron spikes as (Brian step since ``base``, global id), by step then id;
        ``clear``: empty the monitors (memory stays bounded over many runs)."""
        steps, ids = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for plan, mon in zip(self.neurons.plans, self.spikes):
            ids.append(plan.ids[np.asarray(mon.i[:], np.int64)])
            steps.append(np.rint(np.asarray(mon.t_[:]) / self.dt).astype(np.int64))
            if clear:
                mon.resize(0)
                mon.variables["N"].set_value(0)
        steps, ids = np.concatenate(steps), np.concatenate(ids)
        order = np.lexsort((ids, steps))
        return steps[order], ids[order]


def translate(layout: Layout, dt: float | None = None, step0: int = 0, source_until: int | None = None,
              record_spikes: bool = True, record_states: bool = True,
              parameters: list[dict[str, np.ndarray]] | None = None) -> Translation:
    """Build the Brian2 network of ``layout`` starting at neurosim step ``step0`` (from its current
    state and ring buffer). ``dt`` (s) and ``parameters`` (one dict of SI parameter arrays per
    segment, ``model.parameter_values(size, population)``): by default those of the network
    that holds ``layout`` (see :func:`neurosim.engine.brian2_neurons.network_inputs`).
    ``source_until``: give the generator the source spikes of steps ``step0 < step < source_until``
    now (standalone mode); otherwise feed them per run with :meth:`Translation.set_source_spikes`.
    Uses the current Brian device and preferences; run ``Translation.net`` with ``namespace={}``
    (the groups hold every name they use). Plastic projections and modulators (see the module
    docstring) are read from ``layout.plastic``; the layout itself is not changed."""
    import brian2 as b2

    if dt is None or parameters is None:
        net_dt, net_params = network_inputs(layout)
        dt = net_dt if dt is None else dt
        parameters = net_params if parameters is None else parameters
    sec = b2.second
    n = layout.n_neurons
    n_el = layout.syn.indptr.size - 1
    n_src = n_el - n
    syn, drv, st = layout.syn, layout.drive, layout.state
    k_rows = st.vars.shape[0]
    clock = b2.Clock(dt=dt * sec)

    # --- initial state and the input of step0 (buffered, currents, sources): added at once
    state = np.zeros((k_rows + 1, n))  # state rows, then the external current: codes r N + i
    state[:k_rows] = st.vars
    state[k_rows] = st.i_ext
    flat = state.reshape(-1)
    events = []  # (step, state code, amount) for steps > step0
    ring = syn.buf.shape[0]
    for s in range(step0, step0 + ring):
        row = syn.buf[s & (ring - 1)]
        nz = np.flatnonzero(row)
        if nz.size:
            if s == step0:
                flat[nz] += row[nz]
            else:
                events.append((np.full(nz.size, s), nz, row[nz].astype(np.float64)))
    c0, c1 = np.searchsorted(drv.cur_step, [step0, step0 + 1], side="left")
    np.add.at(state[k_rows], drv.cur_id[c0:c1], drv.cur_delta[c0:c1])
    later = np.arange(c1, drv.cur_step.size)
    events.append((drv.cur_step[later], k_rows * n + drv.cur_id[later].astype(np.int64),
                   drv.cur_delta[later].astype(np.float64)))
    _, first_ids = source_spikes(layout, step0, step0 + 1)
    plan = _PlasticPlan(layout, step0, first_ids) if layout.plastic.flags[0] else None
    static = plan.static_mask(syn.target.size) if plan is not None else np.ones(syn.target.size, bool)
    pos = _outgoing(layout, first_ids)
    pos = pos[static[pos]]  # plastic synapses: delivered on arrival by the relay elements (see _PlasticPlan)
    now = syn.delay[pos] == 0
    np.add.at(flat, syn.target[pos[now]], syn.weight[pos[now]])
    pos = pos[~now]
    events.append((step0 + syn.delay[pos].astype(np.int64), syn.target[pos].astype(np.int64),
                   syn.weight[pos].astype(np.float64)))

    # --- neurons: one NeuronGroup per model (split where exact solutions degenerate)
    neurons = Neurons(b2, layout, parameters, clock,
                      extra_lines=plan.neuron_lines() if plan is not None else None,
                      events={"fired": "spk > 0.5"} if plan is not None else None,
                      reset_extra="spk = 1" if plan is not None else "")
    neurons.set_state(state, st.ref)
    if plan is not None:
        plan.init_neurons(neurons)
    objects = list(neurons.groups)

    # --- sources
    sources = None
    if n_src:
        idx, times = np.zeros(0, np.int64), np.zeros(0)
        if source_until is not None:
            s_steps, s_ids = source_spikes(layout, step0 + 1, source_until)
            idx, times = s_ids - n, (s_steps - 1 - step0) * dt
        sources = b2.SpikeGeneratorGroup(n_src, idx, times * sec, clock=clock)
        objects.append(sources)

    # --- synapses from the merged CSR: one Synapses per (presynaptic group, target group and variable)
    pre = np.repeat(np.arange(n_el, dtype=np.int64), np.diff(syn.indptr))
    keep = np.flatnonzero(static)
    in_neurons = keep[pre[keep] < n]
    pre_parts = [(neurons.groups[g], in_neurons[sel], local) for g, sel, local in neurons.split_ids(pre[in_neurons])]
    if n_src:
        from_sources = keep[pre[keep] >= n]
        pre_parts.append((sources, from_sources, pre[from_sources] - n))
    for pre_group, where, local_pre in pre_parts:
        if not where.size:
            continue
        for g, var, sel, local_post in neurons.split_codes(syn.target[where], k_rows):
            objects.append(_synapses(b2, pre_group, neurons.groups[g], var, neurons.unit(g, var), local_pre[sel],
                                     local_post, syn.weight[where[sel]], syn.delay[where[sel]], dt, clock))

    # --- plasticity: relay elements, plastic synapses, modulators
    plastic, modulators = [], []
    if plan is not None:
        more, plastic, modulators = plan.build(b2, layout, neurons, sources, clock, first_ids, step0, dt)
        objects += more

    # --- inject events: input that is due after step0 but not carried by a synapse of the network
    e_step = np.concatenate([e[0] for e in events]).astype(np.int64)
    e_code = np.concatenate([e[1] for e in events]).astype(np.int64)
    e_amount = np.concatenate([e[2] for e in events])
    if e_step.size:
        order = np.argsort(e_step, kind="stable")
        e_step, e_code, e_amount = e_step[order], e_code[order], e_amount[order]
        inject = b2.SpikeGeneratorGroup(e_step.size, np.arange(e_step.size), (e_step - 1 - step0) * dt * sec,
                                        clock=clock)
        objects.append(inject)
        for g, var, sel, local in neurons.split_codes(e_code, k_rows):
            objects.append(_synapses(b2, inject, neurons.groups[g], var, neurons.unit(g, var), sel, local,
                                     e_amount[sel], np.zeros(sel.size, np.int64), dt, clock))

    # --- per-target Poisson inputs and noise: neurosim's draws, added before each step's integration
    objects += _drive_operations(b2, layout, neurons, k_rows, step0, dt, clock)

    # --- monitors
    rec = layout.rec
    spikes = [b2.SpikeMonitor(group) for group in neurons.groups] if record_spikes else []
    states, every = [], 1
    if record_states and rec.rec_id.size:
        interval = int(rec.rec_interval[0])
        every = interval if step0 % interval == 0 else 1
        ids = rec.rec_id.astype(np.int64)
        for g, sel, _ in neurons.split_ids(ids):
            names = sorted({neurons.variable(g, int(r)) for r in rec.rec_var[sel]})
            uids = np.unique(ids[sel])
            mon = b2.StateMonitor(neurons.groups[g], names, record=neurons.local[uids], when="start",
                                  dt=every * dt * sec)
            states.append((g, mon, names, uids))
    objects += spikes + [m for _, m, _, _ in states]
    return Translation(base=step0, dt=dt, net=b2.Network(*objects), neurons=neurons, sources=sources, spikes=spikes,
                       states=states, state_every=every, plastic=plastic, modulators=modulators)


def _drive_operations(b2, layout: Layout, neurons: Neurons, k_rows: int, base: int, dt: float, clock) -> list:
    """``NetworkOperation`` objects (runtime mode only) that add neurosim's own draws: the
    per-target Poisson input counts at the start of every step (slot ``before_start``, before
    the state sample), the noise increments after the sample (``before_groups``, before the
    integration); see :func:`neurosim.engine.numpy_backend.poisson_increments` and ``noise_increments``."""
    from neurosim.engine.numpy_backend import noise_increments, poisson_increments

    def operation(increments, when: str):
        def add(t):
            step = base + int(round(float(t / b2.second) / dt))
            for codes, amounts in increments(layout, step):
                for g, var, sel, local in neurons.split_codes(codes, k_rows):
                    view = getattr(neurons.groups[g], var + "_")
                    view[local] = view[local] + amounts[sel]
        return b2.NetworkOperation(add, when=when, order=-1, clock=clock)

    drv = layout.drive
    return ([operation(poisson_increments, "before_start")] if drv.inputs.shape[0] else []) \
        + ([operation(noise_increments, "before_groups")] if drv.noises.shape[0] else [])


def _synapses(b2, source, target, var, unit, i, j, w, d, dt, clock):
    """``Synapses`` adding ``w`` (SI, in ``unit``) to ``var`` of the target after ``d`` steps
    (shared weight / delay if uniform)."""
    w = np.asarray(w, np.float64)
    w_shared = bool(np.all(w == w[0]))
    d_shared = bool(np.all(d == d[0]))
    kwargs = {"delay": float(d[0]) * dt * b2.second} if d_shared else {}
    s = b2.Synapses(source, target, model=f"syn_w : {unit} (constant{', shared' if w_shared else ''})",
                    on_pre=f"{var}_post += syn_w", clock=clock, **kwargs)
    s.connect(i=np.asarray(i, np.int64), j=np.asarray(j, np.int64))
    s.syn_w_ = w[0] if w_shared else w
    if not d_shared:
        s.delay = np.asarray(d, np.float64) * dt * b2.second
    return s


# --------------------------------------------------------------------------- runtime backend
@dataclass
class _Chunk:
    """One simulated stretch ``a <= step < a + n``, handed out from step ``a + cursor`` on."""

    a: int
    n: int
    rec_k: np.ndarray  # step index (0..n-1) of each recorded spike, non-decreasing
    rec_stamp: np.ndarray
    rec_id: np.ndarray
    counts: np.ndarray  # (n, groups)
    row_step: np.ndarray  # steps of the state samples
    rows: np.ndarray  # (samples, columns)
    cursor: int = 0


class _Run:
    """A translated layout and its progress (one per layout, kept across ``Network.run`` calls)."""

    def __init__(self, layout: Layout, step0: int):
        self.tr = translate(layout, step0=step0)
        self.next_step = step0  # first step Brian has not simulated
        self.pending: _Chunk | None = None
        self.synced = SyncedCopies()  # what Brian holds of the host's state and weights
        self.remember(layout)

    def remember(self, layout: Layout) -> None:
        for name, host in _edited(layout).items():
            self.synced.remember(name, host)

    def edited(self, layout: Layout) -> bool:
        """Whether the host changed the state or weights since Brian last wrote them back
        (``Population.set_state``, ``Projection.set_weights``, a direct edit)."""
        return any(self.synced.changed(name, host) for name, host in _edited(layout).items())

    def simulate(self, layout: Layout, a: int, n: int) -> _Chunk:
        import brian2 as b2

        tr, nn = self.tr, layout.n_neurons
        src_steps, src_ids = source_spikes(layout, a, a + n + 1)
        later = src_steps > a
        tr.set_source_spikes(src_steps[later], src_ids[later], nn)
        tr.net.run(n * tr.dt * b2.second, namespace={})  # names: the groups' own, Brian's units and functions
        self.next_step = a + n
        # neuron spikes: Brian step j is neurosim step base + j, stamped one step later
        emit, ids = tr.neuron_spikes()
        emit = emit + tr.base
        in_block = src_steps < a + n
        stamp = np.concatenate([emit + 1, src_steps[in_block]])
        gid = np.concatenate([ids, src_ids[in_block]])
        k = np.concatenate([emit - a, src_steps[in_block] - a])
        order = np.lexsort((gid, stamp))
        stamp, gid, k = stamp[order], gid[order], k[order]
        rec = layout.rec
        counts = np.zeros((n, rec.counts.shape[1]), np.int32)
        np.add.at(counts, (k, rec.group_of[gid]), 1)
        keep = rec.spike_mask[gid] != 0
        row_step, rows = np.zeros(0, np.int64), np.zeros((0, rec.rec_id.size))
        if tr.states:
            steps = np.rint(np.asarray(tr.states[0][1].t_[:]) / tr.dt).astype(np.int64) + tr.base
            take = steps % int(rec.rec_interval[0]) == 0
            rows = np.empty((int(take.sum()), rec.rec_id.size))
            ids = rec.rec_id.astype(np.int64)
            for g, mon, names, uids in tr.states:
                cols = np.flatnonzero(tr.neurons.group_of[ids] == g)
                at = np.searchsorted(uids, ids[cols])
                for c, j in zip(cols, at):
                    var = tr.neurons.variable(g, int(rec.rec_var[c]))
                    rows[:, c] = np.asarray(getattr(mon, var + "_"))[j, take]
                mon.resize(0)
            row_step = steps[take]
        # the state after the block
        tr.neurons.write_back(layout)
        if layout.plastic.flags[0]:
            write_back_plasticity(layout, tr, a + n)
        self.remember(layout)
        return _Chunk(a, n, k[keep], stamp[keep], gid[keep], counts, row_step, rows)

    def hand_out(self, layout: Layout, ch: _Chunk, n_req: int) -> int:
        """Copy up to ``n_req`` steps of ``ch`` (as many as the spike buffer holds) into ``layout.rec``."""
        rec = layout.rec
        m = min(n_req, ch.n - ch.cursor)
        room = rec.spk_step.size - int(rec.counters[N_SPIKES])
        lo = int(np.searchsorted(ch.rec_k, ch.cursor, side="left"))
        ends = np.searchsorted(ch.rec_k, ch.cursor + np.arange(1, m + 1), side="left") - lo
        m = int(np.searchsorted(ends, room, side="right"))
        if m == 0:
            raise RuntimeError("brian2 backend: one step has more spikes than the spike buffer holds")
        hi = lo + int(ends[m - 1])
        p = int(rec.counters[N_SPIKES])
        rec.spk_step[p:p + hi - lo] = ch.rec_stamp[lo:hi]
        rec.spk_id[p:p + hi - lo] = ch.rec_id[lo:hi]
        rec.counters[N_SPIKES] = p + hi - lo
        rec.counts[:m] += ch.counts[ch.cursor:ch.cursor + m]
        a, b = ch.a + ch.cursor, ch.a + ch.cursor + m
        rsel = (ch.row_step >= a) & (ch.row_step < b)
        r0, r = int(rec.counters[N_ROWS]), int(rsel.sum())
        rec.rec_out[r0:r0 + r] = ch.rows[rsel]
        rec.rec_step[r0:r0 + r] = ch.row_step[rsel]
        rec.counters[N_ROWS] = r0 + r
        drv = layout.drive
        rec.counters[GEN_CURSOR] = np.searchsorted(drv.gen_step, b - 1, side="right")
        rec.counters[CUR_CURSOR] = np.searchsorted(drv.cur_step, b - 1, side="right")
        ch.cursor += m
        return m


_RUNS: dict[int, tuple[Any, _Run]] = {}


def _edited(layout: Layout) -> dict[str, np.ndarray]:
    """The host arrays a continued Brian network would not see change: edits mean a new translation."""
    return {"vars": layout.state.vars, "i_ext": layout.state.i_ext, "weight": layout.syn.weight}


class Brian2Backend:
    """Runs blocks on Brian2 in runtime mode; ``target``: Brian's ``prefs.codegen.target``
    (``"numpy"``, ``"cython"``; ``None`` keeps the current preference)."""

    name = "brian2"

    def __init__(self, target: str | None = None):
        check_target(target)
        self.target = target

    def _run_for(self, layout: Layout, step0: int) -> _Run:
        key = id(layout.state.vars)
        entry = _RUNS.get(key)
        run = entry[1] if entry is not None and entry[0]() is layout.state.vars else None
        if run is not None and (run.pending is not None and run.pending.a + run.pending.cursor == step0
                                or run.pending is None and run.next_step == step0):
            if not run.edited(layout):
                return run
            if run.pending is not None:
                raise RuntimeError("brian2 backend: the state or weights were changed while a simulated block was "
                                   "still being handed out; change them after a run that ended normally")
        run = _Run(layout, step0)
        _RUNS[key] = (weakref.ref(layout.state.vars), run)
        weakref.finalize(layout.state.vars, _RUNS.pop, key, None)
        return run

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        import brian2 as b2

        if n_steps <= 0:
            return 0
        if self.target is not None:
            b2.prefs.codegen.target = self.target
        run = self._run_for(layout, step0)
        if run.pending is None or run.pending.cursor >= run.pending.n:
            run.pending = run.simulate(layout, step0, n_steps)
        done = run.hand_out(layout, run.pending, n_steps)
        if run.pending.cursor >= run.pending.n:
            run.pending = None
        return done

