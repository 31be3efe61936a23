"""Adagrad (Duchi, Hazan & Singer 2011): per-coordinate steps shrinking with the sum of
squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's rule: ``sum += g**2``; ``p -= clr * g / (sqrt(sum) + eps)`` with
    ``clr = lr / (1 + (step - 1) * lr_decay)``; ``weight_decay`` adds ``wd * p`` to ``g``.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0]))
        >>> opt = rg.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(4)
        array([0.9], dtype=float32)
    """

    _per_param_buffers = ("sum",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults)

    _ranges = {
        "lr": {"lo": 0.0},
        "lr_decay": {"lo": 0.0},
        "weight_decay": {"lo": 0.0},
        "initial_accumulator_value": {"lo": 0.0},
        "eps": {"lo": 0.0},
    }

    def _step(self) -> None:
        for group in self.param_groups:
            lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
            wd, eps = float(group["weight_decay"]), float(group["eps"])
            init = float(group["initial_accumulator_value"])
            for p in self._params_with_grad(group):
                data, grad = p.data, p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["sum"] = xp.full_like(data, init)
                state["step"] += 1
                if wd != 0.0:
                    grad = grad + wd * data
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                acc = state["sum"]
                acc += grad * grad
                std = xp.sqrt(acc)
                std += eps
                data -= clr * (grad / std)
