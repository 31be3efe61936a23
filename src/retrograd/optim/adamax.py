"""Adamax (Kingma & Ba 2015, section 7): Adam with the infinity norm."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._backend import xp
from .optimizer import Optimizer


class Adamax(Optimizer):
    """PyTorch's rule: ``m = lerp(m, g, 1 - beta1)``;
    ``u = max(beta2 u, |g| + eps)``; ``p -= lr / (1 - beta1**t) * m / u``;
    ``weight_decay`` adds ``wd * p`` to ``g``.

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0]))
        >>> opt = rg.optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(4)
        array([0.9], dtype=float32)
    """

    _per_param_buffers = ("exp_avg", "exp_inf")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    _ranges = {"lr": {"lo": 0.0}, "eps": {"lo": 0.0}, "weight_decay": {"lo": 0.0}}

    def _step(self) -> None:
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = group["betas"]
            for p in self._params_with_grad(group):
                data, grad = p.data, p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(data)
                    state["exp_inf"] = xp.zeros_like(data)
                state["step"] += 1
                if wd != 0.0:
                    grad = grad + wd * data
                m, u = state["exp_avg"], state["exp_inf"]
                m += (grad - m) * (1 - beta1)
                u *= beta2
                xp.maximum(u, xp.abs(grad) + eps, out=u)
                clr = lr / (1 - beta1 ** state["step"])
                data -= clr * (m / u)
