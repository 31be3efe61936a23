"""Multi-head attention with PyTorch's parameters, arguments and mask conventions.

The heads run in one :class:`retrograd.ops.attention.ScaledDotProductAttention` node; the
projections are :func:`retrograd.ops.linear` nodes. Parameter names and layouts are those
of ``torch.nn.MultiheadAttention``: ``in_proj_weight`` (3E, E) stacks the query, key and
value projections (or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when
``kdim``/``vdim`` differ from ``embed_dim``), ``in_proj_bias`` (3E,), ``out_proj`` a Linear.

Mask conventions (PyTorch's, and NOT those of ``scaled_dot_product_attention``): in a
boolean ``attn_mask`` or ``key_padding_mask``, True marks a position that may NOT be
attended; a float mask is added to the scores.
"""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import resolve_dtype
from ..autograd.tensor import Tensor
from ..ops import getitem, linear, permute, reshape
from ..ops.attention import ScaledDotProductAttention
from ..ops.shape import concatenate, expand
from . import init
from .layers import Linear
from .module import Module, Parameter


def _tensor(x: Any, dtype: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x, dtype=dtype)


def _mask_tensor(mask: Any) -> Tensor:
    return mask if isinstance(mask, Tensor) else Tensor(xp.asarray(mask))


def _check_mask_dtype(m: Tensor, dtype: Any, who: str, name: str) -> None:
    if m.data.dtype != xp.bool_ and m.data.dtype != dtype:
        raise TypeError(
            f"{who}: {name} must be a bool tensor or a float tensor of the input's dtype "
            f"{dtype}, got dtype {m.data.dtype}"
        )


def _to_float_mask(m: Tensor, dtype: Any) -> Tensor:
    """PyTorch's canonical mask: True (not allowed) -> -inf, False -> 0; floats unchanged."""
    if m.data.dtype != xp.bool_:
        return m
    return Tensor._wrap(xp.where(m.data, -xp.inf, 0.0).astype(dtype), False, None)


class MultiheadAttention(Module):
    """Attention from ``query`` to ``key``/``value`` with ``num_heads`` parallel heads.

    Inputs are (L, N, E) (or (N, L, E) with ``batch_first=True``, or unbatched (L, E));
    ``key``/``value`` have ``kdim``/``vdim`` features (default ``embed_dim``). Returns
    ``(output, weights)``: weights are (N, L, S) averaged over heads, (N, num_heads, L, S)
    with ``average_attn_weights=False``, or None with ``need_weights=False``. Dropout
    (probability ``dropout``) acts on the attention weights in training mode.

    Example::

        >>> import retrograd as rg
        >>> mha = rg.nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = rg.randn(2, 5, 16)
        >>> out, w = mha(x, x, x)
        >>> out.shape, w.shape
        ((2, 5, 16), (2, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = "MultiheadAttention"
        for name, v in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(v, (int, xp.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{who}: {name} must be a positive int, got {v!r}")
        for name, v in (("kdim", kdim), ("vdim", vdim)):
            if v is not None and (
                not isinstance(v, (int, xp.integer)) or isinstance(v, bool) or v <= 0
            ):
                raise ValueError(f"{who}: {name} must be a positive int or None, got {v!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"{who}: embed_dim={embed_dim} must be divisible by num_heads={num_heads}"
            )
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{who}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = self.embed_dim if kdim is None else int(kdim)
        self.vdim = self.embed_dim if vdim is None else int(vdim)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        dt = resolve_dtype(dtype)
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(xp.empty((3 * E, E), dtype=dt))
            for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(n, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(xp.empty((E, E), dtype=dt))
            self.k_proj_weight = Parameter(xp.empty((E, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(xp.empty((E, self.vdim), dtype=dt))
        if bias:
            self.in_proj_bias = Parameter(xp.empty((3 * E,), dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        if add_bias_kv:
            self.bias_k = Parameter(xp.empty((1, 1, E), dtype=dt))
            self.bias_v = Parameter(xp.empty((1, 1, E), dtype=dt))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dt)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # PyTorch's order and laws: xavier_uniform on the projections, zero biases.
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s

    def get_config(self) -> dict:
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "bias": self.in_proj_bias is not None,
            "add_bias_kv": self.bias_k is not None,
            "add_zero_attn": self.add_zero_attn,
            "kdim": self.kdim,
            "vdim": self.vdim,
            "batch_first": self.batch_first,
            "dtype": str(self.out_proj.weight.data.dtype),
        }

    # ------------------------------------------------------------------ checks

    def _check_inputs(self, q: Tensor, k: Tensor, v: Tensor) -> bool:
        """Validate the shapes (PyTorch's _mha_shape_check); return whether batched."""
        who = self._who()
        if q.ndim not in (2, 3):
            raise ValueError(
                f"{who}: query has shape {q.shape}, expected 3-D (batched) or 2-D (unbatched)"
            )
        for name, t, width in (("key", k, self.kdim), ("value", v, self.vdim)):
            if t.ndim != q.ndim:
                raise ValueError(
                    f"{who}: {name} has shape {t.shape}, expected {q.ndim}-D like the query "
                    f"{q.shape}"
                )
            if t.shape[-1] != width:
                dim = "kdim" if name == "key" else "vdim"
                raise ValueError(
                    f"{who}: {name} has shape {t.shape}, expected last dimension {dim}={width}"
                )
        if q.shape[-1] != self.embed_dim:
            raise ValueError(
                f"{who}: query has shape {q.shape}, expected last dimension "
                f"embed_dim={self.embed_dim}"
            )
        for name, t in (("query", q), ("key", k), ("value", v)):
            if t.data.dtype != self.out_proj.weight.data.dtype:
                raise TypeError(
                    f"{who}: {name} has dtype {t.data.dtype}, expected the layer's dtype "
                    f"{self.out_proj.weight.data.dtype}"
                )
        batched = q.ndim == 3
        if k.shape[:-1] != v.shape[:-1]:
            raise ValueError(
                f"{who}: key {k.shape} and value {v.shape} must have the same sequence and "
                f"batch dimensions"
            )
        if batched:
            bq = q.shape[0] if self.batch_first else q.shape[1]
            bk = k.shape[0] if self.batch_first else k.shape[1]
            if bq != bk:
                raise ValueError(
                    f"{who}: query {q.shape} and key {k.shape} have different batch sizes "
                    f"({bq} and {bk}); batch_first={self.batch_first}"
                )
        return batched

    def _who(self) -> str:
        return f"MultiheadAttention({self.extra_repr()})"

    # ------------------------------------------------------------------ forward

    capture_safe = True

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple:
        who = self._who()
        dt = self.out_proj.weight.data.dtype
        self_attention = query is key and key is value
        q_in = _tensor(query, dt)
        k_in = q_in if key is query else _tensor(key, dt)
        v_in = k_in if value is key else _tensor(value, dt)
        batched = self._check_inputs(q_in, k_in, v_in)
        H, hd, E = self.num_heads, self.head_dim, self.embed_dim
        if batched:
            N = q_in.shape[0] if self.batch_first else q_in.shape[1]
            L = q_in.shape[1] if self.batch_first else q_in.shape[0]
            S = k_in.shape[1] if self.batch_first else k_in.shape[0]
        else:
            N, L, S = 1, q_in.shape[0], k_in.shape[0]
        s_full = S + (self.bias_k is not None) + self.add_zero_attn

        # Masks, checked before any work (PyTorch's shapes).
        kpm = am = None
        if key_padding_mask is not None:
            kpm = _mask_tensor(key_padding_mask)
            _check_mask_dtype(kpm, dt, who, "key_padding_mask")
            want = (N, S) if batched else (S,)
            if kpm.shape != want:
                raise ValueError(
                    f"{who}: key_padding_mask has shape {kpm.shape}, expected {want} "
                    f"({'(N, S)' if batched else '(S,)'})"
                )
            kpm = reshape(kpm, (N, 1, 1, S))
        if is_causal and attn_mask is None:
            raise ValueError(
                f"{who}: is_causal=True is a hint that attn_mask is the causal mask and needs "
                f"attn_mask; pass attn_mask (e.g. generate_square_subsequent_mask(L))"
            )
        causal = False
        if is_causal and kpm is None and not need_weights:
            # PyTorch's rule: the hint replaces attn_mask by the causal mask.
            causal = True
        elif attn_mask is not None:
            am = _mask_tensor(attn_mask)
            _check_mask_dtype(am, dt, who, "attn_mask")
            if am.ndim == 2:
                if am.shape != (L, S):
                    raise ValueError(
                        f"{who}: attn_mask has shape {am.shape}, expected the 2-D shape {(L, S)}"
                        f" (L, S)"
                    )
                am = reshape(am, (1, 1, L, S))
            elif am.ndim == 3:
                want = (N * H, L, S) if batched else (H, L, S)
                if am.shape != want:
                    raise ValueError(
                        f"{who}: attn_mask has shape {am.shape}, expected the 3-D shape {want} "
                        f"(N * num_heads, L, S)"
                    )
                am = reshape(am, (N, H, L, S))
            else:
                raise ValueError(
                    f"{who}: attn_mask has shape {am.shape}, expected 2-D (L, S) or 3-D "
                    f"(N * num_heads, L, S)"
                )

        # Projections. Batched inputs become (N, T, E) views of the layout they came in.
        q, k, v = self._project(q_in, k_in, v_in, self_attention)
        if batched and not self.batch_first:
            q, k, v = (permute(t, (1, 2, 0, 3)) for t in (q, k, v))  # (T, N, H, hd)->(N,H,T,hd)
        elif batched:
            q, k, v = (permute(t, (0, 2, 1, 3)) for t in (q, k, v))  # (N, T, H, hd)->(N,H,T,hd)
        else:
            q, k, v = (permute(t, (1, 0, 2)) for t in (q, k, v))  # (T, H, hd) -> (H, T, hd)
            q, k, v = (reshape(t, (1,) + t.shape) for t in (q, k, v))

        if self.bias_k is not None:
            bk = expand(reshape(self.bias_k, (1, H, 1, hd)), (N, H, 1, hd))
            bv = expand(reshape(self.bias_v, (1, H, 1, hd)), (N, H, 1, hd))
            k, v = concatenate([k, bk], axis=2), concatenate([v, bv], axis=2)
        if self.add_zero_attn:
            z = Tensor._wrap(xp.zeros((N, H, 1, hd), dtype=dt), False, None)
            k, v = concatenate([k, z], axis=2), concatenate([v, z], axis=2)
        mask = self._merge_masks(am, kpm, s_full - S, dt)

        p = self.dropout if self.training else 0.0
        params = dict(scale=1.0 / float(hd) ** 0.5, causal=causal, dropout_p=p)
        args = (q, k, v) if mask is None else (q, k, v, mask)
        if need_weights:
            both = ScaledDotProductAttention.apply(*args, **params, safe=False, with_weights=True)
            o = getitem(both, (Ellipsis, slice(0, hd)))
            weights = getitem(both, (Ellipsis, slice(hd, None)))
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if not batched:
                weights = reshape(weights, weights.shape[1:])
        else:
            o = ScaledDotProductAttention.apply(*args, **params)
            weights = None

        # (N, H, L, hd) -> the input's layout, heads joined, then the output projection.
        if not batched:
            o = reshape(permute(o, (0, 2, 1, 3)), (L, E))
        elif self.batch_first:
            o = reshape(permute(o, (0, 2, 1, 3)), (N, L, E))
        else:
            o = reshape(permute(o, (2, 0, 1, 3)), (L, N, E))
        return self.out_proj(o), weights

    def _project(self, q_in: Tensor, k_in: Tensor, v_in: Tensor, self_attention: bool) -> tuple:
        """The three input projections, each split into heads: (..., T, H, hd)."""
        H, hd, E = self.num_heads, self.head_dim, self.embed_dim
        b = self.in_proj_bias
        if self._qkv_same_embed_dim and self_attention:
            # One product for all three (self-attention): (..., T, 3E) -> 3 x (..., T, H, hd).
            qkv = linear(q_in, self.in_proj_weight, b)
            qkv = reshape(qkv, qkv.shape[:-1] + (3, H, hd))
            return tuple(getitem(qkv, (Ellipsis, i, slice(None), slice(None))) for i in range(3))
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = [getitem(w, slice(i * E, (i + 1) * E)) for i in range(3)]
        else:
            ws = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        bs = [None] * 3 if b is None else [getitem(b, slice(i * E, (i + 1) * E)) for i in range(3)]
        out = []
        for x, w, bias in zip((q_in, k_in, v_in), ws, bs):
            y = linear(x, w, bias)
            out.append(reshape(y, y.shape[:-1] + (H, hd)))
        return tuple(out)

    @staticmethod
    def _merge_masks(am: Tensor | None, kpm: Tensor | None, extra: int, dt: Any) -> Any:
        """One mask for the attention primitive, (N|1, H|1, L|1, S') with S' = S + extra.

        All-boolean masks stay boolean ("attend" = not masked); otherwise both become
        float (-inf where a boolean says masked) and are added, as PyTorch does.
        """
        if am is None and kpm is None:
            return None
        masks = [m for m in (am, kpm) if m is not None]
        if all(m.data.dtype == xp.bool_ for m in masks):
            allowed = None
            for m in masks:
                a = ~m.data
                allowed = a if allowed is None else allowed & a
            if extra:
                pad = [(0, 0)] * (allowed.ndim - 1) + [(0, extra)]
                allowed = xp.pad(allowed, pad, constant_values=True)
            return Tensor._wrap(allowed, False, None)
        fm = [_to_float_mask(m, dt) for m in masks]
        if extra:
            from ..ops.shape import pad

            fm = [pad(m, [(0, 0)] * (m.ndim - 1) + [(0, extra)]) for m in fm]
        return fm[0] if len(fm) == 1 else fm[0] + fm[1]


def generate_square_subsequent_mask(sz: int, dtype: Any = None) -> Tensor:
    """The causal mask for ``sz`` positions: 0 on and below the diagonal, -inf above.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.Transformer.generate_square_subsequent_mask(3).tolist()
        [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
    """
    if not isinstance(sz, (int, xp.integer)) or isinstance(sz, bool) or sz <= 0:
        raise ValueError(f"generate_square_subsequent_mask: sz must be a positive int, got {sz!r}")
    dt = resolve_dtype(dtype)
    m = xp.triu(xp.full((sz, sz), -xp.inf, dtype=dt), 1)
    return Tensor(m)
