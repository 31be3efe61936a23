"""Exporters of MultiheadAttention and the Transformer layers (batched, without masks).

Attention is written out as ONNX MatMul/Softmax nodes (the fused ``Attention`` operator
is opset 23 and not yet read widely). Masks are not exported: a layer called with one
refuses, naming it.
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
    _no_masks(ctx, key_padding_mask=key_padding_mask, attn_mask=attn_mask)
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


def _attend(ctx: ExportContext, attn: Any, x: Value, mem: Value, name: str) -> Value:
    out, _ = ctx.call(attn, x, mem, mem, name=name, need_weights=False)
    return out


@builtin("TransformerEncoderLayer")
def _encoder_layer(
    ctx: ExportContext, m: Any, src: Value, src_mask: Any = None,
    src_key_padding_mask: Any = None, is_causal: bool = False,
) -> str:  # fmt: skip
    _no_masks(ctx, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask)
    x = src
    if m.norm_first:
        n1 = ctx.call(m.norm1, x, name="norm1")
        x = _add(ctx, x, _attend(ctx, m.self_attn, n1, n1, "self_attn"))
        x = _add(ctx, x, _feed_forward(ctx, m, ctx.call(m.norm2, x, name="norm2")))
        return x.name
    x = ctx.call(m.norm1, _add(ctx, x, _attend(ctx, m.self_attn, x, x, "self_attn")), name="norm1")
    return ctx.call(m.norm2, _add(ctx, x, _feed_forward(ctx, m, x)), name="norm2").name


@builtin("TransformerDecoderLayer")
def _decoder_layer(
    ctx: ExportContext, m: Any, tgt: Value, memory: Value, tgt_mask: Any = None,
    memory_mask: Any = None, tgt_key_padding_mask: Any = None,
    memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
    memory_is_causal: bool = False,
) -> str:  # fmt: skip
    _no_masks(
        ctx, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
        memory_key_padding_mask=memory_key_padding_mask,
    )  # fmt: skip
    x = tgt
    if m.norm_first:
        n1 = ctx.call(m.norm1, x, name="norm1")
        x = _add(ctx, x, _attend(ctx, m.self_attn, n1, n1, "self_attn"))
        n2 = ctx.call(m.norm2, x, name="norm2")
        x = _add(ctx, x, _attend(ctx, m.multihead_attn, n2, memory, "multihead_attn"))
        x = _add(ctx, x, _feed_forward(ctx, m, ctx.call(m.norm3, x, name="norm3")))
        return x.name
    x = ctx.call(m.norm1, _add(ctx, x, _attend(ctx, m.self_attn, x, x, "self_attn")), name="norm1")
    y = _attend(ctx, m.multihead_attn, x, memory, "multihead_attn")
    x = ctx.call(m.norm2, _add(ctx, x, y), name="norm2")
    return ctx.call(m.norm3, _add(ctx, x, _feed_forward(ctx, m, x)), name="norm3").name


@builtin("TransformerEncoder")
def _encoder(
    ctx: ExportContext, m: Any, src: Value, mask: Any = None, src_key_padding_mask: Any = None,
    is_causal: Any = None,
) -> str:  # fmt: skip
    _no_masks(ctx, mask=mask, src_key_padding_mask=src_key_padding_mask)
    x = src
    for i, layer in enumerate(m.layers):
        x = ctx.call(layer, x, name=f"layers.{i}")
    if m.norm is not None:
        x = ctx.call(m.norm, x, name="norm")
    return x.name


@builtin("TransformerDecoder")
def _decoder(ctx: ExportContext, m: Any, tgt: Value, memory: Value, **masks: Any) -> str:
    _no_masks(ctx, **{k: v for k, v in masks.items() if not k.endswith("is_causal")})
    x = tgt
    for i, layer in enumerate(m.layers):
        x = ctx.call(layer, x, memory, name=f"layers.{i}")
    if m.norm is not None:
        x = ctx.call(m.norm, x, name="norm")
    return x.name


@builtin("Transformer")
def _transformer(ctx: ExportContext, m: Any, src: Value, tgt: Value, **masks: Any) -> str:
    _no_masks(ctx, **{k: v for k, v in masks.items() if not k.endswith("is_causal")})
    memory = ctx.call(m.encoder, src, name="encoder")
    return ctx.call(m.decoder, tgt, memory, name="decoder").name
