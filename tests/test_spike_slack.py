"""A spike generator may repeat an element within one step: every backend then stops a block
while the spike buffer can still hold such a step, records every spike, and agrees with the
others; a buffer that cannot hold one step is refused by name."""

import numpy as np
import pytest

from neurosim import LIF, FixedProbability, Network
from neurosim.engine.layout import SPIKE_SLACK, spike_slack


def _repeating(capacity: int | None = None):
    net = Network(dt="0.1 ms", seed=2, block_steps=40)
    cells = net.population("cells", 3, LIF(v_rest="-65 mV", v_th="-50 mV", v_reset="-65 mV", t_ref="0 ms"))
    steps = np.arange(1, 30)
    times = np.repeat(steps * 1e-4, 5)  # element 0 spikes four times, element 1 once, in each step
    net.spike_source("gen", 2, times=times, indices=np.tile([0, 0, 1, 0, 0], steps.size))
    net.connect(net.groups[1], cells, FixedProbability(1.0), weight="4 mV")
    monitors = [net.spike_monitor(net.groups[1]), net.spike_monitor(cells)]
    if capacity is not None:  # a smaller buffer than Network allows: early returns every step or two
        rec = net.layout.rec
        net._layout = net.layout._replace(rec=rec._replace(spk_step=np.zeros(capacity, np.int64),
                                                           spk_id=np.zeros(capacity, np.int32)))
    return net, monitors


def test_slack_counts_the_most_repeats_in_one_step():
    steps = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3])
    ids = np.array([0, 0, 4, 1, 2, 5, 5, 5, 6])
    assert spike_slack(steps, ids) == 2  # step 3: element 5 three times
    assert spike_slack(np.array([1, 2]), np.array([0, 0])) == 0
    assert spike_slack(np.zeros(0, np.int64), np.zeros(0, np.int64)) == 0
    net, _ = _repeating()
    assert net.layout.rec.counters[SPIKE_SLACK] == 3
    assert net.spike_capacity >= 2 * 5 + 3  # two steps of all 5 elements, and the repeats


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_small_buffer_with_repeats_loses_nothing(backend):
    """13 places, 5 elements, 3 repeats: a step may record 8 spikes (5 from the generator alone);
    after a step of 8, a check for 5 places would run another step past the end of the buffer.
    All 29 x 5 generator spikes are recorded."""
    full, (g_full, c_full) = _repeating()
    full.run("4 ms", backend=backend)
    small, (g_small, c_small) = _repeating(capacity=13)
    small.run("4 ms", backend=backend)
    assert g_small.t.size == g_full.t.size == 29 * 5
    assert np.array_equal(g_small.i, g_full.i) and np.array_equal(c_small.t, c_full.t) and c_full.t.size > 20


def test_a_buffer_that_cannot_hold_one_step_is_refused():
    net, _ = _repeating(capacity=7)
    with pytest.raises(ValueError, match=r"Network\.spike_capacity: 7 places cannot hold the spikes of one step "
                                         r"\(5 elements and 3 repeated spike-generator spikes\)"):
        net.run("1 ms", backend="numba")
