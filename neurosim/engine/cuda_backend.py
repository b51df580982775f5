"""CUDA backend (numba.cuda): a block of steps runs on the GPU.

Static layouts (no plastic projection) run a block as ONE launch of the persistent kernel of
:mod:`neurosim.engine.cuda_persistent` (its threads loop over the steps, separated by block or
grid-wide barriers; spikes and samples recorded in device buffers). Layouts with plastic
projections run a launch sequence per step (below).

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
what reads the layout (``projection.synapses``, ``Modulator.value``) works unchanged.

With plastic projections, step ``m`` (semantics of :mod:`neurosim.engine.layout`) is the launch sequence

1. ``begin_step`` (one thread): stop the block if the spike buffer could overflow, apply the
   current changes due at ``t_m`` (index range computed on the host), empty the spike lists;
2. ``sources`` (generators due at ``m``, Poisson sources; counter-based random numbers, so the
   draws equal the numba backend's) and ``deliver_plastic`` of their spikes, due ``m + delay``;
3. the plasticity phase for the spikes at ``t_m``:
   ``plastic_pre`` (arrivals of delayed plastic spikes and depression), ``plastic_post``
   (potentiation through the CSC index), ``plastic_traces`` (traces at ``t_{m+1}``, then
   modulators and ``lr``); see :mod:`neurosim.engine.cuda_plasticity`;
4. ``take_buffered`` and ``record_state`` on sampled steps (else the ring-buffer slot is added
   inside the neuron kernel);
5. ``neurons`` (one thread per neuron, each running the step of its neuron's model, generated
   from the layout's compiled models by :mod:`neurosim.engine.cuda_neurons`) and
   ``deliver_plastic`` of their spikes, due ``m + 1 + delay``.

This is the order of ``numba_backend.run_block``. Rows with plastic synapses are walked with
the live weights, delayed plastic synapses are left to their arrival (delivered there with the
weight they have then), and each spike is noted for the next plasticity phase (``last``,
``gcount``, and ``fired`` with its counter ``ctr[FIRED]``, as ``numba_backend._emit_plastic``).
The spikes noted after the neuron update of the last step of a block (and the queues, traces
and modulators) stay in the host layout and are paired when the next block starts, as in the
numba backend. Kernel launches are asynchronous; the host reads back a flag every
:data:`CHECK_EVERY` steps to learn whether the block stopped early, so at most that many no-op
step sequences follow a stop. Each launch costs some 80 us of host time through numba-cuda, so
a plastic step costs about 0.5 ms whatever the network size (an H200 ran the 1,000-neuron
network of ``benchmarks/gpu_plastic.py`` at 18 s per simulated second, numba at 0.2 s).

Delivery adds synapses due at once into the state, later ones into the ring buffer
``buf[L, K N]``, both with atomic adds. On a GPU the order of those float additions varies from
run to run, so results agree with the numba backend statistically (rates, distributions), not
bitwise; NVVM also contracts multiply-adds into FMAs. Under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) every kernel is launched with one thread, which runs its loops in
index order: spikes are then delivered in ascending order, each row in CSR order, and the
results equal the numba backend's spike for spike and sample for sample in float64, and so do
the learned weights, traces and modulator values (the test suite checks all of this, block
by block). The simulated neuron kernel evaluates ``exp``, ``expm1``, ``log``... with the
functions of the NumPy reference backend (:mod:`neurosim.engine.cuda_neurons`), so for every
neuron model it also equals the ``numpy`` backend bit for bit in float64. Recorded spikes are
appended with an atomic counter and sorted on the host at the end of the block into the numba
backend's order (per step: neurons, then spike generators, then Poisson sources, each by index).

Limits. The plasticity kernels rely on what the layout guarantees: every element spikes at most
once per step (checked for spike sources that drive plastic synapses) and each (projection,
factor) has at most one modulator; under those, no two threads update one weight
(:mod:`neurosim.engine.cuda_plasticity` gives the argument). The modulators run on one thread
(they are few). The whole weight array is copied back at the end of every block of a plastic
network. On an H200 the plastic network of ``benchmarks/gpu_plastic.py`` (every plastic
kernel) reproduced numba's spikes, modulator values and mean weights (to 1e-16).
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from neurosim.engine.device_sync import SyncedCopies
from neurosim.engine.layout import CUR_CURSOR, GEN_CURSOR, N_ROWS, N_SPIKES, Layout

#: host-side check of the early-stop flag every this many steps
CHECK_EVERY = 256
#: device copies of at most this many layouts are kept
CACHE_SIZE = 2

#: how kernels were launched in the last block (diagnostics): fast or ordinary, and why not fast
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


def _launch(n_items: int, threads: int = 256) -> tuple[int, int]:
    """(blocks, threads per block) for a grid-stride loop over ``n_items``; one thread when simulated."""
    if simulated():
        return 1, 1
    return max(1, min(65535, -(-n_items // threads))), threads


class _Launcher:
    """Launch one kernel with one configuration over and over with the same arrays and changing
    integer scalars.

    The launch configuration is created once (numba builds one, and checks the grid for low
    occupancy with a warning, at every ``kernel[grid, block]``). With
    ``NEUROSIM_CUDA_FAST_LAUNCH=1`` the kernel arguments are moreover prepared once and each
    launch only updates the integer scalars in place, calling numba's ``driver.launch_kernel``
    directly (numba prepares every array argument in Python at every launch, which dominates the
    time of a step on small networks). That path relies on internals of numba's own numba.cuda
    and is off by default: it is not verified on a GPU, and the numba-cuda package (as installed
    with numba 0.68) has no ``driver.launch_kernel``, so there it falls back to the ordinary launch (reason in
    :data:`LAUNCH_INFO`).
    """

    def __init__(self, kernel, config: tuple[int, int]):
        self.kernel, self.config = kernel, config
        self.configured = kernel[config]
        self.fast = None if not simulated() and os.environ.get("NEUROSIM_CUDA_FAST_LAUNCH", "0") == "1" else False

    def _setup(self, args: tuple) -> None:
        import ctypes

        from numba.cuda.cudadrv import driver

        kernel = self.kernel.compile(tuple(self.kernel.typeof_pyval(a) for a in args))  # compiled already
        self.handle = kernel._codelibrary.get_cufunc().handle
        self.kernelargs, self.slots, retr = [], {}, []
        for pos, (ty, value) in enumerate(zip(kernel.argument_types, args)):
            start = len(self.kernelargs)
            kernel._prepare_args(ty, value, 0, retr, self.kernelargs)
            if isinstance(value, int) and not isinstance(value, bool):
                (slot,) = self.kernelargs[start:]
                if not isinstance(slot, ctypes.c_int64):
                    raise TypeError(f"unexpected scalar argument {slot!r}")
                self.slots[pos] = slot
        if retr:
            raise TypeError("host arrays among the arguments")
        if hasattr(driver, "USE_NV_BINDING"):  # numba's own numba.cuda (numba <= 0.60 style)
            self.stream = driver.binding.CUstream(0) if driver.USE_NV_BINDING else None
        else:  # the numba-cuda package: an integer handle
            self.stream = 0
        self.launch_kernel = driver.launch_kernel

    def __call__(self, *args) -> None:
        if self.fast is None:  # first call: the ordinary launch (compiles), then prepare the fast one
            self.configured(*args)
            try:
                self._setup(args)
                self.fast = True
            except Exception as exc:  # other numba.cuda internals: keep launching the ordinary way
                LAUNCH_INFO["fallback"] = f"{type(exc).__name__}: {exc}"
                self.fast = False
            return
        if not self.fast:
            self.configured(*args)
            return
        for pos, slot in self.slots.items():
            slot.value = args[pos]
        gx, bx = self.config
        self.launch_kernel(self.handle, gx, 1, 1, bx, 1, 1, 0, self.stream, self.kernelargs)


class _DeviceLayout:
    """Device copies of one layout's arrays, and the host-side bookkeeping to keep them in sync."""

    def __init__(self, layout: Layout):
        from numba import cuda

        from neurosim.engine.cuda_neurons import model_of

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
        self.plastic = None
        if layout.plastic.flags.size and layout.plastic.flags[0]:
            from neurosim.engine.cuda_plasticity import DevicePlasticity

            self.plastic = DevicePlasticity(layout.plastic)
            self._per_step_statics(layout, up)
        else:
            self._persistent_statics(layout, up)

    def _per_step_statics(self, layout: Layout, up) -> None:
        """The arrays only the per-step launches read: the drive per input, a neuron list, counters."""
        from numba import cuda

        drv = layout.drive
        self.poisson = [up(drv.poisson_id), up(drv.poisson_p), up(drv.poisson_start), up(drv.poisson_stop)]
        self.n_poisson = drv.poisson_id.shape[0]
        self.inputs = [self._input(drv, q, up) for q in range(drv.inputs.shape[0])]
        self.noises = [self._noise(drv, q, up) for q in range(drv.noises.shape[0])]
        self.gen_id = up(_padded(drv.gen_id))
        self.cur_id = up(_padded(drv.cur_id))
        self.cur_delta = up(_padded(drv.cur_delta))
        self.spikes_neu = cuda.device_array(max(1, self.n), np.int32)
        self.ctr = up(np.zeros(4, np.int64))  # slots cuda_kernels.SPK, SRC_LIST, NEU_LIST, FIRED

    def _input(self, drv, q: int, up) -> tuple:
        """The launch arguments of Poisson input ``q`` after ``(k, step, halt, flat)``, with its steps."""
        first, stop, row, count, s0, s1, t0, t1, flip = (int(v) for v in drv.inputs[q])
        table = (up(drv.input_prob[t0:t1]), up(drv.input_alias[t0:t1])) if t1 > t0 else (up(np.zeros(0)),) * 2
        args = (row * self.n + first, first, stop - first, drv.input_seed[q], drv.input_real[q, 0], *table, count,
                drv.input_real[q, 1], bool(flip), drv.input_w[q])
        return s0, s1, args

    def _noise(self, drv, q: int, up) -> tuple:
        """The launch arguments of noise input ``q`` after ``(k, step, halt, flat)``, with its steps."""
        first, stop, row, s0, s1, o = (int(v) for v in drv.noises[q])
        args = (row * self.n + first, first, stop - first, drv.noise_seed[q], up(drv.noise_a[o:o + stop - first]),
                up(drv.noise_b[o:o + stop - first]))
        return s0, s1, args

    def _persistent_statics(self, layout: Layout, up) -> None:
        """The arrays only the persistent kernel reads: the whole drive, two neuron lists, counters."""
        from numba import cuda

        from neurosim.engine import cuda_persistent as P

        drv, rec = layout.drive, layout.rec
        self.drive = P.Drive(*(up(_padded(getattr(drv, name))) for name in P.Drive._fields))
        self.neu_lists = cuda.device_array((2, max(1, self.n)), np.int32)
        self.pctr = up(np.zeros(P.N_COUNTERS, np.int64))
        n_gen, n_poisson = drv.gen_step.shape[0], drv.poisson_id.shape[0]
        burst = int(np.unique(drv.gen_step, return_counts=True)[1].max()) if n_gen else 0  # generator spikes in a step
        self.sizes = P.Sizes(
            n=self.n, n_el=self.n_elements, step_max=max(1, self.n + burst + n_poisson), cap=rec.spk_step.shape[0],
            mask=layout.syn.buf.shape[0] - 1,
            interval=int(rec.rec_interval[0]), n_cols=rec.rec_id.shape[0], any_buffered=int(self.any_buffered),
            n_gen=n_gen, n_cur=drv.cur_step.shape[0], n_poisson=n_poisson, n_in=drv.inputs.shape[0],
            n_noise=drv.noises.shape[0], has_sources=int(n_gen + n_poisson > 0))

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
        return step0, n_steps, self.seed, self.sizes, csr, cells, self.drive, record, lists

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
            device = self.poisson[1] if self.plastic is not None else self.drive.poisson_p
            device.copy_to_device(layout.drive.poisson_p)
            self.synced.remember("poisson_p", layout.drive.poisson_p)
        if self.plastic is not None:
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
        if self.plastic is not None:  # the learned weights, traces, queues and modulators
            layout.syn.weight[...] = self.weight.copy_to_host()
            self.synced.remember("weight", layout.syn.weight)
            self.plastic.download(layout.plastic)


def _padded(a: np.ndarray) -> np.ndarray:
    """``a``, or one zero element of its dtype (and trailing shape) when empty: device arrays of size 0
    cannot be kernel arguments everywhere; the kernels take the true sizes from ``Sizes``."""
    return a if a.size else np.zeros((1,) + a.shape[1:], a.dtype)


def _persistent_grid(models: tuple, args: tuple, n: int) -> tuple[int, int]:
    """(blocks, threads per block) of the persistent kernel: one thread when simulated; else
    blocks of 256 threads, as many as the neurons need, at most two per multiprocessor and no
    more than can be co-resident (cooperative launch). One block for at most 256 neurons (block
    barriers). On an H200 a grid of 132 blocks ran CUBA with 4,000 neurons faster than one
    block of 1,024 threads (real-time factor 0.108 against 0.119), and at 16,000 neurons 2.3x
    faster. ``NEUROSIM_CUDA_GRID=blocks,threads`` overrides (for benchmarks)."""
    if simulated():
        return 1, 1
    if os.environ.get("NEUROSIM_CUDA_GRID"):
        blocks, threads = (int(v) for v in os.environ["NEUROSIM_CUDA_GRID"].split(","))
        return blocks, threads
    import numba
    from numba import cuda

    from neurosim.engine.cuda_persistent import persistent_kernel

    threads = 256
    wanted = -(-n // threads)
    if wanted <= 1:
        return 1, threads
    signature = tuple(numba.typeof(a) for a in args)
    resident = persistent_kernel(models, False).compile(signature).max_cooperative_grid_blocks(threads)
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
    """Runs blocks on a CUDA GPU (or on numba's CUDA simulator) with numba.cuda kernels: one
    launch per block for static layouts, a launch sequence per step with plasticity."""

    name = "cuda"

    def run_block(self, layout: Layout, step0: int, n_steps: int) -> int:
        step0, n_steps = int(step0), int(n_steps)
        dev = _device_layout(layout)
        dev.upload(layout)
        if dev.plastic is None:
            return self._run_persistent(layout, dev, step0, n_steps)
        return self._run_per_step(layout, dev, step0, n_steps)

    def _run_persistent(self, layout: Layout, dev: _DeviceLayout, step0: int, n_steps: int) -> int:
        """The block as one launch of :func:`neurosim.engine.cuda_persistent.persistent_kernel`."""
        from neurosim.engine import cuda_persistent as P

        rec = layout.rec
        spk0, row0 = int(rec.counters[N_SPIKES]), int(rec.counters[N_ROWS])
        ctr = np.zeros(P.N_COUNTERS, np.int64)
        ctr[P.SPK], ctr[P.ROWS] = spk0, row0
        ctr[P.GEN] = ctr[P.GEN0] = rec.counters[GEN_CURSOR]
        ctr[P.CUR] = rec.counters[CUR_CURSOR]
        dev.pctr.copy_to_device(ctr)
        dev.halt.copy_to_device(np.array([n_steps], np.int64))
        args = dev.persistent_args(step0, n_steps)
        blocks, threads = _persistent_grid(tuple(layout.models), args, dev.n)
        LAUNCH_INFO.update(persistent=True, grid=(blocks, threads))
        P.persistent_kernel(tuple(layout.models), blocks == 1)[blocks, threads](*args)
        ctr = dev.pctr.copy_to_host()
        ran = min(int(dev.halt.copy_to_host()[0]), n_steps)
        interval, sampled = int(rec.rec_interval[0]), rec.rec_id.shape[0] > 0
        rows = [m for m in range(step0, step0 + ran) if sampled and m % interval == 0]
        self._finish(layout, dev, ran, spk0, int(ctr[P.SPK]), row0, rows, (int(ctr[P.GEN]), int(ctr[P.CUR])))
        return ran

    def _run_per_step(self, layout: Layout, dev: _DeviceLayout, step0: int, n_steps: int) -> int:
        """The block as a launch sequence per step (layouts with plastic projections)."""
        from neurosim.engine import cuda_kernels as K
        from neurosim.engine import cuda_plasticity as P
        from neurosim.engine.cuda_neurons import neuron_kernel

        rec, drv = layout.rec, layout.drive
        n, n_el = dev.n, dev.n_elements
        cap = rec.spk_step.shape[0]
        mask = layout.syn.buf.shape[0] - 1
        interval = int(rec.rec_interval[0])
        n_cols = rec.rec_id.shape[0]
        any_buffered = dev.any_buffered
        spk0, row0 = int(rec.counters[N_SPIKES]), int(rec.counters[N_ROWS])
        dev.ctr.copy_to_device(np.array([spk0, 0, 0, layout.plastic.counters[0]], np.int64))
        dev.halt.copy_to_device(np.array([n_steps], np.int64))
        csr = (dev.indptr, dev.target, dev.weight, dev.delay, dev.row_delay, dev.row_uniform, dev.row_weight)
        lanes = 1 if simulated() else 32
        cfg_neu = _launch(n)
        cfg_src = _launch(drv.gen_step.size + dev.n_poisson)
        cfg_del = _launch(min(n_el, 1 << 14) * lanes)  # warps per spike; grid-stride over further spikes
        cfg_rec = _launch(n_cols)
        begin_step, sources = _Launcher(K.begin_step, (1, 1)), _Launcher(K.sources, cfg_src)
        inputs = [(s0, s1, _Launcher(K.poisson_input, cfg_neu), args) for s0, s1, args in dev.inputs]
        noises = [(s0, s1, _Launcher(K.noise_input, cfg_neu), args) for s0, s1, args in dev.noises]
        dpl = dev.plastic  # rows with plastic synapses, and the spikes noted for the plasticity phase
        deliver_src, deliver_neu = _Launcher(K.deliver_plastic, cfg_del), _Launcher(K.deliver_plastic, cfg_del)
        notes = (dpl.skip, dev.group_of, dpl.last, dpl.gcount, dpl.watch, dpl.fired, dpl.n_hit, dpl.hit)
        pre_args, post_args, trace_args = dpl.phase_args(dev)
        plastic_pre, plastic_post = _Launcher(P.plastic_pre, cfg_del), _Launcher(P.plastic_post, cfg_del)
        plastic_traces = _Launcher(P.plastic_traces, _launch(dpl.n_cols))
        take_buffered, record_state = _Launcher(K.take_buffered, cfg_neu), _Launcher(K.record_state, cfg_rec)
        update = _Launcher(neuron_kernel(tuple(layout.models)), cfg_neu)
        gen_step, cur_step = drv.gen_step, drv.cur_step
        g, c = int(rec.counters[GEN_CURSOR]), int(rec.counters[CUR_CURSOR])
        cursors = []  # (gen cursor, current cursor) after each step
        rows = []  # steps sampled, in order
        for k in range(n_steps):
            step = step0 + k
            c0 = c
            while c < cur_step.shape[0] and cur_step[c] == step:
                c += 1
            g0 = g
            while g < gen_step.shape[0] and gen_step[g] == step:
                g += 1
            cursors.append((g, c))
            begin_step(k, dev.halt, dev.ctr, n_el, cap, dev.cur_id, dev.cur_delta, c0, c, dev.i_ext)
            if g > g0 or dev.n_poisson:
                sources(k, step, dev.halt, dev.ctr, dev.gen_id, g0, g - g0, *dev.poisson, dev.seed, dev.spikes_src,
                        dev.spike_mask, dev.spk_step, dev.spk_id, dev.counts, dev.group_of)
                deliver_src(k, dev.halt, dev.ctr, K.SRC_LIST, dev.spikes_src, step, lanes, *csr, dev.flat, dev.buf,
                            *notes)
            for s0, s1, poisson_input, args in inputs:
                if s0 <= step < s1:
                    poisson_input(k, step, dev.halt, dev.flat, *args)
            plastic_pre(k, step, dev.halt, dev.ctr, lanes, *pre_args)  # the plasticity phase for the spikes at t_step
            plastic_post(k, step, dev.halt, dev.ctr, lanes, *post_args)
            plastic_traces(k, step, dev.halt, dev.ctr, *trace_args)
            slot = step & mask
            sample = n_cols > 0 and step % interval == 0
            if sample:
                if any_buffered:
                    take_buffered(k, dev.halt, n, dev.flat, dev.buf, slot, dev.buffered)
                record_state(k, dev.halt, n, dev.flat, dev.rec_id, dev.rec_var, dev.rec_out, row0 + len(rows))
                rows.append(step)
            noisy = [(launch, args) for s0, s1, launch, args in noises if s0 <= step < s1]
            taken = sample or not any_buffered
            if noisy and not taken:  # the buffered input first, as the other backends add it
                take_buffered(k, dev.halt, n, dev.flat, dev.buf, slot, dev.buffered)
                taken = True
            for launch, args in noisy:  # after the sample: the noise of [t_step, t_step+1)
                launch(k, step, dev.halt, dev.flat, *args)
            update(k, step, dev.halt, dev.ctr, n, dev.flat, dev.ref, dev.i_ext, dev.params, dev.ref_steps,
                   dev.model_of, int(not taken), dev.buf, slot, dev.buffered, dev.spikes_neu,
                   dev.spike_mask, dev.spk_step, dev.spk_id, dev.counts, dev.group_of)
            deliver_neu(k, dev.halt, dev.ctr, K.NEU_LIST, dev.spikes_neu, step + 1, lanes, *csr, dev.flat, dev.buf,
                        *notes)
            if (k + 1) % CHECK_EVERY == 0 and k + 1 < n_steps and int(dev.halt.copy_to_host()[0]) <= k:
                break
        ran = min(int(dev.halt.copy_to_host()[0]), n_steps)
        LAUNCH_INFO.update(persistent=False, fast=bool(update.fast))
        ctr = dev.ctr.copy_to_host()
        layout.plastic.counters[0] = ctr[K.FIRED]  # spikes noted for the next plasticity phase
        sampled = [m for m in rows if m < step0 + ran]
        self._finish(layout, dev, ran, spk0, int(ctr[K.SPK]), row0, sampled, cursors[ran - 1] if ran else None)
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
