"""Willshaw / clique memories: storage, noise, k-WTA retrieval and the closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.models import willshaw as ws


def test_storage_is_the_union_of_cliques():
    msgs = np.zeros((2, 6), bool)
    msgs[0, [0, 1, 2]] = True
    msgs[1, [2, 4]] = True
    w = ws.store(msgs)
    expected = {(0, 1), (0, 2), (1, 2), (2, 4)}
    edges = {(i, j) for i, j in zip(*np.nonzero(np.triu(w)))}
    assert edges == expected
    np.testing.assert_array_equal(w, w.T)
    assert not w.diagonal().any()


def test_messages_have_the_layout():
    rng = np.random.default_rng(0)
    plain = ws.messages(ws.Layout(100, 7), 50, rng)
    assert np.all(plain.sum(axis=1) == 7)
    layout = ws.Layout(60, 4, clusters=4)
    clustered = ws.messages(layout, 50, rng)
    assert np.all(clustered.reshape(50, 4, 15).sum(axis=2) == 1)


@pytest.mark.parametrize("layout,count", [(ws.Layout(512, 8), 1500), (ws.Layout(512, 8, clusters=8), 2000)])
def test_density_matches_the_closed_form(layout, count):
    w = ws.store(ws.messages(layout, count, np.random.default_rng(1)))
    d = ws.density_theory(layout, count)
    pairs = layout.n * (layout.n - 1) / 2
    assert 0.1 < d < 0.5
    assert ws.density(w, layout) == pytest.approx(d, abs=4 * np.sqrt(d * (1 - d) / pairs) + 2e-3)


def test_corruption_counts():
    rng = np.random.default_rng(2)
    layout = ws.Layout(200, 10)
    msgs = ws.messages(layout, 20, rng)
    cues = ws.corrupt(msgs, layout, 4, 3, rng)
    assert np.all((cues & msgs).sum(axis=1) == 6)
    assert np.all((cues & ~msgs).sum(axis=1) == 3)
    clustered = ws.Layout(80, 8, clusters=8)
    msgs = ws.messages(clustered, 20, rng)
    cues = ws.corrupt(msgs, clustered, 3, 2, rng)
    per_cluster = cues.reshape(20, 8, 10).sum(axis=2)
    assert np.all((per_cluster == 0).sum(axis=1) >= 1) and np.all((cues & msgs).sum(axis=1) == 5)


def test_low_load_retrieval_is_exact_even_with_noise():
    rng = np.random.default_rng(3)
    layout = ws.Layout(1024, 10)
    msgs = ws.messages(layout, 100, rng)
    w = ws.store(msgs)
    for erased, inserted in ((5, 0), (2, 2)):
        out = ws.retrieve(w, ws.corrupt(msgs, layout, erased, inserted, rng), layout, iterations=2)
        np.testing.assert_array_equal(out, msgs)


@pytest.mark.parametrize("layout,count,erased", [(ws.Layout(1024, 8, clusters=8), 3000, 4),
                                                  (ws.Layout(1024, 10), 2000, 5)])
def test_error_rate_matches_the_closed_form(layout, count, erased):
    rng = np.random.default_rng(4)
    msgs = ws.messages(layout, count, rng)
    test = msgs[:400]
    out = ws.retrieve(ws.store(msgs), ws.corrupt(test, layout, erased, 0, rng), layout)
    error = 1.0 - np.all(out == test, axis=1).mean()
    theory = 1.0 - ws.success_theory(layout, count, layout.c - erased)
    assert 0.05 < theory < 0.6
    assert error == pytest.approx(theory, abs=4 * np.sqrt(theory * (1 - theory) / 400) + 0.03)


def test_error_rate_grows_with_the_number_of_messages():
    rng = np.random.default_rng(5)
    layout = ws.Layout(256, 6)
    errors = []
    for count in (50, 300, 900):
        msgs = ws.messages(layout, count, rng)
        out = ws.retrieve(ws.store(msgs), ws.corrupt(msgs[:200], layout, 3, 0, rng), layout)
        errors.append(1.0 - np.all(out == msgs[:200], axis=1).mean())
    assert errors[0] == 0.0 and errors[0] < errors[1] < errors[2]


def test_willshaw_bad_input_names_the_field():
    with pytest.raises(ValueError, match="^clusters:"):
        ws.Layout(100, 7, clusters=7)
    with pytest.raises(ValueError, match="^c:"):
        ws.Layout(100, 5, clusters=4)
    with pytest.raises(ValueError, match="^c:"):
        ws.Layout(100, 1)
    layout = ws.Layout(20, 4)
    with pytest.raises(ValueError, match="^erased:"):
        ws.corrupt(np.zeros((1, 20), bool), layout, 4, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="^iterations:"):
        ws.retrieve(np.zeros((20, 20), bool), np.zeros((1, 20), bool), layout, iterations=0)
