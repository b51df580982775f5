"""CUDA backend (numba.cuda): a block of steps runs on the GPU as ONE launch.

Every layout runs a block as one launch of the persistent kernel of
:mod:`neurosim.engine.cuda_persistent` (its threads loop over the steps, separated by block or
grid-wide barriers; spikes and samples recorded in device buffers; with plastic projections the
plasticity phase of :mod:`neurosim.engine.cuda_plasticity` runs inside it).

The host layout stays the source of truth between blocks. The device keeps, per layout, a
copy of every array (:class:`_DeviceLayout`, cached for the last few layouts): the static ones
(table, CSR, drive, monitor maps, plasticity indices and constants) are uploaded once; the
dynamic ones (state, external current, refractory counters, ring buffer, weights, and with
plasticity ``lr``, ``fired``, ``last``, ``gcount``, ``pend``, ``pend_n``, ``trace``,
``mod_state``) are uploaded at the start of a block only if the host copy changed since the
device last wrote it back. At the end of a block the state, the recordings (spikes, state
samples, rate counts) and, with plasticity, the learned weights and the plasticity state are
copied back into the host arrays, and the counters advanced, exactly as
:mod:`neurosim.engine.numba_backend` leaves them, so ``Network._hand_out`` and
what reads the layout (``projection.synapses``, ``Modulator.value``) works unchanged. The
spikes noted after the neuron update of the last step of a block (and the queues, traces and
modulators) stay in the host layout and are paired when the next block starts, as in the
numba backend.

Delivery adds synapses due at once into the state, later ones into the ring buffer
``buf[L, K N]``. Presynaptic delivery does so with atomic adds: on a GPU the order of those float
additions varies from run to run, so results agree with the numba backend statistically (rates,
distributions), not bitwise; NVVM also contracts multiply-adds into FMAs. Postsynaptic delivery
(:func:`delivery`, :mod:`neurosim.engine.incoming`) has one thread per target and no atomics:
forced on every step, a static network sums identically on every run. Under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) the kernel is launched with one thread, which runs its loops in
index order: spikes are then delivered in ascending order, each row in CSR order, and the
results equal the numba backend's spike for spike and sample for sample in float64, and so do
the learned weights, traces and modulator values (the test suite checks all of this, block
by block). The simulated neuron step evaluates ``exp``, ``expm1``, ``log``... with the
functions of the NumPy reference backend (:mod:`neurosim.engine.cuda_neurons`), so for every
neuron model it also equals the ``numpy`` backend bit for bit in float64. Recorded spikes are
appended with an atomic counter and sorted on the host at the end of the block into the numba
backend's order (per step: neurons, then spike generators, then Poisson sources, each by index).

Limits. The plasticity phase relies on what the layout guarantees: every element spikes at most
once per step (checked for spike sources that drive plastic synapses) and each (projection,
factor) has at most one modulator; under those, no two threads update one weight
(:mod:`neurosim.engine.cuda_plasticity` gives the argument). The modulators run on one thread
(they are few). The whole weight array is copied back at the end of every block of a plastic
network. On an H200 the plastic network of ``benchmarks/gpu_plastic.py`` (every plastic
kernel, then a launch sequence per step) reproduced numba's spikes, modulator values and mean
weights (to 1e-16).
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from neurosim.engine.device_sync import SyncedCopies
from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, SPIKE_SLACK, Layout

#: device copies of at most this many layouts are kept
CACHE_SIZE = 2
#: ``auto`` delivery pulls the neuron (source) spikes of a step (:mod:`neurosim.engine.incoming`)
#: when at least this fraction of the neurons (sources) spiked: a pass over their synapses then
#: costs less than the atomics of walking the spikes' rows (not yet calibrated on a GPU)
PULL_FRACTION = 1 / 16
#: ``auto`` builds the incoming indices only for layouts with at most this many synapses
PULL_MAX_SYNAPSES = 1 << 27
DELIVERIES = ("auto", "push", "pull")

#: how the last block was launched (diagnostics): the grid (blocks, threads per block), plastic or
#: not, able to pull or not, and the steps whose neuron (source) spikes it pulled
LAUNCH_INFO: dict[str, object] = {}

_CACHE: "OrderedDict[int, tuple[Layout, _DeviceLayout]]" = OrderedDict()


def simulated() -> bool:
    """Whether numba.cuda is the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from neurosim.engine.cuda_kernels import SIMULATED

    return SIMULATED


def cuda_probe() -> tuple[bool, str]:
    """Whether the cuda backend can run here (a usable GPU, or the CUDA simulator), and why."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        return True, "CUDA simulator (NUMBA_ENABLE_CUDASIM=1): correct but very slow"
    return gpu_probe()


_GPU_STATUS: tuple[bool, str] | None = None


def gpu_probe() -> tuple[bool, str]:
    """Whether a real CUDA GPU is usable through numba.cuda (cached after the first call)."""
    global _GPU_STATUS
    if _GPU_STATUS is None:
        if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
            _GPU_STATUS = (False, "NUMBA_ENABLE_CUDASIM=1: numba.cuda is the simulator, not a GPU")
            return _GPU_STATUS
        try:
            from numba import cuda

            if cuda.is_available():
                name = cuda.get_current_device().name
                name = name.decode() if isinstance(name, bytes) else str(name)
                _GPU_STATUS = (True, f"CUDA GPU: {name}")
            else:
                _GPU_STATUS = (False, "no CUDA driver or GPU found by numba.cuda")
        except Exception as exc:  # numba.cuda raises various errors without a driver or toolkit
            _GPU_STATUS = (False, f"numba.cuda unusable: {type(exc).__name__}: {exc}")
    return _GPU_STATUS


def invalidate(layout: Layout) -> None:
    """Forget the device copy of ``layout`` (e.g. after editing its synapse arrays on the host)."""
    _CACHE.pop(id(layout), None)


class _DeviceLayout:
    """Device copies of one layout's arrays, and the host-side bookkeeping to keep them in sync."""

    def __init__(self, layout: Layout):
        from numba import cuda

        from neurosim.engine.cuda_neurons import model_of
        from neurosim.engine.cuda_plasticity import DevicePlasticity

        tab, st, syn, drv, rec = layout.table, layout.state, layout.syn, layout.drive, layout.rec
        self.n = st.vars.shape[1]
        self.n_elements = syn.indptr.shape[0] - 1
        up = cuda.to_device
        self.params, self.ref_steps = up(np.ascontiguousarray(tab.params)), up(tab.ref_steps)
        self.model_of = up(model_of(layout.segments, self.n))  # each neuron's index into layout.models
        self.indptr, self.target, self.weight, self.delay = (up(syn.indptr), up(syn.target), up(syn.weight),
                                                             up(syn.delay))
        self.row_delay, self.row_uniform, self.row_weight = up(syn.row_delay), up(syn.row_uniform), up(syn.row_weight)
        self.any_buffered = bool(np.any(syn.buffered))
        self.buffered = up(syn.buffered.astype(np.uint8))  # per state row: 1 if delayed synapses target it
        self.seed = np.uint64(drv.seed[0])
        self.spike_mask, self.group_of = up(rec.spike_mask), up(rec.group_of)
        self.rec_id, self.rec_var = up(rec.rec_id), up(rec.rec_var)
        self.rec_out = cuda.device_array(rec.rec_out.shape if rec.rec_out.size else (1, 1), rec.rec_out.dtype)
        self.spk_step = cuda.device_array(rec.spk_step.shape, np.int64)
        self.spk_id = cuda.device_array(rec.spk_id.shape, np.int32)
        self.counts = up(np.zeros(rec.counts.shape if rec.counts.size else (1, 1), np.int32))
        self.spikes_src = cuda.device_array(max(1, self.n_elements + drv.gen_id.size), np.int32)
        self.halt = up(np.zeros(1, np.int64))
        # element kind for the host-side spike order: neurons 0, spike generators 1, Poisson sources 2
        self.kind = np.zeros(self.n_elements, np.int8)
        self.kind[np.unique(drv.gen_id)] = 1
        self.kind[drv.poisson_id] = 2
        self.flat = self.ref = self.i_ext = self.buf = None
        self.synced = SyncedCopies()
        self.synced.remember("weight", syn.weight)
        self.synced.remember("poisson_p", drv.poisson_p)
        self.plastic = DevicePlasticity(layout.plastic)
        self.pull, pull_min = _pull_indices(layout, self.n, up)
        self.pulls = pull_min is not None
        self._statics(layout, up, pull_min or (0, 0))

    def _statics(self, layout: Layout, up, pull_min: tuple[int, int]) -> None:
        """The drive, the two neuron lists, the counters and the kernel's sizes."""
        from numba import cuda

        from neurosim.engine import cuda_persistent as P

        drv, rec, dpl = layout.drive, layout.rec, self.plastic
        self.drive = P.Drive(*(up(_padded(getattr(drv, name))) for name in P.Drive._fields))
        self.neu_lists = cuda.device_array((2, max(1, self.n)), np.int32)
        self.pctr = up(np.zeros(P.N_COUNTERS, np.int64))
        n_gen, n_poisson = drv.gen_step.shape[0], drv.poisson_id.shape[0]
        burst = int(np.unique(drv.gen_step, return_counts=True)[1].max()) if n_gen else 0  # generator spikes in a step
        self.sizes = P.Sizes(
            n=self.n, n_el=self.n_elements, step_max=max(1, self.n + burst + n_poisson),
            slack=int(rec.counters[SPIKE_SLACK]), cap=rec.spk_step.shape[0],
            mask=layout.syn.buf.shape[0] - 1,
            interval=int(rec.rec_interval[0]), n_cols=rec.rec_id.shape[0], any_buffered=int(self.any_buffered),
            n_gen=n_gen, n_cur=drv.cur_step.shape[0], n_poisson=n_poisson, n_in=drv.inputs.shape[0],
            n_noise=drv.noises.shape[0], has_sources=int(n_gen + n_poisson > 0), n_trace=dpl.n_cols,
            n_hit=dpl.n_hit, n_mod=dpl.n_mod, pull_min=pull_min[0], pull_min_src=pull_min[1])

    def persistent_args(self, step0: int, n_steps: int) -> tuple:
        """The arguments of the persistent kernel."""
        from neurosim.engine import cuda_persistent as P

        csr = P.Csr(self.indptr, self.target, self.weight, self.delay, self.row_delay, self.row_uniform,
                    self.row_weight)
        cells = P.Cells(self.flat, self.ref, self.i_ext, self.params, self.ref_steps, self.model_of, self.buf,
                        self.buffered)
        record = P.Record(self.spike_mask, self.group_of, self.spk_step, self.spk_id, self.counts, self.rec_id,
                          self.rec_var, self.rec_out)
        lists = P.Lists(self.pctr, self.halt, self.spikes_src, self.neu_lists)
        return (step0, n_steps, self.seed, self.sizes, csr, cells, self.drive, record, lists, self.plastic.arrays,
                *self.pull)

    # ------------------------------------------------------------------ state sync
    def _dynamic(self, layout: Layout) -> dict[str, np.ndarray]:
        st = layout.state
        return {"vars": st.vars, "ref": st.ref, "i_ext": st.i_ext, "buf": layout.syn.buf}

    def upload(self, layout: Layout) -> None:
        """Copy to the device the dynamic arrays that changed on the host since the last sync."""
        from numba import cuda

        for name, host in self._dynamic(layout).items():
            if self.synced.changed(name, host):
                data = np.ascontiguousarray(host.reshape(-1) if name == "vars" else host)
                setattr(self, {"vars": "flat"}.get(name, name), cuda.to_device(data))
                self.synced.remember(name, host)
        if self.synced.changed("weight", layout.syn.weight):  # edited on the host or learned by another backend
            self.weight.copy_to_device(layout.syn.weight)
            self.row_uniform.copy_to_device(layout.syn.row_uniform)  # Projection.set_weights clears rows
            self.synced.remember("weight", layout.syn.weight)
        if self.synced.changed("poisson_p", layout.drive.poisson_p) and layout.drive.poisson_p.size:  # set_rate
            self.drive.poisson_p.copy_to_device(layout.drive.poisson_p)
            self.synced.remember("poisson_p", layout.drive.poisson_p)
        if self.plastic.learns:
            self.plastic.upload(layout.plastic)

    def download(self, layout: Layout) -> None:
        """Copy the live state back into the host arrays (in place)."""
        st = layout.state
        st.vars.reshape(-1)[...] = self.flat.copy_to_host()
        st.ref[...] = self.ref.copy_to_host()
        st.i_ext[...] = self.i_ext.copy_to_host()
        if self.any_buffered:
            layout.syn.buf[...] = self.buf.copy_to_host()
        for name, host in self._dynamic(layout).items():
            self.synced.remember(name, host)
        if self.plastic.learns:  # the learned weights, traces, queues and modulators
            layout.syn.weight[...] = self.weight.copy_to_host()
            self.synced.remember("weight", layout.syn.weight)
            self.plastic.download(layout.plastic)


def delivery() -> str:
    """How the kernel delivers spikes (``NEUROSIM_CUDA_DELIVERY``): ``push`` (presynaptic,
    atomics), ``pull`` (postsynaptic, every step: no atomics, the same sums on every run), or
    ``auto`` (the default: pull the neuron (source) spikes of the steps where at least
    :data:`PULL_FRACTION` of the neurons (sources) spiked)."""
    mode = os.environ.get("NEUROSIM_CUDA_DELIVERY", "auto")
    if mode not in DELIVERIES:
        raise ValueError(f"NEUROSIM_CUDA_DELIVERY: {mode!r} is not one of {', '.join(DELIVERIES)}")
    return mode


def _pull_indices(layout: Layout, n: int, up) -> tuple[tuple, tuple[int, int] | None]:
    """The device :class:`neurosim.engine.cuda_persistent.Pull` of the neuron rows and of the
    source rows, and the fewest neuron and source spikes that are pulled; ``None`` for the
    latter when the kernel only pushes (plastic layouts, ``push``, ``auto`` above
    :data:`PULL_MAX_SYNAPSES`; the Pulls are then stand-ins)."""
    from neurosim.engine import cuda_persistent as P
    from neurosim.engine.incoming import incoming, source_rank

    mode, syn = delivery(), layout.syn
    n_el, n_syn = syn.indptr.shape[0] - 1, int(syn.indptr[-1])
    if layout.plastic.flags[0] or mode == "push" or n_syn == 0 or (mode == "auto" and n_syn > PULL_MAX_SYNAPSES):
        stand_in = P.Pull(*(up(np.zeros(1, t)) for t in (np.int64, np.int32, np.int32, np.int32, np.int32)))
        return (stand_in, stand_in), None
    rank = source_rank(n, n_el, layout.drive.poisson_id)
    pulls = tuple(P.Pull(*(up(_padded(a)) for a in incoming(syn.indptr, syn.target, lo, hi, order)),
                         up(np.zeros(max(1, hi - lo), np.int32)))
                  for lo, hi, order in ((0, n, None), (n, n_el, rank)))
    if mode == "pull":
        return pulls, (0, 0)
    return pulls, (max(1, int(np.ceil(PULL_FRACTION * n))), max(1, int(np.ceil(PULL_FRACTION * (n_el - n)))))


def _padded(a: np.ndarray) -> np.ndarray:
    """``a``, or one zero element of its dtype (and trailing shape) when empty: device arrays of size 0
    cannot be kernel arguments everywhere; the kernels take the true sizes from ``Sizes``."""
    return a if a.size else np.zeros((1,) + a.shape[1:], a.dtype)


def _persistent_grid(models: tuple, plastic: bool, pull: bool, args: tuple, n: int) -> tuple[int, int]:
    """(blocks, threads per block) of the persistent kernel: one thread when simulated; else
    blocks of 256 threads, as many as the neurons need, at most two per multiprocessor and no
    more than can be co-resident (cooperative launch). One block for at most 256 neurons (block
    barriers). On an H200 a grid of 132 blocks ran CUBA with 4,000 neurons faster than one
    block of 1,024 threads (real-time factor 0.108 against 0.119), and at 16,000 neurons 2.3x
    faster. ``NEUROSIM_CUDA_GRID=blocks,threads`` overrides (for benchmarks)."""
    if os.environ.get("NEUROSIM_CUDA_GRID"):
        blocks, threads = (int(v) for v in os.environ["NEUROSIM_CUDA_GRID"].split(","))
        return blocks, threads
    if simulated():
        return 1, 1
    import numba
    from numba import cuda

    from neurosim.engine.cuda_persistent import persistent_kernel

    threads = 256
    wanted = -(-n // threads)
    if wanted <= 1:
        return 1, threads
    signature = tuple(numba.typeof(a) for a in args)
    resident = persistent_kernel(models, False, plastic, pull).compile(signature).max_cooperative_grid_blocks(threads)
    sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    return max(1, min(resident, 2 * sms, wanted)), threads


def _device_layout(layout: Layout) -> _DeviceLayout:
    key = id(layout)
    if key in _CACHE and _CACHE[key][0] is layout:
        _CACHE.move_to_end(key)
        return _CACHE[key][1]
    dev = _DeviceLayout(layout)
    _CACHE[key] = (layout, dev)
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return dev


class CudaBackend:
    """Runs blocks on a CUDA GPU (or on numba's CUDA simulator) as one launch of the
    persistent kernel each."""

    name = "cuda"

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        """The block as one launch of :func:`neurosim.engine.cuda_persistent.persistent_kernel`."""
        from neurosim.engine import cuda_persistent as P

        step0, n_steps = int(step0), int(n_steps)
        dev = _device_layout(layout)
        dev.upload(layout)
        rec, learns = layout.rec, dev.plastic.learns
        spk0, row0 = int(rec.counters[N_SPIKES]), int(rec.counters[N_ROWS])
        ctr = np.zeros(P.N_COUNTERS, np.int64)
        ctr[P.SPK], ctr[P.ROWS] = spk0, row0
        ctr[P.GEN] = ctr[P.GEN0] = rec.counters[GEN_CURSOR]
        ctr[P.CUR] = rec.counters[CUR_CURSOR]
        ctr[P.FIRED] = layout.plastic.counters[0] if learns else 0  # spikes noted at the end of the last block
        dev.pctr.copy_to_device(ctr)
        dev.halt.copy_to_device(np.array([n_steps], np.int64))
        args = dev.persistent_args(step0, n_steps)
        models = tuple(layout.models)
        blocks, threads = _persistent_grid(models, learns, dev.pulls, args, dev.n)
        P.persistent_kernel(models, blocks == 1, learns, dev.pulls)[blocks, threads](*args)
        ctr = dev.pctr.copy_to_host()
        LAUNCH_INFO.update(grid=(blocks, threads), plastic=learns, pull=dev.pulls, pulled_steps=int(ctr[P.PULLED]),
                           pulled_source_steps=int(ctr[P.PULLED_SRC]))
        if learns:
            layout.plastic.counters[0] = ctr[P.FIRED]  # spikes noted for the next plasticity phase
        ran = min(int(dev.halt.copy_to_host()[0]), n_steps)
        interval, sampled = int(rec.rec_interval[0]), rec.rec_id.shape[0] > 0
        rows = [m for m in range(step0, step0 + ran) if sampled and m % interval == 0]
        self._finish(layout, dev, ran, spk0, int(ctr[P.SPK]), row0, rows, (int(ctr[P.GEN]), int(ctr[P.CUR])))
        return ran

    @staticmethod
    def _finish(layout: Layout, dev: _DeviceLayout, ran: int, spk0: int, spk1: int, row0: int, sampled: list[int],
                cursors: tuple[int, int] | None) -> None:
        """Copy the block's recordings (spikes ``spk0 .. spk1``, the ``sampled`` steps) and the
        state back into the host layout and set its cursors, as the numba backend leaves them."""
        rec = layout.rec
        if spk1 > spk0:
            stamp = dev.spk_step[spk0:spk1].copy_to_host()
            ids = dev.spk_id[spk0:spk1].copy_to_host()
            order = np.lexsort((ids, dev.kind[ids], stamp))  # per stamp: neurons, generators, Poisson; by index
            rec.spk_step[spk0:spk1] = stamp[order]
            rec.spk_id[spk0:spk1] = ids[order]
        rec.counters[N_SPIKES] = spk1
        if sampled:
            row1 = row0 + len(sampled)
            rec.rec_out[row0:row1] = dev.rec_out[row0:row1].copy_to_host()
            rec.rec_step[row0:row1] = sampled
        rec.counters[N_ROWS] = row0 + len(sampled)
        if ran:
            counts = dev.counts[:ran].copy_to_host()
            rec.counts[:ran] += counts
            dev.counts[:ran].copy_to_device(np.zeros_like(counts))
            rec.counters[GEN_CURSOR], rec.counters[CUR_CURSOR] = cursors
        dev.download(layout)
