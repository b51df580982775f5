"""API parity of :mod:`neurosim.models.hopfield.torch_layers` with hflayers (Ramsauer et al. 2020,
github.com/ml-jku/hopfield-layers, ``hflayers/__init__.py``, ``functional.py``, ``activation.py``).

The reference below restates hflayers' documented forward pass in plain torch, one batch entry
and one head at a time with 2-D matrices (not by calling the code under test): LayerNorm of the
inputs; per-head linear projections (rows h·width … (h+1)·width of each projection matrix); a
static pattern used whole by every head; LayerNorm in the association space; appended bias and
zero patterns; masks; A = softmax(β R Yᵀ + mask); the per-head iteration A ← softmax(β (A Y) Yᵀ
+ mask), a head stopping once it has made ``update_steps_max`` updates or once the largest
Frobenius change of its association matrices over the batch is <= ``update_steps_eps``; A V per
head, heads concatenated, the output projection, the activation. Weights are drawn at random in
the module and copied into the reference. Everything runs in float64, so the tolerance 1e-10
is rounding only: a different projection row order, a missing bias or one update more or less
(a change of more than 1e-8 in these settings, checked below) fails.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch

from neurosim.models.hopfield.torch_layers import Hopfield, HopfieldLayer, HopfieldPooling, hopfield_core

TOL = dict(rtol=1e-10, atol=1e-10)

#: hflayers' defaults, as written in its ``__init__`` signatures
HOPFIELD_DEFAULTS = dict(
    input_size=None, hidden_size=None, output_size=None, pattern_size=None, num_heads=1, scaling=None,
    update_steps_max=0, update_steps_eps=1e-4,
    normalize_stored_pattern=True, normalize_stored_pattern_affine=True, normalize_stored_pattern_eps=1e-5,
    normalize_state_pattern=True, normalize_state_pattern_affine=True, normalize_state_pattern_eps=1e-5,
    normalize_pattern_projection=True, normalize_pattern_projection_affine=True,
    normalize_pattern_projection_eps=1e-5, normalize_hopfield_space=False, normalize_hopfield_space_affine=False,
    normalize_hopfield_space_eps=1e-5, stored_pattern_as_static=False, state_pattern_as_static=False,
    pattern_projection_as_static=False, pattern_projection_as_connected=False, stored_pattern_size=None,
    pattern_projection_size=None, batch_first=True, association_activation=None, dropout=0.0, input_bias=True,
    concat_bias_pattern=False, add_zero_association=False, disable_out_projection=False)
WRAPPER_SHARED = {k: v for k, v in HOPFIELD_DEFAULTS.items() if not k.endswith("_eps") or k == "update_steps_eps"}
POOLING_DEFAULTS = {**WRAPPER_SHARED, "quantity": 1, "trainable": True}
LAYER_DEFAULTS = {**WRAPPER_SHARED, "lookup_weights_as_separated": False, "lookup_targets_as_trainable": True,
                  "quantity": 1, "trainable": True}


def defaults(cls) -> dict:
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}


def test_arguments_and_defaults_are_hflayers():
    """Same argument names and defaults as hflayers' Hopfield, HopfieldPooling, HopfieldLayer
    (input_size is required by the two wrappers)."""
    assert defaults(Hopfield) == HOPFIELD_DEFAULTS
    for cls, expected in ((HopfieldPooling, POOLING_DEFAULTS), (HopfieldLayer, LAYER_DEFAULTS)):
        got = defaults(cls)
        assert got.pop("input_size") is inspect.Parameter.empty
        assert got == {k: v for k, v in expected.items() if k != "input_size"}
    assert Hopfield(16).scaling == pytest.approx(1 / 4) and Hopfield(16, num_heads=4).scaling == pytest.approx(1 / 2)
    static = Hopfield(None, stored_pattern_as_static=True, state_pattern_as_static=True,
                      pattern_projection_as_static=True, disable_out_projection=True, normalize_stored_pattern=False,
                      normalize_stored_pattern_affine=False, normalize_state_pattern=False,
                      normalize_state_pattern_affine=False, normalize_pattern_projection=False,
                      normalize_pattern_projection_affine=False)
    assert static.scaling == 1.0 and not list(static.parameters())


# --- the reference ------------------------------------------------------------------------

def layer_norm(x, weight, bias, eps):
    """(x − mean) / √(var + eps) · weight + bias over the last axis (biased variance)."""
    mu = x.mean(-1, keepdim=True)
    y = (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + eps)
    return y if weight is None else y * weight + bias


def read_weights(m: Hopfield) -> dict:
    """The module's parameters, by role, as plain tensors (None where absent)."""
    def get(layer, attr):
        return None if layer is None or getattr(layer, attr, None) is None else getattr(layer, attr).detach().clone()
    w = {f"{r}_{a}": get(getattr(m, f"{r}_proj"), a) for r in "qkv" for a in ("weight", "bias")}
    w.update(out_weight=get(m.out_proj, "weight"), out_bias=get(m.out_proj, "bias"))
    for role, norm in (("stored", m.norm_stored_pattern), ("state", m.norm_state_pattern),
                       ("projection", m.norm_pattern_projection)):
        w[f"norm_{role}"] = None if norm is None else (get(norm, "weight"), get(norm, "bias"), norm.eps)
    for name in ("p_norm_weight", "p_norm_bias", "bias_k", "bias_v"):
        value = getattr(m, name)
        w[name] = None if value is None else value.detach().clone()
    return w


def linear_rows(x, weight, bias, rows):
    out = x @ weight[rows].T
    return out if bias is None else out + bias[rows]


def reference(cfg: dict, w: dict, stored, state, projection, padding=None, amask=None):
    """hflayers' forward (module doc) from the options ``cfg`` (hflayers' names) and weights ``w``."""
    heads = cfg.get("num_heads", 1)
    first = cfg.get("batch_first", True)
    if not first:
        stored, state, projection = (t.transpose(0, 1) for t in (stored, state, projection))
    for key, role in (("stored", "stored"), ("state", "state"), ("projection", "projection")):
        if w[f"norm_{role}"] is not None:
            gamma, beta_ln, eps = w[f"norm_{role}"]
            if role == "stored":
                stored = layer_norm(stored, gamma, beta_ln, eps)
            elif role == "state":
                state = layer_norm(state, gamma, beta_ln, eps)
            else:
                projection = layer_norm(projection, gamma, beta_ln, eps)
    batch, s_len, n_len = stored.shape[0], state.shape[1], stored.shape[1]
    hd = cfg.get("hidden_size") or (cfg["input_size"] // heads if cfg.get("input_size") else state.shape[-1])
    pd = cfg.get("pattern_size") or hd
    scaling = cfg.get("scaling", 1.0 / math.sqrt(hd))
    limit = cfg.get("update_steps_max", 0)
    eps = cfg.get("update_steps_eps", 1e-4)
    extra = int(cfg.get("concat_bias_pattern", False)) + int(cfg.get("add_zero_association", False))
    head_out = []
    assoc_all = []
    for h in range(heads):
        rows, prow = slice(h * hd, (h + 1) * hd), slice(h * pd, (h + 1) * pd)
        beta = float(scaling[h]) if isinstance(scaling, torch.Tensor) else scaling
        max_h = int(limit[h]) if isinstance(limit, torch.Tensor) else (-1 if limit is None else limit)
        eps_h = float(eps[h]) if isinstance(eps, torch.Tensor) else eps
        r_s, y_s, v_s, m_s = [], [], [], []
        for b in range(batch):
            r = state[b] if w["q_weight"] is None else linear_rows(state[b], w["q_weight"], w["q_bias"], rows)
            y = stored[b] if w["k_weight"] is None else linear_rows(stored[b], w["k_weight"], w["k_bias"], rows)
            v = projection[b]
            if cfg.get("pattern_projection_as_connected") and w["k_weight"] is not None:
                v = v @ w["k_weight"].T + (0 if w["k_bias"] is None else w["k_bias"])
                if w["v_weight"] is None:
                    v = v[:, rows]
            if w["v_weight"] is not None:
                v = linear_rows(v, w["v_weight"], w["v_bias"], prow)
            if cfg.get("normalize_hopfield_space"):
                r = layer_norm(r, w["p_norm_weight"], w["p_norm_bias"], cfg.get("normalize_hopfield_space_eps", 1e-5))
                y = layer_norm(y, w["p_norm_weight"], w["p_norm_bias"], cfg.get("normalize_hopfield_space_eps", 1e-5))
            if cfg.get("concat_bias_pattern"):
                y = torch.cat([y, w["bias_k"][0, :, rows]])
                v = torch.cat([v, w["bias_v"][0, :, prow]])
            if cfg.get("add_zero_association"):
                y = torch.cat([y, torch.zeros(1, y.shape[1], dtype=y.dtype)])
                v = torch.cat([v, torch.zeros(1, v.shape[1], dtype=v.dtype)])
            m = torch.zeros(s_len, n_len + extra, dtype=stored.dtype)
            if amask is not None:
                a = amask if amask.ndim == 2 else amask[b * heads + h]
                a = a.to(torch.bool) if a.dtype == torch.uint8 else a
                add = torch.where(a, float("-inf"), 0.0).to(m.dtype) if a.dtype == torch.bool else a
                m[:, :n_len] += add
            if padding is not None:
                m[:, :n_len] = m[:, :n_len].masked_fill(padding[b][None, :], float("-inf"))
            r_s.append(r), y_s.append(y), v_s.append(v), m_s.append(m)
        assoc = [torch.softmax(beta * r_s[b] @ y_s[b].T + m_s[b], dim=-1) for b in range(batch)]
        step, active = 0, max_h != 0
        while active:
            new = [torch.softmax(beta * (assoc[b] @ y_s[b]) @ y_s[b].T + m_s[b], dim=-1) for b in range(batch)]
            moved = max(float(torch.linalg.matrix_norm(new[b] - assoc[b])) for b in range(batch))
            assoc, step = new, step + 1
            active = (step < max_h or max_h < 0) and moved > eps_h
        head_out.append(torch.stack([assoc[b] @ v_s[b] for b in range(batch)]))
        assoc_all.append(torch.stack(assoc))
    out = torch.cat(head_out, dim=-1)
    if w["out_weight"] is not None:
        out = out @ w["out_weight"].T + (0 if w["out_bias"] is None else w["out_bias"])
    if not first:
        out = out.transpose(0, 1)
    if cfg.get("association_activation"):
        out = getattr(torch, cfg["association_activation"])(out)
    return out, torch.stack(assoc_all, dim=1)


def randomise(module: torch.nn.Module, seed: int) -> None:
    """Random weights (LayerNorm gains around 1) so that every parameter shows in the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            gain = name.endswith("norm_weight") or (name.startswith("norm_") and name.endswith(".weight"))
            p.copy_(float(gain) + (0.3 if gain else 0.6) * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def data(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


NO_NORM = dict(normalize_stored_pattern=False, normalize_stored_pattern_affine=False, normalize_state_pattern=False,
               normalize_state_pattern_affine=False, normalize_pattern_projection=False,
               normalize_pattern_projection_affine=False)

CONFIGS = {
    "defaults": dict(input_size=8),
    "heads": dict(input_size=8, num_heads=2),
    "hidden_pattern_output": dict(input_size=8, num_heads=2, hidden_size=3, pattern_size=5, output_size=4),
    "sizes": dict(input_size=8, stored_pattern_size=6, pattern_projection_size=5, num_heads=2),
    "time_first": dict(input_size=8, num_heads=2, batch_first=False),
    "no_bias": dict(input_size=8, input_bias=False),
    "norm_no_affine": dict(input_size=8, normalize_stored_pattern_affine=False, normalize_state_pattern_affine=False,
                           normalize_stored_pattern_eps=1e-2, normalize_pattern_projection_eps=0.3),
    "no_norm": dict(input_size=8, **NO_NORM),
    "hopfield_space": dict(input_size=8, num_heads=2, normalize_hopfield_space=True),
    "hopfield_space_affine": dict(input_size=8, num_heads=2, normalize_hopfield_space=True,
                                  normalize_hopfield_space_affine=True, normalize_hopfield_space_eps=1e-3),
    "bias_pattern": dict(input_size=8, num_heads=2, concat_bias_pattern=True),
    "zero_association": dict(input_size=8, num_heads=2, add_zero_association=True, concat_bias_pattern=True),
    "connected": dict(input_size=8, num_heads=2, pattern_projection_as_connected=True),
    "connected_static": dict(input_size=8, num_heads=2, pattern_projection_as_connected=True,
                             pattern_projection_as_static=True),
    "static_state": dict(input_size=4, hidden_size=4, stored_pattern_size=8, pattern_projection_size=8, num_heads=2,
                         state_pattern_as_static=True),
    "static_stored": dict(input_size=8, hidden_size=4, stored_pattern_size=4, num_heads=2,
                          stored_pattern_as_static=True),
    "static_projection": dict(input_size=8, num_heads=2, pattern_size=3, pattern_projection_size=3,
                              pattern_projection_as_static=True),
    "all_static": dict(input_size=None, stored_pattern_as_static=True, state_pattern_as_static=True,
                       pattern_projection_as_static=True, disable_out_projection=True, num_heads=2, scaling=0.7,
                       **NO_NORM),
    "no_out_projection": dict(input_size=8, num_heads=2, disable_out_projection=True),
    "activation": dict(input_size=8, association_activation="tanh"),
    "scaling_per_head": dict(input_size=8, num_heads=2, scaling=torch.tensor([0.3, 3.0], dtype=torch.float64),
                             update_steps_max=3, update_steps_eps=1e-12),
    "iterate_to_eps": dict(input_size=8, scaling=2.5, update_steps_max=None, update_steps_eps=1e-3, **NO_NORM),
    "iterate_per_head": dict(input_size=8, num_heads=2, scaling=2.0,
                             update_steps_max=torch.tensor([1, -1]), update_steps_eps=torch.tensor([1e-3, 1e-2]),
                             **NO_NORM),
    "iterate_two": dict(input_size=8, scaling=1.5, update_steps_max=2, update_steps_eps=1e-12, **NO_NORM),
}


def inputs(cfg, seed, batch=3, stored=6, state=4):
    """(stored, state, projection) in the layout of ``cfg``."""
    width_in = cfg.get("input_size") or 4
    sizes = (cfg.get("stored_pattern_size") or width_in, width_in, cfg.get("pattern_projection_size") or width_in)
    lengths = (stored, state, stored)
    first = cfg.get("batch_first", True)
    return tuple(data((batch, n, f) if first else (n, batch, f), seed + j)
                 for j, (n, f) in enumerate(zip(lengths, sizes)))


def make(cfg, seed=0):
    module = Hopfield(**cfg).double()
    randomise(module, seed)
    return module


@pytest.mark.parametrize("name", list(CONFIGS))
def test_forward_equals_the_reference(name):
    """Output and association matrix equal the hflayers reference for each argument (module doc)."""
    cfg = CONFIGS[name]
    module = make(cfg)
    stored, state, projection = inputs(cfg, 10)
    expected, assoc = reference(cfg, read_weights(module), stored, state, projection)
    torch.testing.assert_close(module((stored, state, projection)), expected, **TOL)
    torch.testing.assert_close(module.get_association_matrix((stored, state, projection)), assoc, **TOL)


def test_iteration_runs_several_updates_in_the_tested_settings():
    """The iteration cases above really iterate: one update more or less changes the output by
    far more than the tolerance (so the stopping rule itself is compared)."""
    cfg = CONFIGS["iterate_to_eps"]
    module = make(cfg)
    pats = inputs(cfg, 10)
    out = module(pats)
    w = read_weights(module)
    steps = {}
    for k in range(0, 40):
        steps[k] = reference({**cfg, "update_steps_max": k, "update_steps_eps": 1e-300}, w, *pats)[0]
    matched = [k for k, v in steps.items() if torch.allclose(v, out, **TOL)]
    assert matched and 2 <= matched[0] < 39, matched
    assert (steps[matched[0] - 1] - out).abs().max() > 1e-8


def iterate(r, y, beta, eps, change, per_entry=False):
    """A ← softmax(β (A Y) Yᵀ) from A = softmax(β R Yᵀ) until ``change``(A_new − A_old) <= eps,
    over the whole batch, or (``per_entry``) each batch entry on its own."""
    if per_entry:
        return torch.cat([iterate(r[b:b + 1], y[b:b + 1], beta, eps, change) for b in range(r.shape[0])])
    a = torch.softmax(beta * r @ y.transpose(-2, -1), -1)
    while True:
        new = torch.softmax(beta * (a @ y) @ y.transpose(-2, -1), -1)
        moved, a = float(change(new - a)), new
        if moved <= eps:
            return a


def test_stopping_rule_is_the_largest_frobenius_change_over_the_batch():
    """hflayers stops a head when max over the batch of ‖A_s − A_{s−1}‖_F (the whole state ×
    stored matrix) <= eps. eps is put between that norm and the largest row change (or the
    smallest entry's norm) at the third update, where the rules part: the result must be the
    Frobenius / batch-max one and differ from a row-norm rule and from per-entry stopping by
    far more than the tolerance."""
    gen = torch.Generator().manual_seed(3)
    y = torch.randn(2, 1, 10, 4, generator=gen, dtype=torch.float64)
    r = 0.3 * torch.randn(2, 1, 5, 4, generator=gen, dtype=torch.float64)
    beta = 0.4
    a = [torch.softmax(beta * r @ y.transpose(-2, -1), -1)]
    for _ in range(3):
        a.append(torch.softmax(beta * (a[-1] @ y) @ y.transpose(-2, -1), -1))
    diff = a[3] - a[2]
    fro = torch.linalg.matrix_norm(diff)[:, 0]
    rows = diff.norm(dim=-1).amax()
    for other, (low, per_entry, change) in {
            "row": (rows, False, lambda d: d.norm(dim=-1).amax()),
            "per_entry": (fro.min(), True, lambda d: torch.linalg.matrix_norm(d).amax())}.items():
        assert low < fro.max(), other
        eps = float(torch.sqrt(low * fro.max()))
        hflayers = iterate(r, y, beta, eps, lambda d: torch.linalg.matrix_norm(d).amax())
        wrong = iterate(r, y, beta, eps, change, per_entry)
        got = hopfield_core(r, y, y, beta, update_steps_max=None, update_steps_eps=eps)[1]
        torch.testing.assert_close(got, hflayers, **TOL)
        assert (got - wrong).abs().max() > 1e-8, other


@pytest.mark.parametrize("mask_kind", ["bool_2d", "bool_3d", "float_2d", "uint8_2d", "padding", "both"])
@pytest.mark.parametrize("extra", [False, True])
def test_masks_equal_the_reference(mask_kind, extra):
    """Association masks (bool = excluded, float = added, 2-D or per batch·head), the stored
    pattern padding mask, and both, with and without appended bias / zero patterns (never
    masked)."""
    cfg = dict(CONFIGS["heads"], update_steps_max=2, update_steps_eps=1e-12)
    if extra:
        cfg.update(concat_bias_pattern=True, add_zero_association=True)
    module = make(cfg)
    stored, state, projection = inputs(cfg, 20)
    gen = torch.Generator().manual_seed(5)
    amask = padding = None
    if mask_kind in ("bool_2d", "uint8_2d", "both"):
        amask = torch.rand(4, 6, generator=gen) < 0.3
        amask[:, 0] = False
        amask = amask.to(torch.uint8) if mask_kind == "uint8_2d" else amask
    elif mask_kind == "bool_3d":
        amask = torch.rand(6, 4, 6, generator=gen) < 0.3
        amask[..., 1] = False
    elif mask_kind == "float_2d":
        amask = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    if mask_kind in ("padding", "both"):
        padding = torch.zeros(3, 6, dtype=torch.bool)
        padding[0, 4:] = True
        padding[2, :2] = True
    expected, assoc = reference(cfg, read_weights(module), stored, state, projection, padding, amask)
    torch.testing.assert_close(module((stored, state, projection), padding, amask), expected, **TOL)
    got = module.get_association_matrix((stored, state, projection), padding, amask)
    torch.testing.assert_close(got, assoc, **TOL)
    if padding is not None:
        assert torch.all(got[0, :, :, 4:6] == 0) and torch.all(got[2, :, :, :2] == 0)


@pytest.mark.parametrize("batch_first", [True, False])
def test_shapes_follow_batch_first(batch_first):
    """(batch, sequence, features) with batch_first, (sequence, batch, features) without, for the
    three modules; pooling flattens from dimension 1 as hflayers does."""
    x = torch.randn((3, 7, 8) if batch_first else (7, 3, 8))
    assert tuple(Hopfield(8, output_size=5, batch_first=batch_first)(x).shape) == ((3, 7, 5) if batch_first
                                                                                   else (7, 3, 5))
    pooled = HopfieldPooling(8, quantity=2, batch_first=batch_first)
    assert tuple(pooled.pooling_weights.shape) == ((1, 2, 8) if batch_first else (2, 1, 8))
    assert tuple(pooled(x).shape) == ((3, 16) if batch_first else (2, 24))
    lookup = HopfieldLayer(8, quantity=5, batch_first=batch_first)
    assert tuple(lookup(x).shape) == tuple(x.shape)
    assert tuple(lookup.get_association_matrix(x).shape) == (3, 1, 7, 5)


def test_pooling_is_the_reference_with_its_weights_as_state():
    """HopfieldPooling = Hopfield with the (expanded) pooling weights as state patterns, for one
    input or (stored, projection), and quantity rows of output flattened."""
    cfg = dict(input_size=8, num_heads=2, quantity=3)
    pool = HopfieldPooling(**cfg).double()
    randomise(pool, 1)
    stored, _, projection = inputs(cfg, 30)
    state = pool.pooling_weights.detach().expand(3, -1, -1)
    w = read_weights(pool.hopfield)
    for given, proj in ((stored, stored), ((stored, projection), projection)):
        expected = reference(cfg, w, stored, state, proj)[0]
        torch.testing.assert_close(pool(given), expected.flatten(1), **TOL)
    assert pool(stored).shape == (3, 3 * 8)


def test_lookup_layer_is_the_reference_with_its_weights_as_memory():
    """HopfieldLayer = Hopfield with the lookup weights as stored patterns and, separated, the
    target weights as projections."""
    for separated in (False, True):
        cfg = dict(input_size=8, quantity=5, lookup_weights_as_separated=separated)
        layer = HopfieldLayer(**cfg).double()
        randomise(layer, 2)
        state = data((3, 4, 8), 40)
        stored = layer.lookup_weights.detach().expand(3, -1, -1)
        targets = stored if not separated else layer.target_weights.detach().expand(3, -1, -1)
        expected = reference(cfg, read_weights(layer.hopfield), stored, state, targets)[0]
        torch.testing.assert_close(layer(state), expected, **TOL)


def parameter_names(module) -> dict:
    return {name: p.requires_grad for name, p in module.named_parameters()}


def test_trainability_and_which_parameters_exist():
    """Which parameters exist and require grad, argument by argument (hflayers: one projection
    per non-static pattern, biases only with input_bias, LayerNorm weights only when affine,
    pattern-space LayerNorm weights, bias patterns, no out projection when disabled; pooling,
    lookup and target weights trainable unless switched off)."""
    names = parameter_names(Hopfield(8))
    assert set(names) == {f"{r}_proj.{a}" for r in ("q", "k", "v", "out") for a in ("weight", "bias")} | {
        f"norm_{r}_pattern.{a}" for r in ("stored", "state") for a in ("weight", "bias")} | {
        "norm_pattern_projection.weight", "norm_pattern_projection.bias"}
    assert not any(n.endswith("bias") and n.startswith(("q_", "k_", "v_", "out_"))
                   for n in parameter_names(Hopfield(8, input_bias=False)))
    assert not any(n.startswith("norm_state") for n in parameter_names(Hopfield(8,
                                                                                normalize_state_pattern_affine=False)))
    assert not any(n.startswith(("q_proj", "k_proj", "v_proj")) for n in parameter_names(Hopfield(
        4, stored_pattern_as_static=True, state_pattern_as_static=True, pattern_projection_as_static=True)))
    assert {"p_norm_weight", "p_norm_bias"} <= set(parameter_names(Hopfield(
        8, normalize_hopfield_space=True, normalize_hopfield_space_affine=True)))
    assert {"bias_k", "bias_v"} <= set(parameter_names(Hopfield(8, concat_bias_pattern=True)))
    assert not any(n.startswith("out_proj") for n in parameter_names(Hopfield(8, disable_out_projection=True)))
    assert parameter_names(HopfieldPooling(8, trainable=False))["pooling_weights"] is False
    assert parameter_names(HopfieldPooling(8))["pooling_weights"] is True
    layer = parameter_names(HopfieldLayer(8, lookup_weights_as_separated=True, lookup_targets_as_trainable=False))
    assert layer["lookup_weights"] is True and layer["target_weights"] is False
    assert "target_weights" not in parameter_names(HopfieldLayer(8))
    assert parameter_names(HopfieldLayer(8, trainable=False))["lookup_weights"] is False
    static_pool = HopfieldPooling(8, hidden_size=4, state_pattern_as_static=True, normalize_state_pattern=False,
                                  normalize_state_pattern_affine=False)
    assert tuple(static_pool.pooling_weights.shape) == (1, 1, 4)
    x = torch.randn(2, 5, 8)
    static_pool(x).sum().backward()
    assert static_pool.pooling_weights.grad is not None


@pytest.mark.parametrize("kwargs,name", [
    (dict(input_size=8, normalize_stored_pattern=False), "normalize_stored_pattern_affine"),
    (dict(input_size=8, normalize_hopfield_space_affine=True), "normalize_hopfield_space_affine"),
    (dict(input_size=8, num_heads=3), "hidden_size"),
    (dict(input_size=None), "input_size"),
    (dict(input_size=8, batch_first=1), "batch_first"),
    (dict(input_size=8, association_activation="no_such_function"), "association_activation"),
    (dict(input_size=8, update_steps_eps=0.0), "update_steps_eps"),
    (dict(input_size=8, scaling=-1.0), "scaling"),
    (dict(input_size=8, num_heads=2, scaling=torch.ones(3)), "scaling"),
    (dict(input_size=8, dropout=1.0), "dropout"),
    (dict(input_size=8, pattern_projection_as_connected=True, pattern_projection_size=4), "pattern_projection_size"),
    (dict(input_size=8, pattern_projection_as_connected=True, pattern_size=3), "pattern_size"),
    (dict(input_size=8, concat_bias_pattern=True, stored_pattern_as_static=True), "concat_bias_pattern"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    """Bad input raises ValueError naming the argument (hflayers asserts on most of these)."""
    with pytest.raises(ValueError, match=f"^{name}:"):
        Hopfield(**kwargs)(torch.randn(2, 3, 8))


def test_bad_masks_and_wrappers_raise_value_error_naming_them():
    """Wrong mask shapes and wrapper arguments name the argument."""
    m, x = Hopfield(8), torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match="^association_mask:"):
        m(x, association_mask=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="^stored_pattern_padding_mask:"):
        m(x, stored_pattern_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="^quantity:"):
        HopfieldPooling(8, quantity=0)
    with pytest.raises(ValueError, match="^trainable:"):
        HopfieldLayer(8, trainable="yes")
    with pytest.raises(ValueError, match="^input:"):
        m((x, x))
