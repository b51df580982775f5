"""Surrogate-gradient training speed: forward + backward of Linear(N_in -> N) + LIF, one run.

    python benchmarks/train_lif.py                              # T in {100, 500} x N = N_in in {1024, 4096}
    python benchmarks/train_lif.py --configs 100:1024 --reps 3  # a subset
    python benchmarks/train_lif.py --impls floor,neurosim,neurosim_events,neurosim_dense,snntorch_batched --no-memory
    python benchmarks/train_lif.py --device cuda                # GPU: CUDA kernel vs CPU op, then timings

Every implementation computes the same thing on the same data: batch 16, input 10 % Bernoulli
spikes (``--density``; no gradient), one ``Linear`` layer, LIF with β = 0.9375 (τ = 16 steps), θ = 1, hard reset
(to zero, detached), ATan surrogate (α = 2), loss = sum of the output spikes, then ``backward``:

- ``floor``: the two matrix products any implementation needs, the forward product over
  all T·B rows and the weight gradient (the matrix-multiply floor);
- ``neurosim``: ``neurosim.train.synapses.SparseLinear`` with its default ``max_density="auto"``
  over all T·B rows + ``neurosim.train.LIF`` (one fused op); this is what the ``train`` task
  builds. SparseLinear takes the event path (cost in proportion to the spikes) when the input
  density is below the crossover it calibrated on this machine for this shape, else the
  dense products; ``choice`` in the output says which it took (path, density, threshold);
- ``neurosim_events``: the same, the event path forced (``max_density=1``);
- ``neurosim_dense``: the same with a plain ``nn.Linear`` (dense matrix products);
- ``snntorch_tutorial``: ``snn.Leaky(reset_mechanism="zero")`` with ``fc(x[t])`` inside the
  Python time loop, as the snnTorch tutorials teach;
- ``snntorch_batched``: the same neuron, ``fc`` over all steps at once, ``cur.unbind(0)`` in the loop;
- ``norse``: ``norse.torch.LIF`` (current-based; τ_syn given so that α = 0.8, input weights
  scaled by 1/(1-β) to give the same membrane drive; its reset is not detached and its
  surrogate is SuperSpike), when installed;
- ``spikingjelly``: ``LIFNode(tau=1/(1-β), decay_input=False, v_reset=0, detach_reset=True,
  ATan(2), step_mode="m")`` after one ``nn.Linear`` over all rows, when installed.

Before timing, each configuration checks the gradients: every framework's neuron, fed the
same input current (the first 50 steps, 4 samples, 256 neurons), gives dL/d(current) equal to
neurosim's fused op configured with that framework's dynamics (snnTorch, SpikingJelly: the
LIF above; Norse: CubaLIF, α = 0.8, reset not detached, fast-sigmoid surrogate of slope 1),
to 1e-5 relative; and every timed variant's weight gradient is compared with neurosim's
(``weight_grad_rel_diff``: the relative max difference; different rounding of the matrix
products or of the framework's arithmetic can flip a rare spike at this size). For neurosim's
variants ``spikes_differing`` counts the output spikes that differ from the reference's: a
membrane within float32 rounding of the threshold flips, that neuron's later trajectory and
its weight-gradient row change (``weight_grad_rel_diff`` ~1e-2 at T = 500, N = 4096 from 13
flipped spikes of one neuron; the other rows agree to 2e-6, and in float64 nothing flips:
``tests/test_train_synapses.py``).

Timing is interleaved: after a warm-up run of every implementation, rounds run each
implementation once in turn (floor, neurosim, ..., floor, neurosim, ...) until each has
``--reps`` runs (fewer once its runs took ``--budget`` seconds), with one torch thread and one
numba thread. ``ms`` is the median; ``ratio_to_floor`` and ``speedup_vs_snntorch`` are medians
of the ratios within each round, so that a change of the machine's speed during the run hits
both sides of a ratio alike. Memory: ``peak_mib`` is the growth of the peak resident set during one
forward+backward after a warm-up, measured in a fresh process (``/proc/self/clear_refs``;
allocations from 4 KiB up mmapped, so that freed tensors leave the resident set);
``saved_bytes_per_neuron_step`` is what autograd keeps for the backward pass (the Linear's
saved input included), per neuron-step. On a GPU the peak is
``torch.cuda.max_memory_allocated`` above the memory in use before the run.

The last line of the output is one JSON object: per configuration the milliseconds of every
implementation, ``ratio_to_floor`` (ms / floor ms) and ``speedup_vs_snntorch`` (snnTorch ms /
neurosim ms, for both snnTorch styles; ``_events`` / ``_dense`` for those variants).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from neurosim.train import functional as F  # noqa: E402
from neurosim.train.fused import cuba_lif_scan, lif_scan  # noqa: E402
from neurosim.train.modules import LIF  # noqa: E402
from neurosim.train.surrogates import ATan, FastSigmoid  # noqa: E402
from neurosim.train import synapses  # noqa: E402
from neurosim.train.synapses import SparseLinear  # noqa: E402

#: β = 1 - 1/16: SpikingJelly's ``v - v/τ`` with τ = 16 then rounds exactly like ``β v``
BATCH, BETA, ALPHA, DENSITY = 16, 0.9375, 0.8, 0.1
DT = 1e-3


# ------------------------------------------------------------------------------------ memory
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def peak_mib(name: str, T: int, n: int, device: torch.device, run: Callable[[], object]) -> float:
    """Growth of peak memory (MiB) during one forward+backward after a warm-up: allocated CUDA
    memory on a GPU; on CPU the peak resident set of a fresh process (``--memory-child``) whose
    allocations of 4 KiB and more are mmapped (so freed tensors leave the resident set and no
    freed heap is reused unseen)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    done = subprocess.run([sys.executable, __file__, "--density", str(DENSITY), "--memory-child", name, str(T), str(n)],
                          capture_output=True, text=True)
    return float(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.split() else float("nan")


def memory_child(name: str, T: int, n: int) -> None:
    torch.set_num_threads(1)
    ctypes.CDLL("libc.so.6").mallopt(-3, 4096)  # M_MMAP_THRESHOLD
    x, w, _ = data(T, n, torch.device("cpu"))
    impl = IMPLS[name][0](x, w)
    impl.run()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status_kib("VmRSS")
    impl.run()
    print((_status_kib("VmHWM") - base) / 1024)


def saved_bytes(fn: Callable[[], None]) -> int:
    """Bytes of the distinct storages autograd saves while ``fn`` runs its forward pass."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


# ------------------------------------------------------------------------------ implementations
def _linear(w: torch.Tensor, scale: float = 1.0, cls: type[nn.Linear] = nn.Linear, **kw) -> nn.Linear:
    fc = cls(w.shape[1], w.shape[0], bias=False, **kw).to(w.device)
    with torch.no_grad():
        fc.weight.copy_(w * scale)
    return fc


def _lif_params(**kw) -> F.LIFParameters:
    return F.LIFParameters(beta=BETA, threshold=1.0, reset="hard", surrogate=ATan(2.0), **kw)


class Impl:
    """One implementation: ``run()`` does zero-grad, forward, loss, backward and returns the
    weight gradient; ``neuron(cur)`` runs its neuron alone on a current [T, B, N]."""

    name = ""
    grad_scale = 1.0  # its weight gradient / neurosim's (input weights scaled)

    def __init__(self, x: torch.Tensor, w: torch.Tensor):
        self.x = x

    def run(self) -> torch.Tensor:
        raise NotImplementedError

    def neuron(self, cur: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reference(self, cur: torch.Tensor) -> torch.Tensor:
        """neurosim's fused op with this implementation's dynamics."""
        return lif_scan(cur, None, _lif_params())[0]


class Floor(Impl):
    name = "floor"

    def __init__(self, x, w):
        super().__init__(x, w)
        self.w, self.x2 = w, x.reshape(-1, x.shape[-1])
        self.g = torch.randn(self.x2.shape[0], w.shape[0], device=x.device)

    def run(self):
        _ = self.x2 @ self.w.T
        return self.g.T @ self.x2


class Neurosim(Impl):
    name = "neurosim"
    linear: type[nn.Linear] = SparseLinear
    linear_kw: dict = {}

    def __init__(self, x, w):
        super().__init__(x, w)
        self.fc = _linear(w, cls=self.linear, **self.linear_kw)
        self.lif = LIF(BETA, 1.0, reset="hard", surrogate=ATan(2.0)).to(x.device)
        self.spikes: torch.Tensor | None = None

    def run(self):
        self.fc.zero_grad(set_to_none=True)
        out = self.lif(self.fc(self.x)).out
        out.sum().backward()
        self.spikes = out.detach()
        return self.fc.weight.grad

    def neuron(self, cur):
        return self.lif(cur).out


class NeurosimEvents(Neurosim):
    name = "neurosim_events"
    linear_kw = {"max_density": 1.0}


class NeurosimDense(Neurosim):
    name = "neurosim_dense"
    linear = nn.Linear


class _SnnTorch(Impl):
    def __init__(self, x, w):
        super().__init__(x, w)
        import snntorch as snn

        self.fc = _linear(w)
        self.lif = snn.Leaky(beta=BETA, threshold=1.0, reset_mechanism="zero",
                             spike_grad=snn.surrogate.atan(2.0)).to(x.device)

    def neuron(self, cur):
        mem, out = self.lif.reset_mem(), []
        for c in cur.unbind(0):
            spk, mem = self.lif(c, mem)
            out.append(spk)
        return torch.stack(out)


class SnnTorchTutorial(_SnnTorch):
    name = "snntorch_tutorial"

    def run(self):
        self.fc.zero_grad(set_to_none=True)
        mem, out = self.lif.reset_mem(), []
        for t in range(self.x.shape[0]):
            spk, mem = self.lif(self.fc(self.x[t]), mem)
            out.append(spk)
        torch.stack(out).sum().backward()
        return self.fc.weight.grad


class SnnTorchBatched(_SnnTorch):
    name = "snntorch_batched"

    def run(self):
        self.fc.zero_grad(set_to_none=True)
        self.neuron(self.fc(self.x)).sum().backward()
        return self.fc.weight.grad


class Norse(Impl):
    name = "norse"
    grad_scale = 1 - BETA

    def __init__(self, x, w):
        super().__init__(x, w)
        import norse.torch as norse

        self.fc = _linear(w, 1 / (1 - BETA))
        p = norse.LIFParameters(tau_syn_inv=torch.as_tensor((1 - ALPHA) / DT), tau_mem_inv=torch.as_tensor((1 - BETA) / DT),
                                v_leak=torch.as_tensor(0.0), v_th=torch.as_tensor(1.0), v_reset=torch.as_tensor(0.0),
                                method="super", alpha=torch.as_tensor(1.0))
        self.lif = norse.LIF(p, dt=DT).to(x.device)

    def run(self):
        self.fc.zero_grad(set_to_none=True)
        self.lif(self.fc(self.x))[0].sum().backward()
        return self.fc.weight.grad

    def neuron(self, cur):
        return self.lif(cur / (1 - BETA))[0]

    def reference(self, cur):
        p = F.CubaLIFParameters(beta=BETA, alpha=ALPHA, threshold=1.0, reset="hard", detach_reset=False,
                                surrogate=FastSigmoid(1.0))
        return cuba_lif_scan(cur, None, p)[0]


class SpikingJelly(Impl):
    name = "spikingjelly"

    def __init__(self, x, w):
        super().__init__(x, w)
        from spikingjelly.activation_based import functional, neuron, surrogate

        self.reset_net = functional.reset_net
        self.fc = _linear(w)
        self.lif = neuron.LIFNode(tau=1 / (1 - BETA), decay_input=False, v_threshold=1.0, v_reset=0.0,
                                  surrogate_function=surrogate.ATan(alpha=2.0), detach_reset=True,
                                  step_mode="m").to(x.device)

    def run(self):
        self.fc.zero_grad(set_to_none=True)
        self.neuron(self.fc(self.x)).sum().backward()
        return self.fc.weight.grad

    def neuron(self, cur):
        self.reset_net(self.lif)
        return self.lif(cur)


IMPLS: dict[str, tuple[type[Impl], str | None]] = {
    "floor": (Floor, None), "neurosim": (Neurosim, None), "neurosim_events": (NeurosimEvents, None),
    "neurosim_dense": (NeurosimDense, None),
    "snntorch_tutorial": (SnnTorchTutorial, "snntorch"),
    "snntorch_batched": (SnnTorchBatched, "snntorch"), "norse": (Norse, "norse"),
    "spikingjelly": (SpikingJelly, "spikingjelly"),
}


# ---------------------------------------------------------------------------------- measuring
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def check_neuron(impl: Impl, cur: torch.Tensor) -> float:
    """Max relative difference of dL/d(current) between ``impl``'s neuron and neurosim's op."""
    grads = []
    for fn in (impl.neuron, impl.reference):
        c = cur.detach().clone().requires_grad_()
        weights = torch.linspace(0.5, 1.5, cur.shape[-1], device=cur.device)
        (fn(c) * weights).sum().backward()
        grads.append(c.grad)
    return _rel(grads[0], grads[1])


def reference_weight_grad(impl: Impl, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The weight gradient of neurosim's op with ``impl``'s dynamics (batched matrix products)."""
    w = w.detach().clone().requires_grad_()
    impl.reference((x.reshape(-1, x.shape[-1]) @ w.T).view(*x.shape[:2], -1)).sum().backward()
    return w.grad


def warm_up(impl: Impl) -> tuple[torch.Tensor, int]:
    """One untimed run: (its weight gradient, the bytes autograd saved)."""
    grads: list[torch.Tensor] = []
    saved = saved_bytes(lambda: grads.append(impl.run().detach().clone()))
    return grads[0], saved


def data(T: int, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input spikes [T, B, n], weights [n, n], the input current [T, B, n]), the same in every process."""
    torch.manual_seed(0)
    x = (torch.rand(T, BATCH, n, device=device) < DENSITY).float()
    w = (torch.rand(n, n, device=device) * 2 - 1) * (3.0 / n ** 0.5)
    return x, w, (x.reshape(-1, n) @ w.T).view(T, BATCH, n)


def prepare(name: str, x: torch.Tensor, w: torch.Tensor, cur: torch.Tensor, ref_spikes: torch.Tensor,
            device: torch.device, memory: bool, out: dict) -> Impl:
    """Build one implementation, check its neuron's gradient, warm it up, compare its weight gradient
    (and, for neurosim's variants, its spikes) with the reference, measure its memory."""
    T, n = x.shape[0], x.shape[-1]
    impl = IMPLS[name][0](x, w)
    if name != "floor":
        out["neuron_grad_rel_diff"][name] = check_neuron(impl, cur[:50, :4, :256])
        if out["neuron_grad_rel_diff"][name] > 1e-5:
            raise SystemExit(f"{name}: neuron gradient differs from neurosim's by {out['neuron_grad_rel_diff'][name]}")
    t0 = time.perf_counter()
    grad, saved = warm_up(impl)
    out["warm_up_s"][name] = time.perf_counter() - t0
    if memory:
        out["peak_mib"][name] = peak_mib(name, T, n, device, impl.run)
    if name != "floor":
        out["saved_bytes_per_neuron_step"][name] = saved / (T * BATCH * n)
        out["weight_grad_rel_diff"][name] = _rel(grad / impl.grad_scale, reference_weight_grad(impl, x, w))
    if isinstance(impl, Neurosim):
        out["spikes_differing"][name] = int((impl.spikes != ref_spikes).sum())
        if name == "neurosim":
            out["spike_rate"] = float(impl.spikes.mean())
            path, density, threshold = impl.fc.last_choice
            out["choice"] = {"path": path, "density": density, "threshold": threshold}
            print(f"  T={T} N={n} neurosim (SparseLinear, auto): {path} path (input density {density:.4f}, "
                  f"crossover {threshold:.4f}; warm-up run, calibration included, {out['warm_up_s'][name]:.2f} s)",
                  flush=True)
    return impl


def interleaved(impls: dict[str, Impl], device: torch.device, reps: int, budget: float) -> dict[str, list[float]]:
    """Rounds of one timed run of each implementation in turn; one leaves once it has ``reps`` runs or
    its runs took ``budget`` s. Round i's times are ``times[name][i]`` (a ``nan`` once one has left)."""
    times: dict[str, list[float]] = {name: [] for name in impls}
    spent = dict.fromkeys(impls, 0.0)
    for _ in range(reps):
        active = [name for name in impls if spent[name] < budget]
        if not active:
            break
        for name in impls:
            if name not in active:
                times[name].append(float("nan"))
                continue
            t0 = time.perf_counter()
            impls[name].run()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
            spent[name] += times[name][-1]
    return times


def _median_ratio(a: list[float], b: list[float]) -> float | None:
    """Median over rounds of a[i] / b[i] (rounds where both ran)."""
    ratios = [p / q for p, q in zip(a, b) if p == p and q == q]
    return statistics.median(ratios) if ratios else None


def bench_config(T: int, n: int, names: list[str], device: torch.device, reps: int, budget: float,
                 memory: bool = True) -> dict:
    x, w, cur = data(T, n, device)
    with torch.no_grad():
        ref_spikes = lif_scan(cur, None, _lif_params())[0]
    out: dict = {"T": T, "N": n, "N_in": n, "batch": BATCH, "ms": {}, "ms_min": {}, "runs": {}, "peak_mib": {},
                 "saved_bytes_per_neuron_step": {}, "neuron_grad_rel_diff": {}, "weight_grad_rel_diff": {},
                 "spikes_differing": {}, "warm_up_s": {}}
    impls: dict[str, Impl] = {}
    for name in names:
        try:
            impls[name] = prepare(name, x, w, cur, ref_spikes, device, memory, out)
        except (RuntimeError, ImportError, NotImplementedError, ValueError) as exc:  # a framework that cannot run here
            out.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:300]
            print(f"  T={T} N={n} {name:18s} failed: {out['errors'][name]}", flush=True)
    times = interleaved(impls, device, reps, budget)
    for name, ts in times.items():
        done = [t for t in ts if t == t]
        out["ms"][name] = 1e3 * statistics.median(done)
        out["ms_min"][name] = 1e3 * min(done)
        out["runs"][name] = len(done)
        peak = f"  peak +{out['peak_mib'][name]:.0f} MiB" if name in out["peak_mib"] else ""
        print(f"  T={T} N={n} {name:18s} {out['ms'][name]:10.1f} ms (median of {len(done)}, min "
              f"{out['ms_min'][name]:.1f}){peak}", flush=True)
    if "floor" in times:
        out["ratio_to_floor"] = {k: _median_ratio(v, times["floor"]) for k, v in times.items() if k != "floor"}
    for ours, suffix in (("neurosim", ""), ("neurosim_events", "_events"), ("neurosim_dense", "_dense")):
        if ours in times:
            out["speedup_vs_snntorch" + suffix] = {k.removeprefix("snntorch_"): _median_ratio(times[k], times[ours])
                                                   for k in ("snntorch_tutorial", "snntorch_batched") if k in times}
    if "ratio_to_floor" in out:
        line = ", ".join(f"{k} {v:.2f}" for k, v in out["ratio_to_floor"].items() if v is not None)
        print(f"  T={T} N={n} ratio to the floor (median of paired rounds): {line}", flush=True)
    return out


def check_cuda_kernel() -> dict:
    """The CUDA kernel against the CPU op (float64): spikes, membrane and all gradients."""
    from neurosim.train.functional import MPR
    from neurosim.train.surrogates import SURROGATES

    results = {}
    torch.manual_seed(1)
    T, B, N = 64, 4, 257
    cases = [(cuba, reset, detach, sg, mpr) for cuba in (False, True) for reset in ("soft", "hard", "none")
             for detach in (True, False) for sg in ("atan", "sigmoid") for mpr in (None, MPR(3.0))]
    cases += [(False, "soft", True, sg, None) for sg in SURROGATES]
    for cuba, reset, detach, sg, mpr in cases:
        x = torch.randn(T, B, N, dtype=torch.float64) * 0.6 + 0.3
        u0, i0 = torch.randn(B, N, dtype=torch.float64), torch.randn(B, N, dtype=torch.float64)
        params = [torch.rand(N, dtype=torch.float64) * 0.4 + a for a in (0.5, 0.4, 0.3)]
        wu, ws = torch.randn(T, B, N, dtype=torch.float64), torch.randn(T, B, N, dtype=torch.float64)
        outs = []
        for dev in ("cpu", "cuda"):
            leaves = [t.to(dev).requires_grad_() for t in (x, u0, i0, *params)]
            xd, u0d, i0d, beta, theta, alpha = leaves
            kw = dict(beta=beta, threshold=theta, reset=reset, detach_reset=detach,
                      surrogate=SURROGATES[sg](), mpr=mpr)
            if cuba:
                s, u, st = cuba_lif_scan(xd, F.CubaLIFState(i0d, u0d), F.CubaLIFParameters(alpha=alpha, **kw))
                extra = st.i.sum()
            else:
                s, u, st = lif_scan(xd, F.LIFState(u0d), F.LIFParameters(**kw))
                extra = 0
            loss = (s * ws.to(dev)).sum() + (u * wu.to(dev)).sum() + extra
            grads = torch.autograd.grad(loss, [t for t in leaves if cuba or t is not i0d and t is not alpha])
            outs.append([s.cpu(), u.cpu()] + [g.cpu() for g in grads])
        name = f"{'cuba' if cuba else 'lif'}/{reset}/{'detach' if detach else 'nodetach'}/{sg}/{'mpr' if mpr else '-'}"
        results[name] = {"spikes_equal": bool(torch.equal(outs[0][0], outs[1][0])),
                         "max_rel_diff": max(_rel(b, a) for a, b in zip(outs[0][1:], outs[1][1:]))}
    bad = {k: v for k, v in results.items() if not v["spikes_equal"] or v["max_rel_diff"] > 1e-9}
    print(f"CUDA kernel vs CPU op: {len(results)} configurations, {len(bad)} differ"
          + "".join(f"\n  {k}: {v}" for k, v in bad.items()), flush=True)
    return {"cases": len(results), "differ": bad,
            "worst_rel_diff": max(v["max_rel_diff"] for v in results.values())}


def _cpu_model() -> str:
    import llvmlite.binding

    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{model}, LLVM: {llvmlite.binding.get_host_cpu_name()}"


def main(argv: list[str] | None = None) -> dict:
    global DENSITY
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", default="100:1024,500:1024,100:4096,500:4096", help="T:N pairs")
    p.add_argument("--impls", default=",".join(IMPLS), help="implementations to run (those installed)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--budget", type=float, default=60.0, help="stop repeating once the runs took this many s")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--density", type=float, default=DENSITY, help="input spike density (default 0.1)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement (a process per run)")
    p.add_argument("--memory-child", nargs=3, metavar=("IMPL", "T", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    DENSITY = args.density
    if args.memory_child:
        name, T, n = args.memory_child
        memory_child(name, int(T), int(n))
        return {}
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = [n for n in args.impls.split(",") if IMPLS[n][1] is None or importlib.util.find_spec(IMPLS[n][1])]
    skipped = sorted(set(args.impls.split(",")) - set(names))
    versions = {m: importlib.metadata.version(m) for m in ("torch", "snntorch", "norse", "spikingjelly", "numba")
                if importlib.util.find_spec(m)}
    cpu = _cpu_model()
    print(f"device {device} ({cpu}, L2 {synapses._l2_bytes() >> 10} KiB per core), torch threads "
          f"{torch.get_num_threads()}, versions {versions}"
          + (f", not installed: {', '.join(skipped)}" if skipped else ""), flush=True)
    result: dict = {"device": str(device), "cpu": cpu, "threads": torch.get_num_threads(), "density": DENSITY,
                    "versions": versions,
                    "not_installed": skipped, "configs": {}}
    if device.type == "cuda":
        result["device_name"] = torch.cuda.get_device_name(device)
        result["cuda_kernel_check"] = check_cuda_kernel()
    for pair in args.configs.split(","):
        T, n = (int(v) for v in pair.split(":"))
        result["configs"][f"T{T}_N{n}"] = bench_config(T, n, names, device, args.reps, args.budget,
                                                       memory=not args.no_memory)
    result["sparse_linear"] = {"block_bytes": synapses.BLOCK_BYTES,
                               "calibrations": [dataclasses.asdict(c) for c in synapses._CALIBRATIONS.values()]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
