"""Brian2 backend: the flat layout translated into a Brian2 network, results in neurosim's format.

``backend="brian2"`` runs a network on `Brian2 <https://brian2.readthedocs.io>`_ (runtime mode,
codegen target of Brian's preferences or the one given) and fills ``layout.rec`` and
``layout.state`` exactly as the engine contract asks, so ``Network._hand_out``, monitors and
sinks work unchanged. :func:`translate` builds the Brian2 objects from a layout; it is also
what ``benchmarks/cuba.py`` runs in ``cpp_standalone`` mode.

Translation (``N`` neurons, ``S`` sources, see :mod:`neurosim.engine.layout`)
---------------------------------------------------------------------------

- all neurons: one ``NeuronGroup`` with ``v, i_e, i_i, i_ext`` (SI values, dimensionless in
  Brian), the refractory countdown ``ref`` and the columns of ``layout.table`` (shared
  scalars where all neurons agree). The update is neurosim's exact integration, written with
  its propagators (the closed-form solution of the linear CuBa equations over ``dt``, i.e. what
  Brian's ``method="exact"`` computes, but with the very same constants: identical results in
  float64, also for ``tau_syn == tau_m`` and for heterogeneous parameters)::

      clamp = int(ref > 0)
      v = (1 - clamp) (v_rest + (v - v_rest) P_vv + i_e P_ve + i_i P_vi + i_ext P_vI) + clamp v_reset
      i_e *= d_e;  i_i *= d_i;  ref -= clamp

  (a ``run_regularly`` in the ``groups`` slot), threshold ``v >= v_th and clamp == 0``, reset
  ``v = soft (v - (v_th - v_reset)) + (1 - soft) v_reset; ref = ref_steps`` moved to the
  ``after_thresholds`` slot, i.e. *before* synaptic propagation as in neurosim (delta input
  arriving in a neuron's spike step is added after its reset).
- refractoriness: neurosim's own counter, not Brian's ``refractory``: for ``floor(t_ref/dt)``
  steps after a spike ``v`` is clamped to ``v_reset`` and cannot spike; a delta synapse
  arriving then is added (a state sample shows it, as in neurosim) and overwritten by the clamp,
  i.e. lost; the synaptic currents keep decaying.
- synapses: one ``Synapses`` object per (neurons | sources) x target variable (v, i_e, i_i),
  ``on_pre = "<var>_post += w"``, connected from the merged CSR; per-synapse delays
  ``d dt`` (a shared delay / weight where the whole object has one).
- sources (spike sources and Poisson sources): one ``SpikeGeneratorGroup`` with the exact
  spikes neurosim produces (Poisson spikes from neurosim's counter-based generator
  :mod:`neurosim.engine.rng`, so both simulate the same input).
- currents: every change of ``i_ext`` is an event of an "inject" ``SpikeGeneratorGroup`` with a
  synapse ``i_ext_post += delta`` (exact, also in standalone mode). The same group carries the
  input pending in the ring buffer ``layout.syn.buf`` when the translation starts after step 0.

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

Limits: plastic projections (STDP, modulators) are rejected with a ``ValueError``; float32
layouts are simulated in float64; Brian's synaptic queues are not copied back into
``layout.syn.buf``, so a run that continues on another backend after ``brian2`` loses the
delayed spikes in flight at the switch; a block whose recorded spikes do not fit into the spike
buffer returns early as in the other backends, with the rest of the simulated block handed out
by the following calls (``layout.state`` is then already at the end of the simulated block).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, Layout
from neurosim.engine.rng import _S11, _STEP_KEY, _TO_UNIT, splitmix64

#: Brian's clock step in runtime mode: only a time axis (the dynamics live in the propagators,
#: delays are whole steps, and every time is converted back to steps)
NOMINAL_DT = 1e-4
VARIABLES = ("v", "i_e", "i_i", "i_ext")  # state rows 0..2 of layout.state.vars, then the external current
_PARAMETERS = ("v_rest", "v_th", "v_reset", "reset_step", "soft", "p_vv", "p_ve", "p_vi", "p_vI", "d_e", "d_i")
_UPDATE = """
clamp = int(ref > 0)
v = (1 - clamp) * (v_rest + (v - v_rest) * p_vv + i_e * p_ve + i_i * p_vi + i_ext * p_vI) + clamp * v_reset
i_e = i_e * d_e
i_i = i_i * d_i
ref = ref - clamp
"""
_THRESHOLD = "v >= v_th and clamp == 0"
_RESET = "v = soft * (v - reset_step) + (1 - soft) * v_reset\nref = ref_steps"


def available() -> tuple[bool, str]:
    """Registry probe: usable when Brian2 imports."""
    try:
        import brian2
    except Exception as exc:  # ImportError, or a broken installation
        return False, f"brian2 is not importable ({type(exc).__name__}: {exc})"
    return True, f"brian2 {brian2.__version__}"


def check_supported(layout: Layout) -> None:
    if layout.plastic.flags[0]:
        raise ValueError("simulation.backend: 'brian2' does not support plastic projections (STDP, modulators) "
                         "yet; run plastic networks on 'numba' or 'numpy'")


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


# --------------------------------------------------------------------------- translation
@dataclass
class Translation:
    """The Brian2 objects of one translated layout; Brian time 0 is neurosim step ``base``."""

    base: int
    dt: float
    net: Any  # brian2.Network
    neurons: Any
    sources: Any  # SpikeGeneratorGroup or None
    spikes: Any  # SpikeMonitor of the neurons
    states: Any  # StateMonitor or None
    state_vars: list[str] = field(default_factory=list)
    state_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    state_every: int = 1  # steps between two StateMonitor samples

    def set_source_spikes(self, steps: np.ndarray, ids: np.ndarray, n_neurons: int) -> None:
        """Feed source spikes at neurosim steps ``steps`` (> base) to the generator (Brian step ``step - 1``)."""
        import brian2 as b2

        if self.sources is not None:
            self.sources.set_spikes((ids - n_neurons).astype(np.int64),
                                    (steps - 1 - self.base).astype(np.float64) * self.dt * b2.second)


def translate(layout: Layout, dt: float, step0: int = 0, source_until: int | None = None,
              record_spikes: bool = True, record_states: bool = True) -> Translation:
    """Build the Brian2 network of ``layout`` starting at neurosim step ``step0`` (from its current
    state and ring buffer). ``source_until``: give the generator the source spikes of steps
    ``step0 < step < source_until`` now (standalone mode); otherwise feed them per run with
    :meth:`Translation.set_source_spikes`. Uses the current Brian device and preferences."""
    import brian2 as b2

    check_supported(layout)
    sec = b2.second
    n = layout.n_neurons
    n_el = layout.syn.indptr.size - 1
    n_src = n_el - n
    syn, drv, st, tb = layout.syn, layout.drive, layout.state, layout.table
    clock = b2.Clock(dt=dt * sec)

    # --- initial state and the input of step0 (buffered, currents, sources): added at once
    state = np.zeros((4, n))
    state[:3] = st.vars
    state[3] = st.i_ext
    events = []  # (step, state code in 0..4N, amount) for steps > step0
    ring = syn.buf.shape[0]
    for s in range(step0, step0 + ring):
        row = syn.buf[s & (ring - 1)]
        nz = np.flatnonzero(row)
        if nz.size:
            if s == step0:
                state[:3].reshape(-1)[nz] += row[nz]
            else:
                events.append((np.full(nz.size, s), nz, row[nz].astype(np.float64)))
    c0, c1 = np.searchsorted(drv.cur_step, [step0, step0 + 1], side="left")
    np.add.at(state[3], drv.cur_id[c0:c1], drv.cur_delta[c0:c1])
    later = np.arange(c1, drv.cur_step.size)
    events.append((drv.cur_step[later], 3 * n + drv.cur_id[later].astype(np.int64),
                   drv.cur_delta[later].astype(np.float64)))
    _, first_ids = source_spikes(layout, step0, step0 + 1)
    pos = _outgoing(layout, first_ids)
    now = syn.delay[pos] == 0
    np.add.at(state[:3].reshape(-1), syn.target[pos[now]], syn.weight[pos[now]])
    pos = pos[~now]
    events.append((step0 + syn.delay[pos].astype(np.int64), syn.target[pos].astype(np.int64),
                   syn.weight[pos].astype(np.float64)))

    # --- neurons
    shared = {k: bool(np.all(getattr(tb, k) == getattr(tb, k)[0])) for k in (*_PARAMETERS, "ref_steps")}
    lines = [f"{v} : 1" for v in VARIABLES] + ["ref : integer", "clamp : integer"]
    lines += [f"{k} : 1 (constant{', shared' if shared[k] else ''})" for k in _PARAMETERS]
    lines.append(f"ref_steps : integer (constant{', shared' if shared['ref_steps'] else ''})")
    group = b2.NeuronGroup(n, "\n".join(lines), threshold=_THRESHOLD, reset=_RESET, clock=clock)
    group.resetter["spike"].when = "after_thresholds"
    for k in (*_PARAMETERS, "ref_steps"):
        col = getattr(tb, k)
        value = col.astype(np.int64 if k == "ref_steps" else np.float64)
        setattr(group, k, value[0] if shared[k] else value)
    for k, name in enumerate(VARIABLES):
        setattr(group, name, state[k])
    group.ref = st.ref.astype(np.int64)
    group.run_regularly(_UPDATE, when="groups")
    objects = [group]

    # --- sources
    sources = None
    if n_src:
        idx, times = np.zeros(0, np.int64), np.zeros(0)
        if source_until is not None:
            s_steps, s_ids = source_spikes(layout, step0 + 1, source_until)
            idx, times = s_ids - n, (s_steps - 1 - step0) * dt
        sources = b2.SpikeGeneratorGroup(n_src, idx, times * sec, clock=clock)
        objects.append(sources)

    # --- synapses from the merged CSR
    pre = np.repeat(np.arange(n_el, dtype=np.int64), np.diff(syn.indptr))
    row = syn.target.astype(np.int64) // max(n, 1)
    post = syn.target.astype(np.int64) % max(n, 1)
    for is_src, pre_group in ((False, group), (True, sources)):
        for r in range(3):
            sel = np.flatnonzero((row == r) & ((pre >= n) == is_src))
            if sel.size:
                objects.append(_synapses(b2, pre_group, group, VARIABLES[r], pre[sel] - (n if is_src else 0), post[sel],
                                         syn.weight[sel], syn.delay[sel], dt, clock))

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
        for r in range(4):
            sel = np.flatnonzero(e_code // n == r)
            if sel.size:
                objects.append(_synapses(b2, inject, group, VARIABLES[r], sel, e_code[sel] % n, e_amount[sel],
                                         np.zeros(sel.size, np.int64), dt, clock))

    # --- monitors
    rec = layout.rec
    spikes = b2.SpikeMonitor(group) if record_spikes else None
    states, names, uids, every = None, [], np.zeros(0, np.int64), 1
    if record_states and rec.rec_id.size:
        names = [VARIABLES[r] for r in sorted(set(rec.rec_var.tolist()))]
        uids = np.unique(rec.rec_id).astype(np.int64)
        interval = int(rec.rec_interval[0])
        every = interval if step0 % interval == 0 else 1
        states = b2.StateMonitor(group, names, record=uids, when="start", dt=every * dt * sec)
    objects += [m for m in (spikes, states) if m is not None]
    return Translation(base=step0, dt=dt, net=b2.Network(*objects), neurons=group, sources=sources, spikes=spikes,
                       states=states, state_vars=names, state_ids=uids, state_every=every)


def _synapses(b2, source, target, var, i, j, w, d, dt, clock):
    """``Synapses`` adding ``w`` to ``var`` of the target after ``d`` steps (shared weight / delay if uniform)."""
    w = np.asarray(w, np.float64)
    w_shared = bool(np.all(w == w[0]))
    d_shared = bool(np.all(d == d[0]))
    kwargs = {"delay": float(d[0]) * dt * b2.second} if d_shared else {}
    s = b2.Synapses(source, target, model=f"w : 1 (constant{', shared' if w_shared else ''})",
                    on_pre=f"{var}_post += w", clock=clock, **kwargs)
    s.connect(i=np.asarray(i, np.int64), j=np.asarray(j, np.int64))
    s.w = w[0] if w_shared else w
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

    def __init__(self, layout: Layout, dt: float, step0: int):
        self.tr = translate(layout, dt, step0)
        self.next_step = step0  # first step Brian has not simulated
        self.pending: _Chunk | None = None

    def simulate(self, layout: Layout, a: int, n: int) -> _Chunk:
        import brian2 as b2

        tr, nn = self.tr, layout.n_neurons
        src_steps, src_ids = source_spikes(layout, a, a + n + 1)
        later = src_steps > a
        tr.set_source_spikes(src_steps[later], src_ids[later], nn)
        tr.net.run(n * tr.dt * b2.second)
        self.next_step = a + n
        # neuron spikes: Brian step j is neurosim step base + j, stamped one step later
        ids = np.array(tr.spikes.i[:], np.int64)
        emit = np.rint(np.asarray(tr.spikes.t_[:]) / tr.dt).astype(np.int64) + tr.base
        tr.spikes.resize(0)  # the monitors are emptied after every run: memory stays bounded
        tr.spikes.variables["N"].set_value(0)
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
        if tr.states is not None:
            steps = np.rint(np.asarray(tr.states.t_[:]) / tr.dt).astype(np.int64) + tr.base
            take = steps % int(rec.rec_interval[0]) == 0
            col = np.searchsorted(tr.state_ids, rec.rec_id)
            values = {name: np.asarray(getattr(tr.states, name + "_")) for name in tr.state_vars}
            rows = np.empty((int(take.sum()), rec.rec_id.size))
            for c, (var, j) in enumerate(zip(rec.rec_var, col)):
                rows[:, c] = values[VARIABLES[var]][j, take]
            row_step = steps[take]
            tr.states.resize(0)
        # the state after the block
        g = tr.neurons
        for r, name in enumerate(VARIABLES[:3]):
            layout.state.vars[r] = getattr(g, name + "_")[:]
        layout.state.i_ext[:] = g.i_ext_[:]
        layout.state.ref[:] = g.ref_[:]
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


class Brian2Backend:
    """Runs blocks on Brian2 in runtime mode; ``target``: Brian's ``prefs.codegen.target``
    (``"numpy"``, ``"cython"``; ``None`` keeps the current preference)."""

    name = "brian2"

    def __init__(self, target: str | None = None):
        self.target = target

    def _run_for(self, layout: Layout, step0: int, dt: float) -> _Run:
        key = id(layout.state.vars)
        entry = _RUNS.get(key)
        run = entry[1] if entry is not None and entry[0]() is layout.state.vars else None
        if run is not None and (run.pending is not None and run.pending.a + run.pending.cursor == step0
                                or run.pending is None and run.next_step == step0):
            return run
        run = _Run(layout, dt, step0)
        _RUNS[key] = (weakref.ref(layout.state.vars), run)
        weakref.finalize(layout.state.vars, _RUNS.pop, key, None)
        return run

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        import brian2 as b2

        check_supported(layout)
        if n_steps <= 0:
            return 0
        if self.target is not None:
            b2.prefs.codegen.target = self.target
        run = self._run_for(layout, step0, NOMINAL_DT)
        if run.pending is None or run.pending.cursor >= run.pending.n:
            run.pending = run.simulate(layout, step0, n_steps)
        done = run.hand_out(layout, run.pending, n_steps)
        if run.pending.cursor >= run.pending.n:
            run.pending = None
        return done

