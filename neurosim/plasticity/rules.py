"""The scalar update rules of STDP traces, weights and modulators (see :mod:`.stdp` and
:mod:`.modulator`), written once: the numba backend compiles them with ``njit`` and the CUDA
backend with ``cuda.jit(device=True)``, so both compute the same operations in the same order."""


def stdp_weight(w, x, potentiate, a_plus, a_minus, lr_plus, lr_minus, lo, hi, multiplicative):
    """``w + eta_+ A+(w) x`` (potentiate) or ``w - eta_- A-(w) x``, clipped to [lo, hi];
    A+ = a_plus (hi - w), A- = a_minus (w - lo) when multiplicative, else a_plus, a_minus."""
    if potentiate:
        a = a_plus * lr_plus
        w = w + (a * (hi - w) * x if multiplicative else a * x)
    else:
        a = a_minus * lr_minus
        w = w - (a * (w - lo) * x if multiplicative else a * x)
    return min(max(w, lo), hi)


def next_trace(x, spiked, inc, decay, nearest):
    """The trace one step later: ``(x + inc S) d`` (all-to-all) or ``(inc if S else x) d`` (nearest)."""
    if nearest:
        return (inc if spiked else x) * decay
    return (x + inc if spiked else x) * decay


def modulator_step(a, drive, weight, bias, tau_steps):
    """``A + (weight drive + bias - A) / (tau / dt)``."""
    return a + (weight * drive + bias - a) / tau_steps
