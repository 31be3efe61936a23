"""Loss functions as Modules (values and gradients equal PyTorch's)."""

from __future__ import annotations

from typing import Any

from .._backend import xp
from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error. With ``reduction="sum"`` and a factor 1/2 it is the 1986 E."""

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = float(delta)

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

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


def _optional_array(value: Any, cls: str, name: str) -> Any:
    if value is None:
        return None
    arr = value.data if isinstance(value, Tensor) else xp.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{cls}: {name} must hold numbers, got dtype {arr.dtype}")
    return arr if arr.dtype.kind == "f" else arr.astype(xp.float64)


__all__ = ["MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "BCEWithLogitsLoss"]
