"""Connectors and initialisers: statistics, exactness, bounds and errors."""

import numpy as np
import pytest
import scipy.sparse

from neurosim import (
    LIF, AllToAll, CubaLIF, DistanceDependent, FixedInDegree, FixedOutDegree, FixedProbability, FromArrays, Network,
    Normal, OneToOne, Uniform, from_sparse,
)


def two_pops(n_pre=400, n_post=300, seed=0, model=None):
    net = Network(seed=seed)
    model = model or CubaLIF()
    return net, net.population("a", n_pre, model), net.population("b", n_post, model)


def test_fixed_probability_degree_statistics_and_no_autapses():
    net, a, _ = two_pops(n_pre=2000)
    p = 0.05
    proj = net.connect(a, a, FixedProbability(p), weight="1 pA")
    indeg = proj.synapses.in_degree()
    n = 2000 - 1  # no autapses: 1999 candidates per neuron
    sigma = np.sqrt(n * p * (1 - p) / indeg.size)
    assert abs(indeg.mean() - n * p) < 3 * sigma
    assert indeg.var() == pytest.approx(n * p * (1 - p), rel=0.15)
    assert not np.any(proj.synapses.pre == proj.synapses.post)
    # CSR invariants: rows sorted, int32 targets
    csr = proj.synapses
    assert csr.post.dtype == np.int32 and csr.indptr[-1] == csr.n_synapses
    for j in range(0, 2000, 97):
        row = csr.post[csr.indptr[j]:csr.indptr[j + 1]]
        assert np.all(np.diff(row) > 0)


def test_fixed_probability_is_subquadratic():
    # 10^10 candidate pairs: only an O(N*K) generator finishes this in a test
    net = Network(seed=1)
    a = net.population("a", 100_000, LIF())
    proj = net.connect(a, a, FixedProbability(1e-4), weight="0.1 mV")
    expected = 100_000 * 99_999 * 1e-4
    assert abs(proj.synapses.n_synapses - expected) < 5 * np.sqrt(expected)


def test_autapses_when_allowed():
    net, a, _ = two_pops(n_pre=50)
    proj = net.connect(a, a, FixedProbability(1.0, allow_autapses=True), weight="1 pA")
    assert proj.synapses.n_synapses == 2500
    proj2 = net.connect(a, a, AllToAll(), weight="1 pA", name="no_self")
    assert proj2.synapses.n_synapses == 50 * 49


def test_fixed_in_and_out_degree_are_exact_and_distinct():
    net, a, b = two_pops()
    inp = net.connect(a, b, FixedInDegree(37), weight="1 pA")
    assert np.all(inp.synapses.in_degree() == 37)
    pairs = set(zip(inp.synapses.pre.tolist(), inp.synapses.post.tolist()))
    assert len(pairs) == inp.synapses.n_synapses
    out = net.connect(a, b, FixedOutDegree(250), weight="1 pA", name="dense_out")  # dense branch
    assert np.all(out.synapses.out_degree() == 250)
    rec = net.connect(a, a, FixedInDegree(399), weight="1 pA", name="all_but_self")
    assert not np.any(rec.synapses.pre == rec.synapses.post)
    assert np.all(rec.synapses.in_degree() == 399)


def test_one_to_one_and_size_mismatch():
    net, a, b = two_pops(300, 300)
    proj = net.connect(a, b, OneToOne(), weight="1 pA")
    assert np.array_equal(proj.synapses.pre, proj.synapses.post)
    net2, c, d = two_pops(3, 4)
    with pytest.raises(ValueError, match="one_to_one"):
        net2.connect(c, d, OneToOne(), weight="1 pA")


def test_distance_dependent_probability_follows_the_gaussian_law():
    net = Network(seed=3)
    g = net.population("g", 1000, LIF(), grid=(10, 10, 10))
    c, lam = 0.3, 2.0
    proj = net.connect(g, g, DistanceDependent(c, lam), weight="1 mV")
    pos = g.positions
    d_all = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    connected = np.zeros((1000, 1000), bool)
    connected[proj.synapses.pre, proj.synapses.post] = True
    for lo, hi in [(0.5, 1.5), (1.5, 2.5), (2.5, 3.5)]:
        sel = (d_all > lo) & (d_all <= hi)
        p_emp = connected[sel].mean()
        p_th = (c * np.exp(-(d_all[sel] / lam) ** 2)).mean()
        assert abs(p_emp - p_th) < 4 * np.sqrt(p_th * (1 - p_th) / sel.sum())
    assert not connected[np.arange(1000), np.arange(1000)].any()


def test_explicit_arrays_and_sparse_matrices():
    net, a, b = two_pops(3, 3)
    proj = net.connect(a, b, FromArrays([2, 0, 0], [1, 2, 0], weight=[3e-12, 1e-12, 2e-12], delay=[0.0, 1e-4, 2e-4]))
    assert proj.synapses.indptr.tolist() == [0, 2, 2, 3]
    assert proj.synapses.post.tolist() == [0, 2, 1]
    assert proj.synapses.weight.tolist() == [2e-12, 1e-12, 3e-12]
    assert proj.synapses.delay.tolist() == [2, 1, 0]
    m = scipy.sparse.random(30, 20, density=0.2, random_state=0, format="csr") * 1e-12
    net2, c, d = two_pops(30, 20)
    sp = net2.connect(c, d, from_sparse(m))
    assert np.allclose(sp.synapses.to_dense(), m.toarray())


def test_initialisers_respect_bounds_and_units():
    net, a, b = two_pops()
    u = net.connect(a, b, FixedProbability(0.2), weight=Uniform("10 pA", "20 pA"), name="u")
    assert u.synapses.weight.min() >= 10e-12 and u.synapses.weight.max() < 20e-12
    nrm = net.connect(a, b, FixedProbability(0.2), weight=Normal("10 pA", "5 pA", low="0 pA", high="15 pA"), name="n")
    assert nrm.synapses.weight.min() >= 0 and nrm.synapses.weight.max() <= 15e-12
    assert nrm.synapses.weight.mean() == pytest.approx(9.5e-12, rel=0.1)
    dl = net.connect(a, b, FixedProbability(0.2), weight="1 pA", delay=Uniform("1 ms", "3 ms"), name="d")
    assert dl.synapses.delay.min() >= 10 and dl.synapses.delay.max() <= 30


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(weight="1 mV"), r"connection\.a_to_b\.weight: '1 mV' is a voltage but a current is expected"),
        (dict(weight="1 pA", delay="0.15 ms"), r"connection\.a_to_b\.delay: delay .* is not a multiple of dt"),
        (dict(weight="1 pA", receptor="glutamate"), r"connection\.a_to_b\.receptor"),
        (dict(), r"connection\.a_to_b\.weight: required"),
        (dict(weight="1 pA", delay="-1 ms"), r"connection\.a_to_b\.delay"),
    ],
)
def test_bad_connections_name_the_field(kwargs, message):
    net, a, b = two_pops()
    with pytest.raises(ValueError, match=message):
        net.connect(a, b, FixedProbability(0.1), **kwargs)


def test_explicit_array_shape_mismatch():
    net, a, b = two_pops(3, 3)
    with pytest.raises(ValueError, match=r"connector\.post: has 2 entries but pre has 3"):
        net.connect(a, b, FromArrays([0, 1, 2], [0, 1], weight=1e-12))
    with pytest.raises(ValueError, match=r"connector\.weight: has 2 entries"):
        net.connect(a, b, FromArrays([0, 1, 2], [0, 1, 2], weight=[1e-12, 2e-12]))


def test_connection_to_a_population_of_another_network_is_rejected():
    net1, a, _ = two_pops()
    net2, _, b = two_pops()
    with pytest.raises(ValueError, match="belongs to another network"):
        net1.connect(a, b, FixedProbability(0.1), weight="1 pA")


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_probability_out_of_range(p):
    with pytest.raises(ValueError, match=r"connector\.p"):
        FixedProbability(p)


def test_same_seed_same_connectivity_different_seed_different():
    def build(seed):
        net, a, b = two_pops(seed=seed)
        return net.connect(a, b, FixedProbability(0.1), weight=Uniform("1 pA", "2 pA")).synapses
    s1, s2, s3 = build(5), build(5), build(6)
    assert np.array_equal(s1.post, s2.post) and np.array_equal(s1.weight, s2.weight)
    assert not np.array_equal(s1.post, s3.post)


def test_fixed_in_degree_sparse_draws_are_uniform_over_subsets():
    """The sparse path (4k <= n) redraws repeated values: every k-subset stays equally likely."""
    from collections import Counter

    from scipy import stats

    from neurosim.connectivity.connectors import _distinct_rows

    rows = _distinct_rows(110_000, 12, 3, np.random.default_rng(2), False, "k")
    assert all(len(set(r)) == 3 for r in rows[:1000].tolist())
    counts = np.array(list(Counter(tuple(sorted(r)) for r in rows.tolist()).values()))
    assert counts.size == 220 and stats.chisquare(counts).pvalue > 1e-3


def test_fixed_in_degree_with_many_expected_repeats_completes():
    """k = 200 of 2000 repeats about 10 values per row: the rows are mended, not redrawn whole."""
    from neurosim.connectivity.connectors import _distinct_rows

    rows = _distinct_rows(2500, 2000, 200, np.random.default_rng(0), True, "k")
    srt = np.sort(rows, axis=1)
    assert not np.any(srt[:, 1:] == srt[:, :-1])
    assert not np.any(rows == np.arange(2500)[:, None])
