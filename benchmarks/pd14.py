"""Potjans & Diesmann (2014) microcircuit: neurosim against NEST's idiom of the model, interleaved.

    python benchmarks/pd14.py                          # scale 0.1, neurosim only, 2 s after 0.5 s warm-up
    python benchmarks/pd14.py --nest                   # and NEST 3.10 (pip install nest-simulator), same threads
    python benchmarks/pd14.py --scale 0.3 --duration 10 --nest --repeats 2

Both sides build the model of :mod:`neurosim.models.pd14` (its published tables: population
sizes, connection probabilities, K_ext, mean PSPs, delays, initial potentials) at ``--scale``
and ``--k-scale``, with Poisson background, and record every spike.

- neurosim (``--backend``, default numba; ``--threads`` parts, each on a thread;
  ``--precision``, default float32): :func:`neurosim.models.pd14.build`.
- NEST (``local_num_threads = --threads``), written as NEST's example
  ``pynest/examples/Potjans_2014`` writes it: ``iaf_psc_exp`` populations with ``V_m`` from
  ``nest.random.normal``, ``fixed_total_number`` connections with ``nest.math.redraw``-n normal
  weights and delays, one ``poisson_generator`` per population at ``8 Hz * K_ext`` connected
  ``all_to_all``, one ``spike_recorder`` per population, ``nest.Prepare()`` in the build.

Each run is a fresh process (``--worker``): build (network and layout / ``Connect`` and
``Prepare``) timed as ``build_s``, then ``--warmup`` s simulated untimed and ``--duration`` s
timed (wall clock): ``rtf`` = wall / simulated time. neurosim's ``bytes_per_synapse_peak`` is the
``tracemalloc`` peak of its build divided by the synapse count. Rates are per population over
the timed window, against :data:`neurosim.models.pd14.REFERENCE_RATES_HZ` (full scale), with
the irregularity (mean ISI CV) and synchrony (Fano factor of the population count in 3 ms bins)
of each population on both sides. Runs
are interleaved (neurosim, NEST, neurosim, ...); numbers are medians over ``--repeats``.

``--ranks 1,2,4`` runs neurosim once per rank count, ``K > 1`` as ``mpirun -n K`` (MPICH from
its wheel, ``pip install -e ".[mpi]"``; one thread per rank): ``rtf`` has one entry per rank
count, and ``identical_across_ranks`` says whether every rank count recorded the spikes of the
first, bit for bit. The last line of the output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=0.1, help="neuron numbers times this (full scale: 1)")
    p.add_argument("--k-scale", type=float, default=1.0, help="in-degrees times this (NEST's DC compensation)")
    p.add_argument("--duration", type=float, default=2.0, help="timed simulated seconds (the issue asks for 10)")
    p.add_argument("--warmup", type=float, default=0.5, help="untimed simulated seconds before")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="threads of each side")
    p.add_argument("--ranks", default="1", help="comma-separated MPI rank counts (1 runs without mpirun)")
    p.add_argument("--nest", action="store_true", help="also run NEST (pip install nest-simulator)")
    p.add_argument("--backend", default="numba")
    p.add_argument("--precision", default="float32", choices=("float32", "float64"), help="neurosim's floats")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--worker", choices=("neurosim", "nest"), help=argparse.SUPPRESS)
    p.add_argument("--spikes", help=argparse.SUPPRESS)  # where a neurosim worker saves its spikes
    args = p.parse_args(argv)
    try:
        args.rank_counts = [int(k) for k in args.ranks.split(",")]
    except ValueError:
        p.exit(2, f"{p.prog}: --ranks: expected comma-separated positive integers, got {args.ranks!r}\n")
    if not args.rank_counts or min(args.rank_counts) < 1:
        p.exit(2, f"{p.prog}: --ranks: expected comma-separated positive integers, got {args.ranks!r}\n")
    return args


def window_rates(times_s: list[np.ndarray], sizes: list[int], start: float, stop: float) -> list[float]:
    """Mean rate (Hz) of each population over [start, stop)."""
    return [float(np.count_nonzero((t >= start) & (t < stop)) / (n * (stop - start))) for t, n in zip(times_s, sizes)]


#: bin of the population spike-count histogram whose Fano factor measures synchrony (PD14 Fig. 6 uses 3 ms)
SYNCHRONY_BIN_S = 3e-3


def window_statistics(trains: list[tuple[np.ndarray, np.ndarray]], start: float, stop: float) -> dict[str, list]:
    """Per population, from its spikes ``(t, i)`` in [start, stop): the mean ISI CV of its neurons
    with at least 3 spikes, and its synchrony (Fano factor of the population count in
    :data:`SYNCHRONY_BIN_S` bins)."""
    from neurosim.spike_stats import mean_isi_cv, population_fano

    cv, sync = [], []
    for t, i in trains:
        keep = (t >= start) & (t < stop)
        cv.append(mean_isi_cv(i[keep], t[keep]))
        sync.append(population_fano(t[keep], start, stop, SYNCHRONY_BIN_S))
    return {"cv_isi": cv, "synchrony": sync}


def neurosim_worker(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, HERE)
    from _common import warm_backend
    from neurosim.distributed import mpi_comm, over_ranks
    from neurosim.models import pd14

    comm = mpi_comm()
    params = pd14.Params(scale=args.scale, k_scale=args.k_scale)
    warm = pd14.build(pd14.Params(scale=0.002, k_scale=0.01), seed=0, precision=args.precision)
    warm.threads = args.threads if comm is None else 1
    warm.distribute(comm)
    engine, _, _ = warm_backend(warm, args.backend, "0.1 ms")
    tracemalloc.start()
    t0 = time.perf_counter()
    net = pd14.build(params, seed=args.seed, precision=args.precision)
    net.threads = args.threads if comm is None else 1
    net.distribute(comm)
    net.layout
    build_s = over_ranks(comm, time.perf_counter() - t0) / (1 if comm is None else comm.size)  # mean over ranks
    peak = over_ranks(comm, tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
    n_syn = int(over_ranks(comm, int(net.layout.syn.target.size)))
    net.run(args.warmup, backend=engine)
    t0 = time.perf_counter()
    net.run(args.duration, backend=engine)
    sim_s = time.perf_counter() - t0
    if comm is not None and comm.rank != 0:
        return {}
    sizes = [p.size for p in net.populations]
    window = (args.warmup, args.warmup + args.duration)
    rates = window_rates([m.t for m in net.monitors], sizes, *window)
    if args.spikes:
        np.savez(args.spikes, **{f"{m.target.name}_{key}": getattr(m, key) for m in net.monitors for key in "ti"})
    return {"build_s": build_s, "sim_s": sim_s, "neurons": sum(sizes), "synapses": n_syn,
            "bytes_per_synapse_peak": peak / n_syn, "rates_hz": rates,
            **window_statistics([(m.t, m.i) for m in net.monitors], *window)}


def nest_worker(args: argparse.Namespace) -> dict[str, Any]:
    import nest
    from neurosim.models import pd14

    params = pd14.Params(scale=args.scale, k_scale=args.k_scale)
    dt_ms = 0.1
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.set(local_num_threads=args.threads, resolution=dt_ms, rng_seed=args.seed + 1)
    t0 = time.perf_counter()
    sizes = [int(n) for n in pd14.population_sizes(params)]
    dc_pa = pd14.dc_input(params) * 1e12
    pops, recorders = [], []
    for k, n in enumerate(sizes):
        pop = nest.Create("iaf_psc_exp", n, params={
            "C_m": pd14.C_M * 1e12, "tau_m": pd14.TAU_M * 1e3, "tau_syn_ex": pd14.TAU_SYN * 1e3,
            "tau_syn_in": pd14.TAU_SYN * 1e3, "E_L": pd14.E_L * 1e3, "V_th": pd14.V_TH * 1e3,
            "V_reset": pd14.V_RESET * 1e3, "t_ref": pd14.T_REF * 1e3, "I_e": float(dc_pa[k])})
        pop.V_m = nest.random.normal(mean=float(pd14.V0_OPTIMIZED_MEAN[k]), std=float(pd14.V0_OPTIMIZED_STD[k]))
        rec = nest.Create("spike_recorder")
        nest.Connect(pop, rec)
        pops.append(pop)
        recorders.append(rec)
    psc_pa = pd14.mean_psp_matrix() * pd14.psc_per_psp() * 1e12 / np.sqrt(args.k_scale)
    counts = pd14.synapse_numbers(params)
    for t, target in enumerate(pops):
        for s, source in enumerate(pops):
            if counts[t, s] > 0:
                mu, d = float(psc_pa[t, s]), 1e3 * (pd14.DELAY_EXC if s % 2 == 0 else pd14.DELAY_INH)
                lo, hi = (0.0, np.inf) if mu > 0 else (-np.inf, 0.0)
                nest.Connect(source, target, {"rule": "fixed_total_number", "N": int(counts[t, s])}, {
                    "synapse_model": "static_synapse",
                    "weight": nest.math.redraw(nest.random.normal(mean=mu, std=abs(mu) * pd14.WEIGHT_REL_STD),
                                               min=lo, max=hi),
                    "delay": nest.math.redraw(nest.random.normal(mean=d, std=d * pd14.DELAY_REL_STD),
                                              min=dt_ms, max=np.inf)})
    w_ext = pd14.PSP_EXC * pd14.psc_per_psp() * 1e12 / np.sqrt(args.k_scale)
    for k, target in enumerate(pops):
        k_ext = int(round(pd14.K_EXT[k] * args.k_scale))
        generator = nest.Create("poisson_generator", params={"rate": pd14.BG_RATE * k_ext})
        nest.Connect(generator, target, "all_to_all", {"weight": w_ext, "delay": 1e3 * pd14.DELAY_EXC})
    nest.Prepare()
    nest.Cleanup()
    build_s = time.perf_counter() - t0
    nest.Simulate(args.warmup * 1e3)
    t0 = time.perf_counter()
    nest.Simulate(args.duration * 1e3)
    sim_s = time.perf_counter() - t0
    events = [r.get("events") for r in recorders]
    trains = [(np.asarray(e["times"], float) * 1e-3, np.asarray(e["senders"], np.int64)) for e in events]
    window = (args.warmup, args.warmup + args.duration)
    return {"build_s": build_s, "sim_s": sim_s, "neurons": sum(sizes), "synapses": int(nest.num_connections),  # devices too
            "rates_hz": window_rates([t for t, _ in trains], sizes, *window), **window_statistics(trains, *window)}


def run_worker(kind: str, argv: list[str], ranks: int = 1) -> dict[str, Any]:
    """One run in a fresh process (``ranks > 1``: under mpirun); its last stdout line is the JSON result."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    launcher = [os.path.join(os.path.dirname(sys.executable), "mpirun"), "-n", str(ranks)] if ranks > 1 else []
    done = subprocess.run([*launcher, sys.executable, os.path.abspath(__file__), *argv, "--worker", kind], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def summary(args: argparse.Namespace, by_ranks: dict[int, list[dict]], nest_runs: list[dict],
            identical: bool | None) -> dict[str, Any]:
    from neurosim.models import pd14

    names = list(pd14.POPULATIONS)
    ns = by_ranks[args.rank_counts[0]]
    out: dict[str, Any] = {
        "scale": args.scale, "k_scale": args.k_scale, "neurons": ns[0]["neurons"], "synapses": ns[0]["synapses"],
        "duration_s": args.duration, "warmup_s": args.warmup, "threads": args.threads, "repeats": args.repeats,
        "precision": args.precision,
        "rtf": {str(k): median(runs, "sim_s") / args.duration for k, runs in by_ranks.items()},
        "build_s": median(ns, "build_s"), "bytes_per_synapse_peak": median(ns, "bytes_per_synapse_peak"),
        "rates_hz": dict(zip(names, np.mean([r["rates_hz"] for r in ns], axis=0).tolist())),
        "reference_rates_hz": pd14.REFERENCE_RATES_HZ, "identical_across_ranks": identical,
        "cv_isi": dict(zip(names, ns[0]["cv_isi"])), "synchrony": dict(zip(names, ns[0]["synchrony"])),
        "nest_rtf": None, "nest_build_s": None, "nest_rates_hz": None, "ratio_rtf": None,
    }
    if nest_runs:
        out.update(nest_rtf=median(nest_runs, "sim_s") / args.duration, nest_build_s=median(nest_runs, "build_s"),
                   nest_connections=nest_runs[0]["synapses"],
                   nest_rates_hz=dict(zip(names, np.mean([r["rates_hz"] for r in nest_runs], axis=0).tolist())),
                   nest_cv_isi=dict(zip(names, nest_runs[0]["cv_isi"])),
                   nest_synchrony=dict(zip(names, nest_runs[0]["synchrony"])),
                   ratio_rtf=statistics.median(a["sim_s"] / b["sim_s"] for a, b in zip(ns, nest_runs)))
    return out


def fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def same_spikes(paths: list[str]) -> bool:
    """Whether the saved spikes of every run equal those of the first, bit for bit."""
    first = np.load(paths[0])
    return all(set(np.load(p).files) == set(first.files)
               and all(np.array_equal(np.load(p)[k], first[k]) for k in first.files) for p in paths[1:])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(neurosim_worker(args) if args.worker == "neurosim" else nest_worker(args)))
        return
    if args.duration < 10:
        print(f"note: {args.duration} s timed (the issue's benchmark times 10 s; pass --duration 10)")
    by_ranks: dict[int, list[dict]] = {k: [] for k in args.rank_counts}
    nest_runs, saved = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for k in args.rank_counts:
                spikes = os.path.join(tmp, f"spikes_{k}_{r}.npz")
                by_ranks[k].append(run_worker("neurosim", [*argv, "--spikes", spikes], ranks=k))
                saved.append(spikes)
                print(f"neurosim run {r + 1}, {k} rank(s): build {by_ranks[k][-1]['build_s']:.1f} s, "
                      f"rtf {by_ranks[k][-1]['sim_s'] / args.duration:.2f}")
            if args.nest:
                nest_runs.append(run_worker("nest", argv))
                print(f"NEST run {r + 1}: build {nest_runs[-1]['build_s']:.1f} s, "
                      f"rtf {nest_runs[-1]['sim_s'] / args.duration:.2f}")
        identical = same_spikes(saved) if len(args.rank_counts) > 1 else None
    out = summary(args, by_ranks, nest_runs, identical)
    for name in out["rates_hz"]:
        line = f"{name:5s} neurosim {out['rates_hz'][name]:6.2f} Hz, CV {fmt(out['cv_isi'][name])}, " \
               f"synchrony {fmt(out['synchrony'][name])}"
        if nest_runs:
            line += f" | NEST {out['nest_rates_hz'][name]:6.2f} Hz, CV {fmt(out['nest_cv_isi'][name])}, " \
                    f"synchrony {fmt(out['nest_synchrony'][name])}"
        print(f"{line} | reference {out['reference_rates_hz'][name]:.2f} Hz")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
