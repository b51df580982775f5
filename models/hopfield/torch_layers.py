"""Differentiable modern Hopfield layers in PyTorch with the API of ``hflayers`` (Ramsauer et al.
2020, github.com/ml-jku/hopfield-layers: ``Hopfield``, ``HopfieldPooling``, ``HopfieldLayer``,
same arguments and defaults).

The core (:func:`hopfield_core`) takes state patterns R (queries), stored patterns Y (keys) and
pattern projections V (values) per head, already in the association space, and computes

    A = softmax(β R Yᵀ + mask);  while a head is active: A ← softmax(β (A Y) Yᵀ + mask);  out = A V

The stopping rule is hflayers': after the association of update step s (s = 0 for the first),
head h stays active while (s < update_steps_max[h] or update_steps_max[h] < 0 (None)) and, from
s = 1 on, max over the batch of the Frobenius norm ‖A_s − A_{s−1}‖ over (state, stored) of that
head exceeds update_steps_eps[h] (> 0). So update_steps_max = 0 is one association, k gives at
most k further updates. Heads stop separately; β, update_steps_max and update_steps_eps may be
given per head. Masks: ``association_mask`` (S, N) or (batch · heads, S, N), bool True = not
allowed (−∞) or float added to β R Yᵀ; ``stored_pattern_padding_mask`` (batch, N), True = padding.

:class:`Hopfield` (one input tensor used as stored, state and projection, or a tuple (stored,
state, projection)), in this order: LayerNorm of each input (``normalize_*``, ``*_affine``,
``*_eps``); linear projections into ``num_heads`` heads of ``hidden_size`` features for state and
stored patterns and ``pattern_size`` for projections (bias ``input_bias``; ``*_as_static`` skips
one: a static pattern is used as it is by every head; ``pattern_projection_as_connected`` passes
the projection through the stored-pattern projection first); optional LayerNorm per head in the
association space of state and stored patterns (``normalize_hopfield_space``, shared affine
weights); ``concat_bias_pattern`` appends a trainable pattern to the stored patterns and the
projections, ``add_zero_association`` then a zero one; the core with β = ``scaling`` (default
1/√hidden_size, 1 when nothing is projected or normalised and the out projection is off),
dropout on the association matrix; the output projection to ``output_size`` (default
input_size; ``disable_out_projection`` skips it); ``association_activation``, the name of a
torch function applied to the output. Inputs are (batch, sequence, features) with
``batch_first`` (default) and (sequence, batch, features) otherwise.

Deliberate differences from hflayers' code (which its documentation does not describe):
hflayers never appends the ``concat_bias_pattern`` pattern (its test for it compares booleans
with None), here it is appended as documented; a static projection is repeated for every head
here, while hflayers splits it between the heads when the stored pattern is static too and its
separate-projection path is taken; a per-head β tensor scales its own head here, while hflayers
tiles it across the features (feature f gets β[f mod heads]), which mixes the heads' values
(the same when all entries are equal); β must be > 0.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
from torch import Tensor, nn

Number = Union[int, float]
Patterns = Union[Tensor, tuple]


def _per_head(value, heads: int, name: str, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A scalar or a 1-D tensor of one entry per head as a (heads,) tensor."""
    if isinstance(value, Tensor):
        if value.ndim != 1 or value.shape[0] != heads:
            raise ValueError(f"{name}: a tensor needs one entry per head ({heads}), got shape {tuple(value.shape)}")
        return value.to(dtype=dtype, device=device)
    return torch.full((heads,), value, dtype=dtype, device=device)


def _association_bias(mask: Tensor | None, padding_mask: Tensor | None, shape: tuple[int, int, int, int],
                      dtype: torch.dtype, device: torch.device) -> Tensor | None:
    """The additive mask (B, H, S, N) of ``association_mask`` and ``stored_pattern_padding_mask``."""
    b, h, s, n = shape
    bias = None
    if mask is not None:
        if mask.dtype == torch.uint8:
            mask = mask.to(torch.bool)
        if mask.dtype != torch.bool and not mask.is_floating_point():
            raise ValueError(f"association_mask: must be bool or float, got {mask.dtype}")
        if tuple(mask.shape) == (s, n):
            mask = mask.expand(b * h, s, n)
        elif tuple(mask.shape) != (b * h, s, n):
            raise ValueError(f"association_mask: expected shape ({s}, {n}) or ({b * h}, {s}, {n}) "
                             f"(batch * heads, state, stored), got {tuple(mask.shape)}")
        mask = mask.reshape(b, h, s, n)
        bias = (torch.zeros(shape, dtype=dtype, device=device).masked_fill(mask, float("-inf"))
                if mask.dtype == torch.bool else mask.to(dtype))
    if padding_mask is not None:
        if padding_mask.dtype == torch.uint8:
            padding_mask = padding_mask.to(torch.bool)
        if padding_mask.dtype != torch.bool or tuple(padding_mask.shape) != (b, n):
            raise ValueError(f"stored_pattern_padding_mask: expected a bool tensor of shape ({b}, {n}) "
                             f"(batch, stored), got {padding_mask.dtype} {tuple(padding_mask.shape)}")
        pad = torch.zeros((b, 1, 1, n), dtype=dtype, device=device).masked_fill(padding_mask[:, None, None, :],
                                                                               float("-inf"))
        bias = pad if bias is None else bias + pad
    return bias


def hopfield_core(state: Tensor, stored: Tensor, projection: Tensor, beta: Number | Tensor,
                  update_steps_max: Optional[int | Tensor] = 0, update_steps_eps: float | Tensor = 1e-4,
                  padding_mask: Tensor | None = None, association_mask: Tensor | None = None,
                  dropout: float = 0.0, training: bool = False) -> tuple[Tensor, Tensor]:
    """Association of ``state`` (B, H, S, h) with ``stored`` (B, H, N, h), read out from
    ``projection`` (B, H, N, v) with hflayers' iteration and stopping rule (module doc); returns
    (output (B, H, S, v), association matrix before dropout (B, H, S, N))."""
    if state.ndim != 4 or stored.ndim != 4 or projection.ndim != 4:
        raise ValueError("state: state, stored and projection must be (batch, heads, sequence, features)")
    b, heads, s, _ = state.shape
    n = stored.shape[2]
    if isinstance(update_steps_eps, Tensor):
        bad = bool((update_steps_eps <= 0).any())
    else:
        bad = not update_steps_eps > 0
    if bad:
        raise ValueError(f"update_steps_eps: must be > 0 (hflayers), got {update_steps_eps!r}")
    limit = _per_head(-1 if update_steps_max is None else update_steps_max, heads, "update_steps_max",
                      torch.int64, state.device)
    eps = _per_head(update_steps_eps, heads, "update_steps_eps", state.dtype, state.device)
    scale = _per_head(beta, heads, "scaling", state.dtype, state.device).view(1, heads, 1, 1)
    bias = _association_bias(association_mask, padding_mask, (b, heads, s, n), state.dtype, state.device)
    keys_t = stored.transpose(-2, -1)

    def associate(query: Tensor) -> Tensor:
        scores = (query * scale) @ keys_t
        return torch.softmax(scores if bias is None else scores + bias, dim=-1)

    assoc = associate(state)
    step = 0
    active = (limit > 0) | (limit < 0)
    while bool(active.any()):
        new = associate(assoc @ stored)
        with torch.no_grad():
            moved = (new - assoc).flatten(2).norm(dim=2).amax(dim=0)
        assoc = torch.where(active.view(1, heads, 1, 1), new, assoc)
        step += 1
        active = active & ((step < limit) | (limit < 0)) & (moved > eps)
    weights = nn.functional.dropout(assoc, p=dropout, training=training) if dropout > 0.0 else assoc
    return weights @ projection, assoc


def retrieve(stored: Tensor, state: Tensor, beta: float, update_steps_max: Optional[int] = 0,
             update_steps_eps: float = 1e-4) -> Tensor:
    """ξ ← softmax(β ξ Xᵀ) X of the states ``state`` (..., B, d) from ``stored`` (..., N, d)
    (one head; the stopping rule takes the largest change over all leading dimensions)."""
    lead = torch.broadcast_shapes(state.shape[:-2], stored.shape[:-2])
    x = stored.expand(*lead, *stored.shape[-2:]).reshape(-1, 1, *stored.shape[-2:])
    xi = state.expand(*lead, *state.shape[-2:]).reshape(-1, 1, *state.shape[-2:])
    out = hopfield_core(xi, x, x, beta, update_steps_max, update_steps_eps)[0]
    return out.reshape(*lead, *state.shape[-2:])


def _positive(name: str, value, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    return value


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: must be a bool, got {value!r}")
    return value


def _layer_norm(name: str, enabled: bool, affine: bool, size: Optional[int], eps: float) -> nn.LayerNorm | None:
    if affine and not enabled:
        raise ValueError(f"{name}_affine: affine normalisation needs {name}=True (hflayers)")
    if not enabled:
        return None
    if size is None:
        raise ValueError(f"input_size: needed by {name} (or give that pattern's size)")
    if not eps > 0:
        raise ValueError(f"{name}_eps: must be > 0, got {eps!r}")
    return nn.LayerNorm(size, eps=eps, elementwise_affine=affine)


class Hopfield(nn.Module):
    """Modern Hopfield association with hflayers' arguments and defaults (module doc)."""

    def __init__(self, input_size: Optional[int] = None, hidden_size: Optional[int] = None,
                 output_size: Optional[int] = None, pattern_size: Optional[int] = None, num_heads: int = 1,
                 scaling: Optional[Number | Tensor] = None, update_steps_max: Optional[int | Tensor] = 0,
                 update_steps_eps: float | Tensor = 1e-4,
                 normalize_stored_pattern: bool = True, normalize_stored_pattern_affine: bool = True,
                 normalize_stored_pattern_eps: float = 1e-5,
                 normalize_state_pattern: bool = True, normalize_state_pattern_affine: bool = True,
                 normalize_state_pattern_eps: float = 1e-5,
                 normalize_pattern_projection: bool = True, normalize_pattern_projection_affine: bool = True,
                 normalize_pattern_projection_eps: float = 1e-5,
                 normalize_hopfield_space: bool = False, normalize_hopfield_space_affine: bool = False,
                 normalize_hopfield_space_eps: float = 1e-5,
                 stored_pattern_as_static: bool = False, state_pattern_as_static: bool = False,
                 pattern_projection_as_static: bool = False, pattern_projection_as_connected: bool = False,
                 stored_pattern_size: Optional[int] = None, pattern_projection_size: Optional[int] = None,
                 batch_first: bool = True, association_activation: Optional[str] = None, dropout: float = 0.0,
                 input_bias: bool = True, concat_bias_pattern: bool = False, add_zero_association: bool = False,
                 disable_out_projection: bool = False):
        super().__init__()
        flags = dict(normalize_hopfield_space=normalize_hopfield_space,
                     normalize_hopfield_space_affine=normalize_hopfield_space_affine,
                     stored_pattern_as_static=stored_pattern_as_static, state_pattern_as_static=state_pattern_as_static,
                     pattern_projection_as_static=pattern_projection_as_static,
                     pattern_projection_as_connected=pattern_projection_as_connected, batch_first=batch_first,
                     input_bias=input_bias, concat_bias_pattern=concat_bias_pattern,
                     add_zero_association=add_zero_association, disable_out_projection=disable_out_projection)
        for name, value in flags.items():
            _flag(name, value)
        self.num_heads = _positive("num_heads", num_heads)
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("output_size", output_size),
                            ("pattern_size", pattern_size), ("stored_pattern_size", stored_pattern_size),
                            ("pattern_projection_size", pattern_projection_size)):
            _positive(name, value, allow_none=True)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {dropout!r}")
        if association_activation is not None and not callable(getattr(torch, str(association_activation), None)):
            raise ValueError(f"association_activation: not the name of a torch function: {association_activation!r}")
        self.association_activation = association_activation
        self.batch_first = batch_first
        self.stored_pattern_as_static = stored_pattern_as_static
        self.state_pattern_as_static = state_pattern_as_static
        self.pattern_projection_as_static = pattern_projection_as_static
        self.pattern_projection_as_connected = pattern_projection_as_connected
        self.add_zero_association = add_zero_association
        self.dropout = dropout
        if not (update_steps_max is None or isinstance(update_steps_max, Tensor)
                or (isinstance(update_steps_max, int) and not isinstance(update_steps_max, bool))):
            raise ValueError(f"update_steps_max: must be an int, None or a tensor of one per head, "
                             f"got {update_steps_max!r}")
        eps_ok = (bool((update_steps_eps > 0).all()) if isinstance(update_steps_eps, Tensor)
                  else isinstance(update_steps_eps, (int, float)) and update_steps_eps > 0)
        if not eps_ok:
            raise ValueError(f"update_steps_eps: must be > 0 (hflayers), got {update_steps_eps!r}")
        self.update_steps_max = update_steps_max
        self.update_steps_eps = update_steps_eps
        if normalize_hopfield_space_affine and not normalize_hopfield_space:
            raise ValueError("normalize_hopfield_space_affine: affine normalisation needs "
                             "normalize_hopfield_space=True")
        self.static_execution = (stored_pattern_as_static and state_pattern_as_static and pattern_projection_as_static
                                 and not pattern_projection_as_connected and not normalize_hopfield_space
                                 and disable_out_projection)
        self.norm_stored_pattern = _layer_norm("normalize_stored_pattern", normalize_stored_pattern,
                                               normalize_stored_pattern_affine, stored_pattern_size or input_size,
                                               normalize_stored_pattern_eps)
        self.norm_state_pattern = _layer_norm("normalize_state_pattern", normalize_state_pattern,
                                              normalize_state_pattern_affine, input_size, normalize_state_pattern_eps)
        self.norm_pattern_projection = _layer_norm("normalize_pattern_projection", normalize_pattern_projection,
                                                   normalize_pattern_projection_affine,
                                                   pattern_projection_size or input_size,
                                                   normalize_pattern_projection_eps)
        self.input_size = input_size
        self.hidden_size: Optional[int] = None
        self.pattern_size: Optional[int] = None
        self.stored_pattern_dim: Optional[int] = None
        self.pattern_projection_dim: Optional[int] = None
        self.output_size: Optional[int] = None
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self, name, None)
        for name in ("p_norm_weight", "p_norm_bias", "bias_k", "bias_v"):
            self.register_parameter(name, None)
        self.normalize_hopfield_space_eps = normalize_hopfield_space_eps
        self.normalize_hopfield_space = normalize_hopfield_space
        if not self.static_execution:
            self._build(input_size, hidden_size, output_size, pattern_size, stored_pattern_size,
                        pattern_projection_size, input_bias, concat_bias_pattern, normalize_hopfield_space_affine,
                        disable_out_projection)
        if scaling is None:
            scaling = 1.0 if self.static_execution else 1.0 / math.sqrt(self.hidden_size)
        if isinstance(scaling, Tensor):
            if scaling.ndim != 1 or scaling.shape[0] != self.num_heads or not bool((scaling > 0).all()):
                raise ValueError(f"scaling: a tensor needs one entry > 0 per head ({self.num_heads})")
        elif isinstance(scaling, bool) or not isinstance(scaling, (int, float)) or not scaling > 0:
            raise ValueError(f"scaling: must be a number > 0 or a tensor of one per head, got {scaling!r}")
        self.scaling = scaling
        self.reset_parameters()

    def _build(self, input_size, hidden_size, output_size, pattern_size, stored_pattern_size,
               pattern_projection_size, bias, concat_bias_pattern, hopfield_space_affine, disable_out_projection):
        """Sizes and the projections of a module that projects or normalises something."""
        heads = self.num_heads
        if input_size is None:
            raise ValueError("input_size: needed unless stored, state and projection are static, nothing is "
                             "normalised in the association space and the out projection is disabled")
        if hidden_size is None and input_size % heads:
            raise ValueError(f"hidden_size: needed, input_size {input_size} is not divisible by num_heads {heads}")
        self.hidden_size = hidden = hidden_size or input_size // heads
        self.pattern_size = pattern = pattern_size or hidden
        self.stored_pattern_dim = stored = stored_pattern_size or input_size
        self.pattern_projection_dim = projection = pattern_projection_size or input_size
        if self.pattern_projection_as_connected:
            if stored != projection:
                raise ValueError(f"pattern_projection_size: a connected projection needs the stored pattern's size "
                                 f"{stored}, got {projection}")
            if pattern != hidden:
                raise ValueError(f"pattern_size: a connected projection needs pattern_size = hidden_size = {hidden}")
        if (self.pattern_projection_as_static and not self.pattern_projection_as_connected
                and not disable_out_projection and projection != pattern):
            raise ValueError(f"pattern_projection_size: a static projection read by the out projection needs "
                             f"pattern_size = {pattern} features, got {projection}")
        if concat_bias_pattern and (self.stored_pattern_as_static or self.pattern_projection_as_static):
            raise ValueError("concat_bias_pattern: needs projected (not static) stored patterns and projections")
        if not self.state_pattern_as_static:
            self.q_proj = nn.Linear(input_size, heads * hidden, bias=bias)
        if not self.stored_pattern_as_static:
            self.k_proj = nn.Linear(stored, heads * hidden, bias=bias)
        if not self.pattern_projection_as_static:
            through_stored = self.pattern_projection_as_connected and not self.stored_pattern_as_static
            self.v_proj = nn.Linear(heads * hidden if through_stored else projection, heads * pattern, bias=bias)
        if hopfield_space_affine:
            self.p_norm_weight = nn.Parameter(torch.ones(hidden))
            self.p_norm_bias = nn.Parameter(torch.zeros(hidden))
        if concat_bias_pattern:
            self.bias_k = nn.Parameter(torch.empty(1, 1, heads * hidden))
            self.bias_v = nn.Parameter(torch.empty(1, 1, heads * pattern))
        if not disable_out_projection:
            self.output_size = output_size or input_size
            self.out_proj = nn.Linear(heads * pattern, self.output_size, bias=bias)

    def reset_parameters(self) -> None:
        """hflayers' initialisation: projection weights and bias patterns N(0, 0.02²), biases 0,
        LayerNorms at identity."""
        for layer in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            if layer is not None:
                nn.init.normal_(layer.weight, mean=0.0, std=0.02)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
        for bias in (self.bias_k, self.bias_v):
            if bias is not None:
                nn.init.normal_(bias, mean=0.0, std=0.02)
        for norm in (self.norm_stored_pattern, self.norm_state_pattern, self.norm_pattern_projection):
            if norm is not None:
                norm.reset_parameters()
        if self.p_norm_weight is not None:
            nn.init.ones_(self.p_norm_weight)
            nn.init.zeros_(self.p_norm_bias)

    def _heads(self, x: Tensor, width: int) -> Tensor:
        """(B, S, heads · width) -> (B, heads, S, width)."""
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, width).transpose(1, 2)

    def _static(self, x: Tensor, width: Optional[int], what: str) -> Tensor:
        """A static pattern (B, S, F), used as it is by every head: (B, heads, S, F)."""
        if width is not None and x.shape[-1] != width:
            raise ValueError(f"input: a static {what} needs {width} features, got {x.shape[-1]}")
        return x.unsqueeze(1).expand(-1, self.num_heads, -1, -1)

    def _hopfield_norm(self, x: Tensor) -> Tensor:
        if not self.normalize_hopfield_space:
            return x
        return nn.functional.layer_norm(x, (x.shape[-1],), self.p_norm_weight, self.p_norm_bias,
                                        self.normalize_hopfield_space_eps)

    def _patterns(self, data: Patterns) -> tuple[Tensor, Tensor, Tensor]:
        """(state, stored, projection) per head, normalised and projected: (B, heads, ·, ·)."""
        if isinstance(data, Tensor):
            stored, state, projection = data, data, data
        elif isinstance(data, tuple) and len(data) == 3:
            stored, state, projection = data
        else:
            raise ValueError("input: one tensor (stored = state = projection) or a tuple (stored, state, projection)")
        if any(t.ndim != 3 for t in (stored, state, projection)):
            raise ValueError("input: patterns must be 3-D, (batch, sequence, features) with batch_first, "
                             "else (sequence, batch, features)")
        if not self.batch_first:
            stored, state, projection = (t.transpose(0, 1) for t in (stored, state, projection))
        if stored.shape[:2] != projection.shape[:2] or stored.shape[0] != state.shape[0]:
            raise ValueError("input: stored patterns and projections need the same batch and sequence length, "
                             "state patterns the same batch")
        stored, state, projection = (x if norm is None else norm(x) for x, norm in (
            (stored, self.norm_stored_pattern), (state, self.norm_state_pattern),
            (projection, self.norm_pattern_projection)))
        hidden, heads = self.hidden_size, self.num_heads
        if self.static_execution and state.shape[-1] != stored.shape[-1]:
            raise ValueError(f"input: static state and stored patterns need the same number of features, got "
                             f"{state.shape[-1]} and {stored.shape[-1]}")
        q = self._static(state, hidden, "state pattern") if self.q_proj is None else self._heads(self.q_proj(state),
                                                                                                 hidden)
        k = self._static(stored, hidden, "stored pattern") if self.k_proj is None else self._heads(
            self.k_proj(stored), hidden)
        v = projection
        if self.pattern_projection_as_connected and self.k_proj is not None:
            v = self.k_proj(v)
        if self.v_proj is not None:
            v = self._heads(self.v_proj(v), self.pattern_size)
        elif v is projection:
            v = self._static(v, None, "projection")
        else:
            v = self._heads(v, hidden)
        q, k = self._hopfield_norm(q), self._hopfield_norm(k)
        b = k.shape[0]
        if self.bias_k is not None:
            k = torch.cat([k, self._heads(self.bias_k.expand(b, 1, -1), hidden)], dim=2)
            v = torch.cat([v, self._heads(self.bias_v.expand(b, 1, -1), self.pattern_size)], dim=2)
        if self.add_zero_association:
            k = torch.cat([k, k.new_zeros(b, heads, 1, k.shape[-1])], dim=2)
            v = torch.cat([v, v.new_zeros(b, heads, 1, v.shape[-1])], dim=2)
        return q, k, v

    def _pad(self, mask: Tensor | None, extra: int) -> Tensor | None:
        """A mask widened by the appended bias / zero patterns (never masked)."""
        if mask is None or extra == 0:
            return mask
        return nn.functional.pad(mask, (0, extra), value=False if mask.dtype == torch.bool else 0)

    def _associate(self, data: Patterns, stored_pattern_padding_mask: Tensor | None,
                   association_mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """(output in batch-first layout (B, S, F), association matrix (B, H, S, N), projected
        patterns (B, H, N, v))."""
        q, k, v = self._patterns(data)
        extra = int(self.bias_k is not None) + int(self.add_zero_association)
        out, assoc = hopfield_core(q, k, v, self.scaling, self.update_steps_max, self.update_steps_eps,
                                   self._pad(stored_pattern_padding_mask, extra), self._pad(association_mask, extra),
                                   self.dropout, self.training)
        out = out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)
        return (out if self.out_proj is None else self.out_proj(out)), assoc, v

    def forward(self, input: Patterns, stored_pattern_padding_mask: Tensor | None = None,
                association_mask: Tensor | None = None) -> Tensor:
        """``input``: one tensor used as stored, state and projection patterns, or the tuple
        (stored, state, projection); returns (batch, state sequence, output features) with
        ``batch_first``, else (state sequence, batch, output features)."""
        out = self._associate(input, stored_pattern_padding_mask, association_mask)[0]
        out = out if self.batch_first else out.transpose(0, 1)
        return out if self.association_activation is None else getattr(torch, self.association_activation)(out)

    def get_association_matrix(self, input: Patterns, stored_pattern_padding_mask: Tensor | None = None,
                               association_mask: Tensor | None = None) -> Tensor:
        """Softmax association matrix (batch, heads, state sequence, stored sequence)."""
        with torch.no_grad():
            return self._associate(input, stored_pattern_padding_mask, association_mask)[1]

    def get_projected_pattern_matrix(self, input: Patterns, stored_pattern_padding_mask: Tensor | None = None,
                                     association_mask: Tensor | None = None) -> Tensor:
        """Pattern projections in the association space (batch, heads, stored sequence, features)."""
        with torch.no_grad():
            return self._associate(input, stored_pattern_padding_mask, association_mask)[2]


def _wrapped_weights(quantity: int, batch_first: bool, width: int, trainable: bool) -> nn.Parameter:
    """Trainable-or-fixed patterns (1, quantity, width) (batch_first) or (quantity, 1, width)."""
    shape = (1, quantity, width) if batch_first else (quantity, 1, width)
    return nn.Parameter(torch.empty(shape).normal_(0.0, 0.02), requires_grad=_flag("trainable", trainable))


def _expand(weights: nn.Parameter, batch: int, batch_first: bool) -> Tensor:
    quantity = weights.shape[1] if batch_first else weights.shape[0]
    shape = (batch, quantity) if batch_first else (quantity, batch)
    return weights.expand(*shape, weights.shape[2])


class HopfieldPooling(nn.Module):
    """hflayers' pooling layer: ``quantity`` state patterns (trainable unless ``trainable=False``)
    query the input, which gives the stored patterns and projections (one tensor or a tuple
    (stored, projection)); the output is flattened from dimension 1: (batch, quantity · output
    features) with ``batch_first``. The other arguments are :class:`Hopfield`'s."""

    def __init__(self, input_size: int, hidden_size: Optional[int] = None, output_size: Optional[int] = None,
                 pattern_size: Optional[int] = None, num_heads: int = 1, scaling: Optional[Number | Tensor] = None,
                 update_steps_max: Optional[int | Tensor] = 0, update_steps_eps: float | Tensor = 1e-4,
                 normalize_stored_pattern: bool = True, normalize_stored_pattern_affine: bool = True,
                 normalize_state_pattern: bool = True, normalize_state_pattern_affine: bool = True,
                 normalize_pattern_projection: bool = True, normalize_pattern_projection_affine: bool = True,
                 normalize_hopfield_space: bool = False, normalize_hopfield_space_affine: bool = False,
                 stored_pattern_as_static: bool = False, state_pattern_as_static: bool = False,
                 pattern_projection_as_static: bool = False, pattern_projection_as_connected: bool = False,
                 stored_pattern_size: Optional[int] = None, pattern_projection_size: Optional[int] = None,
                 batch_first: bool = True, association_activation: Optional[str] = None, dropout: float = 0.0,
                 input_bias: bool = True, concat_bias_pattern: bool = False, add_zero_association: bool = False,
                 disable_out_projection: bool = False, quantity: int = 1, trainable: bool = True):
        super().__init__()
        options = {k: v for k, v in locals().items() if k not in ("self", "__class__", "quantity", "trainable")}
        self.hopfield = Hopfield(**options)
        self.quantity = _positive("quantity", quantity)
        width = self.hopfield.hidden_size if state_pattern_as_static and self.hopfield.hidden_size else input_size
        self.pooling_weights = _wrapped_weights(self.quantity, batch_first, _positive("input_size", width), trainable)

    @property
    def batch_first(self) -> bool:
        return self.hopfield.batch_first

    def _prepare(self, input: Tensor | tuple) -> tuple[Tensor, Tensor, Tensor]:
        if isinstance(input, Tensor):
            stored, projection = input, input
        elif isinstance(input, tuple) and len(input) == 2:
            stored, projection = input
        else:
            raise ValueError("input: one tensor (stored = projection) or a tuple (stored, projection)")
        batch = stored.shape[0 if self.batch_first else 1]
        return stored, _expand(self.pooling_weights, batch, self.batch_first), projection

    def forward(self, input: Tensor | tuple, stored_pattern_padding_mask: Tensor | None = None,
                association_mask: Tensor | None = None) -> Tensor:
        return self.hopfield(self._prepare(input), stored_pattern_padding_mask, association_mask).flatten(start_dim=1)

    def get_association_matrix(self, input: Tensor | tuple, stored_pattern_padding_mask: Tensor | None = None,
                               association_mask: Tensor | None = None) -> Tensor:
        return self.hopfield.get_association_matrix(self._prepare(input), stored_pattern_padding_mask,
                                                    association_mask)

    def get_projected_pattern_matrix(self, input: Tensor | tuple, stored_pattern_padding_mask: Tensor | None = None,
                                     association_mask: Tensor | None = None) -> Tensor:
        return self.hopfield.get_projected_pattern_matrix(self._prepare(input), stored_pattern_padding_mask,
                                                          association_mask)


class HopfieldLayer(nn.Module):
    """hflayers' lookup layer: the input is the state pattern; ``quantity`` stored patterns
    (``lookup_weights``, trainable unless ``trainable=False``) are also the projections, or with
    ``lookup_weights_as_separated`` separate ``target_weights`` are (trainable unless
    ``lookup_targets_as_trainable=False``). The other arguments are :class:`Hopfield`'s."""

    def __init__(self, input_size: int, hidden_size: Optional[int] = None, output_size: Optional[int] = None,
                 pattern_size: Optional[int] = None, num_heads: int = 1, scaling: Optional[Number | Tensor] = None,
                 update_steps_max: Optional[int | Tensor] = 0, update_steps_eps: float | Tensor = 1e-4,
                 lookup_weights_as_separated: bool = False, lookup_targets_as_trainable: bool = True,
                 normalize_stored_pattern: bool = True, normalize_stored_pattern_affine: bool = True,
                 normalize_state_pattern: bool = True, normalize_state_pattern_affine: bool = True,
                 normalize_pattern_projection: bool = True, normalize_pattern_projection_affine: bool = True,
                 normalize_hopfield_space: bool = False, normalize_hopfield_space_affine: bool = False,
                 stored_pattern_as_static: bool = False, state_pattern_as_static: bool = False,
                 pattern_projection_as_static: bool = False, pattern_projection_as_connected: bool = False,
                 stored_pattern_size: Optional[int] = None, pattern_projection_size: Optional[int] = None,
                 batch_first: bool = True, association_activation: Optional[str] = None, dropout: float = 0.0,
                 input_bias: bool = True, concat_bias_pattern: bool = False, add_zero_association: bool = False,
                 disable_out_projection: bool = False, quantity: int = 1, trainable: bool = True):
        super().__init__()
        options = {k: v for k, v in locals().items() if k not in (
            "self", "__class__", "quantity", "trainable", "lookup_weights_as_separated", "lookup_targets_as_trainable")}
        self.hopfield = Hopfield(**options)
        self.quantity = _positive("quantity", quantity)
        hidden = self.hopfield.hidden_size
        width = hidden if stored_pattern_as_static and hidden else (self.hopfield.stored_pattern_dim or input_size)
        self.lookup_weights = _wrapped_weights(self.quantity, batch_first, _positive("input_size", width), trainable)
        if _flag("lookup_weights_as_separated", lookup_weights_as_separated):
            self.target_weights = _wrapped_weights(self.quantity, batch_first, pattern_projection_size or width,
                                                   _flag("lookup_targets_as_trainable", lookup_targets_as_trainable))
        else:
            self.register_parameter("target_weights", None)

    @property
    def batch_first(self) -> bool:
        return self.hopfield.batch_first

    def _prepare(self, input: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if not isinstance(input, Tensor) or input.ndim != 3:
            raise ValueError("input: a 3-D tensor of state patterns")
        batch = input.shape[0 if self.batch_first else 1]
        stored = _expand(self.lookup_weights, batch, self.batch_first)
        target = stored if self.target_weights is None else _expand(self.target_weights, batch, self.batch_first)
        return stored, input, target

    def forward(self, input: Tensor, stored_pattern_padding_mask: Tensor | None = None,
                association_mask: Tensor | None = None) -> Tensor:
        return self.hopfield(self._prepare(input), stored_pattern_padding_mask, association_mask)

    def get_association_matrix(self, input: Tensor, stored_pattern_padding_mask: Tensor | None = None,
                               association_mask: Tensor | None = None) -> Tensor:
        return self.hopfield.get_association_matrix(self._prepare(input), stored_pattern_padding_mask,
                                                    association_mask)

    def get_projected_pattern_matrix(self, input: Tensor, stored_pattern_padding_mask: Tensor | None = None,
                                     association_mask: Tensor | None = None) -> Tensor:
        return self.hopfield.get_projected_pattern_matrix(self._prepare(input), stored_pattern_padding_mask,
                                                          association_mask)
