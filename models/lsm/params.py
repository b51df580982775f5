"""Parameters of the liquid state machine family (NALSM, LSM + STDP, static LSM).

The model is NALSM: V. A. Ivanov and K. P. Michmizos (2021), "Increasing Liquid State Machine
Performance with Edge-of-Chaos Dynamics Organized by Astrocyte-modulated Plasticity", NeurIPS
2021, arXiv:2111.01760 (the astrocyte-modulated depression rate is its Eq. 7). Values follow the
authors' code, github.com/combra-lab/NALSM (files named below). Time is counted in steps of
``dt = 1 ms``; the neuron, synapse and learning constants are therefore given in steps.
"""

from __future__ import annotations

from dataclasses import dataclass

VARIANTS = ("nalsm", "stdp", "static")


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{field}: {message}")


@dataclass(frozen=True)
class NeuronParams:
    """Discrete current-based LIF of NALSM (authors' ``NALSM_LIF_v1.py``, the MNIST version), dt = 1 ms.

        S = v (1 - clip(r, 0, 1)) >= v_th;   v <- v (1 - S)
        v <- v + Σ_j W_ij exp(-s_j/tau_u)/tau_u + I_in + bias - v/tau_v
        s_j: steps since pre j spiked (starts at t_lim, clipped at s_max)
        r <- (r - 1)(1 - S) + t_ref S
    """

    tau_v: float = 64.0
    v_th: float = 20.0
    t_ref: int = 2
    tau_u: float = 1.0
    bias: float = 0.0
    t_lim: int = 20
    s_max: int = 100
    input_current: float = 100.0

    def __post_init__(self):
        _check(self.tau_v > 0, "lsm.neuron.tau_v", f"must be > 0, got {self.tau_v!r}")
        _check(self.tau_u > 0, "lsm.neuron.tau_u", f"must be > 0, got {self.tau_u!r}")
        _check(self.v_th > 0, "lsm.neuron.v_th", f"must be > 0 (reset is 0), got {self.v_th!r}")
        _check(self.t_ref >= 0, "lsm.neuron.t_ref", f"must be >= 0, got {self.t_ref!r}")
        _check(0 <= self.t_lim <= self.s_max, "lsm.neuron.t_lim", f"must lie in [0, s_max], got {self.t_lim!r}")


@dataclass(frozen=True)
class LiquidParams:
    """A liquid of ``shape`` neurons on an integer grid, 80 % excitatory (authors' ``spatial_network_builder_lib.py``).

    P(j -> i) = c[type j -> type i] · exp(-(D_ij / lam)^2), ``c = (EE, EI, IE, II)``; the input
    projects ``int(N_liq · N_in · input_density)`` random (pre, post) pairs with random signs.
    Initial weights have magnitude ``w_init``; plastic weights stay within ``[0, w_max]``
    (excitatory pre), ``[-w_max, 0]`` (inhibitory) and ``[-w_max, w_max]`` (input).
    """

    shape: tuple[int, int, int] = (10, 10, 10)
    exc_fraction: float = 0.8
    lam: float = 3.0
    c: tuple[float, float, float, float] = (0.2, 0.1, 0.3, 0.05)
    n_inputs: int = 784
    input_density: float = 0.15
    w_init: float = 3.0
    w_max: float = 3.0

    def __post_init__(self):
        _check(len(self.shape) == 3 and all(int(s) > 0 for s in self.shape), "lsm.liquid.shape",
               f"needs 3 positive sizes, got {self.shape!r}")
        _check(0 < self.exc_fraction < 1, "lsm.liquid.exc_fraction", f"must be in (0, 1), got {self.exc_fraction!r}")
        _check(self.lam > 0, "lsm.liquid.lam", f"must be > 0, got {self.lam!r}")
        _check(len(self.c) == 4 and all(0 <= x <= 1 for x in self.c), "lsm.liquid.c",
               f"needs 4 probabilities (EE, EI, IE, II), got {self.c!r}")
        _check(self.n_inputs > 0, "lsm.liquid.n_inputs", f"must be > 0, got {self.n_inputs!r}")
        _check(0 <= self.input_density <= 1, "lsm.liquid.input_density", f"must be in [0, 1], got {self.input_density!r}")
        _check(self.w_max > 0, "lsm.liquid.w_max", f"must be > 0, got {self.w_max!r}")
        _check(0 <= self.w_init <= self.w_max, "lsm.liquid.w_init", f"must lie in [0, w_max], got {self.w_init!r}")

    @property
    def n_liquid(self) -> int:
        return int(self.shape[0] * self.shape[1] * self.shape[2])


@dataclass(frozen=True)
class PlasticityParams:
    """Astrocyte-gated STDP (Eq. 7 of the paper; authors' ``NALSM_STDP.py`` and ``NALSM_ASTRO.py``).

        x <- trace_decay (x + trace_increment S)                       (traces before the update are used)
        excitatory or input pre j:  ΔW_ij = eta S_i x_j - A S_j x_i
        inhibitory pre j:           ΔW_ij = -A S_i x_j + eta S_j x_i   then clip to the bounds
        A <- A + (w_astro (Σ_liquid S - Σ_input S) + b - A) / tau_astro,   A(0) = a0, b = a0 (1 + b_offset)
        feature phase: eta, A, w_astro, b multiplied by ``decay`` every step

    ``variant``: ``nalsm`` (astrocyte on), ``stdp`` (fixed depression rate: w_astro = 0), or
    ``static`` (no plasticity). With ``astro_fraction < 1`` the astrocyte sets the depression rate
    of a random fraction of the liquid neurons only; the others depress at the rate ``eta``.
    ``carry_traces``: the traces x carry over from one initialisation sample to the next, and
    phase 2 starts from the traces phase 1 left, as in the authors' code (which never resets
    them; the default); otherwise every sample starts from zero traces, which potentiates the
    input synapses at every image onset until the liquid saturates (LSM + STDP then falls to
    ~11 %).
    """

    variant: str = "nalsm"
    eta: float = 0.15
    a0: float = 0.15
    b_offset: float = 0.0
    tau_astro: float = 100.0
    w_astro: float = 0.015
    trace_decay: float = 0.904774
    trace_increment: float = 0.1
    decay: float = 0.99
    astro_fraction: float = 1.0
    carry_traces: bool = True

    def __post_init__(self):
        _check(self.variant in VARIANTS, "lsm.plasticity.variant", f"must be one of {VARIANTS}, got {self.variant!r}")
        _check(self.eta >= 0, "lsm.plasticity.eta", f"must be >= 0, got {self.eta!r}")
        _check(self.a0 >= 0, "lsm.plasticity.a0", f"must be >= 0, got {self.a0!r}")
        _check(self.tau_astro >= 1, "lsm.plasticity.tau_astro", f"must be >= 1 step, got {self.tau_astro!r}")
        _check(self.w_astro >= 0, "lsm.plasticity.w_astro", f"must be >= 0, got {self.w_astro!r}")
        _check(0 < self.trace_decay < 1, "lsm.plasticity.trace_decay", f"must be in (0, 1), got {self.trace_decay!r}")
        _check(0 < self.decay <= 1, "lsm.plasticity.decay", f"must be in (0, 1], got {self.decay!r}")
        _check(0 <= self.astro_fraction <= 1, "lsm.plasticity.astro_fraction",
               f"must be in [0, 1], got {self.astro_fraction!r}")

    @property
    def rates(self) -> tuple[float, float, float, float]:
        """Initial (eta, A, w_astro, b) of a sample for this variant."""
        if self.variant == "static":
            return 0.0, 0.0, 0.0, 0.0
        w = self.w_astro if self.variant == "nalsm" else 0.0
        return self.eta, self.a0, w, self.a0 * (1.0 + self.b_offset)
