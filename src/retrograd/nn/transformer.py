"""Transformer encoder and decoder layers and stacks (PyTorch's names, arguments, layouts).

Each layer is PyTorch's: self-attention (and, in the decoder, attention to the encoder's
``memory``), a two-layer feed-forward block with ``activation`` ("relu", "gelu" or a
callable), residual connections, LayerNorm after each block (``norm_first=False``, the
original "post-norm") or before it (``norm_first=True``), dropout on every block's output.
A stack deep-copies its layer ``num_layers`` times, as PyTorch does, so the copies start
with equal weights. ``state_dict`` keys and shapes equal PyTorch's, so weights move either
way unchanged.

Masks follow ``nn.MultiheadAttention``: in a boolean mask True means "may not attend";
float masks are added to the scores. A ``*_key_padding_mask`` is (N, S), True at padding.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .._backend import xp
from .._checks import positive_int
from ..autograd.mode import is_grad_enabled
from ..autograd.tensor import Tensor
from ..ops import elementwise as _el
from .attention import MultiheadAttention, generate_square_subsequent_mask
from .layers import Dropout, Linear
from .module import Module, ModuleList
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": _el.relu, "gelu": _el.gelu}


def _activation(activation: Any, who: str) -> tuple:
    """(function, name or None) for "relu"/"gelu" or a callable (a Module is kept as child)."""
    if isinstance(activation, str):
        fn = _ACTIVATIONS.get(activation)
        if fn is None:
            raise ValueError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                             f"{activation!r}")  # fmt: skip
        return fn, activation
    if not callable(activation):
        raise TypeError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")  # fmt: skip
    return activation, None


def _check_model_input(x: Any, d_model: int, dtype: Any, who: str, name: str) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(x, dtype=dtype)
    if t.ndim not in (2, 3) or t.shape[-1] != d_model:
        raise ValueError(
            f"{who}: {name} has shape {t.shape}, expected (S, N, {d_model}), (N, S, {d_model}) "
            f"with batch_first=True, or unbatched (S, {d_model})"
        )
    return t


class _Layer(Module):
    """What the encoder and decoder layers share: the feed-forward block and its config."""

    def _init_common(
        self,
        who: str,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        activation: Any,
        layer_norm_eps: float,
        batch_first: bool,
        norm_first: bool,
        bias: bool,
        dtype: Any,
        cross_attention: bool = False,
    ) -> None:
        self._dtype_arg = dtype
        self.d_model = positive_int(d_model, "d_model", who)
        self.nhead = positive_int(nhead, "nhead", who)
        self.dim_feedforward = positive_int(dim_feedforward, "dim_feedforward", who)
        if d_model % nhead:
            raise ValueError(f"{who}: d_model={d_model} must be divisible by nhead={nhead}")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{who}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        if cross_attention:  # registered here: PyTorch's state_dict order
            self.multihead_attn = MultiheadAttention(
                d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
            )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.batch_first = bool(batch_first)
        self.layer_norm_eps = float(layer_norm_eps)
        self.bias = bool(bias)
        self.dropout_p = float(dropout)
        fn, name = _activation(activation, who)
        self._act_name = name
        if isinstance(activation, Module):
            self.activation = activation
        else:
            self._act_fn = fn

    def _act(self, x: Tensor) -> Tensor:
        if self._act_name is None and "activation" in self._modules:
            return self._modules["activation"](x)
        return self._act_fn(x)

    def _norm(self) -> LayerNorm:
        return LayerNorm(
            self.d_model, eps=self.layer_norm_eps, bias=self.bias, dtype=self._dtype_arg
        )

    def _sa_block(self, x: Tensor, attn_mask: Any, kpm: Any, is_causal: bool) -> Tensor:
        y = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=kpm, need_weights=False,
            is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout1(y)

    def _ff_block(self, x: Tensor, last_dropout: Module) -> Tensor:
        x = self.linear2(self.dropout(self._act(self.linear1(x))))
        return last_dropout(x)

    def get_config(self) -> dict:
        act = self._act_name
        if act is None:
            act = self._modules.get("activation")
            if act is None:
                raise TypeError(
                    f"cannot save {type(self).__name__}: its activation is a plain function; "
                    f"use 'relu', 'gelu' or a layer such as nn.GELU()"
                )
        return {
            "d_model": self.d_model,
            "nhead": self.nhead,
            "dim_feedforward": self.dim_feedforward,
            "dropout": self.dropout_p,
            "activation": act,
            "layer_norm_eps": self.layer_norm_eps,
            "batch_first": self.batch_first,
            "norm_first": self.norm_first,
            "bias": self.bias,
            "dtype": str(self.linear1.weight.data.dtype),
        }

    def extra_repr(self) -> str:
        return ""


class TransformerEncoderLayer(_Layer):
    """Self-attention then feed-forward, each with a residual connection and LayerNorm.

    Example::

        >>> import retrograd as rg
        >>> layer = rg.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        >>> layer(rg.randn(2, 7, 16)).shape
        (2, 7, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self._init_common(
            "TransformerEncoderLayer", d_model, nhead, dim_feedforward, dropout, activation,
            layer_norm_eps, batch_first, norm_first, bias, dtype,
        )  # fmt: skip
        self.norm1 = self._norm()
        self.norm2 = self._norm()
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    capture_safe = True

    def forward(
        self,
        src: Any,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = _check_model_input(
            src, self.d_model, self.linear1.weight.data.dtype, "TransformerEncoderLayer", "src"
        )
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x), self.dropout2)
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x, self.dropout2))
        return x


class TransformerDecoderLayer(_Layer):
    """Self-attention, attention to ``memory``, then feed-forward (residuals, LayerNorms).

    Example::

        >>> import retrograd as rg
        >>> layer = rg.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32)
        >>> layer(rg.randn(5, 2, 16), rg.randn(7, 2, 16)).shape
        (5, 2, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = "TransformerDecoderLayer"
        self._init_common(
            who, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
            batch_first, norm_first, bias, dtype, cross_attention=True,
        )  # fmt: skip
        self.norm1 = self._norm()
        self.norm2 = self._norm()
        self.norm3 = self._norm()
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)

    capture_safe = True

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        who = "TransformerDecoderLayer"
        dt = self.linear1.weight.data.dtype
        x = _check_model_input(tgt, self.d_model, dt, who, "tgt")
        mem = _check_model_input(memory, self.d_model, dt, who, "memory")
        if mem.ndim != x.ndim:
            raise ValueError(
                f"{who}: memory has shape {mem.shape} and tgt {x.shape}: both must be batched "
                f"(3-D) or both unbatched (2-D)"
            )
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), mem, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            x = x + self._ff_block(self.norm3(x), self.dropout3)
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(
                x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask, memory_is_causal)
            )
            x = self.norm3(x + self._ff_block(x, self.dropout3))
        return x

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, kpm: Any, is_causal: bool):
        y = self.multihead_attn(
            x, mem, mem, attn_mask=attn_mask, key_padding_mask=kpm, is_causal=is_causal,
            need_weights=False,
        )[0]  # fmt: skip
        return self.dropout2(y)


def _detect_is_causal_mask(mask: Any, is_causal: bool | None, size: int) -> bool:
    """PyTorch's rule: with ``is_causal=None``, a mask equal to the causal one counts as it."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.shape != (size, size):
        return False
    if m.dtype == xp.bool_:
        return bool((m == xp.triu(xp.ones((size, size), dtype=bool), 1)).all())
    return bool((m == generate_square_subsequent_mask(size, m.dtype).data).all())


def _seq_len(x: Any, batch_first: bool) -> int:
    shape = x.shape
    if len(shape) == 2:
        return shape[0]
    return shape[1] if batch_first else shape[0]


def _clones(layer: Module, n: int, who: str) -> ModuleList:
    n = positive_int(n, "num_layers", who)
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` in a row, then ``norm`` if given.

    In evaluation mode without gradients, with a left-aligned ``src_key_padding_mask``
    and no ``mask``, PyTorch runs a nested-tensor fast path that returns ZEROS at the
    padded positions (before ``norm``); this layer does the same when PyTorch would
    (``enable_nested_tensor=True`` and a layer PyTorch accepts for it), so outputs
    agree in every mode. The other positions never depend on the padded ones.

    Example::

        >>> import retrograd as rg
        >>> layer = rg.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
        >>> enc = rg.nn.TransformerEncoder(layer, num_layers=2)
        >>> enc(rg.randn(7, 2, 16)).shape
        (7, 2, 16)
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        who = "TransformerEncoder"
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"{who}: encoder_layer must be a layer, got {encoder_layer!r}")
        self.layers = _clones(encoder_layer, num_layers, who)
        self.num_layers = int(num_layers)
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)
        self.use_nested_tensor = self.enable_nested_tensor and self._sparsity_ok(encoder_layer)

    @staticmethod
    def _sparsity_ok(layer: Any) -> bool:
        # PyTorch's conditions for its nested-tensor path (why_not_sparsity_fast_path).
        return (
            isinstance(layer, TransformerEncoderLayer)
            and not layer.norm_first
            and layer.self_attn.batch_first
            and layer.self_attn._qkv_same_embed_dim
            and layer.self_attn.in_proj_bias is not None
            and layer._act_name in ("relu", "gelu")
            and layer.norm1.eps == layer.norm2.eps
            and layer.self_attn.num_heads % 2 == 0
        )

    def get_config(self) -> dict:
        return {
            "encoder_layer": self.layers[0],
            "num_layers": self.num_layers,
            "norm": self.norm,
            "enable_nested_tensor": self.enable_nested_tensor,
            "mask_check": self.mask_check,
        }

    capture_safe = True

    def forward(
        self,
        src: Any,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        first = self.layers[0]
        batch_first = first.self_attn.batch_first
        dt = first.self_attn.out_proj.weight.data.dtype
        x = src if isinstance(src, Tensor) else Tensor(src, dtype=dt)
        causal = _detect_is_causal_mask(mask, is_causal, _seq_len(x, batch_first))
        zero_pad = self._nested_path(x, mask, src_key_padding_mask)
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=causal)
        if zero_pad is not None:
            x = x * Tensor._wrap(zero_pad.astype(x.data.dtype), False, None)
        if self.norm is not None:
            x = self.norm(x)
        return x

    def _nested_path(self, x: Tensor, mask: Any, kpm: Any) -> Any:
        """The keep-mask (N, S, 1) PyTorch's nested-tensor path would apply, or None."""
        if not self.use_nested_tensor or self.layers[0].training or x.ndim != 3:
            return None
        if kpm is None or mask is not None:
            return None
        if is_grad_enabled() and (
            x.requires_grad or any(p.requires_grad for p in self.layers[0].parameters())
        ):
            return None
        k = kpm.data if isinstance(kpm, Tensor) else xp.asarray(kpm)
        if k.ndim != 2:
            return None
        valid = ~k if k.dtype == xp.bool_ else ~(k != 0)
        if self.mask_check:
            # Left-aligned: every row is valid...valid, then padding...padding.
            if (valid[:, 1:] & ~valid[:, :-1]).any():
                return None
        return valid[:, :, None]


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` in a row, then ``norm`` if given.

    Example::

        >>> import retrograd as rg
        >>> layer = rg.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32)
        >>> dec = rg.nn.TransformerDecoder(layer, num_layers=2)
        >>> dec(rg.randn(5, 2, 16), rg.randn(7, 2, 16)).shape
        (5, 2, 16)
    """

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        who = "TransformerDecoder"
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"{who}: decoder_layer must be a layer, got {decoder_layer!r}")
        self.layers = _clones(decoder_layer, num_layers, who)
        self.num_layers = int(num_layers)
        self.norm = norm

    def get_config(self) -> dict:
        return {"decoder_layer": self.layers[0], "num_layers": self.num_layers, "norm": self.norm}

    capture_safe = True

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        first = self.layers[0]
        dt = first.self_attn.out_proj.weight.data.dtype
        x = tgt if isinstance(tgt, Tensor) else Tensor(tgt, dtype=dt)
        causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _seq_len(x, first.batch_first))
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=causal,
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            x = self.norm(x)
        return x


class Transformer(Module):
    """PyTorch's encoder-decoder Transformer: an encoder stack, a decoder stack, final norms.

    Example::

        >>> import retrograd as rg
        >>> t = rg.nn.Transformer(16, 4, 1, 1, dim_feedforward=32, batch_first=True)
        >>> t(rg.randn(2, 7, 16), rg.randn(2, 5, 16)).shape
        (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = dict(
            dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
            layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first,
            bias=bias, dtype=dtype,
        )  # fmt: skip
        norm = dict(eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.encoder = TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **kw),
            num_encoder_layers,
            LayerNorm(d_model, **norm),
        )
        self.decoder = TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **kw),
            num_decoder_layers,
            LayerNorm(d_model, **norm),
        )
        self.d_model, self.nhead, self.batch_first = int(d_model), int(nhead), bool(batch_first)
        self._config_ = {
            "d_model": d_model, "nhead": nhead, "num_encoder_layers": num_encoder_layers,
            "num_decoder_layers": num_decoder_layers, "dim_feedforward": dim_feedforward,
            "dropout": float(dropout), "activation": activation,
            "layer_norm_eps": float(layer_norm_eps), "batch_first": bool(batch_first),
            "norm_first": bool(norm_first), "bias": bool(bias),
            "dtype": str(self.encoder.layers[0].linear1.weight.data.dtype),
        }  # fmt: skip
        # PyTorch re-initialises every matrix with xavier_uniform_ after building.
        from . import init

        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def get_config(self) -> dict:
        if not isinstance(self._config_["activation"], (str, Module)):
            raise TypeError("cannot save Transformer: its activation is a plain function")
        return dict(self._config_)

    capture_safe = True

    def forward(
        self,
        src: Any,
        tgt: Any,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )  # fmt: skip


__all__ = [
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerDecoder",
    "Transformer",
]
