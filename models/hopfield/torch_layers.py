"""Differentiable modern Hopfield layers in PyTorch, used like ``hflayers`` (Ramsauer et al.
2020, github.com/ml-jku/hopfield-layers).

The core (:func:`hopfield_core`) takes state patterns R (queries), stored patterns Y (keys)
and pattern projections V (values), each already in the association space, and computes

    Q ← β R;  repeat: A = softmax(Q Yᵀ) (masked),  Q ← β A Y   until done;  output A V

where "done" is ``update_steps_max`` further updates made (0: one update; None or < 0: no
limit) or every softmax row moved by at most ``update_steps_eps`` — the iteration of hflayers.
:func:`retrieve` is the plain retrieval ξ ← softmax(β ξ Xᵀ) X of stored patterns X.

Modules (inputs batch-first: (batch, sequence, features), like ``batch_first=True``):

- :class:`Hopfield`: ``forward(input)`` with one tensor (stored = state = projection) or a
  tuple ``(stored, state, projection)``; optional LayerNorm of each input (on by default, as in
  hflayers), optional linear projections into an association space of ``hidden_size`` per
  head (``*_as_static=True`` skips a projection), ``num_heads`` heads, an output projection
  to ``output_size`` (``disable_out_projection`` skips it), ``scaling`` β (default
  1/√hidden_size, or 1 when nothing is projected), dropout on the association matrix.
- :class:`HopfieldLayer`: the stored patterns and projections are trainable parameters
  (``quantity`` of them); the input is the state pattern (a lookup).
- :class:`HopfieldPooling`: the state patterns are trainable (``quantity`` of them); the input
  gives stored patterns and projections; the output is flattened per batch entry (pooling).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def hopfield_core(state: Tensor, stored: Tensor, projection: Tensor, beta: float | Tensor,
                  update_steps_max: int | None = 0, update_steps_eps: float = 1e-4,
                  padding_mask: Tensor | None = None, dropout: float = 0.0,
                  training: bool = False) -> tuple[Tensor, Tensor]:
    """Association of ``state`` (..., S, h) with ``stored`` (..., N, h), read out from
    ``projection`` (..., N, v); returns (output (..., S, v), association matrix (..., S, N)).
    ``padding_mask`` (..., N), True where a stored pattern is padding, excludes it."""
    limit = -1 if update_steps_max is None else update_steps_max
    keys_t = stored.transpose(-2, -1)
    q = state * beta
    step, old = 0, None
    while True:
        scores = q @ keys_t
        if padding_mask is not None:
            scores = scores.masked_fill(padding_mask.unsqueeze(-2), float("-inf"))
        assoc = torch.softmax(scores, dim=-1)
        if 0 <= limit <= step:
            break
        if old is not None:
            with torch.no_grad():
                moved = (assoc - old).norm(dim=-1).max()
            if moved <= update_steps_eps:
                break
        old = assoc
        q = (assoc @ stored) * beta
        step += 1
    if dropout > 0.0:
        assoc = nn.functional.dropout(assoc, p=dropout, training=training)
    return assoc @ projection, assoc


def retrieve(stored: Tensor, state: Tensor, beta: float, update_steps_max: int | None = 0,
             update_steps_eps: float = 1e-4) -> Tensor:
    """ξ ← softmax(β ξ Xᵀ) X of the states ``state`` (..., B, d) from ``stored`` (..., N, d)."""
    return hopfield_core(state, stored, stored, beta, update_steps_max, update_steps_eps)[0]


def _layer_norm(size: int, enabled: bool, affine: bool) -> nn.Module | None:
    return nn.LayerNorm(size, elementwise_affine=affine) if enabled else None


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    return int(value)


class Hopfield(nn.Module):
    """Modern Hopfield association (see the module doc); arguments as in hflayers.

    The association space has ``num_heads`` heads of ``hidden_size`` features (default
    ``input_size // num_heads``). A static pattern (``*_as_static=True``) is not projected:
    state and stored patterns must then already have ``num_heads · hidden_size`` features,
    and a static projection is split evenly between the heads.
    """

    def __init__(self, input_size: int, hidden_size: int | None = None, output_size: int | None = None,
                 num_heads: int = 1, scaling: float | None = None, update_steps_max: int | None = 0,
                 update_steps_eps: float = 1e-4, normalize_stored_pattern: bool = True,
                 normalize_state_pattern: bool = True, normalize_pattern_projection: bool = True,
                 normalize_affine: bool = True, stored_pattern_as_static: bool = False,
                 state_pattern_as_static: bool = False, pattern_projection_as_static: bool = False,
                 stored_pattern_size: int | None = None, pattern_projection_size: int | None = None,
                 disable_out_projection: bool = False, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        input_size = _positive("input_size", input_size)
        self.num_heads = _positive("num_heads", num_heads)
        stored_size = _positive("stored_pattern_size", stored_pattern_size or input_size)
        projection_size = _positive("pattern_projection_size", pattern_projection_size or input_size)
        if hidden_size is None and input_size % num_heads:
            raise ValueError(f"hidden_size: needed, input_size {input_size} is not divisible by num_heads {num_heads}")
        self.hidden_size = _positive("hidden_size", hidden_size or input_size // num_heads)
        width = self.hidden_size * num_heads
        for name, static, size in (("input_size", state_pattern_as_static, input_size),
                                   ("stored_pattern_size", stored_pattern_as_static, stored_size)):
            if static and size != width:
                raise ValueError(f"{name}: a static pattern needs num_heads * hidden_size = {width} features, got {size}")
        if pattern_projection_as_static and projection_size % num_heads:
            raise ValueError(f"pattern_projection_size: a static projection of {projection_size} features cannot be "
                             f"split between {num_heads} heads")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {dropout!r}")
        if scaling is not None and not scaling > 0:
            raise ValueError(f"scaling: must be > 0, got {scaling!r}")
        static = state_pattern_as_static and stored_pattern_as_static and pattern_projection_as_static
        self.scaling = scaling if scaling is not None else (1.0 if static else 1.0 / math.sqrt(self.hidden_size))
        self.update_steps_max = update_steps_max
        self.update_steps_eps = update_steps_eps
        self.dropout = dropout
        self.norm_state = _layer_norm(input_size, normalize_state_pattern, normalize_affine)
        self.norm_stored = _layer_norm(stored_size, normalize_stored_pattern, normalize_affine)
        self.norm_projection = _layer_norm(projection_size, normalize_pattern_projection, normalize_affine)
        self.q_proj = None if state_pattern_as_static else nn.Linear(input_size, width, bias=bias)
        self.k_proj = None if stored_pattern_as_static else nn.Linear(stored_size, width, bias=bias)
        self.v_proj = None if pattern_projection_as_static else nn.Linear(projection_size, width, bias=bias)
        value_width = projection_size if pattern_projection_as_static else width
        self.out_proj = None if disable_out_projection else nn.Linear(value_width, output_size or input_size, bias=bias)
        self.output_size = value_width if disable_out_projection else (output_size or input_size)

    def _heads(self, x: Tensor, norm: nn.Module | None, proj: nn.Module | None) -> Tensor:
        """(B, S, F) -> normalised, projected, (B, heads, S, F / heads)."""
        x = x if norm is None else norm(x)
        x = x if proj is None else proj(x)
        return x.view(x.shape[0], x.shape[1], self.num_heads, -1).transpose(1, 2)

    def _associate(self, input: Tensor | tuple[Tensor, Tensor, Tensor],
                   padding_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        stored, state, projection = (input, input, input) if isinstance(input, Tensor) else input
        q = self._heads(state, self.norm_state, self.q_proj)
        k = self._heads(stored, self.norm_stored, self.k_proj)
        v = self._heads(projection, self.norm_projection, self.v_proj)
        mask = None if padding_mask is None else padding_mask[:, None, :]
        out, assoc = hopfield_core(q, k, v, self.scaling, self.update_steps_max, self.update_steps_eps, mask,
                                   self.dropout, self.training)
        out = out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)
        return (out if self.out_proj is None else self.out_proj(out)), assoc

    def forward(self, input: Tensor | tuple[Tensor, Tensor, Tensor],
                stored_pattern_padding_mask: Tensor | None = None) -> Tensor:
        """``input``: one tensor (batch, sequence, input_size) used as stored, state and
        projection patterns, or the tuple (stored, state, projection); returns
        (batch, state sequence, output_size)."""
        return self._associate(input, stored_pattern_padding_mask)[0]

    def get_association_matrix(self, input: Tensor | tuple[Tensor, Tensor, Tensor],
                               stored_pattern_padding_mask: Tensor | None = None) -> Tensor:
        """Softmax association matrix (batch, heads, state sequence, stored sequence)."""
        with torch.no_grad():
            return self._associate(input, stored_pattern_padding_mask)[1]


class HopfieldLayer(nn.Module):
    """Lookup layer: ``quantity`` trainable stored patterns (and, with
    ``lookup_weights_as_separated``, separate trainable projections) queried by the input."""

    def __init__(self, input_size: int, quantity: int = 1, lookup_weights_as_separated: bool = False, **kwargs):
        super().__init__()
        if quantity < 1:
            raise ValueError(f"quantity: must be >= 1, got {quantity!r}")
        self.hopfield = Hopfield(input_size, **kwargs)
        stored_size = kwargs.get("stored_pattern_size") or input_size
        projection_size = kwargs.get("pattern_projection_size") or input_size
        self.lookup_weights = nn.Parameter(torch.randn(1, quantity, stored_size) * 0.02)
        self.target_weights = (nn.Parameter(torch.randn(1, quantity, projection_size) * 0.02)
                               if lookup_weights_as_separated else None)

    def _prepare(self, input: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        stored = self.lookup_weights.expand(input.shape[0], -1, -1)
        target = stored if self.target_weights is None else self.target_weights.expand(input.shape[0], -1, -1)
        return stored, input, target

    def forward(self, input: Tensor) -> Tensor:
        return self.hopfield(self._prepare(input))

    def get_association_matrix(self, input: Tensor) -> Tensor:
        return self.hopfield.get_association_matrix(self._prepare(input))


class HopfieldPooling(nn.Module):
    """Pooling layer: ``quantity`` trainable state patterns query the input sequence; the
    output is (batch, quantity · output_size)."""

    def __init__(self, input_size: int, quantity: int = 1, **kwargs):
        super().__init__()
        if quantity < 1:
            raise ValueError(f"quantity: must be >= 1, got {quantity!r}")
        self.hopfield = Hopfield(input_size, **kwargs)
        self.pooling_weights = nn.Parameter(torch.randn(1, quantity, input_size) * 0.02)

    def _prepare(self, input: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        stored, projection = (input, input) if isinstance(input, Tensor) else input
        return stored, self.pooling_weights.expand(stored.shape[0], -1, -1), projection

    def forward(self, input: Tensor | tuple[Tensor, Tensor], stored_pattern_padding_mask: Tensor | None = None) -> Tensor:
        return self.hopfield(self._prepare(input), stored_pattern_padding_mask).flatten(start_dim=1)

    def get_association_matrix(self, input: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        return self.hopfield.get_association_matrix(self._prepare(input))
