"""RAdam (Liu et al. 2020): Adam with the variance of the adaptive step rectified."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .._backend import xp
from .optimizer import Optimizer


class RAdam(Optimizer):
    """PyTorch's rule: Adam's moments; with ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``, the step is
    ``lr * m_hat * r_t * sqrt(1 - beta2**t) / (sqrt(v) + eps)`` when ``rho_t > 5``
    (``r_t`` the rectification term) and ``lr * m_hat`` before. ``weight_decay`` as
    :class:`NAdam` (``decoupled_weight_decay``).

    Example::

        >>> import retrograd as rg
        >>> w = rg.nn.Parameter(rg.tensor([1.0]))
        >>> opt = rg.optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.data.round(4)
        array([0.8], dtype=float32)
    """

    _per_param_buffers = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    _ranges = {"lr": {"lo": 0.0}, "eps": {"lo": 0.0}, "weight_decay": {"lo": 0.0}}

    def _step(self) -> None:
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = group["betas"]
            decoupled = bool(group["decoupled_weight_decay"])
            rho_inf = 2 / (1 - beta2) - 1
            for p in self._params_with_grad(group):
                data, grad = p.data, p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(data)
                    state["exp_avg_sq"] = xp.zeros_like(data)
                state["step"] += 1
                t = state["step"]
                if wd != 0.0:
                    if decoupled:
                        data *= 1 - lr * wd
                    else:
                        grad = grad + wd * data
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m += (grad - m) * (1 - beta1)
                v *= beta2
                v += (1 - beta2) * (grad * grad)
                bc1, bc2 = 1 - beta1**t, 1 - beta2**t
                m_hat = m / bc1
                rho_t = rho_inf - 2 * t * (beta2**t) / bc2
                if rho_t > 5.0:
                    rect = math.sqrt(
                        (rho_t - 4)
                        * (rho_t - 2)
                        * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                    )
                    adaptive = math.sqrt(bc2) / (xp.sqrt(v) + eps)
                    data -= m_hat * lr * adaptive * rect
                else:
                    data -= m_hat * lr
