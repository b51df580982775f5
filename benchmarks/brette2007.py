"""The three benchmarks of Brette et al. (2007): CUBA, COBA, COBAHH, neurosim against Brian2's own models.

    python benchmarks/brette2007.py                         # all three, 1 s each, 3 interleaved pairs
    python benchmarks/brette2007.py --only cuba,coba --repeats 5
    python benchmarks/brette2007.py --duration 0.2 --no-brian2 --backend numpy

Each side runs its *idiomatic* model, the way a user of that simulator writes it; both are
4000 neurons (3200 excitatory, 800 inhibitory), connection probability 0.02, no external
drive, dt = 0.1 ms, every spike recorded.

neurosim (``--backend``, default numba; seeds ``--seed``, ``--seed``+1, ...):

- cuba: :func:`neurosim.models.cuba.build` (CubaLIF, exact integration, no autapses).
- coba: :func:`neurosim.models.coba.build` (CobaLIF, 6 nS / 67 nS onto the ``exc`` / ``inh``
  receptors, autapses allowed as in Brian), integrated with ``--coba-method``: by default
  ``euler``, the method of Brian's script, so both sides run one numerical scheme
  (``--coba-method exponential_euler``: CobaLIF's own default).
- cobahh: :func:`neurosim.models.cobahh.build` (HodgkinHuxley, exponential Euler, 6 nS / 67 nS).
- initial state as in Brian's scripts: v ~ Uniform(Vr, Vt) for cuba; v ~ E_L + N(-5, 5) mV,
  g_exc ~ N(40, 15) nS, g_inh ~ N(200, 120) nS for coba and cobahh, and the HH gates at 0 for
  cobahh (the populations' ``initial``).

Brian2 (``cpp_standalone``, no OpenMP: one thread; unseeded, like the examples, so every run
draws a fresh network and initial state):

- cuba: Brian2's ``examples/CUBA.py`` (as in ``benchmarks/cuba.py``): v in volts with
  ``ge``/``gi`` as voltages, ``method='exact'``, ``refractory=5*ms`` with ``(unless refractory)``,
  ``connect('i<Ne', p=0.02)`` on one group.
- coba: the COBA benchmark as Brian's script for the paper (benchmark 1; Vogels & Abbott) in
  Brian2's SI idiom of ``examples/COBAHH.py``: ``dv/dt = (gl*(El-v) + ge*(Ee-v) + gi*(Ei-v))/Cm
  : volt (unless refractory)``, conductances in siemens, ``threshold='v>Vt'``, ``reset='v=Vr'``,
  ``refractory=5*ms``, ``method='euler'`` (the script's "Euler integration", and the method
  Brian2 itself picks for these equations when none is given), ``Synapses(Pe, P,
  on_pre='ge+=we')`` / ``Synapses(Pi, P, on_pre='gi+=wi')`` with ``connect(p=0.02)``; initial
  state as the script: ``v = El + (randn()*5-5)*mV``, ``ge = (randn()*1.5+4)*10*nS``,
  ``gi = (randn()*12+20)*10*nS``.
- cobahh: Brian2's ``examples/COBAHH.py``: its equations (Traub–Miles rates written with
  ``exp``), ``threshold='v>-20*mV'``, ``refractory=3*ms``, ``method='exponential_euler'``, same
  synapses and initial state (gates left at 0).

Timing, per model: the Brian2 binary is generated and compiled once in a worker process (all
selected models' workers compile in parallel before any timing starts), then ``--repeats``
pairs run interleaved (neurosim, Brian2's binary, neurosim, ...). Sim time is process CPU
time of the simulation loop on both sides: Brian's binary times its run loop with
``std::clock()`` (connectivity is generated before it); ``neurosim_sim_s`` is the
``time.process_time()`` of ``Network.run`` (the network built, its layout included, before it;
numpy's BLAS/OpenMP pools limited to one thread, as their spinning idle threads would otherwise
add to this process's CPU time).
``*_sim_s`` are medians over repeats, ``ratio_sim`` is the median over pairs of
neurosim/brian2. ``neurosim_compile_s`` is the first run of a tiny network of the same model in
this process (numba JIT or a load from its on-disk cache: ``neurosim_jit_cache``);
``--startup`` additionally measures, in fresh processes, the first-run compile with an empty
numba cache (``neurosim_cold_compile_s``) and the start from the warm cache
(``neurosim_cached_compile_s``).

Dead runs: COBA and COBAHH have no external drive, and from some initial states and networks their
activity dies out instead of settling into the self-sustained state (Brian2's COBA example does
so in about one run in ten). A run whose last quarter (at most 100 ms) has less than 1 Hz is
marked dead (``*_died``); the pairs go on (at most 2 x ``--repeats`` pairs) until each side has
``--repeats`` sustained runs, and all statistics below, sim times and ``ratio_sim`` (pairs where
both lasted) are over sustained runs only (``*_all`` lists keep every run).

Statistics: ``*_rate_hz`` is the mean firing rate over all neurons, ``*_cv`` the mean ISI
coefficient of variation (sample std / mean of a neuron's intervals, initial transient included)
over neurons with at least 3 spikes, each averaged over the repeats;
``*_sd`` are standard deviations over the repeats (seeds). ``rate_ok`` / ``cv_ok``: the
neurosim mean lies within 2 standard deviations of Brian2's seed-to-seed spread
(``*_diff_in_sd``); ``ratio_ok``: ratio_sim <= 0.5.

The last line of the output is one JSON object, one entry per model.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

# one thread for the BLAS/OpenMP pools numpy may start: their idle threads spin for a while after a call
# (connectivity generation) and that spinning would count in this process's CPU time during Network.run
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import build_and_run, jit_cache_state, warm_backend  # noqa: E402
from neurosim.spike_stats import mean_isi_cv  # noqa: E402
from cuba import Brian2Side as _CubaBrian2Side  # noqa: E402  (the worker protocol: _read, run, close)

MODELS = ("cuba", "coba", "cobahh")
N, N_EXC, P_CONNECT = 4000, 3200, 0.02
BRIAN2_WORKER_FLAG = "--brian2-worker"
STARTUP_FLAG = "--startup-probe"
RATIO_TARGET = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=1.0, help="biological time in s (default 1)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved pairs (seeds) per model (default 3)")
    ap.add_argument("--only", default=",".join(MODELS), help="comma-separated subset of cuba,coba,cobahh")
    ap.add_argument("--no-brian2", action="store_true", help="skip the Brian2 comparison")
    ap.add_argument("--backend", default="numba", help="neurosim backend (default numba)")
    ap.add_argument("--seed", type=int, default=0, help="neurosim's first seed (repetition i uses seed + i)")
    ap.add_argument("--dt", type=float, default=0.1, help="time step in ms (default 0.1)")
    ap.add_argument("--coba-method", default="euler",
                    help="neurosim's integration method for coba (default euler, as Brian's script)")
    ap.add_argument("--startup", action="store_true",
                    help="also time neurosim's first run in fresh processes, cold and warm numba cache")
    ap.add_argument(BRIAN2_WORKER_FLAG, default=None, help=argparse.SUPPRESS)
    ap.add_argument(STARTUP_FLAG, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    args.models = [m.strip().lower() for m in args.only.split(",") if m.strip()]
    bad = [m for m in args.models if m not in MODELS]
    if bad or not args.models:
        ap.error(f"--only: expected names from {','.join(MODELS)}, got {args.only!r}")
    return args


def n_steps(args: argparse.Namespace) -> int:
    return int(round(args.duration / (args.dt * 1e-3)))


def sustained(t: np.ndarray, n: int, duration: float) -> bool:
    """Whether the activity lasted: at least 1 Hz per neuron over the last quarter of the run (at most 100 ms).

    COBA and COBAHH have no external drive; their self-sustained state is only reached from some
    initial states and networks, otherwise the activity dies out (seen in Brian2's COBA too)."""
    window = min(0.1, duration / 4)
    return bool(np.count_nonzero(np.asarray(t) >= duration - window) >= 1.0 * n * window)


def sd(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.stdev(values) if len(values) > 1 else None


def fmean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


# --------------------------------------------------------------------------- neurosim
def neurosim_builder(model: str):
    """``(build, Params)`` of neurosim's model ``model``."""
    if model == "cuba":
        from neurosim.models.cuba import Params, build
    elif model == "coba":
        from neurosim.models.coba import Params, build
    else:
        from neurosim.models.cobahh import Params, build
    return build, Params


class NeurosimSide:
    """neurosim's network of one model: compiled once on a tiny network, then :meth:`run` builds and runs one seed."""

    def __init__(self, model: str, args: argparse.Namespace):
        self.model, self.args = model, args
        self.build, Params = neurosim_builder(model)
        extra = {"method": args.coba_method} if model == "coba" else {}
        self.params = Params(**extra)
        self.dt = f"{args.dt} ms"
        tiny = self.build(Params(n=100, k=10.0, **extra), dt=self.dt, seed=args.seed)
        self.engine, self.compile_s, self.jit_cache = warm_backend(tiny, args.backend, self.dt)

    def run(self, seed: int) -> dict[str, Any]:
        args = self.args
        net, build_s, cpu_s, wall_s = build_and_run(self.build, self.params, self.dt, seed,
                                                    n_steps(args), self.engine)
        i = np.concatenate([m.target.offset + m.i for m in net.monitors])
        t = np.concatenate([m.t for m in net.monitors])
        return {"seed": seed, "build_s": build_s, "sim_s": cpu_s, "sim_wall_s": wall_s, "spikes": int(i.size),
                "rate_hz": i.size / (self.params.n * args.duration), "cv": mean_isi_cv(i, t),
                "sustained": sustained(t, self.params.n, n_steps(args) * net.dt),
                "synapses": int(sum(p.synapses.n_synapses for p in net.projections))}


def startup_probe(model: str, args: argparse.Namespace) -> None:
    """In a fresh process: the first run of a tiny network of ``model`` (import, backend load, JIT or cache load)."""
    t0 = time.perf_counter()
    from neurosim.engine.registry import get_backend

    build, Params = neurosim_builder(model)
    net = build(Params(n=100, k=10.0), dt=f"{args.dt} ms", seed=0)
    net.run(f"{args.dt} ms", backend=get_backend(args.backend))
    first_run_s = time.perf_counter() - t0
    print(json.dumps({"first_run_s": first_run_s, "jit_cache": jit_cache_state(args.backend, net.layout.models)}))


def measure_startup(model: str, args: argparse.Namespace) -> dict[str, Any]:
    """First-run time in fresh processes: with an empty numba cache, then from the cache it filled."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="brette2007_numba_cache_") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for key in ("cold", "cached"):
            cmd = [sys.executable, os.path.abspath(__file__), STARTUP_FLAG, model, "--backend", args.backend,
                   "--dt", str(args.dt)]
            res = subprocess.run(cmd, env=env, capture_output=True, text=True)
            try:
                rec = json.loads(res.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                rec = {"first_run_s": None, "jit_cache": None}
                print(f"  {model} startup probe failed: {res.stderr.strip().splitlines()[-1:]}")
            out[f"neurosim_{key}_compile_s"] = rec["first_run_s"]
            out[f"neurosim_{key}_jit_cache"] = rec["jit_cache"]
    return out


# --------------------------------------------------------------------------- Brian2
def brian2_network(model: str):
    """Brian2's idiomatic network of ``model``: ``(objects, spike monitor, synapses, namespace)``."""
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, mV, ms, nS, pF, umetre, ufarad, cm, siemens, msiemens

    if model == "cuba":  # examples/CUBA.py
        ns = {"taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms, "Vt": -50 * mV, "Vr": -60 * mV, "El": -49 * mV,
              "we": (60 * 0.27 / 10) * mV, "wi": (-20 * 4.5 / 10) * mV, "Ne": N_EXC}
        eqs = """
        dv/dt  = (ge + gi - (v - El)) / taum : volt (unless refractory)
        dge/dt = -ge / taue : volt
        dgi/dt = -gi / taui : volt
        """
        P = NeuronGroup(N, eqs, threshold="v > Vt", reset="v = Vr", refractory=5 * ms, method="exact", namespace=ns)
        P.v = "Vr + rand() * (Vt - Vr)"
        P.ge = 0 * mV
        P.gi = 0 * mV
        Ce = Synapses(P, P, on_pre="ge += we", namespace=ns)
        Ci = Synapses(P, P, on_pre="gi += wi", namespace=ns)
        Ce.connect("i < Ne", p=P_CONNECT)
        Ci.connect("i >= Ne", p=P_CONNECT)
    else:
        if model == "coba":  # Brette et al. 2007, benchmark 1 (Brian's COBA.py), Brian2 SI idiom
            ns = {"Cm": 200 * pF, "gl": 10 * nS, "El": -60 * mV, "Vt": -50 * mV, "Vr": -60 * mV,
                  "Ee": 0 * mV, "Ei": -80 * mV, "taue": 5 * ms, "taui": 10 * ms, "we": 6 * nS, "wi": 67 * nS}
            eqs = """
            dv/dt = (gl*(El - v) + ge*(Ee - v) + gi*(Ei - v))/Cm : volt (unless refractory)
            dge/dt = -ge/taue : siemens
            dgi/dt = -gi/taui : siemens
            """
            P = NeuronGroup(N, eqs, threshold="v > Vt", reset="v = Vr", refractory=5 * ms, method="euler",
                            namespace=ns)
        else:  # examples/COBAHH.py
            area = 20000 * umetre ** 2
            ns = {"Cm": 1 * ufarad * cm ** -2 * area, "gl": 5e-5 * siemens * cm ** -2 * area,
                  "El": -60 * mV, "EK": -90 * mV, "ENa": 50 * mV,
                  "g_na": 100 * msiemens * cm ** -2 * area, "g_kd": 30 * msiemens * cm ** -2 * area,
                  "VT": -63 * mV, "taue": 5 * ms, "taui": 10 * ms, "Ee": 0 * mV, "Ei": -80 * mV,
                  "we": 6 * nS, "wi": 67 * nS}
            eqs = """
            dv/dt = (gl*(El - v) + ge*(Ee - v) + gi*(Ei - v)
                     - g_na*(m*m*m)*h*(v - ENa) - g_kd*(n*n*n*n)*(v - EK))/Cm : volt
            dm/dt = alpha_m*(1 - m) - beta_m*m : 1
            dn/dt = alpha_n*(1 - n) - beta_n*n : 1
            dh/dt = alpha_h*(1 - h) - beta_h*h : 1
            dge/dt = -ge*(1./taue) : siemens
            dgi/dt = -gi*(1./taui) : siemens
            alpha_m = 0.32*(mV**-1)*(13*mV - v + VT)/(exp((13*mV - v + VT)/(4*mV)) - 1.)/ms : Hz
            beta_m = 0.28*(mV**-1)*(v - VT - 40*mV)/(exp((v - VT - 40*mV)/(5*mV)) - 1)/ms : Hz
            alpha_h = 0.128*exp((17*mV - v + VT)/(18*mV))/ms : Hz
            beta_h = 4./(1 + exp((40*mV - v + VT)/(5*mV)))/ms : Hz
            alpha_n = 0.032*(mV**-1)*(15*mV - v + VT)/(exp((15*mV - v + VT)/(5*mV)) - 1.)/ms : Hz
            beta_n = .5*exp((10*mV - v + VT)/(40*mV))/ms : Hz
            """
            P = NeuronGroup(N, eqs, threshold="v > -20*mV", refractory=3 * ms, method="exponential_euler",
                            namespace=ns)
        Ce = Synapses(P[:N_EXC], P, on_pre="ge += we", namespace=ns)
        Ci = Synapses(P[N_EXC:], P, on_pre="gi += wi", namespace=ns)
        Ce.connect(p=P_CONNECT)
        Ci.connect(p=P_CONNECT)
        P.v = "El + (randn()*5 - 5)*mV"
        P.ge = "(randn()*1.5 + 4)*10*nS"
        P.gi = "(randn()*12 + 20)*10*nS"
    spikes = SpikeMonitor(P)
    return (P, Ce, Ci, spikes), spikes, (Ce, Ci), ns


def brian2_worker(model: str, args: argparse.Namespace) -> None:
    """Build and compile Brian2's ``model`` (cpp_standalone, one thread) once, then run the binary once per
    stdin line; one JSON line per step on the protocol stream (the original stdout; all else goes to stderr)."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def say(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    import brian2 as b2
    from brian2 import Network, ms, second

    directory = tempfile.mkdtemp(prefix=f"brette2007_{model}_brian2_")
    try:
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0  # no OpenMP: one thread
        b2.defaultclock.dt = args.dt * ms
        t0 = time.perf_counter()
        objects, spikes, synapses, ns = brian2_network(model)
        net = Network(*objects)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        net.run(args.duration * second, namespace=ns)
        b2.device.build(directory=directory, compile=True, run=False)
        say({"brian2_build_s": build_s, "brian2_compile_s": time.perf_counter() - t0})
        for _ in sys.stdin:
            t0 = time.perf_counter()
            b2.device.run(directory=directory, with_output=False)
            binary_s = time.perf_counter() - t0
            i, t = np.asarray(spikes.i[:]), np.asarray(spikes.t_[:])
            say({"sim_s": float(b2.device._last_run_time), "binary_s": binary_s, "spikes": int(i.size),
                 "rate_hz": i.size / (N * args.duration), "cv": mean_isi_cv(i, t),
                 "sustained": sustained(t, N, args.duration),
                 "synapses": int(sum(len(s) for s in synapses))})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Brian2Side(_CubaBrian2Side):
    """The Brian2 worker process of one model (starts compiling on construction; :meth:`wait` for it)."""

    def __init__(self, model: str, args: argparse.Namespace):
        cmd = [sys.executable, os.path.abspath(__file__), BRIAN2_WORKER_FLAG, model,
               "--duration", str(args.duration), "--dt", str(args.dt)]
        self.model = model
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.ready: dict[str, Any] | None = None

    def wait(self) -> dict[str, Any]:
        if self.ready is None:
            self.ready = self._read()
        return self.ready


# --------------------------------------------------------------------------- report
def record(model: str, args: argparse.Namespace, side: NeurosimSide, ns_runs: list[dict], brian: Brian2Side | None,
           br_runs: list[dict], ratios: list[float], startup: dict[str, Any]) -> dict[str, Any]:
    alive = lambda runs: [r for r in runs if r["sustained"]] or runs  # noqa: E731  (all runs if none lasted)
    ns_ok, br_ok = alive(ns_runs), alive(br_runs)
    both = [q for q, a, b in zip(ratios, ns_runs, br_runs) if a["sustained"] and b["sustained"]] or ratios
    med = lambda runs, key: statistics.median(r[key] for r in runs) if runs else None  # noqa: E731
    rec: dict[str, Any] = {
        "neurosim_sim_s": med(ns_ok, "sim_s"),
        "brian2_sim_s": med(br_ok, "sim_s"),
        "ratio_sim": statistics.median(both) if both else None,
        "neurosim_rate_hz": fmean([r["rate_hz"] for r in ns_ok]),
        "brian2_rate_hz": fmean([r["rate_hz"] for r in br_ok]),
        "neurosim_cv": fmean([r["cv"] for r in ns_ok]),
        "brian2_cv": fmean([r["cv"] for r in br_ok]),
        "neurosim_rate_hz_sd": sd([r["rate_hz"] for r in ns_ok]),
        "brian2_rate_hz_sd": sd([r["rate_hz"] for r in br_ok]),
        "neurosim_cv_sd": sd([r["cv"] for r in ns_ok]),
        "brian2_cv_sd": sd([r["cv"] for r in br_ok]),
        "neurosim_sim_s_sd": sd([r["sim_s"] for r in ns_ok]),
        "brian2_sim_s_sd": sd([r["sim_s"] for r in br_ok]),
        "neurosim_runs": len(ns_runs), "neurosim_died": sum(not r["sustained"] for r in ns_runs),
        "brian2_runs": len(br_runs), "brian2_died": sum(not r["sustained"] for r in br_runs),
        "neurosim_sim_s_all": [r["sim_s"] for r in ns_runs],
        "brian2_sim_s_all": [r["sim_s"] for r in br_runs],
        "ratio_sim_all": ratios,
        "neurosim_sim_wall_s": med(ns_runs, "sim_wall_s"),
        "brian2_binary_s": med(br_runs, "binary_s"),
        "neurosim_rate_hz_all": [r["rate_hz"] for r in ns_runs],
        "brian2_rate_hz_all": [r["rate_hz"] for r in br_runs],
        "neurosim_cv_all": [r["cv"] for r in ns_runs],
        "brian2_cv_all": [r["cv"] for r in br_runs],
        "neurosim_seeds": [r["seed"] for r in ns_runs],
        "neurosim_synapses": med(ns_runs, "synapses"),
        "brian2_synapses": med(br_runs, "synapses"),
        "neurosim_build_s": med(ns_runs, "build_s"),
        "neurosim_compile_s": side.compile_s,
        "neurosim_jit_cache": side.jit_cache,
        **startup,
        "brian2_build_s": brian.ready.get("brian2_build_s") if brian else None,
        "brian2_compile_s": brian.ready.get("brian2_compile_s") if brian else None,
        "duration_s": args.duration, "dt_ms": args.dt, "repeats": args.repeats, "backend": args.backend,
    }
    for key in ("rate_hz", "cv"):
        ns_v, br_v, br_sd = rec[f"neurosim_{key}"], rec[f"brian2_{key}"], rec[f"brian2_{key}_sd"]
        ok = diff_sd = None
        if ns_v is not None and br_v is not None and br_sd is not None:
            diff_sd = (ns_v - br_v) / br_sd if br_sd > 0 else (0.0 if ns_v == br_v else float("inf"))
            ok = abs(diff_sd) <= 2.0
        short = key.split("_")[0]
        rec[f"{short}_diff_in_sd"] = diff_sd
        rec[f"{short}_ok"] = ok
    rec["ratio_ok"] = None if rec["ratio_sim"] is None else rec["ratio_sim"] <= RATIO_TARGET
    return rec


def print_report(model: str, rec: dict[str, Any]) -> None:
    f = lambda x, p=3: "n/a" if x is None else f"{x:.{p}f}"  # noqa: E731
    print(f"{model}: neurosim[{rec['backend']}] sim {f(rec['neurosim_sim_s'])} s CPU ± {f(rec['neurosim_sim_s_sd'])},"
          f" {f(rec['neurosim_rate_hz'])} ± {f(rec['neurosim_rate_hz_sd'])} Hz, CV {f(rec['neurosim_cv'])} ±"
          f" {f(rec['neurosim_cv_sd'])}; compile {f(rec['neurosim_compile_s'])} s (JIT cache {rec['neurosim_jit_cache']}),"
          f" build {f(rec['neurosim_build_s'])} s, {f(rec['neurosim_synapses'], 0)} synapses")
    if rec["brian2_sim_s"] is None:
        return
    print(f"{model}: brian2[cpp_standalone] sim {f(rec['brian2_sim_s'])} s ± {f(rec['brian2_sim_s_sd'])},"
          f" {f(rec['brian2_rate_hz'])} ± {f(rec['brian2_rate_hz_sd'])} Hz, CV {f(rec['brian2_cv'])} ±"
          f" {f(rec['brian2_cv_sd'])}; compile {f(rec['brian2_compile_s'], 1)} s, {f(rec['brian2_synapses'], 0)} synapses")
    print(f"{model}: ratio_sim {f(rec['ratio_sim'])} (target <= {RATIO_TARGET}: {rec['ratio_ok']}),"
          f" rate diff {f(rec['rate_diff_in_sd'], 2)} sd (ok {rec['rate_ok']}),"
          f" CV diff {f(rec['cv_diff_in_sd'], 2)} sd (ok {rec['cv_ok']})", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.brian2_worker:
        brian2_worker(args.brian2_worker, args)
        return
    if args.startup_probe:
        startup_probe(args.startup_probe, args)
        return
    print(f"Brette et al. 2007: {','.join(args.models)}; {args.duration:g} s at dt {args.dt:g} ms, {args.repeats}"
          f" interleaved pairs per model, neurosim backend {args.backend}, seeds from {args.seed}", flush=True)
    brians: dict[str, Brian2Side] = {}
    if not args.no_brian2:
        if importlib.util.find_spec("brian2") is None:
            print("brian2: not importable here, comparison skipped")
        else:
            brians = {m: Brian2Side(m, args) for m in args.models}  # compile in parallel, before any timing
            for m, side in list(brians.items()):
                try:
                    ready = side.wait()
                    print(f"brian2 {m}: built in {ready['brian2_build_s']:.2f} s, compiled in"
                          f" {ready['brian2_compile_s']:.1f} s", flush=True)
                except RuntimeError as exc:
                    print(f"brian2 {m}: {exc}\ncomparison skipped for {m}")
                    side.close()
                    del brians[m]
    out: dict[str, Any] = {}
    try:
        for model in args.models:
            startup = {}
            if args.startup:  # fresh processes, before this one loads anything of the model
                startup = measure_startup(model, args)
            side = NeurosimSide(model, args)
            brian = brians.get(model)
            ns_runs, br_runs, ratios = [], [], []
            k = 0
            while k < args.repeats or (k < 2 * args.repeats and (  # replace runs whose activity died out
                    sum(r["sustained"] for r in ns_runs) < args.repeats
                    or (brian is not None and sum(r["sustained"] for r in br_runs) < args.repeats))):
                ns_runs.append(side.run(args.seed + k))
                r = ns_runs[-1]
                line = f"  {model} pair {k + 1}: neurosim {r['sim_s']:.3f} s ({r['rate_hz']:.2f} Hz, CV {r['cv']})"
                if brian is not None:
                    br_runs.append(brian.run())
                    b = br_runs[-1]
                    ratios.append(r["sim_s"] / b["sim_s"])
                    line += f", brian2 {b['sim_s']:.3f} s ({b['rate_hz']:.2f} Hz, CV {b['cv']}), ratio {ratios[-1]:.3f}"
                print(line + ("" if all(x[-1]["sustained"] for x in (ns_runs, br_runs) if x) else "  [activity died out]"),
                      flush=True)
                k += 1
            if brian is not None:
                brian.close()
            out[model] = record(model, args, side, ns_runs, brian, br_runs, ratios, startup)
            print_report(model, out[model])
    finally:
        for side in brians.values():
            side.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
