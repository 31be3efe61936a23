"""Embedding lookup and scaled dot-product attention, each one primitive with its own VJP.

``Embedding`` gathers rows of a weight matrix; its VJP scatter-adds the output gradient
back into those rows (repeated indices add up), skipping ``padding_idx``.

``ScaledDotProductAttention`` computes ``softmax(q k^T * scale + mask) v`` for all heads
at once. The backward keeps the softmax probabilities ``P`` (one (L, S) matrix per batch
element and head) and nothing else of its own: the dropout mask, when there is one, is
drawn again from a stored seed instead of being kept, and the scores are never stored.
Its VJP::

    dV = P_d^T dO,   dP_d = dO V^T,   dP = dP_d * keep / (1 - p)
    dS = P * (dP - rowsum(dP * P)),   dQ = scale * dS K,   dK = scale * dS^T Q

PyTorch's semantics, checked against it: a boolean mask says which keys take part
(True = attend), a float mask is added to the scores, ``is_causal`` keeps key ``j`` for
query ``i`` when ``j <= i`` (top-left aligned) and combines with ``attn_mask``. A query
whose every key is masked gets zero output and zero gradient (PyTorch's "safe softmax"
in scaled_dot_product_attention); ``safe=False`` gives the NaN that a plain softmax
gives, which is what ``nn.MultiheadAttention(need_weights=True)`` returns in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import xp
from ..autograd.function import Function, unbroadcast
from ..autograd.tensor import Tensor
from ..random import default_generator
from ._util import ensure_tensor

# ------------------------------------------------------------------------ embedding


class Embedding(Function):
    """Row lookup ``weight[indices]``; the VJP scatter-adds into the rows looked up.

    With ``max_norm``, the rows looked up are first rescaled in place (PyTorch's
    ``embedding_renorm_``); doing it here rather than in the caller keeps a recorded
    training step replayable (the replay renormalises the new batch's rows).
    """

    replay = "checked"

    @staticmethod
    def replay_check(arrays: tuple, params: dict) -> bool:
        # A replay skips the caller's index check: replay only in-range integer indices
        # (a negative index would otherwise wrap around silently).
        w, idx = arrays[0], arrays[1]
        return idx.dtype.kind in "iu" and (
            idx.size == 0 or (int(idx.min()) >= 0 and int(idx.max()) < w.shape[0])
        )

    def forward(
        self,
        weight,
        indices,
        padding_idx=None,
        scale_grad_by_freq=False,
        max_norm=None,
        norm_type=2.0,
    ):
        if max_norm is not None:
            _renorm_rows(weight, indices, max_norm, norm_type)
        self.shape = weight.shape
        self.indices = indices
        self.padding_idx = padding_idx
        self.scale_grad_by_freq = scale_grad_by_freq
        return weight[indices]

    def backward(self, g):
        if not self.needs[0]:
            return None, None
        n, d = self.shape
        flat = self.indices.reshape(-1)
        g2 = g.reshape(-1, d)
        if self.scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=n)
            g2 = g2 / counts[flat][:, None].astype(g.dtype)
        gw = xp.zeros(self.shape, dtype=g.dtype)
        # NOTE: repeated indices must add up: gw[flat] += g2 would keep only one of them.
        xp.add.at(gw, flat, g2)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw, None

    def backward_graph(self, g, out):
        if not self.needs[0]:
            return None, None
        from ._graph import reshape

        n, d = self.shape
        flat = self.indices.reshape(-1)
        scale = None
        if self.scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=n)
            scale = (1.0 / counts[flat][:, None]).astype(g.dtype)
        gw = EmbeddingBackward.apply(
            reshape(g, (-1, d)), shape=self.shape, flat=flat, scale=scale, pad=self.padding_idx
        )
        return gw, None


class EmbeddingBackward(Function):
    """Embedding's VJP as a primitive, for ``create_graph``: the rows of ``g`` added into
    a zero table (scaled by 1/frequency when asked, the padding row zeroed).

    Its own VJP is PyTorch's double backward: the rows gathered back, zero at the padding
    index, *without* the frequency scaling. The Embedding node the gradient also flows
    through applies that scaling once, so the second derivative is the exact derivative
    of the (scaled) first derivative, as in PyTorch.
    """

    # Its keywords (the rows, their frequencies) come from the batch's indices.
    replay = "never"

    def forward(self, g2, shape=None, flat=None, scale=None, pad=None):
        self.flat, self.pad = flat, pad
        gw = xp.zeros(shape, dtype=g2.dtype)
        xp.add.at(gw, flat, g2 if scale is None else g2 * scale)
        if pad is not None:
            gw[pad] = 0
        return gw

    def _keep(self, dtype):
        return None if self.pad is None else (self.flat != self.pad)[:, None].astype(dtype)

    def backward(self, gg):
        rows = gg[self.flat]
        keep = self._keep(gg.dtype)
        return (rows if keep is None else rows * keep,)

    def backward_graph(self, gg, out):
        from .shape import GetItem

        rows = GetItem.apply(gg, index=self.flat)
        keep = self._keep(gg.dtype)
        return (rows if keep is None else rows * keep,)


def _check_indices(idx: Tensor, num: int, who: str) -> Any:
    data = idx.data
    if data.dtype.kind not in "iu":
        raise TypeError(
            f"{who}: input (the indices) must be an integer tensor, got dtype {data.dtype}"
        )
    if data.size:
        lo, hi = int(data.min()), int(data.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(
                f"{who}: index {bad} is out of range for an embedding of {num} rows; "
                f"expected indices in [0, {num - 1}]"
            )
    return data


def embedding(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
    *,
    _who: str = "embedding",
) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, embedding_dim) for integer ``input``.

    The result has shape ``input.shape + (embedding_dim,)``. ``padding_idx``'s row gets
    no gradient. With ``max_norm``, the rows looked up whose ``norm_type``-norm exceeds
    it are rescaled IN PLACE in ``weight`` first (as PyTorch; not differentiated).
    ``scale_grad_by_freq`` divides each row's gradient by its count in ``input``.

    Example::

        >>> import retrograd as rg
        >>> w = rg.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
        >>> rg.nn.functional.embedding(rg.tensor([[1, 2], [2, 2]]), w).shape
        (2, 2, 2)
    """
    who = _who
    w = ensure_tensor(weight)
    idx = input if isinstance(input, Tensor) else Tensor(xp.asarray(input))
    if w.ndim != 2:
        raise ValueError(
            f"{who}: weight has shape {w.shape}, expected 2-D (num_embeddings, embedding_dim)"
        )
    if w.data.dtype.kind != "f":
        raise TypeError(f"{who}: weight must be floating point, got dtype {w.data.dtype}")
    if sparse:
        raise ValueError(f"{who}: sparse=True is not supported (gradients are dense)")
    num = w.shape[0]
    if padding_idx is not None:
        padding_idx = normalize_padding_idx(padding_idx, num, who)
    _check_indices(idx, num, who)
    if max_norm is not None:
        for name, v in (("max_norm", max_norm), ("norm_type", norm_type)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
                raise ValueError(f"{who}: {name} must be a positive number, got {v!r}")
        max_norm, norm_type = float(max_norm), float(norm_type)
    return Embedding.apply(
        w,
        idx,
        padding_idx=padding_idx,
        scale_grad_by_freq=bool(scale_grad_by_freq),
        max_norm=max_norm,
        norm_type=norm_type,
    )


def normalize_padding_idx(padding_idx: Any, num: int, who: str) -> int:
    """``padding_idx`` as a row number in [0, num); negative values count from the end."""
    if not isinstance(padding_idx, (int, xp.integer)) or isinstance(padding_idx, bool):
        raise TypeError(f"{who}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -num <= padding_idx < num:
        raise ValueError(
            f"{who}: padding_idx {padding_idx} is out of range; expected an int in "
            f"[{-num}, {num - 1}] for {num} embeddings"
        )
    return int(padding_idx) % num


def _renorm_rows(w: Any, indices: Any, max_norm: float, norm_type: float) -> None:
    """Rescale the rows of ``w`` that ``indices`` name and whose norm exceeds ``max_norm``."""
    rows = xp.unique(indices.reshape(-1))
    sel = w[rows]
    if math.isinf(norm_type):
        norms = xp.abs(sel).max(axis=1)
    else:
        norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        # PyTorch's embedding_renorm_: scale = max_norm / (norm + 1e-7).
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] = sel[big] * scale[:, None]


# ------------------------------------------------------------------------ attention


def _softmax_rows(s: Any, safe: bool) -> Any:
    """Softmax over the last axis of ``s``, computed in place; fully masked rows -> 0."""
    m = s.max(axis=-1, keepdims=True)
    if safe:
        dead = xp.isneginf(m)
        if dead.any():
            m = xp.where(dead, 0, m)
    s -= m
    xp.exp(s, out=s)
    z = s.sum(axis=-1, keepdims=True)
    if safe:
        # A row of -inf scores exponentiates to zeros: 0 / 0 -> keep the zeros.
        xp.divide(s, z, out=s, where=z > 0)
    else:
        s /= z
    return s


_CAUSAL: dict = {}


def _causal_bias(L: int, S: int, dtype: Any) -> Any:
    """(L, S) additive mask: 0 where key j <= query i, -inf above (cached, read-only).

    A broadcast add measured several times faster than assigning -inf through a boolean
    index over every batch and head."""
    key = (L, S, xp.dtype(dtype))
    bias = _CAUSAL.get(key)
    if bias is None:
        if len(_CAUSAL) > 32:
            _CAUSAL.clear()
        bias = xp.where(xp.tri(L, S, dtype=bool), 0.0, -xp.inf).astype(dtype)
        bias.flags.writeable = False
        _CAUSAL[key] = bias
    return bias


def _keep_mask(seed: int, shape: tuple, p: float) -> Any:
    return xp.random.default_rng(seed).random(shape, dtype=xp.float32) >= p


class ScaledDotProductAttention(Function):
    """``softmax(q k^T * scale + mask) v`` over the last two axes, batch axes broadcast.

    Arguments: ``q`` (..., L, E), ``k`` (..., S, E), ``v`` (..., S, Ev) and optionally
    ``mask`` broadcastable to (..., L, S): boolean (True = attend) or float (added; then
    differentiable). Parameters: ``scale``, ``causal``, ``dropout_p``, ``safe`` (fully
    masked rows give 0, else NaN) and ``with_weights``: then the result is the output and
    the (dropped-out) attention weights side by side, (..., L, Ev + S).
    """

    replay = "pure"

    def forward(
        self,
        q,
        k,
        v,
        mask=None,
        scale=1.0,
        causal=False,
        dropout_p=0.0,
        safe=True,
        with_weights=False,
    ):
        s = q @ xp.swapaxes(k, -1, -2)
        s *= s.dtype.type(scale)
        L, S = s.shape[-2:]
        if mask is not None:
            if mask.dtype == xp.bool_:
                s = xp.where(mask, s, -xp.inf).astype(s.dtype, copy=False)
            else:
                s += mask
        if causal:
            s += _causal_bias(L, S, s.dtype)
        p = _softmax_rows(s, safe)
        self.causal, self.safe = causal, safe
        self.p, self.q, self.k, self.v = p, q, k, v
        self.scale, self.dropout_p = scale, dropout_p
        self.mask_shape = None if mask is None or mask.dtype == xp.bool_ else mask.shape
        self.ev = v.shape[-1]
        self.with_weights = with_weights
        pd = p
        if dropout_p > 0.0:
            # The seed, not the mask, is what the backward keeps (see the module docstring).
            self.seed = int(default_generator().integers(2**63))
            keep = _keep_mask(self.seed, p.shape, dropout_p)
            pd = p * keep
            pd *= pd.dtype.type(1.0 / (1.0 - dropout_p))
        out = pd @ v
        if with_weights:
            out = xp.concatenate([out, xp.broadcast_to(pd, out.shape[:-1] + (S,))], axis=-1)
        return out

    def composite(self, q, k, v, mask=None):
        """The same attention from matmul, softmax and constants (for create_graph): the
        dropout mask comes from the stored seed, fully masked rows are held at zero."""
        from .elementwise import div, exp, mul, sub, where
        from .linalg import matmul
        from .reduce import sum as sum_
        from .shape import concatenate, transpose

        s = mul(matmul(q, transpose(k, -2, -1)), self.scale)
        L, S = s.shape[-2:]
        if mask is not None:
            if mask.data.dtype == xp.bool_:
                s = where(mask.data, s, -xp.inf)
            else:
                s = s + mask
        if self.causal:
            s = s + Tensor._wrap(_causal_bias(L, S, s.data.dtype), False, None)
        dead = None
        if self.safe:
            dead = xp.isneginf(s.data.max(axis=-1, keepdims=True))
            if dead.any():
                s = where(dead, 0.0, s)
            else:
                dead = None
        # softmax as exp / sum, shifted by a constant row max (the function is unchanged)
        e = exp(sub(s, Tensor._wrap(s.data.max(axis=-1, keepdims=True), False, None)))
        p = div(e, sum_(e, axis=-1, keepdims=True))
        if dead is not None:
            p = where(dead, 0.0, p)
        if self.dropout_p > 0.0:
            keep = _keep_mask(self.seed, p.shape, self.dropout_p).astype(p.data.dtype)
            p = mul(p, Tensor._wrap(keep / (1.0 - self.dropout_p), False, None))
        out = matmul(p, v)
        if self.with_weights:
            out = concatenate([out, p], axis=-1)
        return out

    def backward(self, g):
        p, q, k, v = self.p, self.q, self.k, self.v
        needs = self.needs
        g_out = g[..., : self.ev] if self.with_weights else g
        keep = None
        pd = p
        if self.dropout_p > 0.0:
            keep = _keep_mask(self.seed, p.shape, self.dropout_p)
            inv = p.dtype.type(1.0 / (1.0 - self.dropout_p))
            pd = p * keep
            pd *= inv
        gq = gk = gv = gm = None
        if needs[2]:
            gv = unbroadcast(xp.swapaxes(pd, -1, -2) @ g_out, v.shape)
        dp = g_out @ xp.swapaxes(v, -1, -2)
        if self.with_weights:
            dp += g[..., self.ev :]
        if keep is not None:
            dp *= keep
            dp *= inv
        # softmax VJP: dS = P * (dP - rowsum(dP * P)); NaN rows (safe=False) stay NaN.
        ds = dp
        ds -= (dp * p).sum(axis=-1, keepdims=True)
        ds *= p
        if len(needs) > 3 and needs[3]:
            gm = unbroadcast(ds, self.mask_shape)
        if needs[0] or needs[1]:
            ds *= ds.dtype.type(self.scale)
        if needs[0]:
            gq = unbroadcast(ds @ k, q.shape)
        if needs[1]:
            gk = unbroadcast(xp.swapaxes(ds, -1, -2) @ q, k.shape)
        return gq, gk, gv, gm


def _broadcast_batch(shapes: list, names: list, who: str) -> tuple:
    try:
        return xp.broadcast_shapes(*shapes)
    except ValueError:
        detail = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(
            f"{who}: the batch dimensions of {detail} do not broadcast together"
        ) from None


def check_attn_mask(mask: Any, dtype: Any, target: tuple, who: str, name: str) -> Tensor:
    """Validate a boolean/float mask broadcastable to ``target`` (..., L, S)."""
    m = mask if isinstance(mask, Tensor) else Tensor(xp.asarray(mask))
    kind = m.data.dtype
    if kind != xp.bool_ and kind != dtype:
        raise TypeError(
            f"{who}: {name} must be a bool tensor or a float tensor of the query's dtype "
            f"{dtype}, got dtype {kind}"
        )
    ok = m.ndim <= len(target)
    if ok:
        try:
            ok = xp.broadcast_shapes(m.shape, target) == tuple(target)
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(
            f"{who}: {name} has shape {m.shape}, expected a shape that broadcasts to "
            f"{tuple(target)} (..., L, S)"
        )
    return m


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """Attention ``softmax(Q K^T * scale + mask) V`` over (..., L, E) queries, one node.

    ``key`` is (..., S, E) and ``value`` (..., S, Ev); leading (batch, head) axes
    broadcast. ``attn_mask`` broadcasts to (..., L, S): boolean (True = take part) or a
    float tensor of the query's dtype added to the scores. ``is_causal`` masks key ``j``
    for query ``i`` when ``j > i`` (together with ``attn_mask`` if given). ``scale``
    defaults to ``1/sqrt(E)``. ``dropout_p`` drops attention weights (always: pass 0.0
    in evaluation, as in PyTorch). ``enable_gqa`` lets ``key``/``value`` have fewer heads
    (axis -3) than ``query``, each shared by ``Hq / Hkv`` query heads. A query row
    whose every key is masked gives zeros, as PyTorch.

    Example::

        >>> import retrograd as rg
        >>> q = rg.randn(2, 4, 5, 8)  # (batch, heads, L, E)
        >>> F = rg.nn.functional
        >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
        (2, 4, 5, 8)
    """
    who = "scaled_dot_product_attention"
    q, k, v = ensure_tensor(query), ensure_tensor(key), ensure_tensor(value)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ValueError(f"{who}: {name} has shape {t.shape}, expected (..., L, E)")
        if t.data.dtype.kind != "f":
            raise TypeError(f"{who}: {name} must be floating point, got dtype {t.data.dtype}")
    if not (q.data.dtype == k.data.dtype == v.data.dtype):
        raise TypeError(
            f"{who}: query, key and value must have one dtype, got {q.data.dtype}, "
            f"{k.data.dtype} and {v.data.dtype}"
        )
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"{who}: key has shape {k.shape}, expected its last dimension to equal the "
            f"query's embedding size {q.shape[-1]}"
        )
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"{who}: value has shape {v.shape}, expected {k.shape[-2]} positions (axis -2) "
            f"like key {k.shape}"
        )
    if enable_gqa:
        q_h = q.shape[-3] if q.ndim >= 3 else 1
        kv_h = k.shape[-3] if k.ndim >= 3 else 1
        if k.ndim < 3 or v.ndim < 3 or v.shape[-3] != kv_h or q_h % kv_h:
            raise ValueError(
                f"{who}: enable_gqa needs key/value heads (axis -3) dividing the query's: "
                f"query {q.shape}, key {k.shape}, value {v.shape}"
            )
        if kv_h != q_h:
            from .shape import getitem

            rep = xp.repeat(xp.arange(kv_h), q_h // kv_h)
            index = (Ellipsis, rep, slice(None), slice(None))
            k, v = getitem(k, index), getitem(v, index)
    batch = _broadcast_batch(
        [q.shape[:-2], k.shape[:-2], v.shape[:-2]], ["query", "key", "value"], who
    )
    L, S = q.shape[-2], k.shape[-2]
    if not isinstance(dropout_p, (int, float)) or isinstance(dropout_p, bool):
        raise TypeError(f"{who}: dropout_p must be a float in [0, 1), got {dropout_p!r}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{who}: dropout_p must be in [0, 1), got {dropout_p!r}")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    elif not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale):
        raise ValueError(f"{who}: scale must be a finite number or None, got {scale!r}")
    params = dict(scale=float(scale), causal=bool(is_causal), dropout_p=float(dropout_p), safe=True)
    if attn_mask is None:
        return ScaledDotProductAttention.apply(q, k, v, **params)
    m = check_attn_mask(attn_mask, q.data.dtype, batch + (L, S), who, "attn_mask")
    return ScaledDotProductAttention.apply(q, k, v, m, **params)
