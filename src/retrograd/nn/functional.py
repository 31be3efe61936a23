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
    max_pool1d,
    max_pool2d,
)
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
