"""Embedding: a trainable lookup table of vectors (PyTorch's name, arguments and layout)."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import resolve_dtype
from ..autograd.inplace import mark_modified
from ..autograd.tensor import Tensor
from ..ops.attention import embedding, normalize_padding_idx
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """Row ``i`` of ``weight`` (num_embeddings, embedding_dim) for each index ``i`` of the input.

    Input: an integer tensor of any shape; output: that shape plus ``(embedding_dim,)``.
    Weights start N(0, 1) as in PyTorch; ``padding_idx``'s row starts at zero and never
    gets a gradient. ``max_norm`` rescales rows that are looked up and longer than it, in
    place, before the lookup (PyTorch's behaviour). ``sparse=True`` is not supported.

    Example::

        >>> import retrograd as rg
        >>> emb = rg.nn.Embedding(10, 3, padding_idx=0)
        >>> emb(rg.tensor([[0, 2, 5]])).shape, emb.weight.data[0].tolist()
        ((1, 3, 3), [0.0, 0.0, 0.0])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        who = "Embedding"
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, (int, xp.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{who}: {name} must be a positive int, got {v!r}")
        if sparse:
            raise ValueError(f"{who}: sparse=True is not supported (gradients are dense)")
        if max_norm is not None and (
            not isinstance(max_norm, (int, float)) or isinstance(max_norm, bool) or max_norm <= 0
        ):
            raise ValueError(f"{who}: max_norm must be a positive number or None, got {max_norm!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = (
            None
            if padding_idx is None
            else normalize_padding_idx(padding_idx, self.num_embeddings, who)
        )
        self.max_norm = None if max_norm is None else float(max_norm)
        self.norm_type = float(norm_type)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = False
        dt = resolve_dtype(dtype)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Parameter(xp.empty(shape, dtype=dt), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            w = xp.array(_weight.data if isinstance(_weight, Tensor) else _weight, dtype=dt)
            if w.shape != shape:
                raise ValueError(f"{who}: _weight has shape {w.shape}, expected {shape}")
            self.weight = Parameter(w, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding holding a copy of ``embeddings`` (2-D); frozen unless ``freeze=False``.

        Example::

            >>> import retrograd as rg
            >>> rg.nn.Embedding.from_pretrained([[1.0, 2.0], [3.0, 4.0]]).weight.requires_grad
            False
        """
        data = embeddings.data if isinstance(embeddings, Tensor) else xp.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got {data.shape}")
        dtype = data.dtype if data.dtype.kind == "f" else None
        return cls(
            data.shape[0],
            data.shape[1],
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=data,
            _freeze=freeze,
            dtype=dtype,
        )

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
            mark_modified(self.weight.data, "Embedding.reset_parameters", self.weight)

    capture_safe = True

    def forward(self, input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            _who=f"Embedding({self.num_embeddings}, {self.embedding_dim})",
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s

    def get_config(self) -> dict:
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "padding_idx": self.padding_idx,
            "max_norm": self.max_norm,
            "norm_type": self.norm_type,
            "scale_grad_by_freq": self.scale_grad_by_freq,
            "dtype": str(self.weight.data.dtype),
        }
