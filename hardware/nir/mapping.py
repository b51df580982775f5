"""The parameter mapping between neurosim and NIR: the equations, in one place.

NIR (``nir`` 1.0.8) describes neurons in continuous time, ``τ dv/dt = (v_leak - v) + r I``,
and stores no time step. Every consumer steps it with forward Euler at its own ``dt``; the
discrete form that snnTorch, Norse (LIF with ``r = 1``) and neurosim agree on is, per step t::

    LIF      v[t] = v[t-1] + dt/τ (v_leak - v[t-1] + r I[t])
             z[t] = v[t] > v_threshold            then v[t] <- v_reset where z[t]
    CubaLIF  J[t] = J[t-1] + dt/τ_syn (-J[t-1] + w_in I[t])     (the current is updated first)
             v[t] = v[t-1] + dt/τ_mem (v_leak - v[t-1] + r J[t]),  spike and reset as LIF
    LI       the LIF update without spikes; the output is v[t]
    IF       v[t] = v[t-1] + dt r I[t],  spike and reset as LIF

with ``I[t]`` the sum of the node's inputs at step t. A feed-forward edge carries the same
step's output, a recurrent edge (a cycle) the previous step's. Writing β = 1 - dt/τ and
g = dt r/τ (the *input gain*), the LIF step is ``v[t] = β v[t-1] + (1-β) v_leak + g I[t]``.

**Training units** (:mod:`neurosim.hardware.graph`, ``u' = β u + x``, CubaLIF ``i' = α i + x``) map as
snnTorch's exporter does, so that g = 1 (:func:`training_lif`, :func:`training_cuba`)::

    τ = dt/(1 - β)    r = τ/dt    τ_syn = dt/(1 - α)    w_in = τ_syn/dt
    v_leak = v_reset = 0          v_threshold = θ          β = 1 (no leak) -> IF with r = 1/dt

and back β = 1 - dt/τ, α = 1 - dt/τ_syn (:func:`decay`). A gain g != 1 (a graph written with
``r = 1``, as Norse needs) is folded into the weights that feed the neuron.

**Engine networks** integrate exactly (:mod:`neurosim.hardware.nir.closed_form` gives them in closed form): a LIF population
steps ``v' - v_rest = P_vv (v - v_rest + Σ w)`` with P_vv = exp(-dt/τ_m) and weights in volts;
a CubaLIF population ``i' = d_s i + Σ w`` (amperes), ``v' - v_rest = P_vv (v - v_rest) + P_vs i'``.
The NIR time constants are chosen so that a consumer's *Euler* step reproduces the exact decay
(:func:`engine_lif`, :func:`engine_cuba`)::

    τ_E = dt/(1 - exp(-dt/τ_m))     (so 1 - dt/τ_E = P_vv exactly, not 1 - dt/τ_m)
    LIF      r = τ_E P_vv / dt       (g = P_vv: the engine decays the jump within the step)
    CubaLIF  τ_syn,E = dt/(1 - d_s), w_in = τ_syn,E/dt,  r = τ_mem,E P_vs/dt   (volts per ampere)

and v_leak = v_rest, v_threshold = v_th, v_reset = v_reset in volts. The inverse is
:func:`engine_from_lif` / :func:`engine_from_cuba`. A NIR IF imports as an engine LIF without leak:
τ_m = 2^60 dt makes P_vv = exp(-dt/τ_m) exactly 1 (:func:`no_leak_tau`), v_rest = 0 (an IF starts
at 0) and weights times g = dt r (:func:`if_gain`). A NIR bias b (an Affine's) adds g b per step,
which the engine adds as the constant current i_bias = g b / P_vI. The engine fires at
``v >= v_th`` where NIR says ``v > v_threshold``: the two differ only on exact ties.

Floating point: β -> τ = dt/(1-β) is not injective for β < 1/2, so the exporters also record
the exact β, α (training) or τ_m, τ_syn, c_m (engine) in each node's ``metadata``; the importers
use them only when they reproduce the node's NIR parameters bit for bit, and otherwise derive
everything from the NIR parameters.
"""

from __future__ import annotations

import nir
import numpy as np

from neurosim.hardware.nir.closed_form import synapse_to_membrane

#: τ_m / dt of the engine LIF that stands for a NIR IF (:func:`no_leak_tau`)
NO_LEAK_STEPS = 2.0 ** 60
#: graph metadata keys written by the exporters
META_DT = "dt"
#: how a spike resets (and the reset order): the same for every neuron node
RESET = "hard"
RESET_DOC = ("after a spike v <- v_reset at once; the next step integrates from v_reset "
             "(snnTorch reset_mechanism='zero' with reset_delay=False, Norse reset_value, neurosim reset='hard')")
DISCRETIZATION = ("forward Euler at dt: v[t] = v[t-1] + dt/tau (v_leak - v[t-1] + r I[t]); CubaLIF updates its "
                  "current first and drives v with the new current; recurrent edges carry the previous step's output")


def as_array(value) -> np.ndarray:
    """A NIR parameter (NumPy array, number or torch tensor, as Norse writes them) as a NumPy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def tolerance(*arrays) -> float:
    """Relative tolerance for "equal up to rounding" between parameters stored as ``arrays``:
    a few ulps of the coarsest float type among them (graphs written in float32 by snnTorch)."""
    eps = max((np.finfo(a.dtype).eps for a in arrays if np.issubdtype(np.asarray(a).dtype, np.floating)),
              default=np.finfo(np.float64).eps)
    return 16 * eps


# ----------------------------------------------------------------- training units

def time_constant(decay: np.ndarray, dt: float) -> np.ndarray:
    """τ = dt / (1 - decay): the Euler time constant of a decay per step (< 1)."""
    return dt / (1.0 - np.asarray(decay, dtype=np.float64))


def decay(tau: np.ndarray, dt: float) -> np.ndarray:
    """β = 1 - dt/τ: the decay per step of an Euler step of ``τ dv/dt = -v``."""
    return 1.0 - dt / np.asarray(tau, dtype=np.float64)


def training_lif(beta: np.ndarray, dt: float) -> dict:
    """NIR LIF parameters (τ, r) of a training layer with decay ``beta`` (< 1): g = dt r/τ = 1."""
    tau = time_constant(beta, dt)
    return {"tau": tau, "r": tau / dt}


def training_cuba(alpha: np.ndarray, beta: np.ndarray, dt: float) -> dict:
    """NIR CubaLIF parameters of a training layer: τ_syn, w_in = τ_syn/dt, τ_mem, r = τ_mem/dt."""
    tau_syn, tau_mem = time_constant(alpha, dt), time_constant(beta, dt)
    return {"tau_syn": tau_syn, "w_in": tau_syn / dt, "tau_mem": tau_mem, "r": tau_mem / dt}


def gain(r: np.ndarray, tau: np.ndarray, dt: float, unit_r: np.ndarray | None = None) -> np.ndarray:
    """The input gain g = dt r/τ of an Euler step; exactly 1 where ``r`` is ``unit_r`` (= τ/dt as the
    exporter computes it) bit for bit, or equal to 1 within :func:`tolerance` of the stored types."""
    r, tau = as_array(r), as_array(tau)
    g = dt * r.astype(np.float64) / tau.astype(np.float64)
    one = np.abs(g - 1.0) <= tolerance(r, tau)
    if unit_r is not None:
        one |= r.astype(np.float64) == unit_r
    return np.where(one, 1.0, g)


# ----------------------------------------------------------------- engine (SI, exact integration)

def euler_tau(tau: np.ndarray, dt: float) -> np.ndarray:
    """τ_E = dt / (1 - exp(-dt/τ)): the time constant whose Euler decay 1 - dt/τ_E is the exact one."""
    return dt / -np.expm1(-dt / np.asarray(tau, dtype=np.float64))


def exact_tau(tau_e: np.ndarray, dt: float) -> np.ndarray:
    """The inverse of :func:`euler_tau`: τ = -dt / ln(1 - dt/τ_E) (needs τ_E > dt)."""
    return -dt / np.log1p(-dt / np.asarray(tau_e, dtype=np.float64))


def engine_lif(tau_m: np.ndarray, dt: float) -> dict:
    """NIR LIF τ and r of an engine LIF with membrane time constant ``tau_m`` (weights stay in volts)."""
    tau = euler_tau(tau_m, dt)
    return {"tau": tau, "r": tau * np.exp(-dt / np.asarray(tau_m, dtype=np.float64)) / dt}


def engine_cuba(tau_m: np.ndarray, tau_syn: np.ndarray, c_m: np.ndarray, dt: float) -> dict:
    """NIR CubaLIF τ_syn, w_in, τ_mem, r of an engine CubaLIF (weights stay in amperes)."""
    tau_syn_e, tau_mem_e = euler_tau(tau_syn, dt), euler_tau(tau_m, dt)
    p_vs = synapse_to_membrane(np.asarray(tau_m, np.float64), np.asarray(tau_syn, np.float64),
                               np.asarray(c_m, np.float64), dt)
    return {"tau_syn": tau_syn_e, "w_in": tau_syn_e / dt, "tau_mem": tau_mem_e, "r": tau_mem_e * p_vs / dt}


def engine_from_lif(tau: np.ndarray, r: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(τ_m, weight factor) of the engine LIF that steps as a NIR LIF: P_vv = 1 - dt/τ, and a NIR
    weight w becomes w g/P_vv volts (factor exactly 1 where g equals P_vv within rounding)."""
    tau, r = as_array(tau), as_array(r)
    tau_m = exact_tau(tau, dt)
    p_vv = 1.0 - dt / tau.astype(np.float64)
    g = dt * r.astype(np.float64) / tau.astype(np.float64)
    factor = g / p_vv
    return tau_m, np.where(np.abs(factor - 1.0) <= tolerance(tau, r), 1.0, factor)


def no_leak_tau(dt: float) -> float:
    """τ_m = 2^60 dt: an engine LIF's P_vv = exp(-dt/τ_m) is then exactly 1 (float64 and float32) and
    P_vI = dt/c_m, so it integrates without leak, as a NIR IF does."""
    return float(dt) * NO_LEAK_STEPS


def if_gain(r: np.ndarray, dt: float, stored=None) -> np.ndarray:
    """The input gain g = dt r of a NIR IF; exactly 1 where ``r`` is 1/dt or g is 1 within the rounding
    of ``stored`` (the node's r as written, default ``r``)."""
    r = as_array(r).astype(np.float64)
    g = dt * r
    return np.where((np.abs(g - 1.0) <= tolerance(as_array(r if stored is None else stored))) | (r == 1.0 / dt), 1.0, g)


def lif_gain(node, dt: float, tau_scale: float = 1.0) -> np.ndarray:
    """The input gain of a NIR LIF or LI (dt r/τ) or CubaLIF ((dt w_in/τ_syn)(dt r/τ_mem)) whose stored
    τ times ``tau_scale`` is in seconds; exactly 1 where the exporter wrote r = τ/dt (see :func:`gain`)."""
    if isinstance(node, nir.CubaLIF):
        tau_syn, tau_mem = as_array(node.tau_syn) * tau_scale, as_array(node.tau_mem) * tau_scale
        return (gain(node.w_in, tau_syn, dt, unit_r=tau_syn / dt) * gain(node.r, tau_mem, dt, unit_r=tau_mem / dt))
    tau = as_array(node.tau) * tau_scale
    return gain(node.r, tau, dt, unit_r=tau / dt)


def engine_from_cuba(tau_syn: np.ndarray, w_in: np.ndarray, tau_mem: np.ndarray, r: np.ndarray,
                     dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(τ_m, τ_syn, c_m) of the engine CubaLIF that steps as a NIR CubaLIF with weights unchanged:
    the engine current is J scaled by g_m/P_vs, so c_m is chosen to make P_vs = g_syn g_m."""
    arrays = [as_array(a) for a in (tau_syn, w_in, tau_mem, r)]
    tau_syn, w_in, tau_mem, r = (a.astype(np.float64) for a in arrays)
    tau_m, tau_s = exact_tau(tau_mem, dt), exact_tau(tau_syn, dt)
    g_syn, g_mem = dt * w_in / tau_syn, dt * r / tau_mem
    c_m = synapse_to_membrane(tau_m, tau_s, np.ones_like(tau_m), dt) / (g_syn * g_mem)
    return tau_m, tau_s, c_m
