"""Adadelta (Zeiler 2012): steps scaled by the ratio of running RMS of updates and of
gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """PyTorch's rule: ``v = rho v + (1 - rho) g**2``;
    ``d = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho u + (1 - rho) d**2``;
    ``p -= lr * d``; ``weight_decay`` adds ``wd * p`` to ``g``.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0]))
        >>> opt = rg.optim.Adadelta([w])
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(4)
        array([0.9968], dtype=float32)
    """

    _per_param_buffers = ("square_avg", "acc_delta")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    _ranges = {
        "lr": {"lo": 0.0},
        "rho": {"lo": 0.0, "hi": 1.0},
        "eps": {"lo": 0.0},
        "weight_decay": {"lo": 0.0},
    }

    def _step(self) -> None:
        for group in self.param_groups:
            lr, rho = float(group["lr"]), float(group["rho"])
            eps, wd = float(group["eps"]), float(group["weight_decay"])
            for p in self._params_with_grad(group):
                data, grad = p.data, p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["square_avg"] = xp.zeros_like(data)
                    state["acc_delta"] = xp.zeros_like(data)
                state["step"] += 1
                if wd != 0.0:
                    grad = grad + wd * data
                v, u = state["square_avg"], state["acc_delta"]
                v *= rho
                v += (1 - rho) * (grad * grad)
                std = xp.sqrt(v + eps)
                delta = xp.sqrt(u + eps)
                delta /= std
                delta *= grad
                u *= rho
                u += (1 - rho) * (delta * delta)
                data -= lr * delta
