"""Classical and modern Hopfield networks: couplings, dynamics, AGS theory, the retrieval-error
bound, energy descent, and the PyTorch layers against the NumPy implementation."""

from __future__ import annotations

import decimal
import math
from decimal import Decimal

import numpy as np
import pytest
import torch

from neurosim.models import dense_hebbian as dh
from neurosim.models.chain_rng import streams
from neurosim.models.hopfield import classical, modern
from neurosim.models.hopfield.torch_layers import Hopfield, HopfieldLayer, HopfieldPooling, hopfield_core, retrieve
from neurosim.models.overlap_mc import sweep


def patterns(k, n, seed=0):
    return classical.random_patterns(k, n, np.random.default_rng(seed))


# --- classical ---------------------------------------------------------------------------

def test_hebbian_couplings_and_energy_follow_the_definitions():
    xi = patterns(5, 40)
    j = classical.hebbian_couplings(xi)
    assert j[3, 7] == pytest.approx(xi[:, 3].astype(float) @ xi[:, 7] / 40)
    np.testing.assert_array_equal(j, j.T)
    assert np.all(np.diag(j) == 0)
    s = xi[0].astype(float)
    assert classical.energy(j, xi[0])[0] == pytest.approx(-0.5 * sum(j[a, b] * s[a] * s[b] for a in range(40)
                                                                     for b in range(40)))


def test_asynchronous_dynamics_descend_to_a_fixed_point():
    xi = patterns(30, 100, 1)
    j = classical.hebbian_couplings(xi)
    s = np.random.default_rng(2).choice(np.array([-1, 1], dtype=np.int8), size=(3, 100))
    e = classical.energy(j, s)
    for _ in range(20):
        s = classical.asynchronous(j, s, max_sweeps=1)
        e_new = classical.energy(j, s)
        assert np.all(e_new <= e + 1e-12)
        e = e_new
    h = s.astype(float) @ j
    assert np.all((h * s >= 0))  # every site agrees with its field (or the field is 0)
    np.testing.assert_array_equal(classical.synchronous_step(j, s), s)


def test_synchronous_step_is_sign_of_the_field():
    xi = patterns(10, 50, 3)
    j = classical.hebbian_couplings(xi)
    s = np.random.default_rng(4).choice(np.array([-1, 1], dtype=np.int8), size=(2, 50))
    h = s.astype(float) @ j
    np.testing.assert_array_equal(classical.synchronous_step(j, s), np.where(h > 0, 1, np.where(h < 0, -1, s)))


def test_glauber_on_couplings_equals_the_overlap_kernel():
    """Two implementations of the same Markov chain (J-based fields, zero diagonal; overlap-based
    energy differences of H = −(N/2) Σ m²) draw the same numbers and make the same moves."""
    xi = patterns(6, 300, 5)
    start = np.repeat(xi[:1], 3, axis=0)
    start[:, :100] *= -1
    a = classical.glauber(classical.hebbian_couplings(xi), start, streams(3, 3), 1.3, 8)
    b = sweep(dh.storage_energy(xi, 2), start, streams(3, 3), 1.3, 8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[2], b[2])


def test_ags_theory_gives_the_published_capacity():
    """Amit, Gutfreund & Sompolinsky, Phys. Rev. Lett. 55, 1530 (1985): at T = 0 the retrieval
    solution disappears at α_c ≈ 0.138 with m ≈ 0.967 (published numbers, not the module's
    constants). A variant with r = 1/(1 − C) (no square) or without the √2 moves α_c outside
    0.1375-0.1385."""
    assert not math.isnan(classical.ags_overlap(0.1375)) and math.isnan(classical.ags_overlap(0.1385))
    assert classical.ags_overlap(0.1379) == pytest.approx(0.967, abs=0.003)  # just below α_c
    assert classical.ags_overlap(0.05) > 0.9999  # ~erf(1/√(2α)) = 1 − 8e-6 at low load
    assert classical.ALPHA_C == pytest.approx(0.138, abs=0.0005) and classical.M_C == pytest.approx(0.967, abs=0.001)


def test_retrieval_below_and_breakdown_above_capacity():
    n = 1000
    for alpha, low, high in ((0.05, 0.99, 1.0), (0.25, -1.0, 0.6)):
        xi = patterns(round(alpha * n), n, 6)
        s = classical.asynchronous(classical.hebbian_couplings(xi), xi[:4])
        m = np.einsum("bi,bi->b", s.astype(float), xi[:4]) / n
        assert np.all((low <= m) & (m <= high)), (alpha, m)


# --- modern (NumPy) ----------------------------------------------------------------------

def test_small_beta_returns_the_mean_pattern():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((30, 8))
    out = modern.update(x, rng.standard_normal((4, 8)), 1e-9)
    np.testing.assert_allclose(out, np.broadcast_to(x.mean(axis=0), out.shape), atol=1e-7)


def by_hand_update(x, xi, beta, digits=None):
    """One modern-Hopfield update ξ_new = Σ_j p_j x_j, p_j = exp(β x_j·ξ) / Σ_k exp(β x_k·ξ)
    (Ramsauer et al. 2020), written as plain loops over the rows of ``xi``: floats with
    math.exp, or, with ``digits``, exact decimal arithmetic (returns the Decimal softmax weights
    and states)."""
    if digits is None:
        out = np.zeros_like(xi, dtype=float)
        for b, state in enumerate(xi):
            scores = [beta * sum(float(a) * float(c) for a, c in zip(row, state)) for row in x]
            top = max(scores)
            weights = [math.exp(v - top) for v in scores]
            total = sum(weights)
            for w, row in zip(weights, x):
                out[b] += (w / total) * row
        return out
    with decimal.localcontext() as ctx:
        ctx.prec = digits
        big_x = [[Decimal(float(v)) for v in row] for row in x]
        weights = []
        for state in xi:
            s = [Decimal(float(v)) for v in state]
            w = [(Decimal(beta) * sum((a * c for a, c in zip(row, s)), Decimal(0))).exp() for row in big_x]
            total = sum(w, Decimal(0))
            weights.append([v / total for v in w])
        return weights, big_x


def test_update_is_the_softmax_of_the_similarities_by_hand():
    rng = np.random.default_rng(15)
    x, xi = rng.standard_normal((9, 5)), rng.standard_normal((3, 5))
    for beta in (0.3, 2.0):
        np.testing.assert_allclose(modern.update(x, xi, beta), by_hand_update(x, xi, beta), rtol=1e-12, atol=1e-13)


def test_one_step_error_is_within_the_published_bound_and_tiny_at_large_beta():
    """The error after one update, computed here as ‖f(ξ) − x_i‖ in 200-digit decimal
    arithmetic (it reaches 1e-137 at β = 8, far below float cancellation), against the module's
    value, and the retrieval bound of Ramsauer et al. 2020,
    ‖f(ξ) − x_i‖ ≤ 2(N − 1) exp(−β(Δ_i − 2M‖ξ − x_i‖)) M, evaluated plainly (Δ_i and M by brute
    force; ‖ξ − x_i‖ in place of the paper's max{‖ξ − x_i‖, ‖x_i* − x_i‖}, a bound at least as
    tight: see hopfield.modern)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((200, 64))
    target = np.arange(6)
    xi = x[target] + 0.02 * rng.standard_normal((6, 64))
    big_m = max(math.sqrt(sum(v * v for v in row)) for row in x)
    gram = x @ x.T
    for beta in (0.5, 1.0, 2.0, 8.0):
        weights, big_x = by_hand_update(x, xi, beta, digits=200)
        for b, i in enumerate(target):
            with decimal.localcontext() as ctx:
                ctx.prec = 200
                f = [sum((w * row[k] for w, row in zip(weights[b], big_x)), Decimal(0)) for k in range(64)]
                exact = float(sum(((f[k] - big_x[i][k]) ** 2 for k in range(64)), Decimal(0)).sqrt())
            delta = gram[i, i] - max(gram[i, j] for j in range(200) if j != i)
            dist = math.sqrt(sum((a - c) ** 2 for a, c in zip(xi[b], x[i])))
            bound = 2 * 199 * math.exp(-beta * (delta - 2 * big_m * dist)) * big_m
            assert modern.retrieval_error(x, xi[b], i, beta)[0] == pytest.approx(exact, rel=1e-9, abs=0)
            assert modern.retrieval_error_bound(x, xi[b], i, beta)[0] == pytest.approx(bound, rel=1e-9, abs=0)
            assert exact <= bound
            if beta == 8.0:
                assert exact < 1e-30 and bound < 1e-30
    err = np.linalg.norm(modern.update(x, xi, 0.5) - x[target], axis=1)  # float path: cancellation ~1e-15
    np.testing.assert_allclose(err, modern.retrieval_error(x, xi, target, 0.5), rtol=0, atol=1e-13)


def test_energy_never_increases_along_the_iteration():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((40, 10))
    xi = rng.standard_normal((6, 10))
    for beta in (0.1, 1.0, 5.0):
        s, e = xi, modern.energy(x, xi, beta)
        for _ in range(25):
            s = modern.update(x, s, beta)
            e_new = modern.energy(x, s, beta)
            assert np.all(e_new <= e + 1e-10)
            e = e_new


def test_energy_formula():
    x = np.array([[1.0, 0.0], [0.0, 2.0]])
    xi = np.array([0.5, -1.0])
    beta = 0.7
    lse = math.log(math.exp(beta * 0.5) + math.exp(beta * -2.0)) / beta
    expected = -lse + 0.5 * (0.25 + 1.0) + math.log(2) / beta + 0.5 * 4.0
    assert modern.energy(x, xi, beta)[0] == pytest.approx(expected)
    assert modern.separation(x)[1] == pytest.approx(4.0 - 0.0)


def test_retrieval_holds_far_beyond_the_classical_capacity():
    d, n = 32, 320  # 10 d patterns: 70 times 0.138 d
    xi = patterns(n, d, 10).astype(float)
    rng = np.random.default_rng(11)
    q = xi.copy()
    for row in q:
        row[rng.choice(d, size=3, replace=False)] *= -1
    assert np.array_equal(np.sign(modern.update(xi, q, 1.0)), xi)
    classical_fixed = classical.asynchronous(classical.hebbian_couplings(xi.astype(np.int8)), q.astype(np.int8))
    assert np.mean(np.all(classical_fixed == xi, axis=1)) < 0.1


def test_retrieve_stops_on_the_softmax_change():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((20, 6))
    xi = 0.1 * rng.standard_normal((3, 6))
    out, steps = modern.retrieve(x, xi, 0.5, max_updates=None, eps=1e-6)
    p_last = modern.association(x, out, 0.5)
    assert 1 < steps < 1000
    assert np.linalg.norm(modern.update(x, out, 0.5) - out, axis=1).max() < 1e-4
    assert p_last.shape == (3, 20)
    assert modern.retrieve(x, xi, 0.5, max_updates=1)[1] == 1


def test_capacity_bound_reproduces_the_published_constants():
    """Ramsauer et al. 2020, Theorem 3 (restated as Theorem 2.3 of Hopular, arXiv 2206.00664):
    "proven for c >= 3.1546 with β = 1, K = 3, d = 20 and p = 0.001 (a + ln(b) > 1.27) and for
    c >= 1.3718 with β = 1, K = 1, d = 75, p = 0.001 (a + ln(b) < −0.94)". The constants are
    quoted to 4 decimals (truncated), so c must lie in [quoted, quoted + 1e-4); a slip in a
    (2/(d−1) vs 2/d) or b (2/5 vs 1/5) moves c by more than 0.01."""
    for d, k, quoted in ((20, 3.0, 3.1546), (75, 1.0, 1.3718)):
        bound, c, valid = modern.capacity_bound(d, 1.0, k, 0.001)
        assert quoted <= c < quoted + 1e-4, (d, c)
        assert bound == pytest.approx(math.sqrt(0.001) * c ** ((d - 1) / 4), rel=1e-12)
        assert valid == (bound >= 2.0)
    assert modern.capacity_bound(20, 1.0, 3.0, 0.001)[2] and not modern.capacity_bound(8, 1.0, 3.0, 0.001)[2]


def test_storage_checks_match_brute_force():
    """Both per-pattern checks against plain loops: Δ_i = x_iᵀx_i − max_{j≠i} x_iᵀx_j against
    2/(βN) + β⁻¹ ln(2(N−1)NβM²), and ‖Σ_j p_j x_j − x_i‖ against 1/(βNM) after one update from
    x_i. The parameters put some patterns on each side of both thresholds."""
    rng = np.random.default_rng(21)
    x = modern.sphere_patterns(30, 6, 2.0 * math.sqrt(5), rng)
    beta, n, m2 = 1.0, 30, 20.0
    separated, retrieved = modern.storage_checks(x, beta, chunk=7)
    for i in range(n):
        others = max(float(x[i] @ x[j]) for j in range(n) if j != i)
        assert separated[i] == (m2 - others >= 2 / (beta * n) + math.log(2 * (n - 1) * n * beta * m2) / beta)
        weights = [math.exp(beta * float(x[i] @ x[j])) for j in range(n)]
        step = sum(wj * x[j] for j, wj in enumerate(weights)) / sum(weights) - x[i]
        assert retrieved[i] == (float(np.linalg.norm(step)) <= 1 / (beta * n * math.sqrt(m2)))
    assert 0 < separated.sum() < n and 0 < retrieved.sum() < n
    assert np.all(retrieved[separated])  # the theorem's lemma: separated => f maps S_i into S_i


def test_pair_estimate_is_the_median_capacity():
    """At the estimated median N*, the fraction of pattern sets whose every pattern passes the
    separation condition must be 1/2: 400 sets at d = 10 (N* = 49), binomial standard error
    0.025, band ±0.08 (3.2 σ). A Poisson count off by a factor 2 would give 0.29 or 0.71."""
    n_star = modern.separation_capacity_estimate(10, 1.0, 3.0)
    assert 40 < n_star < 60
    rng = np.random.default_rng(22)
    n = round(n_star)
    passed = [modern.storage_checks(modern.sphere_patterns(n, 10, 3.0 * 3.0, rng), 1.0)[0].all() for _ in range(400)]
    assert abs(np.mean(passed) - 0.5) < 0.08, np.mean(passed)


def test_measured_capacity_grows_exponentially_above_the_theorem(tmp_path):
    """The experiment's capacity against d (β = 1, K = 3, 3 draws, d = 8…16): the theorem's
    bound (a lower bound at probability 1 − p) lies below the smallest measured separation
    capacity wherever the theorem applies, by more than a factor 3 (seeds 5, 6, 7: 1.6, 0.9
    and 1.8 decades); log10 capacity is a straight line in d (exponential law) whose slope is
    the pair estimate's, 0.178 per dimension (seeds 5-7: 0.173, 0.225, 0.188; band ±0.05 for
    the √2 grid and 3 draws), steeper than the bound's 0.115. The theorem's lemma (separation
    ⇒ S_i maps into itself) makes the one-step capacity at least the separation capacity."""
    import tomli_w

    from neurosim.cli import main
    from neurosim.io import load

    config = {"schema_version": 1, "name": "capacity", "task": "memory", "output": {"overwrite": "overwrite"},
              "memory": {"experiment": "modern_hopfield", "seed": 5, "modern_hopfield": {
                  "dim": 16, "betas": [0.1, 1.0], "patterns_for_beta": 16, "patterns": [2, 16], "queries": 4,
                  "capacity_dims": [8, 10, 12, 14, 16]}}}
    path = tmp_path / "capacity.toml"
    path.write_text(tomli_w.dumps(config))
    assert main(["run", str(path), "--out", str(tmp_path / "c.h5"), "--quiet"]) == 0
    m = load(tmp_path / "c.h5").metrics
    assert 0.5 < m["capacity_margin"] and 12 < m["theorem_min_dim"] < 14
    assert abs(m["capacity_slope_separated"] - 0.178) < 0.05, m["capacity_slope_separated"]
    assert m["capacity_slope_theory"] == pytest.approx(0.115, abs=0.002)
    d, y = m["capacity_dim"], m["log10_capacity_separated"]
    residual = y - np.polyval(np.polyfit(d, y, 1), d)
    assert np.abs(residual).max() < 0.16  # one grid step: straight in log scale
    assert np.all(m["log10_capacity_retrieved"] >= y)


def test_modern_bad_input_names_the_field():
    with pytest.raises(ValueError, match="^beta:"):
        modern.update(np.ones((2, 3)), np.ones(3), 0.0)
    with pytest.raises(ValueError, match="^state:"):
        modern.update(np.ones((2, 3)), np.ones(4), 1.0)
    with pytest.raises(ValueError, match="^max_updates:"):
        modern.retrieve(np.ones((2, 3)), np.ones(3), 1.0, max_updates=0)


# --- PyTorch layers ----------------------------------------------------------------------

def bare(**kw):
    """A Hopfield module without projections or normalisation: the plain update rule (hflayers
    refuses affine normalisation without normalisation, so both flags are switched off)."""
    off = {f"normalize_{p}{s}": False for p in ("stored_pattern", "state_pattern", "pattern_projection")
           for s in ("", "_affine")}
    return Hopfield(kw.pop("size", 8), stored_pattern_as_static=True, state_pattern_as_static=True,
                    pattern_projection_as_static=True, disable_out_projection=True, **off, **kw).double()


def test_torch_module_equals_numpy_one_step_and_iterated():
    rng = np.random.default_rng(13)
    x, xi = rng.standard_normal((25, 8)), rng.standard_normal((4, 8))
    inputs = (torch.tensor(x)[None], torch.tensor(xi)[None], torch.tensor(x)[None])
    out = bare(scaling=0.8)(inputs)[0].detach().numpy()
    np.testing.assert_allclose(out, by_hand_update(x, xi, 0.8), atol=1e-12)
    iterated, steps = modern.retrieve(x, xi, 0.8, max_updates=None, eps=1e-4)
    out = bare(scaling=0.8, update_steps_max=None, update_steps_eps=1e-4)(inputs)[0].detach().numpy()
    assert steps > 1
    np.testing.assert_allclose(out, iterated, atol=1e-12)
    np.testing.assert_allclose(retrieve(torch.tensor(x), torch.tensor(xi), 0.8).numpy(), modern.update(x, xi, 0.8),
                               atol=1e-12)


def test_static_patterns_are_used_whole_by_every_head():
    """As in hflayers, every head reads the whole static pattern; with one β per head, head h
    is the NumPy update at β_h, and the heads' outputs are concatenated."""
    rng = np.random.default_rng(14)
    x, xi = rng.standard_normal((12, 8)), rng.standard_normal((3, 8))
    module = bare(num_heads=2, scaling=torch.tensor([0.5, 2.0]))
    out = module((torch.tensor(x)[None], torch.tensor(xi)[None], torch.tensor(x)[None]))
    expected = np.concatenate([modern.update(x, xi, 0.5), modern.update(x, xi, 2.0)], 1)
    np.testing.assert_allclose(out[0].detach().numpy(), expected, atol=1e-12)


def test_padding_mask_removes_stored_patterns():
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    mask = torch.tensor([[False, False, True, False, True]])
    assoc = bare().get_association_matrix((x, x, x), mask)
    assert torch.all(assoc[..., [2, 4]] == 0)
    torch.testing.assert_close(assoc.sum(-1), torch.ones_like(assoc.sum(-1)))


def test_layers_are_differentiable_and_shaped_like_hflayers():
    torch.manual_seed(0)
    data = torch.randn(3, 7, 16)
    hopfield = Hopfield(16, hidden_size=8, num_heads=2, output_size=5, update_steps_max=3)
    lookup = HopfieldLayer(16, quantity=6)
    pooling = HopfieldPooling(16, quantity=2, num_heads=4)
    assert hopfield.scaling == pytest.approx(1 / math.sqrt(8))
    outs = [hopfield(data), lookup(data), pooling(data)]
    assert [tuple(o.shape) for o in outs] == [(3, 7, 5), (3, 7, 16), (3, 32)]
    assert tuple(lookup.get_association_matrix(data).shape) == (3, 1, 7, 6)
    sum(o.square().sum() for o in outs).backward()
    for module in (hopfield, lookup, pooling):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
    assert lookup.lookup_weights.grad.abs().sum() > 0 and pooling.pooling_weights.grad.abs().sum() > 0


def test_core_iteration_limit():
    """update_steps_max = 0 is one update, 1 one more (hflayers' count)."""
    r, y = torch.randn(2, 1, 4, 6, dtype=torch.float64), torch.randn(2, 1, 9, 6, dtype=torch.float64)
    one, _ = hopfield_core(r, y, y, 0.3, update_steps_max=0)
    two, _ = hopfield_core(r, y, y, 0.3, update_steps_max=1, update_steps_eps=1e-300)
    manual = torch.softmax(0.3 * one @ y.transpose(-2, -1), -1) @ y
    torch.testing.assert_close(two, manual)


def test_torch_bad_input_names_the_field():
    with pytest.raises(ValueError, match="^hidden_size:"):
        Hopfield(16, num_heads=3)
    with pytest.raises(ValueError, match="^input:"):
        Hopfield(4, hidden_size=2, state_pattern_as_static=True)(torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match="^quantity:"):
        HopfieldLayer(16, quantity=0)
    with pytest.raises(ValueError, match="^dropout:"):
        Hopfield(16, dropout=1.0)
