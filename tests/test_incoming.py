"""The incoming-synapse indices (neurosim.engine.incoming) against hand-built CSRs."""

import numpy as np

from neurosim.engine.incoming import incoming, source_rank


def test_synapses_grouped_by_target_in_row_then_position_order():
    # rows 0..2 are neurons, row 3 a source (left out); targets are state codes
    indptr = np.array([0, 3, 4, 7, 9])
    target = np.array([5, 1, 5, 1, 5, 9, 5, 9, 1], np.int32)
    inc = incoming(indptr, target, 0, 3)
    assert inc.target.tolist() == [1, 5, 9]
    assert inc.ptr.tolist() == [0, 2, 6, 7]
    assert inc.syn.tolist() == [1, 3, 0, 2, 4, 6, 5]  # target 5: row 0 (positions 0, 2), row 2 (4, 6)
    assert inc.src.tolist() == [0, 1, 0, 0, 2, 2, 2]
    assert inc.syn.dtype == np.int32 and inc.src.dtype == np.int32


def test_source_rows_follow_the_spike_list_order():
    # neurons 0, 1; sources 2 (Poisson), 3 (generator), 4 (generator), 5 (Poisson)
    rank = source_rank(2, 6, np.array([2, 5]))
    assert rank.tolist() == [2, 0, 1, 3]  # generators 3, 4 first, then Poisson 2, 5
    indptr = np.array([0, 0, 0, 2, 3, 5, 6])
    target = np.array([7, 8, 7, 8, 7, 7], np.int32)  # rows 2: (7, 8), 3: (7), 4: (8, 7), 5: (7)
    inc = incoming(indptr, target, 2, 6, rank)
    assert inc.target.tolist() == [7, 8] and inc.ptr.tolist() == [0, 4, 6]
    assert inc.src.tolist() == [3, 4, 2, 5, 4, 2]  # onto 7: row 3, row 4, row 2, row 5
    assert inc.syn.tolist() == [2, 4, 0, 5, 3, 1]  # CSR positions


def test_rows_without_synapses_give_an_empty_index():
    inc = incoming(np.array([0, 0, 0, 2]), np.array([0, 1], np.int32), 0, 2)
    assert inc.target.size == 0 and inc.ptr.tolist() == [0] and inc.syn.size == 0
