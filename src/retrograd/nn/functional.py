"""Stateless forms of the layers and losses (``import retrograd.nn.functional as F``)."""

from __future__ import annotations

from typing import Any

from .. import ops
from .._backend import xp
from ..autograd.tensor import Tensor
from ..ops import (  # noqa: F401 - re-exported
    binary_cross_entropy_with_logits,
    cross_entropy,
    gelu,
    leaky_relu,
    linear,
    mse_loss,
    relu,
    sigmoid,
    softplus,
    tanh,
)
from ..random import default_generator


def softmax(x: Any, dim: int = -1) -> Tensor:
    return ops.softmax(x, axis=dim)


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    return ops.log_softmax(x, axis=dim)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return ops.flatten(x, start_dim, end_dim)


def dropout(x: Any, p: float = 0.5, training: bool = True, generator: Any = None) -> Tensor:
    """Inverted dropout: zero with probability ``p``, scale survivors by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    rng = generator or default_generator()
    keep = rng.random(x.shape, dtype=xp.float32) >= p
    mask = keep.astype(x.dtype) * xp.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * Tensor._wrap(mask, False, None)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error (gradient sign(0) = 0 at equality, as PyTorch)."""
    ops.fused._check_reduction(reduction, "l1_loss")
    a = input if isinstance(input, Tensor) else Tensor(input)
    _check_same_shape(a, target, "l1_loss")
    return _reduce(ops.abs(a - target), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """Quadratic within ``delta`` of the target, linear outside (robust to outliers)."""
    ops.fused._check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    a = input if isinstance(input, Tensor) else Tensor(input)
    _check_same_shape(a, target, "huber_loss")
    d = a - target
    ad = ops.abs(d)
    quad = 0.5 * d * d
    lin = delta * (ad - 0.5 * delta)
    return _reduce(ops.where(ad.data <= delta, quad, lin), reduction)


def _check_same_shape(a: Tensor, target: Any, fn: str) -> None:
    shape = target.shape if hasattr(target, "shape") else xp.shape(target)
    if tuple(shape) != a.shape:
        raise ValueError(
            f"{fn}: target has shape {tuple(shape)}, expected the input's shape {a.shape}"
        )


def _reduce(x: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x
