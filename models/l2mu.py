"""L2MU: the spiking Legendre Memory Unit (Fra, Leto, Pignata, Macii, Urgese, ICANN 2024,
arXiv 2407.04076), with LIF or CubaLIF populations and the stacked input encoder.

Every block of the LMU is a population of spiking neurons (:mod:`neurosim.train.modules`).
Per time step t, with s_* the spikes of the populations::

    I_u = e_x x_t + e_h s_h + e_m s_m          s_u = LIF_u(I_u)          (memory_size neurons)
    I_m = s_m A^T + s_u B^T  (per memory row)  s_m = LIF_m(I_m)          (memory_size x order neurons)
    I_h = W_x x_t + W_h s_h + W_m s_m          s_h = LIF_h(I_h)          (hidden_size neurons)
    s_o = LIF_o(W_o s_h)                                                 (one neuron per class)

where s_h and s_m on the right of I_u and s_h in I_h are those of step t-1, and s_m in I_h is
the new one. A, B are the Legendre (Padé) delay-line matrices of ``order`` d over a window of
``theta`` steps, discretised with a zero-order hold over one step and kept fixed::

    A_ij = (2i+1)/θ · (-1 if i < j else (-1)^(i-j+1)),   B_i = (2i+1)/θ · (-1)^i
    [[Ā, B̄], [0, I]] = expm([[A, B], [0, 0]] · dt)      (= scipy.signal.cont2discrete(..., "zoh"))

The input x_t comes from the stacked encoder: for each channel Linear(1 -> pop_size) + LIF
with the channel's own β and θ, concatenated, then Linear -> LIF (``encoding_size``) and
Linear -> LIF (``output_size``). Initialisation as the authors' code: e_x, e_h LeCun uniform,
e_m zero, W_x, W_h, W_m Xavier normal, no biases. The encoder and the output layer are
feed-forward and run as fused scans over the whole sequence; the LMU core is recurrent and
runs step by step. β and θ of every population are learnable scalars.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from neurosim.train.modules import LIF, CubaLIF, NeuronLayer, SNNOutput

NEURONS = ("lif", "cuba")


def legendre_matrices(order: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """The continuous LMU matrices A [order, order] and B [order, 1] for a window of ``theta`` steps."""
    q = np.arange(order)
    r = (2 * q + 1)[:, None] / theta
    i, j = np.meshgrid(q, q, indexing="ij")
    a = np.where(i < j, -1.0, (-1.0) ** (i - j + 1)) * r
    b = ((-1.0) ** q)[:, None] * r
    return a, b


def zoh(a: np.ndarray, b: np.ndarray, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Zero-order-hold discretisation: Ā = e^{A dt}, B̄ = ∫_0^dt e^{A s} ds B (one matrix exponential)."""
    n, m = b.shape
    block = np.zeros((n + m, n + m))
    block[:n, :n], block[:n, n:] = a, b
    e = torch.linalg.matrix_exp(torch.from_numpy(block * dt)).numpy()
    return e[:n, :n], e[:n, n:]


@dataclass(frozen=True)
class Population:
    """β and θ (training units) of one population."""

    beta: float
    threshold: float


@dataclass(frozen=True)
class L2MUConfig:
    """Sizes and neuron parameters of an L2MU (the Braille values of the paper's code as defaults
    for β and θ; sizes for small sensor data)."""

    channels: int
    classes: int
    order: int = 4
    theta: float = 7.0
    memory_size: int = 16
    hidden_size: int = 64
    pop_size: int = 8
    encoding_size: int = 48
    output_size: int = 48
    neuron: str = "lif"
    alpha: float = 0.5
    encoder: Population = Population(0.9, 0.5)
    u: Population = Population(0.65, 0.1)
    m: Population = Population(0.35, 0.4)
    h: Population = Population(0.15, 0.75)
    o: Population = Population(0.15, 0.1)
    surrogate: dict = field(default_factory=lambda: {"name": "atan", "slope": 2.0})
    dt: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("channels", "classes", "order", "memory_size", "hidden_size", "pop_size", "encoding_size",
                     "output_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"L2MUConfig.{name}: must be an integer >= 1, got {value!r}")
        if not self.theta > 0:
            raise ValueError(f"L2MUConfig.theta: must be > 0 steps, got {self.theta!r}")
        if self.neuron not in NEURONS:
            raise ValueError(f"L2MUConfig.neuron: must be one of {', '.join(NEURONS)}, got {self.neuron!r}")
        for name in ("encoder", "u", "m", "h", "o"):
            p = getattr(self, name)
            if isinstance(p, dict):
                object.__setattr__(self, name, p := Population(**p))
            if not (0 <= p.beta <= 1 and p.threshold > 0):
                raise ValueError(f"L2MUConfig.{name}: needs 0 <= beta <= 1 and threshold > 0, got {p}")

    def to_dict(self) -> dict:
        return asdict(self)


class L2MU(nn.Module):
    """The L2MU classifier: input ``x`` [T, B, channels] -> :class:`SNNOutput` whose ``out`` are the
    output spikes [T, B, classes] and ``membranes`` those of (encoder..., u, m, h, o)."""

    def __init__(self, config: L2MUConfig):
        super().__init__()
        c = self.config = config
        self.channel_weight = nn.Parameter(torch.empty(c.channels, c.pop_size))
        self.channel_bias = nn.Parameter(torch.empty(c.channels, c.pop_size))
        bound = 1.0  # fan-in 1
        nn.init.uniform_(self.channel_weight, -bound, bound)
        nn.init.uniform_(self.channel_bias, -bound, bound)
        self.channel_pop = self._population(c.encoder, shape=(c.channels, 1))
        self.encoding = nn.Linear(c.channels * c.pop_size, c.encoding_size)
        self.encoding_pop = self._population(c.encoder)
        self.transform = nn.Linear(c.encoding_size, c.output_size)
        self.transform_pop = self._population(c.encoder)
        m, d, h = c.memory_size, c.order, c.hidden_size
        self.e_x = nn.Linear(c.output_size, m, bias=False)
        self.e_h = nn.Linear(h, m, bias=False)
        self.e_m = nn.Linear(m * d, m, bias=False)
        self.w_x = nn.Linear(c.output_size, h, bias=False)
        self.w_h = nn.Linear(h, h, bias=False)
        self.w_m = nn.Linear(m * d, h, bias=False)
        for lin in (self.e_x, self.e_h):
            nn.init.uniform_(lin.weight, -math.sqrt(3 / lin.in_features), math.sqrt(3 / lin.in_features))
        nn.init.zeros_(self.e_m.weight)
        for lin in (self.w_x, self.w_h, self.w_m):
            nn.init.xavier_normal_(lin.weight)
        a, b = zoh(*legendre_matrices(d, c.theta))
        self.register_buffer("A", torch.as_tensor(a, dtype=torch.get_default_dtype()))
        self.register_buffer("B", torch.as_tensor(b[:, 0], dtype=torch.get_default_dtype()))
        self.pop_u, self.pop_m, self.pop_h = (self._population(p) for p in (c.u, c.m, c.h))
        self.readout = nn.Linear(h, c.classes)
        self.pop_o = self._population(c.o)

    def _population(self, p: Population, shape: tuple[int, ...] = ()) -> NeuronLayer:
        c = self.config
        options = dict(threshold=torch.full(shape, p.threshold), reset="soft", surrogate=c.surrogate,
                       learn_beta=True, learn_threshold=True, dt=c.dt)
        if c.neuron == "cuba":
            return CubaLIF(torch.full(shape, c.alpha), torch.full(shape, p.beta), **options)
        return LIF(torch.full(shape, p.beta), **options)

    def encode(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The stacked encoder over the whole sequence: spikes [T, B, output_size] and its membranes."""
        h = x.unsqueeze(-1) * self.channel_weight + self.channel_bias  # [T, B, C, pop]
        first = self.channel_pop(h)
        second = self.encoding_pop(self.encoding(first.out.flatten(2)))
        third = self.transform_pop(self.transform(second.out))
        return third.out, [first.membrane, second.membrane, third.membrane]

    def forward(self, x: Tensor) -> SNNOutput:
        enc, membranes = self.encode(x)
        c = self.config
        T, batch = x.shape[:2]
        drive_u, drive_h = self.e_x(enc), self.w_x(enc)
        s_h = enc.new_zeros(batch, c.hidden_size)
        s_m = enc.new_zeros(batch, c.memory_size * c.order)
        st_u = st_m = st_h = None
        hidden, mem_u, mem_m, mem_h = [], [], [], []
        for x_u, x_h in zip(drive_u.unbind(0), drive_h.unbind(0)):
            out_u = self.pop_u.step(x_u + self.e_h(s_h) + self.e_m(s_m), st_u)
            i_m = s_m.view(batch, c.memory_size, c.order) @ self.A.T + out_u.out.unsqueeze(-1) * self.B
            out_m = self.pop_m.step(i_m.flatten(1), st_m)
            out_h = self.pop_h.step(x_h + self.w_h(s_h) + self.w_m(out_m.out), st_h)
            s_m, s_h = out_m.out, out_h.out
            st_u, st_m, st_h = out_u.state, out_m.state, out_h.state
            hidden.append(s_h)
            mem_u.append(out_u.membrane)
            mem_m.append(out_m.membrane)
            mem_h.append(out_h.membrane)
        out = self.pop_o(self.readout(torch.stack(hidden)))
        membranes += [torch.stack(mem_u), torch.stack(mem_m), torch.stack(mem_h), out.membrane]
        return SNNOutput(out.out, tuple(membranes), (st_u, st_m, st_h, out.state))
