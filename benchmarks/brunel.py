"""Brunel (2000) model A: neurosim against Brian2's idiomatic version of the model, interleaved in one run.

    python benchmarks/brunel.py                                  # N_E=10000 (15.6M synapses), state C, 1 s, 3 pairs
    python benchmarks/brunel.py --n-exc 2000 --duration 0.3 --repeats 2
    python benchmarks/brunel.py --state A --repeats 5
    python benchmarks/brunel.py --no-brian2 --n-exc 1000 --duration 0.2 --repeats 1

Both sides run the same model with the same parameters, taken from one
:class:`neurosim.models.brunel.Params` (``--n-exc``, ``--state``): N_E excitatory and
N_I = γ N_E inhibitory LIF neurons (τ = 20 ms, θ = 20 mV, V_r = 10 mV, t_ref = 2 ms, rest 0 mV),
fixed in-degrees C_E = ε N_E and C_I = ε N_I without autapses, delta synapses (J = 0.1 mV,
−g J) with delay D = 1.5 ms, external drive of C_E Poisson inputs of rate η ν_thr per neuron,
v starting Uniform(0, θ), every spike recorded; dt = ``--dt`` (default 0.1 ms).

- neurosim (``--backend``, default numba, one thread; seeds ``--seed``, ``--seed``+1, ...):
  :func:`neurosim.models.brunel.build`: populations ``exc``/``inh``, ``FixedInDegree`` projections,
  ``Network.poisson_input`` (Binomial counts per step, like Brian2's ``PoissonInput``), two spike
  monitors. While refractory, neurosim's LIF clamps v to V_r (inputs arriving then are lost).
- Brian2 (``cpp_standalone``, no OpenMP: one thread): one ``NeuronGroup(N_E + N_I, 'dv/dt =
  -v/tau : volt (unless refractory)', threshold='v > theta', reset='v = V_r', refractory=t_ref,
  method='exact')`` with ``v = 'rand()*theta'``, subgroups ``P[:N_E]``/``P[N_E:]``,
  ``Synapses(P_E, P, on_pre='v_post += J', delay=D)`` and ``Synapses(P_I, P, on_pre='v_post +=
  -g*J', delay=D)`` connected with ``connect(i=..., j=...)`` from index arrays drawn with numpy
  the way Brian users write fixed in-degree (per post neuron, C_E resp. C_I distinct presynaptic
  indices, no autapses; ``numpy.random.default_rng(--seed)``), ``PoissonInput(P, 'v', N=C_E,
  rate=eta*nu_thr, weight=J)``, one ``SpikeMonitor(P)``. In standalone mode the index arrays
  are part of the generated code, so all of Brian2's repetitions run ONE network; its binary
  sets no seed, so each run draws a fresh initial state and fresh Poisson input
  (``std::random_device``). Brian2's spread over repetitions is therefore over initial state and
  input noise only, neurosim's over networks too. In Brian2, ``(unless refractory)`` only stops
  the integration: synaptic and Poisson input arriving during the refractory period still move
  v (neurosim: clamped), a genuine difference of the two idioms (see the rates).

Phases: build is the Python side (neurosim: ``build`` plus the flat layout, connectivity
included; Brian2: drawing the index arrays and creating the objects); compile is neurosim's
first run of a tiny Brunel network (numba JIT or a load from its on-disk cache:
``neurosim_jit_cache``) and Brian2's code generation plus ``make`` (once, in a worker process);
sim is process CPU time of the simulation loop: Brian's binary times its run loop with
``std::clock()`` (``device._last_run_time``; connectivity is loaded before it) and
``neurosim_sim_s`` is the ``time.process_time()`` of ``Network.run`` (numpy's BLAS/OpenMP pools
limited to one thread; wall time: ``neurosim_sim_wall_s``).

Timing, as ``cuba.py`` and ``brette2007.py``: Brian2 is compiled once before any timing, then
``--repeats`` pairs run interleaved (neurosim, Brian2's binary, neurosim, ...). ``*_sim_s`` are
medians over repetitions, ``ratio_sim`` is the median over pairs of neurosim/brian2 (< 1:
neurosim faster; the issue's target is <= 0.5).

Statistics, of the excitatory population on both sides, averaged over repetitions (``*_sd``:
standard deviation over them): ``*_rate_hz`` its mean firing rate, ``*_cv`` the mean ISI
coefficient of variation over its neurons with at least 3 spikes, ``*_fano`` the Fano factor of
its spike count in 1 ms bins from 100 ms to the end (about 1: asynchronous; >> 1: synchronous
volleys). ``rate_diff_in_sd`` / ``cv_diff_in_sd`` / ``fano_diff_in_sd``: neurosim's mean minus
Brian2's in units of Brian2's standard deviation (``*_ok``: within 2).

The last line of the output is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import subprocess
import tempfile
import time
from typing import Any

# one thread for the BLAS/OpenMP pools numpy may start (see brette2007.py): their idle threads spin after
# a call and that spinning would count in this process's CPU time during Network.run
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import build_and_run, warm_backend  # noqa: E402
from neurosim.models.brunel import Params  # noqa: E402
from neurosim.spike_stats import mean_isi_cv, population_fano  # noqa: E402
from neurosim.units import parse_quantity  # noqa: E402
from cuba import Brian2Side as _CubaBrian2Side  # noqa: E402  (the worker protocol: _read, run, close)

BRIAN2_WORKER_FLAG = "--brian2-worker"
RATIO_TARGET = 0.5
FANO_START_S, FANO_BIN_S = 0.1, 1e-3
STATS = ("rate_hz", "cv", "fano")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-exc", type=int, default=10_000, help="excitatory neurons N_E (default 10000)")
    ap.add_argument("--state", default="C", help="Brunel's state A, B, C or D (default C: asynchronous irregular)")
    ap.add_argument("--duration", type=float, default=1.0, help="biological time in s (default 1)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved pairs of runs (default 3)")
    ap.add_argument("--dt", type=float, default=0.1, help="time step in ms (default 0.1)")
    ap.add_argument("--seed", type=int, default=0,
                    help="neurosim's first seed (repetition i uses seed + i); also seeds Brian2's index arrays")
    ap.add_argument("--backend", default="numba", help="neurosim backend (default numba)")
    ap.add_argument("--no-brian2", action="store_true", help="skip the Brian2 comparison")
    ap.add_argument(BRIAN2_WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    args.state = args.state.upper()
    try:
        args.params = Params(n_exc=args.n_exc, state=args.state)
    except ValueError as exc:
        ap.error(str(exc))
    return args


def n_steps(args: argparse.Namespace) -> int:
    return int(round(args.duration / (args.dt * 1e-3)))


def exc_stats(i: np.ndarray, t: np.ndarray, n_exc: int, duration: float) -> dict[str, Any]:
    """Rate, ISI CV and Fano factor of the excitatory population's spikes (``i``: local ids, ``t``: s)."""
    return {"spikes_exc": int(i.size), "rate_hz": i.size / (n_exc * duration), "cv": mean_isi_cv(i, t),
            "fano": population_fano(t, FANO_START_S, duration, FANO_BIN_S)}


def fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def sd(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.stdev(values) if len(values) > 1 else None


def fmean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


# --------------------------------------------------------------------------- neurosim
class NeurosimSide:
    """neurosim's Brunel network: compiled once on a tiny network, then :meth:`run` builds and runs one seed."""

    def __init__(self, args: argparse.Namespace):
        from neurosim.models.brunel import build

        self.args, self.build, self.params = args, build, args.params
        self.dt = f"{args.dt} ms"
        tiny = build(Params(n_exc=100, state=args.state), dt=self.dt, seed=args.seed)
        self.engine, self.compile_s, self.jit_cache = warm_backend(tiny, args.backend, self.dt)

    def run(self, seed: int) -> dict[str, Any]:
        args = self.args
        net, build_s, cpu_s, wall_s = build_and_run(self.build, self.params, self.dt, seed,
                                                    n_steps(args), self.engine)
        (exc,) = [m for m in net.monitors if m.target.name == "exc"]
        spikes = sum(int(m.i.size) for m in net.monitors)
        return {"seed": seed, "build_s": build_s, "sim_s": cpu_s, "sim_wall_s": wall_s, "spikes": spikes,
                **exc_stats(exc.i, exc.t, self.params.n_exc, args.duration),
                "synapses": int(sum(p.synapses.n_synapses for p in net.projections))}


# --------------------------------------------------------------------------- Brian2
def fixed_in_degree(rng: np.random.Generator, n_pre: int, n_post: int, k: int,
                    self_offset: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)`` for ``connect``: each post neuron j gets ``k`` distinct pre indices in [0, n_pre); without
    autapses where pre neuron i is post neuron ``i + self_offset`` (None: the groups are disjoint)."""
    i = np.empty((n_post, k), np.int32)
    for post in range(n_post):
        own = None if self_offset is None else post - self_offset
        if own is None or not 0 <= own < n_pre:
            i[post] = rng.choice(n_pre, k, replace=False)
        else:
            pre = rng.choice(n_pre - 1, k, replace=False)
            i[post] = pre + (pre >= own)  # skip the neuron itself
    return i.ravel(), np.repeat(np.arange(n_post, dtype=np.int32), k)


def brian2_worker(args: argparse.Namespace) -> None:
    """Build and compile Brian2's Brunel network (cpp_standalone, one thread) once, then run the binary once
    per stdin line; one JSON line per step on the protocol stream (the original stdout; all else to stderr)."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def say(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    import brian2 as b2
    from brian2 import Hz, Network, NeuronGroup, PoissonInput, SpikeMonitor, Synapses, ms, second, volt

    p: Params = args.params
    g, eta = p.g_eta
    n_exc, n_inh = p.n_exc, p.n_inh
    q = lambda value, kind: parse_quantity(value, kind, "brunel")  # noqa: E731  (SI float)
    ns = {"tau": q(p.tau_m, "time") * second, "theta": q(p.theta, "voltage") * volt,
          "V_r": q(p.v_reset, "voltage") * volt, "J": q(p.j, "voltage") * volt, "g": g}
    directory = tempfile.mkdtemp(prefix="brunel_brian2_")
    try:
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0  # no OpenMP: one thread
        b2.defaultclock.dt = args.dt * ms
        t0 = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        i_e, j_e = fixed_in_degree(rng, n_exc, n_exc + n_inh, p.c_exc, 0)
        i_i, j_i = fixed_in_degree(rng, n_inh, n_exc + n_inh, p.c_inh, n_exc)
        connectivity_s = time.perf_counter() - t0
        P = NeuronGroup(n_exc + n_inh, "dv/dt = -v/tau : volt (unless refractory)", threshold="v > theta",
                        reset="v = V_r", refractory=q(p.t_ref, "time") * second, method="exact", namespace=ns)
        P.v = "rand() * theta"
        P_E, P_I = P[:n_exc], P[n_exc:]
        delay = q(p.delay, "time") * second
        C_E = Synapses(P_E, P, on_pre="v_post += J", delay=delay, namespace=ns)
        C_I = Synapses(P_I, P, on_pre="v_post += -g*J", delay=delay, namespace=ns)
        C_E.connect(i=i_e, j=j_e)
        C_I.connect(i=i_i, j=j_i)
        external = PoissonInput(P, "v", N=p.c_exc, rate=eta * p.nu_thr() * Hz, weight="J")
        spikes = SpikeMonitor(P)
        net = Network(P, C_E, C_I, external, spikes)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        net.run(args.duration * second, namespace=ns)  # standalone: generates the code objects
        b2.device.build(directory=directory, compile=True, run=False)
        say({"brian2_build_s": build_s, "brian2_connectivity_s": connectivity_s,
             "brian2_compile_s": time.perf_counter() - t0})
        for _ in sys.stdin:
            t0 = time.perf_counter()
            b2.device.run(directory=directory, with_output=False)
            binary_s = time.perf_counter() - t0
            i, t = np.asarray(spikes.i[:]), np.asarray(spikes.t_[:])
            exc = i < n_exc
            say({"sim_s": float(b2.device._last_run_time), "binary_s": binary_s, "spikes": int(i.size),
                 **exc_stats(i[exc], t[exc], n_exc, args.duration),
                 "synapses": int(len(C_E) + len(C_I))})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Brian2Side(_CubaBrian2Side):
    """The Brian2 worker process: compiled on start, then one binary run per :meth:`run`."""

    def __init__(self, args: argparse.Namespace):
        cmd = [sys.executable, os.path.abspath(__file__), BRIAN2_WORKER_FLAG, "--n-exc", str(args.n_exc),
               "--state", args.state, "--duration", str(args.duration), "--dt", str(args.dt), "--seed", str(args.seed)]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.ready = self._read()


# --------------------------------------------------------------------------- report
def record(args: argparse.Namespace, side: NeurosimSide, ns_runs: list[dict], brian: Brian2Side | None,
           br_runs: list[dict], ratios: list[float]) -> dict[str, Any]:
    p: Params = args.params
    g, eta = p.g_eta
    med = lambda runs, key: statistics.median(r[key] for r in runs) if runs else None  # noqa: E731
    rec: dict[str, Any] = {
        "neurosim_sim_s": med(ns_runs, "sim_s"),
        "brian2_sim_s": med(br_runs, "sim_s"),
        "ratio_sim": statistics.median(ratios) if ratios else None,
    }
    for key in STATS:
        for name, runs in (("neurosim", ns_runs), ("brian2", br_runs)):
            rec[f"{name}_{key}"] = fmean([r[key] for r in runs])
            rec[f"{name}_{key}_sd"] = sd([r[key] for r in runs])
    rec.update({
        "neurosim_sim_s_sd": sd([r["sim_s"] for r in ns_runs]),
        "brian2_sim_s_sd": sd([r["sim_s"] for r in br_runs]),
        "neurosim_sim_s_all": [r["sim_s"] for r in ns_runs],
        "brian2_sim_s_all": [r["sim_s"] for r in br_runs],
        "ratio_sim_all": ratios,
        "neurosim_sim_wall_s": med(ns_runs, "sim_wall_s"),
        "brian2_binary_s": med(br_runs, "binary_s"),
        **{f"{name}_{key}_all": [r[key] for r in runs] for key in STATS
           for name, runs in (("neurosim", ns_runs), ("brian2", br_runs))},
        "neurosim_spikes": [r["spikes"] for r in ns_runs],
        "brian2_spikes": [r["spikes"] for r in br_runs],
        "neurosim_seeds": [r["seed"] for r in ns_runs],
        "neurosim_synapses": med(ns_runs, "synapses"),
        "brian2_synapses": med(br_runs, "synapses"),
        "neurosim_build_s": med(ns_runs, "build_s"),
        "neurosim_compile_s": side.compile_s,
        "neurosim_jit_cache": side.jit_cache,
        "brian2_build_s": brian.ready.get("brian2_build_s") if brian else None,
        "brian2_connectivity_s": brian.ready.get("brian2_connectivity_s") if brian else None,
        "brian2_compile_s": brian.ready.get("brian2_compile_s") if brian else None,
        "n_exc": p.n_exc, "n_inh": p.n_inh, "c_exc": p.c_exc, "c_inh": p.c_inh, "state": p.state, "g": g,
        "eta": eta, "nu_ext_hz": eta * p.nu_thr(), "duration_s": args.duration, "dt_ms": args.dt,
        "seed": args.seed, "repeats": args.repeats, "backend": args.backend,
    })
    for key in STATS:
        ns_v, br_v, br_sd = rec[f"neurosim_{key}"], rec[f"brian2_{key}"], rec[f"brian2_{key}_sd"]
        diff_sd = ok = None
        if ns_v is not None and br_v is not None and br_sd is not None:
            diff_sd = (ns_v - br_v) / br_sd if br_sd > 0 else (0.0 if ns_v == br_v else float("inf"))
            ok = abs(diff_sd) <= 2.0
        short = key.split("_")[0]
        rec[f"{short}_diff_in_sd"] = diff_sd
        rec[f"{short}_ok"] = ok
    rec["ratio_ok"] = None if rec["ratio_sim"] is None else rec["ratio_sim"] <= RATIO_TARGET
    return rec


def print_report(rec: dict[str, Any]) -> None:
    f = fmt

    def stats(name: str) -> str:
        return (f"exc {f(rec[f'{name}_rate_hz'])} ± {f(rec[f'{name}_rate_hz_sd'])} Hz, CV {f(rec[f'{name}_cv'])} ±"
                f" {f(rec[f'{name}_cv_sd'])}, Fano {f(rec[f'{name}_fano'], 2)} ± {f(rec[f'{name}_fano_sd'], 2)}")

    print(f"neurosim[{rec['backend']}]: sim {f(rec['neurosim_sim_s'])} s CPU ± {f(rec['neurosim_sim_s_sd'])}"
          f" ({f(rec['neurosim_sim_wall_s'])} s wall), {stats('neurosim')}; build {f(rec['neurosim_build_s'])} s,"
          f" compile {f(rec['neurosim_compile_s'])} s (JIT cache {rec['neurosim_jit_cache']}),"
          f" {f(rec['neurosim_synapses'], 0)} synapses")
    if rec["brian2_sim_s"] is None:
        return
    print(f"brian2[cpp_standalone]: sim {f(rec['brian2_sim_s'])} s ± {f(rec['brian2_sim_s_sd'])} (binary"
          f" {f(rec['brian2_binary_s'])} s wall), {stats('brian2')}; build {f(rec['brian2_build_s'])} s (index arrays"
          f" {f(rec['brian2_connectivity_s'])} s), compile {f(rec['brian2_compile_s'], 1)} s,"
          f" {f(rec['brian2_synapses'], 0)} synapses")
    ratios = ", ".join(f"{r:.3f}" for r in rec["ratio_sim_all"])
    print(f"ratio_sim {f(rec['ratio_sim'])} [{ratios}] (target <= {RATIO_TARGET}: {rec['ratio_ok']});"
          f" neurosim - brian2 in brian2 sd: rate {f(rec['rate_diff_in_sd'], 2)} (ok {rec['rate_ok']}),"
          f" CV {f(rec['cv_diff_in_sd'], 2)} (ok {rec['cv_ok']}), Fano {f(rec['fano_diff_in_sd'], 2)}"
          f" (ok {rec['fano_ok']})", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.brian2_worker:
        brian2_worker(args)
        return
    p = args.params
    g, eta = p.g_eta
    print(f"Brunel (2000) state {p.state} (g={g:g}, eta={eta:g}): N_E={p.n_exc}, N_I={p.n_inh}, C_E={p.c_exc},"
          f" C_I={p.c_inh}, nu_ext={eta * p.nu_thr():g} Hz; {args.duration:g} s at dt {args.dt:g} ms,"
          f" {args.repeats} interleaved pairs, neurosim backend {args.backend}, seeds from {args.seed}", flush=True)
    brian = None
    if not args.no_brian2:
        if importlib.util.find_spec("brian2") is None:
            print("brian2: not importable here, comparison skipped")
        else:
            try:  # compiled before neurosim's timings start, so that make does not run beside them
                brian = Brian2Side(args)
                print(f"brian2: built in {brian.ready['brian2_build_s']:.2f} s (index arrays"
                      f" {brian.ready['brian2_connectivity_s']:.2f} s), compiled in"
                      f" {brian.ready['brian2_compile_s']:.1f} s", flush=True)
            except RuntimeError as exc:
                print(f"brian2: {exc}\ncomparison skipped")
                brian = None
    ns_runs, br_runs, ratios = [], [], []
    try:
        side = NeurosimSide(args)
        for k in range(args.repeats):
            ns_runs.append(side.run(args.seed + k))
            r = ns_runs[-1]
            line = (f"  pair {k + 1}: neurosim {r['sim_s']:.3f} s (build {r['build_s']:.1f} s; exc {r['rate_hz']:.2f} Hz,"
                    f" CV {fmt(r['cv'])}, Fano {fmt(r['fano'], 2)})")
            if brian is not None:
                br_runs.append(brian.run())
                b = br_runs[-1]
                ratios.append(r["sim_s"] / b["sim_s"])
                line += (f", brian2 {b['sim_s']:.3f} s (exc {b['rate_hz']:.2f} Hz, CV {fmt(b['cv'])}, Fano {fmt(b['fano'], 2)}),"
                         f" ratio {ratios[-1]:.3f}")
            print(line, flush=True)
    finally:
        if brian is not None:
            brian.close()
    rec = record(args, side, ns_runs, brian, br_runs, ratios)
    print_report(rec)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
