"""Diehl & Cook (2015) on the engine: the paper's rule, thresholds, protocol and learning."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurosim import Network
from neurosim.cli import main
from neurosim.connectivity import FromArrays
from neurosim.datasets.mnist import load_idx_pair
from neurosim.models import diehl_cook as dc

DATA = Path(__file__).resolve().parent / "data"  # the shipped MNIST fixture (data/mnist/README.md)
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "diehl_cook.toml"


@pytest.fixture(scope="module")
def digits():
    images, labels = load_idx_pair(DATA / "mnist")
    return images.reshape(len(images), -1).astype(float), labels.astype(int)


def test_normalisation_makes_the_input_weights_of_every_neuron_sum_to_78():
    circuit = dc.build(dc.Params(n_exc=7), seed=3)
    before = circuit.input_weights.weights
    circuit.normalise()
    after = circuit.input_weights.weights
    post = circuit.input_weights.synapses.post  # the layout's targets, in the order of .weights
    np.testing.assert_allclose(np.bincount(post, weights=after), 78.0, rtol=1e-12)
    ratio = after / before  # one factor per neuron
    np.testing.assert_allclose(ratio, ratio[:7][post], rtol=1e-12)


def test_the_rule_is_the_papers_triplet_rule():
    """One input onto one excitatory neuron, made to fire by a strong second input at chosen
    times: the weight change is the paper's ``-nu_pre·post1`` at the input spike and
    ``+nu_post·pre·post2(before)`` at each neuron spike, computed here from the spike times."""
    p = dc.Params(n_exc=1)
    net = Network(dt=p.dt, seed=0)
    pre = net.spike_source("pre", 1, times=[0.010, 0.030], indices=[0, 0])
    kick = net.spike_source("kick", 1, times=[0.004, 0.014, 0.034], indices=[0, 0, 0])
    exc = net.population("exc", 1, dc.excitatory(p, learning=True))
    learned = net.connect(pre, exc, FromArrays(pre=[0], post=[0]), weight=0.5, receptor="exc",
                          plasticity=dc.stdp(p))
    net.connect(kick, exc, FromArrays(pre=[0], post=[0]), weight=50.0, receptor="exc")
    spikes = net.spike_monitor(exc)
    net.run(0.05, backend="numpy")
    t_post = spikes.sink.get("t", np.zeros(0))
    assert len(t_post) == 3 and np.all(np.diff(t_post) > 5e-3)
    w = 0.5
    events = sorted([(t, "pre") for t in (0.010, 0.030)] + [(t, "post") for t in t_post])
    for t, kind in events:
        if kind == "pre":
            last_post = [s for s in t_post if s < t - 1e-9]
            w -= p.nu_pre * (math.exp(-(t - last_post[-1]) / p.tau_post1) if last_post else 0.0)
        else:
            last_pre = [s for s in (0.010, 0.030) if s <= t + 1e-9]
            last_post = [s for s in t_post if s < t - 1e-9]
            pre_trace = math.exp(-(t - last_pre[-1]) / p.tau_pre) if last_pre else 0.0
            post2 = math.exp(-(t - last_post[-1]) / p.tau_post2) if last_post else 0.0
            w += p.nu_post * pre_trace * post2
        w = min(max(w, 0.0), p.w_max)
    assert learned.weights[0] == pytest.approx(w, rel=1e-12)
    assert learned.weights[0] != pytest.approx(0.5, rel=1e-4)  # the pairs did change it


def test_theta_grows_by_theta_plus_per_spike_while_learning_and_is_frozen_after(digits):
    x, _ = digits
    p = dc.Params(n_exc=10)
    circuit = dc.build(p, seed=1)
    counts = circuit.present(x[0])
    theta = circuit.exc.state("theta")
    decay = math.exp(-circuit.net.t / p.tau_theta)  # at most this much of a jump has decayed
    assert counts.sum() >= 5
    assert np.all(theta <= counts * p.theta_plus + 1e-18)
    assert np.all(theta >= counts * p.theta_plus * decay - 1e-18)
    frozen = dc.frozen(circuit, seed=2)
    np.testing.assert_array_equal(frozen.exc.state("theta"), theta)
    assert frozen.present(x[1]).sum() > 0
    np.testing.assert_array_equal(frozen.exc.state("theta"), theta)
    np.testing.assert_array_equal(frozen.input_weights.weights, circuit.input_weights.weights)


def test_a_black_image_is_shown_once():
    circuit = dc.build(dc.Params(n_exc=5), seed=1)
    assert circuit.present(np.zeros(dc.N_INPUT)).sum() == 0
    assert circuit.net.t == pytest.approx(0.5)


def test_presentations_must_be_whole_steps():
    with pytest.raises(ValueError, match=r"diehl_cook.t_present: 0.35 s is not a whole number of steps of dt = 0.0003 s"):
        dc.Params(dt=0.3e-3)


def test_a_faint_image_is_shown_again_brighter_until_the_neurons_fire_five_spikes():
    p = dc.Params(n_exc=10)
    circuit = dc.build(p, seed=1)
    faint = np.zeros(dc.N_INPUT)
    faint[300:500] = 12.0  # 3 Hz per pixel at intensity 2
    counts = circuit.present(faint)
    shown = round(circuit.net.t / (p.t_present + p.t_rest))
    assert shown > 1 and counts.sum() >= p.min_spikes
    assert circuit.inputs.rate == 0.0  # resting after the image


def test_labels_and_predictions_follow_the_mean_responses():
    responses = np.array([[5, 0, 1, 0], [4, 1, 0, 0], [0, 6, 2, 0], [1, 0, 3, 0]])
    labels = np.array([0, 0, 1, 2])
    np.testing.assert_array_equal(dc.assign(responses, labels, n_classes=3), [0, 1, 2, -1])  # neuron 3 never fired
    assignments = dc.assign(responses[:, :3], labels, n_classes=3)
    np.testing.assert_array_equal(assignments, [0, 1, 2])
    np.testing.assert_array_equal(dc.predict(np.array([[0, 0, 9], [3, 2, 0]]), assignments, n_classes=3), [2, 0])
    # a class with no neuron is never predicted, even when every neuron is silent
    assert dc.predict(np.zeros((1, 3)), np.array([1, 1, 2]), n_classes=3)[0] in (1, 2)


def _accuracy(circuit: dc.Circuit, x: np.ndarray, y: np.ndarray, n_train: int) -> float:
    frozen = dc.frozen(circuit, seed=7)
    assignments = dc.assign(frozen.responses(x[:n_train]), y[:n_train])
    return float(np.mean(dc.predict(frozen.responses(x[-200:]), assignments) == y[-200:]))


def test_stdp_learns_digits_that_the_untrained_network_does_not_tell_apart(digits):
    """Fixture images: 600 training images, the last 200 (MNIST 9000-9199) for testing."""
    x, y = digits
    p = dc.Params(n_exc=50)
    untrained = _accuracy(dc.build(p, seed=4), x, y, 600)
    circuit = dc.build(p, seed=4)
    circuit.responses(x[:600])
    trained = _accuracy(circuit, x, y, 600)
    assert trained >= 0.5 and trained >= untrained + 0.2, (trained, untrained)


def test_the_scenario_runs_on_the_substitute_protocol_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_DATA", str(DATA))
    out = tmp_path / "dc.h5"
    code = main(["run", str(SCENARIO), "--quiet", "--out", str(out), "--set", "stdp_classify.n_exc=10",
                 "--set", "stdp_classify.samples=[60, 20]", "--set", "stdp_classify.shuffle=true",
                 "--set", "stdp_classify.epochs=2", "--set", "stdp_classify.every_epoch=true"])
    assert code == 0
    with h5py.File(out) as f:
        assert "substitute" in f.attrs["protocol"] and "train 0-" in f.attrs["protocol"]
        assert 0.0 <= f["metrics/test_accuracy"][()] <= 1.0
        assert f["metrics/neurons_per_class"][()].sum() + f["metrics/silent_neurons"][()] == 10
        assert f["metrics/test_accuracy_by_epoch"][-1] == f["metrics/test_accuracy"][()]


@pytest.mark.parametrize("setting, field", [
    ("stdp_classify.samples=[9000, 10]", "stdp_classify.samples.0"),
    ("stdp_classify.intensity=80.0", "stdp_classify.intensity"),
    ("stdp_classify.t_present='nan ms'", "stdp_classify.t_present"),
    ("stdp_classify.dt='0.3 ms'", "stdp_classify.t_present"),
])
def test_bad_settings_exit_2_naming_the_field(tmp_path, monkeypatch, capsys, setting, field):
    monkeypatch.setenv("NEUROSIM_DATA", str(DATA))
    code = main(["run", str(SCENARIO), "--quiet", "--out", str(tmp_path / "x.h5"), "--set", setting])
    assert code == 2 and field in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_the_frozen_network_keeps_the_learned_weights_thresholds_and_delays(digits):
    x, _ = digits
    p = dc.Params(n_exc=6, input_delay=0.01)  # the authors' code draws input delays from U(0, 10 ms)
    circuit = dc.build(p, seed=2)
    circuit.present(x[0])
    trained = dc.learned(circuit)[0]
    steps = circuit.input_weights.synapses.delay
    assert steps.min() == 0 and steps.max() == 20 and len(np.unique(steps)) == 21  # 0.5 ms grid up to 10 ms
    copy = dc.learned(dc.frozen(circuit, seed=3))[0]
    for name in ("weights", "theta", "delays"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(trained, name))
