"""The incoming-synapse index (neurosim.engine.incoming) against a hand-built CSR."""

import numpy as np

from neurosim.engine.incoming import incoming


def test_synapses_grouped_by_target_in_row_then_position_order():
    # rows 0..2 are neurons, row 3 a source (left out); targets are state codes
    indptr = np.array([0, 3, 4, 7, 9])
    target = np.array([5, 1, 5, 1, 5, 9, 5, 9, 1], np.int32)
    inc = incoming(indptr, target, 3)
    assert inc.target.tolist() == [1, 5, 9]
    assert inc.ptr.tolist() == [0, 2, 6, 7]
    assert inc.syn.tolist() == [1, 3, 0, 2, 4, 6, 5]  # target 5: row 0 (positions 0, 2), row 2 (4, 6)
    assert inc.src.tolist() == [0, 1, 0, 0, 2, 2, 2]
    assert inc.syn.dtype == np.int32 and inc.src.dtype == np.int32


def test_a_network_without_neuron_synapses_has_an_empty_index():
    inc = incoming(np.array([0, 0, 0, 2]), np.array([0, 1], np.int32), 2)
    assert inc.target.size == 0 and inc.ptr.tolist() == [0] and inc.syn.size == 0
