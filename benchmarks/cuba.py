"""CUBA benchmark (Brette et al. 2007): neurosim against Brian2 ``cpp_standalone`` in one run.

    python benchmarks/cuba.py                          # N=4000, K=80, 10 s
    python benchmarks/cuba.py --n 40000 --duration 1   # p = K/N = 0.002, same in-degree
    python benchmarks/cuba.py --k 800                  # synapse-heavy: K=800, weights x 80/K
    python benchmarks/cuba.py --no-brian2 --backend numpy
    python benchmarks/cuba.py --backend cuda --sizes 4000,40000,400000,1000000 --duration 1   # GPU scaling

Both engines simulate the same network: 80 % excitatory LIF neurons, connection probability
p = k/n, exponential currents, Brian's delay 0 (neurosim: delivered at the next step), every
spike recorded. Weights are scaled by 80/k so the total input stays that of the original
network (k=800 divides them by 10).

What each phase measures, chosen so that the two engines are compared like for like:

- build: the Python side. neurosim: :func:`neurosim.models.cuba.build` plus the flat layout,
  connectivity included. Brian2: translating that layout into Brian2 objects (the ``brian2``
  backend's :func:`~neurosim.engine.brian2_backend.translate`: same neurons, initial values and
  synapses, which the binary loads from arrays outside its simulation clock).
- compile: neurosim: loading the backend and the first kernel call on a tiny CUBA network
  (numba JIT, or a load from numba's on-disk cache: see ``neurosim_jit_cache``; ``--cold-jit``
  forces a full compile). Brian2: code generation and ``make`` in a fresh directory.
- sim: the simulation loop's CPU time. Brian's binary times its run loop with ``std::clock()``
  (process CPU time, single-threaded here); ``neurosim_sim_s`` is the process CPU time of
  ``Network.run``, hand-out of spikes to the monitors included (wall time:
  ``neurosim_sim_wall_s``). ``ratio_sim`` = neurosim_sim_s / brian2_sim_s.

The last line of the output is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

K_REFERENCE = 80.0  # in-degree of the original network, whose weights are used unscaled
BRIAN2_WORKER_FLAG = "--brian2-worker"
BRIAN2_FIELDS = ("brian2_build_s", "brian2_compile_s", "brian2_sim_s", "brian2_binary_s", "brian2_spikes",
                 "brian2_rate_hz")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000, help="number of neurons (default 4000)")
    ap.add_argument("--k", type=float, default=K_REFERENCE, help="expected in-degree, p = k/n (default 80)")
    ap.add_argument("--duration", type=float, default=10.0, help="biological time in s (default 10)")
    ap.add_argument("--dt", type=float, default=0.1, help="time step in ms (default 0.1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="numba", help="neurosim backend (default numba)")
    ap.add_argument("--no-brian2", action="store_true", help="skip the Brian2 comparison")
    ap.add_argument("--sizes", default=None,
                    help="comma-separated network sizes: a neurosim-only scaling run (k fixed), one JSON line each")
    ap.add_argument("--cold-jit", action="store_true",
                    help="compile neurosim's kernel from scratch (empty numba cache) as Brian2 always does")
    ap.add_argument(BRIAN2_WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def n_steps(args: argparse.Namespace) -> int:
    return int(round(args.duration / (args.dt * 1e-3)))


# --------------------------------------------------------------------------- neurosim
def neurosim_side(args: argparse.Namespace) -> dict[str, Any]:
    """Build, compile and run CUBA in neurosim; timings, spikes, rate and synaptic events."""
    from neurosim.engine.registry import get_backend
    from neurosim.models.cuba import Params, build

    dt = f"{args.dt} ms"
    params = Params(n=args.n, k=args.k, weight_scale=K_REFERENCE / args.k)

    t0 = time.perf_counter()
    net = build(params, dt=dt, seed=args.seed)
    layout = net.layout
    build_s = time.perf_counter() - t0

    tiny = build(Params(n=100, k=10.0), dt=dt, seed=args.seed)
    tiny.layout
    t0 = time.perf_counter()
    engine = get_backend(args.backend)
    tiny.run(dt, backend=engine)
    compile_s = time.perf_counter() - t0

    wall0, cpu0 = time.perf_counter(), time.process_time()
    net.run(n_steps(args) * net.dt, backend=engine)
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0

    spike_ids = np.concatenate([m.target.offset + m.i for m in net.monitors])
    events = int(np.diff(layout.syn.indptr)[spike_ids].sum())
    n_syn = sum(p.synapses.n_synapses for p in net.projections)
    return {
        "neurosim_build_s": build_s,
        "neurosim_compile_s": compile_s,
        "neurosim_jit_cache": jit_cache_state(engine.name),
        "neurosim_sim_s": cpu_s,
        "neurosim_sim_wall_s": wall_s,
        "neurosim_spikes": int(spike_ids.size),
        "neurosim_rate_hz": spike_ids.size / (args.n * args.duration),
        "neurosim_synapses": int(n_syn),
        "neurosim_events": events,
        "ns_per_neuron_step": cpu_s / (args.n * n_steps(args)) * 1e9,
        "events_per_s": events / cpu_s,
        # wall-clock figures (what counts for a GPU backend, whose kernels do not run on this process's CPU time)
        "neuron_steps_per_s": args.n * n_steps(args) / wall_s,
        "events_per_s_wall": events / wall_s,
        "rtf": wall_s / args.duration,
    }


def jit_cache_state(backend: str) -> str | None:
    """``"hit"`` if the numba kernel came from the on-disk cache, ``"miss"`` if compiled; None for other backends."""
    if backend != "numba":
        return None
    from neurosim.engine.numba_backend import run_block

    return "hit" if sum(run_block.stats.cache_hits.values()) else "miss"


# --------------------------------------------------------------------------- Brian2
def brian2_side(args: argparse.Namespace) -> dict[str, Any]:
    """neurosim's CUBA network translated by the ``brian2`` backend (:func:`neurosim.engine.brian2_backend.translate`),
    run in cpp_standalone mode, single thread, fresh directory."""
    import brian2 as b2
    from brian2 import second

    directory = tempfile.mkdtemp(prefix="cuba_brian2_")
    try:
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
        b2.seed(args.seed)
        from neurosim.engine.brian2_backend import translate
        from neurosim.models.cuba import Params, build

        net_ns = build(Params(n=args.n, k=args.k, weight_scale=K_REFERENCE / args.k), dt=f"{args.dt} ms", seed=args.seed)
        layout = net_ns.layout  # neurosim's network and connectivity (not timed: see neurosim_build_s)

        t0 = time.perf_counter()
        tr = translate(layout, args.dt * 1e-3, source_until=n_steps(args) + 1, record_states=False)
        net, s_mon = tr.net, tr.spikes
        build_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        net.run(args.duration * second)  # standalone: generates the code objects
        b2.device.build(directory=directory, compile=True, run=False)
        compile_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        b2.device.run(directory=directory, with_output=False)
        binary_s = time.perf_counter() - t0
        spikes = int(s_mon.num_spikes)
        return {
            "brian2_build_s": build_s,
            "brian2_compile_s": compile_s,
            "brian2_sim_s": float(b2.device._last_run_time),
            "brian2_binary_s": binary_s,
            "brian2_spikes": spikes,
            "brian2_rate_hz": spikes / (args.n * args.duration),
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def brian2_in_subprocess(args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`brian2_side` in a child process (isolates ``set_device``); nulls if it fails."""
    nulls = dict.fromkeys(BRIAN2_FIELDS)
    if importlib.util.find_spec("brian2") is None:
        print("brian2: not importable here, comparison skipped")
        return nulls
    cmd = [sys.executable, os.path.abspath(__file__), BRIAN2_WORKER_FLAG, "--n", str(args.n), "--k", str(args.k),
           "--duration", str(args.duration), "--dt", str(args.dt), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(f"brian2: FAILED (exit status {proc.returncode}); comparison skipped. Its last output:")
        print("\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:]))
        return nulls
    return json.loads(lines[-1])


# --------------------------------------------------------------------------- report
def summary(args: argparse.Namespace, ns: dict[str, Any], br: dict[str, Any]) -> dict[str, Any]:
    """The JSON record: configuration, both engines' numbers and the simulation-time ratio."""
    ratio = ns["neurosim_sim_s"] / br["brian2_sim_s"] if br["brian2_sim_s"] else None
    return {
        "n": args.n, "k": args.k, "p": args.k / args.n, "weight_scale": K_REFERENCE / args.k,
        "duration_s": args.duration, "dt_ms": args.dt, "seed": args.seed, "backend": args.backend,
        **ns, **br, "ratio_sim": ratio,
    }


def print_report(rec: dict[str, Any]) -> None:
    print(f"neurosim[{rec['backend']}]: build {rec['neurosim_build_s']:.3f} s, compile {rec['neurosim_compile_s']:.3f} s"
          f" (JIT cache: {rec['neurosim_jit_cache'] or 'n/a'}), sim {rec['neurosim_sim_s']:.3f} s CPU"
          f" ({rec['neurosim_sim_wall_s']:.3f} s wall), {rec['neurosim_spikes']:,} spikes,"
          f" {rec['neurosim_rate_hz']:.3f} Hz, {rec['ns_per_neuron_step']:.2f} ns/neuron-step,"
          f" {rec['events_per_s'] / 1e6:.1f}M events/s; wall: {rec['neuron_steps_per_s'] / 1e9:.3f}G neuron-steps/s,"
          f" {rec['events_per_s_wall'] / 1e6:.1f}M events/s, real-time factor {rec['rtf']:.3f}")
    if rec["brian2_sim_s"] is None:
        return
    print(f"brian2[cpp_standalone]: build {rec['brian2_build_s']:.3f} s, compile {rec['brian2_compile_s']:.1f} s,"
          f" sim {rec['brian2_sim_s']:.3f} s (binary {rec['brian2_binary_s']:.3f} s wall),"
          f" {rec['brian2_spikes']:,} spikes, {rec['brian2_rate_hz']:.3f} Hz")
    diff = 100 * (rec["neurosim_rate_hz"] / rec["brian2_rate_hz"] - 1) if rec["brian2_rate_hz"] else float("nan")
    print(f"sim time neurosim/brian2: {rec['ratio_sim']:.3f}; rate difference {diff:+.1f} %")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.brian2_worker:
        print(json.dumps(brian2_side(args)))
        return
    if args.sizes:
        for n in (int(x) for x in args.sizes.split(",")):
            sized = argparse.Namespace(**{**vars(args), "n": n, "sizes": None})
            print(f"CUBA n={n} k={args.k:g}, {args.duration:g} s at dt {args.dt:g} ms, backend {args.backend}")
            rec = summary(sized, neurosim_side(sized), dict.fromkeys(BRIAN2_FIELDS))
            print_report(rec)
            print(json.dumps(rec), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="cuba_numba_cache_") as cache:
        if args.cold_jit:
            os.environ["NUMBA_CACHE_DIR"] = cache  # read when numba is first imported, below
        print(f"CUBA n={args.n} k={args.k:g} (p={args.k / args.n:.4g}, weights x{K_REFERENCE / args.k:.3g}),"
              f" {args.duration:g} s at dt {args.dt:g} ms, seed {args.seed}")
        ns = neurosim_side(args)
    br = dict.fromkeys(BRIAN2_FIELDS) if args.no_brian2 else brian2_in_subprocess(args)
    rec = summary(args, ns, br)
    print_report(rec)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
