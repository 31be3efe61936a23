"""Loss functions as Modules (values and gradients equal PyTorch's)."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from .._checks import check_reduction
from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction, type(self).__name__)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error. With ``reduction="sum"`` and a factor 1/2 it is the 1986 E."""

    capture_safe = True

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    capture_safe = True

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = float(delta)

    # Not capture_safe: the branch mask (|error| < delta) is computed outside the ops.
    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, self.reduction, self.delta)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits; class-index or probability targets."""

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, xp.integer)):
            raise TypeError(f"CrossEntropyLoss: ignore_index must be an int, got {ignore_index!r}")
        # A buffer, as in PyTorch, so a state_dict holding the loss has the same keys.
        self.register_buffer("weight", _optional_array(weight, "CrossEntropyLoss", "weight"))
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    capture_safe = True

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_array(weight, "BCEWithLogitsLoss", "weight"))
        self.register_buffer(
            "pos_weight", _optional_array(pos_weight, "BCEWithLogitsLoss", "pos_weight")
        )

    capture_safe = True

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class GeneralizedCrossEntropyLoss(_Loss):
    """Generalized cross-entropy (Zhang & Sabuncu 2018), a loss bounded by ``1/q`` that
    resists mislabelled training samples; see :func:`~retrograd.nn.functional.
    generalized_cross_entropy`. ``q -> 0`` is cross-entropy, ``q = 1`` is ``1 - p_y``.

    Example::

        >>> import retrograd as rg
        >>> loss = rg.nn.GeneralizedCrossEntropyLoss(q=0.7)
        >>> round(loss(rg.tensor([[0.0, 0.0]]), rg.tensor([1])).item(), 4)
        0.5492
    """

    def __init__(self, q: float = 0.7, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < q <= 1.0:
            raise ValueError(f"GeneralizedCrossEntropyLoss: q must be in (0, 1], got {q!r}")
        self.q = float(q)

    # Not capture_safe: the one-hot targets are built outside the ops.

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.generalized_cross_entropy(input, target, self.q, self.reduction)

    def extra_repr(self) -> str:
        return f"q={self.q}, reduction={self.reduction!r}"


class SymmetricCrossEntropyLoss(_Loss):
    """Symmetric cross-entropy (Wang et al. 2019): ``alpha * CE + beta * RCE`` with the
    bounded reverse cross-entropy ``RCE = -A * (1 - p_y)``; see
    :func:`~retrograd.nn.functional.symmetric_cross_entropy`.

    Example::

        >>> import retrograd as rg
        >>> loss = rg.nn.SymmetricCrossEntropyLoss(alpha=0.1, beta=1.0)
        >>> round(loss(rg.tensor([[0.0, 0.0]]), rg.tensor([1])).item(), 4)
        2.0693
    """

    def __init__(
        self,
        alpha: float = 0.1,
        beta: float = 1.0,
        A: float = -4.0,  # noqa: N803 - the paper's name
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        for name, v in (("alpha", alpha), ("beta", beta)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(f"SymmetricCrossEntropyLoss: {name} must be >= 0, got {v!r}")
        if isinstance(A, bool) or not isinstance(A, (int, float)) or not A < 0:
            raise ValueError(f"SymmetricCrossEntropyLoss: A must be a negative number, got {A!r}")
        self.alpha, self.beta, self.A = float(alpha), float(beta), float(A)

    # Not capture_safe: the one-hot targets are built outside the ops.

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.symmetric_cross_entropy(
            input, target, self.alpha, self.beta, self.A, self.reduction
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, A={self.A}, reduction={self.reduction!r}"


def _optional_array(value: Any, cls: str, name: str) -> Any:
    if value is None:
        return None
    arr = value.data if isinstance(value, Tensor) else xp.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{cls}: {name} must hold numbers, got dtype {arr.dtype}")
    return arr if arr.dtype.kind == "f" else arr.astype(xp.float64)


__all__ = [
    "MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "BCEWithLogitsLoss",
    "GeneralizedCrossEntropyLoss", "SymmetricCrossEntropyLoss",
]  # fmt: skip


# ------------------------------------------------------------------ more PyTorch losses


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices given log-probabilities (after LogSoftmax).

    Example::

        >>> import retrograd as rg
        >>> loss = rg.nn.NLLLoss()
        >>> loss(rg.tensor([[-0.1, -2.5]]), rg.tensor([0])).item()
        0.10000000149011612
    """

    capture_safe = True

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, xp.integer)):
            raise TypeError(f"NLLLoss: ignore_index must be an int, got {ignore_index!r}")
        self.register_buffer("weight", _optional_array(weight, "NLLLoss", "weight"))
        self.ignore_index = int(ignore_index)

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (after Sigmoid); logs clamped at -100.

    Example::

        >>> import retrograd as rg
        >>> rg.nn.BCELoss()(rg.tensor([0.5]), rg.tensor([0.0])).item()
        0.6931471824645996
    """

    # Not capture_safe: the [0, 1] range of the input is checked on the data.

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _optional_array(weight, "BCELoss", "weight"))

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class KLDivLoss(Module):
    """KL divergence with log-probability input; reduction "mean", "batchmean", "sum", "none".

    Example::

        >>> import retrograd as rg
        >>> p = rg.tensor([[0.25, 0.75]])
        >>> rg.nn.KLDivLoss(reduction="batchmean")(p.log(), p).item()
        0.0
    """

    # Not capture_safe: where the target is 0 (0 * log 0 = 0) is read from the data.

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        if reduction != "batchmean":
            check_reduction(reduction, "KLDivLoss")
        self.reduction, self.log_target = reduction, bool(log_target)

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, self.reduction, self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (``beta = 0`` is the L1 loss).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.SmoothL1Loss()(rg.tensor([3.0]), rg.tensor([0.0])).item()
        2.5
    """

    capture_safe = True

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be a number >= 0, got {beta!r}")
        self.beta = float(beta)

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1.

    Example::

        >>> import retrograd as rg
        >>> x = rg.tensor([[1.0, 0.0]])
        >>> rg.nn.CosineEmbeddingLoss()(x, x, rg.tensor([1.0])).item()
        0.0
    """

    # Not capture_safe: which rows have target 1 or -1 is read from the data.

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, -target * (x1 - x2) + margin).

    Example::

        >>> import retrograd as rg
        >>> loss = rg.nn.MarginRankingLoss(margin=0.5)
        >>> loss(rg.tensor([2.0]), rg.tensor([1.0]), rg.tensor([1.0])).item()
        0.0
    """

    capture_safe = True

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along ``dim`` (norms clamped to at least ``eps``).

    Example::

        >>> import retrograd as rg
        >>> rg.nn.CosineSimilarity(dim=0)(rg.tensor([1.0, 0.0]), rg.tensor([2.0, 0.0])).item()
        1.0
    """

    # Not capture_safe: the eps clamp of the norms is computed on the data.

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = int(dim), float(eps)

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"

    def get_config(self) -> dict:
        return {"dim": self.dim, "eps": self.eps}


__all__ += [
    "NLLLoss", "BCELoss", "KLDivLoss", "SmoothL1Loss", "CosineEmbeddingLoss",
    "MarginRankingLoss", "CosineSimilarity",
]  # fmt: skip
