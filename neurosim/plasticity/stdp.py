"""Pair-based, trace-based STDP, applied event-driven in the engine.

Every neuron (and spike source) that takes part in a plastic projection carries a
presynaptic trace ``x_pre`` (time constant ``tau_pre``) and a postsynaptic one ``x_post``
(``tau_post``). Spike times are whole steps ``t = s dt``; with ``d = exp(-dt / tau)`` and
``S(t)`` = 1 if the neuron spikes at ``t``:

    all-to-all:  x(t + dt) = (x(t) + c S(t)) d       every earlier spike counts
    nearest:     x(t + dt) = (c if S(t) else x(t)) d  only the latest spike counts

(``c`` = ``trace_increment``), so ``x(t)`` is the *left limit* at ``t``: it holds the spikes
strictly before ``t``, ``x(t) = c Σ_{s < t} e^{-(t - s)/tau}`` (all-to-all) or
``c e^{-(t - s_last)/tau}`` (nearest, ``s_last`` the latest spike before ``t``). A synapse
``j -> i`` with delay ``D`` steps pairs the *arrival* of ``j``'s spikes (emission + ``D``)
with ``i``'s spikes:

- post spike of ``i`` at ``t``:  ``w <- clip(w + eta_+ A+(w) x_pre_j(t - D))``
  (``x_pre_j(t - D)`` is the trace of the arrivals before ``t``);
- pre spike of ``j`` arriving at ``t``:  ``w <- clip(w - eta_- A-(w) (x_post_i(t) - alpha))``;

with the weight dependence

- additive:        ``A+(w) = a_plus``,               ``A-(w) = a_minus``;
- multiplicative:  ``A+(w) = a_plus (w_max - w)``,   ``A-(w) = a_minus (w - w_min)``;

Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673) adds a slow trace on each side,
``r2`` of the presynaptic arrivals (time constant ``tau_x``) and ``o2`` of the postsynaptic
spikes (``tau_y``), both read before the spike that triggers the update:

- post spike:  ``w <- clip(w + eta_+ (a_plus + a3_plus o2_i(t)) g+(w) x_pre_j(t - D))``;
- pre arrival: ``w <- clip(w - eta_- (a_minus + a3_minus r2_j(t - D)) g-(w) (x_post_i(t) - alpha))``;

(``g+ = w_max - w``, ``g- = w - w_min`` multiplicative, 1 additive), which is pair STDP when
``a3_plus = a3_minus = 0``. The rule is written once, as the statements of
:mod:`neurosim.plasticity.rules`, from which every backend's update is generated.

and hard bounds ``clip(w) = min(max(w, w_min), w_max)``. ``eta_+`` and ``eta_-`` are the
projection's learning-rate factors (1, or set each step by a
:class:`~neurosim.modulator.Modulator`).

So a post spike at ``t_post`` after a pre arrival at ``t_arr`` changes ``w`` by
``a_plus c e^{-(t_post - t_arr)/tau_pre}``, a pre arrival after a post spike by
``-a_minus c e^{-(t_arr - t_post)/tau_post}`` (additive, within the bounds). A pre arrival and
a post spike in the *same* step do not pair (each reads the other's trace before that step's
spikes); when both happen, the depression is applied first, then the potentiation. With
``same_step=True`` they pair as in Brian2, whose presynaptic pathway runs before the
postsynaptic one: the potentiation then reads the presynaptic trace including the arrival at
``t`` (``x + c``, nearest: ``c``), i.e. a coincidence counts as ``Delta t = 0^+``. The
weight a delayed plastic synapse delivers is its weight at arrival (before that arrival's
depression). Traces decay by multiplication with ``d`` once per step (no ``exp`` at run
time), so every backend computes the same bits.

In the engine the updates for the spikes at ``t_m`` run in step ``m``, after the sources
have spiked (see :class:`neurosim.engine.layout.Plasticity`). So after ``Network.run`` the
weights (``projection.synapses.weight``) hold every pairing of spikes before ``net.t``;
neurons that spiked in the last step (at ``net.t``) are paired when the next run starts.

Weights and bounds are SI: currents (A) onto ``CubaLIF``, voltage jumps (V) onto ``LIF``;
unit strings such as ``"50 pA"`` are accepted. ``a_plus`` / ``a_minus`` are weights for the
additive rule and dimensionless rates for the multiplicative one. Negative ``a_plus`` or
``a_minus`` give anti-Hebbian rules (e.g. inhibitory synapses in NALSM).

``alpha`` (default 0) is subtracted from the postsynaptic trace at each presynaptic arrival.
With ``a_plus = eta``, ``a_minus = -eta``, equal time constants and increments of 1 this is the
inhibitory plasticity of Vogels et al. (2011, Science 334:1569): ``w += eta x_post - eta alpha``
on a pre arrival, ``w += eta x_pre`` on a post spike, with ``alpha = 2 rho_0 tau`` for a target
rate ``rho_0`` (:func:`vogels_sprekeler`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from neurosim.units import parse_quantity, show

TRACES = ("all_to_all", "nearest")
DEPENDENCES = ("additive", "multiplicative")
#: the dimensions a synaptic weight can have (CubaLIF: current, LIF: voltage)
WEIGHT_DIMENSIONS = ("current", "voltage", "conductance")


def _weight(value: Any, name: str) -> tuple[float, str | None]:
    """A weight-like value: a number (SI) or a current or voltage string; returns (SI, dimension)."""
    if isinstance(value, str):
        for dim in (*WEIGHT_DIMENSIONS, "dimensionless"):
            try:
                number = parse_quantity(value, dim, name)
            except ValueError:
                continue
            return number, None if dim == "dimensionless" else dim
        parse_quantity(value, "current", name)  # raises with the unit problem
        raise ValueError(f"{name}: expected a current or a voltage, got {value!r}")  # pragma: no cover
    number = parse_quantity(value, "dimensionless", name)
    return number, None


@dataclass(frozen=True, kw_only=True)
class STDP:
    """Trace-based pair STDP (equations and timing conventions in the module docstring).

    ``tau_pre``/``tau_post``: trace time constants (s or unit strings, > 0); ``a_plus`` /
    ``a_minus``: potentiation and depression amplitudes; ``w_min <= w_max``: hard bounds;
    ``traces``: ``"all_to_all"`` or ``"nearest"``; ``dependence``: ``"additive"`` or
    ``"multiplicative"``; ``trace_increment``: what a spike adds to (all-to-all) or sets
    (nearest) its trace; ``alpha``: subtracted from the postsynaptic trace at presynaptic
    arrivals (Vogels–Sprekeler; see the module docstring); ``a3_plus``/``a3_minus``, ``tau_x``/
    ``tau_y``: the triplet terms and the time constants of the slow pre and post traces
    (Pfister & Gerstner 2006; :func:`triplet`); ``same_step``: pair a presynaptic arrival and a
    postsynaptic spike of the same step as Brian2 does. Values are converted to SI and
    validated on construction; the weight dimension is checked against the projection in
    ``Network.connect``.
    """

    a_plus: Any
    a_minus: Any
    w_max: Any
    w_min: Any = 0.0
    tau_pre: Any = "20 ms"
    tau_post: Any = "20 ms"
    traces: str = "all_to_all"
    dependence: str = "additive"
    trace_increment: Any = 1.0
    alpha: Any = 0.0
    a3_plus: Any = 0.0
    a3_minus: Any = 0.0
    tau_x: Any = "101 ms"
    tau_y: Any = "125 ms"
    same_step: bool = False
    #: dimension of the weight-like values given with units (None: bare numbers only)
    weight_dimension: str | None = field(default=None, init=False, compare=False)

    rule = "stdp"

    def __post_init__(self):
        f = "plasticity"
        if self.traces not in TRACES:
            raise ValueError(f"{f}.traces: must be one of {TRACES}, got {self.traces!r}")
        if self.dependence not in DEPENDENCES:
            raise ValueError(f"{f}.dependence: must be one of {DEPENDENCES}, got {self.dependence!r}")
        if not isinstance(self.same_step, bool):
            raise ValueError(f"{f}.same_step: must be true or false, got {self.same_step!r}")
        for name in ("tau_pre", "tau_post", "tau_x", "tau_y"):
            tau = parse_quantity(getattr(self, name), "time", f"{f}.{name}")
            if not tau > 0:
                raise ValueError(f"{f}.{name}: must be > 0, got {show(tau)}")
            object.__setattr__(self, name, tau)
        inc = parse_quantity(self.trace_increment, "dimensionless", f"{f}.trace_increment")
        if not inc > 0:
            raise ValueError(f"{f}.trace_increment: must be > 0, got {show(inc)}")
        object.__setattr__(self, "trace_increment", inc)
        object.__setattr__(self, "alpha", parse_quantity(self.alpha, "dimensionless", f"{f}.alpha"))
        amplitudes = ("a_plus", "a_minus", "a3_plus", "a3_minus")
        weight_like = ("w_min", "w_max") + (amplitudes if self.dependence == "additive" else ())
        dims: dict[str, str] = {}
        for name in (*amplitudes, "w_min", "w_max"):
            given = getattr(self, name)
            if name in weight_like:
                value, dim = _weight(given, f"{f}.{name}")
                if dim is not None:
                    dims[name] = dim
            else:
                try:
                    value = parse_quantity(given, "dimensionless", f"{f}.{name}")
                except ValueError:
                    raise ValueError(f"{f}.{name}: the multiplicative rule takes a dimensionless rate, "
                                     f"got {given!r}") from None
            object.__setattr__(self, name, value)
        given_dims = list(dims.items())
        for name, dim in given_dims[1:]:
            if dim != given_dims[0][1]:
                raise ValueError(f"{f}.{name}: is a {dim} but {f}.{given_dims[0][0]} is a {given_dims[0][1]}; "
                                 f"give all weights in one dimension")
        object.__setattr__(self, "weight_dimension", next(iter(dims.values()), None))
        if self.w_min > self.w_max:
            raise ValueError(f"{f}.w_min: {self.w_min!r} is above w_max {self.w_max!r}")

    def check(self, weight_dimension: str, path: str) -> None:
        """Raise if the weights given with units are not of ``weight_dimension`` (the projection's)."""
        if self.weight_dimension not in (None, weight_dimension):
            raise ValueError(f"{path}: weights and bounds are given as {self.weight_dimension}s but this "
                             f"connection's weights are {weight_dimension}s")

    def decay(self, dt: float, which: str) -> float:
        """Per-step decay factor ``exp(-dt / tau)`` of the ``"pre"``, ``"post"``, ``"x"`` (slow
        pre) or ``"y"`` (slow post) trace."""
        tau = {"pre": self.tau_pre, "post": self.tau_post, "x": self.tau_x, "y": self.tau_y}[which]
        return math.exp(-dt / tau)

    def as_dict(self) -> dict[str, Any]:
        """The rule's parameters (SI), e.g. for result files."""
        return {"rule": self.rule, **{f.name: getattr(self, f.name) for f in fields(self) if f.init}}


def vogels_sprekeler(eta: Any, rho_0: Any, w_max: Any, tau: Any = "20 ms", w_min: Any = 0.0) -> STDP:
    """The inhibitory STDP of Vogels et al. (2011): symmetric, ``w += eta (x_post - alpha)`` on a
    presynaptic arrival and ``w += eta x_pre`` on a postsynaptic spike, traces of time constant
    ``tau`` incremented by 1, ``alpha = 2 rho_0 tau``: an inhibitory synapse grows while its
    target fires above the target rate ``rho_0`` (Hz) and shrinks below it. ``eta`` and the
    bounds are weights (SI numbers or unit strings, the target's weight unit)."""
    rate = parse_quantity(rho_0, "frequency", "plasticity.rho_0")
    tau_s = parse_quantity(tau, "time", "plasticity.tau")
    value, _ = _weight(eta, "plasticity.eta")
    return STDP(a_plus=value, a_minus=-value, w_max=w_max, w_min=w_min, tau_pre=tau_s, tau_post=tau_s,
                alpha=2.0 * rate * tau_s)


def triplet(a2_plus: Any = 7.5e-10, a3_plus: Any = 9.3e-3, a2_minus: Any = 7e-3, a3_minus: Any = 2.3e-4,
            tau_plus: Any = "16.8 ms", tau_minus: Any = "33.7 ms", tau_x: Any = "101 ms", tau_y: Any = "125 ms",
            w_max: Any = 1.0, w_min: Any = 0.0, traces: str = "all_to_all", same_step: bool = False) -> STDP:
    """Triplet STDP of Pfister & Gerstner (2006): ``r1`` (``tau_plus``) and ``r2`` (``tau_x``)
    presynaptic traces, ``o1`` (``tau_minus``) and ``o2`` (``tau_y``) postsynaptic ones, all
    incremented by 1 (``traces="nearest"``: set to 1); a post spike adds
    ``r1 (a2_plus + a3_plus o2)``, a pre arrival subtracts ``o1 (a2_minus + a3_minus r2)``.
    The defaults are the visual-cortex fit of the paper, as NEST's ``stdp_triplet_synapse``
    examples use it; amplitudes are weights (SI numbers or unit strings)."""
    return STDP(a_plus=a2_plus, a_minus=a2_minus, a3_plus=a3_plus, a3_minus=a3_minus, tau_pre=tau_plus,
                tau_post=tau_minus, tau_x=tau_x, tau_y=tau_y, w_max=w_max, w_min=w_min, traces=traces,
                same_step=same_step)
