"""Embedding, attention and transformer layers: PyTorch parity through state_dicts, errors."""

from __future__ import annotations

import numpy as np
import pytest

import retrograd as rg
from gradcheck_registry import covers
from retrograd import nn
from retrograd.nn import functional as F

# PyTorch warns when a boolean and a float mask meet; both sides add them, as documented.
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched", "ignore:The PyTorch API")

TOL = {"float64": 1e-10, "float32": 1e-5}


def _to_torch(torch, layer_t, layer_r):
    sd = {k: torch.tensor(np.asarray(v)) for k, v in layer_r.state_dict().items()}
    assert list(sd) == list(layer_t.state_dict())
    for k, v in layer_t.state_dict().items():
        assert tuple(sd[k].shape) == tuple(v.shape), k
    layer_t.load_state_dict(sd)


def _t(torch, a):
    return None if a is None else torch.tensor(a) if isinstance(a, np.ndarray) else a


def _compare(torch, layer_r, layer_t, inputs, kwargs, rng, tol, n_out=1):
    """Forward and backward through both; outputs, input and parameter grads agree."""
    xr = [rg.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    xt = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    yr = layer_r(*xr, **kwargs)
    yt = layer_t(*xt, **{k: _t(torch, v) for k, v in kwargs.items()})
    yr = yr if isinstance(yr, tuple) else (yr,)
    yt = yt if isinstance(yt, tuple) else (yt,)
    loss_r, loss_t = 0.0, 0.0
    for a, b in zip(yr[:n_out], yt[:n_out]):
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=0, atol=tol)
        g = rng.standard_normal(a.shape).astype(a.dtype)
        loss_r = loss_r + (a * rg.tensor(g)).sum()
        loss_t = loss_t + (b * torch.tensor(g)).sum()
    loss_r.backward()
    loss_t.backward()
    for a, b in zip(xr, xt):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=0, atol=tol * 10)
    tparams = dict(layer_t.named_parameters())
    for name, p in layer_r.named_parameters():
        np.testing.assert_allclose(
            p.grad, tparams[name].grad.numpy(), rtol=0, atol=tol * 10, err_msg=name
        )


def _dtype(torch, name):
    return {"float64": torch.float64, "float32": torch.float32}[name]


# ------------------------------------------------------------------------ embedding


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"padding_idx": 3}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
     {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0, "padding_idx": 0}],
)  # fmt: skip
def test_embedding_matches_torch(torch, rng, kwargs, dtype):
    layer_r = nn.Embedding(10, 4, dtype=dtype, **kwargs)
    layer_t = torch.nn.Embedding(10, 4, **kwargs).to(_dtype(torch, dtype))
    _to_torch(torch, layer_t, layer_r)
    idx = np.array([[1, 3, 3, 9], [0, 3, 5, 1]])
    _compare(torch, layer_r, layer_t, [idx], {}, rng, TOL[dtype])
    # max_norm renormalises the weight rows in place, in both.
    np.testing.assert_allclose(
        layer_r.weight.data, layer_t.weight.detach().numpy(), rtol=0, atol=TOL[dtype]
    )


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=1)
    assert (emb.weight.data[1] == 0).all()
    emb(rg.tensor([[1, 2, 1]])).sum().backward()
    assert (emb.weight.grad[1] == 0).all() and (emb.weight.grad[2] == 1).all()


def test_embedding_from_pretrained_and_functional():
    w = np.arange(6.0).reshape(3, 2)
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(rg.tensor([2, 0])).data, w[[2, 0]])
    out = F.embedding(rg.tensor([[1]]), rg.tensor(w))
    assert out.shape == (1, 1, 2)


@pytest.mark.parametrize(
    "idx,err,match",
    [([[0, 5]], IndexError, "index 5 is out of range.*\\[0, 4\\]"),
     ([-1], IndexError, "index -1 is out of range"),
     ([0.0, 1.0], TypeError, "integer tensor, got dtype float64")],
)  # fmt: skip
def test_embedding_bad_indices(idx, err, match):
    emb = nn.Embedding(5, 3)
    with pytest.raises(err, match=match):
        emb(rg.tensor(np.asarray(idx)))


def test_embedding_bad_arguments():
    with pytest.raises(ValueError, match="padding_idx 5 is out of range"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="num_embeddings must be a positive int"):
        nn.Embedding(0, 3)
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        nn.Embedding(4, 3, sparse=True)
    with pytest.raises(ValueError, match="max_norm must be a positive number"):
        nn.Embedding(4, 3, max_norm=-1.0)


# ------------------------------------------------------------------------ attention


@covers("ScaledDotProductAttention")
@pytest.mark.parametrize(
    "kwargs",
    [dict(dropout_p=0.3), dict(dropout_p=0.5, is_causal=True),
     dict(attn_mask="float", dropout_p=0.2), dict(attn_mask="bool", scale=0.7)],
)  # fmt: skip
def test_sdpa_gradcheck_with_dropout_and_masks(rng, kwargs):
    q, k, v = (rng.standard_normal(s) for s in [(2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)])
    inputs = [q, k, v]
    kw = dict(kwargs)
    if kw.get("attn_mask") == "float":
        inputs.append(rng.standard_normal((2, 1, 3, 5)))
        kw.pop("attn_mask")
    elif kw.get("attn_mask") == "bool":
        m = rng.random((3, 5)) > 0.4
        m[:, 0] = True
        kw["attn_mask"] = rg.tensor(m)

    def f(*xs):
        rg.manual_seed(7)  # the same dropout mask for every evaluation
        return F.scaled_dot_product_attention(*xs, **kw)

    assert rg.gradcheck(f, inputs) is True


def test_sdpa_dropout_keeps_the_mean_and_drops_weights(rng):
    q = rg.tensor(rng.standard_normal((1, 1, 64, 8)))
    v = rg.tensor(np.ones((1, 1, 64, 8)))
    out = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    # Each output is sum(kept weights) / (1 - p): varies around 1, mean near 1.
    assert 0.85 < out.data.mean() < 1.15
    assert out.data.std() > 0.05
    assert np.allclose(F.scaled_dot_product_attention(q, q, v).data, 1.0)


def test_sdpa_fully_masked_rows_give_zero_like_torch(torch, rng):
    q, k = rng.standard_normal((1, 3, 4)), rng.standard_normal((1, 5, 4))
    m = np.ones((3, 5), bool)
    m[1] = False
    qr = rg.tensor(q, requires_grad=True)
    out = F.scaled_dot_product_attention(qr, k, k, attn_mask=m)
    ref = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(k), attn_mask=torch.tensor(m)
    )
    np.testing.assert_allclose(out.data, ref.numpy(), atol=1e-12)
    assert (out.data[0, 1] == 0).all()
    out.sum().backward()
    assert (qr.grad[0, 1] == 0).all() and np.isfinite(qr.grad).all()


def test_sdpa_enable_gqa_matches_repeated_heads(torch, rng):
    q, k, v = (rng.standard_normal(s) for s in [(2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5)])
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    ref = torch.nn.functional.scaled_dot_product_attention(
        *map(torch.tensor, (q, k, v)), enable_gqa=True
    )
    np.testing.assert_allclose(out.data, ref.numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs,err,match",
    [(dict(attn_mask=np.ones((4, 5), bool)), ValueError, "attn_mask has shape \\(4, 5\\)"),
     (dict(attn_mask=np.ones((3, 6), np.int64)), TypeError, "attn_mask must be a bool"),
     (dict(attn_mask=np.ones((3, 6), np.float32)), TypeError, "query's dtype float64"),
     (dict(dropout_p=1.0), ValueError, "dropout_p must be in \\[0, 1\\)"),
     (dict(scale=float("nan")), ValueError, "scale must be a finite number")],
)  # fmt: skip
def test_sdpa_bad_input(rng, kwargs, err, match):
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 6, 4))
    with pytest.raises(err, match=match):
        F.scaled_dot_product_attention(q, k, k, **kwargs)


def test_sdpa_bad_shapes(rng):
    q = rng.standard_normal((2, 3, 4))
    with pytest.raises(ValueError, match="key has shape.*embedding size 4"):
        F.scaled_dot_product_attention(q, rng.standard_normal((2, 6, 5)), q)
    with pytest.raises(ValueError, match="value has shape.*6 positions"):
        F.scaled_dot_product_attention(q, rng.standard_normal((2, 6, 4)), q)
    with pytest.raises(ValueError, match="do not broadcast"):
        k = rng.standard_normal((3, 6, 4))
        F.scaled_dot_product_attention(q, k, k)


# ---------------------------------------------------------------- multi-head attention

MHA_CASES = [
    (dict(), dict()),
    (dict(batch_first=True), dict(need_weights=False)),
    (dict(kdim=3, vdim=5), dict(key_padding_mask="bool")),
    (dict(kdim=3, vdim=5, batch_first=True), dict(attn_mask="float3d", average_attn_weights=False)),
    (dict(add_bias_kv=True), dict(attn_mask="bool", key_padding_mask="bool")),
    (dict(add_zero_attn=True), dict(attn_mask="float", key_padding_mask="float")),
    (
        dict(add_bias_kv=True, add_zero_attn=True, bias=False),
        dict(attn_mask="bool", need_weights=False),
    ),
    (dict(batch_first=True), dict(attn_mask="causal", is_causal=True, need_weights=False)),
    (dict(), dict(attn_mask="causal", is_causal=True, key_padding_mask="bool")),
    (dict(bias=False), dict(key_padding_mask="bool", attn_mask="float", need_weights=False)),
]


def _masks(rng, spec, L, S, N, H, dtype):
    out = {}
    for name, kind in spec.items():
        if name in ("need_weights", "average_attn_weights", "is_causal"):
            out[name] = kind
            continue
        if name == "key_padding_mask":
            m = np.zeros((N, S), bool)
            m[1, S - 2 :] = True
            out[name] = m if kind == "bool" else np.where(m, -np.inf, 0.0).astype(dtype)
        elif kind == "bool":
            m = rng.random((L, S)) > 0.7
            m[:, 0] = False
            out[name] = m
        elif kind == "float":
            out[name] = rng.standard_normal((L, S)).astype(dtype)
        elif kind == "float3d":
            out[name] = rng.standard_normal((N * H, L, S)).astype(dtype)
        elif kind == "causal":
            out[name] = np.triu(np.ones((L, S), bool), 1)
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ctor,call", MHA_CASES)
def test_multihead_attention_matches_torch(torch, rng, ctor, call, dtype):
    E, H, L, S, N = 8, 2, 4, 5, 3
    layer_r = nn.MultiheadAttention(E, H, dtype=dtype, **ctor)
    layer_t = torch.nn.MultiheadAttention(E, H, **ctor).to(_dtype(torch, dtype))
    _to_torch(torch, layer_t, layer_r)
    bf = ctor.get("batch_first", False)
    kd, vd = ctor.get("kdim", E), ctor.get("vdim", E)
    shape = (lambda T, D: (N, T, D)) if bf else (lambda T, D: (T, N, D))
    q, k, v = (rng.standard_normal(shape(T, D)).astype(dtype) for T, D in
               [(L, E), (S, kd), (S, vd)])  # fmt: skip
    kwargs = _masks(rng, call, L, S, N, H, dtype)
    _compare(torch, layer_r, layer_t, [q, k, v], kwargs, rng, TOL[dtype], n_out=2)


def test_multihead_attention_self_attention_and_unbatched(torch, rng):
    layer_r = nn.MultiheadAttention(6, 3, dtype="float64")
    layer_t = torch.nn.MultiheadAttention(6, 3)
    _to_torch(torch, layer_t, layer_r)
    x = rng.standard_normal((5, 6))
    m = rng.standard_normal((3, 5, 5))
    yr, wr = layer_r(rg.tensor(x), rg.tensor(x), rg.tensor(x), attn_mask=m,
                     average_attn_weights=False)  # fmt: skip
    xt = torch.tensor(x)
    yt, wt = layer_t(xt, xt, xt, attn_mask=torch.tensor(m), average_attn_weights=False)
    np.testing.assert_allclose(yr.data, yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(wr.data, wt.detach().numpy(), atol=1e-12)
    # self-attention with one tensor object takes the packed path; same numbers
    xr = rg.tensor(x)
    np.testing.assert_allclose(layer_r(xr, xr, xr, attn_mask=m)[0].data, yr.data, atol=1e-12)


def test_multihead_attention_dropout_only_in_training(rng):
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = rg.tensor(rng.standard_normal((2, 6, 8)).astype(np.float32))
    a = mha(x, x, x)[0].data
    b = mha(x, x, x)[0].data
    assert not np.allclose(a, b)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0].data, mha(x, x, x)[0].data)


def test_multihead_attention_parameter_init_follows_torch():
    mha = nn.MultiheadAttention(16, 4)
    bound = np.sqrt(6.0 / (16 + 48))  # xavier_uniform over the stacked (3E, E)
    w = mha.in_proj_weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert (mha.in_proj_bias.data == 0).all() and (mha.out_proj.bias.data == 0).all()


def test_multihead_attention_bad_input(rng):
    with pytest.raises(ValueError, match="embed_dim=10 must be divisible by num_heads=3"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    q = rg.tensor(rng.standard_normal((4, 2, 8)).astype(np.float32))
    k = rg.tensor(rng.standard_normal((6, 2, 3)).astype(np.float32))
    v = rg.tensor(rng.standard_normal((6, 2, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="key has shape \\(6, 2, 5\\), expected last dimension "
                                         "kdim=3"):  # fmt: skip
        mha(q, v, v)
    with pytest.raises(ValueError, match="value has shape .* vdim=5"):
        mha(q, k, k)
    with pytest.raises(ValueError, match="key_padding_mask has shape \\(6, 2\\), expected "
                                         "\\(2, 6\\)"):  # fmt: skip
        mha(q, k, v, key_padding_mask=np.zeros((6, 2), bool))
    with pytest.raises(TypeError, match="key_padding_mask must be a bool tensor"):
        mha(q, k, v, key_padding_mask=np.zeros((2, 6), np.int64))
    with pytest.raises(ValueError, match="attn_mask has shape \\(6, 4\\), expected the 2-D "
                                         "shape \\(4, 6\\)"):  # fmt: skip
        mha(q, k, v, attn_mask=np.zeros((6, 4), bool))
    with pytest.raises(ValueError, match="attn_mask has shape \\(2, 4, 6\\), expected the 3-D "
                                         "shape \\(4, 4, 6\\)"):  # fmt: skip
        mha(q, k, v, attn_mask=np.zeros((2, 4, 6), bool))
    with pytest.raises(ValueError, match="is_causal=True .* needs attn_mask"):
        mha(q, k, v, is_causal=True)
    with pytest.raises(ValueError, match="different batch sizes"):
        mha(q, k[:, :1], v[:, :1])


# ------------------------------------------------------------------------ transformer

ENC_CASES = [
    dict(),
    dict(norm_first=True),
    dict(activation="gelu", batch_first=True),
    dict(norm_first=True, activation="gelu", bias=False, layer_norm_eps=1e-3),
]
ENC_CALLS = [
    dict(),
    dict(src_mask="causal", is_causal=True),
    dict(src_key_padding_mask="bool"),
    dict(src_mask="float", src_key_padding_mask="bool"),
]


def _enc_masks(rng, call, S, N, dtype, prefix="src"):
    out = {}
    for name, kind in call.items():
        if kind is True or kind is False:
            out[name] = kind
        elif name.endswith("key_padding_mask"):
            m = np.zeros((N, S), bool)
            m[0, S - 2 :] = True
            out[name] = m
        elif kind == "causal":
            out[name] = np.triu(np.ones((S, S), bool), 1)
        elif kind == "causal-float":
            out[name] = np.triu(np.full((S, S), -np.inf), 1).astype(dtype)
        else:
            out[name] = rng.standard_normal((S, S)).astype(dtype)
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("call", ENC_CALLS)
@pytest.mark.parametrize("ctor", ENC_CASES)
def test_transformer_encoder_layer_matches_torch(torch, rng, ctor, call, dtype):
    layer_r = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, dtype=dtype, **ctor)
    layer_t = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **ctor)
    layer_t = layer_t.to(_dtype(torch, dtype))
    _to_torch(torch, layer_t, layer_r)
    S, N = 5, 3
    x = rng.standard_normal((N, S, 8) if ctor.get("batch_first") else (S, N, 8)).astype(dtype)
    _compare(torch, layer_r, layer_t, [x], _enc_masks(rng, call, S, N, dtype), rng, TOL[dtype])


DEC_CALLS = [
    dict(),
    dict(tgt_mask="causal", tgt_is_causal=True, memory_key_padding_mask="bool"),
    dict(tgt_mask="float", memory_mask="float2", tgt_key_padding_mask="bool"),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("call", DEC_CALLS)
@pytest.mark.parametrize("ctor", ENC_CASES)
def test_transformer_decoder_layer_matches_torch(torch, rng, ctor, call, dtype):
    layer_r = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, dtype=dtype, **ctor)
    layer_t = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **ctor)
    layer_t = layer_t.to(_dtype(torch, dtype))
    _to_torch(torch, layer_t, layer_r)
    T, S, N = 4, 6, 3
    bf = ctor.get("batch_first")
    x = rng.standard_normal((N, T, 8) if bf else (T, N, 8)).astype(dtype)
    mem = rng.standard_normal((N, S, 8) if bf else (S, N, 8)).astype(dtype)
    kw = {}
    for name, kind in call.items():
        if name == "memory_key_padding_mask":
            m = np.zeros((N, S), bool)
            m[2, S - 3 :] = True
            kw[name] = m
        elif name == "memory_mask":
            kw[name] = rng.standard_normal((T, S)).astype(dtype)
        else:
            kw.update(_enc_masks(rng, {name: kind}, T, N, dtype))
    _compare(torch, layer_r, layer_t, [x, mem], kw, rng, TOL[dtype])


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_stacks_match_torch(torch, rng, batch_first):
    kw = dict(dropout=0.0, batch_first=batch_first)
    enc_r = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, dtype="float64", **kw), 2, nn.LayerNorm(8)
    ).double()
    enc_t = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, **kw), 2, torch.nn.LayerNorm(8),
        enable_nested_tensor=False,
    )  # fmt: skip
    _to_torch(torch, enc_t, enc_r)
    S, N = 5, 2
    x = rng.standard_normal((N, S, 8) if batch_first else (S, N, 8))
    call = _enc_masks(rng, dict(mask="causal-float", src_key_padding_mask="bool"), S, N, "float64")
    _compare(torch, enc_r, enc_t, [x], call, rng, 1e-10)

    dec_r = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dtype="float64", **kw), 2)
    dec_t = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16, **kw), 2)
    _to_torch(torch, dec_t, dec_r)
    mem = rng.standard_normal((N, 6, 8) if batch_first else (6, N, 8))
    call = {"tgt_mask": np.triu(np.full((S, S), -np.inf), 1)}
    _compare(torch, dec_r, dec_t, [x, mem], call, rng, 1e-10)


def test_full_transformer_matches_torch(torch, rng):
    t_r = nn.Transformer(8, 2, 1, 2, 16, dropout=0.0, batch_first=True, dtype="float64")
    t_t = torch.nn.Transformer(8, 2, 1, 2, 16, dropout=0.0, batch_first=True)
    _to_torch(torch, t_t, t_r)
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 4, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype="float64").data
    np.testing.assert_array_equal(
        mask, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    )
    _compare(torch, t_r, t_t, [src, tgt], {"tgt_mask": mask}, rng, 1e-10)


def test_encoder_eval_without_grad_zeroes_padding_like_torch(torch, rng):
    kw = dict(dropout=0.1, batch_first=True)
    enc_r = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dtype="float64", **kw), 2)
    enc_t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, **kw), 2)
    _to_torch(torch, enc_t, enc_r)
    enc_r.eval()
    enc_t.eval()
    x = rng.standard_normal((3, 5, 8))
    pad = np.zeros((3, 5), bool)
    pad[1, 3:] = True
    pad[2, 1:] = True
    with rg.no_grad():
        yr = enc_r(rg.tensor(x), src_key_padding_mask=pad)
    with torch.no_grad():
        yt = enc_t(torch.tensor(x), src_key_padding_mask=torch.tensor(pad))
    np.testing.assert_allclose(yr.data, yt.numpy(), atol=1e-10)
    assert (yr.data[1, 3:] == 0).all()
    # With gradients on, PyTorch keeps the computed values at padded positions; so do we.
    yr2 = enc_r(rg.tensor(x), src_key_padding_mask=pad)
    yt2 = enc_t(torch.tensor(x), src_key_padding_mask=torch.tensor(pad))
    np.testing.assert_allclose(yr2.data, yt2.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(yr2.data[~pad], yr.data[~pad], atol=1e-12)


def test_padded_positions_do_not_change_the_other_outputs(rng):
    enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, dtype="float64"), 2
    )
    x = rng.standard_normal((2, 6, 8))
    pad = np.zeros((2, 6), bool)
    pad[:, 4:] = True
    y1 = enc(rg.tensor(x), src_key_padding_mask=pad).data
    x2 = x.copy()
    x2[:, 4:] = rng.standard_normal((2, 2, 8)) * 100
    y2 = enc(rg.tensor(x2), src_key_padding_mask=pad).data
    np.testing.assert_allclose(y1[:, :4], y2[:, :4], atol=1e-12)


def test_transformer_layer_errors():
    with pytest.raises(ValueError, match="d_model=10 must be divisible by nhead=4"):
        nn.TransformerEncoderLayer(10, 4)
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable"):
        nn.TransformerDecoderLayer(8, 2, activation="swish")
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match="src has shape \\(5, 2, 7\\)"):
        layer(rg.randn(5, 2, 7))
    with pytest.raises(ValueError, match="key_padding_mask has shape"):
        layer(rg.randn(5, 2, 8), src_key_padding_mask=np.zeros((5, 2), bool))


def test_callable_activation_module(torch, rng):
    layer_r = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=nn.GELU(),
                                         dtype="float64")  # fmt: skip
    layer_t = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                               activation=torch.nn.GELU())  # fmt: skip
    _to_torch(torch, layer_t, layer_r)
    _compare(torch, layer_r, layer_t, [rng.standard_normal((4, 2, 8))], {}, rng, 1e-10)


# ------------------------------------------------------------------------ save / load


@pytest.mark.parametrize(
    "make,inputs",
    [(lambda: nn.Embedding(7, 3, padding_idx=0, max_norm=2.0), lambda: [rg.tensor([[1, 2]])]),
     (lambda: nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, batch_first=True),
      lambda: [rg.randn(2, 4, 8), rg.randn(2, 5, 3), rg.randn(2, 5, 5)]),
     (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, activation="gelu",
                                                               norm_first=True), 2,
                                    nn.LayerNorm(8)), lambda: [rg.randn(5, 2, 8)]),
     (lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 2),
      lambda: [rg.randn(2, 4, 8), rg.randn(2, 5, 8)]),
     (lambda: nn.Transformer(8, 2, 1, 1, 16), lambda: [rg.randn(5, 2, 8), rg.randn(4, 2, 8)])],
)  # fmt: skip
def test_new_layers_save_and_load(tmp_path, make, inputs):
    model = make().eval()
    xs = inputs()
    path = tmp_path / "m.safetensors"
    rg.save(model, path)
    back = rg.load(path).eval()
    assert type(back) is type(model)
    a, b = model(*xs), back(*xs)
    a = a[0] if isinstance(a, tuple) else a
    b = b[0] if isinstance(b, tuple) else b
    np.testing.assert_array_equal(a.data, b.data)


def test_summary_shows_the_new_layers(tmp_path, capsys):
    from retrograd.cli import main

    model = nn.Sequential(
        nn.Embedding(20, 8),
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1),
        nn.Flatten(),
        nn.Linear(40, 3),
    )
    path = tmp_path / "t.safetensors"
    rg.save(model, path)
    assert main(["summary", str(path), "--features", "5"]) == 0
    out = capsys.readouterr().out
    for name in ("Embedding", "TransformerEncoderLayer", "MultiheadAttention"):
        assert name in out
    assert "(1, 5, 8)" in out and "output (1, 3)" in out


def _token_model(drop):
    rg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=drop, batch_first=True, activation="gelu")
    return nn.Sequential(
        nn.Embedding(11, 8, max_norm=1.5),
        nn.TransformerEncoder(layer, 2),
        nn.Flatten(),
        nn.Linear(40, 3),
    )


@pytest.mark.parametrize("drop", [0.0, 0.2])
def test_compiled_step_replays_the_new_layers_bitwise(rng, drop):
    xs = [rng.integers(0, 11, (4, 5)) for _ in range(4)]
    ys = [rng.integers(0, 3, 4) for _ in range(4)]
    runs = []
    for compiled in (False, True):
        model = _token_model(drop)
        opt = rg.optim.Adam(model.parameters(), 1e-2)
        loss_fn = nn.CrossEntropyLoss()
        step = rg.train.compile_step(model, loss_fn, opt)
        rg.manual_seed(5)
        losses = []
        for x, y in zip(xs, ys):
            if compiled:
                losses.append(step(x, y))
            else:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        runs.append((losses, model.state_dict()))
    assert step.replays == 3 and step.eager_reason is None
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k])
    # An index out of range in a later batch is refused, not replayed (no silent wrap).
    bad = xs[0].copy()
    bad[0, 0] = -1
    with pytest.raises(IndexError, match="index -1 is out of range"):
        step(bad, ys[0])


def test_fit_trains_a_token_classifier(rng):
    # Token ids stay integers through a TensorDataset ((X, y) tuples become float features).
    model = _token_model(0.1)
    x = rng.integers(1, 11, (64, 5))
    y = (x[:, 0] > 5).astype(np.int64)
    hist = rg.train.fit(
        model, nn.CrossEntropyLoss(), rg.optim.Adam(model.parameters(), 3e-3),
        rg.data.TensorDataset(x, y), epochs=15, batch_size=16, verbose=False,
    )  # fmt: skip
    losses = hist.history["loss"] if hasattr(hist, "history") else hist["loss"]
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("norm_first", [False, True])
def test_unbatched_transformer_layers_match_torch(torch, rng, norm_first):
    x, mem = rng.standard_normal((5, 8)), rng.standard_normal((6, 8))
    pad = np.zeros(5, bool)
    pad[3:] = True
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    kw = dict(dropout=0.0, norm_first=norm_first)
    enc_r = nn.TransformerEncoderLayer(8, 2, 16, dtype="float64", **kw)
    enc_t = torch.nn.TransformerEncoderLayer(8, 2, 16, **kw)
    _to_torch(torch, enc_t, enc_r)
    _compare(torch, enc_r, enc_t, [x], dict(src_mask=causal, src_key_padding_mask=pad), rng,
             1e-10)  # fmt: skip
    dec_r = nn.TransformerDecoderLayer(8, 2, 16, dtype="float64", **kw)
    dec_t = torch.nn.TransformerDecoderLayer(8, 2, 16, **kw)
    _to_torch(torch, dec_t, dec_r)
    _compare(torch, dec_r, dec_t, [x, mem], dict(tgt_mask=causal, tgt_key_padding_mask=pad),
             rng, 1e-10)  # fmt: skip
