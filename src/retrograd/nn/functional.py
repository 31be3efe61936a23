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
from ..ops.aggregate import normalize  # noqa: F401 - re-exported
from ..ops.attention import embedding, scaled_dot_product_attention  # noqa: F401
from ..ops.conv import (  # noqa: E402,F401 - re-exported: convolution, pooling, norms
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    dropout2d,
    layer_norm,
    max_pool2d,
)
from ..ops.indexing import one_hot  # noqa: F401 - re-exported
from ..ops.movement import pad  # noqa: F401 - re-exported (torch's F.pad, with modes)
from ..ops.resample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: F401


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
    if generator is None:
        return ops.elementwise.Dropout.apply(x, p=p)
    rng = generator
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


# ------------------------------------------------------------- bounded classification losses
# Cross-entropy is unbounded: one mislabelled sample whose logits point confidently
# elsewhere contributes -log p_y -> inf and dominates the gradient. The losses below are
# bounded in p_y, so such samples pull less. Both are composites of differentiable ops
# (log_softmax, exp, sum), no new primitive: their gradients come from the engine.
def _target_log_prob(input: Any, target: Any, fn: str) -> Tensor:  # noqa: A002
    """log softmax(input)[n, target[n]] for (N, C) logits and (N,) class indices."""
    z = input if isinstance(input, Tensor) else Tensor(input)
    if z.ndim != 2:
        raise ValueError(f"{fn}: input must be (N, C) logits, got shape {z.shape}")
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    n, c = z.shape
    if t.ndim != 1 or t.dtype.kind not in "iu":
        raise ValueError(
            f"{fn}: target must be (N,) integer class indices, got shape {t.shape} and dtype "
            f"{t.dtype}"
        )
    if t.shape[0] != n:
        raise ValueError(f"{fn}: target has {t.shape[0]} labels for {n} rows of logits")
    if n and (int(t.min()) < 0 or int(t.max()) >= c):
        bad = int(t.min()) if int(t.min()) < 0 else int(t.max())
        raise ValueError(f"{fn}: target contains class {bad}, expected labels in 0..{c - 1}")
    hot = xp.zeros((n, c), dtype=z.dtype)
    hot[xp.arange(n), t] = 1
    logp = ops.log_softmax(z, axis=1)
    return (logp * Tensor._wrap(hot, False, None)).sum(axis=1)


def generalized_cross_entropy(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    q: float = 0.7,
    reduction: str = "mean",
) -> Tensor:
    """Generalized cross-entropy (Zhang & Sabuncu 2018): ``(1 - p_y**q) / q`` per sample.

    ``input`` is (N, C) logits, ``target`` (N,) class indices, ``p_y`` the softmax
    probability of the labelled class. ``q`` in (0, 1] moves from cross-entropy
    (``q -> 0``) to the mean absolute error of the probabilities (``q = 1``, the loss
    ``1 - p_y``); the loss is bounded by ``1/q``, so a mislabelled sample the network
    confidently disagrees with cannot dominate the gradient. ``p_y**q`` is computed as
    ``exp(q * log_softmax)``, finite for any logits.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> z = rg.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> round(F.generalized_cross_entropy(z, rg.tensor([0, 0]), q=1.0).item(), 4)
        0.5
    """
    ops.fused._check_reduction(reduction, "generalized_cross_entropy")
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < q <= 1.0:
        raise ValueError(f"generalized_cross_entropy: q must be in (0, 1], got {q!r}")
    logp_y = _target_log_prob(input, target, "generalized_cross_entropy")
    dt = logp_y.dtype
    # NOTE: scalars as arrays of the input's dtype, so float32 stays float32.
    qa = xp.asarray(q, dtype=dt)
    loss = (xp.asarray(1.0, dtype=dt) - ops.exp(logp_y * qa)) / qa
    return _reduce(loss, reduction)


def symmetric_cross_entropy(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    alpha: float = 0.1,
    beta: float = 1.0,
    A: float = -4.0,  # noqa: N803 - the paper's name
    reduction: str = "mean",
) -> Tensor:
    """Symmetric cross-entropy (Wang et al. 2019): ``alpha * CE + beta * RCE``.

    The reverse cross-entropy ``RCE = -sum_k p_k log y_k`` swaps the roles of prediction
    ``p`` and one-hot label ``y``; with ``log 0`` replaced by the constant ``A`` (< 0)
    it is ``-A * (1 - p_y)``, bounded, so it resists label noise while the (small)
    ``alpha`` CE term keeps the fit sharp. The paper uses ``A = -4``; ``alpha = 0.1``,
    ``beta = 1`` are its CIFAR-10 settings.

    Example::

        >>> import retrograd as rg
        >>> import retrograd.nn.functional as F
        >>> z = rg.tensor([[0.0, 0.0]])
        >>> round(F.symmetric_cross_entropy(z, rg.tensor([0]), alpha=0.0).item(), 4)
        2.0
    """
    ops.fused._check_reduction(reduction, "symmetric_cross_entropy")
    for name, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"symmetric_cross_entropy: {name} must be >= 0, got {v!r}")
    if isinstance(A, bool) or not isinstance(A, (int, float)) or not A < 0:
        raise ValueError(f"symmetric_cross_entropy: A must be a negative number, got {A!r}")
    logp_y = _target_log_prob(input, target, "symmetric_cross_entropy")
    dt = logp_y.dtype
    ce = -logp_y
    rce = (xp.asarray(1.0, dtype=dt) - ops.exp(logp_y)) * xp.asarray(-A, dtype=dt)
    loss = ce * xp.asarray(alpha, dtype=dt) + rce * xp.asarray(beta, dtype=dt)
    return _reduce(loss, reduction)
