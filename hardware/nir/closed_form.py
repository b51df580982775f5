"""Closed forms of the exact LIF / CubaLIF propagators over one step ``h``, for NIR's parameters.

The engine's own propagators come from the neuron descriptions (matrix exponentials of
:mod:`neurosim.neurons.integration`); NIR's mapping converts between NIR's parameterisation
(τ, r, w_in) and the engine's (τ_m, C, τ_syn) and needs them as explicit functions of those
parameters, in both directions, which these closed forms give.

The generic current-based LIF neuron obeys, between spikes,

    C dv/dt = -C (v - v_rest)/tau_m + i_exc + i_inh + i_ext
    di_exc/dt = -i_exc / tau_exc,        di_inh/dt = -i_inh / tau_inh

with ``i_ext`` constant during the step. Its exact solution over ``h`` is

    v(t+h) = v_rest + (v - v_rest) P_vv + i_exc P_ve + i_inh P_vi + i_ext P_vI
    P_vv = exp(-h/tau_m),           P_vI = (tau_m / C)(1 - exp(-h/tau_m))
    P_vs = (1/C) exp(-h/tau_m) expm1(h (1/tau_m - 1/tau_s)) / (1/tau_m - 1/tau_s)

(``P_vs -> (h/C) exp(-h/tau_m)`` when ``tau_s = tau_m``), and ``i_s(t+h) = i_s exp(-h/tau_s)``.
"""

from __future__ import annotations

import numpy as np


def membrane_propagators(tau_m: np.ndarray, c_m: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """``(P_vv, P_vI)`` for membrane time constants ``tau_m`` (s) and capacitances ``c_m`` (F)."""
    p_vv = np.exp(-h / tau_m)
    p_vi = -(tau_m / c_m) * np.expm1(-h / tau_m)
    return p_vv, p_vi


def synapse_to_membrane(tau_m: np.ndarray, tau_s: np.ndarray, c_m: np.ndarray, h: float) -> np.ndarray:
    """``P_vs``: the voltage change over ``h`` caused by a unit synaptic current (V/A)."""
    rate = 1.0 / tau_m - 1.0 / tau_s
    x = h * rate
    small = np.abs(x) < 1e-8
    safe_rate = np.where(small, 1.0, rate)
    factor = np.where(small, h * (1.0 + 0.5 * x), np.expm1(x) / safe_rate)
    return np.exp(-h / tau_m) * factor / c_m
