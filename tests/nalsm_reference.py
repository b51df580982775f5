"""A short, literal NumPy transcription of NALSM's step (Ivanov & Michmizos 2021), dense
``W[post, pre]`` as in the authors' code. Used to check the compiled kernel."""

import numpy as np

from neurosim.engine.rng import uniform


def simulate(W, mask, kind, probs, key, T, neuron, plasticity, astro_mask, decay, x0=None):
    """Run one sample; returns (liquid spike raster [T, n_liq], final W, final STDP traces).
    ``kind``: 0 input, 1 excitatory, 2 inhibitory per presynaptic (global) neuron; ``x0``: the
    traces at the start (default zero; the authors' code carries them from sample to sample)."""
    n_liq, n_tot = W.shape
    n_in = n_tot - n_liq
    W = W.copy()
    v, r = np.zeros(n_tot), np.zeros(n_tot)
    x = np.zeros(n_tot) if x0 is None else np.array(x0, dtype=float)
    s = np.full(n_tot, neuron.t_lim)
    eta, A, w_astro, b = plasticity.rates
    lo = np.where(kind == 1, 0.0, -3.0)[None, :]
    hi = np.where(kind == 2, 0.0, 3.0)[None, :]
    inh = (kind == 2)[None, :]
    raster = np.zeros((T, n_liq), np.uint8)
    for t in range(T):
        S = (v * (1 - np.clip(r, 0, 1)) >= neuron.v_th).astype(float)          # 1. spike
        v = v * (1 - S)                                                        # 2. reset
        s = np.where(S > 0, 0, s)                                              # 3. timers
        k = np.exp(-s / neuron.tau_u) / neuron.tau_u
        I_in = np.where(uniform(key, t, np.arange(n_in)) < probs, neuron.input_current, 0.0)
        I = np.concatenate([I_in, W @ k])
        v = v + I + neuron.bias - v / neuron.tau_v                             # 4. membrane
        s = np.minimum(s + 1, neuron.s_max)                                    # 5.
        r = (r - 1) * (1 - S) + neuron.t_ref * S                               # 6. refractory
        if plasticity.variant != "static":                                     # 7. STDP
            a = np.where(astro_mask > 0, A, eta)[:, None]
            post_coef = np.where(inh, -a, eta)
            pre_coef = np.where(inh, eta, -a)
            dW = post_coef * S[n_in:, None] * x[None, :] + pre_coef * S[None, :] * x[n_in:, None]
            W = np.clip(W + dW * mask, lo, hi)
        x = plasticity.trace_decay * (x + plasticity.trace_increment * S)
        A = A + (w_astro * (S[n_in:].sum() - S[:n_in].sum()) + b - A) / plasticity.tau_astro   # 8. astrocyte
        eta, A, w_astro, b = eta * decay, A * decay, w_astro * decay, b * decay               # 9. decay
        raster[t] = S[n_in:]
    return raster, W, x
