"""NALSM's astrocyte-gated STDP (compiled kernel) against the shared plasticity description.

The kernel (``neurosim.models.lsm.kernel``) updates weights with the statements of
``neurosim.plasticity.rules`` (``potentiate``, ``depress``, ``coincide``, ``next_trace``,
``modulator_step``). Here the kernel's own spike train is replayed, synapse by synapse and step
by step, through those statements with the amplitudes written from the paper's rule
(Ivanov & Michmizos 2021, Eq. 7 and the authors' ``NALSM_STDP.py``):

    excitatory or input pre j:  ΔW_ij = eta S_i x_j - A S_j x_i
    inhibitory pre j:           ΔW_ij = -A S_i x_j + eta S_j x_i,   then one clip to the bounds

i.e. a_plus = eta, a_minus = A (excitatory, input) and a_plus = -A, a_minus = -eta (inhibitory),
traces x <- d (x + 0.1 S) read before the step, A <- A + (w (Σ_liquid S - Σ_input S) + b - A)/100.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.engine.rng import uniform
from neurosim.models.lsm import kernel
from neurosim.models.lsm.model import LiquidStateMachine
from neurosim.models.lsm.params import LiquidParams, NeuronParams, PlasticityParams
from neurosim.plasticity import rules

T = 60
N_IN = 16


def _machine(seed: int) -> LiquidStateMachine:
    """A liquid of 8 neurons fed by 16 inputs, weights drawn uniformly inside their bounds so that
    the bounds are reached from both sides."""
    lsm = LiquidStateMachine.build(LiquidParams(shape=(2, 2, 2), n_inputs=N_IN, input_density=0.6, lam=2.0,
                                                c=(0.6, 0.6, 0.6, 0.6)),
                                   NeuronParams(), PlasticityParams("nalsm", w_astro=0.05), seed=seed)
    L, rng = lsm.liquid, np.random.default_rng(seed)
    kind = L.kind[L.pre()]
    lo = np.where(kind == kernel.EXCITATORY, 0.0, -3.0)
    hi = np.where(kind == kernel.INHIBITORY, 0.0, 3.0)
    w = rng.uniform(lo, hi)
    w[kind == kernel.INPUT] = np.abs(w[kind == kernel.INPUT]) * rng.choice([-0.4, 1.0], size=(kind == kernel.INPUT).sum())
    lsm.weights[:] = np.clip(w, lo, hi)
    return lsm


def _kernel_run(lsm: LiquidStateMachine, probs: np.ndarray, key: np.uint64, steps: int, decay: float):
    """Weights after ``steps`` steps of the kernel, and its liquid raster."""
    W = lsm.weights.copy()
    raster = np.zeros((steps, lsm.liquid.n_liq), np.uint8)
    kernel.run_sample(steps, kernel.POISSON_SPIKES, probs, key, W, *lsm._args(True, decay),
                      np.zeros((1, lsm.liquid.n_liq), np.int64), raster)
    return W, raster


def _replay(lsm: LiquidStateMachine, spikes: np.ndarray, decay: float, clip_once: bool) -> np.ndarray:
    """Weights after every step ``[T, synapses]`` for the spike train ``spikes [T, n_in + n_liq]``.

    ``clip_once``: a coincident pre and post spike change the weight by ``rules.coincide`` (NALSM);
    otherwise by ``rules.depress`` then ``rules.potentiate``, each clipped (the engine's backends).
    """
    L, p = lsm.liquid, lsm.plasticity
    pre, post = L.pre(), L.post.astype(np.int64) + L.n_in
    inhibitory = L.kind[pre] == kernel.INHIBITORY
    lo = np.where(L.kind[pre] == kernel.EXCITATORY, 0.0, -L.w_max)
    hi = np.where(inhibitory, 0.0, L.w_max)
    eta, A, w_astro, b = p.rates
    w = lsm.weights.copy()
    x = np.zeros(L.n_total)
    out = np.zeros((spikes.shape[0], w.size))
    for t, S in enumerate(spikes):
        for q in range(w.size):
            j, i = pre[q], post[q]
            # (a2, lr) of the potentiation (post spike) and the depression (pre spike)
            a2p, lrp, a2m, lrm = (-1.0, A, -eta, 1.0) if inhibitory[q] else (eta, 1.0, 1.0, A)
            if S[j] and S[i] and clip_once:
                w[q] = rules.coincide(w[q], x[j], 0.0, x[i], 0.0, a2p, 0.0, a2m, 0.0, lrp, lrm, lo[q], hi[q],
                                      0.0, 1.0, 0.0)
                continue
            if S[j]:
                w[q] = rules.depress(w[q], x[i], 0.0, a2m, 0.0, lrm, lo[q], hi[q], 0.0, 1.0, 0.0)
            if S[i]:
                w[q] = rules.potentiate(w[q], x[j], 0.0, a2p, 0.0, lrp, lo[q], hi[q], 0.0, 1.0)
        x = np.array([rules.next_trace(x[k], S[k], p.trace_increment, p.trace_decay, False) for k in range(x.size)])
        A = rules.modulator_step(A, int(S[L.n_in:].sum()) - int(S[:L.n_in].sum()), w_astro, b, p.tau_astro)
        eta, A, w_astro, b = eta * decay, A * decay, w_astro * decay, b * decay
        out[t] = w
    return out


def _spike_train(lsm: LiquidStateMachine, probs: np.ndarray, key: np.uint64, decay: float) -> np.ndarray:
    """The full spike train ``[T, n_in + n_liq]``: the inputs' Bernoulli draws (the kernel's
    stream), the liquid's raster from the kernel."""
    _, raster = _kernel_run(lsm, probs, key, T, decay)
    inputs = np.stack([uniform(key, t, np.arange(N_IN)) < probs[0] for t in range(T)]).astype(np.uint8)
    return np.hstack([inputs, raster])


@pytest.mark.parametrize("decay", [1.0, 0.99])
@pytest.mark.parametrize("seed", [1, 2])
def test_kernel_stdp_equals_the_shared_rule_step_by_step(seed, decay):
    """After every step t = 1..60 the kernel's weights equal, bit for bit, the weights obtained by
    applying the shared rule's statements to the same spike train with NALSM's combination of a
    coincident pre and post spike (both changes from the same w, one clip). Exact equality: the
    kernel evaluates the same statements in the same order, so any difference is a bug (a missed
    or misattributed event, a trace or astrocyte read at the wrong step)."""
    lsm = _machine(seed)
    probs = np.full((1, N_IN), 0.5)
    key = np.uint64(100 + seed)
    spikes = _spike_train(lsm, probs, key, decay)
    assert spikes[:, N_IN:].sum() > 30 and spikes[:, :N_IN].sum() > 200  # a busy train
    shared = _replay(lsm, spikes, decay, clip_once=True)
    for t in range(1, T + 1):
        W, _ = _kernel_run(lsm, probs, key, t, decay)
        assert np.array_equal(W, shared[t - 1]), f"step {t}"


def test_per_term_clipping_differs_only_where_a_coincidence_crosses_a_bound():
    """The engine's backends depress, then potentiate, clipping after each. On the same spike
    train this agrees with NALSM's single clip up to rounding (1e-12: (w - dw-) + dw+ against
    w + (dw+ - dw-), a few ulps of |w| <= 3), except at a synapse whose pre and post spike in the
    same step while the depressed weight w - dw- lies beyond a bound: the engine keeps the bound
    and adds dw+, NALSM adds dw+ - dw- and clips once. This train (seed 6) has such events; the
    test checks that every difference above rounding at the first of them is one."""
    lsm = _machine(6)
    p, L = lsm.plasticity, lsm.liquid
    spikes = _spike_train(lsm, np.full((1, N_IN), 0.5), np.uint64(7), 1.0)
    once = _replay(lsm, spikes, 1.0, clip_once=True)
    per_term = _replay(lsm, spikes, 1.0, clip_once=False)
    gap = np.abs(once - per_term)
    first = np.flatnonzero(gap.max(axis=1) > 1e-12)[0]
    assert gap[:first].max() <= 1e-12
    x = np.zeros(L.n_total)  # the traces before step `first`
    for S in spikes[:first]:
        x = p.trace_decay * (x + p.trace_increment * S)
    pre, post = L.pre(), L.post.astype(np.int64) + L.n_in
    eta, a0, w_astro, b = p.rates
    A = a0
    for S in spikes[:first]:
        A = A + (w_astro * (int(S[L.n_in:].sum()) - int(S[:L.n_in].sum())) + b - A) / p.tau_astro
    for q in np.flatnonzero(gap[first] > 1e-12):
        j, i = pre[q], post[q]
        assert spikes[first, j] and spikes[first, i]  # a coincidence
        inhibitory = L.kind[j] == kernel.INHIBITORY
        lo = 0.0 if L.kind[j] == kernel.EXCITATORY else -L.w_max
        hi = 0.0 if inhibitory else L.w_max
        w_before = once[first - 1, q] if first else lsm.weights[q]
        depressed = w_before + (eta * x[i] if inhibitory else -A * x[i])
        assert not lo <= depressed <= hi  # ... whose depression alone leaves the bounds


def test_coincide_is_one_clip_of_both_changes():
    """``rules.coincide`` = clip(w + dw+ - dw-): an input synapse at its lower bound -3 whose pre
    and post spike together (x_pre = 0.2, x_post = 0.3, eta = A = 0.15) moves to
    -3 + 0.15 (0.2 - 0.3) -> clipped to -3, while depress-then-potentiate gives -3 + 0.03."""
    args = dict(w=-3.0, xp=0.2, yp=0.0, xm=0.3, ym=0.0, a2p=0.15, a3p=0.0, a2m=1.0, a3m=0.0, lrp=1.0, lrm=0.15,
                lo=-3.0, hi=3.0, soft=0.0, hard=1.0, alpha=0.0)
    assert rules.coincide(**args) == -3.0
    sequential = rules.potentiate(rules.depress(-3.0, 0.3, 0.0, 1.0, 0.0, 0.15, -3.0, 3.0, 0.0, 1.0, 0.0),
                                  0.2, 0.0, 0.15, 0.0, 1.0, -3.0, 3.0, 0.0, 1.0)
    assert sequential == pytest.approx(-3.0 + 0.15 * 0.2, abs=1e-15)
    # inside the bounds the two orders agree to rounding
    args.update(w=1.0)
    assert rules.coincide(**args) == pytest.approx(1.0 + 0.15 * 0.2 - 0.15 * 0.3, abs=1e-15)
