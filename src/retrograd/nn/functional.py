"""Stateless forms of the layers and losses (``import retrograd.nn.functional as F``)."""

from __future__ import annotations

from typing import Any

from .. import ops
from .._backend import xp
from ..autograd.tensor import Tensor
from ..ops import (  # noqa: F401 - re-exported
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    linear,
    logsigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmin,
    softplus,
    softsign,
    tanh,
)
from ..ops.aggregate import normalize  # noqa: F401 - re-exported
from ..ops.attention import embedding, scaled_dot_product_attention  # noqa: F401
from ..ops.conv import (  # noqa: F401 - re-exported
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    dropout2d,
)
from ..ops.fold import fold, unfold  # noqa: F401 - re-exported
from ..ops.indexing import one_hot  # noqa: F401 - re-exported
from ..ops.losses import (  # noqa: F401 - re-exported: every loss function
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cosine_similarity,
    cross_entropy,
    generalized_cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    symmetric_cross_entropy,
)
from ..ops.maxpool import (  # noqa: F401 - re-exported
    adaptive_max_pool2d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
)
from ..ops.movement import pad  # noqa: F401 - re-exported (torch's F.pad, with modes)
from ..ops.normalization import (  # noqa: F401 - re-exported
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
)
from ..ops.pool import (  # noqa: F401 - re-exported
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
)
from ..ops.pool import max_pool1d as _max_pool1d
from ..ops.pool import max_pool2d as _max_pool2d
from ..ops.resample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: F401


def softmax(x: Any, dim: int = -1, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Softmax along ``dim`` (see :func:`retrograd.softmax`)."""
    return ops.softmax(x, dim, axis=axis, dtype=dtype)


def log_softmax(x: Any, dim: int = -1, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """Log-softmax along ``dim`` (see :func:`retrograd.log_softmax`)."""
    return ops.log_softmax(x, dim, axis=axis, dtype=dtype)


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


def max_pool2d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    _who: str = "max_pool2d",
) -> Any:
    """Max pooling (see :func:`retrograd.ops.pool.max_pool2d`); ``return_indices=True``
    also returns PyTorch's int64 indices of the maxima (flat in each input plane).

    Example::

        >>> import retrograd as rg
        >>> v, i = rg.nn.functional.max_pool2d(rg.arange(4.0).reshape(1, 1, 2, 2), 2,
        ...                                    return_indices=True)
        >>> v.tolist(), i.tolist()
        ([[[[3.0]]]], [[[[3]]]])
    """
    if return_indices:
        return max_pool2d_with_indices(
            input, kernel_size, stride, padding, dilation, ceil_mode, _who=_who
        )
    return _max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, _who=_who)


def glu(input: Any, dim: int = -1) -> Tensor:  # noqa: A002
    """Gated linear unit: ``a * sigmoid(b)`` for the halves ``a, b`` of ``dim``.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.glu(rg.tensor([2.0, 0.0])).tolist()
        [1.0]
    """
    from ..ops.indexing import dim_arg
    from ..ops.movement import narrow

    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim == 0:
        raise ValueError("glu: does not support 0-dimensional tensors")
    d = dim_arg(dim, x.ndim, "glu")
    n = x.shape[d]
    if n % 2:
        raise ValueError(f"glu: halving dimension {dim} needs an even size, got {n}")
    return narrow(x, d, 0, n // 2) * ops.sigmoid(narrow(x, d, n // 2, n // 2))


def prelu(input: Any, weight: Any) -> Tensor:  # noqa: A002
    """``x`` where ``x > 0``, else ``weight * x``; ``weight`` has one entry, or one per
    channel (dimension 1; dimension 0 of a 1-D input), as torch.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.functional.prelu(rg.tensor([-2.0, 3.0]), rg.tensor([0.25])).tolist()
        [-0.5, 3.0]
    """
    from ..ops.shape import reshape

    x = input if isinstance(input, Tensor) else Tensor(input)
    w = weight if isinstance(weight, Tensor) else Tensor(weight)
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-d or 1-D, got shape {w.shape}")
    k = w.data.size
    if k != 1:
        ch = 1 if x.ndim >= 2 else 0
        if x.ndim == 0 or x.shape[ch] != k:
            raise ValueError(
                f"prelu: weight has {k} entries, which must be 1 or the number of channels "
                f"(dimension {ch} of the input of shape {x.shape})"
            )
        w = reshape(w, (k,) + (1,) * (x.ndim - ch - 1))
    elif w.ndim:
        w = reshape(w, ())
    # NOTE: where(x > 0, ...) gives the slope branch's gradient at exactly 0, as torch.
    return ops.where(x.data > 0, x, w * x)


def max_pool1d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    _who: str = "max_pool1d",
) -> Any:
    """1-D max pooling over (N, C, L); ``return_indices=True`` also returns the int64
    positions of the maxima along L, as torch.

    Example::

        >>> import retrograd as rg
        >>> v, i = rg.nn.functional.max_pool1d(rg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2,
        ...                                    return_indices=True)
        >>> v.tolist(), i.tolist()
        ([[[3.0, 2.0]]], [[[1, 2]]])
    """
    if return_indices:
        return max_pool1d_with_indices(
            input, kernel_size, stride, padding, dilation, ceil_mode, _who=_who
        )
    return _max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, _who=_who)
