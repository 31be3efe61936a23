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
