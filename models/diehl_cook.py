"""Diehl & Cook (2015): unsupervised digit recognition with STDP, on the engine.

Diehl, P. U. & Cook, M. (2015) "Unsupervised learning of digit recognition using
spike-timing-dependent plasticity", Front. Comput. Neurosci. 9:99.

The network (every value a field of :class:`Params`):

- 784 Poisson inputs, one per pixel, at ``pixel / 8 · intensity`` Hz (intensity 2: up to 63.75 Hz);
- ``n_exc`` excitatory conductance LIF neurons with an adaptive threshold ``θ``::

      dv/dt = ((v_rest - v) + ge (e_exc - v) + gi (e_inh - v)) / tau_m
      dge/dt = -ge / tau_ge,   dgi/dt = -gi / tau_gi             (dimensionless conductances)
      dθ/dt = -learning · θ / tau_theta
      v > v_th + θ  ->  v = v_reset; θ += learning · theta_plus;  refractory t_ref

  (θ starts at 0 here; the original starts it at 20 mV and subtracts a 20 mV offset: the same
  threshold.) ``learning`` is 1 while training and 0 at test time, when θ is frozen;
- as many inhibitory neurons (the same equations without θ); excitatory neuron ``i`` excites
  inhibitory neuron ``i`` (``w_ei``), which inhibits every excitatory neuron but ``i`` (``w_ie``):
  lateral inhibition, a soft winner-take-all;
- input → excitatory all to all, initial weights ``0.3 · U(0, 1)``, learned by the
  triplet-trace STDP of the paper (nearest traces set to 1 by a spike): at a presynaptic spike
  ``w -= nu_pre · post1``; at a postsynaptic spike ``w += nu_post · pre · post2`` (``post2``
  read before the spike), ``w`` clipped to ``[0, w_max]``; before each image the weights onto
  every excitatory neuron are scaled to sum to ``weight_sum`` (78).

Protocol: each image is shown for ``t_present`` (350 ms) and followed by ``t_rest`` (150 ms)
without input, which lets the variables decay; when the excitatory neurons fire fewer than
``min_spikes`` (5) spikes, the intensity goes up by 1 and the image is shown again. After
training, learning stops and θ is frozen; each neuron is labelled with the class to which it
responded most on average over one presentation of the training set; a test image is
classified as the class whose neurons fire most on average.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from typing import Callable, NamedTuple

import numpy as np

from neurosim.connectivity import AllToAll, FromArrays, OneToOne, Uniform
from neurosim.network import Network
from neurosim.neurons.user import EquationModel
from neurosim.plasticity import STDP
from neurosim.population import Population, PoissonSource
from neurosim.projection import Projection
from neurosim.sinks import CountSink

EQUATIONS = """
    dv/dt = ((v_rest - v) + ge*(e_exc - v) + gi*(e_inh - v))/tau_m : volt
    dge/dt = -ge/tau_ge : 1
    dgi/dt = -gi/tau_gi : 1
"""
THETA = "dtheta/dt = -learning*theta/tau_theta : volt"
N_INPUT = 784


@dataclass(frozen=True)
class Params:
    """The network and protocol of the paper (SI units: s, V, Hz; conductances in units of the leak)."""

    n_exc: int = 400
    dt: float = 0.5e-3
    t_present: float = 0.35
    t_rest: float = 0.15
    intensity: float = 2.0
    min_spikes: int = 5
    weight_sum: float = 78.0
    w_init: float = 0.3
    w_max: float = 1.0
    w_ei: float = 10.4
    w_ie: float = 17.0
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: float = 0.02
    tau_post1: float = 0.02
    tau_post2: float = 0.04
    theta_plus: float = 0.05e-3
    tau_theta: float = 1e4
    tau_ge: float = 1e-3
    tau_gi: float = 2e-3
    input_delay: float = 0.0  # input -> excitatory delays drawn from U(0, input_delay) s (the authors' code: 10 ms)

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ValueError(f"diehl_cook.{f.name}: must be a finite number, got {value!r}")
            if value < 0 or (value == 0 and f.name not in ("t_rest", "min_spikes", "nu_pre", "theta_plus", "input_delay")):
                raise ValueError(f"diehl_cook.{f.name}: must be > 0, got {value!r}")
        if int(self.n_exc) != self.n_exc:
            raise ValueError(f"diehl_cook.n_exc: must be a whole number, got {self.n_exc!r}")
        for name in ("t_present", "t_rest", "input_delay"):
            steps = getattr(self, name) / self.dt
            if abs(steps - round(steps)) > 1e-6:
                raise ValueError(f"diehl_cook.{name}: {getattr(self, name)!r} s is not a whole number of steps of "
                                 f"dt = {self.dt!r} s")
        if self.intensity / 8 * 255 * self.dt > 1:
            raise ValueError(f"diehl_cook.intensity: {self.intensity} asks for more than one input spike per step "
                             f"of dt = {self.dt} s")


def excitatory(p: Params, learning: bool) -> EquationModel:
    """The excitatory neuron; ``learning=False`` freezes θ (test time)."""
    return EquationModel(
        name="diehl_cook_excitatory", equations=EQUATIONS + THETA, threshold="v > v_th + theta",
        reset="v = v_reset; theta += learning*theta_plus", refractory="v = v_reset",
        method="exponential_euler", receptors=("ge", "gi"),
        parameters={"v_rest": -65e-3 * _V, "v_reset": -65e-3 * _V, "v_th": -52e-3 * _V, "e_exc": 0.0 * _V,
                    "e_inh": -100e-3 * _V, "tau_m": 0.1 * _S, "tau_ge": p.tau_ge * _S, "tau_gi": p.tau_gi * _S,
                    "tau_theta": p.tau_theta * _S, "theta_plus": p.theta_plus * _V,
                    "learning": float(learning), "t_ref": 5e-3 * _S})


def inhibitory(p: Params) -> EquationModel:
    return EquationModel(
        name="diehl_cook_inhibitory", equations=EQUATIONS, threshold="v > v_th", reset="v = v_reset",
        refractory="v = v_reset", method="exponential_euler", receptors=("ge", "gi"),
        parameters={"v_rest": -60e-3 * _V, "v_reset": -45e-3 * _V, "v_th": -40e-3 * _V, "e_exc": 0.0 * _V,
                    "e_inh": -85e-3 * _V, "tau_m": 0.01 * _S, "tau_ge": p.tau_ge * _S, "tau_gi": p.tau_gi * _S,
                    "t_ref": 2e-3 * _S})


class _Unit(str):
    """``0.1 * _S`` -> ``"0.1 s"``: parameters written as numbers times a unit."""

    def __rmul__(self, value: float) -> str:
        return f"{value!r} {self}"


_V, _S = _Unit("V"), _Unit("s")


def stdp(p: Params) -> STDP:
    """The paper's rule as triplet STDP: only the triplet potentiation and the pair depression."""
    return STDP(a_plus=0.0, a3_plus=p.nu_post, a_minus=p.nu_pre, a3_minus=0.0, w_min=0.0, w_max=p.w_max,
                tau_pre=p.tau_pre, tau_post=p.tau_post1, tau_y=p.tau_post2, traces="nearest", same_step=True)


@dataclass
class Module:
    """One excitatory-inhibitory circuit: its excitatory neurons, their input weights, their counts."""

    exc: Population
    input_weights: Projection
    counts: CountSink

    @cached_property
    def _post(self) -> np.ndarray:
        return _all_to_all(self.exc.size)[1]

    def normalise(self, weight_sum: float) -> None:
        """Scale the input weights onto every excitatory neuron to sum to ``weight_sum``."""
        w, post = self.input_weights.weights, self._post
        sums = np.bincount(post, weights=w, minlength=self.exc.size)
        self.input_weights.set_weights(w * (weight_sum / np.maximum(sums, 1e-12))[post])


@dataclass
class Circuit:
    """A network of one or more modules sharing the 784 inputs."""

    params: Params
    net: Network
    inputs: PoissonSource
    modules: list[Module]
    learning: bool

    @property
    def exc(self) -> Population:
        return self.modules[0].exc

    @property
    def input_weights(self) -> Projection:
        return self.modules[0].input_weights

    def normalise(self) -> None:
        for m in self.modules:
            m.normalise(self.params.weight_sum)

    def present(self, image: np.ndarray) -> np.ndarray:
        """Show one image (784 grey values 0-255) and rest; the excitatory spike counts (all modules,
        in order) of the presentation that reached ``min_spikes`` (the intensity goes up by 1 until
        one does, as long as every input spikes at most once per step; a black image is shown once)."""
        p = self.params
        intensity = p.intensity
        while True:
            if self.learning:
                self.normalise()
            self.inputs.set_rate(image * (intensity / 8.0))
            self.net.run(p.t_present)
            counts = np.concatenate([m.counts.take() for m in self.modules])
            self.inputs.set_rate(0.0)
            if p.t_rest > 0:
                self.net.run(p.t_rest)
                for m in self.modules:
                    m.counts.take()
            brighter = np.any(image > 0) and (intensity + 1.0) / 8.0 * 255 * p.dt <= 1  # rate·dt <= 1
            if counts.sum() >= p.min_spikes or not brighter:
                return counts
            intensity += 1.0

    def responses(self, images: np.ndarray, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Spike counts (images × excitatory neurons) of one image after another."""
        out = np.zeros((len(images), sum(m.exc.size for m in self.modules)), np.int64)
        for k, image in enumerate(images):
            out[k] = self.present(image)
            if progress is not None:
                progress(k + 1, len(images))
        return out


def _all_to_all(n_exc: int) -> tuple[np.ndarray, np.ndarray]:
    """Source and target of every input weight, in the projection's CSR order (input-major)."""
    return np.divmod(np.arange(N_INPUT * n_exc), n_exc)


class Learned(NamedTuple):
    """What a module learned: input weights (CSR order, input-major), θ (V), input delays (s)."""

    weights: np.ndarray
    theta: np.ndarray
    delays: np.ndarray


def add_module(net: Network, inputs: PoissonSource, p: Params, name: str = "", learning: bool = True,
               trained: Learned | None = None) -> Module:
    """Add one module's populations and connections onto ``inputs``: plastic (``learning``) with
    random initial weights and delays, or with the ``trained`` weights, thresholds and delays."""
    n = int(p.n_exc)
    exc = net.population(f"exc{name}", n, excitatory(p, learning),
                         initial=None if trained is None else {"theta": np.asarray(trained.theta, float)})
    inh = net.population(f"inh{name}", n, inhibitory(p))
    rule = stdp(p) if learning else None
    if trained is None:
        delay = Uniform(0.0, p.input_delay) if p.input_delay > 0 else None
        proj = net.connect(inputs, exc, AllToAll(), weight=Uniform(0.0, p.w_init), delay=delay, receptor="exc",
                           name=f"input_exc{name}", plasticity=rule)
    else:
        pre, post = _all_to_all(n)
        proj = net.connect(inputs, exc, FromArrays(pre=pre, post=post, weight=trained.weights, delay=trained.delays),
                           receptor="exc", name=f"input_exc{name}", plasticity=rule)
    net.connect(exc, inh, OneToOne(), weight=p.w_ei, receptor="exc", name=f"exc_inh{name}")
    pre, post = np.divmod(np.arange(n * n), n)
    keep = pre != post
    net.connect(inh, exc, FromArrays(pre=pre[keep], post=post[keep]), weight=p.w_ie, receptor="inh",
                name=f"inh_exc{name}")
    counts = CountSink(n)
    net.spike_monitor(exc, sink=counts)
    return Module(exc, proj, counts)


def build(p: Params, seed: int, learning: bool = True) -> Circuit:
    """The paper's network: one plastic module with random initial weights (see :func:`add_module`)."""
    return ensemble(p, seed, [None], learning)


def ensemble(p: Params, seed: int, trained: list[Learned | None], learning: bool = False) -> Circuit:
    """Modules side by side on one set of inputs, one per entry of ``trained`` (None: untrained)."""
    net = Network(dt=p.dt, seed=seed)
    inputs = net.poisson_source("input", N_INPUT, rate=0.0)
    suffix = (lambda k: "") if len(trained) == 1 else (lambda k: f"_{k}")
    modules = [add_module(net, inputs, p, suffix(k), learning, t) for k, t in enumerate(trained)]
    return Circuit(p, net, inputs, modules, learning)


def assign(responses: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Each neuron's class: the one to which it responded most on average (the paper's labelling);
    -1 for a neuron that never fired (it votes for no class, as in the authors' code)."""
    mean = np.stack([responses[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(responses.shape[1])
                     for c in range(n_classes)])
    return np.where(mean.max(axis=0) > 0, np.argmax(mean, axis=0), -1)


def predict(responses: np.ndarray, assignments: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Per image, the class whose assigned neurons fired most on average (classes without neurons: never)."""
    score = np.full((responses.shape[0], n_classes), -1.0)
    for c in range(n_classes):
        members = assignments == c
        if np.any(members):
            score[:, c] = responses[:, members].mean(axis=1)
    return np.argmax(score, axis=1)


def learned(circuit: Circuit) -> list[Learned]:
    """What every module learned."""
    return [Learned(m.input_weights.weights, m.exc.state("theta"),
                    m.input_weights.synapses.delay * circuit.params.dt) for m in circuit.modules]


def frozen(trained: Circuit, seed: int) -> Circuit:
    """The trained network with learning off and θ frozen (its weights and thresholds copied)."""
    return ensemble(trained.params, seed, learned(trained), learning=False)
