"""Brunel (2000) model A (neurosim.models.brunel) against the paper's mean-field theory and regimes.

Scaled down to N_E = 2000 (C_E = 200) with J = 0.5 mV, so that C_E J, and with it the mean
input and ν_thr, are those of the paper's network (N_E = 10,000, J = 0.1 mV).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, special

from neurosim.models.brunel import STATES, Params, build
from neurosim.spike_stats import mean_isi_cv

TAU, THETA, V_R, T_REF = 0.020, 20.0, 10.0, 0.002  # s, mV, mV, s
C_E, J, GAMMA = 200, 0.5, 0.25  # inputs, mV, C_I / C_E


def mean_field_rate(g: float, eta: float) -> float:
    """The stationary rate (Hz) of Brunel (2000), eqs. 4–5 and 21: ν = φ(μ(ν), σ(ν)) with
    1/φ = τ_rp + τ √π ∫_{(V_r-μ)/σ}^{(θ-μ)/σ} e^{u²}(1 + erf u) du."""
    nu_ext = eta * THETA / (J * C_E * TAU)

    def excess(nu: float) -> float:
        mu = C_E * J * TAU * (nu_ext + nu * (1 - g * GAMMA))
        sigma = J * np.sqrt(C_E * TAU * (nu_ext + nu * (1 + g * g * GAMMA)))
        area, _ = integrate.quad(lambda u: special.erfcx(-u), (V_R - mu) / sigma, (THETA - mu) / sigma, limit=200)
        return 1.0 / (T_REF + TAU * np.sqrt(np.pi) * area) - nu

    return optimize.brentq(excess, 0.01, 499.0)


def _run(state: str, seconds: float = 1.2, skip: float = 0.2) -> tuple[float, float]:
    """Excitatory rate (Hz) and mean ISI CV after the first ``skip`` seconds."""
    params = Params(n_exc=2000, state=state, j=f"{J} mV")
    assert params.c_exc == C_E and params.c_inh == C_E * GAMMA
    net = build(params, seed=1)
    net.run(f"{seconds} s", backend="numba")
    mon = net.monitors[0]
    keep = mon.t >= skip
    return keep.sum() / (params.n_exc * (seconds - skip)), mean_isi_cv(mon.i[keep], mon.t[keep])


def test_the_asynchronous_irregular_state_fires_at_the_mean_field_rate():
    g, eta = STATES["C"]
    theory = mean_field_rate(g, eta)
    rate, cv = _run("C")
    assert rate == pytest.approx(theory, rel=0.1)  # finite size and the delay shift it by a few %
    assert cv > 0.8  # irregular firing


def test_the_synchronous_regular_state_fires_regularly_near_saturation():
    rate, cv = _run("A")
    assert rate > 200 and cv < 0.1  # 1/τ_rp = 500 Hz bounds it


@pytest.mark.parametrize("state", ["B", "D"])
def test_the_synchronous_irregular_states_fire_irregularly(state):
    rate, cv = _run(state)
    assert cv > 0.8
    assert rate < mean_field_rate(*STATES["A"])


def test_bad_parameters_name_the_field():
    with pytest.raises(ValueError, match="model.state: must be one of A, B, C, D"):
        Params(state="E")
    with pytest.raises(ValueError, match="model.epsilon: must be in"):
        Params(epsilon=0.0)
