"""CUBA benchmark (Brette et al. 2007): neurosim against Brian2's own CUBA example, interleaved in one run.

    python benchmarks/cuba.py                          # N=4000, K=80, 10 s, 5 interleaved pairs
    python benchmarks/cuba.py --duration 2 --repeats 7 # shorter runs, more pairs
    python benchmarks/cuba.py --n 40000 --duration 1   # p = K/N = 0.002, same in-degree
    python benchmarks/cuba.py --k 800                  # synapse-heavy: K=800, weights x 80/K
    python benchmarks/cuba.py --no-brian2 --backend numpy
    python benchmarks/cuba.py --backend cuda --sizes 4000,40000,400000,1000000 --duration 1   # GPU scaling

Each side runs its *idiomatic* CUBA model, the way a user of that simulator writes it:

- neurosim: :func:`neurosim.models.cuba.build` (two populations ``exc``/``inh``, CubaLIF with
  exact integration, ``FixedProbability(k/n)`` without autapses, delay 0: delivered at the next
  step), every spike recorded by two spike monitors, ``--backend`` (default numba, one thread).
- Brian2: the model of Brian2's example ``examples/CUBA.py``, written here in its idiom: one
  ``NeuronGroup`` with ``dv/dt = (ge+gi-(v-El))/taum (unless refractory)``, ``dge/dt = -ge/taue``,
  ``dgi/dt = -gi/taui``, ``threshold='v>Vt'``, ``reset='v = Vr'``, ``refractory=5*ms``, its own
  exact (linear) integration, ``v`` initialised to ``Vr + rand()*(Vt-Vr)``, two ``Synapses(P, P,
  on_pre='ge += we')`` / ``'gi += wi'`` connected with ``connect('i<Ne', p=p)`` /
  ``connect('i>=Ne', p=p)`` (autapses allowed, as in the example), one ``SpikeMonitor``;
  ``cpp_standalone``, no OpenMP (one thread), ``dt`` as given (default 0.1 ms, Brian's default).

Both are the same model (weights as voltage jumps: Brian's 1.62 mV / -9 mV are neurosim's
16.2 pA / -90 pA with C = 200 pF, τ_m = 20 ms); both weights are scaled by 80/k so that k=800
keeps the total input of the original network. The two sides draw different random networks,
so their firing rates agree only within the spread over seeds: neurosim's repetitions use the
seeds ``seed, seed+1, ...``; Brian2's binary, like the example, sets no seed, so each of its
runs draws a fresh one (``std::random_device``). The report gives each side's mean rate, the
standard deviation over repetitions and the difference in units of its standard error.

Phases, chosen so that the two engines are compared like for like:

- build: the Python side. neurosim: ``build`` plus the flat layout (connectivity included).
  Brian2: creating the objects (code generation is in compile).
- compile: neurosim: loading the backend and the first kernel call on a tiny CUBA network
  (numba JIT, or a load from numba's on-disk cache: see ``neurosim_jit_cache``; ``--cold-jit``
  forces a full compile). Brian2: code generation and ``make`` in a fresh directory (once).
- sim: the simulation loop's CPU time. Brian's binary times its run loop with ``std::clock()``
  (process CPU time; the connectivity is generated before the loop, outside it);
  ``neurosim_sim_s`` is the process CPU time of ``Network.run``, hand-out of spikes to the
  monitors included (wall time: ``neurosim_sim_wall_s``).

Timing: Brian2 is compiled once in a worker process, then ``--repeats`` pairs run interleaved
(neurosim, Brian2's binary, neurosim, ...), so that a change of the machine's speed during the
call hits both sides alike. ``neurosim_sim_s`` and ``brian2_sim_s`` are medians;
``ratio_sim`` is the median over pairs of neurosim_sim_s / brian2_sim_s (< 1: neurosim faster).

The last line of the output is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from _common import build_and_run, warm_backend  # noqa: E402  (this script's folder is on sys.path)

K_REFERENCE = 80.0  # in-degree of the original network, whose weights are used unscaled
BRIAN2_WORKER_FLAG = "--brian2-worker"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000, help="number of neurons (default 4000)")
    ap.add_argument("--k", type=float, default=K_REFERENCE, help="expected in-degree, p = k/n (default 80)")
    ap.add_argument("--duration", type=float, default=10.0, help="biological time in s (default 10)")
    ap.add_argument("--dt", type=float, default=0.1, help="time step in ms (default 0.1)")
    ap.add_argument("--seed", type=int, default=0, help="neurosim's first seed (repetition i uses seed + i)")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved pairs of runs (default 5)")
    ap.add_argument("--backend", default="numba", help="neurosim backend (default numba)")
    ap.add_argument("--no-brian2", action="store_true", help="skip the Brian2 comparison")
    ap.add_argument("--sizes", default=None,
                    help="comma-separated network sizes: a neurosim-only scaling run (k fixed), one JSON line each")
    ap.add_argument("--cold-jit", action="store_true",
                    help="compile neurosim's kernel from scratch (empty numba cache) as Brian2 always does")
    ap.add_argument(BRIAN2_WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    return args


def n_steps(args: argparse.Namespace) -> int:
    return int(round(args.duration / (args.dt * 1e-3)))


# --------------------------------------------------------------------------- neurosim
class NeurosimSide:
    """neurosim's CUBA: the backend is loaded and compiled once, then :meth:`run` builds and runs one seed."""

    def __init__(self, args: argparse.Namespace):
        from neurosim.models.cuba import Params, build

        self.args, self.build = args, build
        self.dt = f"{args.dt} ms"
        self.params = Params(n=args.n, k=args.k, weight_scale=K_REFERENCE / args.k)
        tiny = build(Params(n=100, k=10.0), dt=self.dt, seed=args.seed)
        self.engine, self.compile_s, self.jit_cache = warm_backend(tiny, args.backend, self.dt)

    def run(self, seed: int) -> dict[str, Any]:
        args = self.args
        net, build_s, cpu_s, wall_s = build_and_run(self.build, self.params, self.dt, seed, n_steps(args), self.engine)
        layout = net.layout

        spike_ids = np.concatenate([m.target.offset + m.i for m in net.monitors])
        return {
            "seed": seed, "build_s": build_s, "sim_s": cpu_s, "sim_wall_s": wall_s,
            "spikes": int(spike_ids.size), "rate_hz": spike_ids.size / (args.n * args.duration),
            "events": int(np.diff(layout.syn.indptr)[spike_ids].sum()),
            "synapses": int(sum(p.synapses.n_synapses for p in net.projections)),
        }


def neurosim_record(args: argparse.Namespace, side: NeurosimSide, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """neurosim's fields of the JSON record from its repetitions (medians of times, mean rate)."""
    sim = statistics.median(r["sim_s"] for r in runs)
    wall = statistics.median(r["sim_wall_s"] for r in runs)
    events = statistics.median(r["events"] for r in runs)
    rates = [r["rate_hz"] for r in runs]
    return {
        "neurosim_build_s": statistics.median(r["build_s"] for r in runs),
        "neurosim_compile_s": side.compile_s,
        "neurosim_jit_cache": side.jit_cache,
        "neurosim_sim_s": sim,
        "neurosim_sim_wall_s": wall,
        "neurosim_sim_s_all": [r["sim_s"] for r in runs],
        "neurosim_seeds": [r["seed"] for r in runs],
        "neurosim_spikes": [r["spikes"] for r in runs],
        "neurosim_rate_hz": statistics.fmean(rates),
        "neurosim_rate_hz_sd": statistics.stdev(rates) if len(rates) > 1 else None,
        "neurosim_rate_hz_all": rates,
        "neurosim_synapses": statistics.median(r["synapses"] for r in runs),
        "ns_per_neuron_step": sim / (args.n * n_steps(args)) * 1e9,
        "events_per_s": events / sim,
        # wall-clock figures (what counts for a GPU backend, whose kernels do not run on this process's CPU time)
        "neuron_steps_per_s": args.n * n_steps(args) / wall,
        "events_per_s_wall": events / wall,
        "rtf": wall / args.duration,
    }


# --------------------------------------------------------------------------- Brian2
def brian2_worker(args: argparse.Namespace) -> None:
    """Build and compile Brian2's CUBA example (cpp_standalone, one thread) once, then run the binary once
    per line read from stdin; one JSON line per step on the protocol stream (the original stdout: whatever
    Brian2 or ``make`` print goes to stderr)."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def say(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    import brian2 as b2
    from brian2 import NeuronGroup, Network, SpikeMonitor, Synapses, mV, ms, second

    directory = tempfile.mkdtemp(prefix="cuba_brian2_")
    try:
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0  # no OpenMP: one thread
        b2.defaultclock.dt = args.dt * ms

        t0 = time.perf_counter()
        n_exc = int(round(0.8 * args.n))
        scale = K_REFERENCE / args.k
        namespace = {
            "taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms,
            "Vt": -50 * mV, "Vr": -60 * mV, "El": -49 * mV,
            "we": 1.62 * mV * scale,  # (60 * 0.27 / 10) mV, excitatory voltage jump
            "wi": -9.0 * mV * scale,  # (-20 * 4.5 / 10) mV, inhibitory voltage jump
            "Ne": n_exc,
        }
        eqs = """
        dv/dt  = (ge + gi - (v - El)) / taum : volt (unless refractory)
        dge/dt = -ge / taue : volt
        dgi/dt = -gi / taui : volt
        """
        group = NeuronGroup(args.n, eqs, threshold="v > Vt", reset="v = Vr", refractory=5 * ms,
                            method="exact", namespace=namespace)
        group.v = "Vr + rand() * (Vt - Vr)"
        group.ge = 0 * mV
        group.gi = 0 * mV
        exc = Synapses(group, group, on_pre="ge += we", namespace=namespace)
        inh = Synapses(group, group, on_pre="gi += wi", namespace=namespace)
        exc.connect("i < Ne", p=args.k / args.n)
        inh.connect("i >= Ne", p=args.k / args.n)
        spikes = SpikeMonitor(group)
        net = Network(group, exc, inh, spikes)
        build_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        net.run(args.duration * second, namespace=namespace)  # standalone: generates the code objects
        b2.device.build(directory=directory, compile=True, run=False)
        say({"brian2_build_s": build_s, "brian2_compile_s": time.perf_counter() - t0})

        for _ in sys.stdin:
            t0 = time.perf_counter()
            b2.device.run(directory=directory, with_output=False)
            binary_s = time.perf_counter() - t0
            n = int(spikes.num_spikes)
            say({"sim_s": float(b2.device._last_run_time), "binary_s": binary_s, "spikes": n,
                 "rate_hz": n / (args.n * args.duration), "synapses": int(len(exc) + len(inh))})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Brian2Side:
    """The Brian2 worker process: compiled on start, then one binary run per :meth:`run`."""

    def __init__(self, args: argparse.Namespace):
        cmd = [sys.executable, os.path.abspath(__file__), BRIAN2_WORKER_FLAG, "--n", str(args.n), "--k",
               str(args.k), "--duration", str(args.duration), "--dt", str(args.dt)]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.seek(0)
            tail = "\n".join(self.log.read().strip().splitlines()[-15:])
            raise RuntimeError(f"Brian2 worker failed (exit status {self.proc.returncode}). Its last output:\n{tail}")
        return json.loads(line)

    def run(self) -> dict[str, Any]:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()
        self.log.close()


def brian2_record(ready: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["rate_hz"] for r in runs]
    return {
        **ready,
        "brian2_sim_s": statistics.median(r["sim_s"] for r in runs),
        "brian2_sim_s_all": [r["sim_s"] for r in runs],
        "brian2_binary_s": statistics.median(r["binary_s"] for r in runs),
        "brian2_spikes": [r["spikes"] for r in runs],
        "brian2_rate_hz": statistics.fmean(rates),
        "brian2_rate_hz_sd": statistics.stdev(rates) if len(rates) > 1 else None,
        "brian2_rate_hz_all": rates,
        "brian2_synapses": statistics.median(r["synapses"] for r in runs),
    }


BRIAN2_NULLS = dict.fromkeys(("brian2_build_s", "brian2_compile_s", "brian2_sim_s", "brian2_rate_hz"))


# --------------------------------------------------------------------------- report
def summary(args: argparse.Namespace, ns: dict[str, Any], br: dict[str, Any],
            pair_ratios: list[float] | None = None) -> dict[str, Any]:
    """The JSON record: configuration, both engines' numbers, the simulation-time ratio and the rate check."""
    rec = {
        "n": args.n, "k": args.k, "p": args.k / args.n, "weight_scale": K_REFERENCE / args.k,
        "duration_s": args.duration, "dt_ms": args.dt, "seed": args.seed, "repeats": args.repeats,
        "backend": args.backend, **ns, **br,
        "ratio_sim": statistics.median(pair_ratios) if pair_ratios else None,
        "ratio_sim_all": pair_ratios or None,
    }
    if br.get("brian2_rate_hz") is not None:
        sds = [rec["neurosim_rate_hz_sd"], rec["brian2_rate_hz_sd"]]
        diff = rec["neurosim_rate_hz"] - rec["brian2_rate_hz"]
        se = math.sqrt(sum(s * s for s in sds) / args.repeats) if None not in sds else None
        rec["rate_diff_hz"] = diff
        rec["rate_diff_in_se"] = diff / se if se else None  # |x| < 3: the same rate within the seed spread
    return rec


def print_report(rec: dict[str, Any]) -> None:
    print(f"neurosim[{rec['backend']}]: build {rec['neurosim_build_s']:.3f} s, compile {rec['neurosim_compile_s']:.3f} s"
          f" (JIT cache: {rec['neurosim_jit_cache'] or 'n/a'}), sim {rec['neurosim_sim_s']:.3f} s CPU"
          f" ({rec['neurosim_sim_wall_s']:.3f} s wall), {rec['neurosim_synapses']:,.0f} synapses,"
          f" {rec['neurosim_rate_hz']:.3f} Hz, {rec['ns_per_neuron_step']:.2f} ns/neuron-step,"
          f" {rec['events_per_s'] / 1e6:.1f}M events/s; wall: {rec['neuron_steps_per_s'] / 1e9:.3f}G neuron-steps/s,"
          f" {rec['events_per_s_wall'] / 1e6:.1f}M events/s, real-time factor {rec['rtf']:.3f}")
    if rec["brian2_sim_s"] is None:
        return
    print(f"brian2[cpp_standalone, examples/CUBA.py]: build {rec['brian2_build_s']:.3f} s, compile"
          f" {rec['brian2_compile_s']:.1f} s, sim {rec['brian2_sim_s']:.3f} s (binary {rec['brian2_binary_s']:.3f} s"
          f" wall), {rec['brian2_synapses']:,.0f} synapses, {rec['brian2_rate_hz']:.3f} Hz")
    sd = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    se = rec.get("rate_diff_in_se")
    print(f"rates over {rec['repeats']} repetitions: neurosim {rec['neurosim_rate_hz']:.3f} ± "
          f"{sd(rec['neurosim_rate_hz_sd'])} Hz, brian2 {rec['brian2_rate_hz']:.3f} ± {sd(rec['brian2_rate_hz_sd'])} Hz"
          f" (sd over seeds); difference {rec['rate_diff_hz']:+.3f} Hz"
          + ("" if se is None else f" = {se:+.1f} standard errors"))
    ratios = ", ".join(f"{r:.3f}" for r in rec["ratio_sim_all"])
    print(f"sim time neurosim/brian2 (median of {rec['repeats']} interleaved pairs): {rec['ratio_sim']:.3f} "
          f"[{ratios}]" + ("  (neurosim slower)" if rec["ratio_sim"] > 1 else "  (neurosim faster)"))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.brian2_worker:
        brian2_worker(args)
        return
    if args.sizes:
        for n in (int(x) for x in args.sizes.split(",")):
            sized = argparse.Namespace(**{**vars(args), "n": n, "sizes": None})
            print(f"CUBA n={n} k={args.k:g}, {args.duration:g} s at dt {args.dt:g} ms, backend {args.backend}")
            side = NeurosimSide(sized)
            runs = [side.run(args.seed + i) for i in range(args.repeats)]
            rec = summary(sized, neurosim_record(sized, side, runs), BRIAN2_NULLS)
            print_report(rec)
            print(json.dumps(rec), flush=True)
        return
    print(f"CUBA n={args.n} k={args.k:g} (p={args.k / args.n:.4g}, weights x{K_REFERENCE / args.k:.3g}),"
          f" {args.duration:g} s at dt {args.dt:g} ms, {args.repeats} interleaved pairs, neurosim seeds from"
          f" {args.seed}", flush=True)
    brian = None
    if not args.no_brian2:
        if importlib.util.find_spec("brian2") is None:
            print("brian2: not importable here, comparison skipped")
        else:
            try:  # compiled before neurosim's timings start, so that make does not run beside them
                brian = Brian2Side(args)
            except RuntimeError as exc:
                print(f"brian2: {exc}\ncomparison skipped")
    try:
        with tempfile.TemporaryDirectory(prefix="cuba_numba_cache_") as cache:
            if args.cold_jit:
                os.environ["NUMBA_CACHE_DIR"] = cache  # read when numba is first imported, below
            side = NeurosimSide(args)
            ns_runs, br_runs, ratios = [], [], []
            for i in range(args.repeats):
                ns_runs.append(side.run(args.seed + i))
                line = f"  pair {i + 1}: neurosim {ns_runs[-1]['sim_s']:.3f} s ({ns_runs[-1]['rate_hz']:.3f} Hz)"
                if brian is not None:
                    br_runs.append(brian.run())
                    ratios.append(ns_runs[-1]["sim_s"] / br_runs[-1]["sim_s"])
                    br_run = br_runs[-1]
                    line += f", brian2 {br_run['sim_s']:.3f} s ({br_run['rate_hz']:.3f} Hz), ratio {ratios[-1]:.3f}"
                print(line, flush=True)
    finally:
        if brian is not None:
            brian.close()
    br = brian2_record(brian.ready, br_runs) if brian is not None else BRIAN2_NULLS
    rec = summary(args, neurosim_record(args, side, ns_runs), br, ratios)
    print_report(rec)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
