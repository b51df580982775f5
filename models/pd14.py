"""Potjans & Diesmann (2014): the cortical microcircuit of 1 mm² of early sensory cortex.

T. C. Potjans and M. Diesmann, "The cell-type specific cortical microcircuit: relating
structure and activity in a full-scale spiking network model", Cereb. Cortex 24, 785–806
(2014). Eight populations (excitatory and inhibitory in layers 2/3, 4, 5 and 6; 77,169
neurons, about 0.3 billion synapses at full scale) of current-based LIF neurons with
exponential synaptic currents (NEST's ``iaf_psc_exp``), connected with the paper's
connection probabilities, driven by Poisson (or DC) background and optionally by a thalamic
population. The construction follows NEST's example ``pynest/examples/Potjans_2014``:

- the number of synapses of a projection is fixed, K = ln(1 - p) / ln(1 - 1/(N_pre N_post))
  at full scale, times ``scale · k_scale``, and every synapse picks its source and target
  at random (multapses and autapses allowed: NEST's ``fixed_total_number``);
- weights: a mean PSP of 0.15 mV (a PSC of 87.8 pA), g = -4 for inhibitory sources, doubled
  from L4E to L2/3E; normal with 10 % relative std, redrawn when they change sign;
- delays: normal, 1.5 ± 0.75 ms from excitatory and 0.75 ± 0.375 ms from inhibitory
  sources, redrawn below dt/2 (so at least one step);
- ``k_scale < 1`` divides the weights by sqrt(k_scale) and adds to each population the DC
  that restores its mean input at the full-scale rates :data:`REFERENCE_RATES_HZ`.

Reduced models: at ``scale = k_scale = 0.1`` (NEST's default) the rates match NEST's own run
of that model (``tests/test_pd14.py``). With ``k_scale = 1`` a smaller ``scale`` keeps the
in-degrees but shares more inputs between neurons: activity grows more synchronous and L2/3E
and L5E fire faster than at full scale (measured over 1 s: +126 % and +31 % at scale 0.1, +24 %
and +9 % at 0.3).

Departure from NEST's example: the thalamic synapse numbers scale with ``scale`` like the
recurrent ones (NEST's example scales them by ``k_scale`` only), so a neuron's thalamic
in-degree does not depend on ``scale``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurosim.connectivity import FixedTotalNumber, Normal, Redrawn
from neurosim.network import Network
from neurosim.neurons import CubaLIF
from neurosim.units import parse_quantity, show

# Tables of Potjans & Diesmann (2014), as in NEST's example
# (pynest/examples/Potjans_2014/network_params.py and stimulus_params.py).
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
#: neurons per population at full scale
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
#: connection probabilities, CONN_PROBS[target, source]
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
])
#: external (cortico-cortical) Poisson inputs per neuron at full scale
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
#: thalamic population: size and connection probabilities to each population
N_THALAMUS = 902
THALAMUS_PROBS = np.array([0.0, 0.0, 0.0983, 0.0619, 0.0, 0.0, 0.0512, 0.0196])
#: initial membrane potentials (mV): NEST's "optimized" per-population mean and std, and the
#: "original" -58 ± 10 mV of earlier implementations
V0_OPTIMIZED_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_OPTIMIZED_STD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
V0_ORIGINAL = (-58.0, 10.0)
#: full-scale rates (Hz): ``full_mean_rates`` of NEST's example (network_params.py, NEST 3.9; one
#: full-scale run) and of its successor INM-6/microcircuit-PD14-model; used for the DC compensation
REFERENCE_RATES_HZ = dict(zip(POPULATIONS, (0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829)))

# Neuron and synapse constants (SI)
C_M, TAU_M, TAU_SYN, T_REF = 250e-12, 10e-3, 0.5e-3, 2e-3
E_L, V_TH, V_RESET = -65e-3, -50e-3, -65e-3
PSP_EXC, G, WEIGHT_REL_STD = 0.15e-3, -4.0, 0.1
DELAY_EXC, DELAY_INH, DELAY_REL_STD = 1.5e-3, 0.75e-3, 0.5
BG_RATE = 8.0  # Hz per external input


@dataclass(frozen=True)
class Params:
    """Parameters of :func:`build`: ``scale`` multiplies the neuron numbers, ``k_scale`` the
    in-degrees (both in (0, 1]); ``background`` is ``"poisson"`` or ``"dc"``; ``v0`` is
    ``"optimized"`` or ``"original"``; ``thalamus`` adds the 902 thalamic Poisson neurons,
    firing at ``thalamus_rate`` for ``thalamus_duration`` from ``thalamus_start``."""

    scale: float = 1.0
    k_scale: float = 1.0
    background: str = "poisson"
    v0: str = "optimized"
    thalamus: bool = False
    thalamus_rate: Any = "120 Hz"
    thalamus_start: Any = "700 ms"
    thalamus_duration: Any = "10 ms"

    def __post_init__(self):
        for name in ("scale", "k_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ValueError(f"model.{name}: must be a number in (0, 1], got {show(value)}")
        if np.any(np.round(N_FULL * self.scale) < 1):
            raise ValueError(f"model.scale: {show(self.scale)} leaves population L5I ({N_FULL[5]} neurons at "
                             f"full scale) empty; use at least {0.5 / N_FULL.min():.2g}")
        if self.background == "poisson" and np.any(np.round(K_EXT * self.k_scale) < 1):
            raise ValueError(f"model.k_scale: {show(self.k_scale)} leaves no external input; "
                             f"use at least {0.5 / K_EXT.min():.2g}")
        choices = {"background": ("poisson", "dc"), "v0": ("optimized", "original")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"model.{name}: must be one of {', '.join(allowed)}, got {show(getattr(self, name))}")
        if not isinstance(self.thalamus, bool):
            raise ValueError(f"model.thalamus: must be true or false, got {show(self.thalamus)}")
        parse_quantity(self.thalamus_rate, "frequency", "model.thalamus_rate")
        parse_quantity(self.thalamus_start, "time", "model.thalamus_start")
        parse_quantity(self.thalamus_duration, "time", "model.thalamus_duration")


def population_sizes(params: Params) -> np.ndarray:
    """Neurons per population: round(N_full · scale)."""
    return np.round(N_FULL * params.scale).astype(np.int64)


def full_synapse_numbers(probs: np.ndarray, n_target: np.ndarray, n_source: np.ndarray) -> np.ndarray:
    """Synapses per projection at full scale, [target, source]: the K with 1 - (1 - 1/(N_t N_s))^K = p,
    the probability that a pair is connected at least once when K pairs are drawn at random."""
    pairs = np.outer(n_target, n_source).astype(np.float64)
    return np.log(1.0 - probs) / np.log((pairs - 1.0) / pairs)


def synapse_numbers(params: Params) -> np.ndarray:
    """Synapses per recurrent projection [target, source]: full-scale numbers · scale · k_scale, rounded."""
    full = full_synapse_numbers(CONN_PROBS, N_FULL, N_FULL)
    return np.round(full * params.scale * params.k_scale).astype(np.int64)


def thalamic_synapse_numbers(params: Params) -> np.ndarray:
    """Synapses from the thalamus onto each population: full-scale numbers · scale · k_scale, rounded."""
    full = full_synapse_numbers(THALAMUS_PROBS[:, None], N_FULL, np.array([N_THALAMUS]))[:, 0]
    return np.round(full * params.scale * params.k_scale).astype(np.int64)


def psc_per_psp(c_m: float = C_M, tau_m: float = TAU_M, tau_syn: float = TAU_SYN) -> float:
    """PSC amplitude (A) whose PSP peaks at 1 V: the peak of the exponential current's PSP."""
    t_peak = tau_m * tau_syn / (tau_m - tau_syn) * np.log(tau_m / tau_syn)
    peak = tau_m * tau_syn / (c_m * (tau_m - tau_syn)) * (np.exp(-t_peak / tau_m) - np.exp(-t_peak / tau_syn))
    return float(1.0 / peak)


def mean_psp_matrix() -> np.ndarray:
    """Mean PSP (V) of each projection [target, source]: J, g·J from inhibitory sources, 2J from L4E to L23E."""
    psp = np.where(np.arange(len(POPULATIONS)) % 2 == 0, PSP_EXC, G * PSP_EXC) * np.ones((len(POPULATIONS), 1))
    psp[0, 2] = 2 * PSP_EXC
    return psp


def dc_input(params: Params) -> np.ndarray:
    """Constant input current (A) of each population: the mean of the background when it is
    DC, plus, for k_scale < 1, the mean input that the smaller in-degrees (at their larger
    weights) no longer give at the full-scale rates."""
    psc = mean_psp_matrix() * psc_per_psp()
    psc_ext = PSP_EXC * psc_per_psp()
    dc = np.zeros(len(POPULATIONS))
    if params.background == "dc":
        dc += TAU_SYN * BG_RATE * K_EXT * psc_ext
    missing = 1.0 - np.sqrt(params.k_scale)
    in_degree = full_synapse_numbers(CONN_PROBS, N_FULL, N_FULL) / N_FULL[:, None]
    rates = np.array([REFERENCE_RATES_HZ[p] for p in POPULATIONS])
    dc += TAU_SYN * missing * (psc * in_degree * rates).sum(axis=1)
    if params.background == "poisson":
        dc += TAU_SYN * missing * K_EXT * BG_RATE * psc_ext
    return dc


def weight(mean: float, k_scale: float) -> Redrawn:
    """Weights (A) of mean ``mean / sqrt(k_scale)``, 10 % relative std, keeping the sign."""
    mu = mean / np.sqrt(k_scale)
    low, high = (0.0, None) if mu > 0 else (None, 0.0)
    return Redrawn(mu, abs(mu) * WEIGHT_REL_STD, low, high)


def delay(mean: float, dt: float) -> Redrawn:
    """Delays (s) of mean ``mean`` and 50 % relative std, redrawn below dt/2 (at least one step)."""
    return Redrawn(mean, mean * DELAY_REL_STD, 0.5 * dt, None)


def neuron(i_bias: float) -> CubaLIF:
    """``iaf_psc_exp`` with the paper's parameters and a constant input ``i_bias`` (A)."""
    return CubaLIF(c_m=C_M, tau_m=TAU_M, v_rest=E_L, v_th=V_TH, v_reset=V_RESET, t_ref=T_REF,
                   tau_syn_exc=TAU_SYN, tau_syn_inh=TAU_SYN, i_bias=i_bias)


def v_init(params: Params, k: int) -> Normal:
    """Initial membrane potentials (V) of population ``k``."""
    mean, std = (V0_OPTIMIZED_MEAN[k], V0_OPTIMIZED_STD[k]) if params.v0 == "optimized" else V0_ORIGINAL
    return Normal(mean * 1e-3, std * 1e-3)


def _warn_below_rheobase(params: Params, dc: np.ndarray) -> None:
    """Warn, as NEST's reference implementation does, when a DC background leaves populations below
    the rheobase (V_th - E_L) C_m / tau_m: without input noise the network may then fall silent."""
    below = [p for p, i in zip(POPULATIONS, dc) if i < (V_TH - E_L) * C_M / TAU_M]
    if params.background == "dc" and below:
        warnings.warn(f"model.background: with k_scale = {params.k_scale} the DC input of {', '.join(below)} is below "
                      "the rheobase; they may not fire", stacklevel=3)


def _add_thalamus(net: Network, params: Params, pops: list, psc: float) -> None:
    """The 902 thalamic Poisson neurons, active in [start, start + duration), with PSC ``psc`` (A)."""
    start = parse_quantity(params.thalamus_start, "time", "model.thalamus_start")
    stop = start + parse_quantity(params.thalamus_duration, "time", "model.thalamus_duration")
    thalamus = net.poisson_source("thalamus", N_THALAMUS, params.thalamus_rate, start=start, stop=stop)
    for post, n in zip(pops, thalamic_synapse_numbers(params)):
        if n > 0:
            net.connect(thalamus, post, FixedTotalNumber(int(n)), weight=weight(psc, params.k_scale),
                        delay=delay(DELAY_EXC, net.dt))


def build(params: Params = Params(), dt: Any = "0.1 ms", seed: int = 0,
          precision: str = "float64", record_spikes: bool = True) -> Network:
    """The microcircuit as populations ``L23E`` … ``L6I`` (and the source ``thalamus``); the spikes
    of each population recorded if asked."""
    net = Network(dt=dt, seed=seed, precision=precision)
    dc = dc_input(params)
    _warn_below_rheobase(params, dc)
    pops = [net.population(name, int(n), neuron(dc[k]), v_init=v_init(params, k))
            for k, (name, n) in enumerate(zip(POPULATIONS, population_sizes(params)))]
    psc = mean_psp_matrix() * psc_per_psp()
    counts = synapse_numbers(params)
    for t, post in enumerate(pops):
        for s, pre in enumerate(pops):
            if counts[t, s] > 0:
                net.connect(pre, post, FixedTotalNumber(int(counts[t, s])), weight=weight(psc[t, s], params.k_scale),
                            delay=delay(DELAY_EXC if s % 2 == 0 else DELAY_INH, net.dt))
    if params.background == "poisson":
        w_ext = PSP_EXC * psc_per_psp() / np.sqrt(params.k_scale)
        for post, k_ext in zip(pops, np.round(K_EXT * params.k_scale).astype(int)):
            net.poisson_input(post, int(k_ext), BG_RATE, w_ext, name=f"background_{post.name}")
    if params.thalamus:
        _add_thalamus(net, params, pops, PSP_EXC * psc_per_psp())
    if record_spikes:
        for p in pops:
            net.spike_monitor(p)
    return net
