"""Exporters of MultiheadAttention and the Transformer layers (batched input).

Attention is written out as ONNX MatMul/Softmax nodes (the fused ``Attention`` operator
is opset 23 and not yet read widely). Of the masks, the causal one is exported, built in
the graph for the sequence length met at run time; any other mask (padding masks,
arbitrary attention masks) stops the export, naming it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._graph import ExportContext, Value
from ._registry import builtin


def _no_masks(ctx: ExportContext, **masks: Any) -> None:
    given = [k for k, v in masks.items() if v is not None and v is not False]
    if given:
        raise ctx.fail(f"{', '.join(given)} given; masks are not exported yet")


def _is_causal_mask(mask: Any) -> bool:
    """True for PyTorch's causal mask: True (bool) or -inf (float) above the diagonal only."""
    m = np.asarray(getattr(mask, "data", mask))
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        return False
    above = np.triu(np.ones(m.shape, dtype=bool), 1)
    if m.dtype == np.bool_:
        return bool((m == above).all())
    return bool(np.all(np.where(above, m == -np.inf, m == 0)))


def _causal_scores(ctx: ExportContext, scores: str, like: Value) -> str:
    """Scores (N, H, L, S) with -inf above the diagonal, for the L and S of the run."""
    from onnx import TensorProto, numpy_helper

    ctx.require_opset(14, "the causal mask uses ONNX Trilu")
    ls = ctx.op("Slice", ctx.op("Shape", scores), ctx.ints([2]), ctx.ints([4]))
    one = numpy_helper.from_array(np.ones(1, dtype=like.dtype), "value")
    ones = ctx.op("ConstantOfShape", ls, value=one)
    upper = ctx.op("Trilu", ones, ctx.const(np.asarray(1, dtype=np.int64), "k"), upper=1)
    above = ctx.op("Cast", upper, to=TensorProto.BOOL)
    return ctx.op("Where", above, ctx.scalar(-np.inf, like), scores)


def _affine(ctx: ExportContext, x: Any, w: np.ndarray, b: Any, name: str) -> str:
    y = ctx.op("MatMul", x, ctx.weight(np.ascontiguousarray(w.T), f"{name}_t"))
    if b is not None:
        y = ctx.op("Add", y, ctx.weight(np.asarray(b), f"{name}_bias"))
    return y


@builtin("MultiheadAttention")
def _mha(
    ctx: ExportContext,
    m: Any,
    query: Value,
    key: Value,
    value: Value,
    key_padding_mask: Any = None,
    need_weights: bool = True,
    attn_mask: Any = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple:
    causal = attn_mask is not None and _is_causal_mask(attn_mask)
    _no_masks(ctx, key_padding_mask=key_padding_mask, attn_mask=None if causal else attn_mask)
    if query.ndim != 3:
        raise ctx.fail(f"query has shape {query.shape}; export handles batched (3-D) input")
    if m.bias_k is not None or m.add_zero_attn:
        raise ctx.fail("add_bias_kv and add_zero_attn are not exported")
    H, hd, E = m.num_heads, m.head_dim, m.embed_dim
    if m._qkv_same_embed_dim:
        ws = np.split(np.asarray(m.in_proj_weight.data), 3)
    else:
        ws = [np.asarray(getattr(m, f"{c}_proj_weight").data) for c in "qkv"]
    bs = [None] * 3 if m.in_proj_bias is None else np.split(np.asarray(m.in_proj_bias.data), 3)
    # (T, N, E) or (N, T, E) -> (N, H, T, hd)
    perm = [0, 2, 1, 3] if m.batch_first else [1, 2, 0, 3]
    heads = []
    for x, w, b, c in zip((query, key, value), ws, bs, "qkv"):
        y = ctx.reshape(_affine(ctx, x, w, b, f"{c}_proj"), [0, 0, H, hd])
        heads.append(ctx.op("Transpose", y, perm=perm))
    q, k, v = heads
    scores = ctx.op("MatMul", q, ctx.op("Transpose", k, perm=[0, 1, 3, 2]))
    scores = ctx.op("Mul", scores, ctx.scalar(1.0 / math.sqrt(hd), query))
    if causal:
        scores = _causal_scores(ctx, scores, query)
    p = ctx.op("Softmax", scores, axis=-1)
    o = ctx.op("MatMul", p, v)
    o = ctx.op("Transpose", o, perm=[0, 2, 1, 3] if m.batch_first else [2, 0, 1, 3])
    o = ctx.reshape(o, [0, 0, E])
    out_b = None if m.out_proj.bias is None else m.out_proj.bias.data
    out = _affine(ctx, o, np.asarray(m.out_proj.weight.data), out_b, "out_proj")
    if not need_weights:
        return (out, None)
    weights = ctx.reduce("ReduceMean", p, [1], keepdims=False) if average_attn_weights else p
    return (out, weights)


def _add(ctx: ExportContext, a: Value, b: Value) -> Value:
    return Value(ctx.op("Add", a, b), a.example + b.example)


def _feed_forward(ctx: ExportContext, m: Any, x: Value) -> Value:
    from ..autograd.mode import no_grad
    from ..autograd.tensor import Tensor

    h = ctx.call(m.linear1, x, name="linear1")
    if m._act_name is None and "activation" in m._modules:
        a = ctx.call(m._modules["activation"], h, name="activation")
    else:
        with no_grad():
            example = np.asarray(m._act(Tensor(h.example)).data)
        if m._act_name == "relu":
            a = Value(ctx.op("Relu", h), example)
        elif m._act_name == "gelu":
            from ._layers import _gelu

            class _Exact:
                approximate = "none"

            a = Value(_gelu(ctx, _Exact(), h), example)
        else:
            raise ctx.fail("its activation is a plain function, which export cannot trace")
    return ctx.call(m.linear2, a, name="linear2")


def _attend(
    ctx: ExportContext, attn: Any, x: Value, mem: Value, name: str, mask: Any, kpm: Any,
    is_causal: Any,
) -> Value:  # fmt: skip
    # The same call as the layer's own, so the example values are the layer's.
    out, _ = ctx.call(
        attn, x, mem, mem, name=name, attn_mask=mask, key_padding_mask=kpm,
        need_weights=False, is_causal=bool(is_causal),
    )  # fmt: skip
    return out


@builtin("TransformerEncoderLayer")
def _encoder_layer(
    ctx: ExportContext, m: Any, src: Value, src_mask: Any = None,
    src_key_padding_mask: Any = None, is_causal: bool = False,
) -> str:  # fmt: skip
    masks = (src_mask, src_key_padding_mask, is_causal)
    x = src
    if m.norm_first:
        n1 = ctx.call(m.norm1, x, name="norm1")
        x = _add(ctx, x, _attend(ctx, m.self_attn, n1, n1, "self_attn", *masks))
        x = _add(ctx, x, _feed_forward(ctx, m, ctx.call(m.norm2, x, name="norm2")))
        return x.name
    y = _attend(ctx, m.self_attn, x, x, "self_attn", *masks)
    x = ctx.call(m.norm1, _add(ctx, x, y), name="norm1")
    return ctx.call(m.norm2, _add(ctx, x, _feed_forward(ctx, m, x)), name="norm2").name


@builtin("TransformerDecoderLayer")
def _decoder_layer(
    ctx: ExportContext, m: Any, tgt: Value, memory: Value, tgt_mask: Any = None,
    memory_mask: Any = None, tgt_key_padding_mask: Any = None,
    memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
    memory_is_causal: bool = False,
) -> str:  # fmt: skip
    self_masks = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
    cross_masks = (memory_mask, memory_key_padding_mask, memory_is_causal)
    x = tgt
    if m.norm_first:
        n1 = ctx.call(m.norm1, x, name="norm1")
        x = _add(ctx, x, _attend(ctx, m.self_attn, n1, n1, "self_attn", *self_masks))
        n2 = ctx.call(m.norm2, x, name="norm2")
        y = _attend(ctx, m.multihead_attn, n2, memory, "multihead_attn", *cross_masks)
        x = _add(ctx, x, y)
        x = _add(ctx, x, _feed_forward(ctx, m, ctx.call(m.norm3, x, name="norm3")))
        return x.name
    y = _attend(ctx, m.self_attn, x, x, "self_attn", *self_masks)
    x = ctx.call(m.norm1, _add(ctx, x, y), name="norm1")
    y = _attend(ctx, m.multihead_attn, x, memory, "multihead_attn", *cross_masks)
    x = ctx.call(m.norm2, _add(ctx, x, y), name="norm2")
    return ctx.call(m.norm3, _add(ctx, x, _feed_forward(ctx, m, x)), name="norm3").name


@builtin("TransformerEncoder")
def _encoder(
    ctx: ExportContext, m: Any, src: Value, mask: Any = None, src_key_padding_mask: Any = None,
    is_causal: Any = None,
) -> str:  # fmt: skip
    # The container's own rule for the flag it hands each layer.
    from ..nn.transformer import _detect_is_causal_mask, _seq_len

    first = m.layers[0].self_attn
    causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, first.batch_first))
    x = src
    for i, layer in enumerate(m.layers):
        x = ctx.call(layer, x, name=f"layers.{i}", src_mask=mask,
                     src_key_padding_mask=src_key_padding_mask, is_causal=causal)  # fmt: skip
    if m.norm is not None:
        x = ctx.call(m.norm, x, name="norm")
    return x.name


@builtin("TransformerDecoder")
def _decoder(ctx: ExportContext, m: Any, tgt: Value, memory: Value, **masks: Any) -> str:
    # The decoder hands its masks to every layer; retrograd's own call (run by ctx.call)
    # checks them, the attention exporter maps the causal one or refuses.
    x = tgt
    for i, layer in enumerate(m.layers):
        kw = {k: v for k, v in masks.items() if v is not None}
        x = ctx.call(layer, x, memory, name=f"layers.{i}", **_decoder_layer_masks(m, x, kw))
    if m.norm is not None:
        x = ctx.call(m.norm, x, name="norm")
    return x.name


def _decoder_layer_masks(m: Any, tgt: Value, masks: dict) -> dict:
    """The keyword arguments TransformerDecoder.forward passes each layer."""
    from ..nn.transformer import _detect_is_causal_mask, _seq_len

    first = m.layers[0].self_attn
    out = {k: v for k, v in masks.items() if not k.endswith("is_causal")}
    out["tgt_is_causal"] = _detect_is_causal_mask(
        masks.get("tgt_mask"), masks.get("tgt_is_causal"), _seq_len(tgt, first.batch_first)
    )
    out["memory_is_causal"] = bool(masks.get("memory_is_causal", False))
    return out


@builtin("Transformer")
def _transformer(ctx: ExportContext, m: Any, src: Value, tgt: Value, **masks: Any) -> str:
    enc = {"mask": masks.get("src_mask"), "src_key_padding_mask": masks.get(
        "src_key_padding_mask"), "is_causal": masks.get("src_is_causal")}  # fmt: skip
    memory = ctx.call(m.encoder, src, name="encoder", **enc)
    dec = {k: masks[k] for k in ("tgt_mask", "memory_mask", "tgt_key_padding_mask",
                                 "memory_key_padding_mask", "tgt_is_causal",
                                 "memory_is_causal") if k in masks}  # fmt: skip
    return ctx.call(m.decoder, tgt, memory, name="decoder", **dec).name
