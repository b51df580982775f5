"""Models written as equations (EquationModel, ``model = "equations"``) run with the built-ins' guarantees."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurosim.cli import main
from neurosim.connectivity import FixedProbability, Normal
from neurosim.network import Network
from neurosim.neurons import LIF, EquationModel

LIF_AS_EQUATIONS = dict(
    equations="dv/dt = (v_rest - v)/tau_m + (i_bias + i_ext)/c_m : volt",
    threshold="v >= v_th", reset="v = v_reset + soft*(v - v_th)", refractory="v = v_reset",
    parameters={"tau_m": "20 ms", "c_m": "200 pF", "v_rest": "-65 mV", "v_th": "-50 mV", "v_reset": "-65 mV",
                "t_ref": "2 ms", "i_bias": "0 pA", "soft": 0.0},
)

ADAPTIVE = dict(
    name="adaptive",
    equations="""
        dv/dt = (v_rest - v)/tau_m + (g_e*(e_e - v) - w + i_ext)/c_m : volt
        dg_e/dt = -g_e/tau_e : siemens
        dw/dt = -w/tau_w : amp
    """,
    threshold="v >= v_th", reset="v = v_reset; w += b", refractory="v = v_reset",
    receptors=("g_e", "g_e"), method="exponential_euler",
    parameters={"v_rest": "-70 mV", "v_reset": "-65 mV", "v_th": "-50 mV", "tau_m": "20 ms", "c_m": "200 pF",
                "e_e": "0 mV", "tau_e": "5 ms", "tau_w": "200 ms", "b": "30 pA", "t_ref": "2 ms"},
)


def _net(model, backend: str):
    net = Network(dt=1e-4, seed=7)
    src = net.poisson_source("in", 50, "40 Hz")
    pop = net.population("p", 30, model, v_init=Normal("-60 mV", "3 mV"))
    w = "3 nS" if model.weight_dimension == "conductance" else "2 mV"
    net.connect(src, pop, FixedProbability(0.3), weight=w, delay="1 ms")
    net.connect(pop, pop, FixedProbability(0.1), weight=w, delay="2 ms")
    net.current(pop, ["0 pA", "150 pA"], ["0 ms", "50 ms"])
    spikes, state = net.spike_monitor(pop), net.state_monitor(pop, list(model.state_variables), indices=[0, 1, 2])
    net.run("200 ms", backend=backend)
    return spikes, state


def test_lif_written_as_equations_is_the_builtin_lif_bit_for_bit():
    user = EquationModel(name="mylif", **LIF_AS_EQUATIONS)
    assert user.compiled.body == LIF().compiled.body  # one description, one step
    a, sa = _net(LIF(), "numba")
    b, sb = _net(user, "numba")
    assert a.t.size > 100
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.i, b.i)
    np.testing.assert_array_equal(sa["v"], sb["v"])


@pytest.mark.parametrize("backend", ["numba", "brian2"])
def test_a_user_model_runs_on_every_backend_like_the_reference(backend):
    model = EquationModel(**ADAPTIVE)
    ref, ref_state = _net(model, "numpy")
    got, got_state = _net(model, backend)
    assert ref.t.size > 100 and ref_state["w"].max() > 50e-12  # it fires and adapts
    np.testing.assert_array_equal(ref.t, got.t)
    np.testing.assert_array_equal(ref.i, got.i)
    for var in ("v", "g_e", "w"):
        if backend == "numba":
            np.testing.assert_array_equal(ref_state[var], got_state[var])
        else:  # Brian integrates the same equations with its own exponential Euler: rounding only
            scale = np.abs(ref_state[var]).max()
            np.testing.assert_allclose(got_state[var], ref_state[var], rtol=0, atol=1e-10 * scale)


def test_the_equations_scenario_runs_and_records_in_the_variables_units(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "equations.toml"
    out = tmp_path / "eq.h5"
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--set", "simulation.duration=0.2"]) == 0
    with h5py.File(out, "r") as f:
        assert f["report/adaptive/data"].attrs["units"] == "mV"
        assert f["report/adaptive.w/data"].attrs["units"] == "nA"
        w = f["report/adaptive.w/data"][:]
        assert f["spikes/adaptive/node_ids"].size > 100 and f["spikes/adex/node_ids"].size > 10
        assert w.max() > 0.03  # nA: adaptation current builds up with the spikes (b = 30 pA each)
